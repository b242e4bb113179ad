package filestore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// synthIndex is a plain model of an index: each position's stream and event ID.
type synthIndex struct {
	stream []string    // stream[p-1]
	id     []uuid.UUID // id[p-1]
}

// extend adds n positions spread over streams named s0..s(streams-1) and returns the
// index x extended with them, as appends would.
func (m *synthIndex) extend(x *index, r *rand.Rand, n, streams int) {
	for range n {
		p := ledger.Position(len(m.stream) + 1)
		name := fmt.Sprintf("s%d", r.IntN(streams))
		id := ledger.NewEventID()
		m.stream = append(m.stream, name)
		m.id = append(m.id, id)
		x.locs = append(x.locs, loc{seg: 0, n: uint32(p), off: int64(headerBytes) + int64(p)})
		x.appendStream(x.streamNumber(name), p)
		x.ids.put(id, p)
		x.last = p
	}
}

// checkpointed writes x as a checkpoint in a new directory and returns the index opened
// from it.
func checkpointed(t *testing.T, x *index) *index {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, writeCheckpoint(OSFS{}, dir, x, []segCover{{first: 1, bytes: 1 << 40}}))
	y, segs, err := readCheckpoint(OSFS{}, dir)
	require.NoError(t, err)
	require.Equal(t, []segCover{{first: 1, bytes: 1 << 40}}, segs)
	return y
}

// requireAgrees checks every answer of x against the model: locations, every stream's
// positions in order and its length, every event ID, and unknown names and IDs.
func (m *synthIndex) requireAgrees(t *testing.T, x *index) {
	t.Helper()
	require.Equal(t, ledger.Position(len(m.stream)), x.last)
	want := map[string][]ledger.Position{}
	for i, name := range m.stream {
		p := ledger.Position(i + 1)
		want[name] = append(want[name], p)
		require.Equal(t, loc{seg: 0, n: uint32(p), off: int64(headerBytes) + int64(p)}, x.loc(p))
		got, ok := x.ids.get(m.id[i])
		require.True(t, ok)
		require.Equal(t, p, got)
	}
	for name, ps := range want {
		require.Equal(t, ledger.Version(len(ps)), x.streamLen(name), name)
		for v, p := range ps {
			got, ok := x.streamAt(name, ledger.Version(v+1))
			require.True(t, ok)
			require.Equal(t, p, got, "%s version %d", name, v+1)
		}
		_, ok := x.streamAt(name, ledger.Version(len(ps)+1))
		require.False(t, ok)
	}
	assert.Zero(t, x.streamLen("no such stream"))
	for range 100 {
		_, ok := x.ids.get(ledger.NewEventID())
		require.False(t, ok)
	}
}

// TestIndex_CheckpointGenerations writes an index as a checkpoint, extends the index
// opened from it (its streams and new ones), writes that again, and so on: at every
// generation the index answers as the model does, before and after the writing.
func TestIndex_CheckpointGenerations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var m synthIndex
	x := newIndex()
	m.extend(&x, r, 3000, 700)
	m.requireAgrees(t, &x)
	for gen, streams := range []int{900, 50, 2000} {
		y := checkpointed(t, &x)
		m.requireAgrees(t, y)
		require.Empty(t, y.locs, "generation %d: nothing in memory after a checkpoint", gen)
		m.extend(y, r, 1500, streams)
		m.requireAgrees(t, y)
		x = *y
	}
}

// TestIDIndex checks the ID index against a plain map: IDs in a checkpoint and in the map
// of IDs added since are found, unknown IDs are not, add refuses an ID already in either,
// and moreSorted sorts the map's up to a position.
func TestIDIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var m synthIndex
	x := newIndex()
	m.extend(&x, r, 5000, 10)
	y := checkpointed(t, &x)
	ids := &y.ids
	want := map[uuid.UUID]ledger.Position{}
	for i, id := range m.id {
		want[id] = ledger.Position(i + 1)
	}
	for p := ledger.Position(5001); p <= 6000; p++ {
		id := ledger.NewEventID()
		want[id] = p
		require.True(t, ids.add(id, p))
	}
	for id, p := range want {
		got, ok := ids.get(id)
		require.True(t, ok)
		require.Equal(t, p, got)
		require.False(t, ids.add(id, p), "an indexed ID is refused")
	}
	for range 1000 {
		_, ok := ids.get(ledger.NewEventID())
		require.False(t, ok)
	}
	more := ids.moreSorted(5500)
	assert.Len(t, more, 500)
	assert.True(t, slices.IsSortedFunc(more, func(a, b idEntry) int { return compareIDs(&a.id, &b.id) }))
	for _, e := range more {
		assert.Equal(t, want[e.id], e.pos)
	}
}
