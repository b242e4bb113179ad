package jetstream_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/jetstream"
	"techledger/ledger/storetest"
)

// TestStore_GroupCommit proves that concurrent Appends share messages without giving up a
// guarantee. Two Stores on one stream (separate connections, as two processes) each run 32
// appenders: half append 3-event batches to their own stream with Any, half increment shared
// counter streams with exact expected versions, retrying on conflict. Afterwards every
// acknowledged event is stored exactly once, each batch is contiguous in its stream, each
// counter stream holds exactly the increments that were acknowledged, the log verifies from
// both Stores, and the messages are fewer than the Appends (groups were formed).
func TestStore_GroupCommit(t *testing.T) {
	srv := runServer(t)
	name := newStreamName()
	stores := []*jetstream.Store{
		openStore(t, connect(t, srv.ClientURL()), name),
		openStore(t, connect(t, srv.ClientURL()), name),
	}
	const perStore, rounds, counters = 32, 15, 3
	var (
		mu       sync.Mutex
		acked    = map[uuid.UUID]ledger.Position{}
		batches  [][]uuid.UUID
		appends  int
		counted  = map[string]int{}
		conflict int
	)
	var wg sync.WaitGroup
	for si, s := range stores {
		for w := range perStore {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if w%2 == 0 {
					stream := fmt.Sprintf("own-%d-%d", si, w)
					for i := range rounds {
						in := []ledger.Event{storetest.Ev("A", i), storetest.Ev("A", i+1), storetest.Ev("A", i+2)}
						res, err := s.Append(ctx, stream, ledger.Any, in...)
						if !assert.NoError(t, err) {
							return
						}
						mu.Lock()
						appends++
						var ids []uuid.UUID
						for k, e := range in {
							acked[e.ID] = res.Positions[k]
							ids = append(ids, e.ID)
						}
						batches = append(batches, ids)
						mu.Unlock()
					}
					return
				}
				stream := fmt.Sprintf("counter-%d", w%counters)
				var v ledger.Version
				for i := 0; i < rounds; {
					e := storetest.Ev("C", i)
					res, err := s.Append(ctx, stream, ledger.Exactly(v), e)
					var ve *ledger.VersionError
					switch {
					case errors.As(err, &ve):
						v = ve.Actual
						mu.Lock()
						conflict++
						mu.Unlock()
						continue
					case !assert.NoError(t, err):
						return
					}
					v = res.Version
					i++
					mu.Lock()
					appends++
					acked[e.ID] = res.Positions[0]
					counted[stream]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	t.Logf("%d appends, %d conflicts retried", appends, conflict)
	for _, s := range stores {
		all := storetest.Collect(t, s.ReadAll(ctx, 1))
		require.Len(t, all, len(acked), "every acknowledged event stored once, nothing else")
		byID := map[uuid.UUID]ledger.Record{}
		for _, r := range all {
			byID[r.ID] = r
		}
		for id, p := range acked {
			require.Equal(t, p, byID[id].Position, "event %s at its acknowledged position", id)
		}
		for _, b := range batches {
			first := byID[b[0]]
			for k, id := range b {
				r := byID[id]
				require.Equal(t, first.Stream, r.Stream)
				require.Equal(t, first.Version+ledger.Version(k), r.Version, "a batch is contiguous in its stream")
				require.Equal(t, first.Position+ledger.Position(k), r.Position, "a batch is contiguous in the log")
			}
		}
		for stream, n := range counted {
			got := storetest.Collect(t, s.ReadStream(ctx, stream, 1))
			require.Len(t, got, n, stream)
		}
		_, err := ledger.Verify(ctx, s.ReadAll(ctx, 1))
		require.NoError(t, err)
	}
	js, err := natsjs.New(stores[0].Conn())
	require.NoError(t, err)
	st, err := js.Stream(ctx, name)
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	t.Logf("%d appends in %d messages", appends, info.State.Msgs)
	assert.Less(t, info.State.Msgs, uint64(appends), "concurrent appends share messages")
}

// TestStore_ReadStreamOfALongStream reads a stream whose records are spread over more
// messages than ReadStream gets one by one, interleaved with group messages of other
// streams, from several versions.
func TestStore_ReadStreamOfALongStream(t *testing.T) {
	srv := runServer(t)
	s := openStore(t, connect(t, srv.ClientURL()), newStreamName())
	const n = 40
	for i := range n {
		var wg sync.WaitGroup
		for _, stream := range []string{"long", fmt.Sprintf("other-%d", i)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Append(ctx, stream, ledger.Any, storetest.Ev("A", i))
				assert.NoError(t, err)
			}()
		}
		wg.Wait()
	}
	for _, from := range []ledger.Version{0, 1, 7, n - 16, n - 15, n} {
		got := storetest.Collect(t, s.ReadStream(ctx, "long", from))
		require.Len(t, got, n-int(max(from, 1))+1, "from %d", from)
		for k, r := range got {
			require.Equal(t, max(from, 1)+ledger.Version(k), r.Version)
		}
	}
	assert.Empty(t, storetest.Collect(t, s.ReadStream(ctx, "long", n+1)))
}
