package ledger_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// sameRaw checks that a RawRecord holds what a Record decoded from the same bytes holds.
func sameRaw(tb testing.TB, want ledger.Record, got ledger.RawRecord) {
	tb.Helper()
	assert.Equal(tb, want.ID, got.ID)
	assert.Equal(tb, want.Stream, string(got.Stream))
	assert.Equal(tb, want.Version, got.Version)
	assert.Equal(tb, want.Position, got.Position)
	assert.Equal(tb, want.Type, string(got.Type))
	assert.Equal(tb, want.SchemaVersion, got.SchemaVersion)
	assert.Equal(tb, want.RecordedAt, got.RecordedAt)
	assert.Equal(tb, []byte(want.Data), got.Data)
	assert.Equal(tb, want.PrevHash, got.PrevHash)
	assert.Equal(tb, want.Hash, got.Hash)
}

func TestRawRecord_UnmarshalBinary(t *testing.T) {
	r := record(7, "contract-1", 3)
	r.Seal(ledger.Hash{1, 2, 3})
	b := r.AppendBinary(nil)
	var got ledger.RawRecord
	require.NoError(t, got.UnmarshalBinary(b))
	sameRaw(t, r, got)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = got.UnmarshalBinary(b) }), "allocations")
	for n := range len(b) { // every truncation is an error, never a panic
		var short ledger.RawRecord
		assert.Error(t, short.UnmarshalBinary(b[:n]), "truncated at %d", n)
	}
	assert.Error(t, got.UnmarshalBinary(append(b, 0)), "trailing bytes")
}

// FuzzRawRecord_UnmarshalBinary: RawRecord accepts exactly what Record accepts, and decodes
// the same fields.
func FuzzRawRecord_UnmarshalBinary(f *testing.F) {
	r := record(1, "s", 1)
	r.Seal(ledger.Hash{})
	f.Add(r.AppendBinary(nil))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		var want ledger.Record
		var got ledger.RawRecord
		errWant, errGot := want.UnmarshalBinary(b), got.UnmarshalBinary(b)
		require.Equal(t, errWant == nil, errGot == nil, "record: %v, raw: %v", errWant, errGot)
		if errWant == nil {
			sameRaw(t, want, got)
			// DecodeChain reads the same chain fields from any valid encoding.
			pos, prev, hash, err := ledger.DecodeChain(b)
			require.NoError(t, err)
			require.Equal(t, want.Position, pos)
			require.Equal(t, want.PrevHash, prev)
			require.Equal(t, want.Hash, hash)
		}
	})
}

// TestDecodeChain: the chain fields of records with empty and long fields, and clear
// errors for a wrong format byte or an encoding too short to be a record.
func TestDecodeChain(t *testing.T) {
	empty := ledger.Record{Position: 7}
	empty.Seal(ledger.Hash{1})
	long := record(1<<40, strings.Repeat("s", 300), 3)
	long.Seal(ledger.Hash{2})
	for _, r := range []ledger.Record{empty, long} {
		pos, prev, hash, err := ledger.DecodeChain(r.AppendBinary(nil))
		require.NoError(t, err)
		require.Equal(t, r.Position, pos)
		require.Equal(t, r.PrevHash, prev)
		require.Equal(t, r.Hash, hash)
	}
	b := empty.AppendBinary(nil)
	_, _, _, err := ledger.DecodeChain(b[:len(b)-1])
	require.ErrorContains(t, err, "shorter than any record")
	b[0] = 9
	_, _, _, err = ledger.DecodeChain(b)
	require.ErrorContains(t, err, "record format 9")
}
