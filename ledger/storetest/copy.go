package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// RunRecordAppender runs the conformance suite of ledger.RecordAppender against stores made by
// newStore, which must implement it. A backend's test is one line beside Run:
//
//	func TestStore_RecordAppender(t *testing.T) { storetest.RunRecordAppender(t, newStore) }
func RunRecordAppender(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ledger.Store, ra ledger.RecordAppender)
	}{
		{"CopiesVerbatim", testCopyVerbatim},
		{"RefusesBrokenRecords", testCopyRefuses},
		{"AppendsContinue", testCopyThenAppend},
		{"SubscriberSeesCopies", testCopySubscribe},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			ra, ok := s.(ledger.RecordAppender)
			require.True(t, ok, "%T does not implement ledger.RecordAppender", s)
			tc.fn(t, s, ra)
		})
	}
}

// SealedLog returns n records forming a valid log from position 1, as another store would
// hold them: three streams interleaved (so a run of consecutive records spans several
// streams), recorded-at times in the past with nanoseconds, every metadata field set, the hash
// chain sealed.
func SealedLog(n int) []ledger.Record {
	recs := make([]ledger.Record, n)
	versions := map[string]ledger.Version{}
	at := time.Date(2023, 3, 15, 9, 30, 0, 123456789, time.UTC)
	var prev ledger.Hash
	for i := range recs {
		stream := fmt.Sprintf("contract-%c", 'a'+rune(i*7%3))
		versions[stream]++
		e := Ev("ContractRegistered", i)
		e.Metadata.Role = "registrar"
		e.Metadata.CausationID = fmt.Sprintf("cause-%d", i)
		e.Metadata.CorrelationID = fmt.Sprintf("corr-%d", i/4)
		e.Metadata.CommandHash = fmt.Sprintf("%064x", i)
		r := ledger.Record{
			ID: e.ID, Stream: stream, Version: versions[stream], Position: ledger.Position(i + 1),
			Type: e.Type, SchemaVersion: e.SchemaVersion, RecordedAt: at.Add(time.Duration(i/3) * time.Millisecond),
			Data: e.Data, Metadata: e.Metadata,
		}
		r.Seal(prev)
		prev = r.Hash
		recs[i] = r
	}
	return recs
}

// requireSameRecords fails unless got holds want field for field (data byte for byte,
// recorded-at to the nanosecond).
func requireSameRecords(tb testing.TB, want, got []ledger.Record) {
	tb.Helper()
	require.Len(tb, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		require.Equal(tb, w.RecordedAt.UnixNano(), g.RecordedAt.UnixNano(), "record %d recorded_at", i)
		require.Equal(tb, time.UTC, g.RecordedAt.Location(), "record %d recorded_at is UTC", i)
		require.Equal(tb, string(w.Data), string(g.Data), "record %d data", i)
		w.RecordedAt, g.RecordedAt, w.Data, g.Data = time.Time{}, time.Time{}, nil, nil
		require.Equal(tb, w, g, "record %d", i)
	}
}

// testCopyVerbatim copies a log in three calls, each spanning several streams, and reads back
// the same records: positions, IDs, streams, versions, times, metadata and hashes.
func testCopyVerbatim(t *testing.T, s ledger.Store, ra ledger.RecordAppender) {
	src := SealedLog(40)
	for _, part := range [][2]int{{0, 1}, {1, 17}, {17, 40}} {
		require.NoError(t, ra.AppendRecords(ctx, src[part[0]:part[1]]))
		assert.Equal(t, ledger.Position(part[1]), head(t, s))
	}
	requireSameRecords(t, src, Collect(t, s.ReadAll(ctx, 1)))
	requireSameRecords(t, src[20:], Collect(t, s.ReadAll(ctx, 21)))
	var streamB []ledger.Record
	for _, r := range src {
		if r.Stream == "contract-b" {
			streamB = append(streamB, r)
		}
	}
	requireSameRecords(t, streamB, Collect(t, s.ReadStream(ctx, "contract-b", 1)))
	requireSameRecords(t, streamB[3:], Collect(t, s.ReadStream(ctx, "contract-b", 4)))
	rep, err := ledger.Verify(ctx, s.ReadAll(ctx, 1))
	require.NoError(t, err)
	assert.Equal(t, src[len(src)-1].Hash, rep.HeadHash, "the copy has the source's head hash")
	assert.Equal(t, 3, rep.Streams)
}

