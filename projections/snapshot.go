package projections

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"slices"
	"time"

	"techledger/ledger"
)

// Snapshots. A snapshot is the State at one position, written so that a restart reads it
// instead of replaying the log up to there. Layout (little endian):
//
//	magic "TLPROJ" | version uint16 | body | CRC-32C of everything before it (uint32)
//
// The body holds the home province, the position, hash and recorded-at of the last record
// folded, then each table of the State. The lookup maps and the statistics cube are not
// written: they are rebuilt from the tables when the snapshot is read. A snapshot is only
// a cache: the Runner ignores one that does not match the log (see Runner).
//
// Version 2 adds, after the flags, the report facts (facts.go). A version 1 snapshot lacks
// them, so it is refused with ErrSnapshotVersion like any other version, and the Runner
// replays the log instead: never a State without its report facts.

// SnapshotVersion is the layout version written; others are refused with
// ErrSnapshotVersion.
const SnapshotVersion = 2

const snapshotMagic = "TLPROJ"

var (
	// ErrSnapshotVersion is returned for a snapshot of another layout version.
	ErrSnapshotVersion = errors.New("projections: snapshot of another version")
	// ErrSnapshotCorrupt is returned for a snapshot that fails its checksum or does not parse.
	ErrSnapshotCorrupt = errors.New("projections: snapshot damaged")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapWriter appends fixed-size and length-prefixed values, computing the checksum.
type snapWriter struct {
	w   *bufio.Writer
	crc uint32
	buf [16]byte
	err error
}

func (w *snapWriter) bytes(b []byte) {
	if w.err != nil {
		return
	}
	w.crc = crc32.Update(w.crc, castagnoli, b)
	_, w.err = w.w.Write(b)
}

func (w *snapWriter) u16(v uint16) { binary.LittleEndian.PutUint16(w.buf[:], v); w.bytes(w.buf[:2]) }
func (w *snapWriter) u32(v uint32) { binary.LittleEndian.PutUint32(w.buf[:], v); w.bytes(w.buf[:4]) }
func (w *snapWriter) u64(v uint64) { binary.LittleEndian.PutUint64(w.buf[:], v); w.bytes(w.buf[:8]) }
func (w *snapWriter) str(s string) { w.u32(uint32(len(s))); w.bytes([]byte(s)) }
func (w *snapWriter) money(m Money) {
	w.u64(uint64(m.hi))
	w.u64(m.lo)
}

// WriteSnapshot writes s to w.
func (s *State) WriteSnapshot(out io.Writer) error {
	w := &snapWriter{w: bufio.NewWriterSize(out, 1<<20)}
	w.bytes([]byte(snapshotMagic))
	w.u16(SnapshotVersion)
	w.str(s.home)
	w.u64(uint64(s.pos))
	w.bytes(s.hash[:])
	w.u64(uint64(s.at.UnixNano()))

	strs := func(t *interner) {
		w.u32(uint32(len(t.strs)))
		for _, x := range t.strs {
			w.str(x)
		}
	}
	strs(&s.codes)
	w.u32(uint32(len(s.otherIDs)))
	for _, x := range s.otherIDs {
		w.str(x)
	}
	w.u32(uint32(len(s.contracts)))
	for i := range s.contracts {
		c := &s.contracts[i]
		w.u64(c.key)
		w.u64(uint64(c.amount))
		w.u64(uint64(c.tech))
		w.u64(uint64(c.paid))
		w.u32(uint32(c.day))
		for _, v := range c.codes {
			w.u16(v)
		}
		var rv uint16
		if c.revoked {
			rv = 1
		}
		w.u16(rv)
	}

	strs(&s.people)
	tal := func(t tally) {
		w.money(t.amount)
		w.u64(uint64(t.payments))
		w.u64(uint64(t.contracts))
	}
	w.u32(uint32(len(s.rs)))
	for _, r := range s.rs {
		w.u32(r.id)
		w.u32(r.institution)
		w.u32(r.name)
		tal(r.all)
		w.u32(uint32(len(r.years)))
		for _, y := range r.years {
			w.u16(uint16(y.year))
			tal(y.tally)
		}
	}
	// The maps are written in key order, so that one State always gives the same bytes.
	seen := slices.SortedFunc(maps.Keys(s.seen), func(a, b seenKey) int {
		return cmp.Or(cmp.Compare(a.r, b.r), cmp.Compare(a.contract, b.contract))
	})
	w.u32(uint32(len(seen)))
	for _, k := range seen {
		w.u32(uint32(k.r))
		w.u32(k.contract)
		w.u64(s.seen[k])
	}
	other := slices.SortedFunc(maps.Keys(s.seenOther), func(a, b seenOtherKey) int {
		return cmp.Or(cmp.Compare(a.r, b.r), cmp.Compare(a.contract, b.contract), cmp.Compare(a.year, b.year))
	})
	w.u32(uint32(len(other)))
	for _, k := range other {
		w.u32(uint32(k.r))
		w.u32(k.contract)
		w.u16(uint16(k.year))
	}
	flags, err := json.Marshal(s.flags)
	if err != nil {
		return fmt.Errorf("projections: snapshot: %w", err)
	}
	w.str(string(flags))
	s.writeFacts(w)
	if w.err != nil {
		return fmt.Errorf("projections: snapshot: %w", w.err)
	}
	binary.LittleEndian.PutUint32(w.buf[:], w.crc)
	if _, err := w.w.Write(w.buf[:4]); err != nil {
		return fmt.Errorf("projections: snapshot: %w", err)
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("projections: snapshot: %w", err)
	}
	return nil
}

// snapReader reads what snapWriter wrote from an in-memory snapshot.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		if r.err == nil {
			r.err = fmt.Errorf("%w: truncated", ErrSnapshotCorrupt)
		}
		return make([]byte, max(n, 0))
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *snapReader) u16() uint16 { return binary.LittleEndian.Uint16(r.take(2)) }
func (r *snapReader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *snapReader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }
func (r *snapReader) str() string { return string(r.take(int(r.u32()))) }
func (r *snapReader) money() Money {
	hi := int64(r.u64())
	return Money{hi: hi, lo: r.u64()}
}

