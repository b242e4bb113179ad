package projections

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
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

// BenchmarkSearch_SnapshotLoad times loading the snapshot of 1,000,000 contracts (what a
// restart does instead of replaying the log), against the same run's baseline of only
// checking the snapshot's bytes (CRC-32C of a copy, the least any loader does).
func BenchmarkSearch_SnapshotLoad(b *testing.B) {
	s := searchFixture(b)
	var buf bytes.Buffer
	if err := s.WriteSnapshot(&buf); err != nil {
		b.Fatal(err)
	}
	raw := buf.Bytes()
	b.Logf("snapshot of %d contracts: %d bytes", s.Len(), len(raw))
	var base, load time.Duration
	for b.Loop() {
		t0 := time.Now()
		cp := bytes.Clone(raw)
		_ = crc32.Checksum(cp, searchCRC)
		base += time.Since(t0)
		t0 = time.Now()
		got, err := ReadSearchSnapshot(raw)
		if err != nil {
			b.Fatal(err)
		}
		load += time.Since(t0)
		if got.Len() != s.Len() {
			b.Fatal("lost contracts")
		}
	}
	b.ReportMetric(float64(load.Milliseconds())/float64(b.N), "load-ms")
	b.ReportMetric(float64(base.Milliseconds())/float64(b.N), "baseline-ms")
	b.ReportMetric(float64(load)/float64(base), "ratio")
}
