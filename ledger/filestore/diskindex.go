package filestore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"

	"github.com/google/uuid"

	"techledger/ledger"
)

// The index checkpoint.
//
// A checkpoint is the index of the log up to a position, written to the file INDEX. Open
// does not load it into memory: it maps the file and answers from it in place (a
// diskIndex), so that opening a large log costs one pass over the file to check it, not
// the building of maps and arrays of millions of entries; what is appended after the
// checkpoint is indexed in memory (index). It is written on Close and, in the background,
// when a segment is sealed (see Options.CheckpointRecords); always to a temporary file
// that is synced and renamed into place, so a crash leaves the old checkpoint or the new
// one, whole. A file is never changed once renamed into place, so a mapping of it (this
// process's or a read-only reader's) stays valid when it is replaced.
//
//	checkpoint = header | segments | locs | streams | stream directory | names
//	             | positions | ids | id directory | crc uint32
//	header     = magic "TLIDX\x00\x00" | version byte (2) | position uint64 | hash [32]
//	             | nsegs uint32 | nstreams uint32 | names bytes uint64
//	segments   = nsegs × (first position uint64, bytes covered uint64)
//	locs       = position × (segment uint32, length uint32, offset uint64)   [locs[p-1] for position p]
//	streams    = nstreams × (name hash uint64, name offset uint64, first uint64, count uint32,
//	             name length uint16, zero uint16), sorted by (name hash, name)
//	names      = the streams' names back to back, in the order of streams
//	positions  = position × position uint64: each stream's positions, in the order of streams
//	             (a stream's are positions[first : first+count])
//	ids        = position × (event ID [16], position uint64), sorted by compareIDs
//	directory  = (1<<16 + 1) × uint32: entries [dir[b], dir[b+1]) are those whose key's
//	             top 16 bits are b (the name hash for streams; idBucket for ids)
//	crc        = CRC-32C of everything before
//
// All integers are big-endian. The name hash is 64-bit FNV-1a. Segments are the log's
// first nsegs segments; every one but the last is covered whole, the last up to its bytes
// covered (the end of the frame holding position).
//
// What Open trusts: a checkpoint whose CRC, version, sizes and directories check out,
// whose segments are the log's first segments with the sizes it records (the last at
// least as long), and whose record at position decodes there with the hash the
// checkpoint records (recomputed from its content). It does not re-check the records
// before position: their frames' CRCs, hash links and stream versions were checked when
// they were indexed, and Verify checks them all again. A checkpoint that does not check
// out is ignored (logged) and Open reads the whole log. The CRC is what Open reads the
// whole file for (about 0.1 s for three million records); the pages read are then
// released, so that the process keeps resident only the parts of the index it uses. The
// entries are checked as they are used, not at open (that took three times as long): a
// location outside its segment reads as corruption, a position or name outside the file
// as absent, so a malformed checkpoint (which only a bug could write: the CRC covers
// damage) never makes a reader panic.
const (
	checkpointName    = "INDEX"
	checkpointMagic   = "TLIDX\x00\x00"
	checkpointVersion = 2
	checkpointHeader  = len(checkpointMagic) + 1 + 8 + 32 + 4 + 4 + 8
	locBytes          = 16
	streamEntryBytes  = 32
	idEntryBytes      = 24
	dirBits           = 16
	dirBytes          = (1<<dirBits + 1) * 4
)

// segCover says how much of a segment a checkpoint covers.
type segCover struct {
	first ledger.Position
	bytes int64
}

// diskIndex is a checkpoint mapped into memory, answering in place. It never changes; it
// is safe for concurrent use. The mapping is released when the diskIndex is no longer
// reachable (every access goes through its methods, so none outlives it).
type diskIndex struct {
	data     []byte
	mapped   bool // data is a mapping of the file (else a copy in memory)
	n        ledger.Position
	hash     ledger.Hash
	segs     []segCover
	nstreams int
	// sections of data
	locs, streams, sdir, names, positions, ids, idir []byte
}

