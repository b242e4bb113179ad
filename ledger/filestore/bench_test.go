package filestore_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"techledger/internal/rawlog"
	"techledger/ledger"
	"techledger/ledger/filestore"
)

// The benchmarks compare the filestore with a raw baseline measured in the same run: the
// same ~300-byte payloads written as length + CRC-32C frames to a plain file with the same
// fsync discipline (one writer goroutine, group commit or fsync per record), and nothing
// else: no hashing, no index, no envelope. Each reports events/s.

// payload is ~300 bytes of event data, like a payment event.
var payload = json.RawMessage(`{"contract_id":"2023140101000123","payment_id":"P-000001","amount":"600000.00","costs":"50000.00","net":"550000.00","paid_on":"2023-06-30","allocations":[{"holder_id":"R-001","name":"张三","kind":"researcher","institution":"太原理工大学","share":"0.7","amount":"385000"}]}`)

// prebuilt returns n events with fresh IDs and their stream names, made before the timer
// starts: the raw baseline appends prebuilt bytes, so the filestore gets prebuilt events
// and both sides time the append alone.
func prebuilt(n int) ([]ledger.Event, []string) {
	evs := make([]ledger.Event, n)
	streams := make([]string, n)
	for i := range evs {
		evs[i] = benchEvent()
		streams[i] = fmt.Sprintf("contract-%d", i%5000)
	}
	return evs, streams
}

func benchEvent() ledger.Event {
	return ledger.Event{ID: ledger.NewEventID(), Type: ledger.TypePaymentRecorded, SchemaVersion: 1, Data: payload,
		Metadata: ledger.Metadata{Actor: "registrar-1", Role: "registrar", CommandID: "c-0004"}}
}

func newRawLog(b *testing.B, group bool) *rawlog.Log {
	l, err := rawlog.Open(filepath.Join(b.TempDir(), "raw.log"), group)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// runConcurrent runs b.N appends spread over n goroutines.
func runConcurrent(b *testing.B, n int, appendOne func(i int64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := appendOne(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

const appenders = 64

// BenchmarkAppend_Concurrent64: 64 concurrent appenders, one ~300-byte event each, durable.
func BenchmarkAppend_Concurrent64(b *testing.B) {
	b.Run("filestore", func(b *testing.B) {
		s := open(b, b.TempDir(), filestore.Options{})
		evs, streams := prebuilt(b.N + 1)
		runConcurrent(b, appenders, func(i int64) error {
			_, err := s.Append(ctx, streams[i], ledger.Any, evs[i])
			return err
		})
	})
	b.Run("raw-group-commit", func(b *testing.B) {
		l := newRawLog(b, true)
		runConcurrent(b, appenders, func(int64) error { return l.Append(benchRecordBytes) })
	})
}

// BenchmarkAppend_Single: one appender, durable (every append waits for its own fsync).
func BenchmarkAppend_Single(b *testing.B) {
	b.Run("filestore", func(b *testing.B) {
		s := open(b, b.TempDir(), filestore.Options{})
		evs, streams := prebuilt(b.N + 1)
		runConcurrent(b, 1, func(i int64) error {
			_, err := s.Append(ctx, streams[i], ledger.Any, evs[i])
			return err
		})
	})
	b.Run("raw-fsync-per-record", func(b *testing.B) {
		l := newRawLog(b, false)
		runConcurrent(b, 1, func(int64) error { return l.Append(benchRecordBytes) })
	})
}

// benchRecordBytes is what the filestore writes for one bench event (its record encoding),
// so both sides write the same number of bytes.
var benchRecordBytes = func() []byte {
	e := benchEvent()
	r := ledger.Record{ID: e.ID, Stream: "contract-1234", Version: 1, Position: 1, Type: e.Type, SchemaVersion: 1, Data: e.Data, Metadata: e.Metadata}
	r.Seal(ledger.Hash{})
	return r.AppendBinary(nil)
}()

// BenchmarkReadAll scans a log of 200,000 records with envelope decode (data is not
// parsed as JSON).
func BenchmarkReadAll(b *testing.B) {
	const n = 200_000
	dir := b.TempDir()
	s := open(b, dir, filestore.Options{})
	batch := make([]ledger.Event, 100)
	for i := 0; i < n; i += len(batch) {
		for j := range batch {
			batch[j] = benchEvent()
		}
		if _, err := s.Append(ctx, fmt.Sprintf("contract-%d", i), ledger.NoStream, batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	total := 0
	for range b.N {
		for rec, err := range s.ReadAll(ctx, 1) {
			if err != nil {
				b.Fatal(err)
			}
			total += len(rec.Data)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
	if total != n*b.N*len(payload) {
		b.Fatalf("read %d bytes of data, want %d", total, n*b.N*len(payload))
	}
}

// The paired benchmarks measure the filestore and the raw baseline in alternation, so that
// the noise of a shared machine (other tenants, disk latency drifting over seconds) falls
// on both alike: the single-appender one alternates append by append; the concurrent one
// alternates phases of phaseAppends appends by 64 goroutines. They report both rates and
// their ratio; run them with -benchtime 20x or more.

// BenchmarkPaired_Single is (b): one appender, durable, against raw fsync-per-record.
func BenchmarkPaired_Single(b *testing.B) {
	s := open(b, b.TempDir(), filestore.Options{})
	l := newRawLog(b, false)
	const perRound = 200
	evs, streams := prebuilt(b.N * perRound)
	var fs, raw time.Duration
	b.ResetTimer()
	for r := range b.N {
		for i := range perRound {
			k := r*perRound + i
			t0 := time.Now()
			if _, err := s.Append(ctx, streams[k], ledger.Any, evs[k]); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := l.Append(benchRecordBytes); err != nil {
				b.Fatal(err)
			}
			fs, raw = fs+t1.Sub(t0), raw+time.Since(t1)
		}
	}
	reportPair(b, float64(b.N*perRound), fs, raw)
}

// BenchmarkPaired_Concurrent64 is (a): 64 appenders, durable, against raw group commit.
func BenchmarkPaired_Concurrent64(b *testing.B) {
	s := open(b, b.TempDir(), filestore.Options{})
	l := newRawLog(b, true)
	const phaseAppends = 6400
	var fs, raw time.Duration
	phase := func(appendOne func(i int64) error) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		t0 := time.Now()
		for range appenders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= phaseAppends; i = next.Add(1) {
					if err := appendOne(i); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(t0)
	}
	evs, streams := prebuilt(b.N*phaseAppends + 1)
	b.ResetTimer()
	for r := range b.N {
		base := int64(r * phaseAppends)
		fs += phase(func(i int64) error {
			_, err := s.Append(ctx, streams[base+i], ledger.Any, evs[base+i])
			return err
		})
		raw += phase(func(int64) error { return l.Append(benchRecordBytes) })
	}
	reportPair(b, float64(b.N*phaseAppends), fs, raw)
}

func reportPair(b *testing.B, n float64, fs, raw time.Duration) {
	b.ReportMetric(n/fs.Seconds(), "filestore-events/s")
	b.ReportMetric(n/raw.Seconds(), "raw-events/s")
	b.ReportMetric(raw.Seconds()/fs.Seconds(), "ratio")
}
