package projections

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"time"

	"techledger/ledger"
)

// searchMagic starts a Search snapshot; the number is the format's version.
const searchMagic = "techledger search snapshot 2\n"

var searchCRC = crc32.MakeTable(crc32.Castagnoli)

// WriteSnapshot writes s in a compact binary form that ReadSearchSnapshot reads back: the
// position and hash it is at, the distinct types and names, then each column, and a
// CRC-32C of all that. The same Search always gives the same bytes.
//
// Contracts are written in order of registered_on, keeping the order of registration
// within a day, so a loaded Search scans each day's contracts from adjacent memory
// whatever order they were registered in (a bulk import of old records, say), and the
// days are written as runs (a day and its number of contracts). Results are the same:
// within a day, order is kept; across days, the day decides. Numbers, amounts and parties
// have a fixed width, so that loading is a copy rather than a parse.
func (s *Search) WriteSnapshot(w io.Writer) error {
	n := s.Len()
	order := make([]uint32, 0, n)
	for _, d := range s.dayList {
		order = append(order, s.buckets[d]...)
	}
	if len(order) != n {
		panic(fmt.Sprintf("projections: search: %d contracts in day buckets, %d registered", len(order), n)) // add keeps both
	}
	b := make([]byte, 0, 64+len(s.nameBlob)+n*64)
	b = append(b, searchMagic...)
	b = binary.AppendUvarint(b, uint64(s.pos))
	b = append(b, s.hash[:]...)
	b = binary.AppendVarint(b, s.at.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(s.types)))
	for _, t := range s.types {
		b = appendString(b, t)
	}
	b = binary.AppendUvarint(b, uint64(len(s.nameBlob)))
	b = append(b, s.nameBlob...)
	b = binary.AppendUvarint(b, uint64(n))
	others := 0
	for _, i := range order {
		b = binary.LittleEndian.AppendUint64(b, s.keys[i])
		if s.keys[i] == 0 {
			others++
		}
	}
	b = binary.AppendUvarint(b, uint64(others))
	for at, i := range order {
		if s.keys[i] == 0 {
			b = binary.AppendUvarint(b, uint64(at))
			b = appendString(b, s.others[i])
		}
	}
	for _, i := range order {
		b = binary.AppendUvarint(b, uint64(len(s.title(i))))
	}
	for _, i := range order {
		b = append(b, s.title(i)...)
	}
	for _, i := range order {
		b = binary.LittleEndian.AppendUint64(b, uint64(s.amounts[i]))
	}
	for _, i := range order {
		for _, p := range s.parties[i] {
			b = binary.LittleEndian.AppendUint32(b, p)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(s.dayList)))
	for _, d := range s.dayList {
		b = binary.AppendVarint(b, int64(d))
		b = binary.AppendUvarint(b, uint64(len(s.buckets[d])))
	}
	for _, i := range order {
		b = append(b, s.typs[i])
	}
	for _, i := range order {
		v := byte(0)
		if s.revoked[i] {
			v = 1
		}
		b = append(b, v)
	}
	// The indexes, renumbered like the contracts, so that loading does not rebuild them.
	rank := make([]uint32, n)
	for at, i := range order {
		rank[i] = uint32(at)
	}
	hits := make([][]uint32, len(s.nameHits))
	for k, l := range s.nameHits {
		hits[k] = make([]uint32, len(l))
		for j, i := range l {
			hits[k][j] = rank[i]
		}
		slices.Sort(hits[k])
	}
	b = appendPostings(b, hits)
	b = appendPostings(b, s.runeNames)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, searchCRC))
	_, err := w.Write(b)
	return err
}