// count reads a table length, refusing one that cannot fit in what is left (each entry
// takes at least min bytes).
func (r *snapReader) count(min int) int {
	n := int(r.u32())
	if r.err == nil && n*min > len(r.b) {
		r.err = fmt.Errorf("%w: table of %d entries in %d bytes", ErrSnapshotCorrupt, n, len(r.b))
		return 0
	}
	return n
}

// ReadSnapshot returns the State a snapshot holds. It checks the checksum and every table
// reference, so a damaged snapshot gives ErrSnapshotCorrupt, never a wrong State.
func ReadSnapshot(b []byte) (*State, error) {
	if len(b) < len(snapshotMagic)+2+4 || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a snapshot", ErrSnapshotCorrupt)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrSnapshotCorrupt)
	}
	r := &snapReader{b: body[len(snapshotMagic):]}
	if v := r.u16(); v != SnapshotVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrSnapshotVersion, v, SnapshotVersion)
	}
	s := NewState(Options{HomeProvince: r.str()})
	s.pos = ledger.Position(r.u64())
	copy(s.hash[:], r.take(len(s.hash)))
	s.at = time.Unix(0, int64(r.u64())).UTC()

	strs := func(t *interner) {
		n := r.count(4)
		t.strs = make([]string, 0, n)
		t.ids = make(map[string]uint32, n)
		for range n {
			x := r.str()
			t.ids[x] = uint32(len(t.strs))
			t.strs = append(t.strs, x)
		}
	}
	strs(&s.codes)
	if len(s.codes.strs) > math.MaxUint16 {
		return nil, fmt.Errorf("%w: %d codes", ErrSnapshotCorrupt, len(s.codes.strs))
	}
	for n := r.count(4); n > 0 && r.err == nil; n-- {
		s.otherIDs = append(s.otherIDs, r.str())
	}
	n := r.count(56)
	s.contracts = make([]contract, n)
	s.ids.reserve(s.contracts, n)
	nc := uint16(len(s.codes.strs))
	for i := range s.contracts {
		c := &s.contracts[i]
		c.key = r.u64()
		c.amount, c.tech, c.paid = int64(r.u64()), int64(r.u64()), int64(r.u64())
		c.day = int32(r.u32())
		for k := range c.codes {
			if c.codes[k] = r.u16(); c.codes[k] >= nc && r.err == nil && k != baseFlow {
				r.err = fmt.Errorf("%w: contract %d: code %d of %d", ErrSnapshotCorrupt, i, c.codes[k], nc)
			}
		}
		c.revoked = r.u16() == 1
		if r.err != nil {
			return nil, r.err
		}
		if c.key&(1<<63) != 0 && c.key&^(1<<63) >= uint64(len(s.otherIDs)) {
			return nil, fmt.Errorf("%w: contract %d: bad key", ErrSnapshotCorrupt, i)
		}
		if _, added := s.ids.add(s.contracts, uint32(i)); !added {
			return nil, fmt.Errorf("%w: contract %d: key twice", ErrSnapshotCorrupt, i)
		}
		s.regionOf(c.codes[baseSellerCity])
		s.regionOf(c.codes[baseBuyerCity])
		flow := c.codes[baseFlow]
		s.derive(c)
		if c.codes[baseFlow] != flow {
			return nil, fmt.Errorf("%w: contract %d: flow does not follow from its regions", ErrSnapshotCorrupt, i)
		}
		s.addToMonth(uint32(i))
	}

	strs(&s.people)
	np := uint32(len(s.people.strs))
	tal := func() tally {
		return tally{amount: r.money(), payments: int64(r.u64()), contracts: int64(r.u64())}
	}
	n = r.count(48)
	s.rs = make([]researcher, n)
	for i := range s.rs {
		rs := researcher{id: r.u32(), institution: r.u32(), name: r.u32(), all: tal()}
		for ny := r.count(34); ny > 0 && r.err == nil; ny-- {
			rs.years = append(rs.years, yearTally{year: int16(r.u16()), tally: tal()})
		}
		if r.err != nil {
			return nil, r.err
		}
		if rs.id >= np || rs.institution >= np || rs.name >= np {
			return nil, fmt.Errorf("%w: researcher %d: bad reference", ErrSnapshotCorrupt, i)
		}
		s.rs[i] = rs
		key := string(researcherKeyOf(nil, []byte(s.people.str(rs.id)), []byte(s.people.str(rs.institution))))
		if _, dup := s.researchers[key]; dup {
			return nil, fmt.Errorf("%w: researcher %d twice", ErrSnapshotCorrupt, i)
		}
		s.researchers[key] = int32(i)
	}
	for n = r.count(16); n > 0 && r.err == nil; n-- {
		s.seen[seenKey{r: int32(r.u32()), contract: r.u32()}] = r.u64()
	}
	for n = r.count(10); n > 0 && r.err == nil; n-- {
		s.seenOther[seenOtherKey{r: int32(r.u32()), contract: r.u32(), year: int16(r.u16())}] = struct{}{}
	}
	flags := r.take(int(r.u32()))
	if r.err != nil {
		return nil, r.err
	}
	if err := json.Unmarshal(flags, &s.flags); err != nil {
		return nil, fmt.Errorf("%w: flags: %v", ErrSnapshotCorrupt, err)
	}
	if err := s.readFacts(r); err != nil {
		return nil, err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last table", ErrSnapshotCorrupt, len(r.b))
	}
	return s, nil
}
