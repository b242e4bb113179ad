package projections

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"techledger/ledger"
)

// Search is the read model behind "find contracts" (docs/console.md): every registered
// contract with what a registrar searches by and sees in a result row, folded from the log
// like State. It answers queries by registration-number prefix, party name (a substring of
// the seller's, buyer's or intermediary's name), type, status and registered-date range,
// newest first (by registered_on, then by the order of registration in the log), in pages.
//
// It is laid out for scanning a million contracts in a few milliseconds: one column per
// attribute, indexed by the contract's order of registration; contracts bucketed by
// registered_on, so a date range touches only its days; each distinct party name kept once
// (one university registers hundreds of contracts), in one byte string that a name query
// searches once; registration numbers as integers, so a prefix is a range.
//
// After Apply returns an error the Search must be dropped. Find only reads, so queries may
// run concurrently with each other but not with Apply; SearchRunner guards it.
type Search struct {
	pos  ledger.Position
	hash ledger.Hash
	at   time.Time

	// Columns, one entry per contract in order of registration.
	ids     []string
	titles  []string
	keys    []uint64    // numberKey of the id (0: not a registration number)
	amounts []int64     // 合同成交额 in force, fen
	parties [][3]uint32 // seller, buyer, intermediary: indexes in names (0: none)
	days    []int32     // registered_on, days since 1970-01-01
	typs    []uint8     // index in types (type in force)
	revoked []bool

	byKey   map[uint64]uint32 // numberKey -> index; built on first need (see index)
	byOther map[string]uint32 // ids that are not registration numbers -> index

	names    []string          // distinct party names; names[0] is "" (no party)
	nameBlob []byte            // every name followed by 0, in order: what a name query searches
	nameOffs []uint32          // nameOffs[i]: offset of names[i] in nameBlob
	nameIDs  map[string]uint32 // name -> index in names; built on first need (see nameID)

	types   []string // contract type codes as registered; interned
	typeIDs map[string]uint8

	buckets map[int32][]uint32 // day -> indexes registered on it, increasing
	dayList []int32            // keys of buckets, sorted
}

// Limits of Search.
const (
	// SearchPageMax bounds the results of one page.
	SearchPageMax = 200
	// SearchTypesMax bounds the distinct contract type codes (the reference data has 5).
	SearchTypesMax = 255
	// SearchContractsMax bounds the contracts (indexes are uint32).
	SearchContractsMax = math.MaxUint32 - 1
)

// Statuses a search can filter by.
const (
	StatusRegistered = "registered" // in force (amended or not)
	StatusRevoked    = "revoked"
)

// NewSearch returns the Search of an empty log.
func NewSearch() *Search {
	return &Search{
		byKey:    map[uint64]uint32{},
		byOther:  map[string]uint32{},
		names:    []string{""},
		nameBlob: []byte{0},
		nameOffs: []uint32{0},
		nameIDs:  map[string]uint32{"": 0},
		typeIDs:  map[string]uint8{},
		buckets:  map[int32][]uint32{},
	}
}

// numberKey returns a registration number of 1 to 18 digits as its length (top byte) and
// value, or 0 for anything else. Keys of one length order like the strings.
func numberKey(id string) uint64 {
	if len(id) == 0 || len(id) > 18 {
		return 0
	}
	var v uint64
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return 0
		}
		v = v*10 + uint64(c-'0')
	}
	return uint64(len(id))<<56 | v
}

// Position returns the position of the last record folded (0: none).
func (s *Search) Position() ledger.Position { return s.pos }

// Hash returns the hash of the last record folded.
func (s *Search) Hash() ledger.Hash { return s.hash }

// Len returns the number of contracts registered (revoked ones included).
func (s *Search) Len() int { return len(s.ids) }

// Apply folds one record, which must be the record at Position()+1. Records other than
// registrations, amendments and revocations only move the position.
func (s *Search) Apply(rec *ledger.Record) error {
	if rec.Position != s.pos+1 {
		return fmt.Errorf("%w: record at position %d follows position %d", ErrFold, rec.Position, s.pos)
	}
	switch rec.Type {
	case ledger.TypeContractRegistered, ledger.TypeContractAmended, ledger.TypeContractRevoked:
		ev, err := ledger.DecodeRecord(rec)
		if err != nil {
			return fmt.Errorf("position %d: %w", rec.Position, err)
		}
		if err := s.apply(ev); err != nil {
			return fmt.Errorf("position %d: %w", rec.Position, err)
		}
	}
	s.pos, s.hash, s.at = rec.Position, rec.Hash, rec.RecordedAt
	return nil
}

