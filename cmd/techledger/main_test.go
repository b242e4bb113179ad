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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger/memstore"
)

const register = `{"command":"register_contract","command_id":"c-1","contract_id":"2023140101000123","title":"煤矸石综合利用技术转让","type":"transfer","subtype":"patent_right","signed_on":"2023-03-01","registered_on":"2023-03-15","amount":"1200000.00","tech_amount":"1000000.00","field":"environment","seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},"buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"intermediary":null,"achievement_id":"ACH-2022-0042","ip_types":["patent"]}`

func newAPI(t *testing.T) *httptest.Server {
	s := memstore.New()
	a := &api{store: s, handler: commands.NewHandler(s), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	return srv
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
