// Package filestore is techledger's embedded, durable ledger.Store: append-only segment
// files in one data directory, owned by one process.
//
// Durability: Append returns only after an fsync that covers its batch. Concurrent appends
// share fsyncs (group commit): each appender decides and encodes its own batch under a
// mutex and queues it; one syncer goroutine takes everything queued whenever it is free,
// writes it with one write and makes it durable with one fsync.
//
// Integrity: every frame carries a CRC-32C, every record the SHA-256 hash chain. The store
// keeps an index (stream -> positions, event ID -> position, position -> file offset).
// Close writes it to an index checkpoint (the file INDEX; see diskindex.go for its
// format), and so does a background writer when a segment is sealed and enough was
// appended since the last checkpoint (Options.CheckpointRecords); the store then answers
// from that file, mapped, and holds in memory only what was appended since. Open maps the
// checkpoint if it matches the log — its segments have the sizes it records and the
// record at its position has the hash it records — and reads only the records after it;
// otherwise (no checkpoint, or one damaged, of an unknown version or not matching, which
// is logged) it reads every segment. Records read at open have their frames, positions,
// stream versions and hash links checked. A torn tail in the last segment — an incomplete
// frame, or zero bytes, left by a crash during a write that was therefore never
// acknowledged — is truncated. Any other damage found refuses the open with a
// *ledger.CorruptionError naming the segment, offset and position.
//
// So Open trusts the checkpoint for the records it covers: damage to them after the
// checkpoint was written is not found by Open but by Verify, which reads every segment
// again, checks every frame and recomputes every hash.
//
// If a write or fsync fails the store stops accepting appends (the outcome of the failed
// batch is unknown until the store is reopened, which recovers the log as it is on disk).
//
// Limits: the batch and event limits of ledger.ValidateAppend; FrameBytesMax.
package filestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"techledger/ledger"
	"techledger/ledger/internal/logutil"
)

var _ ledger.Store = (*Store)(nil)
var _ ledger.Verifier = (*Store)(nil)

// Options tune a Store. The zero value is the production default.
type Options struct {
	// SegmentBytes is the size past which the store starts a new segment (default 64 MiB).
	// A batch never spans segments, so a segment may exceed it by one group of batches.
	SegmentBytes int64
	// Now returns the time recorded with new records (default time.Now). Recorded times
	// never go backwards: a record gets max(Now(), the previous record's time).
	Now func() time.Time
	// Logger receives what the store does not return as an error: an index checkpoint
	// ignored or not written (default slog.Default()).
	Logger *slog.Logger
	// CheckpointRecords is how many records must have been appended since the last index
	// checkpoint (and at least half as many as it covers) for a sealed segment to lead to
	// a new one, written in the background (default checkpointRecordsDefault; negative:
	// only Close writes one). It bounds what Open reads after a crash to about that many
	// records, or a third of the log, plus a segment, at a cost while appending of about
	// three index writes per log size.
	CheckpointRecords int
	// FS is the file system the store works on (default: the operating system's, OSFS).
	FS FS
	// NoSpaceRetry is how long after an append failed for want of space (ENOSPC) the
	// store waits before trying to resume appends (default noSpaceRetryDefault); appends
	// meanwhile fail at once with ledger.ErrStorageFull.
	NoSpaceRetry time.Duration
}

const (
	segmentBytesDefault      = 64 << 20
	noSpaceRetryDefault      = time.Second
	checkpointRecordsDefault = 250_000
	// readChunkBytes is how much ReadAll reads from a segment at a time.
	readChunkBytes = 1 << 20
)

type segment struct {
	name  string
	path  string
	first ledger.Position
	rf    File // read handle, shared by readers (ReadAt is safe for concurrent use)
}

// loc says where a record's encoding is: segment index, offset, length.
type loc struct {
	seg uint32
	n   uint32
	off int64
}

// Store is the embedded file-backed ledger.Store. It is safe for concurrent use.
type Store struct {
	dir      string
	opts     Options
	fs       FS
	lock     io.Closer // nil for a read-only store
	readOnly bool      // opened with OpenReadOnly: appends fail, nothing is written
	roClosed bool      // a read-only store was closed (under decideMu)

	stopped chan struct{} // closed when the syncer goroutine has exited
	kick    chan struct{} // capacity 1: "something was decided"

	head logutil.Head // committed (durable) head; readers never go past it

	// decideMu serialises deciding: an appender holds it to check its batch against the
	// index, extend the hash chain, encode its frame and queue itself for the syncer.
	decideMu sync.Mutex
	closed   bool            // no more appends
	size     int64           // bytes in the active segment once every decided frame is written
	queue    []chunk         // decided frames and waiters for the syncer, in order
	next     *batch          // the appenders waiting for queue to be durable
	waiting  int             // waiters in queue
	gather   int             // > 0: the syncer is gathering a batch; wake it once waiting reaches it
	frames   []byte          // the queued frames, back to back in queue order (chunk.off, chunk.end)
	recs     []ledger.Record // scratch for decide

	// mu guards the index for readers. Appenders change segs, the index's locs, streams
	// and ids, and pending's tail holding decideMu and mu; holding decideMu alone they may
	// read them. The index's last (the last position decided, durable or on its way),
	// lastHash and lastTime are the appenders' alone, under decideMu. The syncer changes
	// committed, pending's head and failed under mu.
	mu sync.RWMutex
	index
	segs      []segment
	committed ledger.Position // last durable position
	pending   []ledger.Record // decided records past committed, in position order
	failed    error
	noSpace   bool // failed for want of space, with nothing of the failed batches left on disk: healable
	full      bool // from the first failure for want of space to the next durable append: logged once

	// healing: a heal is queued (under decideMu); healAt: when the last was asked for.
	healing bool
	healAt  time.Time

	// ckptMu is held by whoever writes the index checkpoint; ckptWG counts background
	// writers, which Close waits for.
	ckptMu  sync.Mutex
	ckptWG  sync.WaitGroup
	ckptPos atomic.Uint64 // position the last checkpoint read or written covers
	ckptHas atomic.Bool   // a checkpoint was read or written

	active  File  // the segment being written; the syncer's after Open
	durable int64 // bytes of active its last successful fsync covered; the syncer's after Open
	uncut   bool  // a failed write or fsync left active longer than durable (the syncer's)
}

