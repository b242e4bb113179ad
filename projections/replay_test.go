package projections

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/internal/sample"
	"techledger/ledger"
	"techledger/ledger/filestore"
)

// readAllOnly hides a store's ScanRaw, so that Replay reads it through ReadAll.
type readAllOnly struct{ s ledger.Store }

func (r readAllOnly) ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return r.s.ReadAll(ctx, from)
}

// requireSameState checks that two States hold the same values (reflect.DeepEqual: maps
// compared by content) and write byte-identical snapshots.
func requireSameState(t testing.TB, want, got *State, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, want.Position(), got.Position(), msgAndArgs...)
	require.Equal(t, want.Hash(), got.Hash(), msgAndArgs...)
	require.Equal(t, want.RecordedAt(), got.RecordedAt(), msgAndArgs...)
	if !reflect.DeepEqual(want, got) {
		require.Fail(t, "the States differ", msgAndArgs...)
	}
	var a, b bytes.Buffer
	require.NoError(t, want.WriteSnapshot(&a))
	require.NoError(t, got.WriteSnapshot(&b))
	require.True(t, bytes.Equal(a.Bytes(), b.Bytes()), "snapshots differ")
}

// TestSnapshot_Deterministic: one State written twice gives the same bytes (its maps are
// written in key order, not map order).
func TestSnapshot_Deterministic(t *testing.T) {
	fs := sampleFilestore(t, 14, 200, filestore.Options{})
	st := fold(t, fs, 0)
	var first bytes.Buffer
	require.NoError(t, st.WriteSnapshot(&first))
	for range 5 {
		var again bytes.Buffer
		require.NoError(t, st.WriteSnapshot(&again))
		require.True(t, bytes.Equal(first.Bytes(), again.Bytes()))
	}
}

// TestReplay_ScanRawMatchesReadAll: a replay of a filestore through ScanRaw gives the
// State (position, hash, time, contracts, tallies, flags, every index) that a replay of
// the same log through ReadAll gives, whole, up to any position, and in
// two steps. The log spans many segments and batches.
func TestReplay_ScanRawMatchesReadAll(t *testing.T) {
	ctx := context.Background()
	fs := sampleFilestore(t, 12, 300, filestore.Options{SegmentBytes: 32 << 10})
	head, err := fs.Head(ctx)
	require.NoError(t, err)
	require.Greater(t, head, ledger.Position(3*replayBatch))
	var _ RawScanner = fs

	for _, to := range []ledger.Position{0, 1, replayBatch - 1, replayBatch, replayBatch + 1, head / 2, head - 1, head} {
		want := fold(t, readAllOnly{fs}, to)
		got := fold(t, fs, to)
		requireSameState(t, want, got, "to %d", to)
		if to != 0 {
			require.NoError(t, Replay(ctx, fs, got, 0))
			requireSameState(t, fold(t, fs, 0), got, "from %d on", to)
		}
	}
	err = Replay(ctx, fs, NewState(Options{}), head+1)
	assert.ErrorContains(t, err, "the log ends at")
}

// TestReplay_Errors: an event the codec refuses, and one the folds cannot apply, stop a
// replay at their position, through ScanRaw and through ReadAll, with everything before
// them folded; records after them are not.
func TestReplay_Errors(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	_, err := sample.Write(&buf, sample.Config{Seed: 13, Contracts: 200})
	require.NoError(t, err)
	fs, err := filestore.Open(t.TempDir(), filestore.Options{})
	require.NoError(t, err)
	defer fs.Close()
	h := commands.NewHandler(fs)
	who := commands.Actor{Name: "test", Role: "registrar"}
	lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
	half := len(lines) / 2
	_, err = commands.Import(ctx, bytes.NewReader(bytes.Join(lines[:half], nil)), h, who, nil)
	require.NoError(t, err)
	bad := func(data string) ledger.Position {
		res, err := fs.Append(ctx, "bad", ledger.Any, ledger.Event{ID: ledger.NewEventID(), Type: ledger.TypeContractRevoked, SchemaVersion: 1, Data: []byte(data)})
		require.NoError(t, err)
		return res.Positions[0]
	}
	unknown := bad(`{"contract_id":"1999140101999999","reason":"x"}`)
	_, err = commands.Import(ctx, bytes.NewReader(bytes.Join(lines[half:], nil)), h, who, nil)
	require.NoError(t, err)
	undecodable := bad(`{"contract_id":2023140101000123,"reason":"x"}`)
	bad(`{"contract_id":"1999140101999999","reason":"x"}`)

	for _, log := range []Reader{fs, readAllOnly{fs}} {
		st := NewState(Options{})
		err := Replay(ctx, log, st, 0)
		require.ErrorIs(t, err, ErrFold)
		require.ErrorContains(t, err, fmt.Sprintf("position %d", unknown))
		require.Equal(t, unknown-1, st.Position())

		st = fold(t, log, unknown-1)
		st.pos++ // step over the record the folds cannot apply
		err = Replay(ctx, log, st, 0)
		require.ErrorContains(t, err, fmt.Sprintf("position %d", undecodable))
		require.ErrorContains(t, err, "cannot unmarshal number")
		require.Equal(t, undecodable-1, st.Position())
	}
}

// TestReplayProgress: the callback sees positions that only grow and end at the head, and
// the State is the same as without it.
func TestReplayProgress(t *testing.T) {
	ctx := context.Background()
	fs := sampleFilestore(t, 13, 300, filestore.Options{})
	head, err := fs.Head(ctx)
	require.NoError(t, err)
	require.Greater(t, head, ledger.Position(2*replayBatch), "several batches")

	var seen []ledger.Position
	st := NewState(Options{})
	require.NoError(t, ReplayProgress(ctx, fs, st, 0, func(p ledger.Position) { seen = append(seen, p) }))
	require.Greater(t, len(seen), 2)
	assert.True(t, slices.IsSorted(seen), "positions only grow")
	assert.Equal(t, head, seen[len(seen)-1])
	requireSameState(t, fold(t, fs, 0), st)
}

// sampleFilestore imports the sample of the given seed and size into a new filestore,
// closed when the test ends.
func sampleFilestore(t *testing.T, seed uint64, contracts int, opts filestore.Options) *filestore.Store {
	t.Helper()
	var buf bytes.Buffer
	_, err := sample.Write(&buf, sample.Config{Seed: seed, Contracts: contracts})
	require.NoError(t, err)
	fs, err := filestore.Open(t.TempDir(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { fs.Close() })
	_, err = commands.Import(context.Background(), bytes.NewReader(buf.Bytes()), commands.NewHandler(fs), commands.Actor{Name: "test", Role: "registrar"}, nil)
	require.NoError(t, err)
	return fs
}
