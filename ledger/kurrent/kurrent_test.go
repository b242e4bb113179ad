package kurrent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"techledger/ledger"
	"techledger/ledger/storetest"
)

var ctx = context.Background()

func openStandIn(tb testing.TB, srv *standInServer, stream string) *Store {
	tb.Helper()
	s, err := newStore(ctx, srv.conn(), Config{Stream: stream, ResubscribeDelay: time.Millisecond})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// TestStore_StandIn runs the conformance suite over the Store on the in-memory stand-in of a
// KurrentDB server (see standInServer): it tests the mapping onto revisions, not a server.
// Subscriptions are dropped every 25 events, so every subscription test also proves that
// Subscribe survives drops without gap or duplicate.
func TestStore_StandIn(t *testing.T) {
	srv := newStandIn()
	srv.dropEvery = 25
	n := 0
	factory := func(tb testing.TB) ledger.Store {
		n++
		s, err := newStore(ctx, srv.conn(), Config{Stream: fmt.Sprintf("ledger-%d", n), ResubscribeDelay: time.Millisecond})
		require.NoError(tb, err)
		return s
	}
	storetest.Run(t, factory)
	storetest.RunRecordAppender(t, factory)
}

// TestStore_RealServer runs the conformance suite against the server TECHLEDGER_KURRENTDB_URL
// names, on a new stream per subtest (streams cannot be reset).
func TestStore_RealServer(t *testing.T) {
	raw := os.Getenv("TECHLEDGER_KURRENTDB_URL")
	if raw == "" {
		t.Skip("TECHLEDGER_KURRENTDB_URL is not set (e.g. esdb://localhost:2113?tls=false): no KurrentDB server to test against")
	}
	// The URL names a server; a stream in it, if any, is replaced by one per subtest.
	head, query, hasQuery := strings.Cut(raw, "?")
	if scheme, rest, ok := strings.Cut(head, "://"); ok {
		hosts, _, _ := strings.Cut(rest, "/")
		head = scheme + "://" + hosts + "/probe"
	}
	if hasQuery {
		head += "?" + query
	}
	conn, _, err := ParseURL(head)
	require.NoError(t, err, "TECHLEDGER_KURRENTDB_URL")
	run := time.Now().UnixNano()
	n := 0
	factory := func(tb testing.TB) ledger.Store {
		n++
		c, err := dialESDB(conn)
		require.NoError(tb, err)
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		s, err := newStore(cctx, c, Config{Stream: fmt.Sprintf("techledger-test-%d-%d", run, n)})
		require.NoError(tb, err, "the server at TECHLEDGER_KURRENTDB_URL must be reachable")
		return s
	}
	storetest.Run(t, factory)
	storetest.RunRecordAppender(t, factory)
	t.Run("TwoStoresOneStream", func(t *testing.T) {
		name := fmt.Sprintf("techledger-test-%d-two", run)
		var stores []*Store
		for range 2 {
			c, err := dialESDB(conn)
			require.NoError(t, err)
			s, err := newStore(ctx, c, Config{Stream: name})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			stores = append(stores, s)
		}
		twoWriters(t, stores[0], stores[1])
	})
	t.Run("BatchOverOneMiB", func(t *testing.T) {
		c, err := dialESDB(conn)
		require.NoError(t, err)
		s, err := newStore(ctx, c, Config{Stream: fmt.Sprintf("techledger-test-%d-big", run), AppendBytesMax: 64 << 20})
		require.NoError(t, err)
		defer s.Close()
		_, err = s.Append(ctx, "s", ledger.NoStream, bigBatch()...)
		require.ErrorIs(t, err, ledger.ErrInvalidAppend, "the server's own limit is translated")
	})
}

// bigBatch is within ledger limits but over 1 MiB.
func bigBatch() []ledger.Event {
	batch := make([]ledger.Event, 200)
	for i := range batch {
		batch[i] = storetest.Ev("A", i)
		batch[i].Data = json.RawMessage(`{"x":"` + strings.Repeat("a", 8<<10) + `"}`)
	}
	return batch
}

// twoWriters has two Stores append concurrently to one log and checks that every append is
// stored once, with gapless positions and a chain that verifies, as both see it.
func twoWriters(t *testing.T, a, b *Store) {
	const perWriter = 30
	var wg sync.WaitGroup
	for w, s := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				_, err := s.Append(ctx, fmt.Sprintf("s-%d", i%3), ledger.Any, storetest.Ev("A", i))
				if !assert.NoError(t, err, "writer %d", w) {
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, s := range []*Store{a, b} {
		rep, err := ledger.Verify(ctx, s.ReadAll(ctx, 1))
		require.NoError(t, err)
		assert.Equal(t, uint64(4*perWriter), rep.Records)
	}
	_, err := a.Append(ctx, "x", ledger.NoStream, storetest.Ev("A", 1))
	require.NoError(t, err)
	_, err = b.Append(ctx, "x", ledger.NoStream, storetest.Ev("A", 2))
	var ve *ledger.VersionError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, ledger.Version(1), ve.Actual)
}

// TestStore_TwoStoresOnTheStandIn: two Stores (two connections) on one log take turns
// through the revision compare-and-set.
func TestStore_TwoStoresOnTheStandIn(t *testing.T) {
	srv := newStandIn()
	twoWriters(t, openStandIn(t, srv, "log"), openStandIn(t, srv, "log"))
}

// TestStore_UnknownOutcome: when the answer to an append is lost, the Store finds out
// whether it was stored and answers accordingly, never storing a batch twice.
func TestStore_UnknownOutcome(t *testing.T) {
	for _, stored := range []bool{true, false} {
		t.Run(fmt.Sprintf("stored=%v", stored), func(t *testing.T) {
			srv := newStandIn()
			s := openStandIn(t, srv, "log")
			_, err := s.Append(ctx, "s", ledger.NoStream, storetest.Ev("A", 0))
			require.NoError(t, err)
			lost := false
			srv.loseAnswer = func() (bool, bool) {
				if lost {
					return false, false
				}
				lost = true
				return true, stored
			}
			in := []ledger.Event{storetest.Ev("A", 1), storetest.Ev("A", 2)}
			res, err := s.Append(ctx, "s", ledger.Exactly(1), in...)
			require.NoError(t, err)
			assert.Equal(t, []ledger.Position{2, 3}, res.Positions)
			assert.False(t, res.Duplicate)
			assert.Len(t, srv.ids("log"), 3, "stored exactly once")
			again, err := s.Append(ctx, "s", ledger.Exactly(1), in...)
			require.NoError(t, err)
			assert.True(t, again.Duplicate)
		})
	}
}

// TestStore_ExactRevisionRetryIsIdempotent: a stale Store that appends the events another
// Store already stored at the same revision is answered by the server as a retry, and the
// Store reports the original positions.
func TestStore_ExactRevisionRetryIsIdempotent(t *testing.T) {
	srv := newStandIn()
	a := openStandIn(t, srv, "log")
	in := []ledger.Event{storetest.Ev("A", 1)}
	first, err := a.Append(ctx, "s", ledger.NoStream, in...)
	require.NoError(t, err)
	b := openStandIn(t, srv, "log")
	again, err := b.Append(ctx, "s", ledger.NoStream, in...)
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, first.Positions, again.Positions)
	// The stand-in's own rule, directly: the same IDs at the same exact revision succeed
	// without writing; other IDs are a wrong revision.
	c := srv.conn()
	last, err := c.Append(ctx, "log", noStream, []wireEvent{{ID: in[0].ID}})
	require.NoError(t, err)
	assert.Equal(t, uint64(0), last)
	_, err = c.Append(ctx, "log", noStream, []wireEvent{{ID: ledger.NewEventID()}})
	require.ErrorIs(t, err, errWrongRevision)
	assert.Len(t, srv.ids("log"), 1)
}

