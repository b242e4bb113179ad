package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"techledger/internal/sample"
	"techledger/ledger"
	"techledger/ledger/memstore"
	"techledger/projections"
	"techledger/reports"
	"techledger/server"
)

// The dashboard at scale (issue 13, item 8; docs/console.md, Speed):
//
//	go test -run '^$' -bench 'Dashboard' -benchtime 40x ./server/web/
//
// The State holds the registrations of 1,000,000 generated contracts, built like the
// reports package's benchmarks (the sample generator's register_contract lines, decided
// by package commands and folded by Apply; no payments, so the rewards chart is empty),
// once per run. Requests are served in process, so the times are the server's: routing,
// session, the report (cached or not), the charts and the template.
//
// Each benchmark pairs the page with the API's report JSON over the same projections and
// the same cache, alternating one of each, so that both see the same machine load.

var (
	dashBenchOnce  sync.Once
	dashBenchState *projections.State
	dashBenchErr   error
)

func dashState(b *testing.B) *projections.State {
	b.Helper()
	dashBenchOnce.Do(func() {
		st := projections.NewState(projections.Options{})
		dashBenchErr = sample.Registrations(sample.Config{Seed: 2, Contracts: benchContracts}, time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), st.Apply)
		if dashBenchErr == nil {
			dashBenchState = st
		}
	})
	if dashBenchErr != nil {
		b.Fatal(dashBenchErr)
	}
	if n := dashBenchState.Contracts(); n != benchContracts {
		b.Fatalf("%d contracts", n)
	}
	return dashBenchState
}

// stateProjections serves one State that does not change, as the live projections.
type stateProjections struct {
	mu sync.RWMutex
	st *projections.State
}

func (p *stateProjections) Read(fn func(*projections.State) error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return fn(p.st)
}
func (p *stateProjections) Position() ledger.Position           { return p.st.Position() }
func (p *stateProjections) Lag(context.Context) (uint64, error) { return 0, nil }
func (p *stateProjections) AsOf(context.Context, ledger.Position) (*projections.State, error) {
	return nil, errors.New("not in the benchmark")
}
func (p *stateProjections) AsOfTime(context.Context, time.Time) (*projections.State, error) {
	return nil, errors.New("not in the benchmark")
}

// dashBench is the console and the API over the 1M State, one cache, and a session.
type dashBench struct {
	console *Console
	api     http.Handler
	cookie  *http.Cookie
}

// newDashBench returns the console and the API over proj with a new cache.
func newDashBench(b *testing.B, proj server.Projections) *dashBench {
	b.Helper()
	cache := &reports.Cache{}
	quiet := slog.New(slog.DiscardHandler)
	d := &dashBench{}
	d.api = server.New(server.Config{Projections: proj, Reports: cache, Logger: quiet}).Handler() // no tokens: local admin
	var err error
	d.console, err = New(Config{Log: memstore.New(), Commands: nopCommands{}, Search: nopSearch{}, Figures: &Figures{Projections: proj, Reports: cache}, Logger: quiet,
		Authenticate: func(string) (Principal, bool) { return Principal{Name: "bench", Role: server.RoleStatistician}, true }})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"token": {"bench-token-000000"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	d.console.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if len(cookies) == 0 {
		b.Fatal("no session cookie")
	}
	d.cookie = cookies[0]
	return d
}

// serve times one request; it fails b unless the answer is 200.
func (d *dashBench) serve(b *testing.B, h http.Handler, target string) time.Duration {
	req := httptest.NewRequest("GET", target, nil)
	req.AddCookie(d.cookie)
	rec := httptest.NewRecorder()
	t0 := time.Now()
	h.ServeHTTP(rec, req)
	el := time.Since(t0)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", target, rec.Code, rec.Body.String()[:min(300, rec.Body.Len())])
	}
	return el
}

// reportLatencies reports the p99 and mean of each series, in ms, and the ratio of the
// page's p99 to the baseline's.
func reportLatencies(b *testing.B, page, base []time.Duration) {
	stat := func(l []time.Duration) (p99, mean float64) {
		l = slices.Clone(l)
		slices.Sort(l)
		var sum time.Duration
		for _, d := range l {
			sum += d
		}
		return float64(l[len(l)*99/100].Microseconds()) / 1000, float64(sum.Microseconds()) / float64(len(l)) / 1000
	}
	pp, pm := stat(page)
	bp, bm := stat(base)
	b.ReportMetric(pp, "page-p99-ms")
	b.ReportMetric(pm, "page-mean-ms")
	b.ReportMetric(bp, "json-p99-ms")
	b.ReportMetric(bm, "json-mean-ms")
	b.ReportMetric(pm/bm, "page/json-mean")
}

// BenchmarkDashboard_Unchanged1M: the page while nothing is appended (the report and the
// monthly series come from the cache), paired with GET /v1/reports/annual from the same
// cache. Target: page p99 ≤ 100 ms.
func BenchmarkDashboard_Unchanged1M(b *testing.B) {
	d := newDashBench(b, &stateProjections{st: dashState(b)})
	page, api := "/stats?year=2024", "/v1/reports/annual?year=2024"
	d.serve(b, d.console, page) // fill the cache: the report and monthly series, and the JSON
	d.serve(b, d.api, api)
	var pl, jl []time.Duration
	for b.Loop() {
		pl = append(pl, d.serve(b, d.console, page))
		jl = append(jl, d.serve(b, d.api, api))
	}
	reportLatencies(b, pl, jl)
}

// BenchmarkDashboard_First1M: the first page after the projections moved (an empty cache:
// reports.Build and the monthly series computed, then the page), paired with the first
// GET /v1/reports/annual (Build and the JSON), each with a new cache. It also reports the
// JSON asked right after the page on the page's cache (json-after-page): the two share
// one Build (reports.Cache.Report).
func BenchmarkDashboard_First1M(b *testing.B) {
	proj := &stateProjections{st: dashState(b)}
	page, api := "/stats?year=2024", "/v1/reports/annual?year=2024"
	var pl, jl []time.Duration
	var after time.Duration
	for b.Loop() {
		b.StopTimer()
		d, e := newDashBench(b, proj), newDashBench(b, proj)
		b.StartTimer()
		pl = append(pl, d.serve(b, d.console, page))
		jl = append(jl, e.serve(b, e.api, api))
		after += d.serve(b, d.api, api)
	}
	reportLatencies(b, pl, jl)
	b.ReportMetric(float64(after.Microseconds())/float64(b.N)/1000, "json-after-page-mean-ms")
}
