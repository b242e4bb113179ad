package projections

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"techledger/ledger"
)

// searchMagic starts a Search snapshot; the number is the format's version.
const searchMagic = "techledger search snapshot 1\n"

var searchCRC = crc32.MakeTable(crc32.Castagnoli)

// WriteSnapshot writes s in a compact binary form that ReadSearchSnapshot reads back: the
// position and hash it is at, the distinct types and names, then each column, and a
// CRC-32C of all that. The same Search always gives the same bytes.
//
// Contracts are written in order of registered_on, keeping the order of registration
// within a day, so a loaded Search scans each day's contracts from adjacent memory
// whatever order they were registered in (a bulk import of old records, say). Results are
// the same: within a day, order is kept; across days, the day decides.
func (s *Search) WriteSnapshot(w io.Writer) error {
	n := len(s.ids)
	order := make([]uint32, 0, n)
	for _, d := range s.dayList {
		order = append(order, s.buckets[d]...)
	}
	if len(order) != n {
		panic(fmt.Sprintf("projections: search: %d contracts in day buckets, %d registered", len(order), n)) // add keeps both
	}
	b := make([]byte, 0, 64+len(s.nameBlob)+n*48)
	b = append(b, searchMagic...)
	b = binary.AppendUvarint(b, uint64(s.pos))
	b = append(b, s.hash[:]...)
	b = binary.AppendVarint(b, s.at.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(s.types)))
	for _, t := range s.types {
		b = appendString(b, t)
	}
	b = binary.AppendUvarint(b, uint64(len(s.names)-1))
	for _, name := range s.names[1:] {
		b = appendString(b, name)
	}
	b = binary.AppendUvarint(b, uint64(n))
	for _, i := range order {
		b = appendString(b, s.ids[i])
	}
	for _, i := range order {
		b = appendString(b, s.titles[i])
	}
	for _, i := range order {
		b = binary.AppendVarint(b, s.amounts[i])
	}
	for _, i := range order {
		p := s.parties[i]
		b = binary.AppendUvarint(b, uint64(p[0]))
		b = binary.AppendUvarint(b, uint64(p[1]))
		b = binary.AppendUvarint(b, uint64(p[2]))
	}
	for _, i := range order {
		b = binary.AppendVarint(b, int64(s.days[i]))
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
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, searchCRC))
	_, err := w.Write(b)
	return err
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errSearchSnapshot is wrapped by every error of ReadSearchSnapshot.
var errSearchSnapshot = errors.New("projections: bad search snapshot")

// ReadSearchSnapshot returns the Search a snapshot holds. Its strings share one copy of
// b, and the maps from ids and names are built only when a record needs them, so that a
// restart over a million contracts takes a fraction of a second.
func ReadSearchSnapshot(b []byte) (*Search, error) {
	if len(b) < len(searchMagic)+4 || string(b[:len(searchMagic)]) != searchMagic {
		return nil, fmt.Errorf("%w: not a search snapshot (version 1)", errSearchSnapshot)
	}
	body := b[:len(b)-4]
	if binary.LittleEndian.Uint32(b[len(b)-4:]) != crc32.Checksum(body, searchCRC) {
		return nil, fmt.Errorf("%w: checksum mismatch", errSearchSnapshot)
	}
	r := searchSnapReader{b: body, s: string(body), off: len(searchMagic)}
	s := NewSearch()
	s.byKey, s.byOther, s.nameIDs = nil, nil, nil
	s.pos = ledger.Position(r.uvarint())
	copy(s.hash[:], r.bytes(len(s.hash)))
	s.at = time.Unix(0, r.varint()).UTC()
	for range r.count(SearchTypesMax) {
		t := r.str()
		if _, dup := s.typeIDs[t]; dup && r.err == nil {
			return nil, fmt.Errorf("%w: type %q listed twice", errSearchSnapshot, t)
		}
		s.typeID(t) // cannot fail: count is at most SearchTypesMax
	}
	nNames := r.count(math.MaxUint32 - 1)
	s.names = slices.Grow(s.names, nNames)
	s.nameOffs = slices.Grow(s.nameOffs, nNames)
	for range nNames {
		name := r.str()
		if strings.IndexByte(name, 0) >= 0 {
			r.fail("a name holds a 0 byte")
		}
		s.names = append(s.names, name)
		s.nameOffs = append(s.nameOffs, uint32(len(s.nameBlob)))
		s.nameBlob = append(append(s.nameBlob, name...), 0)
	}
	n := r.count(SearchContractsMax)
	s.ids = make([]string, n)
	s.titles = make([]string, n)
	s.keys = make([]uint64, n)
	s.amounts = make([]int64, n)
	s.parties = make([][3]uint32, n)
	s.days = make([]int32, n)
	for i := range n {
		s.ids[i] = r.str()
		s.keys[i] = numberKey(s.ids[i])
	}
	for i := range n {
		s.titles[i] = r.str()
	}
	for i := range n {
		s.amounts[i] = r.varint()
	}
	for i := range n {
		for k := range 3 {
			p := r.uvarint()
			if p >= uint64(len(s.names)) || (k < 2 && p == 0) {
				r.fail("party name index out of range")
			}
			s.parties[i][k] = uint32(p)
		}
	}
	perDay := map[int32]int{}
	for i := range n {
		v := r.varint()
		if v < math.MinInt32 || v > math.MaxInt32 {
			r.fail("day out of range")
		}
		s.days[i] = int32(v)
		perDay[s.days[i]]++
	}
	s.typs = slices.Clone(r.bytes(n))
	rv := r.bytes(n)
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
	// Buckets: one allocation per day, sized from the count.
	s.dayList = make([]int32, 0, len(perDay))
	for d, c := range perDay {
		s.dayList = append(s.dayList, d)
		s.buckets[d] = make([]uint32, 0, c)
	}
	slices.Sort(s.dayList)
	for i, d := range s.days {
		s.buckets[d] = append(s.buckets[d], uint32(i))
	}
	return s, nil
}

// searchSnapReader reads a snapshot; after the first error every read returns zero values.
type searchSnapReader struct {
	b   []byte
	s   string // the same bytes as b, once: strings read are substrings of it
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

func (r *searchSnapReader) str() string {
	n := r.count(uint64(len(r.b)))
	if r.err != nil || n > len(r.b)-r.off {
		r.fail("truncated string")
		return ""
	}
	r.off += n
	return r.s[r.off-n : r.off]
}