// streamHash is 64-bit FNV-1a: stable across processes, cheap, without allocation.
func streamHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// checkpointSize is the size of a checkpoint of n records, nsegs segments and nstreams
// streams whose names take names bytes; ok is false if that overflows.
func checkpointSize(n, nsegs, nstreams, names uint64) (uint64, bool) {
	const most = 1 << 50 // far beyond any file, far below overflow
	if n > most/64 || nsegs > most/64 || nstreams > most/64 || names > most {
		return 0, false
	}
	return uint64(checkpointHeader) + nsegs*16 + n*locBytes + nstreams*streamEntryBytes + dirBytes + names + n*8 + n*idEntryBytes + dirBytes + 4, true
}

// openCheckpoint maps the checkpoint in dir and checks it whole (CRC and structure). A
// file of an FS that is not the operating system's (no file descriptor to map) is read
// into memory instead.
func openCheckpoint(fsys FS, dir string) (*diskIndex, error) {
	f, err := fsys.OpenFile(filepath.Join(dir, checkpointName), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errCheckpointMissing
	}
	if err != nil {
		return nil, err
	}
	defer f.Close() // the mapping does not need the file open
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	var hdr [checkpointHeader]byte
	if size < int64(len(hdr))+4 {
		return nil, errors.New("not an index checkpoint")
	}
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, err
	}
	if string(hdr[:len(checkpointMagic)]) != checkpointMagic {
		return nil, errors.New("not an index checkpoint")
	}
	if v := hdr[len(checkpointMagic)]; v != checkpointVersion {
		return nil, fmt.Errorf("index checkpoint version %d, want %d", v, checkpointVersion)
	}
	if size != int64(int(size)) {
		return nil, errors.New("index checkpoint too large to map")
	}
	osf, ok := f.(interface{ Fd() uintptr })
	if !ok {
		data := make([]byte, size)
		if _, err := f.ReadAt(data, 0); err != nil {
			return nil, fmt.Errorf("read index checkpoint: %w", err)
		}
		x := &diskIndex{data: data}
		return x, x.check()
	}
	// MAP_POPULATE: checking reads every page; mapping them all at once is faster than a
	// fault per page.
	data, err := syscall.Mmap(int(osf.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("map index checkpoint: %w", err)
	}
	x := &diskIndex{data: data, mapped: true}
	runtime.AddCleanup(x, func(b []byte) { _ = syscall.Munmap(b) }, data)
	err = x.check()
	x.release()
	if err != nil {
		return nil, err
	}
	return x, nil
}

// release gives back the pages of a mapping read in bulk (checking it, or copying it into a
// new checkpoint): what is used later is read again on demand, from the page cache.
func (x *diskIndex) release() {
	if x.mapped {
		_ = syscall.Madvise(x.data, syscall.MADV_DONTNEED)
	}
}

