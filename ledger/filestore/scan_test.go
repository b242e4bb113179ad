package filestore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/storetest"
)

// TestStore_ScanRaw checks ScanRaw against ReadAll over a log of many small segments, from
// every starting position: the same positions in order, each raw encoding decoding to the
// record ReadAll yields.
func TestStore_ScanRaw(t *testing.T) {
	s := open(t, t.TempDir(), filestore.Options{SegmentBytes: 2048})
	fill(t, s, 40)
	all := storetest.Collect(t, s.ReadAll(ctx, 1))
	require.Greater(t, len(all), 60)
	for from := range len(all) + 2 {
		var got []ledger.Record
		err := s.ScanRaw(ctx, ledger.Position(from), func(pos ledger.Position, raw []byte) error {
			var rec ledger.Record
			require.NoError(t, rec.UnmarshalBinary(raw))
			require.Equal(t, pos, rec.Position)
			rec.Data = append([]byte(nil), rec.Data...) // raw is reused after fn returns
			got = append(got, rec)
			return nil
		})
		require.NoError(t, err)
		want := all[max(from, 1)-1:]
		require.Len(t, got, len(want), "from %d", from)
		for i := range want {
			require.Equal(t, want[i], got[i], "from %d", from)
		}
	}
}

func TestStore_ScanRaw_Stops(t *testing.T) {
	s := open(t, t.TempDir(), filestore.Options{})
	fill(t, s, 10)
	stop := errors.New("stop")
	n := 0
	err := s.ScanRaw(ctx, 1, func(ledger.Position, []byte) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	assert.ErrorIs(t, err, stop, "fn's error is returned")
	assert.Equal(t, 3, n)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = s.ScanRaw(cctx, 1, func(ledger.Position, []byte) error { t.Fatal("called after cancel"); return nil })
	assert.ErrorIs(t, err, context.Canceled)
}
