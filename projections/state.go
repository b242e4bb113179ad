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
// (56 bytes), the reward tallies, and the aggregates built for the queries asked (see
// cube.go); nothing per event. After Apply returns an error the State must be dropped.
// State is not safe for concurrent use; the Runner guards it.
type State struct {
	home string
	pos  ledger.Position
	hash ledger.Hash
	at   time.Time

	codes     interner // type, subtype, field, kind and region codes
	regions   map[uint16]regionInfo
	contracts []contract
	ids       contractIndex      // contract key (see contractKey) -> index in contracts
	otherIDs  []string           // contract IDs that are not registration numbers
	months    map[int32][]uint32 // month number -> indexes of the contracts registered in it
	monthList []int32            // the keys of months, sorted
	cubes     cubes              // aggregates built for the queries asked

	people      interner         // researcher ids, names, institutions
	researchers map[string]int32 // researcherKeyOf(id, institution) -> index in rs
	keyBuf      []byte
	rs          []researcher
	seen        map[seenKey]uint64
	seenOther   map[seenOtherKey]struct{}
	flags       []Flag

	rd reportData // what the report tables need beyond the statistics (facts.go)

	v view // scratch for decoding
}

// contract is what the statistics keep per contract.
type contract struct {
	key                uint64
	amount, tech, paid int64 // fen
	day                int32 // registered_on
	codes              [baseDims]uint16
	revoked            bool
}

// Base dimensions: the classification a contract carries, as interned codes (the flow as
// its index in flows). The period dimensions are derived from registered_on.
const (
	baseType = iota
	baseSubtype
	baseField
	baseSellerKind
	baseBuyerKind
	baseSellerProvince
	baseSellerCity
	baseBuyerProvince
	baseBuyerCity
	baseFlow
	baseDims
)

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
		months:      map[int32][]uint32{},
		researchers: map[string]int32{},
		seen:        map[seenKey]uint64{},
		seenOther:   map[seenOtherKey]struct{}{},
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
	m := meta{pos: rec.Position, at: rec.RecordedAt, hash: rec.Hash}
	if !decodeExtra(s.v.typ, rec.Data, &m.x) {
		return fmt.Errorf("position %d: %w: data does not scan", rec.Position, ErrFold)
	}
	return s.applyView(&m, &s.v)
}

// meta is what the fold reads of a record's envelope.
type meta struct {
	pos  ledger.Position
	at   time.Time
	hash ledger.Hash
	x    extraView // the fields only the report facts read
}

// applyView folds the record of m, whose view v is decoded.
func (s *State) applyView(m *meta, v *view) error {
	if m.pos != s.pos+1 {
		return fmt.Errorf("%w: record at position %d follows position %d", ErrFold, m.pos, s.pos)
	}
	if err := s.apply(m, v); err != nil {
		return fmt.Errorf("position %d: %w", m.pos, err)
	}
	if len(s.codes.strs) > math.MaxUint16 { // codes are reference data: a few hundred
		return fmt.Errorf("position %d: %w: more than %d distinct codes", m.pos, ErrFold, math.MaxUint16)
	}
	s.pos, s.hash, s.at = m.pos, m.hash, m.at
	return nil
}

func (s *State) apply(m *meta, v *view) error {
	if v.typ == evRegistered {
		return s.register(v, &m.x)
	}
	i, ok := s.lookup(v.contractID)
	if !ok {
		return fmt.Errorf("%w: %s for unregistered contract %q", ErrFold, typeOf(v.typ), v.contractID)
	}
	c := &s.contracts[i]
	if c.revoked {
		return fmt.Errorf("%w: %s for revoked contract %q", ErrFold, typeOf(v.typ), v.contractID)
	}
	switch v.typ {
	case evAmended:
		s.cubes.add(c, -1)
		c.amount, c.tech = v.amount, v.tech
		c.codes[baseType], c.codes[baseSubtype], c.codes[baseField] = s.codes.id(v.ctype), s.codes.id(v.subtype), s.codes.id(v.field)
		s.cubes.add(c, 1)
	case evRevoked:
		s.cubes.add(c, -1)
		c.revoked = true
	case evRights:
		if string(v.right) == ledger.RightProceeds {
			s.flag(m.pos, i, v)
		}
		s.rightsFactsOf(i, v, &m.x)
	case evPayment:
		if c.paid+v.amount > fenMax {
			return fmt.Errorf("%w: payments of contract %q exceed %d fen", ErrFold, v.contractID, int64(fenMax))
		}
		c.paid += v.amount
		s.cubes.addPaid(c, v.amount)
		s.reward(i, v, m.pos)
	}
	return nil
}

func (s *State) register(v *view, x *extraView) error {
	key, err := s.contractKey(v.contractID)
	if err != nil {
		return err
	}
	i := uint32(len(s.contracts))
	s.contracts = append(s.contracts, contract{key: key})
	if _, added := s.ids.add(s.contracts, i); !added {
		s.contracts = s.contracts[:i]
		return fmt.Errorf("%w: contract %q registered twice", ErrFold, v.contractID)
	}
	c := contract{key: key, amount: v.amount, tech: v.tech, day: v.registeredOn}
	c.codes[baseType], c.codes[baseSubtype], c.codes[baseField] = s.codes.id(v.ctype), s.codes.id(v.subtype), s.codes.id(v.field)
	c.codes[baseSellerKind], c.codes[baseBuyerKind] = s.codes.id(v.sellerKind), s.codes.id(v.buyerKind)
	c.codes[baseSellerCity], c.codes[baseBuyerCity] = s.city(v.sellerReg), s.city(v.buyerReg)
	s.derive(&c)
	if err := s.registerFacts(i, v, x); err != nil {
		s.contracts = s.contracts[:i]
		return err
	}
	s.contracts[i] = c
	s.addToMonth(i)
	s.cubes.add(&s.contracts[i], 1)
	return nil
}

// derive sets the codes that follow from the cities: provinces and flow.
func (s *State) derive(c *contract) {
	sr, br := s.regions[c.codes[baseSellerCity]], s.regions[c.codes[baseBuyerCity]]
	c.codes[baseSellerProvince], c.codes[baseBuyerProvince] = sr.province, br.province
	switch {
	case sr.home && br.home:
		c.codes[baseFlow] = flowWithin
	case sr.home:
		c.codes[baseFlow] = flowOutflow
	case br.home:
		c.codes[baseFlow] = flowInflow
	default:
		c.codes[baseFlow] = flowExternal
	}
}

// addToMonth lists contract i under the month it was registered in.
func (s *State) addToMonth(i uint32) {
	n := monthOf(s.contracts[i].day)
	list, ok := s.months[n]
	if !ok {
		at, _ := slices.BinarySearch(s.monthList, n)
		s.monthList = slices.Insert(s.monthList, at, n)
	}
	s.months[n] = append(list, i)
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
	return s.ids.find(s.contracts, k)
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
