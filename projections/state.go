package projections

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"techledger/ledger"
)

// Options configure the folds.
type Options struct {
	// HomeProvince is the 2-digit GB/T 2260 province prefix the `flow` dimension is relative
	// to. Empty means "14" (Shanxi).
	HomeProvince string
}

// DefaultHomeProvince is Shanxi's province prefix.
const DefaultHomeProvince = "14"

// State is the read models folded from a prefix of the log: registered-contract statistics
// and researcher-reward tallies, as of Position. It holds a compact record per contract
// (about 60 bytes plus its cell in the statistics cube) and nothing per event. State is
// not safe for concurrent use; the Runner guards it.
type State struct {
	home string
	pos  ledger.Position
	hash ledger.Hash
	at   time.Time

	codes     interner // type, subtype, field, kind and region codes
	regions   map[uint16]regionInfo
	contracts []contract
	ids       map[uint64]uint32 // contract key (see contractKey) -> index in contracts
	otherIDs  []string          // contract IDs that are not registration numbers
	months    map[int32]*monthCells
	monthList []int32 // the keys of months, sorted

	people      interner // researcher ids, names, institutions
	researchers map[researcherKey]int32
	rs          []researcher
	tallies     map[tallyKey]int32
	tallyList   []tally
	seen        map[seenKey]struct{}
	flags       []Flag

	v view // scratch for decoding
}

// contract is what the statistics keep per contract.
type contract struct {
	key                uint64
	amount, tech, paid int64 // fen
	day                int32 // registered_on
	dims               dimKey
	revoked            bool
}

// dimKey holds a contract's classification as interned codes: the cell of the statistics
// cube it falls in (with its month).
type dimKey struct {
	typ, sub, field, sellerKind, buyerKind, sellerCity, buyerCity uint16
}

// cell sums the contracts of one month with the same dimKey.
type cell struct {
	key                dimKey
	count              int64
	amount, tech, paid Money
}

// monthCells is the statistics cube for the contracts registered in one month.
type monthCells struct {
	idx       map[dimKey]int32
	cells     []cell
	contracts []uint32 // indexes of the contracts registered this month, in log order
}

// regionInfo is derived from a city code: its province code and whether it is home.
type regionInfo struct {
	province uint16
	home     bool
}

// NewState returns the state of an empty log.
func NewState(opts Options) *State {
	home := opts.HomeProvince
	if home == "" {
		home = DefaultHomeProvince
	}
	return &State{
		home:        home,
		regions:     map[uint16]regionInfo{},
		ids:         map[uint64]uint32{},
		months:      map[int32]*monthCells{},
		researchers: map[researcherKey]int32{},
		tallies:     map[tallyKey]int32{},
		seen:        map[seenKey]struct{}{},
	}
}

// Position returns the position of the last record folded (0: none).
func (s *State) Position() ledger.Position { return s.pos }

// Hash returns the hash of the last record folded.
func (s *State) Hash() ledger.Hash { return s.hash }

// RecordedAt returns the time the last record folded was recorded.
func (s *State) RecordedAt() time.Time { return s.at }

// Contracts returns the number of contracts registered (revoked ones included).
func (s *State) Contracts() int { return len(s.contracts) }

// ErrFold is wrapped by errors for a record the folds cannot apply: the log contradicts
// the domain rules (a registration twice, an event for an unknown contract) or skips a
// position. Such a log was not written through package commands.
var ErrFold = errors.New("projections: log contradicts the domain rules")

// Apply folds one record, which must be the record at Position()+1.
func (s *State) Apply(rec *ledger.Record) error {
	if rec.Position != s.pos+1 {
		return fmt.Errorf("%w: record at position %d follows position %d", ErrFold, rec.Position, s.pos)
	}
	if err := decodeView(rec, &s.v); err != nil {
		return err
	}
	if err := s.apply(rec, &s.v); err != nil {
		return fmt.Errorf("position %d: %w", rec.Position, err)
	}
	if len(s.codes.strs) > math.MaxUint16 { // codes are reference data: a few hundred
		return fmt.Errorf("position %d: %w: more than %d distinct codes", rec.Position, ErrFold, math.MaxUint16)
	}
	s.pos, s.hash, s.at = rec.Position, rec.Hash, rec.RecordedAt
	return nil
}

func (s *State) apply(rec *ledger.Record, v *view) error {
	if v.typ == evRegistered {
		return s.register(v)
	}
	i, ok := s.lookup(v.contractID)
	if !ok {
		return fmt.Errorf("%w: %s for unregistered contract %q", ErrFold, rec.Type, v.contractID)
	}
	c := &s.contracts[i]
	if c.revoked {
		return fmt.Errorf("%w: %s for revoked contract %q", ErrFold, rec.Type, v.contractID)
	}
	switch v.typ {
	case evAmended:
		s.uncount(c)
		c.amount, c.tech = v.amount, v.tech
		c.dims.typ, c.dims.sub, c.dims.field = s.codes.id(v.ctype), s.codes.id(v.subtype), s.codes.id(v.field)
		s.count(c)
	case evRevoked:
		s.uncount(c)
		c.revoked = true
	case evRights:
		if string(v.right) == ledger.RightProceeds {
			s.flag(rec, i, v)
		}
	case evPayment:
		if c.paid+v.amount > fenMax {
			return fmt.Errorf("%w: payments of contract %q exceed %d fen", ErrFold, v.contractID, int64(fenMax))
		}
		c.paid += v.amount
		s.cellOf(c).paid.add(v.amount)
		s.reward(i, v)
	}
	return nil
}