// TestOpen_UnsafeStreamSettings: a log stream whose metadata lets the server delete
// events refuses to open, naming the setting.
func TestOpen_UnsafeStreamSettings(t *testing.T) {
	n := uint64(100)
	cases := []struct {
		name string
		st   streamSettings
		want string
	}{
		{"truncation", streamSettings{TruncateBefore: &n}, "$tb"},
		{"max age", streamSettings{MaxAgeSeconds: &n}, "$maxAge"},
		{"max count", streamSettings{MaxCount: &n}, "$maxCount"},
		{"deleted", streamSettings{Deleted: true}, "deleted"},
	}
	for _, tc := range cases {
		srv := newStandIn()
		srv.settings["log"] = tc.st
		_, err := newStore(ctx, srv.conn(), Config{Stream: "log"})
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
		assert.Contains(t, err.Error(), "refusing to open", tc.name)
	}
}

// TestStore_SizeLimit: a batch over the maximum append size is refused before anything is
// sent; one at the limit is stored.
func TestStore_SizeLimit(t *testing.T) {
	srv := newStandIn()
	s := openStandIn(t, srv, "log")
	_, err := s.Append(ctx, "s", ledger.NoStream, bigBatch()...)
	require.ErrorIs(t, err, ledger.ErrInvalidAppend)
	assert.Contains(t, err.Error(), "AppendBytesMax")
	assert.Empty(t, srv.ids("log"))
	// A server with a smaller limit than the Store knows: its refusal is translated.
	srv.maxAppend = 4 << 10
	_, err = s.Append(ctx, "s", ledger.NoStream, bigBatch()[:1]...)
	require.ErrorIs(t, err, ledger.ErrInvalidAppend)
	assert.Empty(t, srv.ids("log"))
}

