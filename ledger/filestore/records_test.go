package filestore_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/storetest"
)

// TestStore_AppendRecords copies a log record by record into an empty store, in calls of
// several sizes, and checks that the copy holds the same records (hashes, positions,
// times), verifies, survives a reopen, and continues the chain with ordinary appends.
func TestStore_AppendRecords(t *testing.T) {
	src := open(t, t.TempDir(), filestore.Options{})
	fill(t, src, 40)
	recs := storetest.Collect(t, src.ReadAll(ctx, 1))
	dir := t.TempDir()
	dst := open(t, dir, filestore.Options{SegmentBytes: 4096})
	for i, n := 0, 1; i < len(recs); i, n = i+n, n%7+1 {
		require.NoError(t, dst.AppendRecords(ctx, recs[i:min(i+n, len(recs))]))
	}
	require.NoError(t, dst.Close())
	dst = open(t, dir, filestore.Options{})
	got := storetest.Collect(t, dst.ReadAll(ctx, 1))
	require.Len(t, got, len(recs))
	for i := range recs {
		assert.Equal(t, recs[i].Hash, got[i].Hash)
		assert.True(t, recs[i].RecordedAt.Equal(got[i].RecordedAt))
	}
	_, err := dst.Verify(ctx)
	require.NoError(t, err)
	_, err = dst.Append(ctx, "contract-0", ledger.Any, storetest.Ev("A", 999))
	require.NoError(t, err)
	_, err = dst.Verify(ctx)
	require.NoError(t, err)
}

// TestStore_AppendRecordsRefuses checks each rule: a record that does not continue the
// log is refused with a *ledger.CorruptionError naming its position, and nothing of the
// call is appended.
func TestStore_AppendRecordsRefuses(t *testing.T) {
	src := open(t, t.TempDir(), filestore.Options{})
	fill(t, src, 10)
	recs := storetest.Collect(t, src.ReadAll(ctx, 1))
	for _, tc := range []struct {
		name   string
		change func(rs []ledger.Record) // rs holds positions 2..6
		at     ledger.Position
	}{
		{"a gap in positions", func(rs []ledger.Record) { rs[1] = recs[3] }, 3},
		{"altered data", func(rs []ledger.Record) { rs[1].Data = []byte(`{"n":666}`) }, 3},
		{"a hash that does not chain", func(rs []ledger.Record) { rs[1].PrevHash[0] ^= 1; rs[1].Hash = rs[1].ComputeHash() }, 3},
		{"a stream version skipped", func(rs []ledger.Record) { rs[1].Version++; rs[1].Hash = rs[1].ComputeHash() }, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := open(t, t.TempDir(), filestore.Options{})
			require.NoError(t, dst.AppendRecords(ctx, recs[:1]))
			rs := append([]ledger.Record(nil), recs[1:6]...)
			tc.change(rs)
			err := dst.AppendRecords(ctx, rs)
			var ce *ledger.CorruptionError
			require.True(t, errors.As(err, &ce), "got %v", err)
			assert.Equal(t, tc.at, ce.Position)
			head, _ := dst.Head(ctx)
			assert.Equal(t, ledger.Position(1), head, "nothing of the call is appended")
			require.NoError(t, dst.AppendRecords(ctx, recs[1:6]), "the right records still go in")
		})
	}
	t.Run("the first record after the head only", func(t *testing.T) {
		dst := open(t, t.TempDir(), filestore.Options{})
		err := dst.AppendRecords(ctx, recs[1:2])
		var ce *ledger.CorruptionError
		require.True(t, errors.As(err, &ce))
		assert.Equal(t, ledger.Position(1), ce.Position, "names where the log breaks")
	})
	t.Run("limits", func(t *testing.T) {
		dst := open(t, t.TempDir(), filestore.Options{})
		require.ErrorIs(t, dst.AppendRecords(ctx, nil), ledger.ErrInvalidAppend)
		big := make([]ledger.Record, filestore.RecordsPerCallMax+1)
		require.ErrorIs(t, dst.AppendRecords(ctx, big), ledger.ErrInvalidAppend)
	})
}
