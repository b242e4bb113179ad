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

	"techledger/ledger"
	"techledger/projections"
	"techledger/server"
)

const register = `{"command":"register_contract","command_id":"c-1","contract_id":"2023140101000123","title":"煤矸石综合利用技术转让","type":"transfer","subtype":"patent_right","signed_on":"2023-03-01","registered_on":"2023-03-15","amount":"1200000.00","tech_amount":"1000000.00","field":"environment","seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},"buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"intermediary":null,"achievement_id":"ACH-2022-0042","ip_types":["patent"]}`

// TestCLI_ImportHistoryVerify runs the verbs against a data directory: an import with a
// bad line exits 1 and reports it; re-import appends nothing; history shows the events;
// verify passes, then fails naming the segment after a byte is flipped.
func TestCLI_ImportHistoryVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	in := filepath.Join(t.TempDir(), "in.ndjson")
	require.NoError(t, os.WriteFile(in, []byte(register+"\n"+`{"command":"revoke_contract","contract_id":"2023140101000123"}`+"\n"), 0o644))

	var out, errb bytes.Buffer
	code := run(ctx, []string{"import", "--data", dir, in}, &out, &errb)
	assert.Equal(t, exitRejected, code, errb.String())
	assert.Contains(t, out.String(), "line 2: reason: is required")
	assert.Contains(t, out.String(), "applied 1, duplicates 0, rejected 1, last position 1")

	out.Reset()
	code = run(ctx, []string{"import", "--data", dir, in}, &out, &errb)
	assert.Equal(t, exitRejected, code)
	assert.Contains(t, out.String(), "applied 0, duplicates 1, rejected 1")

	out.Reset()
	code = run(ctx, []string{"history", "--data", dir, "--format", "json", "2023140101000123"}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	var hist []server.RecordView
	require.NoError(t, json.Unmarshal(out.Bytes(), &hist))
	require.Len(t, hist, 1)
	assert.Equal(t, "ContractRegistered", hist[0].Type)

	out.Reset()
	code = run(ctx, []string{"verify", "--data", dir}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	assert.Contains(t, out.String(), "OK: 1 records")

	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	data, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	data[40] ^= 1
	require.NoError(t, os.WriteFile(segs[0], data, 0o644))
	out.Reset()
	code = run(ctx, []string{"verify", "--data", dir}, &out, &errb)
	assert.Equal(t, exitRejected, code)
	assert.Contains(t, out.String(), "FAILED")
	assert.Contains(t, out.String(), filepath.Base(segs[0]))

	assert.Equal(t, exitUsage, run(ctx, []string{"nope"}, &out, &errb))
	assert.Equal(t, exitOK, run(ctx, []string{"import", "--help"}, &out, &errb))
}

// TestCLI_StatsRewards runs stats and rewards over the committed sample. The totals are
// checked against a count made here from the command file itself.
func TestCLI_StatsRewards(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(ctx, []string{"import", "--data", dir, "../../testdata/sample.ndjson"}, &out, &errb), errb.String())

	// Independent count: contracts registered in the file and not revoked.
	raw, err := os.ReadFile("../../testdata/sample.ndjson")
	require.NoError(t, err)
	live := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var c struct {
			Command    string `json:"command"`
			ContractID string `json:"contract_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &c))
		switch c.Command {
		case "register_contract":
			live[c.ContractID] = true
		case "revoke_contract":
			delete(live, c.ContractID)
		}
	}

	stats := func(args ...string) projections.StatsReport {
		t.Helper()
		out.Reset()
		require.Equal(t, exitOK, run(ctx, append([]string{"stats", "--data", dir, "--format", "json"}, args...), &out, &errb), errb.String())
		var rep struct {
			AsOf uint64 `json:"as_of"`
			Rows []map[string]any
		}
		require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
		r := projections.StatsReport{AsOf: ledger.Position(rep.AsOf)}
		for _, row := range rep.Rows {
			r.Rows = append(r.Rows, projections.StatsRow{Count: int64(row["count"].(float64))})
		}
		return r
	}
	total := stats()
	require.Len(t, total.Rows, 1)
	assert.Equal(t, int64(len(live)), total.Rows[0].Count)
	assert.Equal(t, ledger.Position(strings.Count(string(raw), "\n")), total.AsOf)
	var sum int64
	for _, r := range stats("--by", "seller_city,quarter").Rows {
		sum += r.Count
	}
	assert.Equal(t, int64(len(live)), sum, "the rows of a grouping add up to the totals")
	assert.Equal(t, int64(1), stats("--as-of", "1").Rows[0].Count)

	out.Reset()
	require.Equal(t, exitOK, run(ctx, []string{"stats", "--data", dir, "--by", "type", "--format", "csv", "--labels", "zh"}, &out, &errb))
	assert.True(t, strings.HasPrefix(out.String(), "\ufeff合同类别,合同数,成交额(元),技术交易额(元),已付金额(元)\n"), out.String())
	assert.Contains(t, out.String(), "技术转让,")

	out.Reset()
	require.Equal(t, exitOK, run(ctx, []string{"rewards", "--data", dir, "--year", "2022", "--format", "json"}, &out, &errb), errb.String())
	var rew struct {
		AsOf uint64           `json:"as_of"`
		Rows []map[string]any `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rew))
	assert.Equal(t, uint64(total.AsOf), rew.AsOf)
	assert.NotEmpty(t, rew.Rows, "the sample pays researchers in 2022")

	for _, args := range [][]string{
		{"stats", "--data", dir, "--by", "colour"},
		{"stats", "--data", dir, "--format", "xml"},
		{"stats", "--data", dir, "--as-of", "last week"},
		{"rewards", "--data", dir, "--labels", "fr"},
	} {
		assert.Equal(t, exitUsage, run(ctx, args, &out, &errb), args)
	}
}
