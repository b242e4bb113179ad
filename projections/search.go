package projections

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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
// attribute, indexed by the contract's order of registration, without pointers where it
// can; contracts bucketed by registered_on, so a date range touches only its days;
// registration numbers as integers, so a prefix is a range; each distinct party name kept
// once (one university registers hundreds of contracts), with an index from each character
// to the names holding it, so a name query reads only the names holding its rarest
// character.
//
// After Apply returns an error the Search must be dropped. Find only reads, so queries may
// run concurrently with each other but not with Apply; SearchRunner guards it.
type Search struct {
	pos  ledger.Position
	hash ledger.Hash
	at   time.Time

	// Columns, one entry per contract in order of registration.
	keys      []uint64          // numberKey of the id; 0: the id is in others
	others    map[uint32]string // ids that are not registration numbers, by index
	titleBlob []byte            // every title, one after the other
	titleOffs []uint32          // title i is titleBlob[titleOffs[i]:titleOffs[i+1]]
	amounts   []int64           // 合同成交额 in force, fen
	parties   [][3]uint32       // seller, buyer, intermediary: name indexes (0: none)
	days      []int32           // registered_on, days since 1970-01-01
	typs      []uint8           // index in types (type in force)
	revoked   []bool

	byKey   map[uint64]uint32 // numberKey -> index; built on first need (see index)
	byOther map[string]uint32 // ids that are not registration numbers -> index

	nameBlob  []byte            // every distinct party name followed by 0; name 0 is "" (no party)
	nameOffs  []uint32          // nameOffs[i]: offset of name i in nameBlob
	nameIDs   map[string]uint32 // name -> index; built on first need (see nameID)
	runeNames [][]uint32        // runeNames[r&0xffff]: the names holding r, increasing
	nameHits  [][]uint32        // nameHits[n]: the contracts with name n as a party, increasing

	types   []string // contract type codes as registered; interned
	typeIDs map[string]uint8

	buckets   map[int32][]uint32  // day -> indexes registered on it, increasing
	dayList   []int32             // keys of buckets, sorted
	dayCounts map[int32][]uint32  // day -> contracts by type and status (see countAt)
	dayKeys   map[int32][2]uint64 // day -> least and greatest key of its contracts (0: an id in others)

	countMax      int // SearchCountMax; tests lower these three to reach every path of Find
	candidatesMax int // searchCandidatesMax
	namesMax      int // searchNamesMax
}

// Limits of Search.
const (
	// SearchPageMax bounds the results of one page.
	SearchPageMax = 200
	// SearchTypesMax bounds the distinct contract type codes (the reference data has 5).
	SearchTypesMax = 255
	// SearchContractsMax bounds the contracts (indexes are uint32).
	SearchContractsMax = math.MaxUint32 - 1
	// SearchNameBytesMax bounds the distinct party names' bytes (offsets are uint32).
	SearchNameBytesMax = math.MaxUint32 - 1
	// SearchTitleBytesMax bounds the titles' bytes (offsets are uint32).
	SearchTitleBytesMax = math.MaxUint32
	// SearchCountMax is where a query that has to scan contracts one by one stops
	// counting, once its page is filled: it then reports "at least" (SearchResult.Capped).
	SearchCountMax = 1000
	// searchCandidatesMax is the most contracts a party criterion may name for Find to
	// test them one by one and sort the matches, rather than scan newest first.
	searchCandidatesMax = 50_000
	// searchNamesMax is the most names the rarest character of a party criterion may be
	// in for Find to find the names that match before reading contracts; past it (有限公司,
	// 大学), the names of the contracts a scan reads are checked as it reads them.
	searchNamesMax = 40_000
)

// Statuses a search can filter by.
const (
	StatusRegistered = "registered" // in force (amended or not)
	StatusRevoked    = "revoked"
)

