package projections

import (
	"bytes"
	"context"
	"iter"
	"reflect"
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
// compared by content). Their snapshots are not compared as bytes: WriteSnapshot writes
// the seen maps in map order.
func requireSameState(t testing.TB, want, got *State, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, want.Position(), got.Position(), msgAndArgs...)
	require.Equal(t, want.Hash(), got.Hash(), msgAndArgs...)
	require.Equal(t, want.RecordedAt(), got.RecordedAt(), msgAndArgs...)
	if !reflect.DeepEqual(want, got) {
		require.Fail(t, "the States differ", msgAndArgs...)
	}
}

// TestReplay_ScanRawMatchesReadAll: a replay of a filestore through ScanRaw gives the
// State (position, hash, time, contracts, tallies, flags, every index) that a replay of
// the same log through ReadAll gives, whole, up to any position, and in
// two steps. The log spans many segments and batches.
func TestReplay_ScanRawMatchesReadAll(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	_, err := sample.Write(&buf, sample.Config{Seed: 12, Contracts: 300})
	require.NoError(t, err)
	fs, err := filestore.Open(t.TempDir(), filestore.Options{SegmentBytes: 32 << 10})
	require.NoError(t, err)
	defer fs.Close()
	_, err = commands.Import(ctx, bytes.NewReader(buf.Bytes()), commands.NewHandler(fs), commands.Actor{Name: "test", Role: "registrar"}, nil)
	require.NoError(t, err)
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
