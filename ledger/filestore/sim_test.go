package filestore_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/filestore/faultfs"
)

var (
	simSeed  = flag.Uint64("seed", 0, "TestSimulation: run only this seed (also TECHLEDGER_SIM_SEED)")
	simSeeds = flag.Int("seeds", 0, "TestSimulation: how many seeds to run (also TECHLEDGER_SIM_SEEDS; default 300, 20 with -short)")
	simTrace = flag.Bool("sim.trace", false, "TestSimulation: log every file operation of the fault file system")
	simSeq   = flag.Bool("sim.sequential", false, "TestSimulation: one appender, so that a seed replays exactly")
)

// TestSimulation runs seeded scenarios of concurrent appends on a filestore.Store over a
// fault-injecting file system (faultfs): failed and short writes, failed fsyncs, a full
// disk, kills and crashes that lose the page cache, bit flips at rest. Each seed runs
// rounds of open, retry of every append whose outcome was unknown, concurrent appends
// ended by a clean close, a kill or a crash, and checks after every reopen:
//
//   - every acknowledged event is in the log at the positions it was given;
//   - the log holds only events that were sent, each once, positions and versions gapless
//     with the hash chain whole (Verify), and every record a reader saw before the end of
//     the round is still there (nothing not yet durable was visible);
//   - Open succeeds, or refuses with a *ledger.CorruptionError naming the flipped segment
//     and the frame holding the flipped byte, exactly when a bit was flipped in the log
//     (a flip in records the index checkpoint covers is found by Verify instead);
//   - once an append has failed, every append started afterwards fails until the store is
//     reopened;
//   - a retry of an append whose outcome was unknown answers Duplicate with the positions
//     the events hold if they are in the log, and appends them if they are not.
//
// A failing seed is printed; `go test -run TestSimulation -seed N ./ledger/filestore/`
// runs it again. The appenders' interleaving is the Go scheduler's, so a replay repeats
// the workload and the faults at the same operations but may group batches differently;
// -sim.sequential runs one appender, which replays exactly.
func TestSimulation(t *testing.T) {
	seeds, first := simSeedRange(t)
	var faults, flips, crashes, uncut, resumed atomic.Int64
	for seed := first; seed < first+uint64(seeds); seed++ {
		st := runSim(t, seed)
		if st.err != nil {
			t.Fatalf("seed %d: %v\nfaults injected: %v\nreplay: TECHLEDGER_SIM_SEED=%d go test -count=1 -run '^TestSimulation$' ./ledger/filestore/", seed, st.err, st.faults, seed)
		}
		faults.Add(int64(len(st.faults)))
		flips.Add(int64(st.flips))
		crashes.Add(int64(st.crashes))
		uncut.Add(int64(st.uncut))
		resumed.Add(st.resumed.Load())
	}
	t.Logf("%d seeds from %d: %d faults injected (%d crashes or kills, %d bit flips found, %d times Close reported ErrUncutTail, appends resumed %d times after ENOSPC), every check held", seeds, first, faults.Load(), crashes.Load(), flips.Load(), uncut.Load(), resumed.Load())
}

func simSeedRange(t *testing.T) (n int, first uint64) {
	if *simSeed == 0 {
		if v := os.Getenv("TECHLEDGER_SIM_SEED"); v != "" {
			s, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("TECHLEDGER_SIM_SEED: %v", err)
			}
			*simSeed = s
		}
	}
	if *simSeed != 0 {
		return 1, *simSeed
	}
	n = *simSeeds
	if n == 0 {
		if v := os.Getenv("TECHLEDGER_SIM_SEEDS"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil {
				t.Fatalf("TECHLEDGER_SIM_SEEDS: %v", err)
			}
		}
	}
	if n == 0 {
		n = 300
		if testing.Short() {
			n = 20
		}
	}
	return n, 1
}

type simStats struct {
	err     error
	faults  []faultfs.Fault
	flips   int
	crashes int
	uncut   int           // Close returned ErrUncutTail
	resumed *atomic.Int64 // appends resumed after a full disk
}

// resumeCounter is a slog.Handler that counts the store's "appends resumed" lines.
type resumeCounter struct{ n *atomic.Int64 }

func (h resumeCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h resumeCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "appends resumed") {
		h.n.Add(1)
	}
	return nil
}
func (h resumeCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h resumeCounter) WithGroup(string) slog.Handler      { return h }

