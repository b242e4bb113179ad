// Package filestore is techledger's embedded, durable ledger.Store: append-only segment
// files in one data directory, owned by one process.
//
// Durability: Append returns only after an fsync that covers its batch. Concurrent appends
// share fsyncs (group commit): each appender decides and encodes its own batch under a
// mutex and queues it; one syncer goroutine takes everything queued whenever it is free,
// writes it with one write and makes it durable with one fsync.
//
// Integrity: every frame carries a CRC-32C, every record the SHA-256 hash chain. At open the
// store scans every segment, checks frames, positions, stream versions and hash links, and
// rebuilds its index in memory (stream -> positions, event ID -> position, position ->
// file offset). A torn tail in the last segment — an incomplete frame, or zero bytes, left
// by a crash during a write that was therefore never acknowledged — is truncated. Any
// other damage refuses the open with a *ledger.CorruptionError naming the segment, offset
// and position. Verify recomputes every hash as well.
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
	"iter"
	"os"
	"path/filepath"
	"sync"
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
}

const (
	segmentBytesDefault = 64 << 20
	// readChunkBytes is how much ReadAll reads from a segment at a time.
	readChunkBytes = 1 << 20
)

type segment struct {
	name  string
	path  string
	first ledger.Position
	rf    *os.File // read handle, shared by readers (ReadAt is safe for concurrent use)
}

// loc says where a record's encoding is: segment index, offset, length.
type loc struct {
	seg uint32
	n   uint32
	off int64
}

// Store is the embedded file-backed ledger.Store. It is safe for concurrent use.
type Store struct {
	dir  string
	opts Options
	lock *os.File

	stopped chan struct{} // closed when the syncer goroutine has exited
	kick    chan struct{} // capacity 1: "something was decided"

	head logutil.Head // committed (durable) head; readers never go past it

	// decideMu serialises deciding: an appender holds it to check its batch against the
	// index, extend the hash chain, encode its frame and queue itself for the syncer.
	decideMu sync.Mutex
	closed   bool            // no more appends
	lastHash ledger.Hash     // hash of the last decided record
	lastTime time.Time       // recorded-at of the last decided record
	size     int64           // bytes in the active segment once every decided frame is written
	decided  ledger.Position // last position decided (durable or on its way)
	queue    []chunk         // decided frames and waiters for the syncer, in order
	frames   []byte          // the queued frames, back to back in queue order (chunk.off, chunk.end)
	recs     []ledger.Record // scratch for decide

	// mu guards the index for readers. Appenders change segs, locs, streams, ids and
	// pending's tail holding decideMu and mu; holding decideMu alone they may read them.
	// The syncer changes committed, pending's head and failed under mu.
	mu        sync.RWMutex
	segs      []segment
	locs      []loc // locs[p-1] for position p; includes decided positions past committed
	streams   map[string][]ledger.Position
	ids       map[uuid.UUID]ledger.Position
	committed ledger.Position // last durable position
	pending   []ledger.Record // decided records past committed, in position order
	failed    error

	active *os.File // the segment being written; the syncer's after Open
}

// chunk is a unit of work for the syncer: a frame to write (frames[off:end] of the queue
// it was taken with; off == end for none) and the appender waiting for it, or (roll set) a
// switch to a new segment.
type chunk struct {
	off, end int
	w        *waiter
	roll     *os.File
}

// waiter is an appender waiting for its batch to be durable.
type waiter struct {
	last ledger.Position // last position of the batch (or of the original, for a retry)
	err  error
	done chan struct{}
}

// Open opens (creating if needed) the store in dir, recovering a torn tail and refusing a
// damaged log. It returns an error wrapping ledger.ErrLocked if another Store holds dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = segmentBytesDefault
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("filestore: create %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{
		dir: dir, opts: opts, lock: lock,
		stopped: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		streams: make(map[string][]ledger.Position),
		ids:     make(map[uuid.UUID]ledger.Position),
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("filestore: open %s: %w", dir, err)
	}
	s.head.Set(s.committed)
	s.decided = s.committed
	go s.syncer()
	return s, nil
}

