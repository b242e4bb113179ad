package transparency_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/memstore"
	"techledger/transparency"
)

// BenchmarkPaired_TreeBuild appends records to an empty tree (hash file written, not
// fsynced), in batches of 65,536 chain hashes as a Log does when it rebuilds: the cost of
// building the tree from scratch, without reading the log. Each round alternates it with a
// baseline measured in the same run: the two SHA-256 per record that RFC 6962 costs
// anyway (a leaf hash and, on average, one node hash) on one goroutine, with nothing
// stored. Reports both rates by the wall clock and their ratio (the tree hashes on every
// core, so it may exceed 1), and both rates per CPU-second of the process (getrusage),
// which a machine shared with other work changes less, and their ratio.
func BenchmarkPaired_TreeBuild(b *testing.B) {
	const n, batch = 1 << 20, 1 << 16
	chains := make([]ledger.Hash, n)
	for i := range chains {
		chains[i] = chainHash(i)
	}
	var build, base, buildCPU, baseCPU time.Duration
	var sink tlog.Hash
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		tree, err := transparency.OpenTree(filepath.Join(b.TempDir(), "tree.hashes"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0, t0 := cpuTime(), time.Now()
		for i := 0; i < n; i += batch {
			if err := tree.Append(chains[i : i+batch]...); err != nil {
				b.Fatal(err)
			}
		}
		c1, t1 := cpuTime(), time.Now()
		for i := range chains {
			sink = tlog.NodeHash(sink, transparency.LeafHash(chains[i]))
		}
		c2, t2 := cpuTime(), time.Now()
		build, base, buildCPU, baseCPU = build+t1.Sub(t0), base+t2.Sub(t1), buildCPU+c1-c0, baseCPU+c2-c1
		rounds++
		b.StopTimer()
		tree.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*rounds)/build.Seconds(), "tree-records/s")
	b.ReportMetric(float64(n*rounds)/buildCPU.Seconds(), "tree-records/cpu-s")
	b.ReportMetric(float64(n*rounds)/base.Seconds(), "hash-only-records/s")
	b.ReportMetric(float64(n*rounds)/baseCPU.Seconds(), "hash-only-records/cpu-s")
	b.ReportMetric(base.Seconds()/build.Seconds(), "ratio")
	b.ReportMetric(baseCPU.Seconds()/buildCPU.Seconds(), "cpu-ratio")
	_ = sink
}

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPaired_Rebuild opens a Log with no hash file over a filestore of 1,000,000
// records (built once per run, ~170 MB): reading the log (ScanRaw, decoding the chain
// fields, checking positions and links), building the tree and writing its hash file. Each
// round alternates it with two baselines measured in the same run: a bare scan of the same
// log (ScanRaw, the same decoding and checks, nothing else) and the bare hashing of its
// records (two SHA-256 per record on one goroutine, nothing read or stored). Reports the three rates by the wall
// clock and per CPU-second of the process, the rebuild's wall-clock ratio to each
// baseline, and the ratio of the CPU time of scan plus hashing to the rebuild's.
func BenchmarkPaired_Rebuild(b *testing.B) {
	const n, writers = 1_000_000, 8
	ctx := context.Background()
	s, err := filestore.Open(filepath.Join(b.TempDir(), "log"), filestore.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			batch := make([]ledger.Event, ledger.EventsPerAppendMax)
			for i := w * len(batch); i < n; i += writers * len(batch) {
				k := min(len(batch), n-i)
				for j := range k {
					batch[j] = event(contractID(i+j), ledger.TypePaymentRecorded, j)
				}
				if _, err := s.Append(ctx, fmt.Sprintf("contract-%d", i), ledger.NoStream, batch[:k]...); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var chains []ledger.Hash
	for rec, err := range s.ReadAll(ctx, 1) {
		if err != nil {
			b.Fatal(err)
		}
		chains = append(chains, rec.Hash)
	}
	if len(chains) != n {
		b.Fatalf("log has %d records", len(chains))
	}
	var rebuild, scan, hash, rebuildCPU, scanCPU, hashCPU time.Duration
	var sink tlog.Hash
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		c0, t0 := cpuTime(), time.Now()
		l, err := transparency.Open(ctx, s, transparency.Options{Dir: dir, Logger: quiet})
		c1, t1 := cpuTime(), time.Now()
		if err != nil {
			b.Fatal(err)
		}
		if l.Size() != n {
			b.Fatalf("size %d", l.Size())
		}
		b.StopTimer()
		l.Close()
		b.StartTimer()
		c2, t2 := cpuTime(), time.Now()
		var last ledger.Hash
		err = s.ScanRaw(ctx, 1, func(pos ledger.Position, raw []byte) error {
			p, prev, hash, err := ledger.DecodeChain(raw)
			if err != nil || p != pos || prev != last {
				return fmt.Errorf("position %d: %v", pos, err)
			}
			last = hash
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		c3, t3 := cpuTime(), time.Now()
		for i := range chains {
			sink = tlog.NodeHash(sink, transparency.LeafHash(chains[i]))
		}
		c4, t4 := cpuTime(), time.Now()
		rebuild, rebuildCPU = rebuild+t1.Sub(t0), rebuildCPU+c1-c0
		scan, hash = scan+t3.Sub(t2), hash+t4.Sub(t3)
		scanCPU, hashCPU = scanCPU+c3-c2, hashCPU+c4-c3
		rounds++
	}
	records := float64(n * rounds)
	b.ReportMetric(records/rebuild.Seconds(), "rebuild-records/s")
	b.ReportMetric(records/rebuildCPU.Seconds(), "rebuild-records/cpu-s")
	b.ReportMetric(records/scan.Seconds(), "scan-records/s")
	b.ReportMetric(records/hash.Seconds(), "hash-only-records/s")
	b.ReportMetric(records/scanCPU.Seconds(), "scan-records/cpu-s")
	b.ReportMetric(records/hashCPU.Seconds(), "hash-only-records/cpu-s")
	b.ReportMetric(scan.Seconds()/rebuild.Seconds(), "ratio-to-scan")
	b.ReportMetric(hash.Seconds()/rebuild.Seconds(), "ratio-to-hash")
	// Per CPU-second: the rebuild's CPU against that of a scan followed by the hashing.
	b.ReportMetric((scanCPU+hashCPU).Seconds()/rebuildCPU.Seconds(), "cpu-ratio-to-scan+hash")
	_ = sink
}

// BenchmarkPaired_InclusionProof10M: inclusion proofs of random leaves at size 10,000,000
// (hash file on disk, ~640 MB, in the page cache once built; building is not timed).
// Each iteration times one proof by Tree.InclusionProof and, as the baseline in the same
// run, the same proof by tlog.ProveRecord over a reader that reads each hash from the file
// with its own pread (what Tree did before it kept levels 8 and up in memory); both must be
// equal. Reports the latency percentiles of both, and the time to reopen the tree (which
// reads levels 8 and up into memory).
func BenchmarkPaired_InclusionProof10M(b *testing.B) {
	const n = 10_000_000
	path := filepath.Join(b.TempDir(), "tree.hashes")
	tree, err := transparency.OpenTree(path)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]ledger.Hash, 1<<16)
	for i := 0; i < n; i += len(batch) {
		k := min(len(batch), n-i)
		for j := range k {
			batch[j] = chainHash(i + j)
		}
		if err := tree.Append(batch[:k]...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tree.Close(); err != nil {
		b.Fatal(err)
	}
	// Reopening reads levels 8 and up back into memory (one read per 256 records).
	t0 := time.Now()
	tree, err = transparency.OpenTree(path)
	if err != nil {
		b.Fatal(err)
	}
	open := time.Since(t0)
	defer tree.Close()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	perHash := preadReader{f}
	rng := rand.New(rand.NewPCG(1, 2))
	var lat, base []time.Duration
	for b.Loop() {
		i := rng.Int64N(n)
		t0 := time.Now()
		p, err := tree.InclusionProof(i, n)
		t1 := time.Now()
		q, qerr := tlog.ProveRecord(n, i, perHash)
		t2 := time.Now()
		if err != nil || qerr != nil || !slices.Equal(p, q) {
			b.Fatalf("leaf %d: proofs differ (%v, %v)", i, err, qerr)
		}
		lat, base = append(lat, t1.Sub(t0)), append(base, t2.Sub(t1))
	}
	slices.Sort(lat)
	slices.Sort(base)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(base[len(base)/2].Nanoseconds()), "pread-each-p50-ns")
	b.ReportMetric(float64(base[len(base)*99/100].Nanoseconds()), "pread-each-p99-ns")
	b.ReportMetric(float64(open.Milliseconds()), "reopen-ms")
}

// preadReader reads each stored hash of a tree's hash file with its own pread.
type preadReader struct{ f *os.File }

func (r preadReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for k, i := range indexes {
		if _, err := r.f.ReadAt(out[k][:], (i+1)*tlog.HashSize); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// BenchmarkAudit audits the JSON bundle of a contract of 10 events in a log of 100,000
// records (decode, signature, hashes, proofs), as `techledger audit` does after reading
// the file. Reports ms per audit.
func BenchmarkAudit(b *testing.B) {
	s := memstore.New()
	ctx := context.Background()
	batch := make([]ledger.Event, 100)
	for i := 0; i < 100_000; i += len(batch) {
		for j := range batch {
			batch[j] = event("x", ledger.TypePaymentRecorded, j)
		}
		if _, err := s.Append(ctx, fmt.Sprintf("other-%d", i), ledger.NoStream, batch...); err != nil {
			b.Fatal(err)
		}
		if i%10_000 == 0 {
			id := contractID(0)
			typ := ledger.TypeContractAmended
			if i == 0 {
				typ = ledger.TypeContractRegistered
			}
			if _, err := s.Append(ctx, ledger.ContractStream(id), ledger.Any, event(id, typ, i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	l := openLog(b, s, b.TempDir())
	if _, err := l.SignNow(); err != nil {
		b.Fatal(err)
	}
	bundle, err := l.Bundle(ctx, contractID(0))
	if err != nil {
		b.Fatal(err)
	}
	raw, err := json.Marshal(bundle)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		var bb transparency.Bundle
		if err := json.Unmarshal(raw, &bb); err != nil {
			b.Fatal(err)
		}
		rep, err := transparency.Audit(&bb, testVKey)
		if err != nil || rep.Events != 10 {
			b.Fatal(err, rep.Events)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/audit")
}

// BenchmarkPaired_AppendWithTree: 64 appenders, durable appends to a filestore, in
// alternating phases: on one store with nothing following it, and on another with a Log
// following it (Run: tree maintained, a checkpoint signed every 100 ms). A with-tree phase
// ends only when every append returned and the tree holds every record. Reports both rates
// and their ratio (with/without); run with -benchtime 20x or more.
func BenchmarkPaired_AppendWithTree(b *testing.B) {
	const appenders, phaseAppends = 64, 6400
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(dir string) *filestore.Store {
		s, err := filestore.Open(dir, filestore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	plain, treed := open(filepath.Join(b.TempDir(), "plain")), open(filepath.Join(b.TempDir(), "treed"))
	opts := options(b, filepath.Join(b.TempDir(), "tlog"), testSKey)
	opts.Interval = 100 * time.Millisecond
	l, err := transparency.Open(ctx, treed, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go l.Run(ctx)

	evs := make([]ledger.Event, b.N*phaseAppends*2+1)
	streams := make([]string, len(evs))
	for i := range evs {
		evs[i] = event(contractID(i%5000), ledger.TypePaymentRecorded, i)
		streams[i] = fmt.Sprintf("contract-%d", i%5000)
	}
	phase := func(s *filestore.Store, base int64) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range appenders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= phaseAppends; i = next.Add(1) {
					if _, err := s.Append(ctx, streams[base+i], ledger.Any, evs[base+i]); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	var without, with time.Duration
	b.ResetTimer()
	for r := range b.N {
		base := int64(2 * r * phaseAppends)
		t0 := time.Now()
		phase(plain, base)
		t1 := time.Now()
		phase(treed, base+phaseAppends)
		for l.Size() < int64((r+1)*phaseAppends) {
			time.Sleep(50 * time.Microsecond)
		}
		without, with = without+t1.Sub(t0), with+time.Since(t1)
	}
	b.StopTimer()
	n := float64(b.N * phaseAppends)
	b.ReportMetric(n/without.Seconds(), "plain-events/s")
	b.ReportMetric(n/with.Seconds(), "with-tree-events/s")
	b.ReportMetric(without.Seconds()/with.Seconds(), "ratio")
}