// simAppend is one append sent: its events, and the positions it was acknowledged with.
type simAppend struct {
	stream    string
	events    []ledger.Event
	positions []ledger.Position // nil: not acknowledged (outcome unknown)
}

type sim struct {
	seed     uint64
	rng      *rand.Rand
	fsys     *faultfs.FS
	opts     filestore.Options
	sent     map[uuid.UUID]*simAppend
	appends  []*simAppend
	seen     map[ledger.Position]uuid.UUID // records readers saw
	flip     *simFlip
	capacity int64 // of the disk, in the full-disk profile
	stats    simStats
}

// simFlip is a bit flipped in a segment: the frame holding it starts at frame (0 for the
// header; -1 if the byte is past the last whole frame, in a torn tail).
type simFlip struct {
	seg   string
	off   int64
	frame int64
}

func runSim(t *testing.T, seed uint64) (st simStats) {
	s := &sim{seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed)), sent: map[uuid.UUID]*simAppend{}, seen: map[ledger.Position]uuid.UUID{}}
	s.stats.resumed = new(atomic.Int64)
	r := s.rng
	cfg := faultfs.Config{Seed: int64(seed), KeepUnsynced: 0.5, PageBytes: []int{64, 512, 4096}[r.IntN(3)]}
	if *simTrace {
		cfg.Trace = func(line string) { t.Log(line) }
	}
	rate := []float64{0.002, 0.01, 0.05}[r.IntN(3)]
	switch r.IntN(6) {
	case 0: // crashes and flips only
	case 1:
		cfg.SyncErr = rate
	case 2:
		cfg.WriteErr, cfg.NoSpace = rate, rate
	case 3:
		cfg.WriteErr, cfg.NoSpace, cfg.SyncErr, cfg.TruncateErr, cfg.SyncDirErr = rate, rate, rate, rate, rate
	case 4:
		cfg.Capacity = int64(4096 + r.IntN(64<<10))
		s.capacity = cfg.Capacity
	case 5:
		cfg.SyncErr, cfg.TruncateErr = rate, 0.3
	}
	s.fsys = faultfs.New(cfg)
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	s.opts = filestore.Options{
		SegmentBytes:      int64([]int{512, 2048, 16 << 10, 1 << 20}[r.IntN(4)]),
		CheckpointRecords: []int{-1, 4, 40}[r.IntN(3)],
		Logger:            slog.New(resumeCounter{s.stats.resumed}),
		NoSpaceRetry:      time.Nanosecond, // try to resume at every append after a full disk
		Now: func() time.Time {
			clockMu.Lock()
			defer clockMu.Unlock()
			clock = clock.Add(time.Millisecond)
			return clock
		},
	}
	defer func() {
		s.stats.faults = s.fsys.Faults()
		st = s.stats
	}()
	rounds := 2 + r.IntN(3)
	for round := range rounds {
		done, err := s.round(round == rounds-1)
		if err != nil {
			s.stats.err = fmt.Errorf("round %d: %w", round, err)
			return
		}
		if done {
			return
		}
	}
	// The end: open with no fault injected, check, verify, close.
	s.fsys.Pause(true)
	store, done, err := s.open()
	if err != nil || done {
		s.stats.err = err
		return
	}
	defer store.Close()
	if err := s.check(store); err != nil {
		s.stats.err = fmt.Errorf("final: %w", err)
	}
	return
}

