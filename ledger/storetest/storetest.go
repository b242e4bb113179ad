// Package storetest is the conformance suite every ledger.Store backend passes unchanged.
//
// A backend's test is a few lines:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(tb testing.TB) ledger.Store { return open(tb) })
//	}
//
// Each subtest gets a new, empty store from the factory and closes it when done.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// Factory returns a new, empty store. The suite closes it (closing twice must be harmless).
type Factory func(tb testing.TB) ledger.Store

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ledger.Store)
	}{
		{"AppendAndReadStream", testAppendAndReadStream},
		{"ExpectedVersion", testExpectedVersion},
		{"ConflictAppendsNothing", testConflictAppendsNothing},
		{"BatchIsAtomic", testBatchIsAtomic},
		{"IdempotentRetry", testIdempotentRetry},
		{"ReusedIDsRejected", testReusedIDsRejected},
		{"PositionsWithoutGaps", testPositionsWithoutGaps},
		{"ReadFrom", testReadFrom},
		{"ConcurrentExactAppendsOneWins", testConcurrentExactOneWins},
		{"SubscribeCatchUpAndFollow", testSubscribeFollow},
		{"SlowSubscriber", testSlowSubscriber},
		{"SubscribeStopsOnCancel", testSubscribeCancel},
		{"VerifyGoodLog", testVerify},
		{"Limits", testLimits},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

// Ev returns a test event of type typ whose data holds n, with a new UUIDv7.
func Ev(typ string, n int) ledger.Event {
	return ledger.Event{
		ID:            ledger.NewEventID(),
		Type:          typ,
		SchemaVersion: 1,
		Data:          json.RawMessage(fmt.Sprintf(`{"n":%d,"note":"技术合同 %d"}`, n, n)),
		Metadata:      ledger.Metadata{Actor: "registrar-1", Role: "registrar", CommandID: fmt.Sprintf("cmd-%d", n), Reason: "test"},
	}
}

func evs(typ string, ns ...int) []ledger.Event {
	out := make([]ledger.Event, len(ns))
	for i, n := range ns {
		out[i] = Ev(typ, n)
	}
	return out
}

// Collect reads a whole sequence, failing the test on an error.
func Collect(tb testing.TB, seq func(func(ledger.Record, error) bool)) []ledger.Record {
	tb.Helper()
	var out []ledger.Record
	for rec, err := range seq {
		require.NoError(tb, err)
		out = append(out, rec)
	}
	return out
}

func head(tb testing.TB, s ledger.Store) ledger.Position {
	tb.Helper()
	h, err := s.Head(context.Background())
	require.NoError(tb, err)
	return h
}

var ctx = context.Background()

func testAppendAndReadStream(t *testing.T, s ledger.Store) {
	in := evs("ContractRegistered", 1, 2, 3)
	before := time.Now().UTC().Add(-time.Second)
	res, err := s.Append(ctx, "contract-a", ledger.NoStream, in...)
	require.NoError(t, err)
	assert.False(t, res.Duplicate)
	assert.Equal(t, ledger.Version(3), res.Version)
	assert.Equal(t, []ledger.Position{1, 2, 3}, res.Positions)

	got := Collect(t, s.ReadStream(ctx, "contract-a", 1))
	require.Len(t, got, 3)
	for i, rec := range got {
		assert.Equal(t, in[i].ID, rec.ID)
		assert.Equal(t, "contract-a", rec.Stream)
		assert.Equal(t, ledger.Version(i+1), rec.Version)
		assert.Equal(t, ledger.Position(i+1), rec.Position)
		assert.Equal(t, in[i].Type, rec.Type)
		assert.Equal(t, in[i].SchemaVersion, rec.SchemaVersion)
		assert.JSONEq(t, string(in[i].Data), string(rec.Data))
		assert.Equal(t, in[i].Metadata, rec.Metadata)
		assert.Equal(t, time.UTC, rec.RecordedAt.Location(), "recorded_at must be UTC")
		assert.False(t, rec.RecordedAt.Before(before), "recorded_at %v is before the append", rec.RecordedAt)
		assert.True(t, rec.SameEvent(in[i]), "stored record must hold the appended event byte for byte")
		assert.Equal(t, rec.ComputeHash(), rec.Hash, "hash covers the record")
	}
	assert.True(t, got[0].PrevHash.IsZero(), "first record links to the zero hash")
	assert.Equal(t, got[0].Hash, got[1].PrevHash)
	assert.Equal(t, got[1].Hash, got[2].PrevHash)
	assert.Empty(t, Collect(t, s.ReadStream(ctx, "contract-missing", 1)), "a missing stream reads empty")
	assert.Equal(t, ledger.Position(3), head(t, s))
}

func testExpectedVersion(t *testing.T, s ledger.Store) {
	_, err := s.Append(ctx, "s", ledger.NoStream, Ev("A", 1))
	require.NoError(t, err)
	_, err = s.Append(ctx, "s", ledger.NoStream, Ev("A", 2))
	requireVersionError(t, err, "s", 1)
	_, err = s.Append(ctx, "s", ledger.Exactly(2), Ev("A", 2))
	requireVersionError(t, err, "s", 1)
	_, err = s.Append(ctx, "s", ledger.Exactly(0), Ev("A", 2))
	requireVersionError(t, err, "s", 1)
	res, err := s.Append(ctx, "s", ledger.Exactly(1), Ev("A", 2))
	require.NoError(t, err)
	assert.Equal(t, ledger.Version(2), res.Version)
	res, err = s.Append(ctx, "s", ledger.Any, Ev("A", 3))
	require.NoError(t, err)
	assert.Equal(t, ledger.Version(3), res.Version)
	res, err = s.Append(ctx, "t", ledger.Any, Ev("A", 4))
	require.NoError(t, err, "any accepts a new stream")
	assert.Equal(t, ledger.Version(1), res.Version)
	_, err = s.Append(ctx, "u", ledger.Exactly(1), Ev("A", 5))
	requireVersionError(t, err, "u", 0)
}

func requireVersionError(tb testing.TB, err error, stream string, actual ledger.Version) {
	tb.Helper()
	require.ErrorIs(tb, err, ledger.ErrWrongVersion)
	var ve *ledger.VersionError
	require.ErrorAs(tb, err, &ve)
	assert.Equal(tb, stream, ve.Stream)
	assert.Equal(tb, actual, ve.Actual)
}

func testConflictAppendsNothing(t *testing.T, s ledger.Store) {
	_, err := s.Append(ctx, "s", ledger.NoStream, evs("A", 1, 2)...)
	require.NoError(t, err)
	h := head(t, s)
	losing := evs("A", 3, 4, 5)
	_, err = s.Append(ctx, "s", ledger.Exactly(1), losing...)
	require.ErrorIs(t, err, ledger.ErrWrongVersion)
	assert.Equal(t, h, head(t, s))
	assert.Len(t, Collect(t, s.ReadStream(ctx, "s", 1)), 2)
	// The losing events were not stored: appending them at the right place is new, not a duplicate.
	res, err := s.Append(ctx, "s", ledger.Exactly(2), losing...)
	require.NoError(t, err)
	assert.False(t, res.Duplicate)
	assert.Equal(t, []ledger.Position{3, 4, 5}, res.Positions)
}

func testBatchIsAtomic(t *testing.T, s ledger.Store) {
	_, err := s.Append(ctx, "s", ledger.NoStream, Ev("A", 1))
	require.NoError(t, err)
	bad := evs("A", 2, 3, 4)
	bad[2].Data = json.RawMessage(`not json`)
	_, err = s.Append(ctx, "s", ledger.Exactly(1), bad...)
	require.ErrorIs(t, err, ledger.ErrInvalidAppend)
	assert.Equal(t, ledger.Position(1), head(t, s), "a batch with one bad event appends nothing")

	// Concurrent readers see either none or all of a batch: every stream read has a
	// multiple of the batch size.
	const batch, batches = 5, 40
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for v := ledger.Version(0); v < batch*batches; v += batch {
			_, err := s.Append(ctx, "atomic", ledger.Exactly(v), evs("B", 0, 1, 2, 3, 4)...)
			if !assert.NoError(t, err) {
				break
			}
		}
		close(done)
	}()
	for {
		n := 0
		for _, err := range s.ReadStream(ctx, "atomic", 1) {
			require.NoError(t, err)
			n++
		}
		require.Zero(t, n%batch, "a reader saw part of a batch (%d records)", n)
		select {
		case <-done:
			wg.Wait()
			assert.Len(t, Collect(t, s.ReadStream(ctx, "atomic", 1)), batch*batches)
			return
		default:
		}
	}
}