func (s *Search) apply(ev ledger.DomainEvent) error {
	switch e := ev.(type) {
	case *ledger.ContractRegistered:
		if _, dup := s.lookup(e.ContractID); dup {
			return fmt.Errorf("%w: contract %q registered twice", ErrFold, e.ContractID)
		}
		if len(s.ids) >= SearchContractsMax {
			return fmt.Errorf("%w: more than %d contracts", ErrFold, SearchContractsMax)
		}
		typ, err := s.typeID(e.Type)
		if err != nil {
			return err
		}
		amount, err := searchFen(e.Amount)
		if err != nil {
			return err
		}
		var parties [3]uint32
		parties[0] = s.nameID(e.Seller.Name)
		parties[1] = s.nameID(e.Buyer.Name)
		if e.Intermediary != nil {
			parties[2] = s.nameID(e.Intermediary.Name)
		}
		s.add(e.ContractID, e.Title, amount, parties, searchDay(e.RegisteredOn), typ, false)
	case *ledger.ContractAmended:
		i, err := s.live(e.ContractID, ev)
		if err != nil {
			return err
		}
		typ, err := s.typeID(e.Type)
		if err != nil {
			return err
		}
		amount, err := searchFen(e.Amount)
		if err != nil {
			return err
		}
		s.typs[i], s.amounts[i] = typ, amount
	case *ledger.ContractRevoked:
		i, err := s.live(e.ContractID, ev)
		if err != nil {
			return err
		}
		s.revoked[i] = true
	}
	return nil
}

// add appends a contract whose parties are already in names.
func (s *Search) add(id, title string, amount int64, parties [3]uint32, day int32, typ uint8, revoked bool) {
	i := uint32(len(s.ids))
	key := numberKey(id)
	s.ids = append(s.ids, id)
	s.titles = append(s.titles, title)
	s.keys = append(s.keys, key)
	s.amounts = append(s.amounts, amount)
	s.parties = append(s.parties, parties)
	s.days = append(s.days, day)
	s.typs = append(s.typs, typ)
	s.revoked = append(s.revoked, revoked)
	if s.byKey != nil {
		if key != 0 {
			s.byKey[key] = i
		} else {
			s.byOther[id] = i
		}
	}
	b, ok := s.buckets[day]
	if !ok {
		at, _ := slices.BinarySearch(s.dayList, day)
		s.dayList = slices.Insert(s.dayList, at, day)
	}
	s.buckets[day] = append(b, i)
}

// index builds the maps from ids to indexes, if they are not built (a loaded snapshot
// leaves them to the first record that needs them).
func (s *Search) index() {
	if s.byKey != nil {
		return
	}
	s.byKey = make(map[uint64]uint32, len(s.ids))
	s.byOther = map[string]uint32{}
	for i, k := range s.keys {
		if k != 0 {
			s.byKey[k] = uint32(i)
		} else {
			s.byOther[s.ids[i]] = uint32(i)
		}
	}
}

// lookup returns the index of contract id.
func (s *Search) lookup(id string) (uint32, bool) {
	s.index()
	if k := numberKey(id); k != 0 {
		i, ok := s.byKey[k]
		return i, ok
	}
	i, ok := s.byOther[id]
	return i, ok
}

// live returns the index of a registered contract not revoked.
func (s *Search) live(id string, ev ledger.DomainEvent) (uint32, error) {
	i, ok := s.lookup(id)
	if !ok {
		return 0, fmt.Errorf("%w: %s for unregistered contract %q", ErrFold, ev.EventType(), id)
	}
	if s.revoked[i] {
		return 0, fmt.Errorf("%w: %s for revoked contract %q", ErrFold, ev.EventType(), id)
	}
	return i, nil
}

// nameID returns the index of name in names, entering it if it is new. A name holding a
// 0 byte (which no valid command carries) is entered without it.
func (s *Search) nameID(name string) uint32 {
	if strings.IndexByte(name, 0) >= 0 {
		name = strings.ReplaceAll(name, "\x00", "")
	}
	if s.nameIDs == nil {
		s.nameIDs = make(map[string]uint32, len(s.names))
		for i, n := range s.names {
			s.nameIDs[n] = uint32(i)
		}
	}
	id, ok := s.nameIDs[name]
	if !ok {
		id = uint32(len(s.names))
		s.names = append(s.names, name)
		s.nameOffs = append(s.nameOffs, uint32(len(s.nameBlob)))
		s.nameBlob = append(append(s.nameBlob, name...), 0)
		s.nameIDs[name] = id
	}
	return id
}

