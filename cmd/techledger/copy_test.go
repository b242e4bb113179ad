package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/copier"
)

// TestCLI_Copy moves an imported ledger from the filestore to JetStream and back to a new
// filestore, runs each copy again (nothing left to copy), and checks that both sides
// verify to the same head hash and that stats, rewards and history print byte-identical
// output from the source and every copy.
func TestCLI_Copy(t *testing.T) {
	ctx := context.Background()
	raw, err := os.ReadFile("../../testdata/sample.ndjson")
	require.NoError(t, err)
	lines := strings.SplitAfter(string(raw), "\n")
	in := filepath.Join(t.TempDir(), "in.ndjson")
	require.NoError(t, os.WriteFile(in, []byte(strings.Join(lines[:600], "")), 0o644))
	dir := t.TempDir()
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(ctx, []string{"import", "--data", dir, in}, &out, &errb), errb.String())

	natsURL := runNATS(t)
	stores := []string{"file://" + dir, natsURL + "/COPY1", "file://" + filepath.Join(t.TempDir(), "back")}
	for i := 1; i < len(stores); i++ {
		for attempt, wantCopied := range []uint64{600, 0} {
			out.Reset()
			errb.Reset()
			require.Equal(t, exitOK, run(ctx, []string{"copy", "--from", stores[i-1], "--to", stores[i], "--format", "json"}, &out, &errb), errb.String())
			var rep copier.Report
			require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
			assert.Equal(t, wantCopied, rep.Copied, "copy %d, run %d", i, attempt)
			assert.Equal(t, uint64(600), rep.Target.Records)
			assert.Equal(t, rep.Source.HeadHash, rep.Target.HeadHash)
		}
	}
	out.Reset()
	require.Equal(t, exitOK, run(ctx, []string{"copy", "--from", dir, "--to", stores[2]}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "copied 0 records (resumed from position 600)")
	assert.Regexp(t, `source verified: 600 records, head 600, head hash [0-9a-f]{64}`, out.String())

	for _, args := range [][]string{
		{"stats", "--by", "year,type,seller_city", "--format", "json"},
		{"rewards", "--format", "json"},
		{"history", "--format", "json", "2019140101000001"},
	} {
		var want string
		for i, where := range stores {
			out.Reset()
			errb.Reset()
			code := run(ctx, append([]string{args[0], "--store", where}, args[1:]...), &out, &errb)
			require.Equal(t, exitOK, code, "%v on %s: %s", args, where, errb.String())
			if i == 0 {
				want = out.String()
				continue
			}
			assert.Equal(t, want, out.String(), "%v on %s", args, where)
		}
	}

	// A target holding another ledger is refused.
	other := t.TempDir()
	require.Equal(t, exitOK, run(ctx, []string{"import", "--data", other, in}, &out, &errb))
	errb.Reset()
	assert.Equal(t, exitRejected, run(ctx, []string{"copy", "--from", "file://" + other, "--to", stores[1]}, &out, &errb))
	assert.Contains(t, errb.String(), "not a prefix of the source")
}

// TestCLI_StoreURLs: esdb:// URLs reach the KurrentDB backend (a malformed one is refused
// with the reason), and copy wants both stores.
func TestCLI_StoreURLs(t *testing.T) {
	ctx := context.Background()
	var out, errb bytes.Buffer
	assert.Equal(t, exitFailure, run(ctx, []string{"verify", "--store", "esdb://db.invalid:2113"}, &out, &errb))
	assert.Contains(t, errb.String(), "stream name is required")
	errb.Reset()
	assert.Equal(t, exitFailure, run(ctx, []string{"stats", "--store", "esdb://db.invalid:2113/ledger?tsl=false"}, &out, &errb))
	assert.Contains(t, errb.String(), "unknown parameter")
	errb.Reset()
	assert.Equal(t, exitUsage, run(ctx, []string{"copy", "--from", t.TempDir()}, &out, &errb))
}