// chunk is a unit of work for the syncer: a frame to write (frames[off:end] of the queue
// it was taken with; off == end for none) for an appender waiting until position last is
// durable (0: none), or (roll set) a switch to a new segment.
type chunk struct {
	off, end int
	last     ledger.Position
	roll     File
	seg      int  // with roll: the index of the segment started
	heal     bool // resume appends after a full disk (see heal)
}

// batch is the appenders waiting for one write and fsync: the syncer sets err and closes
// done. One per fsync rather than one per appender: a batch holds dozens.
type batch struct {
	err  error
	done chan struct{}
}

// Open opens (creating if needed) the store in dir, recovering a torn tail and refusing a
// damaged log (what it reads of it: see the package doc on the index checkpoint). It
// returns an error wrapping ledger.ErrLocked if another Store holds dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = segmentBytesDefault
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CheckpointRecords == 0 {
		opts.CheckpointRecords = checkpointRecordsDefault
	}
	if opts.NoSpaceRetry <= 0 {
		opts.NoSpaceRetry = noSpaceRetryDefault
	}
	fsys := fsOf(opts)
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("filestore: create %s: %w", dir, err)
	}
	lock, err := lockDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir: dir, opts: opts, fs: fsys, lock: lock,
		stopped: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		index:   newIndex(),
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("filestore: open %s: %w", dir, err)
	}
	s.head.Set(s.committed)
	go s.syncer()
	return s, nil
}

func lockDir(fsys FS, dir string) (io.Closer, error) {
	l, err := fsys.Lock(filepath.Join(dir, lockName))
	if errors.Is(err, ledger.ErrLocked) {
		return nil, fmt.Errorf("filestore: %s: %w", dir, ledger.ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: lock %s: %w", dir, err)
	}
	return l, nil
}

// recover builds the index — from the checkpoint and the part of the log after it, or
// from the whole log — and truncates a torn tail.
func (s *Store) recover() error {
	entries, err := s.fs.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", s.dir, err)
	}
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, segmentExt+".tmp") || name == checkpointName+".tmp" {
			// A file whose creation did not finish holds nothing.
			if err := s.fs.Remove(filepath.Join(s.dir, name)); err != nil {
				return fmt.Errorf("remove unfinished file: %w", err)
			}
		}
	}
	// The segments found may be in the directory of the page cache only: created by a
	// process whose directory fsync failed, or that was killed before it. They are about
	// to be served and appended to, so their names must be durable first.
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("sync %s: %w", s.dir, err)
	}
	segs, err := listSegments(s.fs, s.dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		seg, f, err := createSegment(s.fs, s.dir, 1)
		if err != nil {
			return err
		}
		s.active, s.size, s.durable = f, headerBytes, headerBytes
		return s.addSegment(seg)
	}
	for _, seg := range segs {
		if err := s.addSegment(seg); err != nil {
			return err
		}
	}
	// A segment is created when the batches decided reach SegmentBytes, before the
	// syncer has written them to the segment before it. So the last segments may hold
	// nothing but their header; the log ends in the last one holding frames (tail).
	tail, err := lastWithFrames(s.segs)
	if err != nil {
		return err
	}
	x, res, ckpt, used, err := loadIndex(s.fs, s.dir, s.segs, tail, s.opts.Logger, true)
	if err != nil {
		return err
	}
	s.ckptPos.Store(uint64(ckpt))
	s.ckptHas.Store(used)
	s.index = *x
	s.committed = x.last
	// An empty segment after the tail is the active one if it starts where the log ends.
	// Any other was created for batches that never became durable (a crash before the
	// syncer wrote them, or a failed write or fsync): it holds nothing and is removed.
	keep := tail + 1
	if !res.torn && keep < len(s.segs) && s.segs[keep].first == x.last+1 {
		keep++
	}
	if err := s.dropEmptySegments(keep); err != nil {
		return err
	}
	if last := len(s.segs) - 1; last > tail {
		res.end = headerBytes
		// Appends go on in this segment: its header must be whole.
		if _, err := scanSegment(s.segs[last], 0, s.segs[last].first, true, func([]byte, int64) error { return nil }); err != nil {
			return err
		}
		// What the tail holds may be in the page cache only (see below).
		if err := s.segs[tail].rf.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", s.segs[tail].name, err)
		}
	}
	seg := s.segs[len(s.segs)-1]
	f, err := s.fs.OpenFile(seg.path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open segment %s for writing: %w", seg.name, err)
	}
	s.active = f
	if res.torn {
		// The tail was never acknowledged: Append returns only after the fsync that
		// covers a whole frame, and this frame is not whole.
		if err := f.Truncate(res.end); err != nil {
			return fmt.Errorf("truncate torn tail of %s at %d: %w", seg.name, res.end, err)
		}
	}
	// What was read may be in the page cache only: written by a process that was killed
	// before its fsync. It is about to be served as the log (read, and answered as
	// duplicate to a retry), so it must be durable first.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", seg.name, err)
	}
	if _, err := f.Seek(res.end, 0); err != nil {
		return fmt.Errorf("seek %s: %w", seg.name, err)
	}
	s.size, s.durable = res.end, res.end
	return nil
}

// lastWithFrames returns the index of the last of segs holding more than its header (0
// if none does).
func lastWithFrames(segs []segment) (int, error) {
	for i := len(segs) - 1; i > 0; i-- {
		fi, err := segs[i].rf.Stat()
		if err != nil {
			return 0, fmt.Errorf("stat segment %s: %w", segs[i].name, err)
		}
		if fi.Size() > headerBytes {
			return i, nil
		}
	}
	return 0, nil
}

