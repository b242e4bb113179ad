// Package filestore is techledger's embedded, durable ledger.Store: append-only segment
// files in one data directory, owned by one process.
//
// Durability: Append returns only after an fsync that covers its batch. Concurrent appends
// share fsyncs (group commit): a single writer goroutine takes every append waiting for it,
// writes them as consecutive frames with one write and makes them durable with one fsync.
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
	// groupAppendsMax bounds how many waiting appends one write + fsync covers.
	groupAppendsMax = 1024
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

type request struct {
	stream   string
	expected ledger.Expected
	events   []ledger.Event
	res      ledger.AppendResult
	err      error
	done     chan struct{}
}

// Store is the embedded file-backed ledger.Store. It is safe for concurrent use.
type Store struct {
	dir  string
	opts Options
	lock *os.File

	closeMu sync.RWMutex // held for reading while sending to reqs; for writing by Close
	closed  bool
	reqs    chan *request
	stopped chan struct{} // closed when the writer goroutine has exited

	head logutil.Head // committed (durable) head; readers never go past it

	// mu guards the index for readers. Only the writer goroutine changes segs, locs,
	// streams, ids and pending's tail (always under mu); it reads them without mu. The
	// syncer changes committed, pending's head and failed, under mu.
	mu        sync.RWMutex
	segs      []segment
	locs      []loc // locs[p-1] for position p; includes decided positions past committed
	streams   map[string][]ledger.Position
	ids       map[uuid.UUID]ledger.Position
	committed ledger.Position // last durable position
	pending   []ledger.Record // decided records past committed, in position order
	failed    error

	// Owned by the writer goroutine (after Open): only it reads or changes them.
	lastHash ledger.Hash     // hash of the last decided record
	lastTime time.Time       // recorded-at of the last decided record
	size     int64           // bytes in the active segment once every decided group is written
	decided  ledger.Position // last position decided (durable or on its way)

	syncMu sync.Mutex // held by whichever goroutine is writing and syncing (see syncInline)
	active *os.File   // the segment being written; guarded by syncMu after Open
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
		reqs:    make(chan *request, groupAppendsMax),
		stopped: make(chan struct{}),
		streams: make(map[string][]ledger.Position),
		ids:     make(map[uuid.UUID]ledger.Position),
	}
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("filestore: open %s: %w", dir, err)
	}
	s.head.Set(s.committed)
	s.decided = s.committed
	go s.writer()
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
func (s *Store) Append(ctx context.Context, stream string, expected ledger.Expected, events ...ledger.Event) (ledger.AppendResult, error) {
	if err := ledger.ValidateAppend(stream, events); err != nil {
		return ledger.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return ledger.AppendResult{}, err
	}
	req := &request{stream: stream, expected: expected, events: events, done: make(chan struct{})}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ledger.AppendResult{}, ledger.ErrClosed
	}
	s.reqs <- req
	s.closeMu.RUnlock()
	// Once queued the append is decided by the writer; waiting for it is bounded by one
	// write and fsync, so the context is not consulted again (returning early would leave
	// the caller not knowing the outcome).
	<-req.done
	return req.res, req.err
}

// group is a set of decided batches, encoded as consecutive frames, on its way to disk.
type group struct {
	reqs []*request // every request of the group, answered when the group is durable
	buf  []byte     // frames to write; empty if no request of the group appends anything
	last ledger.Position
	roll *os.File // if set, the syncer switches to this new segment before writing later groups
}

// syncQueue hands decided groups from the sequencer to the syncer.
type syncQueue struct {
	mu     sync.Mutex
	cond   sync.Cond // signalled when the queue shrinks
	groups []*group
	bytes  int
	closed bool
	kick   chan struct{} // capacity 1: "there is something to sync"
}

// syncQueueBytesMax bounds how far deciding may run ahead of the disk.
const syncQueueBytesMax = 32 << 20

func (q *syncQueue) push(g *group) {
	q.mu.Lock()
	for q.bytes > syncQueueBytesMax {
		q.cond.Wait()
	}
	q.groups = append(q.groups, g)
	q.bytes += len(g.buf)
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// take returns every queued group (possibly none); ok is false once closed and drained.
func (q *syncQueue) take(into []*group) (groups []*group, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.groups) == 0 {
		return into[:0], !q.closed
	}
	into = append(into[:0], q.groups...)
	clear(q.groups)
	q.groups, q.bytes = q.groups[:0], 0
	q.cond.Broadcast()
	return into, true
}