func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("filestore: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("filestore: %s: %w", dir, ledger.ErrLocked)
		}
		return nil, fmt.Errorf("filestore: lock %s: %w", dir, err)
	}
	return f, nil
}

// recover scans every segment, rebuilds the index and truncates a torn tail.
func (s *Store) recover() error {
	tmps, _ := filepath.Glob(filepath.Join(s.dir, "*"+segmentExt+".tmp"))
	for _, t := range tmps { // a segment whose creation did not finish holds nothing
		if err := os.Remove(t); err != nil {
			return fmt.Errorf("remove unfinished segment: %w", err)
		}
	}
	segs, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		seg, f, err := createSegment(s.dir, 1)
		if err != nil {
			return err
		}
		s.active, s.size = f, headerBytes
		return s.addSegment(seg)
	}
	next := ledger.Position(1)
	for i, seg := range segs {
		if seg.first != next {
			return &ledger.CorruptionError{Position: next, Location: "segment " + seg.name, Reason: fmt.Sprintf("segment starts at position %d, want %d", seg.first, next)}
		}
		last := i == len(segs)-1
		idx := uint32(i)
		res, err := scanSegment(seg, last, func(rec *ledger.Record, off int64, n int) error {
			return s.index(rec, loc{seg: idx, off: off, n: uint32(n)})
		})
		if err != nil {
			return err
		}
		if err := s.addSegment(seg); err != nil {
			return err
		}
		next = s.committed + 1
		if last {
			f, err := os.OpenFile(seg.path, os.O_WRONLY, 0)
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
				if err := f.Sync(); err != nil {
					return fmt.Errorf("sync %s: %w", seg.name, err)
				}
			}
			if _, err := f.Seek(res.end, 0); err != nil {
				return fmt.Errorf("seek %s: %w", seg.name, err)
			}
			s.size = res.end
		}
	}
	return nil
}

// index adds a record read at open to the in-memory index after checking that it
// continues the log: its stream version and its link to the previous hash.
func (s *Store) index(rec *ledger.Record, l loc) error {
	want := ledger.Version(len(s.streams[rec.Stream])) + 1
	switch {
	case rec.Version != want:
		return &ledger.CorruptionError{Position: rec.Position, Reason: fmt.Sprintf("stream %q version %d, want %d", rec.Stream, rec.Version, want)}
	case rec.PrevHash != s.lastHash:
		return &ledger.CorruptionError{Position: rec.Position, Reason: "previous hash does not match the hash of the record before"}
	}
	if _, dup := s.ids[rec.ID]; dup {
		return &ledger.CorruptionError{Position: rec.Position, Reason: fmt.Sprintf("event id %s stored twice", rec.ID)}
	}
	s.locs = append(s.locs, l)
	s.streams[rec.Stream] = append(s.streams[rec.Stream], rec.Position)
	s.ids[rec.ID] = rec.Position
	s.committed = rec.Position
	s.lastHash = rec.Hash
	s.lastTime = rec.RecordedAt
	return nil
}

