package jetstream_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"techledger/ledger"
	"techledger/ledger/filestore"
)

// The benchmarks set the JetStream store beside the filestore in one run, both durable: the
// filestore fsyncs (group commit), the embedded nats-server syncs every write
// (sync_interval: always) and acknowledges only then. Both get the same prebuilt events,
// made before the timer starts, and are measured in alternating phases so that the noise
// of a shared machine falls on both alike. Run them with
//
//	go test -run '^$' -bench Paired -benchtime 5x ./ledger/jetstream/

// payload is ~300 bytes of event data, like a payment event (as in the filestore's
// benchmarks).
var payload = json.RawMessage(`{"contract_id":"2023140101000123","payment_id":"P-000001","amount":"600000.00","costs":"50000.00","net":"550000.00","paid_on":"2023-06-30","allocations":[{"holder_id":"R-001","name":"张三","kind":"researcher","institution":"太原理工大学","share":"0.7","amount":"385000"}]}`)

// prebuilt returns n events with fresh IDs and their stream names.
func prebuilt(n int) ([]ledger.Event, []string) {
	evs := make([]ledger.Event, n)
	streams := make([]string, n)
	for i := range evs {
		evs[i] = ledger.Event{ID: ledger.NewEventID(), Type: ledger.TypePaymentRecorded, SchemaVersion: 1, Data: payload,
			Metadata: ledger.Metadata{Actor: "registrar-1", Role: "registrar", CommandID: "c-0004"}}
		streams[i] = fmt.Sprintf("contract-%d", i%5000)
	}
	return evs, streams
}

const appenders = 64

// phase runs n appends over 64 goroutines and returns how long they took.
func phase(b *testing.B, s ledger.Store, evs []ledger.Event, streams []string) time.Duration {
	d, _ := phaseOver(b, []ledger.Store{s}, evs, streams)
	return d
}

// phaseOver runs n appends over 64 goroutines, goroutine g appending to stores[g %
// len(stores)], and returns how long they took and the longest single Append.
func phaseOver(b *testing.B, stores []ledger.Store, evs []ledger.Event, streams []string) (d, longest time.Duration) {
	var next, slowest atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := range appenders {
		s := stores[g%len(stores)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(evs)); i = next.Add(1) - 1 {
				start := time.Now()
				if _, err := s.Append(ctx, streams[i], ledger.Any, evs[i]); err != nil {
					b.Error(err)
					return
				}
				raiseTo(&slowest, time.Since(start))
			}
		}()
	}
	wg.Wait()
	return time.Since(t0), time.Duration(slowest.Load())
}

func openBoth(b *testing.B) (*filestore.Store, ledger.Store) {
	fs, js, _ := openAll(b)
	return fs, js
}

// openAll opens a filestore, a JetStream store and, on the same nats-server, a plain
// JetStream stream for the raw publish baseline.
func openAll(b *testing.B) (*filestore.Store, ledger.Store, natsjs.JetStream) {
	fs, err := filestore.Open(b.TempDir(), filestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fs.Close() })
	srv := runServer(b)
	nc := connect(b, srv.ClientURL())
	js := openStore(b, nc, newStreamName())
	raw, err := natsjs.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := raw.CreateStream(ctx, natsjs.StreamConfig{Name: "RAW", Subjects: []string{"raw.>"}, Storage: natsjs.FileStorage}); err != nil {
		b.Fatal(err)
	}
	return fs, js, raw
}

// rawPhase publishes n ~300-byte messages from 64 goroutines, each waiting for its
// acknowledgement: what the server does for one message per event, with nothing of the
// ledger around it.
func rawPhase(b *testing.B, js natsjs.JetStream, n int) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := js.Publish(ctx, "raw.payments", payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(t0)
}

