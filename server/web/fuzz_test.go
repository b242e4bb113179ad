package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger/memstore"
	"techledger/projections"
	"techledger/reports"
)

// consoleRoutes are the GET routes FuzzConsoleQuery picks from (every GET page of the
// console with Figures and Proofs set); "{id}" is replaced by the input's path value.
var consoleRoutes = []string{
	"/",
	"/login",
	"/contracts",
	"/contracts/new",
	"/contracts/{id}",
	"/contracts/{id}/amend",
	"/contracts/{id}/revoke",
	"/contracts/{id}/rights",
	"/contracts/{id}/payments",
	"/contracts/{id}/certificate",
	"/log",
	"/verify",
	"/stats",
	"/stats/report.xlsx",
	"/stats/report.csv",
}

// fuzzConsole is the whole console (dashboard and certificates included) over a memstore
// holding the worked example, amended and with its proceeds assigned, signed in as admin
// (a role that may open every page). Requests go straight to its ServeHTTP.
type fuzzConsole struct {
	console *Console
	cookie  string // the session's cookie, "name=value"
	log     *lockedBuffer
}

func newFuzzConsole(tb testing.TB) *fuzzConsole {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store := memstore.New()
	h := commands.NewHandler(store)
	h.Now = func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }
	(&testServer{store: store, handler: h}).apply(tb, exampleJSON, amendJSON, proceedsJSON)

	quiet := slog.New(slog.DiscardHandler)
	search := projections.NewSearchRunner(store, projections.SearchRunnerOptions{Logger: quiet})
	require.NoError(tb, search.Start(ctx))
	proj := projections.NewRunner(store, projections.RunnerOptions{Logger: quiet})
	require.NoError(tb, proj.Start(ctx))
	tb.Cleanup(cancel)
	tl, vkey := runTestLog(tb, store)
	(&proofServer{store: store, log: tl}).signed(tb)

	fc := &fuzzConsole{log: &lockedBuffer{}}
	tokens := testTokensFile(tb)
	var err error
	fc.console, err = New(Config{Log: store, Commands: h, Search: search,
		Figures: &Figures{Projections: proj, Reports: &reports.Cache{}}, Proofs: &Proofs{Log: tl, VerifierKey: vkey},
		Authenticate: tokens.Lookup, Logger: slog.New(slog.NewTextHandler(fc.log, nil)),
		Now: func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }})
	require.NoError(tb, err)

	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"token": {tokAdmin}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	fc.console.ServeHTTP(rec, req)
	require.Equal(tb, http.StatusSeeOther, rec.Code)
	cks := rec.Result().Cookies()
	require.Len(tb, cks, 1)
	fc.cookie = cks[0].Name + "=" + cks[0].Value
	return fc
}

