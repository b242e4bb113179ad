package projections

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"iter"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"techledger/ledger"
)

// Benchmarks of the search read model over 1,000,000 contracts (issue 12, item 6):
//
//	go test -run '^$' -bench 'Search' -benchtime 20x ./projections/
//
// The contracts are made up directly as events (no log, no JSON), with party names drawn
// like the registry's: a few thousand sellers (universities, institutes, firms) and a
// few hundred thousand buyers.
const searchBenchContracts = 1_000_000

var (
	searchBenchOnce sync.Once
	searchBench     *Search
)

func searchFixture(b *testing.B) *Search {
	b.Helper()
	searchBenchOnce.Do(func() {
		start := time.Now()
		built := syntheticSearch(searchBenchContracts)
		// What a server holds after a restart: the Search loaded from its snapshot.
		var buf bytes.Buffer
		if err := built.WriteSnapshot(&buf); err != nil {
			panic(err)
		}
		var err error
		if searchBench, err = ReadSearchSnapshot(buf.Bytes()); err != nil {
			panic(err)
		}
		b.Logf("built a Search of %d contracts in %v", searchBench.Len(), time.Since(start))
	})
	return searchBench
}

// syntheticSearch returns a Search of n made-up contracts.
func syntheticSearch(n int) *Search {
	rng := rand.New(rand.NewPCG(12, 12))
	places := []string{"太原", "大同", "阳泉", "长治", "晋城", "朔州", "晋中", "运城", "忻州", "临汾", "吕梁", "北京", "上海", "西安", "郑州"}
	trades := []string{"能源", "煤化工", "新材料", "机械", "电子", "生物", "农业", "环保", "软件", "装备", "医药", "交通"}
	forms := []string{"有限公司", "股份有限公司", "研究院", "大学", "科技有限公司", "研究所"}
	name := func(i int) string {
		return places[i%len(places)] + trades[(i/len(places))%len(trades)] + fmt.Sprintf("%d号", i) + forms[(i/7)%len(forms)]
	}
	types := []string{"development", "transfer", "license", "consulting", "service"}
	first := ledger.Date{Year: 2019, Month: 1, Day: 1}.Time()
	s := NewSearch()
	for i := range n {
		// Registrations come roughly in date order, a few (bulk imports) out of it.
		offset := i * 7 * 365 / n
		if rng.IntN(20) == 0 {
			offset = rng.IntN(7 * 365)
		}
		day := ledger.DateOf(first.AddDate(0, 0, offset))
		e := &ledger.ContractRegistered{
			ContractID: fmt.Sprintf("%04d14%02d01%06d", day.Year, 1+rng.IntN(11), i%1_000_000),
			Title:      trades[rng.IntN(len(trades))] + "技术开发与转让项目",
			Type:       types[rng.IntN(len(types))], RegisteredOn: day,
			Amount: decimal.New(int64(rng.IntN(100_000_000)), -2),
			Seller: ledger.Party{Name: name(rng.IntN(3000))},
			Buyer:  ledger.Party{Name: name(3000 + rng.IntN(300_000))},
		}
		if rng.IntN(10) == 0 {
			e.Intermediary = &ledger.Party{Name: name(400_000 + rng.IntN(200))}
		}
		if err := s.apply(e); err != nil {
			panic(err)
		}
		if rng.IntN(20) == 0 {
			if err := s.apply(&ledger.ContractRevoked{ContractID: e.ContractID}); err != nil {
				panic(err)
			}
		}
		s.pos++
	}
	return s
}

