package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger/memstore"
	"techledger/projections"
	"techledger/server"
)

// TestConsole_PagesRender opens every page of the console as admin and checks it renders
// with the security headers.
func TestConsole_PagesRender(t *testing.T) {
	ts := newTestServer(t, true)
	ts.apply(t, exampleJSON)
	cl := ts.client(t, tokAdmin)
	for _, path := range []string{"/", "/contracts", "/contracts?party=" + url.QueryEscape("理工"), "/contracts/new", "/contracts/2023140101000123",
		"/contracts/2023140101000123?as_of=1", "/contracts/2023140101000123/amend", "/contracts/2023140101000123/revoke",
		"/contracts/2023140101000123/rights", "/contracts/2023140101000123/payments", "/log", "/verify", "/verify?run=1", "/static/app.css", "/static/app.js"} {
		resp, err := cl.Get(ts.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, CSP, resp.Header.Get("Content-Security-Policy"), path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), path)
	}
	code, body := get(t, cl, ts.URL+"/contracts/2099140101000123")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, "未登记")
	assert.False(t, strings.Contains(body, "<script>"), "no inline script")
}

// TestConsole_SignInSession checks the session cookie's attributes, that a bad token is
// refused next to its field, that pages need a session, and that sign-out ends it.
func TestConsole_SignInSession(t *testing.T) {
	ts := newTestServer(t, true)
	cl := ts.client(t, "")
	resp, err := cl.Get(ts.URL + "/contracts")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/login?next=%2Fcontracts", resp.Header.Get("Location"))

	resp, err = cl.PostForm(ts.URL+"/login", url.Values{"token": {"wrong-token-wrong-token"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp, err = cl.PostForm(ts.URL+"/login", url.Values{"token": {tokRegistrar}, "next": {"//evil.example/x"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"), "no redirect off the site")
	cookie := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"techledger-session=", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"} {
		assert.Contains(t, cookie, attr)
	}
	assert.NotContains(t, cookie, "Secure", "plain HTTP")

	code, page := get(t, cl, ts.URL+"/contracts")
	require.Equal(t, http.StatusOK, code)
	csrf := csrfOf(t, page)
	resp, err = cl.PostForm(ts.URL+"/logout", url.Values{"csrf": {csrf}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	code, _ = get(t, cl, ts.URL+"/contracts")
	assert.Equal(t, http.StatusSeeOther, code, "signed out")
}

// TestConsole_TLSCookie: under TLS the cookie is Secure and __Host- prefixed.
func TestConsole_TLSCookie(t *testing.T) {
	c, err := New(Config{Log: memstoreNew(), Commands: nopCommands{}, Search: nopSearch{}, TLS: true,
		Authenticate: func(tok string) (Principal, bool) { p, ok := testTokens[tok]; return p, ok }})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(c)
	defer srv.Close()
	cl := srv.Client()
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := cl.PostForm(srv.URL+"/login", url.Values{"token": {tokAuditor}})
	require.NoError(t, err)
	resp.Body.Close()
	cookie := resp.Header.Get("Set-Cookie")
	assert.True(t, strings.HasPrefix(cookie, "__Host-techledger-session="), cookie)
	assert.Contains(t, cookie, "Secure")
}

// TestConsole_FormPostsNeedCSRFAndOrigin: a post without the form's CSRF token, with
// another session's token, or from another origin (Origin checked against Host when the
// browser sends no Sec-Fetch-Site, as over plain HTTP) is refused and appends nothing.
func TestConsole_FormPostsNeedCSRFAndOrigin(t *testing.T) {
	ts := newTestServer(t, true)
	cl := ts.client(t, tokRegistrar)
	_, page := get(t, cl, ts.URL+"/contracts/new")
	csrf := csrfOf(t, page)
	other := csrfOf(t, func() string { _, p := get(t, ts.client(t, tokRegistrar), ts.URL+"/contracts/new"); return p }())
	require.NotEqual(t, csrf, other)
	form := url.Values{"contract_id": {"2023140101000123"}, "title": {"x"}}
	post := func(token, origin string) int {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		if token != "" {
			f.Set("csrf", token)
		}
		req, err := http.NewRequest("POST", ts.URL+"/contracts/new", strings.NewReader(f.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := cl.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusForbidden, post("", ""), "no token")
	assert.Equal(t, http.StatusForbidden, post(other, ""), "another session's token")
	assert.Equal(t, http.StatusForbidden, post(csrf, "http://evil.example"), "another origin")
	assert.Equal(t, http.StatusUnprocessableEntity, post(csrf, ts.URL), "same origin, right token: the form is checked")
	assert.Zero(t, ts.head(t))
}

// TestConsole_LocalMode: without tokens every page acts as admin "local" and says so.
func TestConsole_LocalMode(t *testing.T) {
	ts := newTestServer(t, false)
	cl := ts.client(t, "")
	for _, path := range []string{"/", "/contracts", "/contracts/new", "/log", "/verify"} {
		code, body := get(t, cl, ts.URL+path)
		assert.Equal(t, http.StatusOK, code, path)
		assert.Contains(t, body, `id="local-banner"`, path)
		assert.Contains(t, body, "local", path)
	}
}

// TestConsole_RoleMatrix checks every route for every role against the matrix of
// docs/console.md: 200 where admitted, 403 where not.
func TestConsole_RoleMatrix(t *testing.T) {
	ts := newTestServer(t, true)
	ts.apply(t, exampleJSON)
	const id = "/contracts/2023140101000123"
	matrix := map[string][]server.Role{
		"/contracts": {server.RoleRegistrar, server.RoleAuditor}, id: {server.RoleRegistrar, server.RoleAuditor},
		"/contracts/new": {server.RoleRegistrar}, id + "/amend": {server.RoleRegistrar}, id + "/revoke": {server.RoleRegistrar},
		id + "/rights": {server.RoleRegistrar}, id + "/payments": {server.RoleRegistrar},
		"/log": {server.RoleAuditor}, "/verify": {server.RoleAuditor},
	}
	for tok, who := range testTokens {
		cl := ts.client(t, tok)
		for path, roles := range matrix {
			want := http.StatusForbidden
			if who.Role == server.RoleAdmin || slices.Contains(roles, who.Role) {
				want = http.StatusOK
			}
			code, _ := get(t, cl, ts.URL+path)
			assert.Equal(t, want, code, "%s %s", who.Role, path)
		}
	}
}

func memstoreNew() *memstore.Store { return memstore.New() }

type nopCommands struct{}

func (nopCommands) Handle(context.Context, commands.Command, commands.Actor) (commands.Outcome, error) {
	return commands.Outcome{}, nil
}

type nopSearch struct{}

func (nopSearch) Find(projections.SearchQuery) (projections.SearchResult, error) {
	return projections.SearchResult{}, nil
}

// postForm posts a form of page (its CSRF token) and returns the status, Location and body.
func postForm(t *testing.T, cl *http.Client, base, path string, f url.Values) (int, string, string) {
	t.Helper()
	_, page := get(t, cl, base+path)
	f.Set("csrf", csrfOf(t, page))
	resp, err := cl.PostForm(base+path, f)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// TestConsole_RightsAndPaymentForms: holder rows map to holders (blank rows skipped, errors
// shown on the row they came from), and a payment is recorded against the unpaid amount.
func TestConsole_RightsAndPaymentForms(t *testing.T) {
	ts := newTestServer(t, true)
	ts.apply(t, exampleJSON)
	cl := ts.client(t, tokRegistrar)
	const id = "/contracts/2023140101000123"
	rows := url.Values{"command_id": {"r-1"}, "right": {"proceeds"}, "effective_on": {"2023-03-15"},
		"holders[0].id": {"12140000405000025X"}, "holders[0].name": {"太原理工大学"}, "holders[0].kind": {"institution"}, "holders[0].share": {"0.3"},
		"holders[2].id": {"R-001"}, "holders[2].name": {"张三"}, "holders[2].kind": {"researcher"}, "holders[2].share": {"0.75"}}
	code, _, body := postForm(t, cl, ts.URL, id+"/rights", rows)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `data-error-for="holders[2].institution"`)
	assert.Contains(t, body, "shares sum to 1.05")
	assert.Contains(t, body, `value="张三"`, "typed values kept")
	rows.Set("holders[2].institution", "太原理工大学")
	rows.Set("holders[2].share", "0.7")
	code, loc, _ := postForm(t, cl, ts.URL, id+"/rights", rows)
	assert.Equal(t, http.StatusSeeOther, code)
	assert.Contains(t, loc, "done=applied")

	_, page := get(t, cl, ts.URL+id+"/payments")
	assert.Contains(t, page, "未到款 1200000.00 元")
	code, loc, _ = postForm(t, cl, ts.URL, id+"/payments", url.Values{"command_id": {"p-1"}, "payment_id": {"P-1"}, "amount": {"600000.00"}, "costs": {"50000.00"}, "paid_on": {"2023-06-30"}})
	assert.Equal(t, http.StatusSeeOther, code, loc)
	_, page = get(t, cl, ts.URL+id)
	assert.Contains(t, page, "165000.00", "30 % of the net 550000.00 to the institution")
	assert.Contains(t, page, "385000.00")
	_, page = get(t, cl, ts.URL+id+"/payments")
	assert.Contains(t, page, "未到款 600000.00 元")

	code, _, body = postForm(t, cl, ts.URL, id+"/revoke", url.Values{"command_id": {"v-1"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `data-error-for="reason"`)
	code, _, _ = postForm(t, cl, ts.URL, id+"/revoke", url.Values{"command_id": {"v-1"}, "reason": {"重复登记"}})
	assert.Equal(t, http.StatusSeeOther, code)
	_, page = get(t, cl, ts.URL+id)
	assert.Contains(t, page, "已撤销")
	assert.NotContains(t, page, id+"/amend", "a revoked contract offers no changes")
}