// get serves a GET of route (with "{id}" replaced by id, escaped as a browser would) and
// the raw query, as the signed-in admin.
func (fc *fuzzConsole) get(route, id, rawQuery string) *httptest.ResponseRecorder {
	u := &url.URL{
		Path:     strings.ReplaceAll(route, "{id}", id),
		RawPath:  strings.ReplaceAll(route, "{id}", url.PathEscape(id)),
		RawQuery: rawQuery,
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.URL = u
	req.RequestURI = u.RequestURI()
	req.Header.Set("Cookie", fc.cookie)
	rec := httptest.NewRecorder()
	fc.console.ServeHTTP(rec, req)
	return rec
}

// lockedBuffer is the console's log: the handlers of one request write it while the
// transparency log's goroutine runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// invalidField matches a field the page marks at fault, and errorMessage the error page's
// message: a 4xx must show at least one of them, so the reader learns what to change.
var (
	invalidField = regexp.MustCompile(`aria-invalid="true" aria-describedby="e-([^"]+)"`)
	errorMessage = regexp.MustCompile(`<p class="alert" id="error-message">([^<]+)</p>`)
)

// FuzzConsoleQuery sends a GET of a console route (the input's index modulo the routes),
// with a raw query string and a path value for {id}, through the whole console signed in
// as admin. It checks that no query makes the console panic or answer 500; that it
// answers 200, a redirect to a path of its own, or a 4xx; that every 4xx is an HTML page
// that says what is wrong (a field marked at fault with its rule, or the error page with
// a message, which for a refused download names the parameter); and that a 200 is an HTML
// page, or the workbook or CSV of a download route.
func FuzzConsoleQuery(f *testing.F) {
	const id = "2023140101000123"
	seeds := []struct {
		route   string
		id, raw string
	}{
		{"/", "", ""},
		{"/", "", "x=%zz"},
		{"/login", "", "next=%2Fcontracts%3Fpage%3D2"},
		{"/login", "", "next=https%3A%2F%2Fevil.example%2F"},
		{"/login", "", "next=//evil.example"},
		{"/contracts", "", ""},
		{"/contracts", "", "number=2023&party=%E5%A4%AA%E5%8E%9F&type=transfer&status=registered&from=2023-01-01&to=2023-12-31&page=1"},
		{"/contracts", "", "type=nonsense&status=lost"},
		{"/contracts", "", "from=2023-02-30&to=yesterday"},
		{"/contracts", "", "from=2024-01-01&to=2023-01-01"},
		{"/contracts", "", "page=-5"},
		{"/contracts", "", "page=0"},
		{"/contracts", "", "page=99999999999999999999999"},
		{"/contracts", "", "page=461168601842738791"},
		{"/contracts", "", "page=9223372036854775807"},
		{"/contracts", "", "page=1000000"},
		{"/contracts", "", "q=%FF%FE&party=%C3%28&number=%00"},
		{"/contracts", "", "status=registered&status=revoked&type=transfer&type=license"},
		{"/contracts", "", "party=" + strings.Repeat("%E5%A4%AA", 300)},
		{"/contracts", "", "from=%20%202023-03-15%20&to=2023-03-15"},
		{"/contracts", "", "%;&&=&page"},
		{"/contracts/new", "", "type=transfer"},
		{"/contracts/{id}", id, ""},
		{"/contracts/{id}", id, "as_of=1"},
		{"/contracts/{id}", id, "as_of=2&at=2023-03-16"},
		{"/contracts/{id}", id, "as_of=0"},
		{"/contracts/{id}", id, "as_of=-1"},
		{"/contracts/{id}", id, "as_of=18446744073709551616"},
		{"/contracts/{id}", id, "as_of=18446744073709551615"},
		{"/contracts/{id}", id, "at=2023-03-15T10:00"},
		{"/contracts/{id}", id, "at=2023-03-15T10:00:00%2B08:00"},
		{"/contracts/{id}", id, "at=0001-01-01"},
		{"/contracts/{id}", id, "at=9999-12-31T23:59:59Z"},
		{"/contracts/{id}", id, "at=2023-13-45"},
		{"/contracts/{id}", id, "done=applied&cmd=amend_contract"},
		{"/contracts/{id}", id, "done=%3Cscript%3E&cmd=%FF"},
		{"/contracts/{id}", "9999999999999999", ""},
		{"/contracts/{id}", "../log", ""},
		{"/contracts/{id}", "a/b", "as_of=1"},
		{"/contracts/{id}", "\xff\xfe", ""},
		{"/contracts/{id}/amend", id, ""},
		{"/contracts/{id}/revoke", id, "x=1"},
		{"/contracts/{id}/rights", id, ""},
		{"/contracts/{id}/payments", id, "amount=abc"},
		{"/contracts/{id}/payments", "nope", ""},
		{"/contracts/{id}/certificate", id, ""},
		{"/contracts/{id}/certificate", "9999999999999999", ""},
		{"/contracts/{id}/certificate", "%", "as_of=1"},
		{"/log", "", ""},
		{"/log", "", "from=1"},
		{"/log", "", "from=0"},
		{"/log", "", "from=-1"},
		{"/log", "", "from=4"},
		{"/log", "", "from=18446744073709551615"},
		{"/log", "", "from=9223372036854775808"},
		{"/log", "", "from=99999999999999999999"},
		{"/log", "", "from=1&from=2"},
		{"/verify", "", ""},
		{"/verify", "", "run=1"},
		{"/stats", "", ""},
		{"/stats", "", "year=2023"},
		{"/stats", "", "year=1899"},
		{"/stats", "", "year=99999999999999999999"},
		{"/stats", "", "year=-2023"},
		{"/stats", "", "from=2023-01&to=2023-06"},
		{"/stats", "", "from=2023-01-01&to=2023-06-30"},
		{"/stats", "", "from=2023-06&to=2023-01"},
		{"/stats", "", "from=2023-01&to=2024-06"},
		{"/stats", "", "from=2023-00&to=2023-13"},
		{"/stats", "", "from=2023-01-02&to=2023-06-29"},
		{"/stats", "", "from=2023-01"},
		{"/stats", "", "to=2023-06"},
		{"/stats", "", "year=2023&as_of=2"},
		{"/stats", "", "year=2023&as_of=2023-03-16T00:00:00Z"},
		{"/stats", "", "year=2023&as_of=99"},
		{"/stats", "", "as_of=0"},
		{"/stats", "", "as_of=yesterday"},
		{"/stats", "", "year=2023&year=2024&from=%FF"},
		{"/stats/report.xlsx", "", "year=2023"},
		{"/stats/report.xlsx", "", "year=abc"},
		{"/stats/report.xlsx", "", "from=2023-01&to=2023-03&as_of=1"},
		{"/stats/report.csv", "", ""},
		{"/stats/report.csv", "", "year=2023&as_of=99"},
		{"/stats/report.csv", "", "from=2023-03&to=2023-01"},
	}
	for _, s := range seeds {
		i := slices.Index(consoleRoutes, s.route)
		if i < 0 {
			f.Fatalf("seed route %s is not in consoleRoutes", s.route)
		}
		f.Add(uint8(i), s.id, s.raw)
	}
	fc := newFuzzConsole(f)
	f.Fuzz(func(t *testing.T, route uint8, id, raw string) {
		r := consoleRoutes[int(route)%len(consoleRoutes)]
		rec := fc.get(r, id, raw)
		body := rec.Body.String()
		ct := rec.Header().Get("Content-Type")
		where := func() string { return r + " id=" + id + " ?" + raw }
		switch code := rec.Code; {
		case code == http.StatusOK:
			switch r {
			case "/stats/report.xlsx":
				require.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ct, where())
				require.True(t, strings.HasPrefix(body, "PK"), "%s: not a zip", where())
			case "/stats/report.csv":
				require.Equal(t, "text/csv; charset=utf-8", ct, where())
				require.True(t, utf8.ValidString(body), where())
			default:
				require.Equal(t, "text/html; charset=utf-8", ct, where())
				require.Contains(t, body, "</html>", where())
			}
		case code >= 300 && code < 400:
			loc := rec.Header().Get("Location")
			require.True(t, strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//"), "%s: %d to %q", where(), code, loc)
		case code >= 400 && code < 500:
			require.Equal(t, "text/html; charset=utf-8", ct, "%s: %d", where(), code)
			fields, msg := invalidField.FindAllStringSubmatch(body, -1), errorMessage.FindStringSubmatch(body)
			require.True(t, len(fields) > 0 || msg != nil, "%s: %d says nothing of what is wrong:\n%s", where(), code, body)
			for _, m := range fields {
				require.Regexp(t, `<p class="error" id="e-`+regexp.QuoteMeta(m[1])+`" data-error-for="[^"]+">[^<]+</p>`, body,
					"%s: field %s marked without its rule", where(), m[1])
			}
			if code == http.StatusBadRequest && strings.HasPrefix(r, "/stats/report.") {
				require.NotNil(t, msg, where())
				require.Regexp(t, `^(year|from|to|as_of)：`, msg[1], "%s: the refusal names no parameter", where())
			}
		default:
			t.Fatalf("%s: status %d\nlog:\n%s\nbody:\n%s", where(), code, fc.log.String(), body)
		}
	})
}