// TestStore_CorruptLogRefused: an event in the log stream that is not a techledger record
// (written by something else) makes open fail, naming its position and revision.
func TestStore_CorruptLogRefused(t *testing.T) {
	srv := newStandIn()
	s := openStandIn(t, srv, "log")
	_, err := s.Append(ctx, "s", ledger.NoStream, storetest.Ev("A", 1))
	require.NoError(t, err)
	_, err = srv.conn().Append(ctx, "log", 0, []wireEvent{{ID: ledger.NewEventID(), Type: "Foreign", Data: []byte(`{}`), Metadata: []byte(`{}`)}})
	require.NoError(t, err)
	_, err = newStore(ctx, srv.conn(), Config{Stream: "log"})
	var ce *ledger.CorruptionError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, ledger.Position(2), ce.Position)
	assert.Contains(t, ce.Location, "revision 1")
	_, err = s.Append(ctx, "s", ledger.Exactly(1), storetest.Ev("A", 2))
	require.ErrorIs(t, err, ledger.ErrCorrupt, "the open Store refuses to build on it once seen")
}

// TestEnvelope_RoundTrip: a record survives encoding as a KurrentDB event and decoding
// field for field, its hash recomputed; a changed byte is caught.
func TestEnvelope_RoundTrip(t *testing.T) {
	for _, want := range storetest.SealedLog(5) {
		ev := encodeEvent(&want)
		assert.Equal(t, want.ID, ev.ID)
		assert.Equal(t, want.Type, ev.Type)
		assert.Equal(t, []byte(want.Data), ev.Data, "the event's data is the record's JSON, as KurrentDB tools show it")
		ev.Revision = revisionOf(want.Position)
		got, err := decodeEvent(&ev)
		require.NoError(t, err)
		assert.Equal(t, want.RecordedAt.UnixNano(), got.RecordedAt.UnixNano())
		assert.Equal(t, time.UTC, got.RecordedAt.Location())
		got.RecordedAt = want.RecordedAt
		assert.Equal(t, want, got)
	}
	r := storetest.SealedLog(1)[0]
	ev := encodeEvent(&r)
	ev.Revision = 0
	ev.Data = []byte(`{"n":2}`)
	_, err := decodeEvent(&ev)
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	assert.Contains(t, err.Error(), "hash mismatch")
	ev = encodeEvent(&r)
	ev.Revision = 7
	_, err = decodeEvent(&ev)
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	assert.Contains(t, err.Error(), "position 1 at revision 7")
	ev.Metadata = []byte(`not json`)
	_, err = decodeEvent(&ev)
	require.ErrorIs(t, err, ledger.ErrCorrupt)
}

// TestMapping_PositionsAndRevisions: position p is revision p-1; an append on a log at head
// h expects revision h-1 (no stream for an empty log); reads start inclusive, the client's
// subscriptions exclusive.
func TestMapping_PositionsAndRevisions(t *testing.T) {
	assert.Equal(t, uint64(0), revisionOf(1))
	assert.Equal(t, uint64(41), revisionOf(42))
	assert.Equal(t, ledger.Position(1), positionOf(0))
	for _, p := range []ledger.Position{1, 2, 1 << 40} {
		assert.Equal(t, p, positionOf(revisionOf(p)))
	}
	assert.Panics(t, func() { revisionOf(0) })
	assert.Equal(t, noStream, expectedLast(0))
	assert.Equal(t, int64(0), expectedLast(1))
	assert.Equal(t, int64(9), expectedLast(10))
	assert.Equal(t, esdb.Start{}, subscribeFrom(0), "revision 0 inclusive is the client's Start")
	assert.Equal(t, esdb.Revision(4), subscribeFrom(5), "revision 5 inclusive is the client's Revision(4), which is exclusive")
}

