package filestore

import (
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// TestIDIndex checks the ID index against a plain map: IDs in the sorted base (as loaded
// from a checkpoint) and in the map of IDs added since are found, unknown IDs are not,
// add refuses an ID already in either, and sorted merges both in order.
func TestIDIndex(t *testing.T) {
	want := map[uuid.UUID]ledger.Position{}
	var base []idEntry
	for p := range ledger.Position(5000) {
		id := ledger.NewEventID()
		want[id] = p + 1
		base = append(base, idEntry{id, p + 1})
	}
	slices.SortFunc(base, func(a, b idEntry) int { return compareIDs(&a.id, &b.id) })
	x := newIDIndex()
	x.setBase(base)
	for p := ledger.Position(5001); p <= 6000; p++ {
		id := ledger.NewEventID()
		want[id] = p
		require.True(t, x.add(id, p))
	}
	for id, p := range want {
		got, ok := x.get(id)
		require.True(t, ok)
		require.Equal(t, p, got)
		require.False(t, x.add(id, p), "an indexed ID is refused")
	}
	for range 1000 {
		_, ok := x.get(ledger.NewEventID())
		require.False(t, ok)
	}
	all := x.sorted(5500)
	assert.Len(t, all, 5500)
	assert.True(t, slices.IsSortedFunc(all, func(a, b idEntry) int { return compareIDs(&a.id, &b.id) }))
	for _, e := range all {
		assert.Equal(t, want[e.id], e.pos)
	}
}
