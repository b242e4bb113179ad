package reports_test

import (
	"sync"
	"testing"
	"time"

	"techledger/internal/sample"
	"techledger/projections"
	"techledger/reports"
)

// Benchmarks of the report at scale (docs/reports.md, Speed). The State holds the
// registrations of 1,000,000 generated contracts (decided by package commands, folded by
// Apply; no payments, so rewards_by_institution is empty), built once per run:
//
//	go test -run '^$' -bench 'Report|Workbook|Scan' -benchtime 10x ./reports/
//
// BenchmarkScan_Year1M is the floor the others compare with: visiting the facts of the
// two years a report reads and doing nothing else. Each also reports cpu-ns/op, the CPU
// time the process used per operation (every thread, so the garbage collector's too): on a
// machine shared with other work it varies far less than the wall-clock ns/op.

const benchContracts = 1_000_000

// loop runs op b.N times and reports the CPU time per operation beside the wall-clock time.
func loop(b *testing.B, op func()) {
	b.Helper()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		op()
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

var (
	benchOnce  sync.Once
	benchState *projections.State
	benchErr   error
)

func bigState(b *testing.B) *projections.State {
	b.Helper()
	benchOnce.Do(func() {
		st := projections.NewState(projections.Options{})
		if benchErr = sample.Registrations(sample.Config{Seed: 2, Contracts: benchContracts}, time.Time{}, st.Apply); benchErr == nil {
			benchState = st
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	if benchState.Contracts() != benchContracts {
		b.Fatalf("%d contracts", benchState.Contracts())
	}
	return benchState
}

// benchYear is the busiest year of the sample.
const benchYear = 2024

func BenchmarkScan_Year1M(b *testing.B) {
	st := bigState(b)
	p := mustAnnual(b, benchYear)
	n := 0
	loop(b, func() {
		for _, per := range []reports.Period{p, p.Previous()} {
			st.EachContract(per.From, per.To, func(*projections.Facts) { n++ })
		}
	})
	b.ReportMetric(float64(n)/float64(b.N), "contracts/op")
}

// BenchmarkReport_Annual1M is a first request: the tables computed and encoded.
func BenchmarkReport_Annual1M(b *testing.B) {
	st := bigState(b)
	p := mustAnnual(b, benchYear)
	loop(b, func() {
		r, err := reports.Build(st, p)
		if err != nil {
			b.Fatal(err)
		}
		_ = r.AppendJSON(nil)
	})
}

// BenchmarkReport_AnnualUnchanged1M asks again while nothing was folded: the cache.
func BenchmarkReport_AnnualUnchanged1M(b *testing.B) {
	st := bigState(b)
	var c reports.Cache
	q := reports.Request{Kind: reports.KindAnnual, Year: benchYear}
	if _, err := c.Render(st, q); err != nil {
		b.Fatal(err)
	}
	loop(b, func() {
		if _, err := c.Render(st, q); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkWorkbook_Annual1M is the workbook of a report already computed (tables and tax).
func BenchmarkWorkbook_Annual1M(b *testing.B) {
	st := bigState(b)
	p := mustAnnual(b, benchYear)
	r, err := reports.Build(st, p)
	if err != nil {
		b.Fatal(err)
	}
	tax, err := reports.BuildTax(st, benchYear)
	if err != nil {
		b.Fatal(err)
	}
	loop(b, func() {
		if _, err := reports.Workbook(r, tax); err != nil {
			b.Fatal(err)
		}
	})
}
