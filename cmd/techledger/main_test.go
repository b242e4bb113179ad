package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/memstore"
	"techledger/projections"
)

const register = `{"command":"register_contract","command_id":"c-1","contract_id":"2023140101000123","title":"煤矸石综合利用技术转让","type":"transfer","subtype":"patent_right","signed_on":"2023-03-01","registered_on":"2023-03-15","amount":"1200000.00","tech_amount":"1000000.00","field":"environment","seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},"buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"intermediary":null,"achievement_id":"ACH-2022-0042","ip_types":["patent"]}`

func newAPI(t *testing.T) *httptest.Server {
	srv, _ := newAPIWith(t)
	return srv
}

func newAPIWith(t *testing.T) (*httptest.Server, *api) {
	s := memstore.New()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	proj := projections.NewRunner(s, projections.RunnerOptions{Logger: logger})
	require.NoError(t, proj.Start(ctx))
	a := &api{store: s, handler: commands.NewHandler(s), proj: proj, log: logger}
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	return srv, a
}

// caughtUp waits until the projections have folded the whole log.
func caughtUp(t *testing.T, a *api) {
	t.Helper()
	require.Eventually(t, func() bool {
		lag, err := a.proj.Lag(context.Background())
		return err == nil && lag == 0
	}, 5*time.Second, time.Millisecond)
}