func testIdempotentRetry(t *testing.T, s ledger.Store) {
	in := evs("A", 1, 2)
	first, err := s.Append(ctx, "s", ledger.NoStream, in...)
	require.NoError(t, err)
	_, err = s.Append(ctx, "other", ledger.NoStream, Ev("A", 9))
	require.NoError(t, err)
	h := head(t, s)

	for _, exp := range []ledger.Expected{ledger.NoStream, ledger.Any, ledger.Exactly(0)} {
		again, err := s.Append(ctx, "s", exp, in...)
		require.NoError(t, err, "retry with expected %v", exp)
		assert.True(t, again.Duplicate)
		assert.Equal(t, first.Positions, again.Positions)
		assert.Equal(t, first.Version, again.Version)
	}
	assert.Equal(t, h, head(t, s), "a retry appends nothing")
	assert.Len(t, Collect(t, s.ReadStream(ctx, "s", 1)), 2)

	// A retry of a later append in the same stream.
	next := evs("A", 3)
	r2, err := s.Append(ctx, "s", ledger.Exactly(2), next...)
	require.NoError(t, err)
	again, err := s.Append(ctx, "s", ledger.Exactly(2), next...)
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, r2.Positions, again.Positions)
}

func testReusedIDsRejected(t *testing.T, s ledger.Store) {
	in := evs("A", 1, 2)
	_, err := s.Append(ctx, "s", ledger.NoStream, in...)
	require.NoError(t, err)
	h := head(t, s)

	changed := append([]ledger.Event(nil), in...)
	changed[1].Data = json.RawMessage(`{"n":99}`)
	meta := append([]ledger.Event(nil), in...)
	meta[0].Metadata.Actor = "someone-else"
	cases := []struct {
		name   string
		stream string
		exp    ledger.Expected
		events []ledger.Event
	}{
		{"same IDs with other data", "s", ledger.NoStream, changed},
		{"same IDs with other metadata", "s", ledger.NoStream, meta},
		{"same IDs in another stream", "t", ledger.NoStream, in},
		{"same IDs at another place", "s", ledger.Exactly(2), in},
		{"a stored ID followed by a new one", "s", ledger.Any, []ledger.Event{in[0], Ev("A", 3)}},
		{"a new ID followed by a stored one", "s", ledger.Any, []ledger.Event{Ev("A", 3), in[0]}},
		{"stored IDs in another order", "s", ledger.Any, []ledger.Event{in[1], in[0]}},
		{"the second ID alone", "s", ledger.Exactly(0), in[1:]},
	}
	for _, tc := range cases {
		_, err := s.Append(ctx, tc.stream, tc.exp, tc.events...)
		require.ErrorIs(t, err, ledger.ErrDuplicateEvent, tc.name)
		assert.Equal(t, h, head(t, s), "%s: nothing appended", tc.name)
	}
}

