package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/internal/sample"
	"techledger/ledger/memstore"
	"techledger/projections"
	"techledger/reports"
	"techledger/server"
)

// statsServer is the console with the statistics dashboard beside the HTTP API, over one
// memstore holding a generated sample, as serve wires them (cmd/techledger/console.go):
// /v1/… to the API, the rest to the console, one projections runner and one report cache.
type statsServer struct {
	*httptest.Server
	store   *memstore.Store
	handler *commands.Handler
	proj    *projections.Runner
}

// dashContracts is the size of the sample the dashboard tests read: a few dozen contracts
// a year from 2019 to 2025, with rights, payments and rewards.
const dashContracts = 400

// dashYear is the year the tests look at (the sample has its previous year too).
const dashYear = 2024

func newStatsServer(t testing.TB) *statsServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	store := memstore.New()
	h := commands.NewHandler(store)
	h.Now = func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }
	var buf bytes.Buffer
	_, err := sample.Write(&buf, sample.Config{Seed: 1, Contracts: dashContracts})
	require.NoError(t, err)
	sum, err := commands.Import(ctx, &buf, h, commands.Actor{Name: "导入", Role: string(server.RoleRegistrar)}, nil)
	require.NoError(t, err)
	require.Zero(t, sum.Rejected, "%v", sum.Errors)

	quiet := slog.New(slog.DiscardHandler)
	search := projections.NewSearchRunner(store, projections.SearchRunnerOptions{Logger: quiet})
	require.NoError(t, search.Start(ctx))
	proj := projections.NewRunner(store, projections.RunnerOptions{Logger: quiet})
	require.NoError(t, proj.Start(ctx))
	var toks []map[string]string
	for tok, p := range testTokens {
		toks = append(toks, map[string]string{"token": tok, "role": string(p.Role), "name": p.Name})
	}
	tj, _ := json.Marshal(toks)
	tokens, err := server.ParseTokens(tj)
	require.NoError(t, err)
	cache := &reports.Cache{}
	api := server.New(server.Config{Store: store, Commands: h, Projections: proj, Tokens: tokens, Reports: cache, Logger: quiet}).Handler()
	c, err := New(Config{Log: store, Commands: h, Search: search, Figures: &Figures{Projections: proj, Reports: cache},
		Authenticate: tokens.Lookup, Logger: slog.New(slog.NewTextHandler(tLog{t}, nil)),
		Now: func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			api.ServeHTTP(w, r)
			return
		}
		c.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &statsServer{Server: srv, store: store, handler: h, proj: proj}
}

// apiGet fetches an API route with a bearer token: the status and the body.
func (ss *statsServer) apiGet(t testing.TB, token, path string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", ss.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

// client signs in to the console with token.
func (ss *statsServer) client(t testing.TB, token string) *http.Client {
	t.Helper()
	return (&testServer{Server: ss.Server}).client(t, token)
}

// apiReport is the report JSON document as the test reads it (encoding/json, not the
// reports package).
type apiReport struct {
	AsOf   uint64 `json:"as_of"`
	Period struct {
		From, To string
	} `json:"period"`
	Tables []struct {
		ID    string           `json:"id"`
		Rows  []map[string]any `json:"rows"`
		Total map[string]any   `json:"total"`
	} `json:"tables"`
}

func (a *apiReport) table(t testing.TB, id string) ([]map[string]any, map[string]any) {
	t.Helper()
	for _, tb := range a.Tables {
		if tb.ID == id {
			return tb.Rows, tb.Total
		}
	}
	t.Fatalf("no table %s in the API's report", id)
	return nil, nil
}

// cell is a JSON field as the page shows it: counts and amounts with grouping commas
// removed, null as "—".
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "—"
	case float64:
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprint(v)
}

