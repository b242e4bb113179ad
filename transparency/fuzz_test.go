package transparency_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"techledger/ledger/memstore"
	"techledger/transparency"
)

// FuzzParseCheckpoint: ParseCheckpoint never panics, and an accepted checkpoint's Body
// parses to the same checkpoint and is the input's first three lines (docs/reliability.md).
func FuzzParseCheckpoint(f *testing.F) {
	f.Add("techledger.example/log\n20\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	f.Add("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nextension line\n")
	f.Add("o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("o\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("\n1\nAA==\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := transparency.ParseCheckpoint(text)
		if err != nil {
			require.Equal(t, transparency.Checkpoint{}, c)
			return
		}
		body := c.Body()
		require.Equal(t, body, text[:len(body)], "Body is not the input's first lines")
		again, err := transparency.ParseCheckpoint(body)
		require.NoError(t, err)
		require.Equal(t, c, again)
	})
}

// FuzzAudit feeds proof bundles (their JSON, as an auditor receives them) to Audit with the
// test log's key. Audit never panics; a bundle it passes lists the contract's records in
// log order, each inside the signed checkpoint, and its report counts them.
func FuzzAudit(f *testing.F) {
	s := memstore.New()
	fill(f, s, 3, 2)
	l := openLog(f, s, f.TempDir())
	_, err := l.SignNow()
	require.NoError(f, err)
	for i := range 3 {
		b, err := l.Bundle(context.Background(), contractID(i))
		require.NoError(f, err)
		j, err := json.Marshal(b)
		require.NoError(f, err)
		f.Add(j)
	}
	f.Add([]byte(`{"format":"x","records":[]}`))
	f.Fuzz(func(t *testing.T, j []byte) {
		var b transparency.Bundle
		if json.Unmarshal(j, &b) != nil {
			return
		}
		rep, err := transparency.Audit(&b, testVKey)
		if err != nil {
			var ae *transparency.AuditError
			require.ErrorAs(t, err, &ae)
			require.NotEmpty(t, ae.Problems)
			return
		}
		require.Equal(t, len(b.Records), rep.Events)
		require.Len(t, rep.Positions, len(b.Records))
		for i, p := range rep.Positions {
			require.Equal(t, b.Records[i].Position, p)
			require.LessOrEqual(t, int64(p), rep.Checkpoint.Size)
			if i > 0 {
				require.Greater(t, p, rep.Positions[i-1])
			}
		}
	})
}