// NewSearch returns the Search of an empty log.
func NewSearch() *Search {
	return &Search{
		others:    map[uint32]string{},
		titleOffs: []uint32{0},
		byKey:     map[uint64]uint32{},
		byOther:   map[string]uint32{},
		nameBlob:  []byte{0},
		nameOffs:  []uint32{0},
		nameIDs:   map[string]uint32{"": 0},
		runeNames: make([][]uint32, 1<<16),
		nameHits:  [][]uint32{nil},
		typeIDs:   map[string]uint8{},
		buckets:   map[int32][]uint32{},
		dayCounts: map[int32][]uint32{},
		dayKeys:   map[int32][2]uint64{},

		countMax:      SearchCountMax,
		candidatesMax: searchCandidatesMax,
		namesMax:      searchNamesMax,
	}
}

// numberKeyDigitsMax is the longest id numberKey takes: its value must stay below bit 56.
const numberKeyDigitsMax = 16

// numberKey returns an id of 1 to 16 digits (a registration number has 16, an older one
// 14) as its length (top byte) and value, or 0 for anything else. Keys of one length order
// like the strings, and formatKey gives the id back.
func numberKey(id string) uint64 {
	if len(id) == 0 || len(id) > numberKeyDigitsMax {
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

// formatKey is the inverse of numberKey: the digits, zero-padded to the key's length.
func formatKey(k uint64) string {
	var b [numberKeyDigitsMax]byte
	n, v := int(k>>56), k&(1<<56-1)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[:n])
}

// validKey reports whether k is a key numberKey returns.
func validKey(k uint64) bool {
	n := int(k >> 56)
	return n >= 1 && n <= numberKeyDigitsMax && k&(1<<56-1) < pow10[n]
}

// pow10[i] is 10^i.
var pow10 = func() (p [numberKeyDigitsMax + 1]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// id returns the id of contract i.
func (s *Search) id(i uint32) string {
	if k := s.keys[i]; k != 0 {
		return formatKey(k)
	}
	return s.others[i]
}

// title returns the title of contract i as the bytes of titleBlob.
func (s *Search) title(i uint32) []byte { return s.titleBlob[s.titleOffs[i]:s.titleOffs[i+1]] }

// name returns party name n.
func (s *Search) name(n uint32) string {
	if n == 0 {
		return ""
	}
	return string(s.nameBytes(n))
}

// nameBytes returns party name n as the bytes of nameBlob.
func (s *Search) nameBytes(n uint32) []byte {
	end := len(s.nameBlob) - 1
	if int(n)+1 < len(s.nameOffs) {
		end = int(s.nameOffs[n+1]) - 1
	}
	return s.nameBlob[s.nameOffs[n]:end]
}

// names returns the number of distinct party names, "" included.
func (s *Search) names() int { return len(s.nameOffs) }

// Position returns the position of the last record folded (0: none).
func (s *Search) Position() ledger.Position { return s.pos }

// Hash returns the hash of the last record folded.
func (s *Search) Hash() ledger.Hash { return s.hash }

// Len returns the number of contracts registered (revoked ones included).
func (s *Search) Len() int { return len(s.keys) }

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
		if len(s.keys) >= SearchContractsMax {
			return fmt.Errorf("%w: more than %d contracts", ErrFold, SearchContractsMax)
		}
		if len(s.titleBlob)+len(e.Title) > SearchTitleBytesMax {
			return fmt.Errorf("%w: titles exceed %d bytes", ErrFold, int64(SearchTitleBytesMax))
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
		if parties[0], err = s.nameID(e.Seller.Name); err != nil {
			return err
		}
		if parties[1], err = s.nameID(e.Buyer.Name); err != nil {
			return err
		}
		if e.Intermediary != nil {
			if parties[2], err = s.nameID(e.Intermediary.Name); err != nil {
				return err
			}
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
		s.count(i, -1)
		s.typs[i], s.amounts[i] = typ, amount
		s.count(i, +1)
	case *ledger.ContractRevoked:
		i, err := s.live(e.ContractID, ev)
		if err != nil {
			return err
		}
		s.count(i, -1)
		s.revoked[i] = true
		s.count(i, +1)
	}
	return nil
}

// add appends a contract whose parties are already in names.
func (s *Search) add(id, title string, amount int64, parties [3]uint32, day int32, typ uint8, revoked bool) {
	i := uint32(len(s.keys))
	key := numberKey(id)
	s.keys = append(s.keys, key)
	if key == 0 {
		s.others[i] = id
	}
	s.titleBlob = append(s.titleBlob, title...)
	s.titleOffs = append(s.titleOffs, uint32(len(s.titleBlob)))
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
	s.count(i, +1)
	s.keyRange(day, key, !ok)
	for k, n := range parties {
		if n != 0 && (k == 0 || n != parties[0]) && (k < 2 || n != parties[1]) { // once per contract
			s.nameHits[n] = append(s.nameHits[n], i)
		}
	}
}

// keyRange widens the range of keys day holds to key (first: key is the day's first).
func (s *Search) keyRange(day int32, key uint64, first bool) {
	r := s.dayKeys[day]
	if first {
		r = [2]uint64{key, key}
	}
	s.dayKeys[day] = [2]uint64{min(r[0], key), max(r[1], key)}
}

// count adds delta to the count of contract i's day, type and status.
func (s *Search) count(i uint32, delta int) {
	c := s.dayCounts[s.days[i]]
	at := countAt(s.typs[i], s.revoked[i])
	if at >= len(c) {
		c = append(c, make([]uint32, at+1-len(c))...)
		s.dayCounts[s.days[i]] = c
	}
	c[at] = uint32(int(c[at]) + delta)
}

// countAt is where dayCounts keeps the contracts of type typ, revoked or not.
func countAt(typ uint8, revoked bool) int {
	if revoked {
		return int(typ)*2 + 1
	}
	return int(typ) * 2
}

// index builds the maps from ids to indexes, if they are not built (a loaded snapshot
// leaves them to the first record that needs them).
func (s *Search) index() {
	if s.byKey != nil {
		return
	}
	s.byKey = make(map[uint64]uint32, len(s.keys))
	s.byOther = make(map[string]uint32, len(s.others))
	for i, k := range s.keys {
		if k != 0 {
			s.byKey[k] = uint32(i)
		}
	}
	for i, id := range s.others {
		s.byOther[id] = i
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

// nameID returns the index of name, entering it if it is new. A name holding a 0 byte
// (which no valid command carries) is entered without it.
func (s *Search) nameID(name string) (uint32, error) {
	if strings.IndexByte(name, 0) >= 0 {
		name = strings.ReplaceAll(name, "\x00", "")
	}
	if s.nameIDs == nil {
		s.nameIDs = make(map[string]uint32, s.names())
		for n := range uint32(s.names()) {
			s.nameIDs[s.name(n)] = n
		}
	}
	id, ok := s.nameIDs[name]
	if ok {
		return id, nil
	}
	if len(s.nameBlob)+len(name)+1 > SearchNameBytesMax {
		return 0, fmt.Errorf("%w: party names exceed %d bytes", ErrFold, int64(SearchNameBytesMax))
	}
	id = uint32(s.names())
	s.nameOffs = append(s.nameOffs, uint32(len(s.nameBlob)))
	s.nameBlob = append(append(s.nameBlob, name...), 0)
	s.nameIDs[name] = id
	s.nameHits = append(s.nameHits, nil)
	s.indexRunes(id)
	return id, nil
}

// indexRunes enters name n in runeNames under each of its characters.
func (s *Search) indexRunes(n uint32) {
	b := s.nameBytes(n)
	for len(b) > 0 {
		r, w := utf8.DecodeRune(b)
		b = b[w:]
		l := s.runeNames[uint16(r)]
		if len(l) == 0 || l[len(l)-1] != n { // a character twice in a name: once
			s.runeNames[uint16(r)] = append(l, n)
		}
	}
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

// SearchResult is one page of results and how many contracts match in all. When Capped,
// Total is a lower bound: at least that many match (see Search.Find).
type SearchResult struct {
	Total  int             `json:"total"`
	Capped bool            `json:"capped,omitempty"`
	Rows   []SearchHit     `json:"rows"`
	AsOf   ledger.Position `json:"as_of"`
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
//
// Counts are exact, except for a query by registration number or by a party name that
// many contracts hold: Find reads its contracts newest first and stops once the page is
// filled and it has counted SearchCountMax (or one past the page, if that is further), and
// says so with Capped. Each query touches only what it needs (docs/console.md, Find
// contracts): a query by date, type or status counts each day from dayCounts and reads
// only the days its page falls in; a party name held by few contracts (at most
// searchCandidatesMax) reads those contracts alone and sorts the ones that match; a
// party criterion whose rarest character is in very many names (searchNamesMax) checks
// the names of the contracts it reads, each once.
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
	m := matcher{typ: -1}
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
	var names []uint32
	if q.Party != "" {
		var ok bool
		if names, m.names, ok = s.matchNames(q.Party); !ok {
			return res, nil
		}
		if names == nil { // too many names to list: check those of the contracts read
			m.needle, m.memo = []byte(q.Party), make([]uint8, s.names())
		}
	}
	if q.NumberPrefix != "" {
		m.prefix(q.NumberPrefix)
	}
	lo, hi := 0, len(s.dayList) // days within [From, To]
	if !q.From.IsZero() {
		lo, _ = slices.BinarySearch(s.dayList, searchDay(q.From))
	}
	if !q.To.IsZero() {
		hi, _ = slices.BinarySearch(s.dayList, searchDay(q.To)+1)
	}
	switch {
	case names != nil && s.hitsOf(names) <= s.candidatesMax:
		s.findAmong(&m, names, lo, hi, q.Offset, limit, &res)
	case q.Party != "" || m.numbers:
		s.scan(&m, lo, hi, q.Offset, limit, max(s.countMax, q.Offset+limit+1), &res)
	default:
		for d := hi - 1; d >= lo; d-- {
			day := s.dayList[d]
			c := m.countOn(s.dayCounts[day])
			if res.Total+c <= q.Offset || len(res.Rows) == limit {
				res.Total += c // no row of the day is on the page: count them at once
				continue
			}
			if c == len(s.buckets[day]) { // every contract of the day matches
				idx := s.buckets[day]
				for k := len(idx) - 1; k >= 0; k-- {
					if res.Total >= q.Offset && len(res.Rows) < limit {
						res.Rows = append(res.Rows, s.hit(idx[k]))
					}
					res.Total++
				}
				continue
			}
			s.scan(&m, d, d+1, q.Offset, limit, 0, &res)
		}
	}
	return res, nil
}

// scan counts the contracts of days lo..hi-1 (indexes in dayList) that m matches, newest
// first, and collects the page offset..offset+limit into res. It stops when the count
// reaches countTo (0: never), and then sets res.Capped. It is the loop a query by number
// or by a widely held name spends its time in: the columns are read from local slices,
// each criterion is one comparison (a bit in the names' bitset for the party), and no
// call is made for a contract that does not match.
func (s *Search) scan(m *matcher, lo, hi, offset, limit, countTo int, res *SearchResult) {
	keys, parties, typs, revoked, names := s.keys, s.parties, s.typs, s.revoked, m.names
	typ, status, wantRevoked, numbers := m.typ, m.status, m.wantRevoked, m.numbers
	for d := hi - 1; d >= lo; d-- {
		if numbers && !m.mayHold(s.dayKeys[s.dayList[d]]) {
			continue // registration numbers start with the year: most days hold none
		}
		idx := s.buckets[s.dayList[d]]
		for k := len(idx) - 1; k >= 0; k-- {
			i := idx[k]
			if typ >= 0 && int(typs[i]) != typ {
				continue
			}
			if status && revoked[i] != wantRevoked {
				continue
			}
			if numbers {
				if key := keys[i]; key == 0 {
					if !strings.HasPrefix(s.others[i], m.other) {
						continue
					}
				} else if r := &m.ranges[key>>56]; key < r[0] || key > r[1] {
					continue
				}
			}
			if names != nil {
				p := &parties[i]
				if (names[p[0]>>6]>>(p[0]&63)|names[p[1]>>6]>>(p[1]&63)|names[p[2]>>6]>>(p[2]&63))&1 == 0 {
					continue
				}
			} else if m.memo != nil && !m.partyOf(s, &parties[i]) {
				continue
			}
			if res.Total >= offset && len(res.Rows) < limit {
				res.Rows = append(res.Rows, s.hit(i))
			}
			res.Total++
			if res.Total == countTo {
				res.Capped = true
				return
			}
		}
	}
}

// hitsOf returns how many contracts hold one of names as a party (a contract holding two
// of them counted twice).
func (s *Search) hitsOf(names []uint32) int {
	n := 0
	for _, id := range names {
		n += len(s.nameHits[id])
	}
	return n
}

// findAmong answers a query from the contracts holding one of names, testing each
// against m and the days lo..hi-1, then sorting the matches newest first.
func (s *Search) findAmong(m *matcher, names []uint32, lo, hi, offset, limit int, res *SearchResult) {
	if lo >= hi {
		return
	}
	from, to := s.dayList[lo], s.dayList[hi-1]
	// Newest first: by day, then by index, both descending; the sign bit of the day is
	// flipped so that days before 1970 sort below.
	var order []uint64
	for _, n := range names {
		for _, i := range s.nameHits[n] {
			if d := s.days[i]; d >= from && d <= to && m.match(s, i) {
				order = append(order, uint64(uint32(d)^1<<31)<<32|uint64(i))
			}
		}
	}
	slices.Sort(order)
	order = slices.Compact(order) // a contract holding two of the names
	res.Total = len(order)
	for k := len(order) - 1 - offset; k >= 0 && len(res.Rows) < limit; k-- {
		res.Rows = append(res.Rows, s.hit(uint32(order[k])))
	}
}

// matcher holds a query's criteria in the form scan tests them.
type matcher struct {
	status      bool // filter by status: revoked must equal wantRevoked
	wantRevoked bool
	typ         int      // type index, or -1
	names       []uint64 // bitset over names matching the party criterion; nil: none
	needle      []byte   // the party criterion when names is not listed (see partyOf)
	memo        []uint8  // per name: 0 not checked yet, 1 does not hold needle, 2 does
	numbers     bool     // filter by registration number
	// ranges[n]: the keys of n-digit ids that start with the prefix (empty: lo > hi).
	ranges [numberKeyDigitsMax + 1][2]uint64
	other  string // the prefix, for ids that are not registration numbers
}

// prefix sets the registration-number criterion. For the ids of each length a digit
// prefix is a range of keys; other ids are compared as strings.
func (m *matcher) prefix(p string) {
	m.numbers, m.other = true, p
	pk := numberKey(p)
	for n := range m.ranges {
		if pk == 0 || n < len(p) {
			m.ranges[n] = [2]uint64{math.MaxUint64, 0}
			continue
		}
		lo := pk&(1<<56-1)*pow10[n-len(p)] | uint64(n)<<56
		m.ranges[n] = [2]uint64{lo, lo + pow10[n-len(p)] - 1}
	}
}

// mayHold reports whether a day whose keys are within r (see dayKeys) may hold a contract
// whose number has m's prefix.
func (m *matcher) mayHold(r [2]uint64) bool {
	if r[0] == 0 {
		return true // an id that is not a number: compared as a string
	}
	for n := r[0] >> 56; n <= r[1]>>56; n++ {
		if lo, hi := m.ranges[n][0], m.ranges[n][1]; lo <= hi && lo <= r[1] && hi >= r[0] {
			return true
		}
	}
	return false
}

// match reports whether contract i meets m's type, status and number criteria (the party
// and the date are the caller's).
func (m *matcher) match(s *Search, i uint32) bool {
	if m.typ >= 0 && int(s.typs[i]) != m.typ || m.status && s.revoked[i] != m.wantRevoked {
		return false
	}
	if !m.numbers {
		return true
	}
	if key := s.keys[i]; key != 0 {
		return key >= m.ranges[key>>56][0] && key <= m.ranges[key>>56][1]
	}
	return strings.HasPrefix(s.others[i], m.other)
}

// partyOf reports whether one of the names p holds m.needle, checking each name once per
// query.
func (m *matcher) partyOf(s *Search, p *[3]uint32) bool {
	for _, n := range p {
		if n == 0 {
			continue
		}
		if m.memo[n] == 0 {
			m.memo[n] = 1
			if bytes.Contains(s.nameBytes(n), m.needle) {
				m.memo[n] = 2
			}
		}
		if m.memo[n] == 2 {
			return true
		}
	}
	return false
}

// countOn returns how many of a day's contracts meet m's type and status criteria, from
// the day's counts (see countAt).
func (m *matcher) countOn(counts []uint32) int {
	n := 0
	for at, c := range counts {
		if (m.typ < 0 || at/2 == m.typ) && (!m.status || (at%2 == 1) == m.wantRevoked) {
			n += int(c)
		}
	}
	return n
}

// matchNames returns the names containing sub, in increasing order, and a bitset over
// names of the same; ok is false if no name can hold sub. It reads the names holding the
// rarest characters of sub (runeNames). If even the rarest is in more than namesMax names,
// or sub is not valid UTF-8, it returns no names and ok: the caller checks names one by
// one (matcher.partyOf).
func (s *Search) matchNames(sub string) (ids []uint32, set []uint64, ok bool) {
	if strings.IndexByte(sub, 0) >= 0 {
		return nil, nil, false
	}
	if !utf8.ValidString(sub) {
		return nil, nil, true
	}
	// A valid UTF-8 string found in a name starts at one of its characters, so every
	// character of sub is in runeNames for that name: the candidates are the names in
	// all their lists, starting from the shortest.
	var lists [][]uint32
	for _, r := range sub {
		l := s.runeNames[uint16(r)]
		if len(l) == 0 {
			return nil, nil, false
		}
		lists = append(lists, l)
	}
	slices.SortFunc(lists, func(a, b []uint32) int { return len(a) - len(b) })
	if len(lists[0]) > s.namesMax {
		return nil, nil, true
	}
	cands := lists[0]
	for _, l := range lists[1:] {
		if len(cands) <= 64 || len(l) > 16*len(cands) {
			break // few enough to check, or the next list costs more than it saves
		}
		cands = intersect(cands, l)
	}
	needle := []byte(sub)
	for _, n := range cands {
		if bytes.Contains(s.nameBytes(n), needle) {
			ids = append(ids, n)
		}
	}
	if ids == nil {
		return nil, nil, false
	}
	set = make([]uint64, (s.names()+63)/64)
	for _, n := range ids {
		set[n>>6] |= 1 << (n & 63)
	}
	return ids, set, true
}

// intersect returns the numbers in both increasing lists, in a new list.
func intersect(a, b []uint32) []uint32 {
	out := make([]uint32, 0, min(len(a), len(b)))
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			a = a[1:]
		case a[0] > b[0]:
			b = b[1:]
		default:
			out = append(out, a[0])
			a, b = a[1:], b[1:]
		}
	}
	return out
}

func (s *Search) hit(i uint32) SearchHit {
	p := s.parties[i]
	h := SearchHit{
		ContractID: s.id(i), Title: string(s.title(i)), Type: s.types[s.typs[i]], RegisteredOn: searchDate(s.days[i]),
		Amount: Fen(s.amounts[i]).String(), Seller: s.name(p[0]), Buyer: s.name(p[1]),
		Intermediary: s.name(p[2]), Status: StatusRegistered,
	}
	if s.revoked[i] {
		h.Status = StatusRevoked
	}
	return h
}
