package jetstream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/jetstream"
	"techledger/ledger/storetest"
)

var ctx = context.Background()

// TestStore runs the conformance suite against a real nats-server (embedded, file storage,
// sync always); each subtest gets a new JetStream stream.
func TestStore(t *testing.T) {
	srv := runServer(t)
	nc := connect(t, srv.ClientURL())
	storetest.Run(t, func(tb testing.TB) ledger.Store {
		s, err := jetstream.New(ctx, nc, jetstream.Config{Stream: newStreamName()})
		require.NoError(tb, err)
		return s
	})
}

func openStore(tb testing.TB, nc *nats.Conn, name string) *jetstream.Store {
	tb.Helper()
	s, err := jetstream.New(ctx, nc, jetstream.Config{Stream: name})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// TestOpen_URL opens a store by URL, appends, and reopens it: the new Store rebuilds its
// index from the stream and sees the log as it was.
func TestOpen_URL(t *testing.T) {
	srv := runServer(t)
	url := srv.ClientURL() + "/" + newStreamName()
	s, err := jetstream.Open(ctx, url)
	require.NoError(t, err)
	in := []ledger.Event{storetest.Ev("A", 1), storetest.Ev("A", 2)}
	first, err := s.Append(ctx, "contract-1", ledger.NoStream, in...)
	require.NoError(t, err)
	_, err = s.Append(ctx, "contract.2_with*odd>chars", ledger.NoStream, storetest.Ev("B", 3))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.Append(ctx, "contract-1", ledger.Any, storetest.Ev("A", 4))
	require.ErrorIs(t, err, ledger.ErrClosed)

	s2, err := jetstream.Open(ctx, url)
	require.NoError(t, err)
	defer s2.Close()
	h, err := s2.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, ledger.Position(3), h)
	again, err := s2.Append(ctx, "contract-1", ledger.NoStream, in...)
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, first.Positions, again.Positions)
	got := storetest.Collect(t, s2.ReadStream(ctx, "contract.2_with*odd>chars", 1))
	require.Len(t, got, 1)
	assert.Equal(t, ledger.Position(3), got[0].Position)
	rep, err := ledger.Verify(ctx, s2.ReadAll(ctx, 1))
	require.NoError(t, err)
	assert.Equal(t, uint64(3), rep.Records)
}

// TestStore_IdempotentBeyondDuplicateWindow proves a retry is recognised after the
// server's duplicate window has passed: the stream is made with a 100ms window, and a
// retry from a freshly opened Store a little later still returns the original positions.
func TestStore_IdempotentBeyondDuplicateWindow(t *testing.T) {
	srv := runServer(t)
	nc := connect(t, srv.ClientURL())
	name := newStreamName()
	js, err := natsjs.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, natsjs.StreamConfig{Name: name, Subjects: []string{"techledger.log." + name + ".>"}, Storage: natsjs.FileStorage, Duplicates: 100 * time.Millisecond})
	require.NoError(t, err)
	s := openStore(t, nc, name)
	in := []ledger.Event{storetest.Ev("A", 1), storetest.Ev("A", 2)}
	first, err := s.Append(ctx, "s", ledger.NoStream, in...)
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	s2 := openStore(t, nc, name)
	again, err := s2.Append(ctx, "s", ledger.NoStream, in...)
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, first.Positions, again.Positions)
	h, err := s2.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, ledger.Position(2), h, "nothing appended")
}

// TestStore_TwoWriters has two Stores on separate connections (as two processes would)
// append concurrently to one stream, and checks that every append is stored once, with
// gapless positions and a hash chain that verifies, as seen by either Store.
func TestStore_TwoWriters(t *testing.T) {
	srv := runServer(t)
	name := newStreamName()
	a := openStore(t, connect(t, srv.ClientURL()), name)
	b := openStore(t, connect(t, srv.ClientURL()), name)
	const perWriter = 60
	var wg sync.WaitGroup
	ids := make(chan uuid.UUID, 4*perWriter)
	for w, s := range []*jetstream.Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				e := storetest.Ev("A", i)
				_, err := s.Append(ctx, fmt.Sprintf("s-%d", i%3), ledger.Any, e)
				if !assert.NoError(t, err, "writer %d", w) {
					return
				}
				ids <- e.ID
			}
		}()
	}
	wg.Wait()
	close(ids)
	for _, s := range []*jetstream.Store{a, b} {
		all := storetest.Collect(t, s.ReadAll(ctx, 1))
		require.Len(t, all, 4*perWriter)
		seen := map[uuid.UUID]bool{}
		for _, r := range all {
			seen[r.ID] = true
		}
		for id := range ids {
			assert.True(t, seen[id], "acknowledged event %s is stored", id)
		}
		rep, err := ledger.Verify(ctx, s.ReadAll(ctx, 1))
		require.NoError(t, err)
		assert.Equal(t, uint64(4*perWriter), rep.Records)
		assert.Equal(t, 3, rep.Streams)
	}
	// A stale writer's exact-version append conflicts with what the other wrote.
	_, err := a.Append(ctx, "x", ledger.NoStream, storetest.Ev("A", 1))
	require.NoError(t, err)
	_, err = b.Append(ctx, "x", ledger.NoStream, storetest.Ev("A", 2))
	var ve *ledger.VersionError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, ledger.Version(1), ve.Actual)
}