func (q *syncQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// writer is the sequencer: the single goroutine that decides appends. It takes every
// waiting request, decides and encodes them as one group, and queues the group for the
// syncer, which makes everything queued durable with one write and one fsync. Deciding
// overlaps with the fsync in flight, so the CPU work of hashing and indexing stays off the
// fsync's critical path, and each fsync covers every batch decided while the previous one
// ran.
func (s *Store) writer() {
	q := &syncQueue{kick: make(chan struct{}, 1)}
	q.cond.L = &q.mu
	syncerDone := make(chan struct{})
	go s.syncer(q, syncerDone)
	defer func() {
		q.close()
		<-syncerDone
		close(s.stopped)
	}()
	for {
		req, ok := <-s.reqs
		if !ok {
			return
		}
		g := &group{reqs: make([]*request, 0, 16)}
		g.reqs = append(g.reqs, req)
	drain:
		for len(g.reqs) < groupAppendsMax {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				g.reqs = append(g.reqs, r)
			default:
				break drain
			}
		}
		s.decide(g)
		if !s.syncInline(q, g) {
			q.push(g)
		}
		if s.size >= s.opts.SegmentBytes && len(g.buf) > 0 {
			if f, err := s.roll(g.last + 1); err == nil {
				q.push(&group{roll: f})
			}
		}
	}
}

// decide decides every request of g against the index (including the requests before it,
// in this group and in groups not yet durable) and encodes the accepted batches as frames.
// Accepted batches enter the index at once, past s.committed, so that later decisions see
// them; readers never look past s.committed.
func (s *Store) decide(g *group) {
	s.mu.RLock()
	failed := s.failed
	s.mu.RUnlock()
	if failed != nil {
		for _, r := range g.reqs {
			r.err = failed
		}
		return
	}
	// The writer goroutine is the only one that changes the index (streams, ids, locs,
	// pending) and the chain state (decided, lastHash, lastTime, size), so it reads them
	// without a lock and takes the lock only to publish its changes to readers. Hashing
	// and encoding run outside the lock.
	at := s.opts.Now().UTC()
	if at.Before(s.lastTime) {
		at = s.lastTime
	}
	s.lastTime = at
	next := s.decided + 1
	segIdx := uint32(len(s.segs) - 1)
	size := 0
	for _, r := range g.reqs {
		size += frameHeader
		for _, e := range r.events {
			size += recordPrefix + recordOverheadBytes + len(r.stream) + len(e.Type) + len(e.Data) + e.Metadata.Size()
		}
	}
	buf := getBuf(size)
	var recs []ledger.Record
	var locs []loc
	for _, r := range g.reqs {
		res, dup, err := logutil.CheckRetry(r.stream, r.expected, r.events, s.lookup)
		if err != nil || dup {
			r.res, r.err = res, err
			continue
		}
		current := ledger.Version(len(s.streams[r.stream]))
		if !r.expected.Matches(current) {
			r.err = &ledger.VersionError{Stream: r.stream, Expected: r.expected, Actual: current}
			continue
		}
		frame := len(buf)
		buf = append(buf, make([]byte, frameHeader)...)
		r.res.Positions = make([]ledger.Position, 0, len(r.events))
		recs, locs = recs[:0], locs[:0]
		for i, e := range r.events {
			rec := ledger.Record{
				ID: e.ID, Stream: r.stream, Version: current + ledger.Version(i) + 1, Position: next,
				Type: e.Type, SchemaVersion: e.SchemaVersion, RecordedAt: at, Data: e.Data, Metadata: e.Metadata,
			}
			rec.Seal(s.lastHash)
			start := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			buf = rec.AppendBinary(buf)
			n := len(buf) - start - recordPrefix
			binary.BigEndian.PutUint32(buf[start:], uint32(n))
			recs = append(recs, rec)
			locs = append(locs, loc{seg: segIdx, off: s.size + int64(start+recordPrefix), n: uint32(n)})
			s.lastHash = rec.Hash
			r.res.Positions = append(r.res.Positions, next)
			r.res.Version = rec.Version
			next++
		}
		payload := buf[frame+frameHeader:]
		binary.BigEndian.PutUint32(buf[frame:], uint32(len(payload)))
		binary.BigEndian.PutUint32(buf[frame+4:], crc32.Checksum(payload, castagnoli))
		s.mu.Lock()
		s.locs = append(s.locs, locs...)
		for _, rec := range recs {
			s.streams[r.stream] = append(s.streams[r.stream], rec.Position)
			s.ids[rec.ID] = rec.Position
		}
		s.pending = append(s.pending, recs...)
		s.mu.Unlock()
	}
	s.size += int64(len(buf))
	s.decided = next - 1
	g.buf = buf
	g.last = next - 1
}

