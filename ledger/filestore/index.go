package filestore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"techledger/ledger"
)

// index is the in-memory index of the log: where each position is, each stream's
// positions, each event ID's position, and the head of the hash chain. Streams are
// numbered in the order they first appear, so that indexing a record of a known stream
// looks its name up without allocating.
type index struct {
	locs      []loc               // locs[p-1] for position p
	streamIDs map[string]uint32   // stream name -> number
	names     []string            // by number
	streams   [][]ledger.Position // each stream's positions, by number
	ids       idIndex
	last      ledger.Position // last position indexed
	lastHash  ledger.Hash     // hash of the record at last
	lastTime  time.Time       // recorded-at of the record at last
}

func newIndex() index {
	return index{streamIDs: make(map[string]uint32), ids: newIDIndex()}
}

// stream returns the positions of a stream (nil if it has none). They must not be changed.
func (x *index) stream(name string) []ledger.Position {
	i, ok := x.streamIDs[name]
	if !ok {
		return nil
	}
	return x.streams[i]
}

// streamNumber returns the number of a stream, adding the stream if it is new.
func (x *index) streamNumber(name string) uint32 {
	if i, ok := x.streamIDs[name]; ok {
		return i
	}
	return x.newStream(name)
}

func (x *index) newStream(name string) uint32 {
	i := uint32(len(x.names))
	x.streamIDs[name] = i
	x.names = append(x.names, name)
	x.streams = append(x.streams, nil)
	return i
}

// add indexes a record read from the log after checking that it continues the log: its
// position, its stream version and its link to the previous hash.
func (x *index) add(k *ledger.RecordKey, l loc) error {
	si, ok := x.streamIDs[string(k.Stream)] // no allocation for a lookup
	if !ok {
		si = x.newStream(string(k.Stream))
	}
	want := ledger.Version(len(x.streams[si])) + 1
	switch {
	case k.Position != x.last+1:
		return &ledger.CorruptionError{Position: x.last + 1, Reason: fmt.Sprintf("record has position %d, want %d", k.Position, x.last+1)}
	case k.Version != want:
		return &ledger.CorruptionError{Position: k.Position, Reason: fmt.Sprintf("stream %q version %d, want %d", k.Stream, k.Version, want)}
	case k.PrevHash != x.lastHash:
		return &ledger.CorruptionError{Position: k.Position, Reason: "previous hash does not match the hash of the record before"}
	}
	if !x.ids.add(k.ID, k.Position) {
		return &ledger.CorruptionError{Position: k.Position, Reason: fmt.Sprintf("event id %s stored twice", uuid.UUID(k.ID))}
	}
	x.locs = append(x.locs, l)
	x.streams[si] = append(x.streams[si], k.Position)
	x.last = k.Position
	x.lastHash = k.Hash
	x.lastTime = time.Unix(0, k.RecordedAt).UTC()
	return nil
}

// The index checkpoint.
//
// A checkpoint is the index of the log up to a position, written to the file INDEX so
// that Open loads it instead of reading the whole log, and scans only what was appended
// after it. It is written on Close and, in the background, when a segment is sealed
// (see Options.CheckpointRecords); always to a temporary file that is synced and renamed into place, so a crash leaves the
// old checkpoint or the new one, whole.
//
//	checkpoint = magic "TLIDX\x00\x00" | version byte | position uint64 | hash [32]
//	             | nsegs uint32 | nstreams uint32
//	             | nsegs × (first position uint64, bytes covered uint64)
//	             | position × loc (segment uint32, length uint32, offset uint64)
//	             | nstreams × (name length uint16, positions uint32) | names, back to back
//	             | position × position uint64 (each stream's positions, streams in order)
//	             | position × (event ID [16], position uint64), sorted as idIndex.base
//	             | crc uint32 (CRC-32C of everything before)
//
// All integers are big-endian. Segments are the log's first nsegs segments; every one
// but the last is covered whole, the last up to its bytes covered (the end of the frame
// holding position).
//
// What Open trusts: a checkpoint whose CRC, version and structure check out, whose
// segments are the log's first segments with the sizes it records (the last at least as
// long), and whose record at position decodes there with the hash the checkpoint records
// (recomputed from its content). It does not re-check the records before position: their
// frames' CRCs, hash links and stream versions were checked when they were indexed, and
// Verify checks them all again. A checkpoint that does not check out is ignored (logged)
// and Open reads the whole log.
const (
	checkpointName    = "INDEX"
	checkpointMagic   = "TLIDX\x00\x00"
	checkpointVersion = 1
	checkpointHeader  = len(checkpointMagic) + 1 + 8 + 32 + 4 + 4
)

