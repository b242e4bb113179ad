package projections

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"techledger/ledger"
)

// Log is what the Runner needs of a ledger.Store.
type Log interface {
	Reader
	Subscribe(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error]
	Head(ctx context.Context) (ledger.Position, error)
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	Options
	// SnapshotDir is where snapshots are kept ("" : none, every start replays the log).
	SnapshotDir string
	// SnapshotReadOnly loads the snapshot from SnapshotDir but never writes one: for a
	// reader beside the process that owns the directory (a read-only CLI verb while serve
	// runs).
	SnapshotReadOnly bool
	// SnapshotEvery is how many records the Runner folds between snapshots (default
	// 100,000).
	SnapshotEvery int
	// Logger receives what the runner does (default slog.Default()).
	Logger *slog.Logger
	// Progress, if not nil, is called during Start and Rebuild with the position the
	// replay has reached (every batch of records), for progress bars.
	Progress func(ledger.Position)
	// CatchUpWait is how long Read waits for a StartBackground to catch up before it
	// answers ErrCatchingUp (default CatchUpWaitDefault).
	CatchUpWait time.Duration
}

// SnapshotFile is the name of the snapshot in RunnerOptions.SnapshotDir.
const SnapshotFile = "projections.snap"

// Runner keeps a State up to date with a log: it starts from the latest snapshot that
// matches the log (or from nothing), replays what follows, then follows new records as
// they are appended, writing a snapshot every SnapshotEvery records. Queries read the
// State under a read lock, so they always see it between two records.
type Runner struct {
	log  Log
	opts RunnerOptions

	follower // mu guards st; err says why following stopped
	st       *State

	snapMu  sync.Mutex      // one snapshot written at a time
	snapPos ledger.Position // position of the snapshot on disk (written or loaded)
}