// growth is (cur − prev) ÷ prev in percent, rounded half away from zero to two places,
// computed here with big.Rat; "" when prev is zero.
func growth(cur, prev string) string {
	c, _ := new(big.Rat).SetString(cur)
	p, _ := new(big.Rat).SetString(prev)
	if p.Sign() == 0 {
		return ""
	}
	v := new(big.Rat).Quo(new(big.Rat).Sub(c, p), p)
	v.Mul(v, big.NewRat(100, 1))
	neg := v.Sign() < 0
	v.Abs(v)
	v.Add(v, big.NewRat(1, 200))
	cents := new(big.Int).Quo(new(big.Int).Mul(v.Num(), big.NewInt(100)), v.Denom())
	s := fmt.Sprintf("%d.%02d", cents.Int64()/100, cents.Int64()%100)
	if neg && cents.Sign() != 0 {
		s = "-" + s
	}
	return s
}

// TestConsole_Dashboard checks the dashboard over HTTP: every role that reads statistics
// opens it (and no other), a bad year or period is named next to its field with 400, and
// the downloads are the API's workbook byte for byte and a CSV of every row of the
// API's document.
func TestConsole_Dashboard(t *testing.T) {
	ss := newStatsServer(t)
	for tok, p := range testTokens {
		code, body := get(t, ss.client(t, tok), ss.URL+"/stats?year=2024")
		want := http.StatusOK
		if !p.Role.May(server.ReadFigures) {
			want = http.StatusForbidden
		}
		assert.Equal(t, want, code, p.Role)
		if code == http.StatusOK {
			assert.Contains(t, body, `href="/stats" aria-current="page"`, "in the navigation")
			assert.Contains(t, body, `id="table-by_type"`)
			assert.NotContains(t, body, "<script>", "no inline script")
		}
	}
	cl := ss.client(t, tokStatistician)
	for q, field := range map[string]string{"year=24x": "e-year", "from=2024-05&to=2024-02": "e-from", "from=2024-01&to=2025-06": "e-to",
		"from=2024-01": "e-to", "as_of=soon": "e-as_of", "as_of=999999": "e-as_of"} {
		code, body := get(t, cl, ss.URL+"/stats?"+q)
		assert.Equal(t, http.StatusBadRequest, code, q)
		i := strings.Index(body, `id="`+field+`"`)
		if assert.GreaterOrEqual(t, i, 0, q) {
			assert.NotContains(t, body[i:i+60], "hidden", "%s: the error is shown next to its field", q)
		}
		assert.NotContains(t, body, `id="table-by_type"`, q)
	}
	code, body := get(t, cl, ss.URL+"/stats?from=2024-04&to=2024-06")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "2024-04-01</b> 至 <b>2024-06-30")
	assert.Contains(t, body, `value="2024-04"`, "the month inputs keep the period")

	// Downloads: the workbook is the API's (same cache, same bytes); the CSV has every row.
	resp, err := cl.Get(ss.URL + "/stats/report.xlsx?year=2024")
	require.NoError(t, err)
	xlsx, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Disposition"), `filename="techledger-annual-2024.xlsx"`)
	assert.True(t, bytes.HasPrefix(xlsx, []byte("PK\x03\x04")), "a zip file")
	_, _, apiXLSX := ss.apiGet(t, tokStatistician, "/v1/reports/annual?year=2024&format=xlsx")
	assert.True(t, bytes.Equal(xlsx, apiXLSX), "the API's workbook")

	resp, err = cl.Get(ss.URL + "/stats/report.csv?year=2024")
	require.NoError(t, err)
	csvBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	require.True(t, bytes.HasPrefix(csvBody, []byte("\xef\xbb\xbf")))
	recs, err := csv.NewReader(bytes.NewReader(csvBody[3:])).ReadAll()
	require.NoError(t, err)
	_, _, js := ss.apiGet(t, tokStatistician, "/v1/reports/annual?year=2024")
	var doc apiReport
	require.NoError(t, json.Unmarshal(js, &doc))
	n := 0
	for _, tb := range doc.Tables {
		for _, r := range append(tb.Rows, tb.Total) {
			n++
			require.Less(t, n, len(recs))
			assert.Equal(t, []string{cell(r["key"]), cell(r["count"]), cell(r["amount"])}, []string{recs[n][1], recs[n][3], recs[n][4]}, "%s", tb.ID)
		}
	}
	assert.Equal(t, n+1, len(recs), "a CSV row per row of the document, and the header")

	code, _ = get(t, cl, ss.URL+"/stats/report.csv?year=abc")
	assert.Equal(t, http.StatusBadRequest, code)
	code, _ = get(t, ss.client(t, ""), ss.URL+"/stats/report.xlsx?year=2024")
	assert.Equal(t, http.StatusSeeOther, code, "signed out: to the sign-in page")
}