// TestTranslate: the client's error codes map onto the Store's errors.
func TestTranslate(t *testing.T) {
	base := errors.New("boom")
	cases := []struct {
		code esdb.ErrorCode
		grpc codes.Code
		want error
	}{
		{esdb.ErrorCodeWrongExpectedVersion, codes.Unknown, errWrongRevision},
		{esdb.ErrorCodeResourceNotFound, codes.Unknown, errNotFound},
		{esdb.ErrorCodeStreamDeleted, codes.Unknown, errDeleted},
		{esdb.ErrorCodeDeadlineExceeded, codes.Unknown, errUnknownOutcome},
		{esdb.ErrorUnavailable, codes.Unknown, errUnknownOutcome},
		{esdb.ErrorCodeNotLeader, codes.Unknown, errUnknownOutcome},
		{esdb.ErrorCodeConnectionClosed, codes.Unknown, errUnknownOutcome},
		{esdb.ErrorCodeAccessDenied, codes.Unknown, errDenied},
		{esdb.ErrorCodeUnauthenticated, codes.Unknown, errDenied},
		{esdb.ErrorCodeUnknown, codes.InvalidArgument, errTooLarge},
	}
	for _, tc := range cases {
		got := translateCode(tc.code, tc.grpc, base)
		require.ErrorIs(t, got, tc.want, "code %d", tc.code)
		assert.Contains(t, got.Error(), "boom")
	}
	assert.Equal(t, base, translateCode(esdb.ErrorCodeUnknown, codes.Internal, base))
	assert.Nil(t, translate(nil))
	require.ErrorIs(t, translate(context.DeadlineExceeded), errUnknownOutcome)
}

func TestParseURL(t *testing.T) {
	good := []struct{ in, conn, stream string }{
		{"esdb://localhost:2113/ledger?tls=false", "esdb://localhost:2113?tls=false", "ledger"},
		{"esdb://db.example:2113/ledger/", "esdb://db.example:2113", "ledger"},
		{"kurrentdb://db:2113/tl-prod.1?defaultDeadline=5000", "esdb://db:2113?defaultDeadline=5000", "tl-prod.1"},
		{"esdb+discover://a:2113,b:2113,c:2113/ledger?nodePreference=leader", "esdb+discover://a:2113,b:2113,c:2113?nodePreference=leader", "ledger"},
		{"esdb://admin:changeit@db:2113/ledger", "esdb://admin:changeit@db:2113", "ledger"},
	}
	for _, tc := range good {
		conn, stream, err := ParseURL(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.conn, conn, tc.in)
		assert.Equal(t, tc.stream, stream, tc.in)
		_, err = esdb.ParseConnectionString(conn)
		require.NoError(t, err, "the client accepts %s", conn)
	}
	bad := []struct{ in, want string }{
		{"http://db:2113/ledger", "scheme"},
		{"esdb://db:2113", "stream name is required"},
		{"esdb://db:2113/$all", "only letters"},
		{"esdb:///ledger", "no host"},
		{"esdb://a:2113,b:2113/ledger", "esdb+discover"},
		{"esdb://db:2113/ledger?tsl=false", "unknown parameter"},
		{"esdb://db:2113/ledger?defaultDeadline=10s", "defaultDeadline"},
		{"esdb://db:2113/ledger?defaultDeadline=0", "defaultDeadline"},
		{"esdb://db:2113/ledger?tls=maybe", "tls"},
		{"esdb://admin:secret@db:2113/ledger?tls=false", "credentials"},
		{"esdb://db:2113/" + strings.Repeat("x", StreamNameBytesMax+1), "StreamNameBytesMax"},
	}
	for _, tc := range bad {
		_, _, err := ParseURL(tc.in)
		require.Error(t, err, tc.in)
		assert.Contains(t, err.Error(), tc.want, tc.in)
		assert.NotContains(t, err.Error(), "secret", "no password in errors")
	}
}

// TestStore_UnknownOutcomeGivesUp: when every answer is lost and nothing is stored, Append
// gives up after unknownOutcomesMax attempts with an error saying the outcome is unknown.
func TestStore_UnknownOutcomeGivesUp(t *testing.T) {
	srv := newStandIn()
	s := openStandIn(t, srv, "log")
	attempts := 0
	srv.loseAnswer = func() (bool, bool) { attempts++; return true, false }
	_, err := s.Append(ctx, "s", ledger.NoStream, storetest.Ev("A", 1))
	require.ErrorIs(t, err, errUnknownOutcome)
	assert.Contains(t, err.Error(), "retry with the same event IDs")
	assert.Equal(t, unknownOutcomesMax, attempts)
	assert.Empty(t, srv.ids("log"))
}
