package filestore

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/storetest"
)

// TestStore_UsesSealedCheckpoints appends from several goroutines while segments are
// sealed and checkpoints written in the background: the store switches its index to each
// checkpoint, so it holds in memory only what was appended since the last one, and it
// still answers every stream, every record and every retry of an append (found by its
// event IDs) as the log says; appends continue each stream after the switch.
func TestStore_UsesSealedCheckpoints(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), Options{SegmentBytes: 4096, CheckpointRecords: 1})
	require.NoError(t, err)
	defer s.Close()
	type appended struct {
		stream string
		events []ledger.Event
		res    ledger.AppendResult
	}
	var mu sync.Mutex
	var all []appended
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				stream := fmt.Sprintf("contract-%d", (w*150+i)%37)
				evs := []ledger.Event{storetest.Ev("A", i), storetest.Ev("B", i)}
				res, err := s.Append(ctx, stream, ledger.Any, evs...)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				all = append(all, appended{stream, evs, res})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.ckptWG.Wait()
	s.mu.RLock()
	baseN, inMemory, last := s.baseN, len(s.locs), s.last
	s.mu.RUnlock()
	require.Positive(t, baseN, "a checkpoint written in the background is used")
	assert.Equal(t, int(last-baseN), inMemory, "only what follows it is held in memory")
	assert.Less(t, inMemory, int(last)/2)

	// Every stream reads as the appends made it, and every retry is found.
	want := map[string][]ledger.Position{}
	for _, a := range all {
		want[a.stream] = append(want[a.stream], a.res.Positions...)
		res, err := s.Append(ctx, a.stream, ledger.Any, a.events...)
		require.NoError(t, err)
		assert.True(t, res.Duplicate)
		assert.Equal(t, a.res.Positions, res.Positions)
	}
	for stream, ps := range want {
		var got []ledger.Position
		for rec, err := range s.ReadStream(ctx, stream, 1) {
			require.NoError(t, err)
			require.Equal(t, stream, rec.Stream)
			got = append(got, rec.Position)
		}
		require.ElementsMatch(t, ps, got, stream)
		res, err := s.Append(ctx, stream, ledger.Exactly(ledger.Version(len(ps))), storetest.Ev("C", 0))
		require.NoError(t, err, stream)
		assert.Equal(t, ledger.Version(len(ps)+1), res.Version)
	}
	n := 0
	for rec, err := range s.ReadAll(ctx, 1) {
		require.NoError(t, err)
		n++
		require.Equal(t, ledger.Position(n), rec.Position)
	}
	assert.Equal(t, int(last)+len(want), n)
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	assert.Equal(t, ledger.Position(n), rep.Head)
}