// open opens the store on a new process. It reports done when the open or Verify refused
// the log as corrupt where a bit was flipped (the scenario ends there).
func (s *sim) open() (*filestore.Store, bool, error) {
	opts := s.opts
	opts.FS = s.fsys.Proc()
	store, err := filestore.Open(simDir, opts)
	if err != nil {
		var ce *ledger.CorruptionError
		if errors.As(err, &ce) {
			return nil, true, s.corruptionExpected(ce, "open")
		}
		// A fault during recovery (truncating the torn tail): try again without faults,
		// as an operator would once the disk is healthy.
		if !isInjected(err) {
			return nil, false, fmt.Errorf("open: %w", err)
		}
		s.fsys.Pause(true)
		defer s.fsys.Pause(false)
		if store, err = filestore.Open(simDir, opts); err != nil {
			if errors.As(err, &ce) {
				return nil, true, s.corruptionExpected(ce, "open")
			}
			return nil, false, fmt.Errorf("open again without faults: %w", err)
		}
	}
	if s.flip != nil {
		// A flip Open did not refuse: either it is in what the index checkpoint covers,
		// which Verify finds, or it is in a torn tail Open cut off.
		_, err := store.Verify(context.Background())
		var ce *ledger.CorruptionError
		if errors.As(err, &ce) {
			store.Close()
			return nil, true, s.corruptionExpected(ce, "verify")
		}
		if err != nil {
			store.Close()
			return nil, false, fmt.Errorf("verify: %w", err)
		}
		if s.flip.frame >= 0 && slices.Contains(s.fsys.List(simDir), s.flip.seg) {
			// (A segment Open removed held nothing but its header: an empty segment
			// created for batches that never became durable.)
			store.Close()
			return nil, false, fmt.Errorf("bit flipped in %s offset %d (frame at %d): open and verify found nothing", s.flip.seg, s.flip.off, s.flip.frame)
		}
		s.flip = nil
	}
	return store, false, nil
}

var locationRE = regexp.MustCompile(`^segment (\S+) offset (\d+)$`)

// corruptionExpected checks a corruption report against the flip injected.
func (s *sim) corruptionExpected(ce *ledger.CorruptionError, by string) error {
	if s.flip == nil {
		return fmt.Errorf("%s reports corruption, none was injected: %v", by, ce)
	}
	m := locationRE.FindStringSubmatch(ce.Location)
	if m == nil {
		return fmt.Errorf("%s reports corruption without a segment and offset: %v", by, ce)
	}
	off, _ := strconv.ParseInt(m[2], 10, 64)
	f := s.flip
	if m[1] != f.seg {
		return fmt.Errorf("%s reports corruption in %s, the bit was flipped in %s offset %d: %v", by, m[1], f.seg, f.off, ce)
	}
	if f.frame >= 0 && (off < f.frame || off > f.off) {
		return fmt.Errorf("%s reports corruption at offset %d, the bit was flipped at %d in the frame at %d: %v", by, off, f.off, f.frame, ce)
	}
	s.stats.flips++
	return nil
}

func isInjected(err error) bool {
	return errors.Is(err, faultfs.ErrDead) || errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENOSPC)
}