// NewRunner returns a Runner over log. Call Start before querying it.
func NewRunner(log Log, opts RunnerOptions) *Runner {
	if opts.SnapshotEvery <= 0 {
		opts.SnapshotEvery = 100_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Runner{log: log, opts: opts, st: NewState(opts.Options)}
}

// Start loads the latest matching snapshot, replays the log up to its head, and then
// follows the log in a goroutine until ctx is done. It returns when the State has caught
// up with the head as it was when Start was called.
func (r *Runner) Start(ctx context.Context) error {
	st, err := r.load(ctx, 0)
	if err != nil {
		return err
	}
	r.snapMu.Lock()
	r.snapPos = st.Position()
	r.snapMu.Unlock()
	if err := ReplayProgress(ctx, r.log, st, 0, r.opts.Progress); err != nil {
		return err
	}
	r.mu.Lock()
	r.st = st
	r.loaded()
	r.mu.Unlock()
	r.opts.Logger.Info("projections caught up", "position", st.Position(), "contracts", st.Contracts())
	go r.follow(ctx, st.Position())
	return nil
}

// StartBackground is Start in a goroutine: it returns at once, so that a server can
// listen (and take commands, which do not need the projections) while the snapshot loads
// and the log is replayed. Until then Read waits for it up to RunnerOptions.CatchUpWait,
// then returns an error wrapping ErrCatchingUp; Position reports 0 and Snapshot writes
// nothing. If Start fails, Read returns its error from then on, and it is logged.
func (r *Runner) StartBackground(ctx context.Context) {
	r.startBackground(ctx, r.Start, r.opts.CatchUpWait, r.opts.Logger, "projections")
}

// follow applies new records as they are appended.
func (r *Runner) follow(ctx context.Context, from ledger.Position) {
	r.follower.run(ctx, r.log, from, func(rec *ledger.Record) error { return r.st.Apply(rec) },
		r.opts.SnapshotEvery, r.Snapshot, r.opts.Logger, "projections")
}

// follower is what Runner and SearchRunner share once they have caught up with the log:
// the lock over their read model, the error that stopped them, and the loop that follows.
type follower struct {
	mu        sync.RWMutex
	err       error         // why following stopped (nil while it runs)
	loading   bool          // started in the background (startBackground) and not caught up yet
	caughtUp  chan struct{} // closed when loading ends
	wait      time.Duration // how long a query waits for loading to end
	sinceSnap int
}

// ErrCatchingUp is returned (wrapped) by the queries of a Runner or SearchRunner started
// with StartBackground that is still catching up with the log (loading its snapshot and
// replaying what follows) after the query waited CatchUpWait for it. A server answers
// 503 with Retry-After then (docs/operations.md).
var ErrCatchingUp = errors.New("catching up with the log after a start; try again in a moment")

// startBackground marks the runner loading and runs start in a goroutine, which must clear
// loading (under mu) when its read model is in place. If start fails, the error stops the
// runner as a failure to follow the log would.
func (f *follower) startBackground(ctx context.Context, start func(context.Context) error, wait time.Duration, logger *slog.Logger, what string) {
	if wait <= 0 {
		wait = CatchUpWaitDefault
	}
	f.mu.Lock()
	f.loading, f.caughtUp, f.wait = true, make(chan struct{}), wait
	f.mu.Unlock()
	go func() {
		err := start(ctx)
		if err == nil {
			return
		}
		f.mu.Lock()
		f.loaded()
		if f.err == nil {
			f.err = err
		}
		f.mu.Unlock()
		if ctx.Err() == nil {
			logger.Error(what+" did not start", "err", err)
		}
	}()
}

// CatchUpWaitDefault is how long a query of a runner started in the background waits for
// it to catch up before it answers ErrCatchingUp (RunnerOptions.CatchUpWait).
const CatchUpWaitDefault = 2 * time.Second

// loaded ends loading, if it was. mu is held.
func (f *follower) loaded() {
	if f.loading {
		f.loading = false
		close(f.caughtUp)
	}
}

// awaitLoad waits, up to the runner's wait, for a background start to catch up.
func (f *follower) awaitLoad() {
	f.mu.RLock()
	loading, ch, wait := f.loading, f.caughtUp, f.wait
	f.mu.RUnlock()
	if !loading {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// ready returns why the read model cannot answer (nil: it can). mu is held.
func (f *follower) ready(what string) error {
	switch {
	case f.loading:
		return fmt.Errorf("%s are %w", what, ErrCatchingUp)
	case f.err != nil:
		return fmt.Errorf("%s are not following the log: %w", what, f.err)
	}
	return nil
}

// run applies each record after from, under the write lock, until ctx is done or a record
// cannot be read or applied (then err says why and what is logged); every `every` records
// it calls snapshot, and a failed snapshot is only logged. what names the read model in
// the log.
func (f *follower) run(ctx context.Context, log Log, from ledger.Position, apply func(*ledger.Record) error,
	every int, snapshot func() error, logger *slog.Logger, what string) {
	for rec, err := range log.Subscribe(ctx, from+1) {
		if err == nil {
			f.mu.Lock()
			err = apply(&rec)
			f.mu.Unlock()
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.mu.Lock()
			f.err = err
			f.mu.Unlock()
			logger.Error(what+" stopped following the log", "err", err)
			return
		}
		if f.sinceSnap++; f.sinceSnap >= every {
			f.sinceSnap = 0
			if err := snapshot(); err != nil {
				logger.Warn(what+" snapshot failed", "err", err)
			}
		}
	}
}

// Read calls fn with the live State under the read lock; fn must not keep it. It returns
// the error that stopped the runner following the log, if any, without calling fn.
func (r *Runner) Read(fn func(*State) error) error {
	r.awaitLoad()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if err := r.ready("projections"); err != nil {
		return err
	}
	return fn(r.st)
}

// Position returns the position the live State is at.
func (r *Runner) Position() ledger.Position {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.st.Position()
}

// Lag returns how many records the live State is behind the head of the log.
func (r *Runner) Lag(ctx context.Context) (uint64, error) {
	head, err := r.log.Head(ctx)
	if err != nil {
		return 0, err
	}
	pos := r.Position()
	if head < pos {
		return 0, nil
	}
	return uint64(head - pos), nil
}

// Snapshot writes a snapshot of the live State (atomically: a temporary file renamed
// over the previous snapshot after fsync), unless the snapshot on disk is already at the
// live position. Without a SnapshotDir, or with SnapshotReadOnly, it does nothing.
func (r *Runner) Snapshot() error { return r.snapshot(false) }

// snapshot writes a snapshot; force writes it even at the position of the one on disk.
func (r *Runner) snapshot(force bool) error {
	if r.opts.SnapshotDir == "" || r.opts.SnapshotReadOnly {
		return nil
	}
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	var buf bytes.Buffer
	r.mu.RLock()
	pos := r.st.Position()
	if (pos == r.snapPos && !force) || r.loading {
		r.mu.RUnlock()
		return nil
	}
	err := r.st.WriteSnapshot(&buf)
	r.mu.RUnlock()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.opts.SnapshotDir, 0o755); err != nil {
		return fmt.Errorf("projections: snapshot: %w", err)
	}
	path := filepath.Join(r.opts.SnapshotDir, SnapshotFile)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("projections: snapshot: %w", err)
	}
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("projections: snapshot: %w", err)
	}
	r.snapPos = pos
	r.opts.Logger.Info("projections snapshot written", "position", pos, "bytes", buf.Len())
	return nil
}

