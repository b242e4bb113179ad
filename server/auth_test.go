package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/memstore"
	"techledger/projections"
)

// Tokens of the role tests, one per role.
var roleTokens = map[string]string{
	string(RoleRegistrar):    "registrar-token-0123456789",
	string(RoleAuditor):      "auditor-token-0123456789ab",
	string(RoleStatistician): "statistician-token-0123456",
	string(RoleAdmin):        "admin-token-0123456789abcd",
}

// testBuffer is an unbounded bytes.Buffer safe for the server's goroutines.
type testBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *testBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *testBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newSecuredAPI serves the whole API (httpHandler: roles, metrics, request log) over a
// real filestore in a temporary directory, with a token per role.
func newSecuredAPI(t *testing.T) (*httptest.Server, *Server, *testBuffer) {
	t.Helper()
	var entries []tokenEntry
	for role, tok := range roleTokens {
		entries = append(entries, tokenEntry{Token: tok, Role: role, Name: role + " 张三"})
	}
	b, err := json.Marshal(entries)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "tokens.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	tokens, err := LoadTokens(path)
	require.NoError(t, err)

	s, err := filestore.Open(filepath.Join(t.TempDir(), "data"), filestore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	logs := &testBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	proj := projections.NewRunner(s, projections.RunnerOptions{Logger: logger})
	require.NoError(t, proj.Start(ctx))
	a := New(Config{Store: s, Commands: commands.NewHandler(s), Projections: proj, Logger: logger, Tokens: tokens})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv, a, logs
}

// do sends a request with an Authorization header (none when auth is "").
func do(t *testing.T, srv *httptest.Server, method, path, auth, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// TestAPI_RoutesByRole calls every route of the route table as every role, with no
// token and with an unknown one, over a real filestore, and checks the status against
// docs/architecture.md, Roles: registrar commands and reads, auditor reads everything, statistician the
// projections only, admin everything; missing or unknown token 401, wrong role 403.
func TestAPI_RoutesByRole(t *testing.T) {
	srv, a, _ := newSecuredAPI(t)
	resp, _ := do(t, srv, "POST", "/v1/commands", "Bearer "+roleTokens[string(RoleRegistrar)], register)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	caughtUp(t, a)
	a.tlog = signedTransparencyLog(t, a.store)

	payments := 0
	samples := map[string]func() (method, path, body string){
		"POST /v1/commands": func() (string, string, string) {
			payments++
			return "POST", "/v1/commands", fmt.Sprintf(`{"command":"record_payment","contract_id":"2023140101000123","payment_id":"P-%d","amount":"1.00","paid_on":"2023-06-30"}`, payments)
		},
		"GET /v1/contracts/{id}":         func() (string, string, string) { return "GET", "/v1/contracts/2023140101000123", "" },
		"GET /v1/contracts/{id}/history": func() (string, string, string) { return "GET", "/v1/contracts/2023140101000123/history", "" },
		"GET /v1/stats/contracts":        func() (string, string, string) { return "GET", "/v1/stats/contracts?by=year,type", "" },
		"GET /v1/rewards/researchers":    func() (string, string, string) { return "GET", "/v1/rewards/researchers?year=2023", "" },
		"GET /v1/rewards/flags":          func() (string, string, string) { return "GET", "/v1/rewards/flags", "" },
		"GET /v1/reports/annual":         func() (string, string, string) { return "GET", "/v1/reports/annual?year=2023", "" },
		"GET /v1/reports/period":         func() (string, string, string) { return "GET", "/v1/reports/period?from=2023-01-01&to=2023-03-31", "" },
		"GET /v1/reports/tax":            func() (string, string, string) { return "GET", "/v1/reports/tax?year=2023", "" },
		"GET /v1/events":                 func() (string, string, string) { return "GET", "/v1/events?from=1", "" },
		"GET /v1/verify":                 func() (string, string, string) { return "GET", "/v1/verify", "" },
		"GET /metrics":                   func() (string, string, string) { return "GET", "/metrics", "" },
		"GET /healthz":                   func() (string, string, string) { return "GET", "/healthz", "" },
		"GET /openapi.json":              func() (string, string, string) { return "GET", "/openapi.json", "" },
	}
	for route, path := range transparencySamples {
		samples[route] = func() (string, string, string) { return "GET", path, "" }
	}
	// want[route][caller]: the status each caller must get.
	want := map[string]map[string]int{}
	admit := func(route string, roles ...string) {
		want[route] = map[string]int{"none": 401, "unknown": 401, string(RoleRegistrar): 403, string(RoleAuditor): 403, string(RoleStatistician): 403, string(RoleAdmin): 200}
		for _, r := range roles {
			want[route][r] = 200
		}
	}
	admit("POST /v1/commands", string(RoleRegistrar))
	admit("GET /v1/contracts/{id}", string(RoleRegistrar), string(RoleAuditor))
	admit("GET /v1/contracts/{id}/history", string(RoleRegistrar), string(RoleAuditor))
	admit("GET /v1/stats/contracts", string(RoleRegistrar), string(RoleAuditor), string(RoleStatistician))
	admit("GET /v1/rewards/researchers", string(RoleRegistrar), string(RoleAuditor), string(RoleStatistician))
	admit("GET /v1/rewards/flags", string(RoleRegistrar), string(RoleAuditor), string(RoleStatistician))
	for _, r := range []string{"GET /v1/reports/annual", "GET /v1/reports/period", "GET /v1/reports/tax"} {
		admit(r, string(RoleRegistrar), string(RoleAuditor), string(RoleStatistician))
	}
	admit("GET /v1/events", string(RoleAuditor))
	admit("GET /v1/verify", string(RoleAuditor))
	admit("GET /metrics", string(RoleAuditor))
	for route := range transparencySamples {
		admit(route, string(RoleAuditor))
	}
	admit("GET /v1/contracts/{id}/bundle", string(RoleRegistrar), string(RoleAuditor))
	for _, open := range []string{"GET /healthz", "GET /openapi.json"} {
		want[open] = map[string]int{"none": 200, "unknown": 200, string(RoleRegistrar): 200, string(RoleAuditor): 200, string(RoleStatistician): 200, string(RoleAdmin): 200}
	}

	for _, rt := range a.Routes() {
		require.Contains(t, samples, rt.Pattern, "every route has a sample request in this test")
		require.Contains(t, want, rt.Pattern, "every route has expected statuses in this test")
	}
	require.Len(t, samples, len(a.Routes()), "no sample for a route that does not exist")

	callers := []string{"none", "unknown", string(RoleRegistrar), string(RoleAuditor), string(RoleStatistician), string(RoleAdmin)}
	for _, rt := range a.Routes() {
		for _, caller := range callers {
			t.Run(rt.Pattern+"/"+caller, func(t *testing.T) {
				auth := ""
				switch caller {
				case "none":
				case "unknown":
					auth = "Bearer not-a-known-token-at-all"
				default:
					auth = "Bearer " + roleTokens[caller]
				}
				method, path, body := samples[rt.Pattern]()
				resp, b := do(t, srv, method, path, auth, body)
				wantStatus := want[rt.Pattern][caller]
				if wantStatus == 200 && method == "POST" {
					wantStatus = http.StatusCreated
				}
				require.Equal(t, wantStatus, resp.StatusCode, "body: %s", b)
				switch wantStatus {
				case 401:
					assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
					assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
					assert.NotContains(t, string(b), "token-0123", "no token leaks")
				case 403:
					var p map[string]any
					require.NoError(t, json.Unmarshal(b, &p))
					assert.Equal(t, float64(403), p["status"])
					assert.Contains(t, p["detail"], caller)
				}
			})
		}
	}

	// Every appended event records the token's name and role.
	resp, b := do(t, srv, "GET", "/v1/contracts/2023140101000123/history", "Bearer "+roleTokens[string(RoleAuditor)], "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var h struct {
		Events []RecordView `json:"events"`
	}
	require.NoError(t, json.Unmarshal(b, &h))
	require.Len(t, h.Events, 1+2, "the registration and the payments of registrar and admin")
	for i, role := range []string{string(RoleRegistrar), string(RoleRegistrar), string(RoleAdmin)} {
		assert.Equal(t, role+" 张三", h.Events[i].Metadata.Actor, "event %d", i)
		assert.Equal(t, role, h.Events[i].Metadata.Role, "event %d", i)
	}
}

// TestAPI_Problems checks that requests no route takes, oversized bodies and queries get
// problem details naming what is wrong, and change nothing.
func TestAPI_Problems(t *testing.T) {
	srv, a, _ := newSecuredAPI(t)
	admin := "Bearer " + roleTokens[string(RoleAdmin)]
	tests := []struct {
		name, method, path, body string
		status                   int
		detail                   string
	}{
		{"unknown route", "GET", "/v1/nothing", "", 404, "no such route"},
		{"wrong method", "DELETE", "/v1/commands", "", 405, "takes POST"},
		{"body too large", "POST", "/v1/commands", `{"command":"revoke_contract","reason":"` + strings.Repeat("x", commandBodyMax) + `"}`, 413, "at most"},
		{"query too long", "GET", "/v1/stats/contracts?by=" + strings.Repeat("y", queryBytesMax), "", 400, "at most"},
		{"unknown parameter", "GET", "/v1/stats/contracts?bye=year", "", 400, `unknown parameter "bye"`},
		{"unknown dimension", "GET", "/v1/stats/contracts?by=colour", "", 400, "colour"},
		{"as_of past the head", "GET", "/v1/stats/contracts?as_of=99", "", 400, "past the head of the log (0)"},
		{"rewards year 0", "GET", "/v1/rewards/researchers?year=0", "", 400, "year"},
		{"events from 0", "GET", "/v1/events?from=0", "", 400, "from:"},
		{"events unknown parameter", "GET", "/v1/events?form=3", "", 400, `unknown parameter "form"`},
		{"events limit too large", "GET", "/v1/events?limit=10001", "", 400, "limit: must be 1..10000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := do(t, srv, tc.method, tc.path, admin, tc.body)
			require.Equal(t, tc.status, resp.StatusCode, "body: %s", b)
			assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			var p map[string]any
			require.NoError(t, json.Unmarshal(b, &p))
			assert.Equal(t, float64(tc.status), p["status"])
			assert.Contains(t, p["detail"], tc.detail)
		})
	}
	head, err := a.store.Head(context.Background())
	require.NoError(t, err)
	assert.Zero(t, head, "nothing was appended")
}

// TestAPI_MetricsAndLogs checks /metrics counts requests, commands, appended events and
// projection lag, and that every request writes one structured log line with the actor.
func TestAPI_MetricsAndLogs(t *testing.T) {
	srv, a, logs := newSecuredAPI(t)
	reg := "Bearer " + roleTokens[string(RoleRegistrar)]
	resp, _ := do(t, srv, "POST", "/v1/commands", reg, register)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp, _ = do(t, srv, "POST", "/v1/commands", reg, register)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = do(t, srv, "POST", "/v1/commands", reg, `{"command":"revoke_contract","contract_id":"2023140101000999","reason":"x"}`)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	caughtUp(t, a)

	resp, b := do(t, srv, "GET", "/metrics", "Bearer "+roleTokens[string(RoleAuditor)], "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain; version=0.0.4")
	m := parseMetrics(t, string(b))
	assert.Equal(t, 1.0, m[`techledger_commands_total{outcome="applied"}`])
	assert.Equal(t, 1.0, m[`techledger_commands_total{outcome="duplicate"}`])
	assert.Equal(t, 1.0, m[`techledger_commands_total{outcome="rejected"}`])
	assert.Equal(t, 1.0, m[`techledger_appended_events_total`])
	assert.Equal(t, 2.0, m[`techledger_command_duration_seconds_count`])
	assert.Equal(t, 2.0, m[`techledger_http_requests_total{route="POST /v1/commands",code="201"}`]+m[`techledger_http_requests_total{route="POST /v1/commands",code="200"}`])
	assert.Equal(t, 1.0, m[`techledger_http_requests_total{route="POST /v1/commands",code="404"}`])
	assert.Equal(t, 3.0, m[`techledger_http_request_duration_seconds_bucket{route="POST /v1/commands",le="+Inf"}`])
	assert.Equal(t, 1.0, m[`techledger_ledger_head_position`])
	assert.Equal(t, 1.0, m[`techledger_projection_position`])
	assert.Equal(t, 0.0, m[`techledger_projection_lag_events`])

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &e), "log line %q", l)
		if e["msg"] == "request" {
			lines = append(lines, e)
		}
	}
	require.Len(t, lines, 4, "one line per request")
	assert.Equal(t, "POST /v1/commands", lines[0]["route"])
	assert.Equal(t, float64(201), lines[0]["status"])
	assert.Equal(t, "registrar 张三", lines[0]["actor"])
	assert.Equal(t, string(RoleRegistrar), lines[0]["role"])
	assert.Equal(t, "GET /metrics", lines[3]["route"])
}