// dropEmptySegments removes the segments from index keep on, which hold nothing but
// their header, from the store and from the directory.
func (s *Store) dropEmptySegments(keep int) error {
	if keep >= len(s.segs) {
		return nil
	}
	for _, seg := range s.segs[keep:] {
		seg.rf.Close()
		if err := s.fs.Remove(seg.path); err != nil {
			return fmt.Errorf("remove empty segment %s: %w", seg.name, err)
		}
		s.opts.Logger.Info("filestore: removed an empty segment whose batches never became durable", "dir", s.dir, "segment", seg.name)
	}
	s.segs = s.segs[:keep]
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("sync %s: %w", s.dir, err)
	}
	return nil
}

// loadIndex builds the index of the log held by segs (whose read handles are open): it
// loads the checkpoint if it matches them and scans only what it does not cover;
// otherwise it logs why and scans them all. Segments from index tail on may end in a
// torn tail (the active segment; for a read-only open, the last one that held frames),
// which is reported in the result rather than refused, and ends the scan (len(segs):
// none may); for a read-only open the segments after tail are not read. The result
// says where the last segment's good part ends, and whether a checkpoint was used and the
// position it covered. A missing checkpoint is logged only if logMissing is set.
func loadIndex(fsys FS, dir string, segs []segment, tail int, logger *slog.Logger, logMissing bool) (x *index, res scanResult, ckpt ledger.Position, used bool, err error) {
	x, from, start, err := loadCheckpoint(fsys, dir, segs)
	used = err == nil
	if err != nil {
		if errors.Is(err, errCheckpointMissing) {
			if logMissing {
				logger.Info("filestore: no index checkpoint, reading the whole log", "dir", dir)
			}
		} else {
			logger.Warn("filestore: index checkpoint ignored, reading the whole log", "dir", dir, "reason", err.Error())
		}
		fresh := newIndex()
		x, from, start = &fresh, 0, 0
	}
	ckpt = x.last
	for i := from; i < len(segs); i++ {
		seg := segs[i]
		if i > tail && tail < len(segs)-1 {
			// A read-only open: this segment was empty when the log was looked at, and
			// what the owner writes to it now is past the frames of the segments before
			// that are visible.
			break
		}
		if start == 0 && seg.first != x.last+1 {
			return nil, res, 0, false, &ledger.CorruptionError{Position: x.last + 1, Location: "segment " + seg.name, Reason: fmt.Sprintf("segment starts at position %d, want %d", seg.first, x.last+1)}
		}
		idx := uint32(i)
		res, err = scanSegment(seg, start, x.last+1, i >= tail, func(b []byte, off int64) error {
			k, err := ledger.DecodeKey(b)
			if err != nil {
				return &ledger.CorruptionError{Position: x.last + 1, Reason: fmt.Sprintf("decode record: %v", err)}
			}
			return x.add(&k, loc{seg: idx, off: off, n: uint32(len(b))})
		})
		if err != nil {
			return nil, res, 0, false, err
		}
		if res.torn {
			break
		}
		start = 0
	}
	return x, res, ckpt, used, nil
}

// loadCheckpoint reads the checkpoint and checks that it matches the log in segs (see
// the checkpoint's format for what that means). It returns the index and where to scan
// from: the segment and offset just past what the checkpoint covers.
func loadCheckpoint(fsys FS, dir string, segs []segment) (*index, int, int64, error) {
	x, covers, err := readCheckpoint(fsys, dir)
	if err != nil {
		return nil, 0, 0, err
	}
	if len(covers) > len(segs) {
		return nil, 0, 0, fmt.Errorf("index checkpoint covers %d segments, the log has %d", len(covers), len(segs))
	}
	for i, c := range covers {
		seg := segs[i]
		if c.first != seg.first {
			return nil, 0, 0, fmt.Errorf("index checkpoint's segment %d starts at position %d, the log's %s", i, c.first, seg.name)
		}
		fi, err := seg.rf.Stat()
		if err != nil {
			return nil, 0, 0, fmt.Errorf("stat segment %s: %w", seg.name, err)
		}
		if last := i == len(covers)-1; fi.Size() < c.bytes || (!last && fi.Size() != c.bytes) {
			return nil, 0, 0, fmt.Errorf("index checkpoint covers %d bytes of segment %s, which has %d", c.bytes, seg.name, fi.Size())
		}
	}
	last := len(covers) - 1
	if x.last == 0 {
		if covers[0].bytes != headerBytes || len(covers) != 1 {
			return nil, 0, 0, errors.New("index checkpoint of an empty log covers records")
		}
		return x, last, headerBytes, nil
	}
	// The record at the checkpoint's position is where it says, is the one it says, and
	// ends what it covers: so the log it was taken of is this one, up to there.
	l := x.loc(x.last)
	rec, err := readRecord(segs[l.seg], l, x.last)
	if err != nil {
		return nil, 0, 0, err
	}
	if rec.Hash != x.lastHash || rec.ComputeHash() != rec.Hash {
		return nil, 0, 0, fmt.Errorf("record at position %d does not have the index checkpoint's hash", x.last)
	}
	// Segments after the one holding it are empty (a crash right after a roll leaves one).
	ends := l.off+int64(l.n) == covers[l.seg].bytes
	for _, c := range covers[l.seg+1:] {
		ends = ends && c.bytes == headerBytes
	}
	if !ends {
		return nil, 0, 0, fmt.Errorf("index checkpoint's position %d does not end what it covers", x.last)
	}
	if p, ok := x.streamAt(rec.Stream, rec.Version); !ok || p != x.last || x.streamLen(rec.Stream) != rec.Version {
		return nil, 0, 0, fmt.Errorf("index checkpoint's stream %q does not end at position %d", rec.Stream, x.last)
	}
	if p, ok := x.ids.get(rec.ID); !ok || p != x.last {
		return nil, 0, 0, fmt.Errorf("index checkpoint does not map event %s to position %d", rec.ID, x.last)
	}
	x.lastTime = rec.RecordedAt
	return x, last, covers[last].bytes, nil
}

// checkpoint writes the index checkpoint of x covering segs (whose read handles are open;
// the last is covered up to size, the others whole). ckptMu is held.
func (s *Store) checkpoint(x *index, segs []segment, size int64) error {
	covers := make([]segCover, len(segs))
	for i, seg := range segs {
		covers[i] = segCover{first: seg.first, bytes: size}
		if i < len(segs)-1 {
			fi, err := seg.rf.Stat()
			if err != nil {
				return fmt.Errorf("stat segment %s: %w", seg.name, err)
			}
			covers[i].bytes = fi.Size()
		}
	}
	return writeCheckpoint(s.fs, s.dir, x, covers)
}