func (s *Search) typeID(t string) (uint8, error) {
	if id, ok := s.typeIDs[t]; ok {
		return id, nil
	}
	if len(s.types) >= SearchTypesMax {
		return 0, fmt.Errorf("%w: more than %d contract types", ErrFold, SearchTypesMax)
	}
	id := uint8(len(s.types))
	s.types = append(s.types, t)
	s.typeIDs[t] = id
	return id, nil
}

// searchFen returns an amount in fen. The ledger's amounts have at most 2 decimals and
// are far below searchFenMax (commands.AmountMax is 1e11 yuan).
func searchFen(d decimal.Decimal) (int64, error) {
	f := d.Shift(2)
	if !f.IsInteger() || f.Abs().GreaterThan(decimal.NewFromInt(searchFenMax)) {
		return 0, fmt.Errorf("%w: amount %s is not a whole number of fen within %d", ErrFold, d, int64(searchFenMax))
	}
	return f.IntPart(), nil
}

// searchFenMax bounds the amounts Search reads, in fen.
const searchFenMax = 1e15

// searchDay returns d as days since 1970-01-01.
func searchDay(d ledger.Date) int32 {
	return int32(d.Time().Unix() / 86400)
}

// searchDate is the inverse of searchDay.
func searchDate(day int32) ledger.Date {
	return ledger.DateOf(time.Unix(int64(day)*86400, 0).UTC())
}

// SearchQuery is a search: every non-empty criterion must hold.
type SearchQuery struct {
	// NumberPrefix: the registration number starts with it.
	NumberPrefix string
	// Party: a substring of the seller's, buyer's or intermediary's name (case as given).
	Party string
	// Type: the contract type in force (a code such as "transfer").
	Type string
	// Status: StatusRegistered (in force) or StatusRevoked; "" both.
	Status string
	// From, To: registered_on within [From, To]; a zero Date leaves that end open.
	From, To ledger.Date
	// Offset skips that many results; Limit (at most SearchPageMax, default 20) is the page size.
	Offset, Limit int
}

// SearchResult is one page of results and how many contracts match in all.
type SearchResult struct {
	Total int             `json:"total"`
	Rows  []SearchHit     `json:"rows"`
	AsOf  ledger.Position `json:"as_of"`
}

// SearchHit is a contract as a result row shows it. Amount is in yuan with two decimals.
type SearchHit struct {
	ContractID   string      `json:"contract_id"`
	Title        string      `json:"title"`
	Type         string      `json:"type"`
	RegisteredOn ledger.Date `json:"registered_on"`
	Amount       string      `json:"amount"`
	Seller       string      `json:"seller"`
	Buyer        string      `json:"buyer"`
	Intermediary string      `json:"intermediary,omitempty"`
	Status       string      `json:"status"`
}

// searchQueryError returns a *QueryError naming a query parameter and its rule.
func searchQueryError(field, format string, args ...any) error {
	return &QueryError{Field: field, Rule: fmt.Sprintf(format, args...)}
}

// Find answers q: the contracts that match, newest first (registered_on descending, then
// the later registration in the log first), the page q.Offset..q.Offset+q.Limit, and the
// number that match in all. It returns a *QueryError for a bad status, a limit out of
// range or a reversed date range.
func (s *Search) Find(q SearchQuery) (SearchResult, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = 20
	case limit < 0 || limit > SearchPageMax:
		return SearchResult{}, searchQueryError("limit", "%d is not in 1..%d", q.Limit, SearchPageMax)
	}
	if q.Offset < 0 {
		return SearchResult{}, searchQueryError("offset", "%d is negative", q.Offset)
	}
	m := matcher{s: s, typ: -1}
	switch q.Status {
	case "":
	case StatusRegistered:
		m.status, m.wantRevoked = true, false
	case StatusRevoked:
		m.status, m.wantRevoked = true, true
	default:
		return SearchResult{}, searchQueryError("status", "%q is not a status (want %s or %s)", q.Status, StatusRegistered, StatusRevoked)
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return SearchResult{}, searchQueryError("to", "%s is before from %s", q.To, q.From)
	}
	res := SearchResult{Rows: []SearchHit{}, AsOf: s.pos}
	if q.Type != "" {
		id, ok := s.typeIDs[q.Type]
		if !ok {
			return res, nil // no contract of that type
		}
		m.typ = int(id)
	}
	if q.Party != "" {
		if m.names = s.matchNames(q.Party); m.names == nil {
			return res, nil
		}
	}
	if q.NumberPrefix != "" && !m.prefix(q.NumberPrefix) {
		return res, nil
	}
	lo, hi := 0, len(s.dayList) // days within [From, To]
	if !q.From.IsZero() {
		lo, _ = slices.BinarySearch(s.dayList, searchDay(q.From))
	}
	if !q.To.IsZero() {
		hi, _ = slices.BinarySearch(s.dayList, searchDay(q.To)+1)
	}
	filtered := m.status || m.typ >= 0 || m.names != nil || m.numbers
	for d := hi - 1; d >= lo; d-- {
		idx := s.buckets[s.dayList[d]]
		if !filtered && (res.Total+len(idx) <= q.Offset || len(res.Rows) == limit) {
			res.Total += len(idx) // every contract of the day matches: count them at once
			continue
		}
		for k := len(idx) - 1; k >= 0; k-- {
			i := idx[k]
			if filtered && !m.match(i) {
				continue
			}
			if res.Total >= q.Offset && len(res.Rows) < limit {
				res.Rows = append(res.Rows, s.hit(i))
			}
			res.Total++
		}
	}
	return res, nil
}