// BenchmarkSearch_Find times the queries of the search page over 1,000,000 contracts and
// reports the p99 of each (ns/op is the mean). The baseline ("scan") is the least a query
// that counts its matches does: one pass over every contract in day order reading one
// byte of each; ratio-to-scan is each query's mean over the baseline's, in the same run.
func BenchmarkSearch_Find(b *testing.B) {
	s := searchFixture(b)
	var baseline float64
	b.Run("scan", func(b *testing.B) {
		n := 0
		for b.Loop() {
			for _, d := range s.dayList {
				for _, i := range s.buckets[d] {
					n += int(s.typs[i])
				}
			}
		}
		baseline = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if n < 0 {
			b.Fatal(n)
		}
	})
	d := func(y, m, dd int) ledger.Date { return ledger.Date{Year: y, Month: time.Month(m), Day: dd} }
	queries := []struct {
		name string
		q    SearchQuery
	}{
		{"first-page", SearchQuery{}},
		{"number-prefix", SearchQuery{NumberPrefix: "20231401"}},
		{"party-seller", SearchQuery{Party: "太原能源0号"}},
		{"party-many", SearchQuery{Party: "太原能源"}},
		{"party-substring-wide", SearchQuery{Party: "大学"}},
		{"party-rare", SearchQuery{Party: "不存在"}},
		{"type-status", SearchQuery{Type: "license", Status: StatusRevoked}},
		{"date-range-month", SearchQuery{From: d(2022, 3, 1), To: d(2022, 3, 31)}},
		{"everything", SearchQuery{NumberPrefix: "2022", Party: "能源", Type: "transfer", Status: StatusRegistered, From: d(2022, 1, 1), To: d(2022, 12, 31)}},
		{"deep-page", SearchQuery{Offset: 500_000, Limit: 50}},
	}
	for _, qc := range queries {
		b.Run(qc.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				if _, err := s.Find(qc.q); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			p99 := lat[len(lat)*99/100]
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			if baseline > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseline, "ratio-to-scan")
			}
		})
	}
}

// BenchmarkSearchRunner_Start times what a restart does over 1,000,000 contracts (issue
// 12: "snapshot or rebuild ≤ 1 s at 1M contracts"): a SearchRunner starts from its
// snapshot file, checks it against the log and is ready to answer. The baseline, in the
// same run, is the least any loader does: read the file and check its CRC-32C. It also
// reports the CPU time the start took (the process's, garbage collection included), the
// snapshot's size and the heap the loaded Search holds.
func BenchmarkSearchRunner_Start(b *testing.B) {
	s := searchFixture(b)
	dir := b.TempDir()
	var buf bytes.Buffer
	if err := s.WriteSnapshot(&buf); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SearchSnapshotFile), buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	log := snapshotLog{rec: ledger.Record{Position: s.Position(), Hash: s.Hash()}}
	opts := SearchRunnerOptions{SnapshotDir: dir, Logger: slog.New(slog.DiscardHandler)}
	var base, start, startCPU time.Duration
	var heap uint64
	for b.Loop() {
		t0 := time.Now()
		raw, err := os.ReadFile(filepath.Join(dir, SearchSnapshotFile))
		if err != nil {
			b.Fatal(err)
		}
		_ = crc32.Checksum(raw, searchCRC)
		base += time.Since(t0)
		raw = nil

		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ctx, cancel := context.WithCancel(context.Background())
		r := NewSearchRunner(log, opts)
		c0, t0 := processCPU(), time.Now()
		if err := r.Start(ctx); err != nil {
			b.Fatal(err)
		}
		start += time.Since(t0)
		startCPU += time.Duration(processCPU() - c0)
		cancel()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - before.HeapAlloc
		if r.Position() != s.Position() || r.s.Len() != s.Len() {
			b.Fatal("the runner did not start from the snapshot")
		}
		runtime.KeepAlive(r)
	}
	b.ReportMetric(float64(start.Microseconds())/1000/float64(b.N), "start-ms")
	b.ReportMetric(float64(startCPU.Microseconds())/1000/float64(b.N), "start-cpu-ms")
	b.ReportMetric(float64(base.Microseconds())/1000/float64(b.N), "read+crc-ms")
	b.ReportMetric(float64(start)/float64(base), "ratio")
	b.ReportMetric(float64(buf.Len())/1e6, "snapshot-MB")
	b.ReportMetric(float64(heap)/1e6, "heap-MB")
}

// snapshotLog is a log whose head is rec, the record a snapshot was taken at: all a
// SearchRunner starting from that snapshot reads of it.
type snapshotLog struct{ rec ledger.Record }

func (l snapshotLog) ReadAll(_ context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		if from <= l.rec.Position {
			yield(l.rec, nil)
		}
	}
}

func (l snapshotLog) Subscribe(ctx context.Context, _ ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(func(ledger.Record, error) bool) { <-ctx.Done() }
}

func (l snapshotLog) Head(context.Context) (ledger.Position, error) { return l.rec.Position, nil }