// syncInline makes g durable on the sequencer's own goroutine when nothing else is waiting:
// no queued group, no waiting request and the syncer idle. A lone appender then pays for
// one goroutine hand-off, as with a plain fsync-per-write log, not two. It reports whether
// it did.
func (s *Store) syncInline(q *syncQueue, g *group) bool {
	q.mu.Lock()
	if len(q.groups) > 0 || len(s.reqs) > 0 || !s.syncMu.TryLock() {
		q.mu.Unlock()
		return false
	}
	q.mu.Unlock()
	s.flush([]*group{g}, nil)
	s.syncMu.Unlock()
	return true
}

// syncer makes queued groups durable: it takes everything queued at once and flushes it.
func (s *Store) syncer(q *syncQueue, done chan<- struct{}) {
	defer close(done)
	var groups []*group
	var buf []byte
	for {
		s.syncMu.Lock()
		var ok bool
		if groups, ok = q.take(groups); !ok {
			s.syncMu.Unlock()
			return
		}
		if len(groups) > 0 {
			buf = s.flush(groups, buf)
		}
		s.syncMu.Unlock()
		if len(groups) == 0 {
			<-q.kick
		}
	}
}

// flush writes groups in order — with one fsync per segment touched — then publishes them
// and answers their requests. A failed write or fsync fails the store: those groups and
// every group decided on top of them are answered with the error. It returns buf for reuse.
// s.syncMu is held.
func (s *Store) flush(groups []*group, buf []byte) []byte {
	s.mu.RLock()
	err := s.failed
	s.mu.RUnlock()
	last := ledger.Position(0)
	buf = buf[:0]
	for _, g := range groups {
		if g.roll != nil {
			if err == nil && len(buf) > 0 {
				err = s.writeSync(buf)
			}
			buf = buf[:0]
			s.active.Close()
			s.active = g.roll
			continue
		}
		if len(groups) == 1 {
			buf = g.buf // no copy for a lone group
		} else {
			buf = append(buf, g.buf...)
			putBuf(g.buf)
		}
		if len(g.buf) > 0 {
			last = g.last
		}
	}
	if err == nil && len(buf) > 0 {
		err = s.writeSync(buf)
	}
	s.mu.Lock()
	if err != nil {
		if s.failed == nil {
			s.failed = fmt.Errorf("filestore: append failed, store is read-only until reopened: %w", err)
		}
		for _, g := range groups {
			for _, r := range g.reqs {
				if r.err == nil && !r.res.Duplicate {
					r.res, r.err = ledger.AppendResult{}, s.failed
				}
			}
		}
	} else if last > 0 {
		s.pending = s.pending[last-s.committed:]
		s.committed = last
	}
	s.mu.Unlock()
	if err == nil && last > 0 {
		s.head.Set(last)
	}
	// Duplicates found among records not yet durable are answered only now, after the
	// fsync that covers them.
	for _, g := range groups {
		for _, r := range g.reqs {
			close(r.done)
		}
	}
	if len(groups) == 1 {
		putBuf(buf)
		return nil
	}
	if cap(buf) > 8<<20 {
		return nil
	}
	return buf
}

// recordOverheadBytes is an upper bound on a record's encoding beyond its strings and data:
// fixed fields, hashes and length prefixes.
const recordOverheadBytes = 1 + 8 + 8 + 16 + 2 + 8 + 2*32 + 11*binary.MaxVarintLen32

// bufPool recycles group buffers: deciding a group encodes into one, flushing returns it.
var bufPool sync.Pool

func getBuf(n int) []byte {
	if p, ok := bufPool.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n)
}

func putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > 4<<20 {
		return
	}
	b = b[:0]
	bufPool.Put(&b)
}

func (s *Store) writeSync(buf []byte) error {
	if _, err := s.active.Write(buf); err != nil {
		return fmt.Errorf("write segment: %w", err)
	}
	if err := s.active.Sync(); err != nil {
		return fmt.Errorf("sync segment: %w", err)
	}
	return nil
}

// roll starts a new segment at position first for the groups decided from now on, and
// returns its write handle for the syncer to switch to once the groups before are written.
func (s *Store) roll(first ledger.Position) (*os.File, error) {
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
		return nil, err
	}
	s.size = headerBytes
	return f, nil
}

// lookup finds a stored or decided record by event ID. Only the writer goroutine calls it:
// it reads ids without the lock (it is their only writer) and takes the lock for what the
// syncer changes.
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

// Close implements ledger.Store: it waits for queued appends to finish, then releases the
// files and the directory lock. Closing twice is harmless.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.closeMu.Unlock()
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
