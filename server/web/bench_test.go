package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/memstore"
	"techledger/projections"
	"techledger/server"
)

// Benchmarks of issue 12, item 6 (docs/console.md, Speed):
//
//	go test -run '^$' -bench 'Console' -benchtime 200x ./server/web/
//
// Pages over 1,000,000 registered contracts: a filestore built once per machine through
// the command rules (package commands decides each registration; the records are appended
// in batches) and kept in the system's temporary directory (techledger-bench/…), with the
// search read model's snapshot beside it.
// Requests are served in process (httptest.ResponseRecorder), so the times are the
// server's: routing, session, query, rendering.
const benchContracts = 1_000_000

var (
	benchOnce  sync.Once
	benchDir   string
	benchStore *filestore.Store
	benchErr   error
)

// benchFixture returns the store of benchContracts registrations, building it once.
func benchFixture(b *testing.B) *filestore.Store {
	b.Helper()
	benchOnce.Do(func() {
		benchDir = filepath.Join(os.TempDir(), "techledger-bench", fmt.Sprintf("console-v1-%d", benchContracts))
		if _, err := os.Stat(filepath.Join(benchDir, "READY")); err != nil {
			b.Logf("building %s (once)", benchDir)
			benchErr = buildFixture(benchDir)
			if benchErr != nil {
				return
			}
		}
		benchStore, benchErr = filestore.Open(benchDir, filestore.Options{Logger: slog.New(slog.DiscardHandler)})
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

// benchID returns the registration number of contract i: year, Shanxi city, point 01, and
// a serial unique within them.
func benchID(i int) string {
	return fmt.Sprintf("%04d14%02d01%06d", 2019+i*7/benchContracts, 1+i%11, i/11)
}

// benchRegistration returns register_contract number i: a registration number per
// registry point and year, names drawn from a few thousand sellers and many buyers.
func benchRegistration(i int) string {
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	year := 2019 + i*7/benchContracts
	day := 1 + rng.IntN(28)
	month := 1 + rng.IntN(12)
	places := []string{"太原", "大同", "阳泉", "长治", "晋城", "朔州", "晋中", "运城", "忻州", "临汾", "吕梁"}
	trades := []string{"能源", "煤化工", "新材料", "机械", "电子", "生物", "农业", "环保", "软件", "装备"}
	seller := rng.IntN(3000)
	buyer := rng.IntN(300_000)
	types := [][2]string{{"development", "commissioned"}, {"transfer", "patent_right"}, {"license", "patent_license"}, {"consulting", "feasibility"}, {"service", "general"}}
	t := types[rng.IntN(len(types))]
	amount := 1000 + rng.IntN(10_000_000)
	return fmt.Sprintf(`{"command":"register_contract","command_id":"b-%d","contract_id":"%s","title":"%s技术项目%d","type":"%s","subtype":"%s",`+
		`"signed_on":"%04d-%02d-%02d","registered_on":"%04d-%02d-%02d","amount":"%d.00","tech_amount":"%d.00","field":"environment",`+
		`"seller":{"id":"S-%d","name":"%s%s研究院%d","kind":"individual","region":"140100"},`+
		`"buyer":{"id":"B-%d","name":"%s%s有限公司%d","kind":"individual","region":"140400"},"intermediary":null,"ip_types":[]}`,
		i, benchID(i), trades[i%len(trades)], i, t[0], t[1],
		year, month, day, year, month, day, amount, amount/2,
		seller, places[seller%len(places)], trades[seller%len(trades)], seller,
		buyer, places[buyer%len(places)], trades[buyer%len(trades)], buyer)
}

// buildFixture writes the registrations as records decided by package commands (the
// same events the handler would append) in batches of AppendRecords, which is what makes
// a million contracts take a minute rather than an hour of single appends.
func buildFixture(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	s, err := filestore.Open(dir, filestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	const batch = 256 // filestore.RecordsPerCallMax
	today := ledger.Date{Year: 2026, Month: 11, Day: 30}
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	var prev ledger.Hash
	recs := make([]ledger.Record, 0, batch)
	for i := range benchContracts {
		cmd, err := commands.Decode([]byte(benchRegistration(i)))
		if err != nil {
			return err
		}
		evs, err := commands.Decide(commands.Contract{}, cmd, commands.Env{Today: today})
		if err != nil {
			return fmt.Errorf("contract %d: %w", i, err)
		}
		meta := ledger.Metadata{Actor: "bench", Role: "registrar", CommandID: cmd.Head().CommandID, CommandHash: commands.Fingerprint(cmd)}
		ev, err := ledger.Encode(evs[0], meta)
		if err != nil {
			return err
		}
		rec := ledger.Record{ID: ev.ID, Stream: ledger.ContractStream(cmd.Contract()), Version: 1, Position: ledger.Position(i + 1),
			Type: ev.Type, SchemaVersion: ev.SchemaVersion, RecordedAt: at.Add(time.Duration(i) * time.Millisecond),
			Data: ev.Data, Metadata: meta, PrevHash: prev}
		rec.Hash = rec.ComputeHash()
		prev = rec.Hash
		if recs = append(recs, rec); len(recs) == batch || i == benchContracts-1 {
			if err := s.AppendRecords(context.Background(), recs); err != nil {
				return err
			}
			recs = recs[:0]
		}
	}
	// The search read model's snapshot, so that benchmarks start in a second.
	r := projections.NewSearchRunner(s, projections.SearchRunnerOptions{SnapshotDir: benchSearchDir(dir), Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.Start(ctx); err != nil {
		return err
	}
	if err := r.Snapshot(); err != nil {
		return err
	}
	cancel()
	if err := s.Close(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "READY"), nil, 0o644)
}

// benchSearchDir is where the fixture keeps the search read model's snapshot: beside the
// log, in a directory of its own that benchConsole rewrites when the snapshot's format
// has changed (an older one is ignored, and the read model replays the log once).
func benchSearchDir(dir string) string { return filepath.Join(dir, "search") }

// benchConsole returns the console over the fixture, signed in as admin, and a session
// cookie.
func benchConsole(b *testing.B) (*Console, *http.Cookie) {
	b.Helper()
	s := benchFixture(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	runtime.LockOSThread()
	start, cpu, own := time.Now(), processCPU(), threadCPU()
	search := projections.NewSearchRunner(s, projections.SearchRunnerOptions{SnapshotDir: benchSearchDir(benchDir), Logger: slog.New(slog.DiscardHandler)})
	if err := search.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("search read model of %d contracts started in %v (CPU: the process %v, the starting thread %v)",
		benchContracts, time.Since(start), time.Duration(processCPU()-cpu), time.Duration(threadCPU()-own))
	runtime.UnlockOSThread()
	if err := search.Snapshot(); err != nil { // only if it did not start from one
		b.Fatal(err)
	}
	c, err := New(Config{Log: s, Commands: commands.NewHandler(s), Search: search, Logger: slog.New(slog.DiscardHandler),
		Authenticate: func(string) (Principal, bool) { return Principal{Name: "bench", Role: server.RoleAdmin}, true }})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"token": {"bench-token-000000"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	cookies := rec.Result().Cookies()
	if len(cookies) == 0 {
		b.Fatal("no session cookie")
	}
	return c, cookies[0]
}

// timePages serves each path in turn, b.N rounds, and reports each page's p99 and mean:
// the time it took, and the CPU time its thread used (on Linux: on a machine shared with
// other work the first includes waiting for a core, the second does not).
func timePages(b *testing.B, c *Console, cookie *http.Cookie, paths map[string]func(i int) string) {
	runtime.LockOSThread() // ServeHTTP runs on this goroutine: its thread's CPU time is the page's
	defer runtime.UnlockOSThread()
	lat := map[string][]time.Duration{}
	cpu := map[string][]time.Duration{}
	names := make([]string, 0, len(paths))
	for n := range paths {
		names = append(names, n)
	}
	sort.Strings(names)
	i := 0
	for b.Loop() {
		for _, n := range names {
			req := httptest.NewRequest("GET", paths[n](i), nil)
			req.AddCookie(cookie)
			rec := httptest.NewRecorder()
			c0, t0 := threadCPU(), time.Now()
			c.ServeHTTP(rec, req)
			lat[n] = append(lat[n], time.Since(t0))
			cpu[n] = append(cpu[n], time.Duration(threadCPU()-c0))
			if rec.Code != http.StatusOK {
				b.Fatalf("%s: %d %s", req.URL, rec.Code, rec.Body.String()[:min(300, rec.Body.Len())])
			}
		}
		i++
	}
	report := func(l []time.Duration, unit string) {
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		var sum time.Duration
		for _, d := range l {
			sum += d
		}
		b.ReportMetric(float64(l[len(l)*99/100].Microseconds())/1000, unit+"-p99-ms")
		b.ReportMetric(float64(sum.Microseconds())/float64(len(l))/1000, unit+"-mean-ms")
	}
	for _, n := range names {
		report(lat[n], n)
		if threadCPU() != 0 {
			report(cpu[n], n+"-cpu")
		}
	}
}

// BenchmarkConsole_Pages times the search page (several queries) and the contract page
// over 1,000,000 contracts. Target: p99 ≤ 50 ms each, server-side.
func BenchmarkConsole_Pages(b *testing.B) {
	c, cookie := benchConsole(b)
	q := func(v url.Values) func(int) string { return func(int) string { return "/contracts?" + v.Encode() } }
	timePages(b, c, cookie, map[string]func(int) string{
		"search-all":         q(url.Values{}),
		"search-number":      q(url.Values{"number": {"20231401"}}),
		"search-party":       q(url.Values{"party": {"太原能源"}}),
		"search-mixed":       q(url.Values{"party": {"研究院1"}, "type": {"transfer"}, "from": {"2022-01-01"}, "to": {"2022-12-31"}}),
		"search-page50":      q(url.Values{"type": {"license"}, "page": {"50"}}),
		"search-wide":        q(url.Values{"party": {"有限公司"}, "type": {"service"}}),
		"search-number-rare": q(url.Values{"number": {"20211405010300"}}),
		"contract":           func(i int) string { return "/contracts/" + benchID((i*7919)%benchContracts) },
	})
}

// TestBenchRegistration_Valid checks that the benchmark's made-up registrations are
// accepted and their numbers distinct, on a sample of them.
func TestBenchRegistration_Valid(t *testing.T) {
	ts := newTestServer(t, false)
	seen := map[string]bool{}
	for _, i := range []int{0, 1, 10, 11, 12, 142857, 142858, 500_000, 999_998, 999_999} {
		ts.apply(t, benchRegistration(i))
		if seen[benchID(i)] {
			t.Fatalf("number %s twice", benchID(i))
		}
		seen[benchID(i)] = true
	}
}

// BenchmarkConsole_FormPost compares registering through the console's form with
// registering through the API's POST /v1/commands, alternating one of each on one store
// and one command handler, both served in process: on a filestore (durable appends, what
// serve does) and on a memstore (no fsync: the CPU the two paths cost). Target: the form
// adds at most 10 % (form/api ≤ 1.10).
func BenchmarkConsole_FormPost(b *testing.B) {
	b.Run("filestore", func(b *testing.B) {
		s, err := filestore.Open(b.TempDir(), filestore.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchFormPost(b, s)
	})
	b.Run("memstore", func(b *testing.B) { benchFormPost(b, memstore.New()) })
}

func benchFormPost(b *testing.B, s server.Store) {
	cs, ok := s.(commands.Log)
	if !ok {
		b.Fatal("not a commands.Log")
	}
	h := commands.NewHandler(cs)
	api := server.New(server.Config{Store: s, Commands: h}).Handler()
	c, err := New(Config{Log: s, Commands: h, Search: nopSearch{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	var apiTime, formTime time.Duration
	csrf := c.csrfToken(httptest.NewRequest("GET", "/", nil)) // local mode: one session
	i := 0
	viaAPI := func(i int) {
		req := httptest.NewRequest("POST", "/v1/commands", strings.NewReader(benchRegistration(i)))
		rec := httptest.NewRecorder()
		t0 := time.Now()
		api.ServeHTTP(rec, req)
		apiTime += time.Since(t0)
		if rec.Code != http.StatusCreated {
			b.Fatalf("api: %d %s", rec.Code, rec.Body)
		}
	}
	viaForm := func(i int) {
		form := registrationForm(benchRegistration(i))
		form.Set("csrf", csrf)
		req := httptest.NewRequest("POST", "/contracts/new", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		t0 := time.Now()
		c.ServeHTTP(rec, req)
		formTime += time.Since(t0)
		if rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Location"), "done=applied") {
			b.Fatalf("form: %d %s %s", rec.Code, rec.Header().Get("Location"), rec.Body)
		}
	}
	for b.Loop() {
		if i%4 == 0 { // alternate which goes first, so neither always follows the other's fsync
			viaAPI(i)
			viaForm(i + 1)
		} else {
			viaForm(i)
			viaAPI(i + 1)
		}
		i += 2
	}
	b.ReportMetric(float64(apiTime.Microseconds())/float64(b.N), "api-µs/op")
	b.ReportMetric(float64(formTime.Microseconds())/float64(b.N), "form-µs/op")
	b.ReportMetric(float64(formTime)/float64(apiTime), "form/api")
}

// registrationForm returns the form fields a registrar would post for a register_contract
// command's JSON.
func registrationForm(js string) url.Values {
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		panic(err)
	}
	f := url.Values{}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			f.Set(k, v)
		case map[string]any:
			for pk, pv := range v {
				f.Set(k+"."+pk, fmt.Sprint(pv))
			}
		case []any:
			for _, e := range v {
				f.Add(k, fmt.Sprint(e))
			}
		}
	}
	f.Del("command")
	return f
}