func testPositionsWithoutGaps(t *testing.T, s ledger.Store) {
	for i := range 30 {
		stream := fmt.Sprintf("s-%d", i%4)
		_, err := s.Append(ctx, stream, ledger.Any, evs("A", i, i+100)[:1+i%2]...)
		require.NoError(t, err)
	}
	all := Collect(t, s.ReadAll(ctx, 1))
	require.NotEmpty(t, all)
	versions := map[string]ledger.Version{}
	for i, rec := range all {
		require.Equal(t, ledger.Position(i+1), rec.Position, "positions start at 1 with no gap")
		require.Equal(t, versions[rec.Stream]+1, rec.Version, "stream versions have no gap")
		versions[rec.Stream] = rec.Version
	}
	assert.Equal(t, all[len(all)-1].Position, head(t, s))
}

func testReadFrom(t *testing.T, s ledger.Store) {
	for i := range 10 {
		_, err := s.Append(ctx, fmt.Sprintf("s-%d", i%2), ledger.Any, Ev("A", i))
		require.NoError(t, err)
	}
	for from := ledger.Position(0); from <= 12; from++ {
		got := Collect(t, s.ReadAll(ctx, from))
		want := 10 - int(max(from, 1)) + 1
		require.Len(t, got, max(want, 0), "ReadAll from %d", from)
		if len(got) > 0 {
			assert.Equal(t, max(from, 1), got[0].Position)
		}
	}
	for from := ledger.Version(0); from <= 6; from++ {
		got := Collect(t, s.ReadStream(ctx, "s-1", from))
		require.Len(t, got, max(5-int(max(from, 1))+1, 0), "ReadStream from %d", from)
		if len(got) > 0 {
			assert.Equal(t, max(from, 1), got[0].Version)
		}
	}
	// A consumer may stop early.
	n := 0
	for _, err := range s.ReadAll(ctx, 1) {
		require.NoError(t, err)
		n++
		if n == 3 {
			break
		}
	}
	assert.Equal(t, 3, n)
}

