package commands_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"techledger/commands"
	"techledger/internal/rawlog"
	"techledger/ledger/filestore"
)

// The end-to-end benchmark: JSON command in, durable events out, on the filestore, with
// the raw append baseline of the ledger benchmark (framed writes + group commit to a plain
// file, ~300-byte records) measured in the same run for the ratio.

const callers = 64

// workload makes the commands for n commands' worth of contracts: each contract is one
// registration followed by paymentsPer payments (a realistic mix: most traffic is payments
// on contracts registered earlier). Contracts are dealt to callers round-robin; a caller
// sends its contracts' commands in order.
func workload(n, callers, paymentsPer int) [][][]byte {
	perCaller := make([][][]byte, callers)
	contracts := (n + paymentsPer) / (1 + paymentsPer)
	for c := range contracts {
		id := fmt.Sprintf("2024%04d%02d%06d", 1401+c%11, 1+c/1_000_000%99, c%1_000_000)
		w := c % callers
		perCaller[w] = append(perCaller[w], []byte(compactRegister(id, c)))
		for p := range paymentsPer {
			perCaller[w] = append(perCaller[w], []byte(fmt.Sprintf(
				`{"command":"record_payment","command_id":"b-%d-p%d","contract_id":%q,"payment_id":"P-%d","amount":"1000.00","costs":"120.00","paid_on":"2024-06-30"}`,
				c, p, id, p)))
		}
	}
	return perCaller
}

func compactRegister(id string, c int) string {
	return fmt.Sprintf(`{"command":"register_contract","command_id":"b-%d","contract_id":%q,"title":"高效节能锅炉控制系统开发","type":"development","subtype":"commissioned","signed_on":"2024-03-01","registered_on":"2024-03-15","amount":"1200000.00","tech_amount":"1000000.00","field":"new_energy","seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},"buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"intermediary":null,"achievement_id":"ACH-2024-%06d","ip_types":["patent"]}`, c, id, c)
}

// runCommands handles b.N commands from callers on a fresh filestore and reports
// commands/s (over the handling alone, without opening the store and building the work).
func runCommands(b *testing.B, callers int) []time.Duration {
	d, lat := commandsPhase(b, b.N, callers)
	b.ReportMetric(float64(len(lat))/d.Seconds(), "commands/s")
	return lat
}

func reportLatency(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkHandle_Filestore64 is the target: 64 concurrent callers, durable.
func BenchmarkHandle_Filestore64(b *testing.B) {
	b.Run("commands", func(b *testing.B) { reportLatency(b, runCommands(b, callers)) })
	b.Run("raw-append", func(b *testing.B) {
		n := max(b.N, callers)
		b.ReportMetric(float64(n)/rawPhase(b, n).Seconds(), "events/s")
	})
}

// BenchmarkHandle_Filestore1 is one caller: its ns/op is the end-to-end latency of a
// durable command.
func BenchmarkHandle_Filestore1(b *testing.B) { reportLatency(b, runCommands(b, 1)) }

// BenchmarkHandle_Paired64 alternates the two sides of the ratio within one benchmark:
// each iteration appends pairedN raw records (64 appenders, group commit) and then
// handles pairedN commands (64 callers, a fresh filestore), so load changes on this shared
// machine fall on both sides alike. It reports both rates and their ratio (target ≥ 0.4)
// and the commands' latency. Run with -benchtime 5x.
func BenchmarkHandle_Paired64(b *testing.B) {
	const pairedN = 40_000
	var rawTime, cmdTime time.Duration
	var lat []time.Duration
	for range b.N {
		rawTime += rawPhase(b, pairedN)
		d, l := commandsPhase(b, pairedN, callers)
		cmdTime += d
		lat = append(lat, l...)
	}
	b.StopTimer()
	raw := float64(b.N*pairedN) / rawTime.Seconds()
	cmds := float64(len(lat)) / cmdTime.Seconds()
	b.ReportMetric(raw, "raw-events/s")
	b.ReportMetric(cmds, "commands/s")
	b.ReportMetric(cmds/raw, "ratio")
	reportLatency(b, lat)
}

// rawPhase appends n 300-byte records from 64 goroutines to a plain file with group
// commit (internal/rawlog, the ledger benchmark's baseline) and returns the time taken.
func rawPhase(b *testing.B, n int) time.Duration {
	l, err := rawlog.Open(filepath.Join(b.TempDir(), "raw.log"), true)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rec := make([]byte, 300)
	per := n / callers
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if err := l.Append(rec); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start) * time.Duration(n) / time.Duration(per*callers)
}

// commandsPhase handles about n commands of the workload from the given number of
// callers on a fresh filestore and returns the time taken and each command's latency.
func commandsPhase(b *testing.B, n, callers int) (time.Duration, []time.Duration) {
	s, err := filestore.Open(b.TempDir(), filestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := commands.NewHandler(s)
	work := workload(n, callers, 3)
	lat := make([][]time.Duration, callers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, line := range work[w] {
				t0 := time.Now()
				if _, err := h.HandleJSON(ctx, line, registrar); err != nil {
					b.Errorf("command rejected: %v", err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return d, all
}