func post(t *testing.T, srv *httptest.Server, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(srv.URL+"/v1/commands", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

func TestAPI_Commands(t *testing.T) {
	srv := newAPI(t)
	code, body := post(t, srv, register)
	assert.Equal(t, http.StatusCreated, code)
	assert.Equal(t, "applied", body["status"])
	assert.Equal(t, []any{float64(1)}, body["positions"])

	code, body = post(t, srv, register)
	assert.Equal(t, http.StatusOK, code, "a repeated command_id is a duplicate")
	assert.Equal(t, "duplicate", body["status"])
	assert.Equal(t, []any{float64(1)}, body["positions"])

	tests := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"malformed JSON", `{"command":`, http.StatusBadRequest, ""},
		{"unknown field", `{"command":"revoke_contract","contract_id":"2023140101000123","reasn":"x"}`, http.StatusBadRequest, "reasn"},
		{"rule broken", `{"command":"record_payment","contract_id":"2023140101000123","payment_id":"P-1","amount":"1.001","paid_on":"2023-06-30"}`, http.StatusUnprocessableEntity, "amount"},
		{"unregistered contract", `{"command":"revoke_contract","contract_id":"2023140101000999","reason":"x"}`, http.StatusNotFound, "contract_id"},
		{"command_id reused", strings.Replace(register, `"amount":"1200000.00"`, `"amount":"1300000.00"`, 1), http.StatusConflict, "command_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, srv, tc.body)
			assert.Equal(t, tc.status, code)
			assert.Equal(t, float64(tc.status), body["status"], "problem details carry the status")
			assert.Equal(t, tc.field, body["field"])
			assert.NotEmpty(t, body["detail"])
			assert.NotEmpty(t, body["title"])
		})
	}
	resp, err := http.Post(srv.URL+"/v1/commands", "application/json", strings.NewReader(`{"command":"x"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
}

func TestAPI_Reads(t *testing.T) {
	srv := newAPI(t)
	post(t, srv, register)
	post(t, srv, `{"command":"record_payment","command_id":"c-2","contract_id":"2023140101000123","payment_id":"P-1","amount":"600000.00","costs":"50000.00","paid_on":"2023-06-30"}`)

	code, _, b := get(t, srv, "/v1/contracts/2023140101000123")
	require.Equal(t, http.StatusOK, code)
	var c map[string]any
	require.NoError(t, json.Unmarshal(b, &c))
	assert.Equal(t, "600000.00", c["paid"])
	assert.Equal(t, "1200000.00", c["amount"])

	code, _, _ = get(t, srv, "/v1/contracts/2023140101000999")
	assert.Equal(t, http.StatusNotFound, code)

	code, _, b = get(t, srv, "/v1/contracts/2023140101000123/history")
	require.Equal(t, http.StatusOK, code)
	var h struct {
		Events []recordView `json:"events"`
	}
	require.NoError(t, json.Unmarshal(b, &h))
	require.Len(t, h.Events, 2)
	assert.Equal(t, "PaymentRecorded", h.Events[1].Type)
	assert.Equal(t, h.Events[0].Hash, h.Events[1].PrevHash)

	code, ct, b := get(t, srv, "/v1/events?from=2")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "application/x-ndjson", ct)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `"position":2`)
	code, _, _ = get(t, srv, "/v1/events?from=abc")
	assert.Equal(t, http.StatusBadRequest, code)

	code, _, b = get(t, srv, "/v1/verify")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(b), `"ok":true`)
	code, _, _ = get(t, srv, "/healthz")
	assert.Equal(t, http.StatusOK, code)
}

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
	var hist []recordView
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

// TestAPI_Projections: statistics and rewards over HTTP, live and as of a past position,
// with values worked out by hand from the commands posted.
func TestAPI_Projections(t *testing.T) {
	srv, a := newAPIWith(t)
	post(t, srv, register)
	post(t, srv, `{"command":"assign_rights","command_id":"c-2","contract_id":"2023140101000123","right":"proceeds","effective_on":"2023-03-15","holders":[{"id":"12140000405000025X","name":"太原理工大学","kind":"institution","share":"0.30"},{"id":"R-001","name":"张三","kind":"researcher","institution":"太原理工大学","share":"0.49"},{"id":"R-002","name":"李四","kind":"researcher","institution":"太原理工大学","share":"0.21"}]}`)
	post(t, srv, `{"command":"record_payment","command_id":"c-3","contract_id":"2023140101000123","payment_id":"P-1","amount":"600000.00","costs":"50000.00","paid_on":"2023-06-30"}`)
	caughtUp(t, a)

	code, _, b := get(t, srv, "/v1/stats/contracts?by=type,flow")
	require.Equal(t, http.StatusOK, code, string(b))
	assert.JSONEq(t, `{"as_of":3,"rows":[{"type":"transfer","flow":"within","count":1,"amount":"1200000.00","tech_amount":"1000000.00","paid":"600000.00"}]}`, string(b))
	code, _, b = get(t, srv, "/v1/stats/contracts?as_of=1")
	require.Equal(t, http.StatusOK, code, string(b))
	assert.JSONEq(t, `{"as_of":1,"rows":[{"count":1,"amount":"1200000.00","tech_amount":"1000000.00","paid":"0.00"}]}`, string(b))
	code, _, b = get(t, srv, "/v1/stats/contracts?by=year&from=2024-01-01")
	require.Equal(t, http.StatusOK, code, string(b))
	assert.JSONEq(t, `{"as_of":3,"rows":[]}`, string(b))

	// net 550000.00: 0.49 -> 269500.00, 0.21 -> 115500.00 (the institution's 0.30 is not a researcher's)
	code, _, b = get(t, srv, "/v1/rewards/researchers?year=2023")
	require.Equal(t, http.StatusOK, code, string(b))
	assert.JSONEq(t, `{"as_of":3,"rows":[
		{"researcher_id":"R-001","name":"张三","institution":"太原理工大学","amount":"269500.00","contracts":1,"payments":1},
		{"researcher_id":"R-002","name":"李四","institution":"太原理工大学","amount":"115500.00","contracts":1,"payments":1}]}`, string(b))
	code, _, b = get(t, srv, "/v1/rewards/researchers?year=2022")
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"as_of":3,"rows":[]}`, string(b))
	code, _, b = get(t, srv, "/v1/rewards/flags")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(b), `"flags":[]`, "0.70 to researchers meets both levels")

	for _, bad := range []struct{ path, field string }{
		{"/v1/stats/contracts?by=colour", "by"},
		{"/v1/stats/contracts?by=year,year", "by"},
		{"/v1/stats/contracts?from=2023-02-30", "from"},
		{"/v1/stats/contracts?from=2023-05-01&to=2023-01-01", "from"},
		{"/v1/stats/contracts?as_of=yesterday", "as_of"},
		{"/v1/stats/contracts?groupby=year", "groupby"},
		{"/v1/rewards/researchers?year=twenty", "year"},
	} {
		code, ct, b := get(t, srv, bad.path)
		assert.Equal(t, http.StatusBadRequest, code, bad.path)
		assert.Equal(t, "application/problem+json", ct, bad.path)
		var p map[string]any
		require.NoError(t, json.Unmarshal(b, &p))
		assert.Equal(t, bad.field, p["field"], bad.path)
	}
	code, _, _ = get(t, srv, "/v1/stats/contracts?as_of=99")
	assert.Equal(t, http.StatusBadRequest, code, "a position past the head is a bad query, not a failure")
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