// parseMetrics reads the Prometheus text format: "name{labels} value" per sample, every
// line either a comment or a sample. A sample's key lists its labels in the order the
// server wrote them before it used the client library (route, code, outcome, then the
// rest as written, le last), which sorts label names instead: the order carries no meaning.
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$`)
	label := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
	first := map[string]int{"route": 1, "code": 2, "outcome": 3, "le": 5}
	out := map[string]float64{}
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(l, "# HELP ") || strings.HasPrefix(l, "# TYPE ") {
			continue
		}
		m := sample.FindStringSubmatch(l)
		require.NotNil(t, m, "not a sample line: %q", l)
		v, err := strconv.ParseFloat(m[3], 64)
		require.NoError(t, err, l)
		key := m[1]
		if m[2] != "" {
			labels := label.FindAllString(m[2], -1)
			rank := func(kv string) int {
				name, _, _ := strings.Cut(kv, "=")
				return cmp.Or(first[name], 4)
			}
			slices.SortStableFunc(labels, func(a, b string) int { return rank(a) - rank(b) })
			key += "{" + strings.Join(labels, ",") + "}"
		}
		out[key] = v
	}
	return out
}

// TestAPI_MetricsRuntime: /metrics also carries the Go runtime and process collectors
// operators expect, beside the server's own series.
func TestAPI_MetricsRuntime(t *testing.T) {
	srv, _, _ := newSecuredAPI(t)
	resp, b := do(t, srv, "GET", "/metrics", "Bearer "+roleTokens[string(RoleAuditor)], "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := parseMetrics(t, string(b))
	assert.Positive(t, m["go_goroutines"], "Go runtime collector")
	assert.Contains(t, m, "go_gc_duration_seconds_count")
	assert.Contains(t, m, "go_memstats_alloc_bytes")
	assert.Positive(t, m["process_resident_memory_bytes"], "process collector")
	assert.Positive(t, m["process_open_fds"])
	assert.Positive(t, m["process_start_time_seconds"])
	for _, o := range []string{"applied", "duplicate", "rejected", "failed"} {
		assert.Contains(t, m, `techledger_commands_total{outcome="`+o+`"}`, "every outcome is shown from the start")
	}
	assert.Contains(t, string(b), "# TYPE techledger_command_duration_seconds histogram")
}

func TestParseTokens(t *testing.T) {
	tests := []struct {
		name, json, err string
	}{
		{"ok", `[{"token":"abcdefghijklmnop","role":"auditor","name":"李四"}]`, ""},
		{"not a list", `{"token":"abcdefghijklmnop"}`, "JSON list"},
		{"empty", `[]`, "empty"},
		{"a second list after it", `[{"token":"abcdefghijklmnop","role":"auditor","name":"李四"}] [{"token":"qrstuvwxyzabcdef","role":"admin","name":"x"}]`, "found more after its closing ]"},
		{"a value after it", `[{"token":"abcdefghijklmnop","role":"auditor","name":"李四"}]0`, "found more after its closing ]"},
		{"space after it", "[{\"token\":\"abcdefghijklmnop\",\"role\":\"auditor\",\"name\":\"李四\"}]\n\t ", ""},
		{"unknown field", `[{"token":"abcdefghijklmnop","role":"auditor","name":"x","admin":true}]`, "unknown field"},
		{"short token", `[{"token":"short","role":"auditor","name":"x"}]`, "tokens[0].token: must be 16..256"},
		{"space in token", `[{"token":"abcdefgh ijklmnop","role":"auditor","name":"x"}]`, "tokens[0].token: must be printable"},
		{"unknown role", `[{"token":"abcdefghijklmnop","role":"root","name":"x"}]`, `tokens[0].role: "root" is not one of`},
		{"no name", `[{"token":"abcdefghijklmnop","role":"auditor","name":" "}]`, "tokens[0].name: required"},
		{"duplicate", `[{"token":"abcdefghijklmnop","role":"auditor","name":"x"},{"token":"abcdefghijklmnop","role":"admin","name":"y"}]`, "tokens[1].token: used by an earlier entry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := ParseTokens([]byte(tc.json))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			p, ok := ts.lookup("Bearer abcdefghijklmnop")
			assert.True(t, ok)
			assert.Equal(t, Principal{Name: "李四", Role: RoleAuditor}, p)
			_, ok = ts.lookup("Basic abcdefghijklmnop")
			assert.False(t, ok, "only bearer tokens")
			_, ok = ts.lookup("Bearer abcdefghijklmno")
			assert.False(t, ok)
		})
	}
}

func TestCheckListen(t *testing.T) {
	tests := []struct {
		addr   string
		tokens bool
		ok     bool
	}{
		{"127.0.0.1:8080", false, true},
		{"[::1]:8080", false, true},
		{"localhost:8080", false, true},
		{":8080", false, false},
		{"0.0.0.0:8080", false, false},
		{"192.168.1.5:8080", false, false},
		{":8080", true, true},
		{"0.0.0.0:8080", true, true},
		{"no-port", false, false},
	}
	for _, tc := range tests {
		err := CheckListen(tc.addr, tc.tokens)
		if tc.ok {
			assert.NoError(t, err, tc.addr)
		} else {
			assert.Error(t, err, tc.addr)
		}
	}
}

// failingStore is a store whose ReadAll fails after `after` records.
type failingStore struct {
	ledger.Store
	after int
}

func (f failingStore) ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		n := 0
		for rec, err := range f.Store.ReadAll(ctx, from) {
			if n == f.after {
				yield(ledger.Record{}, errors.New("disk on fire"))
				return
			}
			n++
			if !yield(rec, err) {
				return
			}
		}
	}
}

// TestAPI_EventsReadFailure: a log that cannot be read gives 500 before the first record
// (without internals) and, after it, a page that ends early with the Techledger-Error
// trailer.
func TestAPI_EventsReadFailure(t *testing.T) {
	s := memstore.New()
	h := commands.NewHandler(s)
	for i := range 3 {
		_, err := h.HandleJSON(context.Background(), []byte(registerN(i+1)), commands.Actor{Name: "t", Role: string(RoleRegistrar)})
		require.NoError(t, err)
	}
	for _, tc := range []struct {
		after   int
		status  int
		lines   int
		trailer bool
	}{{0, 500, 0, false}, {2, 200, 2, true}, {5, 200, 3, false}} {
		a := New(Config{Store: failingStore{s, tc.after}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		srv := httptest.NewServer(a.Handler())
		resp, err := http.Get(srv.URL + "/v1/events")
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		srv.Close()
		assert.Equal(t, tc.status, resp.StatusCode, "after %d", tc.after)
		assert.NotContains(t, string(b), "disk on fire", "no internals")
		if tc.status == 200 {
			assert.Len(t, strings.Split(strings.TrimSpace(string(b)), "\n"), tc.lines)
		}
		assert.Equal(t, tc.trailer, resp.Trailer.Get(eventsErrorTrailer) != "", "after %d: trailer %q", tc.after, resp.Trailer.Get(eventsErrorTrailer))
	}
}