func (s *State) register(v *view) error {
	key, err := s.contractKey(v.contractID)
	if err != nil {
		return err
	}
	if _, dup := s.ids[key]; dup {
		return fmt.Errorf("%w: contract %q registered twice", ErrFold, v.contractID)
	}
	i := uint32(len(s.contracts))
	s.ids[key] = i
	s.contracts = append(s.contracts, contract{
		key: key, amount: v.amount, tech: v.tech, day: v.registeredOn,
		dims: dimKey{
			typ: s.codes.id(v.ctype), sub: s.codes.id(v.subtype), field: s.codes.id(v.field),
			sellerKind: s.codes.id(v.sellerKind), buyerKind: s.codes.id(v.buyerKind),
			sellerCity: s.city(v.sellerReg), buyerCity: s.city(v.buyerReg),
		},
	})
	c := &s.contracts[i]
	m := s.month(monthOf(c.day))
	m.contracts = append(m.contracts, i)
	s.count(c)
	return nil
}

// count adds a live contract to its cell; uncount takes it out.
func (s *State) count(c *contract) {
	cl := s.cellOf(c)
	cl.count++
	cl.amount.add(c.amount)
	cl.tech.add(c.tech)
	cl.paid.add(c.paid)
}

func (s *State) uncount(c *contract) {
	cl := s.cellOf(c)
	cl.count--
	cl.amount.add(-c.amount)
	cl.tech.add(-c.tech)
	cl.paid.add(-c.paid)
}

func (s *State) cellOf(c *contract) *cell {
	m := s.month(monthOf(c.day))
	j, ok := m.idx[c.dims]
	if !ok {
		j = int32(len(m.cells))
		m.idx[c.dims] = j
		m.cells = append(m.cells, cell{key: c.dims})
	}
	return &m.cells[j]
}

func (s *State) month(n int32) *monthCells {
	m, ok := s.months[n]
	if !ok {
		m = &monthCells{idx: map[dimKey]int32{}}
		s.months[n] = m
		at, _ := slices.BinarySearch(s.monthList, n)
		s.monthList = slices.Insert(s.monthList, at, n)
	}
	return m
}

// monthOf returns the month number (year*12 + month-1) of a day.
func monthOf(day int32) int32 {
	y, m, _ := civilOf(day)
	return int32(y*12 + m - 1)
}

// city interns the city-level code of a 6-digit region ("140105" -> "140100"; the abroad
// code and anything that is not 6 digits stay as they are).
func (s *State) city(region []byte) uint16 {
	var buf [6]byte
	code := region
	if len(region) == 6 && string(region) != abroadRegion {
		copy(buf[:], region[:4])
		buf[4], buf[5] = '0', '0'
		code = buf[:]
	}
	id := s.codes.id(code)
	s.regionOf(id)
	return id
}

// regionOf records the province and home flag of the city code id, once.
func (s *State) regionOf(id uint16) {
	if _, ok := s.regions[id]; ok {
		return
	}
	code := s.codes.str(uint32(id))
	prov := code
	if len(code) == 6 && code != abroadRegion {
		prov = code[:2] + "0000"
	}
	s.regions[id] = regionInfo{
		province: s.codes.id([]byte(prov)),
		home:     len(code) == 6 && code != abroadRegion && code[:2] == s.home,
	}
}

// abroadRegion is the region code of parties outside China (commands.AbroadRegion).
const abroadRegion = "999999"

// contractKey maps a contract ID to a map key: registration numbers (14 or 16 digits) as
// their value tagged with their length; anything else by its index in otherIDs (bit 63).
func (s *State) contractKey(id []byte) (uint64, error) {
	if k, ok := numericKey(id); ok {
		return k, nil
	}
	for i, o := range s.otherIDs { // rare: only logs not written through commands
		if o == string(id) {
			return 1<<63 | uint64(i), nil
		}
	}
	if len(s.otherIDs) >= 1<<20 {
		return 0, fmt.Errorf("%w: too many contract IDs that are not registration numbers", ErrFold)
	}
	s.otherIDs = append(s.otherIDs, string(id))
	return 1<<63 | uint64(len(s.otherIDs)-1), nil
}

func numericKey(id []byte) (uint64, bool) {
	if len(id) != 14 && len(id) != 16 {
		return 0, false
	}
	var n uint64
	for _, c := range id {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n | uint64(len(id))<<56, true
}

func (s *State) lookup(id []byte) (uint32, bool) {
	k, ok := numericKey(id)
	if !ok {
		found := false
		for i, o := range s.otherIDs {
			if o == string(id) {
				k, found = 1<<63|uint64(i), true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	i, ok := s.ids[k]
	return i, ok
}

// contractID returns the ID of the contract with key k.
func (s *State) contractID(k uint64) string {
	if k&(1<<63) != 0 {
		return s.otherIDs[k&^(1<<63)]
	}
	n := int(k >> 56)
	d := strconv.FormatUint(k&(1<<56-1), 10)
	for len(d) < n {
		d = "0" + d
	}
	return d
}

// interner gives small integer codes to strings.
type interner struct {
	ids  map[string]uint32
	strs []string
}

// id returns b's code (uint16: the codes interned are reference data, a few hundred).
func (t *interner) id(b []byte) uint16 { return uint16(t.id32(b)) }

func (t *interner) id32(b []byte) uint32 {
	if i, ok := t.ids[string(b)]; ok {
		return i
	}
	if t.ids == nil {
		t.ids = map[string]uint32{}
	}
	i := uint32(len(t.strs))
	s := string(b)
	t.ids[s] = i
	t.strs = append(t.strs, s)
	return i
}

func (t *interner) str(i uint32) string { return t.strs[i] }