// segCover says how much of a segment a checkpoint covers.
type segCover struct {
	first ledger.Position
	bytes int64
}

// writeCheckpoint durably writes the index x (every entry of which is at or below x.last)
// covering segs.
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
	var b []byte
	flush := func() error { // b is reused: write it out when it has grown
		_, err := w.Write(b)
		b = b[:0]
		return err
	}
	n := x.last
	b = append(b, checkpointMagic...)
	b = append(b, checkpointVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(n))
	b = append(b, x.lastHash[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(segs)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(x.names)))
	for _, sc := range segs {
		b = binary.BigEndian.AppendUint64(b, uint64(sc.first))
		b = binary.BigEndian.AppendUint64(b, uint64(sc.bytes))
	}
	for _, l := range x.locs[:n] {
		b = binary.BigEndian.AppendUint32(b, l.seg)
		b = binary.BigEndian.AppendUint32(b, l.n)
		b = binary.BigEndian.AppendUint64(b, uint64(l.off))
		if len(b) >= 1<<20 {
			if err := flush(); err != nil {
				return fail(err)
			}
		}
	}
	for i, name := range x.names {
		b = binary.BigEndian.AppendUint16(b, uint16(len(name)))
		b = binary.BigEndian.AppendUint32(b, uint32(len(x.streams[i])))
		if len(b) >= 1<<20 {
			if err := flush(); err != nil {
				return fail(err)
			}
		}
	}
	for _, name := range x.names {
		b = append(b, name...)
		if len(b) >= 1<<20 {
			if err := flush(); err != nil {
				return fail(err)
			}
		}
	}
	for _, ps := range x.streams {
		for _, p := range ps {
			b = binary.BigEndian.AppendUint64(b, uint64(p))
		}
		if len(b) >= 1<<20 {
			if err := flush(); err != nil {
				return fail(err)
			}
		}
	}
	for _, e := range x.ids.sorted(n) {
		b = append(b, e.id[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.pos))
		if len(b) >= 1<<20 {
			if err := flush(); err != nil {
				return fail(err)
			}
		}
	}
	if err := flush(); err != nil {
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

// errCheckpointMissing says there is no checkpoint: a new log, or one that was never
// closed nor had a segment sealed.
var errCheckpointMissing = errors.New("no index checkpoint")

// readCheckpoint reads and checks the structure of the checkpoint in dir. lastTime is
// left for the caller, which reads the record at the checkpoint's position.
func readCheckpoint(fsys FS, dir string) (*index, []segCover, error) {
	buf, err := readFile(fsys, filepath.Join(dir, checkpointName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, errCheckpointMissing
	}
	if err != nil {
		return nil, nil, err
	}
	if len(buf) < checkpointHeader+4 || string(buf[:len(checkpointMagic)]) != checkpointMagic {
		return nil, nil, errors.New("not an index checkpoint")
	}
	if v := buf[len(checkpointMagic)]; v != checkpointVersion {
		return nil, nil, fmt.Errorf("index checkpoint version %d, want %d", v, checkpointVersion)
	}
	body := buf[:len(buf)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.BigEndian.Uint32(buf[len(buf)-4:]); got != want {
		return nil, nil, fmt.Errorf("index checkpoint crc mismatch: says %08x, content has %08x", want, got)
	}
	d := body[len(checkpointMagic)+1:]
	u32 := func() uint32 { v := binary.BigEndian.Uint32(d); d = d[4:]; return v }
	u64 := func() uint64 { v := binary.BigEndian.Uint64(d); d = d[8:]; return v }
	x := &index{}
	x.last = ledger.Position(u64())
	copy(x.lastHash[:], d)
	d = d[32:]
	nsegs, nstreams := int(u32()), int(u32())
	n := int(x.last)
	bad := func(what string) error { return fmt.Errorf("index checkpoint is malformed: %s", what) }
	// The sizes below come from a checked CRC, but are checked again before they size
	// anything: a bug must not turn into a huge allocation.
	if nsegs == 0 || nsegs > len(d)/16 || n > len(d)/(16+8+24) || nstreams > n {
		return nil, nil, bad("counts do not fit the file")
	}
	want := nsegs*16 + n*16 + nstreams*6 + n*8 + n*24
	if len(d) < want {
		return nil, nil, bad("counts do not fit the file")
	}
	segs := make([]segCover, nsegs)
	for i := range segs {
		segs[i] = segCover{first: ledger.Position(u64()), bytes: int64(u64())}
		if segs[i].bytes < headerBytes || (i > 0 && segs[i].first <= segs[i-1].first) {
			return nil, nil, bad("segment list")
		}
	}
	x.locs = make([]loc, n, n+n/8)
	for i := range x.locs {
		l := loc{seg: u32(), n: u32(), off: int64(u64())}
		if int(l.seg) >= nsegs || l.off < headerBytes || l.off+int64(l.n) > segs[l.seg].bytes {
			return nil, nil, bad(fmt.Sprintf("location of position %d", i+1))
		}
		x.locs[i] = l
	}
	type head struct{ name, count int }
	heads := make([]head, nstreams)
	namesLen, total := 0, 0
	for i := range heads {
		heads[i] = head{int(binary.BigEndian.Uint16(d)), int(binary.BigEndian.Uint32(d[2:]))}
		d = d[6:]
		namesLen += heads[i].name
		total += heads[i].count
	}
	if total != n || len(d) != namesLen+n*8+n*24 {
		return nil, nil, bad("stream lengths")
	}
	names := string(d[:namesLen]) // one allocation; each name is a substring of it
	d = d[namesLen:]
	all := make([]ledger.Position, n)
	for i := range all {
		all[i] = ledger.Position(u64())
	}
	x.streamIDs = make(map[string]uint32, nstreams+nstreams/8)
	x.names = make([]string, nstreams, nstreams+nstreams/8)
	x.streams = make([][]ledger.Position, nstreams, nstreams+nstreams/8)
	at, pi := 0, 0
	for si, h := range heads {
		ps := all[pi : pi+h.count : pi+h.count] // full: an append copies, never overwrites the next stream's
		for i, p := range ps {
			if p == 0 || int(p) > n || (i > 0 && p <= ps[i-1]) {
				return nil, nil, bad("stream positions")
			}
		}
		name := names[at : at+h.name]
		if _, dup := x.streamIDs[name]; dup || h.count == 0 {
			return nil, nil, bad("stream list")
		}
		x.streamIDs[name] = uint32(si)
		x.names[si] = name
		x.streams[si] = ps
		at += h.name
		pi += h.count
	}
	base := make([]idEntry, n)
	for i := range base {
		copy(base[i].id[:], d)
		d = d[16:]
		base[i].pos = ledger.Position(u64())
		if base[i].pos == 0 || int(base[i].pos) > n || (i > 0 && compareIDs(&base[i-1].id, &base[i].id) >= 0) {
			return nil, nil, bad("event ids")
		}
	}
	x.ids = newIDIndex()
	x.ids.setBase(base)
	return x, segs, nil
}
