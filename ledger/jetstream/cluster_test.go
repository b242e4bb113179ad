package jetstream_test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/jetstream"
	"techledger/ledger/storetest"
)

// runCluster starts three nats-servers in this process, routed on loopback, with
// JetStream on file storage (sync always), and waits for the JetStream meta leader
// (newFaultCluster, without the stop and start this test does not need).
func runCluster(tb testing.TB) []*server.Server {
	tb.Helper()
	return newFaultCluster(tb).servers
}

func waitFor(tb testing.TB, d time.Duration, what string, ok func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func clientURLs(servers []*server.Server) string {
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}

// TestCluster_NodeLossDuringAppends appends from many goroutines over three Stores (one
// connection each, as three processes would have) to an R3 stream on a three-node
// cluster, shuts down the node leading the stream while they append, and lets them go on.
// An appender whose append fails retries it with the same event IDs, as a client would.
// It then proves no acknowledged event was lost (every acknowledged ID reads back, once),
// positions are gapless and the hash chain verifies.
func TestCluster_NodeLossDuringAppends(t *testing.T) {
	servers := runCluster(t)
	name := newStreamName()
	urls := clientURLs(servers)
	cfg := jetstream.Config{Stream: name, Replicas: 3, RequestTimeout: 2 * time.Second}
	opts := []nats.Option{nats.ReconnectWait(50 * time.Millisecond), nats.MaxReconnects(-1)}
	var stores []*jetstream.Store
	for range 3 {
		nc := connect(t, urls, opts...)
		var s *jetstream.Store
		// The stream can be created once the cluster knows all three peers.
		waitFor(t, 20*time.Second, "the R3 stream", func() bool {
			var err error
			s, err = jetstream.New(ctx, nc, cfg)
			return err == nil
		})
		t.Cleanup(func() { _ = s.Close() })
		stores = append(stores, s)
	}

	w, err := stores[0].Warnings(ctx)
	require.NoError(t, err)
	assert.NotContains(t, strings.Join(w, "\n"), "replica", "R3 on three nodes is safe")
	r1 := openStoreCfg(t, stores[0].Conn(), jetstream.Config{Stream: newStreamName()})
	w, err = r1.Warnings(ctx)
	require.NoError(t, err)
	assert.Contains(t, strings.Join(w, "\n"), "1 replica(s) on a cluster")

	const appenders, perAppender = 12, 40
	var acked sync.Map // event ID -> position
	var appended atomic.Int64
	var retries atomic.Int64
	var wg sync.WaitGroup
	for a := range appenders {
		s := stores[a%len(stores)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perAppender {
				batch := []ledger.Event{storetest.Ev("A", i)}
				if i%4 == 0 {
					batch = append(batch, storetest.Ev("B", i))
				}
				stream := fmt.Sprintf("contract-%d-%d", a, i%3)
				deadline := time.Now().Add(45 * time.Second)
				for {
					res, err := s.Append(ctx, stream, ledger.Any, batch...)
					if err == nil {
						for j, e := range batch {
							acked.Store(e.ID, res.Positions[j])
						}
						appended.Add(1)
						break
					}
					if errors.Is(err, ledger.ErrDuplicateEvent) || errors.Is(err, ledger.ErrInvalidAppend) || time.Now().After(deadline) {
						t.Errorf("appender %d: %v", a, err)
						return
					}
					retries.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}

	// Shut down the stream's leader once a third of the appends are in.
	waitFor(t, 30*time.Second, "a third of the appends", func() bool { return appended.Load() >= appenders*perAppender/3 })
	var leader *server.Server
	waitFor(t, 10*time.Second, "the stream leader", func() bool {
		for _, s := range servers {
			if s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, name) {
				leader = s
				return true
			}
		}
		return false
	})
	down := appended.Load()
	t0 := time.Now()
	leader.Shutdown()
	wg.Wait()
	t.Logf("leader %s shut down after %d appends; %d appends after it in %v; %d retried appends",
		leader.Name(), down, appended.Load()-down, time.Since(t0).Round(time.Millisecond), retries.Load())
	require.Equal(t, int64(appenders*perAppender), appended.Load(), "every append eventually succeeded")

	// Read back through a Store on a surviving node.
	var live []*server.Server
	for _, s := range servers {
		if s != leader {
			live = append(live, s)
		}
	}
	checkLog(t, connect(t, clientURLs(live), opts...), cfg, ackedMap(&acked))
}

// checkLog reads the whole log through a new Store (which rebuilds its index and refuses an
// inconsistent stream) and checks it against what was acknowledged: every acknowledged
// event at the position its append returned, nothing else stored (every append was retried
// until it succeeded), positions gapless, each event once, the hash chain verified.
func checkLog(tb testing.TB, nc *nats.Conn, cfg jetstream.Config, acked map[uuid.UUID]ledger.Position) {
	tb.Helper()
	check := openSettled(tb, nc, cfg)
	all := storetest.Collect(tb, check.ReadAll(ctx, 1))
	seen := make(map[uuid.UUID]ledger.Position, len(all))
	for i, r := range all {
		require.Equal(tb, ledger.Position(i+1), r.Position, "positions are gapless")
		_, dup := seen[r.ID]
		require.False(tb, dup, "event %s stored twice", r.ID)
		seen[r.ID] = r.Position
	}
	var lost, moved []string
	for id, p := range acked {
		switch got, ok := seen[id]; {
		case !ok:
			lost = append(lost, fmt.Sprintf("%s at %d", id, p))
		case got != p:
			moved = append(moved, fmt.Sprintf("%s at %d (stored at %d)", id, p, got))
		}
	}
	sort.Strings(lost)
	sort.Strings(moved)
	assert.Empty(tb, lost, "acknowledged events lost")
	assert.Empty(tb, moved, "acknowledged events not at the position their append returned")
	assert.Equal(tb, len(acked), len(all), "every stored event was acknowledged")
	rep, err := ledger.Verify(ctx, check.ReadAll(ctx, 1))
	require.NoError(tb, err)
	assert.Equal(tb, uint64(len(acked)), rep.Records)
	tb.Logf("log checked: %d events, gapless, chain verified", len(all))
}

// ackedMap copies the appenders' acknowledgements (event ID -> position) out of m.
func ackedMap(m *sync.Map) map[uuid.UUID]ledger.Position {
	acked := make(map[uuid.UUID]ledger.Position)
	m.Range(func(k, v any) bool {
		acked[k.(uuid.UUID)] = v.(ledger.Position)
		return true
	})
	return acked
}

// openSettled opens a Store to check the log after faults. Opening reads the whole stream
// through a new consumer, and creating one needs the cluster's meta leader: for a moment
// after a node stops (while a new meta leader is elected) that request can time out or be
// refused as temporarily unavailable, which is not what the checks are about. So it retries
// for up to 30s, and the checking Store waits up to 10s per request; the last error is
// reported if it never opens.
func openSettled(tb testing.TB, nc *nats.Conn, cfg jetstream.Config) *jetstream.Store {
	tb.Helper()
	cfg.RequestTimeout = 10 * time.Second
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := jetstream.New(ctx, nc, cfg)
		if err == nil {
			tb.Cleanup(func() { _ = s.Close() })
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("a Store did not open on stream %s within 30s: %v", cfg.Stream, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func openStoreCfg(tb testing.TB, nc *nats.Conn, cfg jetstream.Config) *jetstream.Store {
	tb.Helper()
	s, err := jetstream.New(ctx, nc, cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
