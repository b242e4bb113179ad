package jetstream_test

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/jetstream"
	"techledger/ledger/storetest"
)

// faultCluster is three nats-servers in this process (runCluster's cluster), that can
// be stopped and started again on the same store directory and cluster port.
type faultCluster struct {
	tb      testing.TB
	opts    []*server.Options
	servers []*server.Server
}

func newFaultCluster(tb testing.TB) *faultCluster {
	tb.Helper()
	c := &faultCluster{tb: tb}
	var routes []*url.URL
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(tb, err)
		ports[i] = l.Addr().(*net.TCPAddr).Port
		require.NoError(tb, l.Close())
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", ports[i])})
	}
	for i := range ports {
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: tb.TempDir(), SyncAlways: true, NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "techledger-faults", Host: "127.0.0.1", Port: ports[i]},
			Routes:  routes,
		})
		c.servers = append(c.servers, nil)
		c.start(i)
	}
	tb.Cleanup(func() {
		for _, s := range c.servers {
			if s != nil {
				s.Shutdown()
				s.WaitForShutdown()
			}
		}
	})
	waitFor(tb, 20*time.Second, "a JetStream meta leader", func() bool {
		for _, s := range c.servers {
			if s.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	return c
}

func (c *faultCluster) start(i int) {
	c.tb.Helper()
	o := *c.opts[i]
	s, err := server.NewServer(&o)
	require.NoError(c.tb, err)
	go s.Start()
	require.True(c.tb, s.ReadyForConnections(10*time.Second), "server %s did not start", s.Name())
	c.servers[i] = s
}

func (c *faultCluster) stop(i int) {
	c.servers[i].Shutdown()
	c.servers[i].WaitForShutdown()
	c.servers[i] = nil
}

// leader returns the index of the server leading stream (-1: none now).
func (c *faultCluster) leader(stream string) int {
	for i, s := range c.servers {
		if s != nil && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

func (c *faultCluster) urls() string {
	var live []*server.Server
	for _, s := range c.servers {
		if s != nil {
			live = append(live, s)
		}
	}
	return clientURLs(live)
}

// TestCluster_Faults runs 64 appenders over three Stores (one connection each, as three
// processes would have) on an R3 stream of a three-node cluster, and while they append:
// stops the stream's leader, starts it again on its store directory, then stops a
// follower. An append that fails is retried with the same event IDs until it succeeds,
// as a client would. It reports how long appends took to resume after each fault (the
// time from the fault to the first acknowledgement of an append started after it) and
// then proves no acknowledged event was lost (every one reads back once, at the position
// its append returned), positions are gapless, every stored event was acknowledged, and
// the hash chain verifies.
//
// Cutting a node off the network (a partition) and SIGKILL are TestCluster_NetworkFaults'
// (netfaults_test.go): they need each node in its own process and network namespace.
func TestCluster_Faults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster through faults")
	}
	c := newFaultCluster(t)
	name := newStreamName()
	cfg := jetstream.Config{Stream: name, Replicas: 3, RequestTimeout: 2 * time.Second}
	opts := []nats.Option{nats.ReconnectWait(50 * time.Millisecond), nats.MaxReconnects(-1)}
	var stores []*jetstream.Store
	for range 3 {
		nc := connect(t, c.urls(), opts...)
		var s *jetstream.Store
		waitFor(t, 20*time.Second, "the R3 stream", func() bool {
			var err error
			s, err = jetstream.New(ctx, nc, cfg)
			return err == nil
		})
		t.Cleanup(func() { _ = s.Close() })
		stores = append(stores, s)
	}

	const appenders = 64
	type ack struct {
		appender      int
		started, done time.Time
	}
	var (
		acked    sync.Map // event ID -> position
		ackMu    sync.Mutex
		acks     []ack
		appended atomic.Int64
		retries  atomic.Int64
		stop     atomic.Bool // the appenders finish their batch and stop
		abort    atomic.Bool // the test failed: they stop at once
		wg       sync.WaitGroup
		errMu    sync.Mutex
		errs     = map[string]int{} // failed attempts by error, counts left out
		starved  atomic.Int64       // of them, after appendAttemptsMax lost compare-and-sets
		// per Store: appends acknowledged, and the longest an append took from its
		// first attempt to its acknowledgement (retries included)
		perStore [3]struct {
			n       atomic.Int64
			longest atomic.Int64
		}
	)
	// However the test ends, the appenders stop before it does (one that failed the test
	// after it ended would panic).
	t.Cleanup(func() { abort.Store(true); stop.Store(true); wg.Wait() })
	for a := range appenders {
		s := stores[a%len(stores)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				batch := []ledger.Event{storetest.Ev("A", i)}
				if i%4 == 0 {
					batch = append(batch, storetest.Ev("B", i))
				}
				stream := fmt.Sprintf("contract-%d-%d", a, i%3)
				first := time.Now()
				deadline := first.Add(60 * time.Second)
				for !abort.Load() {
					started := time.Now()
					res, err := s.Append(ctx, stream, ledger.Any, batch...)
					if err == nil {
						for j, e := range batch {
							acked.Store(e.ID, res.Positions[j])
						}
						ackMu.Lock()
						acks = append(acks, ack{a, started, time.Now()})
						ackMu.Unlock()
						appended.Add(1)
						ps := &perStore[a%len(stores)]
						ps.n.Add(1)
						raiseTo(&ps.longest, time.Since(first))
						break
					}
					if errors.Is(err, ledger.ErrDuplicateEvent) || errors.Is(err, ledger.ErrInvalidAppend) || time.Now().After(deadline) {
						t.Errorf("appender %d: %v", a, err)
						return
					}
					retries.Add(1)
					key := attemptsRe.ReplaceAllString(err.Error(), "another writer got in first N times (M of them with nothing new to read)")
					if key != err.Error() {
						starved.Add(1)
					}
					errMu.Lock()
					errs[key]++
					errMu.Unlock()
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	// resumed returns how long after t0 the first append started after t0 was
	// acknowledged, and by when every appender had one acknowledged, waiting for that.
	type resume struct{ first, all time.Duration }
	resumed := func(what string, t0 time.Time) resume {
		var r resume
		waitFor(t, 60*time.Second, "every appender to append again after "+what, func() bool {
			ackMu.Lock()
			defer ackMu.Unlock()
			first := make(map[int]time.Duration)
			for _, a := range acks {
				if d := a.done.Sub(t0); a.started.After(t0) && (first[a.appender] == 0 || d < first[a.appender]) {
					first[a.appender] = d
				}
			}
			r = resume{}
			for _, d := range first {
				if r.first == 0 || d < r.first {
					r.first = d
				}
				r.all = max(r.all, d)
			}
			return len(first) == appenders
		})
		return r
	}
	more := func(n int64) {
		from := appended.Load()
		waitFor(t, 60*time.Second, fmt.Sprintf("%d more appends", n), func() bool { return appended.Load() >= from+n })
	}
	leaderOf := func() int {
		i := -1
		waitFor(t, 20*time.Second, "the stream leader", func() bool { i = c.leader(name); return i >= 0 })
		return i
	}

	more(300)
	old := leaderOf()
	t0 := time.Now()
	c.stop(old)
	dLeader := resumed("the leader stopped", t0)
	more(300)
	t0 = time.Now()
	c.start(old)
	dRestart := resumed("the old leader restarted", t0)
	more(300)
	lead := leaderOf()
	follower := (lead + 1) % 3
	if c.servers[follower] == nil {
		follower = (lead + 2) % 3
	}
	t0 = time.Now()
	c.stop(follower)
	dFollower := resumed("a follower stopped", t0)
	more(300)
	stop.Store(true)
	wg.Wait()
	ms := func(r resume) string {
		return fmt.Sprintf("first %v, all %d appenders %v", r.first.Round(time.Millisecond), appenders, r.all.Round(time.Millisecond))
	}
	t.Logf("%d appends acknowledged, %d retried; appends resumed after the leader (%s) stopped: %s; after it restarted: %s; after a follower (%s) stopped: %s",
		appended.Load(), retries.Load(), c.opts[old].ServerName, ms(dLeader), ms(dRestart), c.opts[follower].ServerName, ms(dFollower))
	for i := range perStore {
		t.Logf("store %d: %d appends acknowledged, the longest %v from its first attempt", i, perStore[i].n.Load(), time.Duration(perStore[i].longest.Load()).Round(time.Millisecond))
	}
	for e, n := range errs {
		t.Logf("%4d× %s", n, e)
	}
	// A writer that keeps losing the compare-and-set asks the others to hold (turns.go),
	// so none loses appendAttemptsMax times in a row.
	assert.Zero(t, starved.Load(), "appends refused after appendAttemptsMax lost compare-and-sets")

	checkLog(t, connect(t, c.urls(), opts...), cfg, ackedMap(&acked))
}