func (s *Store) addSegment(seg segment) error {
	rf, err := os.Open(seg.path)
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
	res, w, err := s.decide(stream, expected, events)
	if err != nil || w == nil {
		return res, err
	}
	if decided != nil && !res.Duplicate {
		decided(res)
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	// Once queued the append is decided; waiting for it is bounded by one write and
	// fsync, so the context is not consulted again (returning early would leave the
	// caller not knowing the outcome).
	<-w.done
	if w.err != nil {
		return ledger.AppendResult{}, w.err
	}
	return res, nil
}

// decide checks a batch against the index and, if it is to be appended, encodes it,
// enters it in the index (past committed, where readers do not look) and queues it. It
// returns the waiter to wait on, or nil when the answer needs no fsync.
func (s *Store) decide(stream string, expected ledger.Expected, events []ledger.Event) (ledger.AppendResult, *waiter, error) {
	s.decideMu.Lock()
	defer s.decideMu.Unlock()
	if s.closed {
		return ledger.AppendResult{}, nil, ledger.ErrClosed
	}
	s.mu.RLock()
	failed, committed := s.failed, s.committed
	s.mu.RUnlock()
	if failed != nil {
		return ledger.AppendResult{}, nil, failed
	}
	res, dup, err := logutil.CheckRetry(stream, expected, events, s.lookup)
	if err != nil {
		return res, nil, err
	}
	if dup {
		last := res.Positions[len(res.Positions)-1]
		if last <= committed {
			return res, nil, nil
		}
		// The original is decided but not yet durable: answer after the fsync covering it.
		w := &waiter{last: last, done: make(chan struct{})}
		s.queue = append(s.queue, chunk{w: w})
		return res, w, nil
	}
	current := ledger.Version(len(s.streams[stream]))
	if !expected.Matches(current) {
		return ledger.AppendResult{}, nil, &ledger.VersionError{Stream: stream, Expected: expected, Actual: current}
	}
	if s.size >= s.opts.SegmentBytes {
		if err := s.roll(s.decided + 1); err != nil {
			return ledger.AppendResult{}, nil, err
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
	next := s.decided + 1
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
	for i := range recs {
		s.streams[stream] = append(s.streams[stream], recs[i].Position)
		s.ids[recs[i].ID] = recs[i].Position
	}
	s.pending = append(s.pending, recs...)
	s.mu.Unlock()
	clear(recs) // the scratch must not keep the data alive
	s.recs = recs[:0]
	s.frames = frame
	s.size += int64(len(frame) - fstart)
	s.decided = next + ledger.Position(len(events)) - 1
	w := &waiter{last: s.decided, done: make(chan struct{})}
	s.queue = append(s.queue, chunk{off: fstart, end: len(frame), w: w})
	return res, w, nil
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
	for range s.kick {
		s.decideMu.Lock()
		work, s.queue = s.queue, work[:0]
		frames, s.frames = s.frames, frames[:0] // the appenders fill the other buffer meanwhile
		closed := s.closed
		s.decideMu.Unlock()
		if len(work) > 0 {
			s.flush(work, frames)
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

// flush writes work in order, syncs, publishes and answers the waiters. frames holds the
// chunks' frames, back to back in order: what goes to one segment is written at once.
func (s *Store) flush(work []chunk, frames []byte) {
	s.mu.RLock()
	err := s.failed
	s.mu.RUnlock()
	last := ledger.Position(0)
	from, to := 0, 0 // frames[from:to] is what the active segment still needs
	for _, c := range work {
		if c.roll != nil {
			if err == nil {
				err = s.writeSync(frames[from:to])
			}
			from = to
			s.active.Close()
			s.active = c.roll
			continue
		}
		if c.end > c.off {
			if c.off != to {
				panic(fmt.Sprintf("filestore: queued frame at %d, want %d", c.off, to)) // frames are queued back to back
			}
			to = c.end
		}
		if c.w != nil {
			last = max(last, c.w.last)
		}
	}
	if err == nil {
		err = s.writeSync(frames[from:to])
	}
	s.mu.Lock()
	if err != nil {
		if s.failed == nil {
			s.failed = fmt.Errorf("filestore: append failed, store is read-only until reopened: %w", err)
		}
		err = s.failed
	} else if last > s.committed {
		// Move what is still pending to the front, so that the slice's array is reused
		// instead of regrown as it advances.
		n := copy(s.pending, s.pending[last-s.committed:])
		clear(s.pending[n:])
		s.pending = s.pending[:n]
		s.committed = last
	}
	s.mu.Unlock()
	if err == nil && last > 0 {
		s.head.Set(last)
	}
	for _, c := range work {
		if c.w != nil {
			c.w.err = err
			close(c.w.done)
		}
	}
}

func (s *Store) writeSync(buf []byte) error {
	if len(buf) > 0 {
		if _, err := s.active.Write(buf); err != nil {
			return fmt.Errorf("write segment: %w", err)
		}
	}
	if err := s.active.Sync(); err != nil {
		return fmt.Errorf("sync segment: %w", err)
	}
	return nil
}

// roll starts a new segment at position first for the batches decided from now on, and
// queues the switch for the syncer, which makes it once everything before is written and
// synced. s.decideMu is held.
func (s *Store) roll(first ledger.Position) error {
	seg, f, err := createSegment(s.dir, first)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		err = s.addSegment(seg)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		if s.failed == nil {
			s.failed = fmt.Errorf("filestore: start segment, store is read-only until reopened: %w", err)
		}
		return s.failed
	}
	s.size = headerBytes
	s.queue = append(s.queue, chunk{roll: f})
	return nil
}

// lookup finds a stored or decided record by event ID. s.decideMu is held: ids is read
// without mu; what the syncer changes is read under mu.
func (s *Store) lookup(id uuid.UUID) (ledger.Record, bool, error) {
	p, ok := s.ids[id]
	if !ok {
		return ledger.Record{}, false, nil
	}
	s.mu.RLock()
	if p > s.committed {
		rec := s.pending[p-s.committed-1] // decided, not yet durable
		s.mu.RUnlock()
		return rec, true, nil
	}
	l := s.locs[p-1]
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
			ps := s.streams[stream]
			if int(v) > len(ps) || ps[v-1] > s.committed {
				s.mu.RUnlock()
				return
			}
			p := ps[v-1]
			l := s.locs[p-1]
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
		p := max(from, 1)
		for {
			if err := ctx.Err(); err != nil {
				yield(ledger.Record{}, err)
				return
			}
			s.mu.RLock()
			if p > s.committed {
				s.mu.RUnlock()
				return
			}
			first := s.locs[p-1]
			seg := s.segs[first.seg]
			q := p
			for q < s.committed {
				l := s.locs[q] // position q+1
				if l.seg != first.seg || l.off+int64(l.n)-first.off > readChunkBytes {
					break
				}
				q++
			}
			locs := s.locs[p-1 : q : q]
			s.mu.RUnlock()
			end := locs[len(locs)-1].off + int64(locs[len(locs)-1].n)
			chunk := make([]byte, end-first.off)
			if _, err := seg.rf.ReadAt(chunk, first.off); err != nil {
				yield(ledger.Record{}, fmt.Errorf("filestore: read segment %s offset %d: %w", seg.name, first.off, err))
				return
			}
			for i, l := range locs {
				pos := p + ledger.Position(i)
				var rec ledger.Record
				b := chunk[l.off-first.off : l.off-first.off+int64(l.n)]
				if err := rec.UnmarshalBinary(b); err != nil || rec.Position != pos {
					yield(ledger.Record{}, &ledger.CorruptionError{Position: pos, Location: fmt.Sprintf("segment %s offset %d", seg.name, l.off), Reason: fmt.Sprintf("record does not decode as position %d: %v", pos, err)})
					return
				}
				if !yield(rec, nil) {
					return
				}
			}
			p = q + 1
		}
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
	s.mu.RLock()
	segs := append([]segment(nil), s.segs...)
	head := s.committed
	s.mu.RUnlock()
	var where string
	records := func(yield func(ledger.Record, error) bool) {
		stop := errors.New("stop")
		for i, seg := range segs {
			_, err := scanSegment(seg, i == len(segs)-1, func(rec *ledger.Record, off int64, _ int) error {
				if rec.Position > head {
					return stop
				}
				where = fmt.Sprintf("segment %s offset %d", seg.name, off)
				if !yield(*rec, nil) {
					return stop
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
	return s.closeFiles()
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
	errs = append(errs, s.lock.Close()) // closing the file releases the flock
	return errors.Join(errs...)
}

// Dir returns the store's data directory.
func (s *Store) Dir() string { return s.dir }