// load returns the State of the snapshot if there is one, it matches the log, and it is
// at or before position max (0: any); otherwise an empty State. A snapshot that cannot be
// used is logged and ignored: the log is the truth, a snapshot only a cache.
func (r *Runner) load(ctx context.Context, max ledger.Position) (*State, error) {
	empty := NewState(r.opts.Options)
	if r.opts.SnapshotDir == "" {
		return empty, nil
	}
	path := filepath.Join(r.opts.SnapshotDir, SnapshotFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return empty, nil
	}
	if err != nil {
		return nil, fmt.Errorf("projections: read snapshot: %w", err)
	}
	ignore := func(reason string, args ...any) (*State, error) {
		r.opts.Logger.Warn("projections snapshot ignored: "+reason, append([]any{"path", path}, args...)...)
		return empty, nil
	}
	st, err := ReadSnapshot(b)
	if err != nil {
		return ignore("unreadable", "err", err)
	}
	if st.home != empty.home {
		return ignore("other home province", "snapshot", st.home, "configured", empty.home)
	}
	if max != 0 && st.Position() > max {
		return empty, nil
	}
	if st.Position() == 0 {
		return st, nil
	}
	var rec *ledger.Record
	for got, err := range r.log.ReadAll(ctx, st.Position()) {
		if err != nil {
			return nil, fmt.Errorf("projections: check snapshot: %w", err)
		}
		rec = &got
		break
	}
	switch {
	case rec == nil || rec.Position != st.Position():
		return ignore("the log does not reach its position", "position", st.Position())
	case rec.Hash != st.Hash():
		return ignore("the log's record at its position has another hash", "position", st.Position(), "snapshot_hash", st.Hash(), "log_hash", rec.Hash)
	}
	r.opts.Logger.Info("projections snapshot loaded", "position", st.Position())
	return st, nil
}

// Rebuild replays the whole log from nothing into a new State (ignoring snapshots) and
// swaps it in for the live one, then writes a snapshot. If the live State was ahead, the
// new one is brought level first; if the two then disagree on the hash of the record they
// end at, the log changed under them and Rebuild fails. It does not restart following the
// log if that stopped on an error (restart the Runner).
func (r *Runner) Rebuild(ctx context.Context) error {
	st := NewState(r.opts.Options)
	if err := ReplayProgress(ctx, r.log, st, 0, r.opts.Progress); err != nil {
		return err
	}
	// Records appended while rebuilding: the live State has them; bring st level.
	r.mu.Lock()
	defer func() {
		r.mu.Unlock()
		if err := r.snapshot(true); err != nil {
			r.opts.Logger.Warn("projections snapshot failed", "err", err)
		}
	}()
	if st.Position() < r.st.Position() {
		if err := Replay(ctx, r.log, st, r.st.Position()); err != nil {
			return err
		}
	}
	if st.Position() == r.st.Position() && st.Hash() != r.st.Hash() {
		return fmt.Errorf("projections: rebuild reached position %d (hash %s), the live state is at %d (hash %s)", st.Position(), st.Hash(), r.st.Position(), r.st.Hash())
	}
	r.st = st
	return nil
}

// AsOf returns a new State folded up to position pos (the ledger as it stood after the
// record at pos). It starts from the snapshot if that is not past pos.
func (r *Runner) AsOf(ctx context.Context, pos ledger.Position) (*State, error) {
	if pos == 0 {
		return NewState(r.opts.Options), nil
	}
	st, err := r.load(ctx, pos)
	if err != nil {
		return nil, err
	}
	if err := Replay(ctx, r.log, st, pos); err != nil {
		return nil, err
	}
	return st, nil
}

// AsOfTime returns a new State folded over the longest prefix of the log whose records
// were all recorded at or before t. (Stores record times that never go backwards, so
// this is every record recorded at or before t.)
func (r *Runner) AsOfTime(ctx context.Context, t time.Time) (*State, error) {
	st := NewState(r.opts.Options)
	for rec, err := range r.log.ReadAll(ctx, 1) {
		if err != nil {
			return nil, fmt.Errorf("projections: as of %s: %w", t.Format(time.RFC3339), err)
		}
		if rec.RecordedAt.After(t) {
			break
		}
		if err := st.Apply(&rec); err != nil {
			return nil, fmt.Errorf("projections: as of %s: %w", t.Format(time.RFC3339), err)
		}
	}
	return st, nil
}
