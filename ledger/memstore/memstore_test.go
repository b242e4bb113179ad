package memstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/memstore"
	"techledger/ledger/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(testing.TB) ledger.Store { return memstore.New() })
}

// TestStore_Tamper proves Verify catches an altered record: changing one record's data
// without resealing it is reported at that record's position.
func TestStore_Tamper(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	for i := range 5 {
		_, err := s.Append(ctx, "s", ledger.Any, storetest.Ev("A", i))
		require.NoError(t, err)
	}
	s.Tamper(3, []byte(`{"n":1000}`))
	_, err := ledger.Verify(ctx, s.ReadAll(ctx, 1))
	var ce *ledger.CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, ledger.Position(3), ce.Position)
	require.Contains(t, ce.Reason, "hash mismatch")
}

func TestStore_RecordAppender(t *testing.T) {
	storetest.RunRecordAppender(t, func(testing.TB) ledger.Store { return memstore.New() })
}
