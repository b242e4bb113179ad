package ledger_test

import (
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
		}
	})
}
