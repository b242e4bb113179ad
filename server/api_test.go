package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger/memstore"
	"techledger/projections"
)

const register = `{"command":"register_contract","command_id":"c-1","contract_id":"2023140101000123","title":"煤矸石综合利用技术转让","type":"transfer","subtype":"patent_right","signed_on":"2023-03-01","registered_on":"2023-03-15","amount":"1200000.00","tech_amount":"1000000.00","field":"environment","seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},"buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"intermediary":null,"achievement_id":"ACH-2022-0042","ip_types":["patent"]}`

func newAPI(t *testing.T) *httptest.Server {
	srv, _ := newAPIWith(t)
	return srv
}

func newAPIWith(t *testing.T) (*httptest.Server, *Server) {
	s := memstore.New()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	proj := projections.NewRunner(s, projections.RunnerOptions{Logger: logger})
	require.NoError(t, proj.Start(ctx))
	a := New(Config{Store: s, Commands: commands.NewHandler(s), Projections: proj, Logger: logger})
	srv := httptest.NewServer(a.mux())
	t.Cleanup(srv.Close)
	return srv, a
}

// caughtUp waits until the projections have folded the whole log.
func caughtUp(t *testing.T, a *Server) {
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
		Events []RecordView `json:"events"`
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

// registerN is a valid registration of contract n (a distinct registration number).
func registerN(n int) string {
	return strings.NewReplacer(`"c-1"`, fmt.Sprintf(`"stop-%d"`, n), "2023140101000123", fmt.Sprintf("2023140101%06d", n)).Replace(register)
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

// TestServeUntil_InFlightNotCancelled holds a request in its handler while the server is
// told to stop: the request's context stays alive, it completes with its answer, new
// connections are refused, and serveUntil returns nil; a request that outlasts the
// grace period is cancelled and reported.
func TestServeUntil_InFlightNotCancelled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		grace   time.Duration
		release time.Duration // when the handler finishes
		wantErr bool
	}{
		{"finishes within grace", 5 * time.Second, 100 * time.Millisecond, false},
		{"outlasts grace", 50 * time.Millisecond, 5 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entered := make(chan struct{})
			ctxErr := make(chan error, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				select {
				case <-time.After(tc.release):
				case <-r.Context().Done():
				}
				ctxErr <- r.Context().Err()
				w.WriteHeader(http.StatusCreated)
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Serve(ctx, ln, h, slog.New(slog.NewTextHandler(io.Discard, nil)), tc.grace) }()
			respc := make(chan int, 1)
			go func() {
				resp, err := http.Post("http://"+ln.Addr().String()+"/", "text/plain", nil)
				if err != nil {
					respc <- 0
					return
				}
				resp.Body.Close()
				respc <- resp.StatusCode
			}()
			<-entered
			stop()
			err = <-done
			if tc.wantErr {
				require.Error(t, err)
				assert.ErrorIs(t, <-ctxErr, context.Canceled, "the straggler is cancelled")
				return
			}
			require.NoError(t, err)
			assert.NoError(t, <-ctxErr, "the stop signal does not cancel a request in flight")
			assert.Equal(t, http.StatusCreated, <-respc)
			_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
			assert.Error(t, err, "no new connections after the stop")
		})
	}
}