// TestBrowser_DashboardMatchesAPI opens the dashboard as a statistician in Chromium and
// checks what it shows against the API, fetched apart from the page: the headline tiles
// and the by_type table against GET /v1/reports/annual (growth of the count and of
// 技术交易额 computed here from the document's figures), the monthly table against GET
// /v1/stats/contracts by month, and that the download links give a workbook and a CSV.
// The tab fails on any CSP violation or script error.
func TestBrowser_DashboardMatchesAPI(t *testing.T) {
	ss := newStatsServer(t)
	code, _, rj := ss.apiGet(t, tokStatistician, fmt.Sprintf("/v1/reports/annual?year=%d", dashYear))
	require.Equal(t, http.StatusOK, code)
	var doc apiReport
	require.NoError(t, json.Unmarshal(rj, &doc))

	tb := newTab(t)
	tb.signIn(ss.URL, tokStatistician)
	tb.open(ss.URL + "/stats")
	assert.True(t, tb.exists(`nav a[href="/stats"][aria-current]`))
	tb.run(chromedp.SetValue(css(`#f-year`), fmt.Sprint(dashYear)))
	tb.submit(`#dash-form button[type=submit]`)
	assert.Equal(t, fmt.Sprint(doc.AsOf), tb.text(`#dash-asof`))
	assert.Contains(t, tb.text(`#dash-period`), fmt.Sprintf("%d-01-01 至 %d-12-31", dashYear, dashYear))

	nums := func(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), ",", "") }
	_, total := doc.table(t, "by_type")
	require.NotZero(t, total["count"])
	assert.Equal(t, cell(total["count"]), nums(tb.text(`#tile-count [data-value]`)))
	assert.Equal(t, cell(total["amount"]), nums(tb.text(`#tile-amount [data-exact]`)))
	assert.Equal(t, cell(total["tech_amount"]), nums(tb.text(`#tile-tech_amount [data-exact]`)))
	assert.Equal(t, cell(total["amount_growth"]), tb.text(`#tile-amount [data-growth]`))
	assert.Equal(t, growth(cell(total["count"]), cell(total["count_prev"])), tb.text(`#tile-count [data-growth]`))
	assert.Equal(t, growth(cell(total["tech_amount"]), cell(total["tech_amount_prev"])), tb.text(`#tile-tech_amount [data-growth]`))

	// The by_type chart's table: every cell of every row and 合计.
	shown := tb.table(`#table-by_type`)
	rows, total := doc.table(t, "by_type")
	require.Len(t, shown, len(rows)+1)
	for i, r := range append(rows, total) {
		got := shown[i]
		for col, v := range r {
			if col == "label" {
				continue
			}
			want := cell(v)
			if col == "key" && i == len(rows) {
				want = "total"
			}
			assert.Equal(t, want, nums(got[col]), "by_type %v %s", r["key"], col)
		}
	}
	for _, id := range []string{"by_field", "by_seller_city", "by_buyer_city", "by_flow", "rewards_by_institution", "monthly"} {
		assert.True(t, tb.exists(`#chart-`+id+` svg[role=img]`), "chart %s", id)
	}
	assert.True(t, tb.exists(`#chart-by_type svg rect.cur title`), "bars carry their figures")

	// The monthly table against the API's statistics by month.
	code, _, sj := ss.apiGet(t, tokStatistician, fmt.Sprintf("/v1/stats/contracts?by=month&from=%d-01-01&to=%d-12-31", dashYear-1, dashYear))
	require.Equal(t, http.StatusOK, code)
	var stats struct {
		Rows []struct {
			Month  string `json:"month"`
			Count  int64  `json:"count"`
			Amount string `json:"amount"`
		} `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(sj, &stats))
	byMonth := map[string][2]string{}
	for _, r := range stats.Rows {
		byMonth[r.Month] = [2]string{fmt.Sprint(r.Count), r.Amount}
	}
	months := tb.table(`#table-monthly`)
	require.Len(t, months, 13)
	for m := 1; m <= 12; m++ {
		got := months[m-1]
		cur, prev := byMonth[fmt.Sprintf("%d-%02d", dashYear, m)], byMonth[fmt.Sprintf("%d-%02d", dashYear-1, m)]
		for i, want := range [][2]string{cur, prev} {
			if want[0] == "" {
				want = [2]string{"0", "0.00"}
			}
			sfx := []string{"", "_prev"}[i]
			assert.Equal(t, want[0], nums(got["count"+sfx]), "month %d count%s", m, sfx)
			assert.Equal(t, want[1], nums(got["amount"+sfx]), "month %d amount%s", m, sfx)
		}
	}
	assert.Equal(t, cell(total["amount"]), nums(months[12]["amount"]), "the months add up to the year")

	// The downloads, fetched by the page's own links with the session.
	cl := ss.client(t, tokStatistician)
	for sel, want := range map[string]string{`#dl-xlsx`: "PK\x03\x04", `#dl-csv`: "\xef\xbb\xbf表,代码"} {
		href := value(tb, chromedp.Evaluate[string](`document.querySelector('`+sel+`').href`))
		resp, err := cl.Get(href)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, sel)
		assert.True(t, bytes.HasPrefix(b, []byte(want)), "%s starts with %q", sel, want)
	}
	tb.shot("dashboard")
	for _, id := range []string{"monthly", "by_type", "by_seller_city"} {
		png := value(tb, chromedp.Screenshot(css(`#chart-`+id+` svg`)))
		require.NoError(t, os.WriteFile(filepath.Join(artifactDir(t), "chart-"+id+".png"), png, 0o644))
	}
	tb.run(js(`document.querySelector("#dash-head").scrollIntoView()`))
	top := value(tb, chromedp.CaptureScreenshot()) // the first screen, for docs/console-dashboard.png
	require.NoError(t, os.WriteFile(filepath.Join(artifactDir(t), "dashboard-top.png"), top, 0o644))

	// A period: Q2 against Q2 of the previous year.
	tb.open(ss.URL + "/stats?" + url.Values{"from": {fmt.Sprintf("%d-04", dashYear)}, "to": {fmt.Sprintf("%d-06", dashYear)}}.Encode())
	assert.Contains(t, tb.text(`#dash-period`), fmt.Sprintf("%d-04-01 至 %d-06-30", dashYear, dashYear))
	assert.Len(t, tb.table(`#table-monthly`), 4)
}

// table returns the rows of a dashboard table as shown: each row's data-key and its cells
// by data-col, as the page's text.
func (tb *tab) table(sel string) []map[string]string {
	tb.t.Helper()
	s := value(tb, chromedp.Evaluate[string](`JSON.stringify(Array.from(document.querySelectorAll('`+sel+` tr[data-key]')).map(function (tr) {
		var o = {key: tr.dataset.key};
		tr.querySelectorAll('td[data-col]').forEach(function (td) { o[td.dataset.col] = td.innerText; });
		return o;
	}))`))
	var out []map[string]string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		tb.t.Fatalf("table %s: %v", sel, err)
	}
	return out
}
