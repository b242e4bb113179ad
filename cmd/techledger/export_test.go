package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// importSample imports the first n lines of the committed sample (all of it for a large n)
// into a fresh data directory and returns it.
func importSample(t *testing.T, n int) string {
	t.Helper()
	f, err := os.Open("../../testdata/sample.ndjson")
	require.NoError(t, err)
	defer f.Close()
	var b bytes.Buffer
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for i := 0; i < n && sc.Scan(); i++ {
		b.Write(sc.Bytes())
		b.WriteByte('\n')
	}
	require.NoError(t, sc.Err())
	in := filepath.Join(t.TempDir(), "in.ndjson")
	require.NoError(t, os.WriteFile(in, b.Bytes(), 0o644))
	dir := filepath.Join(t.TempDir(), "data")
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"import", "--data", dir, in}, &out, &errb), "%s%s", out.String(), errb.String())
	return dir
}

// TestCLI_Export exports a log as NDJSON and CSV and checks, without techledger's own
// code, that the NDJSON is every position once, in order, each record linking the hash
// of the one before; that the CSV has the same records; and that ranges and bad flags
// are handled.
func TestCLI_Export(t *testing.T) {
	ctx := context.Background()
	dir := importSample(t, 300)
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(ctx, []string{"export", "--data", dir}, &out, &errb), errb.String())
	assert.Empty(t, errb.String(), "no progress when stderr is not a terminal")

	type rec struct {
		Position uint64 `json:"position"`
		PrevHash string `json:"prev_hash"`
		Hash     string `json:"hash"`
		Type     string `json:"type"`
		Metadata struct {
			Actor     string `json:"actor"`
			CommandID string `json:"command_id"`
		} `json:"metadata"`
		Data json.RawMessage `json:"data"`
	}
	var recs []rec
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r rec
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		recs = append(recs, r)
	}
	require.GreaterOrEqual(t, len(recs), 300, "at least one event per command")
	prev := strings.Repeat("0", 64)
	for i, r := range recs {
		require.Equal(t, uint64(i+1), r.Position)
		require.Equal(t, prev, r.PrevHash, "position %d links the hash before it", r.Position)
		require.Len(t, r.Hash, 64)
		require.NotEmpty(t, r.Metadata.CommandID)
		require.True(t, json.Valid(r.Data))
		prev = r.Hash
	}

	// A range to a file, as CSV with Chinese headers.
	path := filepath.Join(t.TempDir(), "part.csv")
	out.Reset()
	require.Equal(t, exitOK, run(ctx, []string{"export", "--data", dir, "--from", "11", "--to", "20", "--format", "csv", "--labels", "zh", "-o", path}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "exported 10 events (positions 11..20)")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte("\ufeff")), "UTF-8 with BOM")
	rows, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+10)
	assert.Equal(t, "日志位置", rows[0][0])
	for i, row := range rows[1:] {
		r := recs[10+i]
		assert.Equal(t, []string{
			row[0], row[4], row[7], row[9], row[13], row[14],
		}, []string{
			strings.TrimSpace(jsonNumber(r.Position)), r.Type, r.Metadata.Actor, r.Metadata.CommandID, r.PrevHash, r.Hash,
		})
		assert.JSONEq(t, string(r.Data), row[12])
	}

	for _, bad := range [][]string{
		{"--format", "xml"}, {"--from", "0"}, {"--from", "5", "--to", "4"}, {"--labels", "fr"}, {"extra"},
	} {
		assert.Equal(t, exitUsage, run(ctx, append([]string{"export", "--data", dir}, bad...), &out, &errb), "%v", bad)
	}
}

func jsonNumber(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestCLI_ImportJSONAndHistoryCSV: import --format json has the documented shape with each
// rejected line; history --format csv has one row per event.
func TestCLI_ImportJSONAndHistoryCSV(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	in := filepath.Join(t.TempDir(), "in.ndjson")
	require.NoError(t, os.WriteFile(in, []byte(register+"\n"+`{"command":"revoke_contract","contract_id":"2023140101000123"}`+"\n"), 0o644))
	var out, errb bytes.Buffer
	require.Equal(t, exitRejected, run(ctx, []string{"import", "--data", dir, "--format", "json", in}, &out, &errb))
	assert.JSONEq(t, `{"applied":1,"duplicates":0,"rejected":1,"last_position":1,"errors":[{"line":2,"error":"reason: is required"}]}`, out.String())

	out.Reset()
	require.Equal(t, exitOK, run(ctx, []string{"history", "--data", dir, "--format", "csv", "2023140101000123"}, &out, &errb), errb.String())
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out.String(), "\ufeff"))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, recordColumns, rows[0])
	assert.Equal(t, "ContractRegistered", rows[1][4])
	assert.Equal(t, "c-1", rows[1][9])
}

// TestProgress draws a bar with a fake clock: throttled, with percentage, counts, rate
// and note; nothing at all when the output is not a terminal.
func TestProgress(t *testing.T) {
	assert.Nil(t, newProgress(&bytes.Buffer{}, "import", "bytes", 10), "quiet when not a terminal")
	var nilBar *progress
	nilBar.set(1, "x") // a nil bar is a no-op
	nilBar.done(1, "x")

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	p := newProgressTo(&b, "export", "events", 2000, func() time.Time { return now })
	now = now.Add(time.Second)
	p.set(1000, "note")
	assert.Equal(t, "\rexport   [############............]  50% 1,000/2,000 events  1,000/s  ETA 1s  note", b.String())
	b.Reset()
	now = now.Add(progressEvery / 2)
	p.set(1500, "")
	assert.Empty(t, b.String(), "redraws at most every progressEvery")
	p.done(2000, "")
	assert.True(t, strings.HasPrefix(b.String(), "\rexport   [########################] 100% 2,000/2,000 events"), b.String())
	assert.True(t, strings.HasSuffix(b.String(), "\n"))

	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		assert.Equal(t, want, group(n))
	}
}

