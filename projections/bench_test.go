package projections

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"techledger/commands"
	"techledger/internal/sample"
	"techledger/ledger"
	"techledger/ledger/filestore"
)

// Benchmarks of issue 4. The logs they read are built once per machine from the sample
// generator through package commands, and kept in the system's temporary directory
// (techledger-bench/…): building the 1,000,000-event log takes about a minute.
//
//	go test -run '^$' -bench 'Replay|Restart|GroupBy|Memory' -benchtime 5x ./projections/

// fixtureContracts gives about 1,000,000 events (the sample averages 3.05 events per
// contract).
const fixtureContracts = 328_000

// benchFixture returns the directory of a filestore holding the sample of cfg, imported
// by 64 concurrent importers (each owning the contracts that hash to it, so each contract's
// commands keep their order).
func benchFixture(b *testing.B, cfg sample.Config) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "techledger-bench", fmt.Sprintf("log-v1-seed%d-%d", cfg.Seed, cfg.Contracts))
	if _, err := os.Stat(filepath.Join(dir, "READY")); err == nil {
		return dir
	}
	b.Logf("building %s (once)", dir)
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := sample.Write(&buf, cfg); err != nil {
		b.Fatal(err)
	}
	const workers = 64
	parts := make([][][]byte, workers)
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.Clone(sc.Bytes())
		cmd, err := commands.Decode(line)
		if err != nil {
			b.Fatal(err)
		}
		h := fnv.New32a()
		h.Write([]byte(cmd.Contract()))
		w := h.Sum32() % workers
		parts[w] = append(parts[w], line)
	}
	s, err := filestore.Open(dir, filestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	h := commands.NewHandler(s)
	var wg sync.WaitGroup
	var mu sync.Mutex
	rejected := 0
	for _, part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, line := range part {
				_, err := h.HandleJSON(context.Background(), line, commands.Actor{Name: "bench", Role: "registrar"})
				if err != nil {
					mu.Lock()
					rejected++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	head, err := s.Head(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built: %d events, %d commands rejected (use grants decided in another order)", head, rejected)
	if err := os.WriteFile(filepath.Join(dir, "READY"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

func openFixture(b *testing.B) *filestore.Store {
	b.Helper()
	s, err := filestore.Open(benchFixture(b, sample.Config{Seed: 1, Contracts: fixtureContracts}), filestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkReplay folds statistics and rewards over the whole 1,000,000-event log, in
// alternation with the ledger's own scan-and-decode baseline (ReadAll with the envelope
// decoded, data not parsed) of the same log, and reports both rates and their ratio.
func BenchmarkReplay(b *testing.B) {
	s := openFixture(b)
	ctx := context.Background()
	head, err := s.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var scan, replay time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		n := 0
		for rec, err := range s.ReadAll(ctx, 1) {
			if err != nil {
				b.Fatal(err)
			}
			n += len(rec.Data)
		}
		t1 := time.Now()
		st := NewState(Options{})
		if err := Replay(ctx, s, st, 0); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if st.Position() != head || n == 0 {
			b.Fatalf("replayed to %d of %d", st.Position(), head)
		}
		scan += t1.Sub(t0)
		replay += t2.Sub(t1)
	}
	b.StopTimer()
	ev := float64(head) * float64(b.N)
	b.ReportMetric(ev/replay.Seconds(), "replay-events/s")
	b.ReportMetric(ev/scan.Seconds(), "scan-events/s")
	b.ReportMetric(scan.Seconds()/replay.Seconds(), "replay/scan")
}

// BenchmarkRestart measures a restart with a snapshot at the head of the 1,000,000-event
// log: opening the filestore (which loads the index checkpoint its last Close wrote, and
// reads only the log after it), then starting the Runner from the snapshot (read,
// checksum, rebuild of the cube, hash check against the log). Both parts and the whole are
// reported.
func BenchmarkRestart(b *testing.B) {
	dir := benchFixture(b, sample.Config{Seed: 1, Contracts: fixtureContracts})
	snaps := b.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := filestore.Open(dir, filestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := NewRunner(s, RunnerOptions{SnapshotDir: snaps, Logger: quiet()})
	if err := r.Start(ctx); err != nil {
		b.Fatal(err)
	}
	if err := r.Snapshot(); err != nil {
		b.Fatal(err)
	}
	cancel()
	s.Close()
	var open, start time.Duration
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		t0 := time.Now()
		s, err := filestore.Open(dir, filestore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		r := NewRunner(s, RunnerOptions{SnapshotDir: snaps, Logger: quiet()})
		if err := r.Start(ctx); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		open += t1.Sub(t0)
		start += t2.Sub(t1)
		head, _ := s.Head(ctx)
		if r.Position() != head {
			b.Fatalf("runner at %d, head %d", r.Position(), head)
		}
		cancel()
		s.Close()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(open.Seconds()*1000/n, "open-ms")
	b.ReportMetric(start.Seconds()*1000/n, "snapshot-start-ms")
	b.ReportMetric((open+start).Seconds()*1000/n, "restart-ms")
}

// buildRegistrations folds the registrations of n generated contracts (and nothing else) into a State,
// deciding each command with package commands and encoding it as the handler does.
func buildRegistrations(n int) (*State, error) {
	st := NewState(Options{})
	if err := sample.Registrations(sample.Config{Seed: 2, Contracts: n}, time.Time{}, st.Apply); err != nil {
		return nil, err
	}
	return st, nil
}

// registrationsState is buildRegistrations(1,000,000), built once.
var registrationsState = sync.OnceValues(func() (*State, error) { return buildRegistrations(1_000_000) })

// BenchmarkGroupBy answers two-dimension statistics queries over 1,000,000 registered
// contracts and reports the p50 and p99 latency of each, and apart the first query, which
// builds the aggregate of its dimensions.
func BenchmarkGroupBy(b *testing.B) {
	st, err := registrationsState()
	if err != nil {
		b.Fatal(err)
	}
	cases := []StatsQuery{
		{By: []string{"year", "type"}},
		{By: []string{"field", "flow"}},
		{By: []string{"seller_city", "buyer_province"}},
		{By: []string{"quarter", "seller_kind"}, From: ledger.Date{Year: 2020, Month: 2, Day: 15}, To: ledger.Date{Year: 2022, Month: 11, Day: 3}},
	}
	for _, q := range cases {
		name := fmt.Sprintf("%s,%s", q.By[0], q.By[1])
		if !q.From.IsZero() {
			name += ",range"
		}
		b.Run(name, func(b *testing.B) {
			st.cubes = cubes{} // the first query builds the aggregate: reported apart
			t0 := time.Now()
			if _, err := st.Stats(q); err != nil {
				b.Fatal(err)
			}
			cold := time.Since(t0)
			lat := make([]time.Duration, 0, b.N)
			for range b.N {
				t0 := time.Now()
				rep, err := st.Stats(q)
				lat = append(lat, time.Since(t0))
				if err != nil || len(rep.Rows) == 0 {
					b.Fatal(err, len(rep.Rows))
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(cold.Microseconds())/1000, "first-ms")
		})
	}
}

// BenchmarkMemory reports the heap held by the projections per contract: for the
// 1,000,000 registrations, and for the 1,000,000-event log (with rights, payments and
// reward tallies).
func BenchmarkMemory(b *testing.B) {
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	s := openFixture(b)
	for range b.N {
		before := heap()
		st := NewState(Options{})
		if err := Replay(context.Background(), s, st, 0); err != nil {
			b.Fatal(err)
		}
		after := heap()
		b.ReportMetric(float64(after-before)/float64(st.Contracts()), "bytes/contract(log)")
		runtime.KeepAlive(st)

		before = heap()
		reg, err := buildRegistrations(1_000_000)
		if err != nil {
			b.Fatal(err)
		}
		after = heap()
		b.ReportMetric(float64(after-before)/float64(reg.Contracts()), "bytes/contract(registrations)")
		runtime.KeepAlive(reg)
	}
}

// BenchmarkDecodeView decodes the views of the small sample's events (the replay's decoding
// stage without the read), and reports the time per event.
func BenchmarkDecodeView(b *testing.B) {
	recs := records(b, smallSample(b))
	var v view
	b.ResetTimer()
	for range b.N {
		for i := range recs {
			if err := decodeView(&recs[i], &v); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/event")
}
