package jetstream_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/jetstream"
	"techledger/ledger/storetest"
)

// bigEvent is event n of type A with about 4 KiB of data.
func bigEvent(n int) ledger.Event {
	e := storetest.Ev("A", n)
	e.Data = json.RawMessage(`{"n":` + strings.Repeat(" ", 4<<10) + `1}`)
	return e
}

// requireLog checks that s holds exactly the records of want's events, at positions
// 1..len(want) in order, and that their hash chain verifies.
func requireLog(t *testing.T, s ledger.Store, want []ledger.Event) {
	t.Helper()
	recs := storetest.Collect(t, s.ReadAll(ctx, 1))
	require.Len(t, recs, len(want))
	for i, r := range recs {
		require.Equal(t, ledger.Position(i+1), r.Position)
		require.Equal(t, want[i].ID, r.ID, "position %d", i+1)
	}
	rep, err := ledger.Verify(ctx, s.ReadAll(ctx, 1))
	require.NoError(t, err)
	require.Equal(t, ledger.Position(len(want)), rep.Head)
}

// TestStore_StreamLimitIsStorageFull: with a byte limit set on the stream (an operator's;
// the Store sets none, and refuses rather than deletes with DiscardNew), an append past it
// fails with ledger.ErrStorageFull (the API's 507) and appends nothing; reads go on; once
// the limit is lifted, the same Append succeeds at the next position.
func TestStore_StreamLimitIsStorageFull(t *testing.T) {
	srv := runServer(t)
	nc := connect(t, srv.ClientURL())
	name := newStreamName()
	s := openStore(t, nc, name)
	var stored []ledger.Event
	for i := range 3 {
		e := bigEvent(i)
		_, err := s.Append(ctx, "s", ledger.Any, e)
		require.NoError(t, err)
		stored = append(stored, e)
	}
	js, err := natsjs.New(nc)
	require.NoError(t, err)
	st, err := js.Stream(ctx, name)
	require.NoError(t, err)
	cfg := st.CachedInfo().Config
	info, err := st.Info(ctx)
	require.NoError(t, err)
	cfg.MaxBytes = int64(info.State.Bytes) + 1024 // less than one more message
	_, err = js.UpdateStream(ctx, cfg)
	require.NoError(t, err)

	refused := []ledger.Event{bigEvent(3), bigEvent(4)}
	_, err = s.Append(ctx, "s", ledger.Exactly(3), refused...)
	require.ErrorIs(t, err, ledger.ErrStorageFull)
	assert.Contains(t, err.Error(), "maximum bytes exceeded", "the server's reason is kept")
	_, err = s.Append(ctx, "other", ledger.NoStream, bigEvent(5))
	require.ErrorIs(t, err, ledger.ErrStorageFull)
	head, err := s.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, ledger.Position(3), head)
	requireLog(t, s, stored)

	cfg.MaxBytes = -1
	_, err = js.UpdateStream(ctx, cfg)
	require.NoError(t, err)
	res, err := s.Append(ctx, "s", ledger.Exactly(3), refused...)
	require.NoError(t, err)
	require.Equal(t, []ledger.Position{4, 5}, res.Positions)
	requireLog(t, s, append(stored, refused...))

	// A new Store reading the stream sees the same log.
	again, err := jetstream.New(ctx, nc, jetstream.Config{Stream: name})
	require.NoError(t, err)
	defer again.Close()
	requireLog(t, again, append(stored, refused...))
}

// TestStore_ServerStorageFullIsStorageFull: when the server's JetStream storage limit
// (max_file_store) is reached, appends fail with ledger.ErrStorageFull, each one refused
// whole; every acknowledged event is in the log, in order, and reads go on.
func TestStore_ServerStorageFullIsStorageFull(t *testing.T) {
	srv := runServer(t, func(o *server.Options) { o.JetStreamMaxStore = 64 << 10 })
	s := openStore(t, connect(t, srv.ClientURL()), newStreamName())
	var stored []ledger.Event
	var full error
	for i := 0; i < 100 && full == nil; i++ {
		batch := []ledger.Event{bigEvent(2 * i), bigEvent(2*i + 1)}
		_, err := s.Append(ctx, "s", ledger.Any, batch...)
		if err != nil {
			full = err
			break
		}
		stored = append(stored, batch...)
	}
	require.Error(t, full, "64 KiB of storage never filled")
	require.ErrorIs(t, full, ledger.ErrStorageFull)
	t.Logf("refused after %d events: %v", len(stored), full)
	require.NotEmpty(t, stored)
	_, err := s.Append(ctx, "s", ledger.Any, bigEvent(1000))
	require.ErrorIs(t, err, ledger.ErrStorageFull, "still full")
	requireLog(t, s, stored)
}