// TestStore_BatchTooLargeForOneMessage: a batch within ledger limits that does not fit in
// one message (the server's max_payload, 1 MiB here) is refused as invalid, appending
// nothing.
func TestStore_BatchTooLargeForOneMessage(t *testing.T) {
	srv := runServer(t)
	s := openStore(t, connect(t, srv.ClientURL()), newStreamName())
	batch := make([]ledger.Event, 200)
	for i := range batch {
		batch[i] = storetest.Ev("A", i)
		batch[i].Data = json.RawMessage(`{"x":"` + strings.Repeat("a", 8<<10) + `"}`)
	}
	_, err := s.Append(ctx, "s", ledger.NoStream, batch...)
	require.ErrorIs(t, err, ledger.ErrInvalidAppend)
	assert.Contains(t, err.Error(), "max_payload")
	h, err := s.Head(ctx)
	require.NoError(t, err)
	assert.Zero(t, h)
}

// TestStore_ForeignMessageIsCorruption: a message on a ledger subject that is not a
// commit (published by something else) makes the log unreadable: New refuses it, naming
// the message, rather than building on it.
func TestStore_ForeignMessageIsCorruption(t *testing.T) {
	srv := runServer(t)
	nc := connect(t, srv.ClientURL())
	name := newStreamName()
	s := openStore(t, nc, name)
	_, err := s.Append(ctx, "s", ledger.NoStream, storetest.Ev("A", 1))
	require.NoError(t, err)
	js, err := natsjs.New(nc)
	require.NoError(t, err)
	_, err = js.Publish(ctx, s.SubjectOf("s"), []byte(`{"not":"a commit"}`))
	require.NoError(t, err)
	_, err = jetstream.New(ctx, nc, jetstream.Config{Stream: name})
	var ce *ledger.CorruptionError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ledger.Position(2), ce.Position)
	assert.Contains(t, ce.Location, "message 2")
	// The open Store refuses to append on top of it once it has seen it.
	_, err = s.Append(ctx, "s", ledger.Exactly(1), storetest.Ev("A", 2))
	require.ErrorIs(t, err, ledger.ErrCorrupt)
}

// TestStore_SubscribeFromPastTheHead: a subscription starting after the last record (as a
// restarted relay's does) yields the next append, and Close ends it with ErrClosed.
func TestStore_SubscribeFromPastTheHead(t *testing.T) {
	srv := runServer(t)
	s, err := jetstream.New(ctx, connect(t, srv.ClientURL()), jetstream.Config{Stream: newStreamName()})
	require.NoError(t, err)
	for i := range 3 {
		_, err := s.Append(ctx, "s", ledger.Any, storetest.Ev("A", i))
		require.NoError(t, err)
	}
	got := make(chan ledger.Record, 1)
	ended := make(chan error, 1)
	go func() {
		for rec, err := range s.Subscribe(ctx, 4) {
			if err != nil {
				ended <- err
				return
			}
			got <- rec
		}
	}()
	time.Sleep(50 * time.Millisecond)
	_, err = s.Append(ctx, "t", ledger.Any, storetest.Ev("B", 4))
	require.NoError(t, err)
	select {
	case rec := <-got:
		assert.Equal(t, ledger.Position(4), rec.Position)
		assert.Equal(t, "t", rec.Stream)
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription did not yield the append")
	}
	require.NoError(t, s.Close())
	select {
	case err := <-ended:
		assert.ErrorIs(t, err, ledger.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the subscription")
	}
}

func TestStore_RecordAppender(t *testing.T) {
	srv := runServer(t)
	nc := connect(t, srv.ClientURL())
	storetest.RunRecordAppender(t, func(tb testing.TB) ledger.Store {
		s, err := jetstream.New(ctx, nc, jetstream.Config{Stream: newStreamName()})
		require.NoError(tb, err)
		return s
	})
}