// BenchmarkPaired_DurableAppend64: 64 concurrent appenders, one ~300-byte event per
// append, durable, on the filestore and on JetStream, and beside them the raw baseline: 64
// goroutines publishing one message per event to a plain stream on the same server (file
// storage, sync always); phaseAppends appends on each per round, in alternating phases. It
// reports the three rates, the ratio filestore / JetStream (time of JetStream ÷ time of the
// filestore) and JetStream's rate over the raw baseline's.
func BenchmarkPaired_DurableAppend64(b *testing.B) {
	fs, js, raw := openAll(b)
	const phaseAppends = 2000
	fsEvs, fsStreams := prebuilt(b.N * phaseAppends)
	jsEvs, jsStreams := prebuilt(b.N * phaseAppends)
	var fsTime, jsTime, rawTime time.Duration
	b.ResetTimer()
	for r := range b.N {
		lo, hi := r*phaseAppends, (r+1)*phaseAppends
		fsTime += phase(b, fs, fsEvs[lo:hi], fsStreams[lo:hi])
		jsTime += phase(b, js, jsEvs[lo:hi], jsStreams[lo:hi])
		rawTime += rawPhase(b, raw, phaseAppends)
	}
	b.StopTimer()
	n := float64(b.N * phaseAppends)
	b.ReportMetric(n/fsTime.Seconds(), "filestore-events/s")
	b.ReportMetric(n/jsTime.Seconds(), "jetstream-events/s")
	b.ReportMetric(n/rawTime.Seconds(), "raw-publish-msgs/s")
	b.ReportMetric(jsTime.Seconds()/fsTime.Seconds(), "ratio")
	b.ReportMetric(rawTime.Seconds()/jsTime.Seconds(), "jetstream/raw")
}

// BenchmarkPaired_ReadAll replays the same log of replayEvents records (written by 64
// concurrent single-event appends, as commands write it) from both stores, decoding every
// record's envelope, and reports both rates and the ratio filestore / JetStream.
func BenchmarkPaired_ReadAll(b *testing.B) {
	const replayEvents = 10_000
	fs, js := openBoth(b)
	evs, streams := prebuilt(replayEvents)
	phase(b, fs, evs, streams)
	phase(b, js, evs, streams)
	read := func(s ledger.Store) time.Duration {
		t0 := time.Now()
		n, bytes := 0, 0
		for rec, err := range s.ReadAll(ctx, 1) {
			if err != nil {
				b.Fatal(err)
			}
			n++
			bytes += len(rec.Data)
		}
		if n != replayEvents || bytes != replayEvents*len(payload) {
			b.Fatalf("read %d records (%d bytes of data), want %d", n, bytes, replayEvents)
		}
		return time.Since(t0)
	}
	var fsTime, jsTime time.Duration
	b.ResetTimer()
	for range b.N {
		fsTime += read(fs)
		jsTime += read(js)
	}
	b.StopTimer()
	n := float64(b.N * replayEvents)
	b.ReportMetric(n/fsTime.Seconds(), "filestore-events/s")
	b.ReportMetric(n/jsTime.Seconds(), "jetstream-events/s")
	b.ReportMetric(jsTime.Seconds()/fsTime.Seconds(), "ratio")
}

// BenchmarkPaired_ThreeWriters64: 64 concurrent appenders spread over three Stores (three
// connections, as three processes) on one stream, beside the same 64 on one Store on
// another stream of the same server, in alternating phases. It reports both rates, their
// ratio (time of three writers ÷ time of one) and the longest single Append of each: with
// three writers the longest shows whether one of them starved (writers take turns,
// turns.go).
func BenchmarkPaired_ThreeWriters64(b *testing.B) {
	srv := runServer(b)
	name := newStreamName()
	var three []ledger.Store
	for range 3 {
		three = append(three, openStore(b, connect(b, srv.ClientURL()), name))
	}
	one := []ledger.Store{openStore(b, connect(b, srv.ClientURL()), newStreamName())}
	const phaseAppends = 2000
	threeEvs, threeStreams := prebuilt(b.N * phaseAppends)
	oneEvs, oneStreams := prebuilt(b.N * phaseAppends)
	var threeTime, oneTime, threeLongest, oneLongest time.Duration
	b.ResetTimer()
	for r := range b.N {
		lo, hi := r*phaseAppends, (r+1)*phaseAppends
		d, l := phaseOver(b, three, threeEvs[lo:hi], threeStreams[lo:hi])
		threeTime, threeLongest = threeTime+d, max(threeLongest, l)
		d, l = phaseOver(b, one, oneEvs[lo:hi], oneStreams[lo:hi])
		oneTime, oneLongest = oneTime+d, max(oneLongest, l)
	}
	b.StopTimer()
	n := float64(b.N * phaseAppends)
	b.ReportMetric(n/threeTime.Seconds(), "three-writers-events/s")
	b.ReportMetric(n/oneTime.Seconds(), "one-writer-events/s")
	b.ReportMetric(threeTime.Seconds()/oneTime.Seconds(), "ratio")
	b.ReportMetric(float64(threeLongest.Milliseconds()), "three-longest-ms")
	b.ReportMetric(float64(oneLongest.Milliseconds()), "one-longest-ms")
}
