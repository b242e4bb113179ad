package transparency

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger"
)

// Source is what a Log needs of a ledger store: records in position order and a way to
// follow new ones. Every ledger.Store has these; each yields only durable records, so the
// tree never holds (and the log never signs) a record that could still be lost.
type Source interface {
	ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error]
	Subscribe(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error]
}

// StreamReader is the optional part of a Source that Bundle uses.
type StreamReader interface {
	ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error]
}

// File names in Options.Dir.
const (
	TreeFile        = "tree.hashes"
	CheckpointsFile = "checkpoints"
)

// Options configure a Log.
type Options struct {
	// Dir holds the tree's hash file and the signed checkpoints (created if needed).
	Dir string
	// Signer signs checkpoints (see ParseSignerKey). Nil: the Log signs nothing.
	Signer note.Signer
	// VerifierKey is the log's verifier key, used to read back persisted checkpoints (the
	// Signer's, when there is one). Empty (and no Signer): the Log keeps only the tree and
	// serves no checkpoint and no proof.
	VerifierKey string
	// Interval is the least time between two checkpoints (default 1 s).
	Interval time.Duration
	// ResignInterval is how long an unchanged checkpoint goes before it is signed again
	// (default 1 minute); see Log.Run.
	ResignInterval time.Duration
	// Logger receives what the log does (default slog.Default()).
	Logger *slog.Logger
	// Witnesses are the submission URLs of C2SP tlog-witness witnesses (POST
	// URL/add-checkpoint). With a Signer, Run submits each new checkpoint to each of them
	// with a consistency proof, and Latest publishes it with their cosignatures.
	Witnesses []string
}

// RootMismatchError refuses to start a Log whose records do not give the root of the last
// signed checkpoint: the log was rewritten, truncated or damaged since it was signed.
type RootMismatchError struct {
	Size      int64
	Signed    tlog.Hash // the root in the last signed checkpoint
	Log       tlog.Hash // the root of the log's first Size records (zero if it has fewer)
	LogRecord int64     // the log's record count when it has fewer than Size
}

func (e *RootMismatchError) Error() string {
	if e.LogRecord < e.Size {
		return fmt.Sprintf("transparency: the last signed checkpoint covers %d records but the log has only %d (rolled back?); refusing to start", e.Size, e.LogRecord)
	}
	return fmt.Sprintf("transparency: the log's tree at size %d has root %s but the last signed checkpoint says %s (rewritten history?); refusing to start", e.Size, e.Log, e.Signed)
}

// Log is the transparency log over one ledger store: the tree (kept up to date by Run),
// the signed checkpoints, and the proofs and bundles built against them. It is safe for
// concurrent use.
type Log struct {
	src  Source
	opts Options
	tree *Tree
	cps  *checkpoints // nil without a Signer

	mu       sync.Mutex  // one signer at a time
	lastHash ledger.Hash // chain hash of the last record in the tree (follower only)
	signedAt time.Time

	verifier  note.Verifier    // the log's key (nil without checkpoints)
	witnesses []*witnessClient // owned by witnessLoop
	cosigs    cosigned
}