// check verifies the CRC, reads the header and segments, cuts data into its sections and
// checks their structure, so that the accessors can trust them.
func (x *diskIndex) check() error {
	buf := x.data
	body := buf[:len(buf)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.BigEndian.Uint32(buf[len(buf)-4:]); got != want {
		return fmt.Errorf("index checkpoint crc mismatch: says %08x, content has %08x", want, got)
	}
	d := body[len(checkpointMagic)+1:]
	x.n = ledger.Position(binary.BigEndian.Uint64(d))
	copy(x.hash[:], d[8:40])
	nsegs := uint64(binary.BigEndian.Uint32(d[40:]))
	nstreams := uint64(binary.BigEndian.Uint32(d[44:]))
	namesLen := binary.BigEndian.Uint64(d[48:])
	d = d[56:]
	bad := func(what string) error { return fmt.Errorf("index checkpoint is malformed: %s", what) }
	n := uint64(x.n)
	want, ok := checkpointSize(n, nsegs, nstreams, namesLen)
	if !ok || want != uint64(len(buf)) || nsegs == 0 || nstreams > n {
		return bad("counts do not fit the file")
	}
	x.nstreams = int(nstreams)
	take := func(k uint64) []byte { s := d[:k:k]; d = d[k:]; return s }
	segs := take(nsegs * 16)
	x.locs = take(n * locBytes)
	x.streams = take(nstreams * streamEntryBytes)
	x.sdir = take(dirBytes)
	x.names = take(namesLen)
	x.positions = take(n * 8)
	x.ids = take(n * idEntryBytes)
	x.idir = take(dirBytes)
	x.segs = make([]segCover, nsegs)
	for i := range x.segs {
		x.segs[i] = segCover{first: ledger.Position(binary.BigEndian.Uint64(segs[i*16:])), bytes: int64(binary.BigEndian.Uint64(segs[i*16+8:]))}
		if x.segs[i].bytes < headerBytes || (i > 0 && x.segs[i].first <= x.segs[i-1].first) {
			return bad("segment list")
		}
	}
	if !dirValid(x.sdir, nstreams) || !dirValid(x.idir, n) {
		return bad("directories")
	}
	return nil
}

// dirValid reports whether the directory in b is one of count entries: it starts at 0,
// never goes down, and ends at count.
func dirValid(b []byte, count uint64) bool {
	prev := uint32(0)
	for i := 0; i < len(b); i += 4 {
		v := binary.BigEndian.Uint32(b[i:])
		if v < prev || (i == 0 && v != 0) {
			return false
		}
		prev = v
	}
	return uint64(prev) == count
}

// loc returns the location of position p (1 <= p <= n). One that is not inside its
// segment (a malformed checkpoint) is returned as the empty location at offset 0, which
// does not decode as a record: readers report it as corruption.
func (x *diskIndex) loc(p ledger.Position) loc {
	b := x.locs[(p-1)*locBytes:]
	l := loc{seg: binary.BigEndian.Uint32(b), n: binary.BigEndian.Uint32(b[4:]), off: int64(binary.BigEndian.Uint64(b[8:]))}
	if int(l.seg) >= len(x.segs) || l.off < headerBytes || l.n == 0 || l.off+int64(l.n) > x.segs[l.seg].bytes {
		return loc{}
	}
	return l
}

// stream finds a stream by name: the index of its first position in positions, and how
// many it has (0: the checkpoint does not hold it).
func (x *diskIndex) stream(name string) (first uint64, count uint32) {
	if x == nil || x.nstreams == 0 {
		return 0, 0
	}
	h := streamHash(name)
	bk := h >> (64 - dirBits)
	lo, hi := int(binary.BigEndian.Uint32(x.sdir[bk*4:])), int(binary.BigEndian.Uint32(x.sdir[bk*4+4:]))
	i := lo + sortSearch(hi-lo, func(i int) bool { return binary.BigEndian.Uint64(x.streams[(lo+i)*streamEntryBytes:]) >= h })
	for ; i < hi; i++ {
		e := x.streams[i*streamEntryBytes:]
		if binary.BigEndian.Uint64(e) != h {
			break
		}
		off, nameLen := binary.BigEndian.Uint64(e[8:]), uint64(binary.BigEndian.Uint16(e[28:]))
		if off > uint64(len(x.names)) || nameLen > uint64(len(x.names))-off || string(x.names[off:off+nameLen]) != name {
			continue
		}
		first, count = binary.BigEndian.Uint64(e[16:]), binary.BigEndian.Uint32(e[24:])
		if first > uint64(x.n) || uint64(count) > uint64(x.n)-first {
			return 0, 0
		}
		return first, count
	}
	return 0, 0
}

// sortSearch is sort.Search without the import's closure over an interface.
func sortSearch(n int, f func(int) bool) int {
	i, j := 0, n
	for i < j {
		h := int(uint(i+j) >> 1)
		if !f(h) {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}

// position returns positions[k] (k < n), or 0 if it is not a position of the checkpoint.
func (x *diskIndex) position(k uint64) ledger.Position {
	p := ledger.Position(binary.BigEndian.Uint64(x.positions[k*8:]))
	if p > x.n {
		return 0
	}
	return p
}

// streamEntry returns stream i's hash, name, first and count (the name is copied). An
// entry whose name or positions are not inside the checkpoint (a malformed one) is
// returned without them.
func (x *diskIndex) streamEntry(i int) (h uint64, name string, first uint64, count uint32) {
	e := x.streams[i*streamEntryBytes:]
	off, nameLen := binary.BigEndian.Uint64(e[8:]), uint64(binary.BigEndian.Uint16(e[28:]))
	h, first, count = binary.BigEndian.Uint64(e), binary.BigEndian.Uint64(e[16:]), binary.BigEndian.Uint32(e[24:])
	if off <= uint64(len(x.names)) && nameLen <= uint64(len(x.names))-off {
		name = string(x.names[off : off+nameLen])
	}
	if first > uint64(x.n) || uint64(count) > uint64(x.n)-first {
		first, count = 0, 0
	}
	return h, name, first, count
}

// idEntry returns entry i of ids.
func (x *diskIndex) idEntry(i int) idEntry {
	b := x.ids[i*idEntryBytes:]
	return idEntry{id: uuid.UUID(b[:16]), pos: ledger.Position(binary.BigEndian.Uint64(b[16:]))}
}

// id returns the position of an event ID, if the checkpoint holds it.
func (x *diskIndex) id(id *uuid.UUID) (ledger.Position, bool) {
	if x == nil || x.n == 0 {
		return 0, false
	}
	bk := idBucket(id)
	lo, hi := int(binary.BigEndian.Uint32(x.idir[bk*4:])), int(binary.BigEndian.Uint32(x.idir[bk*4+4:]))
	rank, hiBits := idRank(id), id[:8]
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		b := x.ids[m*idEntryBytes:]
		r := idRank((*uuid.UUID)(b[:16]))
		c := 0
		switch {
		case r < rank:
			c = -1
		case r > rank:
			c = 1
		default:
			c = bytes.Compare(b[:8], hiBits)
		}
		switch {
		case c == 0:
			p := ledger.Position(binary.BigEndian.Uint64(b[16:]))
			return p, p > 0 && p <= x.n
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0, false
}

// writeCheckpoint durably writes the index x (every entry of which is at or below x.last)
// covering segs: the checkpoint it was opened from, merged with what was indexed since.
// It reads the old checkpoint in order and releases its pages as it goes.
func writeCheckpoint(fsys FS, dir string, x *index, segs []segCover) error {
	tmp := filepath.Join(dir, checkpointName+".tmp")
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create index checkpoint: %w", err)
	}
	fail := func(err error) error {
		f.Close()
		fsys.Remove(tmp)
		return fmt.Errorf("write index checkpoint: %w", err)
	}
	crc := crc32.New(castagnoli)
	w := bufio.NewWriterSize(io.MultiWriter(f, crc), 1<<20)
	if err := encodeCheckpoint(w, x, segs); err != nil {
		return fail(err)
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if _, err := f.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		fsys.Remove(tmp)
		return fmt.Errorf("write index checkpoint: %w", err)
	}
	if err := fsys.Rename(tmp, filepath.Join(dir, checkpointName)); err != nil {
		fsys.Remove(tmp)
		return fmt.Errorf("write index checkpoint: %w", err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("write index checkpoint: %w", err)
	}
	return nil
}

// mergedStream is one stream of a checkpoint being written: its part in the old
// checkpoint (count 0: none) and the positions indexed since, up to the checkpoint's.
type mergedStream struct {
	hash  uint64
	name  string
	first uint64
	count uint32
	more  []ledger.Position
}

// encodeCheckpoint writes everything of the checkpoint of x but the CRC.
func encodeCheckpoint(w *bufio.Writer, x *index, segs []segCover) error {
	base := x.base
	if base != nil {
		defer base.release()
	}
	n := x.last
	// The streams indexed since the old checkpoint, by their number: those it holds get
	// their positions since; new ones are merged in, in order.
	var added []mergedStream
	extended := map[uint64][]ledger.Position{} // first in the old checkpoint -> positions since
	var namesLen uint64
	if base != nil {
		namesLen = uint64(len(base.names))
	}
	for _, t := range x.streams {
		more := t.more[:sortSearch(len(t.more), func(i int) bool { return t.more[i] > n })]
		switch {
		case len(more) == 0:
		case t.baseCount > 0:
			extended[t.baseFirst] = more
		default:
			added = append(added, mergedStream{hash: streamHash(t.name), name: t.name, more: more})
			namesLen += uint64(len(t.name))
		}
	}
	slices.SortFunc(added, func(a, b mergedStream) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		return bytes.Compare([]byte(a.name), []byte(b.name))
	})
	baseStreams := 0
	if base != nil {
		baseStreams = base.nstreams
	}
	// each calls fn with every stream of the new checkpoint, in order.
	each := func(fn func(m *mergedStream) error) error {
		j := 0
		for i := 0; i < baseStreams || j < len(added); {
			var m mergedStream
			if i < baseStreams {
				m.hash, m.name, m.first, m.count = base.streamEntry(i)
				if j < len(added) && (added[j].hash < m.hash || (added[j].hash == m.hash && added[j].name < m.name)) {
					m = added[j]
					j++
				} else {
					m.more = extended[m.first]
					i++
				}
			} else {
				m = added[j]
				j++
			}
			if err := fn(&m); err != nil {
				return err
			}
		}
		return nil
	}
	nstreams := baseStreams + len(added)
	var b []byte
	flush := func() error { // b is reused: write it out when it has grown
		if len(b) < 1<<20 {
			return nil
		}
		_, err := w.Write(b)
		b = b[:0]
		return err
	}
	b = append(b, checkpointMagic...)
	b = append(b, checkpointVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(n))
	b = append(b, x.lastHash[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(segs)))
	b = binary.BigEndian.AppendUint32(b, uint32(nstreams))
	b = binary.BigEndian.AppendUint64(b, namesLen)
	for _, sc := range segs {
		b = binary.BigEndian.AppendUint64(b, uint64(sc.first))
		b = binary.BigEndian.AppendUint64(b, uint64(sc.bytes))
	}
	for p := ledger.Position(1); p <= n; p++ {
		l := x.loc(p)
		b = binary.BigEndian.AppendUint32(b, l.seg)
		b = binary.BigEndian.AppendUint32(b, l.n)
		b = binary.BigEndian.AppendUint64(b, uint64(l.off))
		if err := flush(); err != nil {
			return err
		}
	}
	var dir [1<<dirBits + 1]uint32
	var nameAt, posAt uint64
	err := each(func(m *mergedStream) error {
		count := uint64(m.count) + uint64(len(m.more))
		b = binary.BigEndian.AppendUint64(b, m.hash)
		b = binary.BigEndian.AppendUint64(b, nameAt)
		b = binary.BigEndian.AppendUint64(b, posAt)
		b = binary.BigEndian.AppendUint32(b, uint32(count))
		b = binary.BigEndian.AppendUint16(b, uint16(len(m.name)))
		b = binary.BigEndian.AppendUint16(b, 0)
		dir[m.hash>>(64-dirBits)+1]++
		nameAt += uint64(len(m.name))
		posAt += count
		return flush()
	})
	if err != nil {
		return err
	}
	b = appendDir(b, &dir)
	if err := each(func(m *mergedStream) error { b = append(b, m.name...); return flush() }); err != nil {
		return err
	}
	err = each(func(m *mergedStream) error {
		for k := m.first; k < m.first+uint64(m.count); k++ {
			b = binary.BigEndian.AppendUint64(b, uint64(base.position(k)))
		}
		for _, p := range m.more {
			b = binary.BigEndian.AppendUint64(b, uint64(p))
		}
		return flush()
	})
	if err != nil {
		return err
	}
	dir = [1<<dirBits + 1]uint32{}
	emit := func(e idEntry) error {
		b = append(b, e.id[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.pos))
		dir[idBucket(&e.id)+1]++
		return flush()
	}
	more := x.ids.moreSorted(n)
	j := 0
	if base != nil {
		for i := range int(base.n) {
			e := base.idEntry(i)
			for j < len(more) && compareIDs(&more[j].id, &e.id) < 0 {
				if err := emit(more[j]); err != nil {
					return err
				}
				j++
			}
			if e.pos <= n {
				if err := emit(e); err != nil {
					return err
				}
			}
		}
	}
	for ; j < len(more); j++ {
		if err := emit(more[j]); err != nil {
			return err
		}
	}
	b = appendDir(b, &dir)
	_, err = w.Write(b)
	return err
}

// appendDir appends the directory of the bucket counts in counts (counts[b+1] entries in
// bucket b).
func appendDir(b []byte, counts *[1<<dirBits + 1]uint32) []byte {
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	for _, v := range counts {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// errCheckpointMissing says there is no checkpoint: a new log, or one that was never
// closed nor had a segment sealed.
var errCheckpointMissing = errors.New("no index checkpoint")

// readCheckpoint maps and checks the checkpoint in dir, and returns an index answering
// from it, with the segments it covers. lastTime is left for the caller, which reads the
// record at the checkpoint's position.
func readCheckpoint(fsys FS, dir string) (*index, []segCover, error) {
	d, err := openCheckpoint(fsys, dir)
	if err != nil {
		return nil, nil, err
	}
	x := newIndex()
	x.setBase(d)
	x.last, x.lastHash = d.n, d.hash
	return &x, d.segs, nil
}
