package projections

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"techledger/ledger"
)

// SearchSnapshotFile is the name of the Search snapshot in a snapshot directory.
const SearchSnapshotFile = "search.snap"

// SearchRunnerOptions configure a SearchRunner.
type SearchRunnerOptions struct {
	// SnapshotDir is where the snapshot is kept ("": none, every start replays the log).
	SnapshotDir string
	// SnapshotEvery is how many records the runner folds between snapshots (default
	// 100,000).
	SnapshotEvery int
	// Logger receives what the runner does (default slog.Default()).
	Logger *slog.Logger
	// CatchUpWait is how long Find waits for a StartBackground to catch up before it
	// answers ErrCatchingUp (default CatchUpWaitDefault).
	CatchUpWait time.Duration
}

// SearchRunner keeps a Search up to date with a log, as Runner does for State: it starts
// from the snapshot if it matches the log (the record at its position has its hash),
// replays what follows, then follows new records, writing a snapshot every SnapshotEvery
// records and when Close is called. Queries run under a read lock.
type SearchRunner struct {
	log  Log
	opts SearchRunnerOptions

	follower // mu guards s; err says why following stopped
	s        *Search

	snapMu  sync.Mutex
	snapPos ledger.Position
}

// NewSearchRunner returns a SearchRunner over log. Call Start before querying it.
func NewSearchRunner(log Log, opts SearchRunnerOptions) *SearchRunner {
	if opts.SnapshotEvery <= 0 {
		opts.SnapshotEvery = 100_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &SearchRunner{log: log, opts: opts, s: NewSearch()}
}

// Start loads the snapshot, replays the log up to its head, and then follows the log in a
// goroutine until ctx is done. It returns when the Search has caught up with the head as it
// was when Start was called.
func (r *SearchRunner) Start(ctx context.Context) error {
	s, err := r.load(ctx)
	if err != nil {
		return err
	}
	r.snapMu.Lock()
	r.snapPos = s.Position()
	r.snapMu.Unlock()
	head, err := r.log.Head(ctx)
	if err != nil {
		return fmt.Errorf("projections: search: %w", err)
	}
	replayed := 0
	if s.Position() < head {
		for rec, err := range r.log.ReadAll(ctx, s.Position()+1) {
			if err != nil {
				return fmt.Errorf("projections: search: replay: %w", err)
			}
			if err := s.Apply(&rec); err != nil {
				return fmt.Errorf("projections: search: %w", err)
			}
			replayed++
			if rec.Position >= head {
				break
			}
		}
	}
	if replayed >= r.opts.SnapshotEvery {
		// A long replay leaves the contracts in order of registration; a snapshot lays
		// them out by day, which is what a scan reads fastest. Take that layout now, and
		// keep the snapshot so that the next start does not replay again.
		var buf bytes.Buffer
		if err := s.WriteSnapshot(&buf); err != nil {
			return fmt.Errorf("projections: search: %w", err)
		}
		if s, err = ReadSearchSnapshot(buf.Bytes()); err != nil {
			panic(fmt.Sprintf("projections: search: a snapshot just written does not read back: %v", err))
		}
	}
	r.mu.Lock()
	r.s = s
	r.loaded()
	r.mu.Unlock()
	r.opts.Logger.Info("search caught up", "position", s.Position(), "contracts", s.Len(), "replayed", replayed)
	if replayed >= r.opts.SnapshotEvery {
		if err := r.Snapshot(); err != nil {
			r.opts.Logger.Warn("search snapshot failed", "err", err)
		}
	}
	go r.follow(ctx, s.Position())
	return nil
}

// StartBackground is Start in a goroutine, as Runner.StartBackground: until the Search
// has caught up, Find waits for it up to SearchRunnerOptions.CatchUpWait, then returns
// an error wrapping ErrCatchingUp; Snapshot writes nothing.
func (r *SearchRunner) StartBackground(ctx context.Context) {
	r.startBackground(ctx, r.Start, r.opts.CatchUpWait, r.opts.Logger, "search")
}

func (r *SearchRunner) follow(ctx context.Context, from ledger.Position) {
	r.follower.run(ctx, r.log, from, func(rec *ledger.Record) error { return r.s.Apply(rec) },
		r.opts.SnapshotEvery, r.Snapshot, r.opts.Logger, "search")
}

// Find answers q on the live Search (see Search.Find). It returns the error that stopped
// the runner following the log, if any.
func (r *SearchRunner) Find(q SearchQuery) (SearchResult, error) {
	r.awaitLoad()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if err := r.ready("search results"); err != nil {
		return SearchResult{}, err
	}
	return r.s.Find(q)
}

// Position returns the position the live Search is at.
func (r *SearchRunner) Position() ledger.Position {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.s.Position()
}

// Snapshot writes a snapshot of the live Search (a temporary file renamed over the
// previous one after fsync), unless the one on disk is at the live position. Without a
// SnapshotDir it does nothing.
func (r *SearchRunner) Snapshot() error {
	if r.opts.SnapshotDir == "" {
		return nil
	}
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	var buf bytes.Buffer
	r.mu.RLock()
	pos := r.s.Position()
	if pos == r.snapPos || r.loading {
		r.mu.RUnlock()
		return nil
	}
	err := r.s.WriteSnapshot(&buf)
	r.mu.RUnlock()
	if err != nil {
		return err
	}
	if err := writeFileSync(r.opts.SnapshotDir, SearchSnapshotFile, buf.Bytes()); err != nil {
		return fmt.Errorf("projections: search snapshot: %w", err)
	}
	r.snapPos = pos
	r.opts.Logger.Info("search snapshot written", "position", pos, "bytes", buf.Len())
	return nil
}

// writeFileSync writes b to dir/name atomically: a temporary file, fsync, rename.
func writeFileSync(dir, name string, b []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
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
	}
	return err
}

// load returns the Search of the snapshot if there is one and it matches the log;
// otherwise an empty one. A snapshot that cannot be used is logged and ignored.
func (r *SearchRunner) load(ctx context.Context) (*Search, error) {
	if r.opts.SnapshotDir == "" {
		return NewSearch(), nil
	}
	path := filepath.Join(r.opts.SnapshotDir, SearchSnapshotFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return NewSearch(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("projections: read search snapshot: %w", err)
	}
	ignore := func(reason string, args ...any) (*Search, error) {
		r.opts.Logger.Warn("search snapshot ignored: "+reason, append([]any{"path", path}, args...)...)
		return NewSearch(), nil
	}
	s, err := ReadSearchSnapshot(b)
	if err != nil {
		return ignore("unreadable", "err", err)
	}
	if s.Position() == 0 {
		return s, nil
	}
	var rec *ledger.Record
	for got, err := range r.log.ReadAll(ctx, s.Position()) {
		if err != nil {
			return nil, fmt.Errorf("projections: check search snapshot: %w", err)
		}
		rec = &got
		break
	}
	switch {
	case rec == nil || rec.Position != s.Position():
		return ignore("the log does not reach its position", "position", s.Position())
	case rec.Hash != s.Hash():
		return ignore("the log's record at its position has another hash", "position", s.Position())
	}
	r.opts.Logger.Info("search snapshot loaded", "position", s.Position(), "contracts", s.Len())
	return s, nil
}