func testConcurrentExactOneWins(t *testing.T, s ledger.Store) {
	const writers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Append(ctx, "race", ledger.NoStream, Ev("A", 1))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ledger.ErrWrongVersion):
				conflicts++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, wins)
	assert.Equal(t, writers-1, conflicts)
	assert.Len(t, Collect(t, s.ReadStream(ctx, "race", 1)), 1)
}

// testSubscribeFollow proves Subscribe catches up and then follows live appends with no
// gap and no duplicate: a subscriber started mid-way sees positions 1..N exactly once, in
// order, while 8 goroutines append.
func testSubscribeFollow(t *testing.T, s ledger.Store) {
	const pre, writers, perWriter = 20, 8, 40
	for i := range pre {
		_, err := s.Append(ctx, "pre", ledger.Any, Ev("A", i))
		require.NoError(t, err)
	}
	total := pre + writers*perWriter
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	got := make(chan []ledger.Position, 1)
	go func() {
		var seen []ledger.Position
		for rec, err := range s.Subscribe(cctx, 1) {
			if err != nil {
				t.Errorf("subscribe: %v", err)
				break
			}
			seen = append(seen, rec.Position)
			if len(seen) == total {
				break
			}
		}
		got <- seen
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				_, err := s.Append(ctx, fmt.Sprintf("w-%d", w), ledger.Any, Ev("B", i))
				if !assert.NoError(t, err) {
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := <-got
	require.Len(t, seen, total)
	for i, p := range seen {
		require.Equal(t, ledger.Position(i+1), p, "subscriber saw a gap or a duplicate")
	}
	// A subscription from the middle starts exactly there.
	mid := Collect(t, func(yield func(ledger.Record, error) bool) {
		n := 0
		for rec, err := range s.Subscribe(cctx, 100) {
			if !yield(rec, err) || err != nil {
				return
			}
			if n++; n == 5 {
				return
			}
		}
	})
	require.Len(t, mid, 5)
	assert.Equal(t, ledger.Position(100), mid[0].Position)
}

// testSlowSubscriber proves a subscriber that stops reading for a while neither blocks
// writers nor loses events: writers finish while it is stalled, and it then reads every
// event in order.
func testSlowSubscriber(t *testing.T, s ledger.Store) {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	const n = 500
	stalled := make(chan struct{})
	resume := make(chan struct{})
	got := make(chan []ledger.Position, 1)
	go func() {
		var seen []ledger.Position
		for rec, err := range s.Subscribe(cctx, 1) {
			if err != nil {
				t.Errorf("subscribe: %v", err)
				break
			}
			seen = append(seen, rec.Position)
			if len(seen) == 1 {
				close(stalled)
				<-resume
			}
			if len(seen) == n {
				break
			}
		}
		got <- seen
	}()
	_, err := s.Append(ctx, "slow", ledger.Any, Ev("A", 0))
	require.NoError(t, err)
	<-stalled
	writersDone := make(chan struct{})
	go func() {
		defer close(writersDone)
		for i := 1; i < n; i++ {
			if _, err := s.Append(ctx, "slow", ledger.Any, Ev("A", i)); err != nil {
				t.Errorf("append: %v", err)
				return
			}
		}
	}()
	select {
	case <-writersDone:
	case <-cctx.Done():
		t.Fatal("writers were blocked by a stalled subscriber")
	}
	close(resume)
	seen := <-got
	require.Len(t, seen, n)
	for i, p := range seen {
		require.Equal(t, ledger.Position(i+1), p)
	}
}

func testSubscribeCancel(t *testing.T, s ledger.Store) {
	_, err := s.Append(ctx, "s", ledger.Any, Ev("A", 1))
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		var last error
		for _, err := range s.Subscribe(cctx, 1) {
			last = err
			if err != nil {
				break
			}
		}
		done <- last
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("subscription did not end on cancel")
	}
}

func testVerify(t *testing.T, s ledger.Store) {
	for i := range 25 {
		_, err := s.Append(ctx, fmt.Sprintf("s-%d", i%3), ledger.Any, evs("A", i, i)[:1+i%2]...)
		require.NoError(t, err)
	}
	h := head(t, s)
	rep, err := ledger.Verify(ctx, s.ReadAll(ctx, 1))
	require.NoError(t, err)
	assert.Equal(t, uint64(h), rep.Records)
	assert.Equal(t, h, rep.Head)
	assert.Equal(t, 3, rep.Streams)
	all := Collect(t, s.ReadAll(ctx, 1))
	assert.Equal(t, all[len(all)-1].Hash, rep.HeadHash)
	if v, ok := s.(ledger.Verifier); ok {
		own, err := v.Verify(ctx)
		require.NoError(t, err)
		assert.Equal(t, rep, own, "the store's own Verify agrees with ledger.Verify")
	}
}

func testLimits(t *testing.T, s ledger.Store) {
	big := Ev("A", 1)
	big.Data = json.RawMessage(`{"x":"` + strings.Repeat("a", ledger.EventBytesMax) + `"}`)
	tooMany := make([]ledger.Event, ledger.EventsPerAppendMax+1)
	for i := range tooMany {
		tooMany[i] = Ev("A", i)
	}
	v4 := Ev("A", 1)
	v4.ID = uuid.New()
	noID := Ev("A", 1)
	noID.ID = uuid.Nil
	noType := Ev("", 1)
	noSchema := Ev("A", 1)
	noSchema.SchemaVersion = 0
	array := Ev("A", 1)
	array.Data = json.RawMessage(`[1,2]`)
	same := Ev("A", 1)
	cases := []struct {
		name   string
		stream string
		events []ledger.Event
		want   string
	}{
		{"no events", "s", nil, "events"},
		{"too many events", "s", tooMany, "EventsPerAppendMax"},
		{"event too large", "s", []ledger.Event{big}, "EventBytesMax"},
		{"empty stream", "", []ledger.Event{Ev("A", 1)}, "stream"},
		{"stream too long", strings.Repeat("s", ledger.StreamBytesMax+1), []ledger.Event{Ev("A", 1)}, "StreamBytesMax"},
		{"stream with a newline", "a\nb", []ledger.Event{Ev("A", 1)}, "stream"},
		{"nil id", "s", []ledger.Event{noID}, "id"},
		{"not a UUIDv7", "s", []ledger.Event{v4}, "UUIDv7"},
		{"no type", "s", []ledger.Event{noType}, "type"},
		{"no schema version", "s", []ledger.Event{noSchema}, "schema_version"},
		{"data not an object", "s", []ledger.Event{array}, "data"},
		{"same id twice", "s", []ledger.Event{same, same}, "twice"},
	}
	for _, tc := range cases {
		_, err := s.Append(ctx, tc.stream, ledger.Any, tc.events...)
		require.ErrorIs(t, err, ledger.ErrInvalidAppend, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
	}
	assert.Equal(t, ledger.Position(0), head(t, s), "nothing appended")
	// At the limits exactly, appends succeed.
	atMax := make([]ledger.Event, ledger.EventsPerAppendMax)
	for i := range atMax {
		atMax[i] = Ev("A", i)
	}
	_, err := s.Append(ctx, "s", ledger.NoStream, atMax...)
	require.NoError(t, err)
	fits := Ev("A", 1)
	fits.Data = json.RawMessage(`{"x":"` + strings.Repeat("a", ledger.EventBytesMax-8-fits.Metadata.Size()) + `"}`)
	_, err = s.Append(ctx, "s", ledger.Any, fits)
	require.NoError(t, err)
	got := Collect(t, s.ReadStream(ctx, "s", ledger.EventsPerAppendMax+1))
	require.Len(t, got, 1)
	assert.Equal(t, []byte(fits.Data), []byte(got[0].Data))
}

func testClosed(t *testing.T, s ledger.Store) {
	require.NoError(t, s.Close())
	_, err := s.Append(ctx, "s", ledger.Any, Ev("A", 1))
	require.ErrorIs(t, err, ledger.ErrClosed)
	require.NoError(t, s.Close(), "closing twice is harmless")
}