// round opens the store, checks it, retries what is unknown, runs the appenders and ends
// with a close, a kill or a crash, then perhaps flips a bit.
func (s *sim) round(last bool) (bool, error) {
	store, done, err := s.open()
	if err != nil || done {
		return done, err
	}
	if err := s.check(store); err != nil {
		store.Close()
		return false, err
	}
	if s.capacity > 0 && s.rng.IntN(2) == 0 {
		s.capacity += int64(s.rng.IntN(16 << 10)) // space is freed
		s.fsys.SetCapacity(s.capacity)
	}
	var failed atomic.Bool
	if err := s.retry(store, &failed); err != nil {
		store.Close()
		return false, err
	}
	r := s.rng
	appenders := 1 + r.IntN(6)
	if *simSeq {
		appenders = 1
	}
	per := 3 + r.IntN(12)
	work := make([][]*simAppend, appenders)
	for a := range work {
		for k := range per {
			n := 1 + r.IntN(3)
			ap := &simAppend{stream: fmt.Sprintf("contract-%d-%d", a, k%3)}
			for range n {
				var id uuid.UUID
				binary.BigEndian.PutUint64(id[:8], r.Uint64())
				binary.BigEndian.PutUint64(id[8:], r.Uint64())
				id[6], id[8] = id[6]&0x0f|0x70, id[8]&0x3f|0x80 // a UUIDv7, as the ledger requires
				ap.events = append(ap.events, ledger.Event{ID: id, Type: "PaymentRecorded", SchemaVersion: 1,
					Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":%q}`, len(s.sent), strings.Repeat("x", r.IntN(200))))})
			}
			work[a] = append(work[a], ap)
		}
	}
	end := r.IntN(3) // 0 close, 1 kill, 2 crash
	if last {
		end = 0
	}
	stopAt := int64(r.IntN(appenders*per + 1))
	var acked atomic.Int64
	var ended sync.Once
	endNow := func() {
		ended.Do(func() {
			switch end {
			case 1:
				s.fsys.Kill()
			case 2:
				s.fsys.Crash()
			}
		})
	}
	var mu sync.Mutex // guards s.sent, s.appends
	var violation error
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	var readerSeen map[ledger.Position]uuid.UUID
	var readerErr error
	readerDone := make(chan struct{})
	go func() { // a reader following the log: what it sees must survive
		defer close(readerDone)
		readerSeen, readerErr = follow(ctx, store)
	}()
	for a := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ap := range work[a] {
				mu.Lock()
				for _, e := range ap.events {
					s.sent[e.ID] = ap
				}
				s.appends = append(s.appends, ap)
				mu.Unlock()
				wasFailed := failed.Load()
				res, err := store.Append(context.Background(), ap.stream, ledger.Any, ap.events...)
				if err != nil {
					if !isStoreFailure(err) {
						mu.Lock()
						violation = errors.Join(violation, fmt.Errorf("append: unexpected error: %w", err))
						mu.Unlock()
					}
					if !errors.Is(err, ledger.ErrStorageFull) { // a full disk: appends resume when space is freed
						failed.Store(true)
					}
					return
				}
				if wasFailed {
					mu.Lock()
					violation = errors.Join(violation, fmt.Errorf("append of %s at %v succeeded after an append had failed", ap.stream, res.Positions))
					mu.Unlock()
				}
				mu.Lock()
				ap.positions = res.Positions
				mu.Unlock()
				if end > 0 && acked.Add(1) >= stopAt {
					endNow()
				}
			}
		}()
	}
	wg.Wait()
	if end > 0 {
		endNow()
		s.stats.crashes++
	}
	err = store.Close()
	cancel()
	if errors.Is(err, filestore.ErrUncutTail) && end != 2 {
		// The one case the store cannot protect by itself: the page cache holds bytes the
		// disk does not, and only a restart of the machine drops them. That is what
		// ErrUncutTail tells the operator to do, so the scenario does it.
		s.fsys.Crash()
		s.stats.crashes++
		end = 2
		s.stats.uncut++
	}
	<-readerDone
	if violation != nil {
		return false, violation
	}
	if end == 0 && err != nil && !failed.Load() && !errors.Is(err, filestore.ErrUncutTail) {
		return false, fmt.Errorf("close: %w", err)
	}
	// A read racing with Close finds the segment closed.
	if readerErr != nil && !isStoreFailure(readerErr) && !errors.Is(readerErr, context.Canceled) && !errors.Is(readerErr, os.ErrClosed) {
		return false, fmt.Errorf("reader: %w", readerErr)
	}
	for p, id := range readerSeen {
		s.seen[p] = id
	}
	if end == 0 && r.IntN(3) == 0 {
		s.fsys.Crash() // a power cut after a clean close loses nothing
		s.stats.crashes++
		end = 2
	}
	if end == 2 && r.IntN(3) == 0 { // at rest: only what a crash left, all of it on disk
		s.flipBit()
	}
	return false, nil
}

// follow reads the log as it grows until ctx is done or the store closes.
func follow(ctx context.Context, store *filestore.Store) (map[ledger.Position]uuid.UUID, error) {
	seen := map[ledger.Position]uuid.UUID{}
	for rec, err := range store.Subscribe(ctx, 1) {
		if err != nil {
			if errors.Is(err, ledger.ErrClosed) {
				return seen, nil
			}
			return seen, err
		}
		seen[rec.Position] = rec.ID
	}
	return seen, nil
}

// isStoreFailure reports whether err is what a failing store answers: an injected fault,
// the store refusing appends after one, or the store closed.
func isStoreFailure(err error) bool {
	return isInjected(err) || errors.Is(err, ledger.ErrClosed)
}

