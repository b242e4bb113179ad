package commands_test

import (
	"bytes"
	"testing"
	"time"

	"techledger/commands"
	"techledger/ledger/filestore"
	"techledger/ledger/memstore"
)

// BenchmarkImport_Paired64 alternates, within one benchmark, the command benchmark's
// phase (pairedN commands from 64 callers on a fresh filestore) and an import of the same
// commands as one NDJSON file (the callers' lines interleaved, each contract's in order)
// on another fresh filestore, so that load changes on a shared machine fall on both sides
// alike. It reports both rates and their ratio (target ≥ 0.8). Run with -benchtime 5x.
func BenchmarkImport_Paired64(b *testing.B) {
	const pairedN = 40_000
	var cmdTime, importTime time.Duration
	var cmds, imported int
	for range b.N {
		d, lat := commandsPhase(b, pairedN, callers)
		cmdTime += d
		cmds += len(lat)
		d, n := importPhase(b, pairedN)
		importTime += d
		imported += n
	}
	b.StopTimer()
	cmdRate := float64(cmds) / cmdTime.Seconds()
	importRate := float64(imported) / importTime.Seconds()
	b.ReportMetric(cmdRate, "commands/s")
	b.ReportMetric(importRate, "import-commands/s")
	b.ReportMetric(importRate/cmdRate, "ratio")
}

// importPhase imports about n commands of the command benchmark's workload, as one file,
// into a fresh filestore and returns the time taken and the commands applied.
func importPhase(b *testing.B, n int) (time.Duration, int) {
	s, err := filestore.Open(b.TempDir(), filestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	work := workload(n, callers, 3)
	var file bytes.Buffer
	for i := 0; ; i++ {
		more := false
		for _, w := range work {
			if i < len(w) {
				file.Write(w[i])
				file.WriteByte('\n')
				more = true
			}
		}
		if !more {
			break
		}
	}
	start := time.Now()
	// As the import verb does by default: lanes append as their lines are decided.
	sum, err := commands.ImportTo(ctx, &file, commands.HandlerApplier{Handler: commands.NewHandler(s), Who: registrar}, commands.ImportOptions{})
	d := time.Since(start)
	if err != nil || sum.Rejected > 0 {
		b.Fatalf("import: %v, %d rejected", err, sum.Rejected)
	}
	return d, sum.Applied
}

// BenchmarkImport_OneLine imports a file of one command into a fresh memstore, and, in the
// same loop, hands the same command to Handler.HandleJSON on another fresh memstore (the
// baseline). It reports the time of each and their ratio: the fixed cost of an import,
// which every small file pays (a console upload of a few lines, each FuzzImport exec).
// Lanes start with their first line: on 2026-12-01 the ratio was 3.5-3.8 (most of it the
// 64 KiB read buffer); when all 256 lanes started with every import it was 29.5.
func BenchmarkImport_OneLine(b *testing.B) {
	line := []byte(compact(b, register("2023140101000123", "c-1", "100.00")))
	var importTime, handleTime time.Duration
	for b.Loop() {
		h := newHandler(memstore.New())
		start := time.Now()
		sum, err := commands.Import(ctx, bytes.NewReader(line), h, registrar, nil)
		importTime += time.Since(start)
		if err != nil || sum.Applied != 1 {
			b.Fatalf("import: %+v, %v", sum, err)
		}
		h = newHandler(memstore.New())
		start = time.Now()
		if _, err := h.HandleJSON(ctx, line, registrar); err != nil {
			b.Fatal(err)
		}
		handleTime += time.Since(start)
	}
	b.ReportMetric(float64(importTime.Nanoseconds())/float64(b.N), "import-ns/op")
	b.ReportMetric(float64(handleTime.Nanoseconds())/float64(b.N), "handle-ns/op")
	b.ReportMetric(float64(importTime)/float64(handleTime), "ratio")
}