// Open opens the Log kept in opts.Dir over src: it loads the stored hashes, brings the tree
// up to the head of src (rebuilding it from the records when it is missing, behind, or does
// not match them), and checks the root at the last signed checkpoint's size. A mismatch
// returns a *RootMismatchError naming both roots, and the Log is not opened.
func Open(ctx context.Context, src Source, opts Options) (*Log, error) {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.ResignInterval <= 0 {
		opts.ResignInterval = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("transparency: %w", err)
	}
	l := &Log{src: src, opts: opts}
	if opts.Signer != nil || opts.VerifierKey != "" {
		v, err := note.NewVerifier(opts.VerifierKey)
		if err != nil {
			return nil, fmt.Errorf("transparency: verifier key: %w", err)
		}
		if opts.Signer != nil && (v.Name() != opts.Signer.Name() || v.KeyHash() != opts.Signer.KeyHash()) {
			return nil, errors.New("transparency: the verifier key is not the signer's")
		}
		if l.cps, err = openCheckpoints(filepath.Join(opts.Dir, CheckpointsFile), v); err != nil {
			return nil, fmt.Errorf("transparency: %w", err)
		}
		l.verifier = v
	}
	for _, u := range opts.Witnesses {
		l.witnesses = append(l.witnesses, &witnessClient{url: u, client: &http.Client{}})
	}
	t, err := OpenTree(filepath.Join(opts.Dir, TreeFile))
	if err != nil {
		l.closeCheckpoints()
		return nil, fmt.Errorf("transparency: %w", err)
	}
	l.tree = t
	if err := l.start(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// start reconciles the stored tree with the log and checks the last signed checkpoint.
func (l *Log) start(ctx context.Context) error {
	rebuilt := false
	if n := l.tree.Size(); n > 0 {
		ok, err := l.matches(ctx, n)
		if err != nil {
			return err
		}
		if !ok {
			l.opts.Logger.Warn("transparency: stored tree does not match the log; rebuilding it", "records", n)
			if err := l.tree.Truncate(0); err != nil {
				return fmt.Errorf("transparency: %w", err)
			}
			rebuilt = true
		}
	}
	if err := l.catchUp(ctx); err != nil {
		return err
	}
	if l.cps == nil {
		return nil
	}
	last, msg := l.cps.Latest()
	if msg == nil {
		return nil
	}
	err := l.checkRoot(last)
	if err != nil && !rebuilt {
		// The stored hashes may be what is damaged: rebuild them from the log, check again.
		l.opts.Logger.Warn("transparency: root does not match the last checkpoint; rebuilding the tree from the log", "err", err)
		if terr := l.tree.Truncate(0); terr != nil {
			return fmt.Errorf("transparency: %w", terr)
		}
		if err := l.catchUp(ctx); err != nil {
			return err
		}
		err = l.checkRoot(last)
	}
	return err
}

func (l *Log) checkRoot(last Checkpoint) error {
	n := l.tree.Size()
	if n < last.Size {
		return &RootMismatchError{Size: last.Size, Signed: last.Root, LogRecord: n}
	}
	root, err := l.tree.Root(last.Size)
	if err != nil {
		return fmt.Errorf("transparency: %w", err)
	}
	if root != last.Root {
		return &RootMismatchError{Size: last.Size, Signed: last.Root, Log: root, LogRecord: n}
	}
	return nil
}

// matches reports whether the tree's last leaf is the leaf of the log's record at
// position n. The leaf is the chain hash, which commits to every record before it, so
// with a valid chain this one comparison covers the whole prefix.
func (l *Log) matches(ctx context.Context, n int64) (bool, error) {
	for rec, err := range l.src.ReadAll(ctx, ledger.Position(n)) {
		if err != nil {
			return false, fmt.Errorf("transparency: read position %d: %w", n, err)
		}
		if rec.Position != ledger.Position(n) {
			return false, nil
		}
		leaf, err := l.tree.Leaf(n - 1)
		if err != nil {
			return false, fmt.Errorf("transparency: %w", err)
		}
		l.lastHash = rec.Hash
		return leaf == LeafHash(rec.Hash), nil
	}
	return false, nil // the log is shorter than the tree
}

// RawScanner is an optional capability of a Source (filestore.Store has it): it hands out
// each record's binary encoding (see (*ledger.Record).AppendBinary) from a buffer it
// reuses, so that a rebuild decodes only the chain fields (ledger.DecodeChain) and
// allocates nothing per record. ScanRaw
// calls fn for every record with position >= from, in order, up to the head at the time of
// the call or later; raw is valid only until fn returns. It returns the first error fn
// returns, ctx's error or a read error.
type RawScanner interface {
	ScanRaw(ctx context.Context, from ledger.Position, fn func(pos ledger.Position, raw []byte) error) error
}

// catchUpBatch is how many chain hashes travel together from the goroutine reading the
// log to the tree during catchUp (2 MB).
const catchUpBatch = 1 << 16

// catchUp appends every record of the log after the tree's size. One goroutine reads the
// log (through ScanRaw when the source has it) and checks that the records are in order
// and chained, while the caller's appends batches of their chain hashes to the tree, which
// hashes whole groups of records on every core.
func (l *Log) catchUp(ctx context.Context) error {
	n := l.tree.Size()
	if n == 0 {
		l.lastHash = ledger.Hash{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan []ledger.Hash, 1)
	free := make(chan []ledger.Hash, 2)
	for range cap(free) {
		free <- make([]ledger.Hash, 0, catchUpBatch)
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(full)
		readErr <- l.readChains(ctx, n+1, free, full)
	}()
	var err error
	for batch := range full {
		if err == nil {
			if err = l.tree.Append(batch...); err != nil {
				err = fmt.Errorf("transparency: %w", err)
				cancel()
			}
		}
		free <- batch[:0]
	}
	if rerr := <-readErr; err == nil && rerr != nil {
		err = rerr
	}
	return err
}

// readChains reads the log from position from on and sends the records' chain hashes to
// full in batches taken from free, the last one possibly short. It checks each record with
// l.check, so it owns l.lastHash until it returns.
func (l *Log) readChains(ctx context.Context, from int64, free <-chan []ledger.Hash, full chan<- []ledger.Hash) error {
	batch := <-free
	next := from
	add := func(pos ledger.Position, prev, hash ledger.Hash) error {
		if err := l.check(pos, prev, hash, next); err != nil {
			return err
		}
		next++
		batch = append(batch, hash)
		if len(batch) == cap(batch) {
			full <- batch
			select {
			case batch = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	readErr := func(err error) error {
		if errors.As(err, new(*ledger.CorruptionError)) {
			return err
		}
		return fmt.Errorf("transparency: read the log from position %d: %w", next, err)
	}
	if rs, ok := l.src.(RawScanner); ok {
		// Only the chain fields are decoded: the tree needs nothing else, and the store's
		// framing vouches for the rest.
		err := rs.ScanRaw(ctx, ledger.Position(from), func(pos ledger.Position, raw []byte) error {
			p, prev, hash, err := ledger.DecodeChain(raw)
			if err != nil || p != pos {
				return &ledger.CorruptionError{Position: pos, Reason: fmt.Sprintf("transparency: record does not decode as position %d: %v", pos, err)}
			}
			return add(p, prev, hash)
		})
		if err != nil {
			return readErr(err)
		}
	} else {
		for rec, err := range l.src.ReadAll(ctx, ledger.Position(from)) {
			if err != nil {
				return readErr(err)
			}
			if err := add(rec.Position, rec.PrevHash, rec.Hash); err != nil {
				return readErr(err)
			}
		}
	}
	if len(batch) > 0 {
		full <- batch
	}
	return nil
}

// check asserts that the record at pos, whose previous hash is prev and hash is hash, is
// the record at position want and links to the one before it.
func (l *Log) check(pos ledger.Position, prev, hash ledger.Hash, want int64) error {
	if pos != ledger.Position(want) {
		return &ledger.CorruptionError{Position: pos, Reason: fmt.Sprintf("transparency: expected position %d", want)}
	}
	if prev != l.lastHash {
		return &ledger.CorruptionError{Position: pos, Reason: fmt.Sprintf("transparency: previous hash %s does not match hash %s of position %d", prev, l.lastHash, want-1)}
	}
	l.lastHash = hash
	return nil
}

// Size returns the number of records in the tree.
func (l *Log) Size() int64 { return l.tree.Size() }

// Tree returns the log's tree.
func (l *Log) Tree() *Tree { return l.tree }

// Run follows the source, adding each new record to the tree, and (with a Signer) signs a
// checkpoint at most once per Interval when the tree has grown, and again after
// ResignInterval when it has not (an empty log waits for its first record; the root is recomputed from the stored hashes and must
// still be the one signed, so a damaged hash file is noticed; Ed25519 signatures are
// deterministic, so the note is the same and is not stored twice). With Options.Witnesses
// it also submits each new checkpoint to the witnesses (and again after ResignInterval)
// and keeps their cosignatures for Latest; a witness that refuses is logged and skipped.
// Run returns when ctx is done (nil) or on the first error.
func (l *Log) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { errc <- l.follow(ctx) }()
	if l.opts.Signer == nil {
		err := <-errc
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if len(l.witnesses) > 0 {
		var wg sync.WaitGroup
		wg.Go(func() { l.witnessLoop(ctx) })
		defer wg.Wait()
		defer cancel() // before the wait
	}
	tick := time.NewTicker(l.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if _, err := l.SignNow(); err != nil && !errors.Is(err, ErrNoCheckpoint) {
				l.opts.Logger.Error("transparency: signing stopped", "err", err)
				return err
			}
		}
	}
}

func (l *Log) follow(ctx context.Context) error {
	n := l.tree.Size()
	for rec, err := range l.src.Subscribe(ctx, ledger.Position(n+1)) {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("transparency: follow the log: %w", err)
		}
		if err := l.check(rec.Position, rec.PrevHash, rec.Hash, n+1); err != nil {
			return err
		}
		if err := l.tree.Append(rec.Hash); err != nil {
			return fmt.Errorf("transparency: %w", err)
		}
		n++
	}
	return nil
}

// SignNow signs a checkpoint of the whole tree if it grew since the last one (or if
// ResignInterval has passed), persists it, then publishes it, and returns the latest
// checkpoint. Before signing it makes the tree's hashes durable and checks that the tree
// still has the root last signed, so two inconsistent checkpoints are never signed.
func (l *Log) SignNow() (Checkpoint, error) {
	if l.opts.Signer == nil {
		return Checkpoint{}, ErrNoSigner
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	last, msg := l.cps.Latest()
	n := l.tree.Size()
	if msg != nil && n == last.Size && time.Since(l.signedAt) < l.opts.ResignInterval {
		return last, nil
	}
	if n == 0 {
		return Checkpoint{}, ErrNoCheckpoint
	}
	if err := l.tree.Sync(); err != nil {
		return Checkpoint{}, fmt.Errorf("transparency: %w", err)
	}
	if msg != nil {
		if err := l.checkRoot(last); err != nil {
			return Checkpoint{}, err
		}
	}
	root, err := l.tree.Root(n)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("transparency: %w", err)
	}
	cp := Checkpoint{Origin: l.opts.Signer.Name(), Size: n, Root: root}
	signed, err := sign(cp, l.opts.Signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("transparency: %w", err)
	}
	l.signedAt = time.Now()
	if msg != nil && sameNote(signed, msg) {
		return cp, nil
	}
	if err := l.cps.add(cp, signed); err != nil {
		return Checkpoint{}, fmt.Errorf("transparency: %w", err)
	}
	l.opts.Logger.Debug("transparency: signed checkpoint", "size", n, "root", root)
	return cp, nil
}

// Latest returns the latest signed checkpoint and its note, or ErrNoCheckpoint. The note
// carries the cosignatures of the witnesses (Options.Witnesses) that cosigned this
// checkpoint, after the log's signature.
func (l *Log) Latest() (Checkpoint, []byte, error) {
	if l.cps == nil {
		return Checkpoint{}, nil, ErrNoCheckpoint
	}
	cp, msg := l.cps.Latest()
	if msg == nil {
		return Checkpoint{}, nil, ErrNoCheckpoint
	}
	l.cosigs.mu.Lock()
	defer l.cosigs.mu.Unlock()
	if l.cosigs.cp == cp && len(l.cosigs.lines) > 0 {
		msg = append(bytes.Clone(msg), l.cosigs.lines...)
	}
	return cp, msg, nil
}

// CheckpointAt returns the signed note of size n, or ErrNotSigned.
func (l *Log) CheckpointAt(n int64) ([]byte, error) {
	if l.cps == nil {
		return nil, ErrNoCheckpoint
	}
	return l.cps.At(n)
}

func (l *Log) signed(n int64) error {
	if l.cps == nil {
		return ErrNoCheckpoint
	}
	if !l.cps.Signed(n) {
		return fmt.Errorf("size %d: %w", n, ErrNotSigned)
	}
	return nil
}

// InclusionProof returns the proof that the record at position is in the tree of the
// signed size n, and the record's leaf hash.
func (l *Log) InclusionProof(position ledger.Position, n int64) (tlog.Hash, tlog.RecordProof, error) {
	if err := l.signed(n); err != nil {
		return tlog.Hash{}, nil, err
	}
	if position < 1 || int64(position) > n {
		return tlog.Hash{}, nil, fmt.Errorf("position %d at size %d: %w", position, n, ErrOutOfRange)
	}
	leaf, err := l.tree.Leaf(int64(position) - 1)
	if err != nil {
		return tlog.Hash{}, nil, err
	}
	p, err := l.tree.InclusionProof(int64(position)-1, n)
	return leaf, p, err
}

// ConsistencyProof returns the proof that the tree of signed size n extends the tree of
// signed size m.
func (l *Log) ConsistencyProof(m, n int64) (tlog.TreeProof, error) {
	if err := l.signed(m); err != nil {
		return nil, err
	}
	if err := l.signed(n); err != nil {
		return nil, err
	}
	return l.tree.ConsistencyProof(m, n)
}

// Close stops nothing that Run started (cancel its context for that); it writes the tree's
// hashes and closes the files.
func (l *Log) Close() error {
	err := l.tree.Close()
	if cerr := l.closeCheckpoints(); err == nil {
		err = cerr
	}
	return err
}

func (l *Log) closeCheckpoints() error {
	if l.cps == nil {
		return nil
	}
	return l.cps.close()
}