// retry sends again every append whose outcome is unknown.
func (s *sim) retry(store *filestore.Store, failed *atomic.Bool) error {
	where := map[uuid.UUID]ledger.Position{}
	for rec, err := range store.ReadAll(context.Background(), 1) {
		if err != nil {
			return err
		}
		where[rec.ID] = rec.Position
	}
	for _, ap := range s.appends {
		if ap.positions != nil {
			continue
		}
		wasFailed := failed.Load()
		res, err := store.Append(context.Background(), ap.stream, ledger.Any, ap.events...)
		if err != nil {
			if !isStoreFailure(err) {
				return fmt.Errorf("retry: unexpected error: %w", err)
			}
			if !errors.Is(err, ledger.ErrStorageFull) {
				failed.Store(true)
			}
			continue
		}
		if wasFailed {
			return fmt.Errorf("retry of %s succeeded after an append had failed", ap.stream)
		}
		_, present := where[ap.events[0].ID]
		for i, e := range ap.events {
			p, ok := where[e.ID]
			if ok != present {
				return fmt.Errorf("retry: only part of a batch is in the log (event %d of %d)", i+1, len(ap.events))
			}
			if ok && (!res.Duplicate || res.Positions[i] != p) {
				return fmt.Errorf("retry of events in the log at %d answered %+v", p, res)
			}
		}
		if !present && res.Duplicate {
			return fmt.Errorf("retry of events not in the log answered duplicate %v", res.Positions)
		}
		ap.positions = res.Positions
	}
	return nil
}

// check reads the whole log and checks it against what was sent and acknowledged.
func (s *sim) check(store *filestore.Store) error {
	ctx := context.Background()
	if _, err := store.Verify(ctx); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	got := map[uuid.UUID]ledger.Record{}
	var next ledger.Position = 1
	for rec, err := range store.ReadAll(ctx, 1) {
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if rec.Position != next {
			return fmt.Errorf("read position %d, want %d", rec.Position, next)
		}
		next++
		ap, ok := s.sent[rec.ID]
		if !ok {
			return fmt.Errorf("position %d holds event %s, which was never sent", rec.Position, rec.ID)
		}
		if _, dup := got[rec.ID]; dup {
			return fmt.Errorf("event %s stored twice", rec.ID)
		}
		if rec.Stream != ap.stream {
			return fmt.Errorf("position %d: stream %q, sent to %q", rec.Position, rec.Stream, ap.stream)
		}
		got[rec.ID] = rec
	}
	for _, ap := range s.appends {
		for i, e := range ap.events {
			rec, ok := got[e.ID]
			if ap.positions != nil {
				if !ok {
					return fmt.Errorf("acknowledged event %s (position %d, %s) is lost", e.ID, ap.positions[i], ap.stream)
				}
				if rec.Position != ap.positions[i] {
					return fmt.Errorf("acknowledged event %s at position %d, was given %d", e.ID, rec.Position, ap.positions[i])
				}
			}
			if ok && string(rec.Data) != string(e.Data) {
				return fmt.Errorf("event %s: data %s, sent %s", e.ID, rec.Data, e.Data)
			}
		}
	}
	for p, id := range s.seen {
		if rec, ok := got[id]; !ok || rec.Position != p {
			return fmt.Errorf("a reader saw event %s at position %d, which is not there after reopen", id, p)
		}
	}
	return nil
}

// flipBit flips a random bit of a random segment file (or of the index checkpoint) and
// records which frame holds it.
func (s *sim) flipBit() {
	var files []string
	for _, name := range s.fsys.List(simDir) {
		if strings.HasSuffix(name, ".seg") || name == "INDEX" {
			files = append(files, name)
		}
	}
	if len(files) == 0 {
		return
	}
	name := files[s.rng.IntN(len(files))]
	b, _ := s.fsys.ReadFile(filepath.Join(simDir, name))
	if len(b) == 0 {
		return
	}
	off := s.rng.Int64N(int64(len(b)))
	if err := s.fsys.FlipBit(filepath.Join(simDir, name), off, uint(s.rng.IntN(8))); err != nil {
		panic(err)
	}
	if name == "INDEX" {
		return // the checkpoint's CRC fails: Open reads the whole log instead
	}
	if s.flip != nil {
		panic("two flips")
	}
	s.flip = &simFlip{seg: name, off: off, frame: frameOf(b, off)}
}

// frameOf returns the offset of the frame of segment b holding byte off: 0 in the header,
// -1 past the last whole frame. It parses the format of docs/architecture.md on its own:
// a 16-byte header, then frames of length uint32 | crc uint32 | payload.
func frameOf(b []byte, off int64) int64 {
	if off < 16 {
		return 0
	}
	at := int64(16)
	for at+8 <= int64(len(b)) {
		n := int64(binary.BigEndian.Uint32(b[at:]))
		if n == 0 || at+8+n > int64(len(b)) {
			break
		}
		if off < at+8+n {
			return at
		}
		at += 8 + n
	}
	return -1
}