// checkpointSealed writes, in the background, the checkpoint of the log up to the end of
// the last of segs (which are written, synced and never written again), if enough was
// appended since the last checkpoint (Options.CheckpointRecords).
// It builds that index apart from the store's, from the previous checkpoint and the
// segments after it, so that appends are not held up. Only one runs at a time; a seal
// while one runs is left to the next seal or to Close.
func (s *Store) checkpointSealed(segs []segment, end ledger.Position) {
	last, every := ledger.Position(s.ckptPos.Load()), s.opts.CheckpointRecords
	if every < 0 || end-last < max(ledger.Position(every), last/2) || !s.ckptMu.TryLock() {
		return
	}
	s.ckptWG.Add(1)
	go func() {
		defer s.ckptWG.Done()
		defer s.ckptMu.Unlock()
		x, res, _, _, err := loadIndex(s.fs, s.dir, segs, len(segs), s.opts.Logger, false)
		if err == nil {
			err = s.checkpoint(x, segs, res.end)
		}
		if err == nil {
			s.ckptPos.Store(uint64(x.last))
			s.ckptHas.Store(true)
		}
		if err != nil {
			s.opts.Logger.Warn("filestore: index checkpoint not written", "dir", s.dir, "err", err.Error())
			return
		}
		if err := s.useCheckpoint(x.last, x.lastHash); err != nil {
			s.opts.Logger.Warn("filestore: index checkpoint written, not used until the next open", "dir", s.dir, "err", err.Error())
		}
	}()
}

// useCheckpoint makes the store's index answer from the checkpoint just written (at
// position last, with hash), so that what it holds in memory is only what was appended
// since: memory stays bounded while the store runs (index.rebase). Appends wait while the
// index is switched (a pass over what it held in memory).
func (s *Store) useCheckpoint(last ledger.Position, hash ledger.Hash) error {
	d, err := openCheckpoint(s.fs, s.dir)
	if err != nil {
		return err
	}
	if d.n != last || d.hash != hash {
		return fmt.Errorf("the checkpoint read back is at position %d, not %d", d.n, last)
	}
	s.decideMu.Lock()
	defer s.decideMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index.rebase(d)
}

func (s *Store) addSegment(seg segment) error {
	rf, err := s.fs.OpenFile(seg.path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open segment %s for reading: %w", seg.name, err)
	}
	seg.rf = rf
	s.segs = append(s.segs, seg)
	return nil
}

// Append implements ledger.Store. It returns after the fsync that covers the batch.
//
// Group commit: the appender decides its own batch under decideMu (checks, hash chain,
// encoding: a few microseconds) and queues the frame; the syncer goroutine takes
// everything queued whenever it is free, writes it with one write and makes it durable
// with one fsync. Appends that arrive during an fsync share the next one.
func (s *Store) Append(ctx context.Context, stream string, expected ledger.Expected, events ...ledger.Event) (ledger.AppendResult, error) {
	return s.AppendDecided(ctx, stream, expected, nil, events...)
}

// AppendDecided is Append, and calls decided (unless nil) with the append's result as soon
// as the batch is decided — positions assigned, queued for the fsync — and before waiting
// for it to be durable. decided is not called for an append that is refused, nor for a
// retry of one already made (Duplicate). The positions it reports are not durable yet:
// readers do not see them before the fsync, and if the fsync fails they never will (the
// store fails, see Append). Positions become durable in order: when an append returns,
// every earlier position is durable too. It lets a caller that indexes the log know its
// own appends before the head passes them, instead of reading them back.
func (s *Store) AppendDecided(ctx context.Context, stream string, expected ledger.Expected, decided func(ledger.AppendResult), events ...ledger.Event) (ledger.AppendResult, error) {
	if err := ledger.ValidateAppend(stream, events); err != nil {
		return ledger.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return ledger.AppendResult{}, err
	}
	res, b, kick, err := s.decide(stream, expected, events, true)
	if err == errHealing {
		// The store failed for want of space: the syncer tries to resume appends, and the
		// append is decided again if it did.
		s.wake()
		<-b.done
		res, b, kick, err = s.decide(stream, expected, events, false)
	}
	if err != nil || b == nil {
		return res, err
	}
	if decided != nil && !res.Duplicate {
		decided(res)
	}
	if kick {
		s.wake()
	}
	// Once queued the append is decided; waiting for it is bounded by one write and
	// fsync, so the context is not consulted again (returning early would leave the
	// caller not knowing the outcome).
	<-b.done
	if b.err != nil {
		return ledger.AppendResult{}, b.err
	}
	return res, nil
}

// wake wakes the syncer.
func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// errHealing is decide's answer when it queued a heal to wait for.
var errHealing = errors.New("filestore: resuming appends")

// askHeal queues a heal for the syncer and returns the batch to wait for, if the store
// failed for want of space, mayHeal is set, none is queued and none was asked for in
// the last NoSpaceRetry. s.decideMu is held.
func (s *Store) askHeal(mayHeal bool) *batch {
	s.mu.RLock()
	noSpace := s.noSpace
	s.mu.RUnlock()
	if !mayHeal || !noSpace || s.healing || time.Since(s.healAt) < s.opts.NoSpaceRetry {
		return nil
	}
	s.healing, s.healAt = true, time.Now()
	b, _ := s.enqueue(chunk{heal: true}, 0)
	return b
}