// TestCLI_ImportBadLines imports the committed file of bad lines through the CLI: each
// rejected line is reported exactly as testdata/bad_commands.want (written by hand) says,
// the valid ones are applied, and the exit code is 1. Only "today" differs: the want file
// was written for the fixed clock of the commands tests.
func TestCLI_ImportBadLines(t *testing.T) {
	want, err := os.ReadFile("../../testdata/bad_commands.want")
	require.NoError(t, err)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"import", "--file-order", "--data", t.TempDir(), "../../testdata/bad_commands.ndjson"} /* one line names a position */, &out, &errb)
	assert.Equal(t, exitRejected, code, errb.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	wantLines := strings.Split(strings.TrimSpace(string(want)), "\n")
	require.Len(t, lines, len(wantLines)+1, "one line per rejection and the summary")
	today := regexp.MustCompile(`\(today is \d{4}-\d{2}-\d{2}\)`) // the CLI runs on the real clock
	for i := range wantLines {
		assert.Equal(t, today.ReplaceAllString(wantLines[i], "(today is …)"), today.ReplaceAllString(lines[i], "(today is …)"))
	}
	assert.Regexp(t, fmt.Sprintf(`^applied \d+, duplicates 0, rejected %d, last position \d+$`, len(wantLines)), lines[len(lines)-1])
}

// TestCLI_VerifyJSON: verify --format json gives GET /v1/verify's document, ok or the
// first bad record, with exit 0 or 1.
func TestCLI_VerifyJSON(t *testing.T) {
	ctx := context.Background()
	dir := importSample(t, 50)
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(ctx, []string{"verify", "--data", dir, "--format", "json"}, &out, &errb), errb.String())
	var ok struct {
		OK     bool `json:"ok"`
		Report struct {
			Records int `json:"records"`
			Head    int `json:"head"`
		} `json:"report"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &ok))
	assert.True(t, ok.OK)
	assert.GreaterOrEqual(t, ok.Report.Records, 50)
	assert.Equal(t, ok.Report.Records, ok.Report.Head)

	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	b, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	b[len(b)/2] ^= 0x20
	require.NoError(t, os.WriteFile(segs[0], b, 0o644))
	out.Reset()
	assert.Equal(t, exitRejected, run(ctx, []string{"verify", "--data", dir, "--format", "json"}, &out, &errb))
	var bad map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &bad), out.String())
	assert.Equal(t, false, bad["ok"])
	assert.NotZero(t, bad["position"])
	assert.NotEmpty(t, bad["reason"])
	assert.Equal(t, exitUsage, run(ctx, []string{"verify", "--data", dir, "--format", "xml"}, &out, &errb))
}

// TestCLI_HomeProvince: stats --by flow counts each live contract of the committed sample
// by where its parties are, relative to --home-province, as counted here from the command
// file itself; a snapshot folded for another home is not reused; a bad value is a usage
// error.
func TestCLI_HomeProvince(t *testing.T) {
	ctx := context.Background()
	dir := importSample(t, math.MaxInt)
	var out, errb bytes.Buffer
	raw, err := os.ReadFile("../../testdata/sample.ndjson")
	require.NoError(t, err)
	type party struct {
		Region string `json:"region"`
	}
	regions := map[string][2]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var c struct {
			Command    string `json:"command"`
			ContractID string `json:"contract_id"`
			Seller     party  `json:"seller"`
			Buyer      party  `json:"buyer"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &c))
		switch c.Command {
		case "register_contract":
			regions[c.ContractID] = [2]string{c.Seller.Region, c.Buyer.Region}
		case "revoke_contract":
			delete(regions, c.ContractID)
		}
	}
	for _, home := range []string{"14", "110000", "32"} {
		prefix := home[:2]
		want := map[string]int{}
		for _, r := range regions {
			in := [2]bool{strings.HasPrefix(r[0], prefix), strings.HasPrefix(r[1], prefix)}
			switch {
			case in[0] && in[1]:
				want["within"]++
			case in[0]:
				want["outflow"]++
			case in[1]:
				want["inflow"]++
			default:
				want["external"]++
			}
		}
		out.Reset()
		require.Equal(t, exitOK, run(ctx, []string{"stats", "--data", dir, "--by", "flow", "--home-province", home, "--format", "json"}, &out, &errb), errb.String())
		var rep struct {
			Rows []struct {
				Flow  string `json:"flow"`
				Count int    `json:"count"`
			} `json:"rows"`
		}
		require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
		got := map[string]int{}
		for _, r := range rep.Rows {
			got[r.Flow] = r.Count
		}
		assert.Equal(t, want, got, "home %s", home)
	}
	for _, verb := range []string{"stats", "rewards", "replay", "serve"} {
		errb.Reset()
		assert.Equal(t, exitUsage, run(ctx, []string{verb, "--data", dir, "--home-province", "99"}, &out, &errb), verb)
		assert.Contains(t, errb.String(), "home-province", verb)
	}
}
