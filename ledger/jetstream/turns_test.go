package jetstream_test

import (
	"fmt"
	"strings"
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

func TestSubjectMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, subject string
		want            bool
	}{
		{"techledger.log.L.>", "techledger.turn.L", false},
		{"techledger.log.L.>", "techledger.log.L", false},
		{"techledger.log.L.>", "techledger.log.L.x", true},
		{"techledger.log.L.>", "techledger.log.L.x.y", true},
		{"techledger.>", "techledger.turn.L", true},
		{">", "a", true},
		{"techledger.*.L", "techledger.turn.L", true},
		{"techledger.*.L", "techledger.turn.M", false},
		{"techledger.*", "techledger.turn.L", false},
		{"techledger.turn.L", "techledger.turn.L", true},
		{"techledger.turn.L.x", "techledger.turn.L", false},
	} {
		assert.Equal(t, tc.want, jetstream.SubjectMatches(tc.filter, tc.subject), "%s ~ %s", tc.filter, tc.subject)
	}
}

// TestStore_HoldsForAnotherWritersTurn: while another writer's request to hold stands, an
// Append is not published; it is once that writer says done, and a request never withdrawn
// lapses on its own.
func TestStore_HoldsForAnotherWritersTurn(t *testing.T) {
	srv := runServer(t)
	name := newStreamName()
	s := openStore(t, connect(t, srv.ClientURL()), name)
	other := connect(t, srv.ClientURL())
	subject := "techledger.turn." + name

	appendAsync := func(i int) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := s.Append(ctx, "s", ledger.Any, storetest.Ev("A", i))
			done <- err
		}()
		return done
	}
	require.NoError(t, other.Publish(subject, []byte("turn writer-x")))
	require.Eventually(t, func() bool { return jetstream.TurnsHeld(s) == 1 }, 5*time.Second, time.Millisecond)
	done := appendAsync(1)
	select {
	case err := <-done:
		t.Fatalf("the append was published while another writer's turn stood (err %v)", err)
	case <-time.After(300 * time.Millisecond): // turnHoldMax is 1 s
	}
	require.NoError(t, other.Publish(subject, []byte("done writer-x")))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the append is still held after the other writer said done")
	}

	// A request never withdrawn (its writer died) holds for turnHoldMax only.
	require.NoError(t, other.Publish(subject, []byte("turn writer-y")))
	require.Eventually(t, func() bool { return jetstream.TurnsHeld(s) == 1 }, 5*time.Second, time.Millisecond)
	start := time.Now()
	require.NoError(t, <-appendAsync(2))
	assert.Greater(t, time.Since(start), 300*time.Millisecond, "held for the request")
	h, err := s.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, ledger.Position(2), h)

	// Malformed requests hold nothing.
	require.NoError(t, other.Publish(subject, []byte("turn")))
	require.NoError(t, other.Publish(subject, []byte("hello writer-z")))
	require.NoError(t, other.Flush())
	require.NoError(t, <-appendAsync(3))
	assert.Equal(t, 0, jetstream.TurnsHeld(s))

	// A Store that never appends forgets lapsed requests as new ones come.
	reader := openStore(t, connect(t, srv.ClientURL()), name)
	require.NoError(t, other.Publish(subject, []byte("turn writer-a")))
	require.Eventually(t, func() bool { return jetstream.TurnsHeld(reader) == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(1100 * time.Millisecond) // turnHoldMax
	require.NoError(t, other.Publish(subject, []byte("turn writer-b")))
	require.NoError(t, other.Publish(subject, []byte("turn writer-c")))
	require.Eventually(t, func() bool { return jetstream.TurnsHeld(reader) == 2 }, 5*time.Second, time.Millisecond, "writer-a forgotten")
}

// TestStore_TurnSubjectCapturedByTheStream: a stream that would store the turn requests is
// refused at open, naming both subjects.
func TestStore_TurnSubjectCapturedByTheStream(t *testing.T) {
	srv := runServer(t)
	nc := connect(t, srv.ClientURL())
	name := newStreamName()
	_, err := jetstream.New(ctx, nc, jetstream.Config{Stream: name, SubjectPrefix: "tl." + name, TurnSubject: "tl." + name + ".turn"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tl."+name+".>")
	assert.Contains(t, err.Error(), "matches the turn subject tl."+name+".turn")
}

// TestStore_WritersThatLoseAskForTurns has three Stores (three connections, as three
// processes) append as fast as they can to one stream and watches the turn subject: the
// writers that lose ask the others to hold and withdraw every request, every Append
// succeeds, and every writer gets appends stored.
func TestStore_WritersThatLoseAskForTurns(t *testing.T) {
	srv := runServer(t)
	name := newStreamName()
	var stores []*jetstream.Store
	for range 3 {
		stores = append(stores, openStore(t, connect(t, srv.ClientURL()), name))
	}
	var (
		mu   sync.Mutex
		open = map[string]int{} // writer -> requests since its last done
		asks atomic.Int64
	)
	watch := connect(t, srv.ClientURL())
	_, err := watch.Subscribe("techledger.turn."+name, func(m *nats.Msg) {
		kind, id, _ := strings.Cut(string(m.Data), " ")
		mu.Lock()
		defer mu.Unlock()
		switch kind {
		case "turn":
			open[id]++
			asks.Add(1)
		case "done":
			delete(open, id)
		default:
			t.Errorf("unexpected turn message %q", m.Data)
		}
	})
	require.NoError(t, err)
	require.NoError(t, watch.Flush())

	const perStore, each = 16, 40 // appenders per Store, appends per appender
	var (
		wg     sync.WaitGroup
		stored [3]atomic.Int64
	)
	for w := range 3 * perStore {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := stores[w%3].Append(ctx, fmt.Sprintf("s-%d-%d", w, i%2), ledger.Any, storetest.Ev("A", i))
				if !assert.NoError(t, err, "writer %d", w%3) {
					return
				}
				stored[w%3].Add(1)
			}
		}()
	}
	wg.Wait()
	for i := range stored {
		assert.Equal(t, int64(perStore*each), stored[i].Load(), "store %d", i)
	}
	require.NoError(t, watch.Flush())
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(open) == 0
	}, 5*time.Second, 10*time.Millisecond, "every request withdrawn")
	assert.Positive(t, asks.Load(), "writers that lost asked for turns")
	t.Logf("%d requests to hold", asks.Load())
	rep, err := ledger.Verify(ctx, stores[0].ReadAll(ctx, 1))
	require.NoError(t, err)
	assert.Equal(t, uint64(3*perStore*each), rep.Records)
}

// TestStore_NoPermissionOnTheTurnSubject: a NATS user denied the turn subject (publish and
// subscribe) still opens the Store and appends; it only takes no part in the turns.
func TestStore_NoPermissionOnTheTurnSubject(t *testing.T) {
	deny := &server.SubjectPermission{Deny: []string{"techledger.turn.>"}}
	srv := runServer(t, func(o *server.Options) {
		o.Users = []*server.User{{Username: "w", Password: "pw", Permissions: &server.Permissions{Publish: deny, Subscribe: deny}}}
	})
	name := newStreamName()
	var errs atomic.Int64
	nc := connect(t, srv.ClientURL(), nats.UserInfo("w", "pw"), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) { errs.Add(1) }))
	s := openStore(t, nc, name)
	for i := range 3 {
		_, err := s.Append(ctx, "s", ledger.Any, storetest.Ev("A", i))
		require.NoError(t, err)
	}
	h, err := s.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, ledger.Position(3), h)
	assert.Eventually(t, func() bool { return errs.Load() > 0 }, 5*time.Second, 10*time.Millisecond, "the server reported the permission violation")
}