// decide checks a batch against the index and, if it is to be appended, encodes it,
// enters it in the index (past committed, where readers do not look) and queues it. It
// returns the batch to wait for, or nil when the answer needs no fsync, and whether to
// wake the syncer.
func (s *Store) decide(stream string, expected ledger.Expected, events []ledger.Event, mayHeal bool) (ledger.AppendResult, *batch, bool, error) {
	s.decideMu.Lock()
	defer s.decideMu.Unlock()
	if s.readOnly {
		return ledger.AppendResult{}, nil, false, ErrReadOnly
	}
	if s.closed {
		return ledger.AppendResult{}, nil, false, ledger.ErrClosed
	}
	s.mu.RLock()
	failed, committed := s.failed, s.committed
	s.mu.RUnlock()
	if failed != nil {
		if b := s.askHeal(mayHeal); b != nil {
			return ledger.AppendResult{}, b, true, errHealing
		}
		return ledger.AppendResult{}, nil, false, failed
	}
	res, dup, err := logutil.CheckRetry(stream, expected, events, s.lookup)
	if err != nil {
		return res, nil, false, err
	}
	if dup {
		last := res.Positions[len(res.Positions)-1]
		if last <= committed {
			return res, nil, false, nil
		}
		// The original is decided but not yet durable: answer after the fsync covering it.
		b, kick := s.enqueue(chunk{}, last)
		return res, b, kick, nil
	}
	current := s.streamLen(stream)
	if !expected.Matches(current) {
		return ledger.AppendResult{}, nil, false, &ledger.VersionError{Stream: stream, Expected: expected, Actual: current}
	}
	if s.size >= s.opts.SegmentBytes {
		if err := s.roll(s.last + 1); err != nil {
			return ledger.AppendResult{}, nil, false, err
		}
	}
	at := s.opts.Now().UTC()
	if at.Before(s.lastTime) {
		at = s.lastTime
	}
	s.lastTime = at
	// The frame is encoded straight into the queue's buffer, which the syncer writes
	// as it is: no buffer per append, no copy.
	fstart := len(s.frames)
	frame := append(s.frames, make([]byte, frameHeader)...)
	recs := s.recs[:0]
	segIdx := uint32(len(s.segs) - 1)
	next := s.last + 1
	res.Positions = make([]ledger.Position, len(events))
	locs := make([]loc, len(events))
	for i, e := range events {
		recs = append(recs, ledger.Record{
			ID: e.ID, Stream: stream, Version: current + ledger.Version(i) + 1, Position: next + ledger.Position(i),
			Type: e.Type, SchemaVersion: e.SchemaVersion, RecordedAt: at, Data: e.Data, Metadata: e.Metadata,
		})
		rec := &recs[i]
		start := len(frame)
		frame = append(frame, 0, 0, 0, 0)
		frame = rec.SealAppend(frame, s.lastHash)
		s.lastHash = rec.Hash
		n := len(frame) - start - recordPrefix
		binary.BigEndian.PutUint32(frame[start:], uint32(n))
		locs[i] = loc{seg: segIdx, off: s.size + int64(start-fstart+recordPrefix), n: uint32(n)}
		res.Positions[i] = rec.Position
	}
	res.Version = current + ledger.Version(len(events))
	payload := frame[fstart+frameHeader:]
	binary.BigEndian.PutUint32(frame[fstart:], uint32(len(payload)))
	binary.BigEndian.PutUint32(frame[fstart+4:], crc32.Checksum(payload, castagnoli))
	s.mu.Lock()
	s.locs = append(s.locs, locs...)
	si := s.streamNumber(stream)
	for i := range recs {
		s.appendStream(si, recs[i].Position)
		s.ids.put(recs[i].ID, recs[i].Position)
	}
	s.pending = append(s.pending, recs...)
	s.mu.Unlock()
	clear(recs) // the scratch must not keep the data alive
	s.recs = recs[:0]
	s.frames = frame
	s.size += int64(len(frame) - fstart)
	s.last = next + ledger.Position(len(events)) - 1
	b, kick := s.enqueue(chunk{off: fstart, end: len(frame)}, s.last)
	return res, b, kick, nil
}

// enqueue queues c for an appender waiting until position last is durable, and returns
// the batch to wait for and whether to wake the syncer (see gatherBatch). s.decideMu is
// held.
func (s *Store) enqueue(c chunk, last ledger.Position) (*batch, bool) {
	if s.next == nil {
		s.next = &batch{done: make(chan struct{})}
	}
	c.last = last
	s.queue = append(s.queue, c)
	s.waiting++
	return s.next, s.gather == 0 || s.waiting >= s.gather
}