// appendPostings writes lists of increasing numbers: each list's length, then every
// number in a fixed width.
func appendPostings(b []byte, lists [][]uint32) []byte {
	for _, l := range lists {
		b = binary.AppendUvarint(b, uint64(len(l)))
	}
	for _, l := range lists {
		for _, v := range l {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errSearchSnapshot is wrapped by every error of ReadSearchSnapshot.
var errSearchSnapshot = errors.New("projections: bad search snapshot")

// ReadSearchSnapshot returns the Search a snapshot holds; it does not keep b. The maps
// from ids and names are built only when a record needs them, so that a restart over a
// million contracts takes a fraction of a second (BenchmarkSearchRunner_Start).
func ReadSearchSnapshot(b []byte) (*Search, error) {
	if len(b) < len(searchMagic)+4 || string(b[:len(searchMagic)]) != searchMagic {
		return nil, fmt.Errorf("%w: not a search snapshot (version 2)", errSearchSnapshot)
	}
	body := b[:len(b)-4]
	if binary.LittleEndian.Uint32(b[len(b)-4:]) != crc32.Checksum(body, searchCRC) {
		return nil, fmt.Errorf("%w: checksum mismatch", errSearchSnapshot)
	}
	r := searchSnapReader{b: body, off: len(searchMagic)}
	s := NewSearch()
	s.byKey, s.byOther, s.nameIDs = nil, nil, nil
	s.pos = ledger.Position(r.uvarint())
	copy(s.hash[:], r.bytes(len(s.hash)))
	s.at = time.Unix(0, r.varint()).UTC()
	for range r.count(SearchTypesMax) {
		t := string(r.bytes(r.count(uint64(len(body)))))
		if _, dup := s.typeIDs[t]; dup && r.err == nil {
			return nil, fmt.Errorf("%w: type %q listed twice", errSearchSnapshot, t)
		}
		s.typeID(t) // cannot fail: count is at most SearchTypesMax
	}
	// Names: the blob as it is, every name followed by 0, the first name "".
	s.nameBlob = slices.Clone(r.bytes(r.count(min(SearchNameBytesMax, uint64(len(body))))))
	if r.err == nil && (len(s.nameBlob) == 0 || s.nameBlob[0] != 0 || s.nameBlob[len(s.nameBlob)-1] != 0) {
		r.fail("bad names")
	}
	if r.err == nil {
		s.nameOffs = make([]uint32, 1, bytes.Count(s.nameBlob, []byte{0}))
		for at := 1; at < len(s.nameBlob); {
			s.nameOffs = append(s.nameOffs, uint32(at))
			at += bytes.IndexByte(s.nameBlob[at:], 0) + 1
		}
	}
	n := r.count(min(SearchContractsMax, uint64(len(body))/8))
	s.keys = make([]uint64, n)
	for i := range s.keys {
		s.keys[i] = binary.LittleEndian.Uint64(r.bytes(8))
		if s.keys[i] != 0 && !validKey(s.keys[i]) {
			r.fail("bad registration number key")
		}
	}
	for range r.count(uint64(n)) {
		i := r.count(uint64(n) - 1)
		id := string(r.bytes(r.count(uint64(len(body)))))
		if _, dup := s.others[uint32(i)]; (dup || s.keys[i] != 0 || numberKey(id) != 0) && r.err == nil {
			r.fail("bad id")
		}
		s.others[uint32(i)] = id
	}
	if r.err == nil && len(s.others) != n-countNonZero(s.keys) {
		r.fail("ids missing")
	}
	s.titleOffs, s.titleBlob = r.texts(n)
	s.amounts = make([]int64, n)
	for i := range s.amounts {
		s.amounts[i] = int64(binary.LittleEndian.Uint64(r.bytes(8)))
	}
	s.parties = make([][3]uint32, n)
	for i := range s.parties {
		for k := range 3 {
			p := binary.LittleEndian.Uint32(r.bytes(4))
			if int(p) >= s.names() || (k < 2 && p == 0) {
				r.fail("party name index out of range")
			}
			s.parties[i][k] = p
		}
	}
	// Days: runs in increasing order; each day's contracts are adjacent, so its bucket is
	// a slice of one array of indexes (capped, so that appending to it copies it out).
	s.days = make([]int32, n)
	all := make([]uint32, n)
	nDays := r.count(uint64(n))
	s.dayList = make([]int32, 0, nDays)
	at := 0
	for range nDays {
		v, c := r.varint(), r.count(uint64(n-at))
		if v < math.MinInt32 || v > math.MaxInt32 || c == 0 || (len(s.dayList) > 0 && int32(v) <= s.dayList[len(s.dayList)-1]) {
			r.fail("bad day")
		}
		if r.err != nil {
			break
		}
		d := int32(v)
		s.dayList = append(s.dayList, d)
		for i := at; i < at+c; i++ {
			s.days[i], all[i] = d, uint32(i)
		}
		s.buckets[d] = all[at : at+c : at+c]
		at += c
	}
	if r.err == nil && at != n {
		r.fail("days do not cover the contracts")
	}
	s.typs = slices.Clone(r.bytes(n))
	rv := r.bytes(n)
	s.nameHits = r.postings(s.names(), n)
	s.runeNames = r.postings(1<<16, s.names())
	if r.err == nil && r.off != len(body) {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", errSearchSnapshot, r.err)
	}
	s.revoked = make([]bool, n)
	for i, v := range rv {
		if v > 1 || int(s.typs[i]) >= len(s.types) {
			return nil, fmt.Errorf("%w: contract %d out of range", errSearchSnapshot, i)
		}
		s.revoked[i] = v == 1
	}
	for _, d := range s.dayList {
		c := make([]uint32, 2*len(s.types))
		for _, i := range s.buckets[d] {
			c[countAt(s.typs[i], s.revoked[i])]++
		}
		s.dayCounts[d] = c
		r := [2]uint64{math.MaxUint64, 0}
		for _, i := range s.buckets[d] {
			r = [2]uint64{min(r[0], s.keys[i]), max(r[1], s.keys[i])}
		}
		s.dayKeys[d] = r
	}
	return s, nil
}

func countNonZero(keys []uint64) int {
	c := 0
	for _, k := range keys {
		if k != 0 {
			c++
		}
	}
	return c
}

// searchSnapReader reads a snapshot; after the first error every read returns zero values.
type searchSnapReader struct {
	b   []byte
	off int
	err error
}

func (r *searchSnapReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s at byte %d", what, r.off)
	}
}

func (r *searchSnapReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

func (r *searchSnapReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

// count reads a length of at most max.
func (r *searchSnapReader) count(max uint64) int {
	n := r.uvarint()
	if n > max || n > uint64(len(r.b)) {
		r.fail("count out of range")
		return 0
	}
	return int(n)
}

func (r *searchSnapReader) bytes(n int) []byte {
	if r.err != nil || n > len(r.b)-r.off {
		r.fail("truncated")
		return make([]byte, n)
	}
	r.off += n
	return r.b[r.off-n : r.off]
}

// postings reads n lists that appendPostings wrote, each increasing and below max, into
// one allocation; each list is capped, so that appending to it copies it out.
func (r *searchSnapReader) postings(n, max int) [][]uint32 {
	lists := make([][]uint32, n)
	lens := make([]int, n)
	total := 0
	for k := range lens {
		lens[k] = r.count(uint64(len(r.b)-r.off) / 4)
		total += lens[k]
	}
	if r.err != nil || total > (len(r.b)-r.off)/4 {
		r.fail("postings too long")
		return lists
	}
	flat := make([]uint32, total)
	raw := r.bytes(4 * total)
	at := 0
	for k, c := range lens {
		l := flat[at : at+c : at+c]
		for j := range l {
			l[j] = binary.LittleEndian.Uint32(raw[4*(at+j):])
			if int(l[j]) >= max || (j > 0 && l[j] <= l[j-1]) {
				r.fail("postings out of order")
				return lists
			}
		}
		lists[k] = l
		at += c
	}
	return lists
}

// texts reads n lengths, then the n texts' bytes, and returns where each ends (after a
// leading 0) and a copy of the bytes.
func (r *searchSnapReader) texts(n int) ([]uint32, []byte) {
	offs := make([]uint32, n+1)
	for i := range n {
		c := r.count(uint64(len(r.b)))
		if uint64(offs[i])+uint64(c) > SearchTitleBytesMax {
			r.fail("texts too long")
			return []uint32{0}, nil
		}
		offs[i+1] = offs[i] + uint32(c)
	}
	if r.err == nil && int(offs[n]) > len(r.b)-r.off {
		r.fail("truncated texts")
	}
	if r.err != nil {
		return []uint32{0}, nil
	}
	return offs, slices.Clone(r.bytes(int(offs[n])))
}