// matcher holds a query's criteria in the form the scan tests them.
type matcher struct {
	s           *Search
	status      bool // filter by status: revoked must equal wantRevoked
	wantRevoked bool
	typ         int      // type index, or -1
	names       []uint64 // bitset over names matching the party criterion; nil: none
	numbers     bool     // filter by registration number
	ranges      [2][2]uint64
	nRanges     int
	other       string // prefix for ids that are not registration numbers
}

// prefix sets the registration-number criterion; it reports whether any id can match.
// For ids of each length a digit prefix is a range of keys; other ids are compared as
// strings.
func (m *matcher) prefix(p string) bool {
	m.numbers, m.other = true, p
	digitsOnly := numberKey(p) != 0
	for _, n := range []int{16, 14} { // the registration number's lengths (ledger: 16, older 14)
		if !digitsOnly || len(p) > n {
			continue
		}
		lo := numberKey(p + strings.Repeat("0", n-len(p)))
		hi := numberKey(p + strings.Repeat("9", n-len(p)))
		m.ranges[m.nRanges] = [2]uint64{lo, hi}
		m.nRanges++
	}
	return true
}

func (m *matcher) match(i uint32) bool {
	s := m.s
	if m.status && s.revoked[i] != m.wantRevoked {
		return false
	}
	if m.typ >= 0 && int(s.typs[i]) != m.typ {
		return false
	}
	if m.numbers {
		k := s.keys[i]
		ok := false
		if k == 0 || (k>>56 != 16 && k>>56 != 14) {
			ok = strings.HasPrefix(s.ids[i], m.other)
		} else {
			for r := range m.nRanges {
				if k >= m.ranges[r][0] && k <= m.ranges[r][1] {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	if m.names != nil {
		p := &s.parties[i]
		if m.names[p[0]>>6]&(1<<(p[0]&63)) == 0 && m.names[p[1]>>6]&(1<<(p[1]&63)) == 0 &&
			(p[2] == 0 || m.names[p[2]>>6]&(1<<(p[2]&63)) == 0) {
			return false
		}
	}
	return true
}

// matchNames returns a bitset over names of those containing sub, or nil if none does.
// It searches the names' one byte string, so a query costs one pass over the distinct
// names whatever their number.
func (s *Search) matchNames(sub string) []uint64 {
	if strings.IndexByte(sub, 0) >= 0 {
		return nil
	}
	var set []uint64
	blob, needle := s.nameBlob, []byte(sub)
	for off := 0; off < len(blob); {
		j := bytes.Index(blob[off:], needle)
		if j < 0 {
			break
		}
		at := uint32(off + j)
		// The name holding byte at: the last whose offset is not after it.
		id, found := slices.BinarySearch(s.nameOffs, at)
		if !found {
			id--
		}
		if set == nil {
			set = make([]uint64, (len(s.names)+63)/64)
		}
		set[id>>6] |= 1 << (id & 63)
		if id+1 < len(s.nameOffs) {
			off = int(s.nameOffs[id+1])
		} else {
			off = len(blob)
		}
	}
	return set
}

func (s *Search) hit(i uint32) SearchHit {
	p := s.parties[i]
	h := SearchHit{
		ContractID: s.ids[i], Title: s.titles[i], Type: s.types[s.typs[i]], RegisteredOn: searchDate(s.days[i]),
		Amount: Fen(s.amounts[i]).String(), Seller: s.names[p[0]], Buyer: s.names[p[1]],
		Intermediary: s.names[p[2]], Status: StatusRegistered,
	}
	if s.revoked[i] {
		h.Status = StatusRevoked
	}
	return h
}
