package commands

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// TestContractCache_LRU fills a cache past its byte bound and checks that it stays within
// it, drops the least recently used first, keeps a newer version over an older one, and
// that its byte count matches the sum of what it holds (an independent recount).
func TestContractCache_LRU(t *testing.T) {
	c0 := Contract{ID: "2023140101000000", Version: 1, Type: "transfer", Seller: ledger.Party{Name: "太原理工大学"}}
	size := contractBytes(&c0)
	cc := newContractCache(10 * size)
	for i := range 10 {
		c := c0
		c.ID = fmt.Sprintf("2023140101%06d", i)
		cc.put(c)
	}
	_, ok := cc.get("2023140101000000") // now the most recently used
	require.True(t, ok)
	c := c0
	c.ID = "2023140101000010"
	cc.put(c)
	_, ok = cc.get("2023140101000001")
	assert.False(t, ok, "the least recently used is dropped")
	_, ok = cc.get("2023140101000000")
	assert.True(t, ok, "a contract used lately is kept")
	assert.LessOrEqual(t, cc.bytes, cc.max)

	newer := c0
	newer.Version = 3
	cc.put(newer)
	cc.put(c0) // older: ignored
	got, _ := cc.get(c0.ID)
	assert.Equal(t, ledger.Version(3), got.Version)

	sum := 0
	for n := cc.head.next; n != &cc.head; n = n.next {
		sum += n.size
	}
	assert.Equal(t, sum, cc.bytes)
	assert.Len(t, cc.m, sum/size)
}
