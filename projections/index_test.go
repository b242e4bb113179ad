package projections

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestContractIndex checks the index against a map over keys that collide in their low
// and in their high bits, through several doublings: every key entered is found at its
// index, a key entered twice is refused with the first index, others are not found.
func TestContractIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var cs []contract
	var x contractIndex
	want := map[uint64]uint32{}
	keyOf := func(n int) uint64 {
		switch n % 3 {
		case 0:
			return uint64(n) << 40 // same low bits
		case 1:
			return uint64(n) // same high bits
		}
		return rng.Uint64()
	}
	for n := range 5000 {
		key := keyOf(n)
		if n%7 == 0 && n > 0 { // a key already entered
			key = cs[rng.IntN(len(cs))].key
		}
		i := uint32(len(cs))
		cs = append(cs, contract{key: key})
		got, added := x.add(cs, i)
		if first, dup := want[key]; dup {
			require.False(t, added, "key %x entered twice", key)
			require.Equal(t, first, got)
			cs = cs[:i]
			continue
		}
		require.True(t, added)
		require.Equal(t, i, got)
		want[key] = i
	}
	require.Equal(t, len(want), x.n)
	for key, i := range want {
		got, ok := x.find(cs, key)
		require.True(t, ok, "key %x", key)
		require.Equal(t, i, got)
	}
	for range 1000 {
		key := rng.Uint64()
		if _, in := want[key]; !in {
			_, ok := x.find(cs, key)
			require.False(t, ok)
		}
	}
	var empty contractIndex
	_, ok := empty.find(nil, 1)
	require.False(t, ok)
}
