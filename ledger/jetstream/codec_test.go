package jetstream

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/memstore"
	"techledger/ledger/storetest"
)

// sealedRecords returns n records of a real log (memstore): streams alternate between
// streams names, so that runs of one stream and mixed runs are both there.
func sealedRecords(tb testing.TB, n int, streams ...string) []ledger.Record {
	tb.Helper()
	ctx := context.Background()
	s := memstore.New()
	for i := range n {
		_, err := s.Append(ctx, streams[i%len(streams)], ledger.Any, storetest.Ev("A", i))
		require.NoError(tb, err)
	}
	return storetest.Collect(tb, s.ReadAll(ctx, 1))
}

// FuzzDecodeCommit: decodeCommit (a commit message read back from the JetStream stream,
// which another process or a damaged server may have written) never panics and allocates
// in proportion to its input; what it accepts is what its own checks promise (positions
// consecutive, the hash chain linked inside the message; one stream with consecutive
// versions for msgFormat), and encodeCommit of the records decodes to the same records.
func FuzzDecodeCommit(f *testing.F) {
	one := sealedRecords(f, 3, "contract-1")
	mixed := sealedRecords(f, 4, "contract-1", "contract-2")
	f.Add(encodeCommit(one))
	f.Add(encodeCommit(one[:1]))
	f.Add(encodeCommit(mixed))
	f.Add([]byte{msgFormat, 0})
	f.Add([]byte{msgFormatGroup, 0xff, 0xff, 0x03})
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := decodeCommit(b)
		if err != nil {
			require.Nil(t, recs)
			require.Contains(t, err.Error(), "commit message:")
			return
		}
		require.NotEmpty(t, recs)
		require.LessOrEqual(t, len(recs), len(b), "more records than bytes")
		for i := 1; i < len(recs); i++ {
			require.Equal(t, recs[i-1].Position+1, recs[i].Position)
			require.Equal(t, recs[i-1].Hash, recs[i].PrevHash)
			if b[0] == msgFormat {
				require.Equal(t, recs[i-1].Stream, recs[i].Stream)
				require.Equal(t, recs[i-1].Version+1, recs[i].Version)
			}
		}
		// Re-encoded in the same format (encodeCommit picks msgFormat for records of one
		// stream, which a group message of one stream with a version gap is not: the caller
		// checks such versions against the index), the records decode to themselves.
		enc := encodeCommit(recs)
		enc[0] = b[0]
		again, err := decodeCommit(enc)
		require.NoError(t, err)
		require.Equal(t, recs, again)
	})
}

// TestDecodeCommit_CountBeyondInput: a message claiming more records than it has bytes is
// refused before anything is allocated for them.
func TestDecodeCommit_CountBeyondInput(t *testing.T) {
	for _, b := range [][]byte{{msgFormat, 0x80, 0x80, 0x01}, {msgFormatGroup, 5, 0, 0}} {
		_, err := decodeCommit(b)
		require.ErrorContains(t, err, "bad record count", "% x", b)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			_, _ = decodeCommit(b)
		}
		runtime.ReadMemStats(&after)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(10<<10), "% x: bytes allocated by 10 decodes", b)
	}
}
