package jetstream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/jetstream"
	"techledger/ledger/memstore"
	"techledger/ledger/storetest"
)

// TestFeed_KilledAndRestarted relays a memstore ledger (any backend will do) to an
// embedded server. The first relay loses its connection right after publishing position
// 137, past its last checkpoint (100), as a crash between publish and checkpoint would
// leave it; more events are appended while it is down. The feed stream's duplicate window
// is made short and allowed to pass, so the restarted relay's repeats of 101..137 reach the
// stream. A subscriber then sees every event, in order, and each repeat carries the ID of
// an event it saw before.
func TestFeed_KilledAndRestarted(t *testing.T) {
	srv := runServer(t)
	src := memstore.New()
	appendN := func(from, to int) {
		for i := from; i < to; i++ {
			typ := []string{ledger.TypeContractRegistered, ledger.TypePaymentRecorded, "Odd.Type*"}[i%3]
			_, err := src.Append(ctx, fmt.Sprintf("contract-%d", i%7), ledger.Any, storetest.Ev(typ, i))
			require.NoError(t, err)
		}
	}
	appendN(0, 200)

	admin := connect(t, srv.ClientURL())
	js, err := natsjs.New(admin)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, natsjs.StreamConfig{Name: "FEED", Subjects: []string{"techledger.events.>"}, Storage: natsjs.FileStorage, Duplicates: 100 * time.Millisecond})
	require.NoError(t, err)

	newFeed := func(nc *nats.Conn) *jetstream.Feed {
		return &jetstream.Feed{Store: src, Conn: nc, Name: "stats", Stream: "FEED", CheckpointEvery: 50, CheckpointInterval: time.Hour}
	}
	// First run: the connection dies right after position 137 is acknowledged.
	nc1 := connect(t, srv.ClientURL())
	f1 := newFeed(nc1)
	jetstream.SetAfterPublish(f1, func(p ledger.Position) {
		if p == 137 {
			nc1.Close()
		}
	})
	err = f1.Run(ctx)
	require.Error(t, err, "a relay that lost its connection stops with an error")
	assert.ErrorIs(t, err, nats.ErrConnectionClosed)
	kv, err := js.KeyValue(ctx, "techledger_feed")
	require.NoError(t, err)
	e, err := kv.Get(ctx, "stats")
	require.NoError(t, err)
	assert.Equal(t, "100", string(e.Value()), "the checkpoint lags the last publish")

	appendN(200, 300)
	time.Sleep(300 * time.Millisecond) // past the duplicate window

	// Subscriber: follow the feed stream from the start.
	cons, err := js.OrderedConsumer(ctx, "FEED", natsjs.OrderedConsumerConfig{})
	require.NoError(t, err)
	type got struct {
		id, subject string
		pos         ledger.Position
		ev          jetstream.FeedEvent
	}
	var mu sync.Mutex
	var msgs []got
	all := make(chan struct{})
	seen := map[string]bool{}
	cc, err := cons.Consume(func(m natsjs.Msg) {
		var ev jetstream.FeedEvent
		assert.NoError(t, json.Unmarshal(m.Data(), &ev))
		p, _ := strconv.ParseUint(m.Headers().Get(jetstream.HeaderPosition), 10, 64)
		mu.Lock()
		defer mu.Unlock()
		msgs = append(msgs, got{id: m.Headers().Get(nats.MsgIdHdr), subject: m.Subject(), pos: ledger.Position(p), ev: ev})
		seen[ev.ID.String()] = true
		if len(seen) == 300 {
			close(all)
		}
	})
	require.NoError(t, err)
	defer cc.Stop()

	// Second run, until the subscriber has every event; then a clean stop saves the checkpoint.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- newFeed(connect(t, srv.ClientURL())).Run(rctx) }()
	select {
	case <-all:
	case err := <-done:
		t.Fatalf("relay stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the subscriber did not see every event")
	}
	cancel()
	require.Equal(t, context.Canceled, <-done, "a clean stop returns the context's error alone")
	e, err = kv.Get(ctx, "stats")
	require.NoError(t, err)
	assert.Equal(t, "300", string(e.Value()), "a clean stop saves the checkpoint")

	want := storetest.Collect(t, src.ReadAll(ctx, 1))
	mu.Lock()
	defer mu.Unlock()
	first := map[string]ledger.Position{}
	var order []ledger.Position
	repeats := 0
	for _, m := range msgs {
		require.Equal(t, m.ev.ID.String(), m.id, "the message ID is the event ID")
		require.Equal(t, m.ev.Position, m.pos)
		rec := want[m.pos-1]
		require.Equal(t, rec.ID, m.ev.ID)
		wantSubject := "techledger.events." + rec.Type
		if rec.Type == "Odd.Type*" {
			wantSubject = "techledger.events.Odd%2EType%2A" // one subject token, escaped
		}
		require.Equal(t, wantSubject, m.subject)
		require.Equal(t, rec.Hash, m.ev.Hash)
		require.JSONEq(t, string(rec.Data), string(m.ev.Data))
		if p, dup := first[m.id]; dup {
			require.Equal(t, p, m.pos, "a repeat has the ID and position of the event it repeats")
			repeats++
			continue
		}
		first[m.id] = m.pos
		order = append(order, m.pos)
	}
	for i, p := range order {
		require.Equal(t, ledger.Position(i+1), p, "first sightings run 1..N in order")
	}
	assert.Equal(t, 37, repeats, "positions 101..137 were published twice")
}