// testCopyRefuses offers batches that each hold one broken record after good ones, and checks
// that each is refused with a *ledger.CorruptionError naming that record, appending nothing.
func testCopyRefuses(t *testing.T, s ledger.Store, ra ledger.RecordAppender) {
	src := SealedLog(12)
	require.NoError(t, ra.AppendRecords(ctx, src[:4]))
	rest := src[4:]
	reseal := func(recs []ledger.Record, from int) {
		for i := from; i < len(recs); i++ {
			prev := src[3].Hash
			if i > 0 {
				prev = recs[i-1].Hash
			}
			recs[i].Seal(prev)
		}
	}
	mutate := func(fn func(recs []ledger.Record)) []ledger.Record {
		recs := append([]ledger.Record(nil), rest...)
		fn(recs)
		return recs
	}
	// bad is the position of the first bad record; where a record claims another position
	// than the one it would take, either may be named (alt is the one it would take).
	cases := []struct {
		name string
		recs []ledger.Record
		bad  ledger.Position
		want string
		alt  ledger.Position
	}{
		{"starts past the head", rest[1:], 6, "position", 5},
		{"repeats the head", src[3:], 4, "position", 5},
		{"skips a position", mutate(func(r []ledger.Record) {
			for i := 3; i < len(r); i++ {
				r[i].Position++
			}
			reseal(r, 3)
		}), 9, "position", 8},
		{"does not chain", mutate(func(r []ledger.Record) { r[2].Seal(ledger.Hash{1}) }), 7, "previous hash", 0},
		{"content altered", mutate(func(r []ledger.Record) { r[5].Data = json.RawMessage(`{"n":-1}`) }), 10, "hash", 0},
		{"skips a version", mutate(func(r []ledger.Record) { r[4].Version++; reseal(r, 4) }), 9, "version", 0},
		{"repeats a version", mutate(func(r []ledger.Record) { r[4].Version--; reseal(r, 4) }), 9, "version", 0},
		{"reuses a stored event id", mutate(func(r []ledger.Record) { r[1].ID = src[0].ID; reseal(r, 1) }), 6, "event id", 0},
	}
	before := Collect(t, s.ReadAll(ctx, 1))
	for _, tc := range cases {
		err := ra.AppendRecords(ctx, tc.recs)
		require.ErrorIs(t, err, ledger.ErrCorrupt, tc.name)
		var ce *ledger.CorruptionError
		require.True(t, errors.As(err, &ce), "%s: want a *ledger.CorruptionError, got %v", tc.name, err)
		if tc.alt == 0 || ce.Position != tc.alt {
			assert.Equal(t, tc.bad, ce.Position, tc.name)
		}
		assert.Contains(t, err.Error(), tc.want, tc.name)
		assert.Equal(t, ledger.Position(4), head(t, s), "%s: nothing appended", tc.name)
	}
	requireSameRecords(t, before, Collect(t, s.ReadAll(ctx, 1)))
	// The untouched rest is still accepted.
	require.NoError(t, ra.AppendRecords(ctx, rest))
	requireSameRecords(t, src, Collect(t, s.ReadAll(ctx, 1)))
}

// testCopyThenAppend proves ordinary Appends build on copied records: versions continue each
// stream, positions and the chain continue the log, retries of copied events are recognised.
func testCopyThenAppend(t *testing.T, s ledger.Store, ra ledger.RecordAppender) {
	src := SealedLog(9) // streams a, b, c hold 3 records each
	require.NoError(t, ra.AppendRecords(ctx, src))
	var lastA ledger.Record
	for _, r := range src {
		if r.Stream == "contract-a" {
			lastA = r
		}
	}
	_, err := s.Append(ctx, "contract-a", ledger.NoStream, Ev("A", 1))
	requireVersionError(t, err, "contract-a", lastA.Version)
	res, err := s.Append(ctx, "contract-a", ledger.Exactly(lastA.Version), Ev("A", 2))
	require.NoError(t, err)
	assert.Equal(t, []ledger.Position{10}, res.Positions)
	assert.Equal(t, lastA.Version+1, res.Version)
	res, err = s.Append(ctx, "new", ledger.NoStream, Ev("A", 3), Ev("A", 4))
	require.NoError(t, err)
	assert.Equal(t, []ledger.Position{11, 12}, res.Positions)

	again, err := s.Append(ctx, lastA.Stream, ledger.Exactly(lastA.Version-1), lastA.Event())
	require.NoError(t, err, "a retry of a copied event is recognised")
	assert.True(t, again.Duplicate)
	assert.Equal(t, []ledger.Position{lastA.Position}, again.Positions)
	_, err = s.Append(ctx, "other", ledger.Any, src[0].Event())
	require.ErrorIs(t, err, ledger.ErrDuplicateEvent, "a copied event ID cannot be reused elsewhere")

	all := Collect(t, s.ReadAll(ctx, 1))
	require.Len(t, all, 12)
	assert.Equal(t, src[8].Hash, all[9].PrevHash, "the first append links to the last copied record")
	assert.False(t, all[9].RecordedAt.Before(src[8].RecordedAt))
	_, err = ledger.Verify(ctx, s.ReadAll(ctx, 1))
	require.NoError(t, err)
	// And records copied after ordinary appends continue the chain too.
	more := SealedLog(1)
	more[0].Position, more[0].Stream, more[0].Version = 13, "new", 3
	more[0].Seal(all[11].Hash)
	require.NoError(t, ra.AppendRecords(ctx, more))
	_, err = ledger.Verify(ctx, s.ReadAll(ctx, 1))
	require.NoError(t, err)
}

// testCopySubscribe: a subscriber started before a copy receives the copied records.
func testCopySubscribe(t *testing.T, s ledger.Store, ra ledger.RecordAppender) {
	src := SealedLog(30)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got := make(chan []ledger.Record, 1)
	go func() {
		var seen []ledger.Record
		for rec, err := range s.Subscribe(cctx, 1) {
			if err != nil {
				t.Errorf("subscribe: %v", err)
				break
			}
			if seen = append(seen, rec); len(seen) == len(src) {
				break
			}
		}
		got <- seen
	}()
	require.NoError(t, ra.AppendRecords(ctx, src[:10]))
	require.NoError(t, ra.AppendRecords(ctx, src[10:]))
	requireSameRecords(t, src, <-got)
}
