package ledger_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// TestRecordView_RoundTrip: a record shown as JSON (the shape of GET /v1/events) and read back
// is the same record, and its hash still checks out, so a follower can verify the chain.
func TestRecordView_RoundTrip(t *testing.T) {
	r := record(7, "contract-1", 3)
	r.RecordedAt = time.Date(2026, 1, 2, 11, 4, 5, 6, time.FixedZone("CST", 8*3600))
	r.Seal(ledger.Hash{1, 2, 3})
	b, err := json.Marshal(ledger.ViewOf(r))
	require.NoError(t, err)
	assert.Contains(t, string(b), `"prev_hash":"0102030000`)

	var v ledger.RecordView
	require.NoError(t, json.Unmarshal(b, &v))
	got, err := v.Record()
	require.NoError(t, err)
	assert.Equal(t, time.UTC, got.RecordedAt.Location(), "times come back in UTC")
	assert.True(t, got.RecordedAt.Equal(r.RecordedAt))
	r.RecordedAt = r.RecordedAt.UTC()
	assert.Equal(t, r, got)
	assert.Equal(t, r.Hash, got.ComputeHash())

	v.ID = "not-a-uuid"
	_, err = v.Record()
	assert.ErrorContains(t, err, "id:")
}
