package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/memstore"
	"techledger/projections"
	"techledger/server"
)

// Tokens of the test servers, one per role.
const (
	tokRegistrar    = "registrar-token-0001"
	tokAuditor      = "auditor-token-000001"
	tokStatistician = "statistician-token-01"
	tokAdmin        = "admin-token-00000001"
)

var testTokens = map[string]Principal{
	tokRegistrar:    {Name: "王登记", Role: server.RoleRegistrar},
	tokAuditor:      {Name: "李审计", Role: server.RoleAuditor},
	tokStatistician: {Name: "赵统计", Role: server.RoleStatistician},
	tokAdmin:        {Name: "管理员", Role: server.RoleAdmin},
}

// testServer is the console over a memstore, with the API's command handler and a search
// runner following the log, served by httptest.
type testServer struct {
	*httptest.Server
	store   *memstore.Store
	handler *commands.Handler
	search  *projections.SearchRunner
	console *Console
}

// newTestServer starts a console; with signIn false it runs without tokens (as admin
// "local"). Pages adds pages as another part of the server would.
func newTestServer(t testing.TB, signIn bool, pages ...Page) *testServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	store := memstore.New()
	quiet := slog.New(slog.DiscardHandler)
	search := projections.NewSearchRunner(store, projections.SearchRunnerOptions{Logger: quiet})
	require.NoError(t, search.Start(ctx))
	h := commands.NewHandler(store)
	h.Now = func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }
	cfg := Config{Log: store, Commands: h, Search: search, Pages: pages, Logger: slog.New(slog.NewTextHandler(tLog{t}, nil)),
		Now: func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }}
	if signIn {
		cfg.Authenticate = func(tok string) (Principal, bool) { p, ok := testTokens[tok]; return p, ok }
	}
	c, err := New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, store: store, handler: h, search: search, console: c}
}

// head returns the position of the last record in the log.
func (ts *testServer) head(t testing.TB) ledger.Position {
	t.Helper()
	h, err := ts.store.Head(context.Background())
	require.NoError(t, err)
	return h
}

// apply applies commands through the handler, as the API would.
func (ts *testServer) apply(t testing.TB, jsons ...string) {
	t.Helper()
	for _, js := range jsons {
		_, err := ts.handler.HandleJSON(context.Background(), []byte(js), commands.Actor{Name: "导入", Role: string(server.RoleRegistrar)})
		require.NoError(t, err, js)
	}
}

// client returns an HTTP client with a cookie jar, signed in with token ("" : not).
func (ts *testServer) client(t testing.TB, token string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if token != "" {
		resp, err := cl.PostForm(ts.URL+"/login", url.Values{"token": {token}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	}
	return cl
}

// get returns the status and body of a GET.
func get(t testing.TB, cl *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := cl.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// csrfOf returns the CSRF token in a page.
func csrfOf(t testing.TB, page string) string {
	t.Helper()
	const key = `name="csrf" value="`
	i := strings.Index(page, key)
	require.GreaterOrEqual(t, i, 0, "no CSRF token in the page")
	rest := page[i+len(key):]
	return rest[:strings.IndexByte(rest, '"')]
}

// The worked example of docs/domain.md (Commands) contract, as a register_contract command.
const exampleJSON = `{"command":"register_contract","command_id":"c-0001","contract_id":"2023140101000123",
 "title":"煤矸石综合利用技术转让","type":"transfer","subtype":"patent_right",
 "signed_on":"2023-03-01","registered_on":"2023-03-15",
 "amount":"1200000.00","tech_amount":"1000000.00","field":"environment",
 "seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},
 "buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},
 "intermediary":null,"achievement_id":"ACH-2022-0042","ip_types":["patent"]}`

// tLog writes a server's log to the test's log.
type tLog struct{ t testing.TB }

func (w tLog) Write(b []byte) (int, error) { w.t.Log(strings.TrimSpace(string(b))); return len(b), nil }

// A proceeds assignment of the worked example of docs/domain.md (Commands).
const proceedsJSON = `{"command":"assign_rights","command_id":"c-0002","contract_id":"2023140101000123","right":"proceeds",
 "effective_on":"2023-03-15","holders":[
  {"id":"12140000405000025X","name":"太原理工大学","kind":"institution","share":"0.30"},
  {"id":"R-001","name":"张三","kind":"researcher","institution":"太原理工大学","share":"0.49"},
  {"id":"R-002","name":"李四","kind":"researcher","institution":"太原理工大学","share":"0.21"}]}`