// syncer is the goroutine that makes decided batches durable: it takes everything queued,
// writes it in order with one write per segment, fsyncs, publishes the new head and
// wakes the appenders. A failed write or fsync fails the store: every waiting appender is
// answered with the error (the outcome of its batch is unknown until the store is
// reopened, which recovers the log as it is on disk).
func (s *Store) syncer() {
	defer close(s.stopped)
	var work []chunk
	var frames []byte
	var g gathering
	for range s.kick {
		s.decideMu.Lock()
		s.gatherBatch(&g)
		if len(s.queue) > 0 { // not a wake-up left over from the last gathering
			g.batch = s.waiting
		}
		s.waiting = 0
		work, s.queue = s.queue, work[:0]
		b := s.next
		s.next = nil
		frames, s.frames = s.frames, frames[:0] // the appenders fill the other buffer meanwhile
		closed := s.closed
		s.decideMu.Unlock()
		if len(work) > 0 {
			t0 := time.Now()
			s.flush(work, frames, b)
			g.flush = time.Since(t0)
			clear(work)
		}
		if cap(frames) > 8<<20 {
			frames = nil
		}
		if closed {
			s.decideMu.Lock()
			empty := len(s.queue) == 0
			s.decideMu.Unlock()
			if empty {
				return
			}
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
	}
}

// Adaptive group commit. Appenders that each do work of their own between appends (a
// command handler deciding and encoding) arrive spread out: the syncer, taking whatever
// is queued the moment it is free, would write and fsync small batches, and the write
// and fsync system calls, and waking the syncer, would cost a good part of the CPU. So
// when the last batch had several waiters, the syncer waits for the queue to hold as many
// again, for at most the time the last write and fsync took (and gatherWaitMax):
// appenders that were busy then join the batch, and batches grow to the number of
// appenders. One appender alone never waits for another; when appenders go away, one
// batch waits out the time limit and the next expects fewer. (Waiting for three quarters
// of the last batch, or five quarters, cost more CPU per command in the commands
// benchmark.)
const gatherWaitMax = time.Millisecond

type gathering struct {
	batch int           // waiters in the last batch
	flush time.Duration // how long its write and fsync took
	timer *time.Timer
}

// gatherBatch waits for the batch to fill as described above. s.decideMu is held; it is
// released while waiting.
func (s *Store) gatherBatch(g *gathering) {
	target := g.batch
	if target < 2 || s.waiting >= target || s.closed {
		return
	}
	if g.timer == nil {
		g.timer = time.NewTimer(time.Hour)
	}
	g.timer.Reset(min(g.flush, gatherWaitMax))
	defer g.timer.Stop()
	for s.waiting < target && !s.closed {
		s.gather = target
		s.decideMu.Unlock()
		timedOut := false
		select {
		case <-s.kick:
		case <-g.timer.C:
			timedOut = true
		}
		s.decideMu.Lock()
		if timedOut {
			break
		}
	}
	s.gather = 0
}

// flush writes work in order, syncs, publishes and answers the waiters. frames holds the
// chunks' frames, back to back in order: what goes to one segment is written at once.
func (s *Store) flush(work []chunk, frames []byte, b *batch) {
	s.mu.RLock()
	err := s.failed
	s.mu.RUnlock()
	last := ledger.Position(0)
	from, to := 0, 0 // frames[from:to] is what the active segment still needs
	heal := false
	for _, c := range work {
		if c.heal {
			heal = true
			continue
		}
		if c.roll != nil {
			if err == nil {
				err = s.writeSync(frames[from:to])
			}
			from = to
			s.active.Close()
			s.active, s.durable = c.roll, headerBytes
			if err == nil {
				s.mu.RLock()
				sealed := append([]segment(nil), s.segs[:c.seg]...)
				end := s.segs[c.seg].first - 1
				s.mu.RUnlock()
				s.checkpointSealed(sealed, end)
			}
			continue
		}
		if c.end > c.off {
			if c.off != to {
				panic(fmt.Sprintf("filestore: queued frame at %d, want %d", c.off, to)) // frames are queued back to back
			}
			to = c.end
		}
		last = max(last, c.last)
	}
	if err == nil {
		err = s.writeSync(frames[from:to])
	}
	s.mu.Lock()
	if err != nil {
		s.fail(err, !s.uncut)
		err = s.failed
	} else if last > s.committed {
		// Move what is still pending to the front, so that the slice's array is reused
		// instead of regrown as it advances.
		n := copy(s.pending, s.pending[last-s.committed:])
		clear(s.pending[n:])
		s.pending = s.pending[:n]
		s.committed = last
		if s.full {
			s.full = false
			s.opts.Logger.Info("filestore: appends resumed after the storage was full", "dir", s.dir)
		}
	}
	s.mu.Unlock()
	if err == nil && last > 0 {
		s.head.Set(last)
	}
	if heal {
		s.heal()
	}
	if b != nil {
		b.err = err
		close(b.done)
	}
}

// fail makes the store refuse appends: until it is reopened, or, if err is for want of
// space found by a write (not by an fsync: see writeSync) and cut says that nothing of
// the failed writes is left in the log, until heal resumes them. s.mu is held.
func (s *Store) fail(err error, cut bool) {
	if s.failed != nil {
		return
	}
	if errors.Is(err, syscall.ENOSPC) && cut && !errors.Is(err, errSyncFailed) {
		s.failed = fmt.Errorf("filestore: append failed, appends resume when space is freed: %w: %w", ledger.ErrStorageFull, err)
		s.noSpace = true
		if !s.full {
			s.full = true
			s.opts.Logger.Error("filestore: storage full, appends are refused until space is freed", "dir", s.dir, "err", err.Error())
		}
		return
	}
	s.failed = fmt.Errorf("filestore: append failed, store is read-only until reopened: %w", err)
}

// heal resumes appends after a full disk, if the store failed for want of space and
// nothing else is queued. Every failed write was cut back, so the segments hold exactly
// the log up to committed: the index is built again from them, as Open does, which
// forgets what was decided past committed, and the empty segments started for it are
// removed. If the disk is still full, the next write fails again. Called by the syncer.
func (s *Store) heal() {
	s.decideMu.Lock()
	defer s.decideMu.Unlock()
	s.healing = false
	s.mu.RLock()
	ok := s.noSpace && !s.uncut && len(s.queue) == 0 && !s.closed
	segs := append([]segment(nil), s.segs...)
	committed := s.committed
	s.mu.RUnlock()
	if !ok {
		return
	}
	err := func() error {
		tail, err := lastWithFrames(segs)
		if err != nil {
			return err
		}
		x, res, _, _, err := loadIndex(s.fs, s.dir, segs, tail, s.opts.Logger, false)
		if err != nil {
			return err
		}
		if x.last != committed || res.torn {
			return fmt.Errorf("the segments end at position %d (torn: %v), the store at %d", x.last, res.torn, committed)
		}
		keep := tail + 1
		if keep < len(segs) && segs[keep].first == x.last+1 {
			keep++
		}
		end := res.end
		if keep-1 > tail {
			end = headerBytes
		}
		active := segs[keep-1]
		f, err := s.fs.OpenFile(active.path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if _, err := f.Seek(end, io.SeekStart); err != nil {
			f.Close()
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.dropEmptySegments(keep); err != nil {
			f.Close()
			return err
		}
		s.active.Close()
		s.active, s.durable, s.size = f, end, end
		s.index = *x
		clear(s.pending)
		s.pending = s.pending[:0]
		s.failed, s.noSpace = nil, false
		return nil
	}()
	if err != nil {
		s.opts.Logger.Warn("filestore: appends not resumed after the storage was full", "dir", s.dir, "err", err.Error())
	}
}

// writeSync writes buf to the active segment and fsyncs it. If either fails, it cuts the
// segment back to what the last successful fsync covered: after a failed write or fsync
// the page cache may hold bytes that the disk does not and never will (Linux marks the
// pages clean after a failed writeback: "fsyncgate"), and the next Open of this
// directory by a process that did not crash would read them as part of the log.
func (s *Store) writeSync(buf []byte) error {
	err := s.writeSyncOnce(buf)
	if err == nil {
		s.durable += int64(len(buf))
		return nil
	}
	if cerr := s.cutBack(); cerr != nil {
		s.uncut = true // Close tries again
		return fmt.Errorf("%w (and cutting the segment back to %d bytes: %v)", err, s.durable, cerr)
	}
	return err
}

// cutBack truncates the active segment to what its last successful fsync covered.
func (s *Store) cutBack() error {
	if err := s.active.Truncate(s.durable); err != nil {
		return err
	}
	if err := s.active.Sync(); err != nil {
		return err
	}
	if _, err := s.active.Seek(s.durable, io.SeekStart); err != nil {
		return err
	}
	s.uncut = false
	return nil
}

func (s *Store) writeSyncOnce(buf []byte) error {
	if len(buf) > 0 {
		if _, err := s.active.Write(buf); err != nil {
			return fmt.Errorf("write segment: %w", err)
		}
	}
	if err := s.active.Sync(); err != nil {
		return fmt.Errorf("sync segment: %w: %w", errSyncFailed, err)
	}
	return nil
}

// errSyncFailed marks a failed fsync of a segment, after which the store never resumes
// appends before it is reopened (see fail).
var errSyncFailed = errors.New("fsync failed")

// roll starts a new segment at position first for the batches decided from now on, and
// queues the switch for the syncer, which makes it once everything before is written and
// synced. s.decideMu is held.
func (s *Store) roll(first ledger.Position) error {
	seg, f, err := createSegment(s.fs, s.dir, first)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		err = s.addSegment(seg)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		s.fail(fmt.Errorf("start segment: %w", err), true) // nothing was written to the log
		return s.failed
	}
	s.size = headerBytes
	s.queue = append(s.queue, chunk{roll: f, seg: len(s.segs) - 1})
	return nil
}

// lookup finds a stored or decided record by event ID. s.decideMu is held: ids is read
// without mu; what the syncer changes is read under mu.
func (s *Store) lookup(id uuid.UUID) (ledger.Record, bool, error) {
	p, ok := s.ids.get(id)
	if !ok {
		return ledger.Record{}, false, nil
	}
	s.mu.RLock()
	if p > s.committed {
		rec := s.pending[p-s.committed-1] // decided, not yet durable
		s.mu.RUnlock()
		return rec, true, nil
	}
	l := s.loc(p)
	seg := s.segs[l.seg]
	s.mu.RUnlock()
	rec, err := readRecord(seg, l, p)
	return rec, err == nil, err
}

func readRecord(seg segment, l loc, p ledger.Position) (ledger.Record, error) {
	b := make([]byte, l.n)
	if _, err := seg.rf.ReadAt(b, l.off); err != nil {
		return ledger.Record{}, fmt.Errorf("filestore: read position %d (segment %s offset %d): %w", p, seg.name, l.off, err)
	}
	var rec ledger.Record
	if err := rec.UnmarshalBinary(b); err != nil || rec.Position != p {
		return ledger.Record{}, &ledger.CorruptionError{Position: p, Location: fmt.Sprintf("segment %s offset %d", seg.name, l.off), Reason: fmt.Sprintf("record does not decode as position %d: %v", p, err)}
	}
	return rec, nil
}

// ReadStream implements ledger.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		for v := max(from, 1); ; v++ {
			if err := ctx.Err(); err != nil {
				yield(ledger.Record{}, err)
				return
			}
			s.mu.RLock()
			p, ok := s.streamAt(stream, v)
			if !ok || p > s.committed {
				s.mu.RUnlock()
				return
			}
			l := s.loc(p)
			seg := s.segs[l.seg]
			s.mu.RUnlock()
			rec, err := readRecord(seg, l, p)
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}

// ReadAll implements ledger.Store. It reads segments in chunks of up to readChunkBytes;
// records' Data alias a chunk that is never reused.
func (s *Store) ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		err := s.readChunks(ctx, from, false, func(p ledger.Position, seg segment, locs []loc, chunk []byte) error {
			base := locs[0].off
			for i, l := range locs {
				pos := p + ledger.Position(i)
				var rec ledger.Record
				if err := rec.UnmarshalBinary(chunk[l.off-base : l.off-base+int64(l.n)]); err != nil || rec.Position != pos {
					return &ledger.CorruptionError{Position: pos, Location: fmt.Sprintf("segment %s offset %d", seg.name, l.off), Reason: fmt.Sprintf("record does not decode as position %d: %v", pos, err)}
				}
				if !yield(rec, nil) {
					return errStopRead
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopRead) {
			yield(ledger.Record{}, err)
		}
	}
}

// errStopRead ends readChunks when the reader wants no more.
var errStopRead = errors.New("filestore: stop reading")

// readChunks reads the committed records from position from on, in chunks of up to
// readChunkBytes of one segment, and calls fn with each chunk, the locations of its
// records (the first at position p) and their segment, until the head, ctx is done, or fn
// returns an error, which it returns. With reuse, one buffer serves every chunk (fn must
// not keep it); otherwise every chunk is newly allocated.
func (s *Store) readChunks(ctx context.Context, from ledger.Position, reuse bool, fn func(p ledger.Position, seg segment, locs []loc, chunk []byte) error) error {
	var buf []byte
	var locs []loc // the chunk's, reused: fn must not keep it
	p := max(from, 1)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.RLock()
		if p > s.committed {
			s.mu.RUnlock()
			return nil
		}
		first := s.loc(p)
		seg := s.segs[first.seg]
		locs = append(locs[:0], first)
		q := p
		for q < s.committed {
			l := s.loc(q + 1)
			prev := locs[len(locs)-1]
			if l.seg != first.seg || l.off < prev.off+int64(prev.n) || l.off+int64(l.n)-first.off > readChunkBytes {
				break // (records follow each other in a segment: anything else is read alone, and found corrupt)
			}
			locs = append(locs, l)
			q++
		}
		s.mu.RUnlock()
		end := locs[len(locs)-1].off + int64(locs[len(locs)-1].n)
		if n := int(end - first.off); reuse && cap(buf) >= n {
			buf = buf[:n]
		} else {
			buf = make([]byte, n)
		}
		if _, err := seg.rf.ReadAt(buf, first.off); err != nil {
			return fmt.Errorf("filestore: read segment %s offset %d: %w", seg.name, first.off, err)
		}
		if err := fn(p, seg, locs, buf); err != nil {
			return err
		}
		p = q + 1
	}
}

// Subscribe implements ledger.Store.
func (s *Store) Subscribe(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return logutil.Follow(ctx, from, s.ReadAll, &s.head)
}

// Head implements ledger.Store.
func (s *Store) Head(ctx context.Context) (ledger.Position, error) {
	return s.head.Load(), ctx.Err()
}

// Verify implements ledger.Verifier: it reads every segment from disk again, checks every
// frame's CRC and every record's position, stream version, hash link and hash, and returns
// a *ledger.CorruptionError naming the segment, offset and position of the first bad record.
// It checks the log up to the head at the time of the call.
func (s *Store) Verify(ctx context.Context) (ledger.VerifyReport, error) {
	return s.VerifyProgress(ctx, nil)
}

// verifyProgressEvery is how many records VerifyProgress checks between two reports.
const verifyProgressEvery = 4096

// VerifyProgress is Verify calling progress, if not nil, with the position checked so far
// every verifyProgressEvery records, for progress bars.
func (s *Store) VerifyProgress(ctx context.Context, progress func(ledger.Position)) (ledger.VerifyReport, error) {
	s.mu.RLock()
	segs := append([]segment(nil), s.segs...)
	head := s.committed
	// Frames past the head may be in the middle of being written (by this store's syncer
	// or, for a read-only store, by the writing process), in the segment holding the head
	// or a later one: an incomplete frame there ends the scan instead of being corruption.
	// Whatever ends the scan before the head is still found (the log ends too early).
	tail := 0
	if head > 0 {
		tail = int(s.loc(head).seg)
	}
	s.mu.RUnlock()
	var where string
	records := func(yield func(ledger.Record, error) bool) {
		stop := errors.New("stop")
		for i, seg := range segs {
			next := seg.first
			res, err := scanSegment(seg, 0, seg.first, i >= tail, func(b []byte, off int64) error {
				if next > head {
					return stop
				}
				where = fmt.Sprintf("segment %s offset %d", seg.name, off)
				var rec ledger.Record
				if err := rec.UnmarshalBinary(b); err != nil {
					return &ledger.CorruptionError{Position: next, Reason: fmt.Sprintf("decode record: %v", err)}
				}
				if rec.Position != next {
					return &ledger.CorruptionError{Position: next, Reason: fmt.Sprintf("record has position %d, want %d", rec.Position, next)}
				}
				next++
				if !yield(rec, nil) {
					return stop
				}
				if progress != nil && rec.Position%verifyProgressEvery == 0 {
					progress(rec.Position)
				}
				return nil
			})
			if errors.Is(err, stop) {
				return
			}
			if err != nil {
				yield(ledger.Record{}, err)
				return
			}
			if res.torn {
				return
			}
		}
	}
	rep, err := ledger.Verify(ctx, records)
	var ce *ledger.CorruptionError
	if errors.As(err, &ce) && ce.Location == "" {
		ce.Location = where
	}
	if err == nil && rep.Head != head {
		err = &ledger.CorruptionError{Position: rep.Head + 1, Reason: fmt.Sprintf("log ends at position %d, index says %d", rep.Head, head)}
	}
	return rep, err
}

// Close implements ledger.Store: it waits for decided appends to become durable, then
// releases the files and the directory lock. Closing twice is harmless.
func (s *Store) Close() error {
	if s.readOnly {
		s.decideMu.Lock()
		defer s.decideMu.Unlock()
		if s.roClosed {
			return nil
		}
		s.roClosed = true
		s.head.Close()
		return s.closeFiles()
	}
	s.decideMu.Lock()
	if s.closed {
		s.decideMu.Unlock()
		return nil
	}
	s.closed = true
	s.decideMu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	<-s.stopped
	s.head.Close()
	s.ckptWG.Wait()
	s.writeCloseCheckpoint()
	var cutErr error
	if s.uncut {
		if cutErr = s.cutBack(); cutErr != nil {
			cutErr = fmt.Errorf("%w: segment past offset %d: %v", ErrUncutTail, s.durable, cutErr)
		}
	}
	return errors.Join(cutErr, s.closeFiles())
}

// ErrUncutTail is returned by Close when, after a failed write or fsync, the store could
// not cut the active segment back to what its last fsync covered, neither then nor at
// Close. The page cache may then hold bytes of that segment that the disk does not: a
// process opening the directory before the machine restarts (or the file's cache is
// dropped) would read them as part of the log (docs/reliability.md).
var ErrUncutTail = errors.New("filestore: could not cut unsynced bytes off the active segment")

// writeCloseCheckpoint writes the checkpoint of the whole log, once the syncer has
// stopped, so that the next Open need not read the log, unless the last checkpoint read or
// written already covers it. A store that failed writes none:
// what is on disk is for the next Open to find out. Not writing one is logged, not
// returned: the log is whole without it.
func (s *Store) writeCloseCheckpoint() {
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.failed != nil {
		return
	}
	if s.last != s.committed || len(s.pending) != 0 {
		panic(fmt.Sprintf("filestore: closed with position %d decided, %d durable", s.last, s.committed))
	}
	if s.ckptHas.Load() && uint64(s.committed) == s.ckptPos.Load() {
		return // nothing appended since the checkpoint: a read-only session rewrites nothing
	}
	if err := s.checkpoint(&s.index, s.segs, s.size); err != nil {
		s.opts.Logger.Warn("filestore: index checkpoint not written", "dir", s.dir, "err", err.Error())
	}
}

func (s *Store) closeFiles() error {
	var errs []error
	if s.active != nil {
		errs = append(errs, s.active.Close())
	}
	s.mu.Lock()
	for _, seg := range s.segs {
		errs = append(errs, seg.rf.Close())
	}
	s.mu.Unlock()
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // closing the file releases the flock
	}
	return errors.Join(errs...)
}

// Dir returns the store's data directory.
func (s *Store) Dir() string { return s.dir }
