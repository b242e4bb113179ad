package projections

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Report facts. The statistics keep per contract only what a group-by needs; the report
// tables (package reports) also need, per contract, the county-level regions of both
// parties, the IP types, the seller and the intermediary, the use and ownership grants of
// its rights assignments, and, per researcher and per institution, the rewards allocated
// by month. The fold keeps them here, from fields of the registration and rights events
// that the statistics view does not carry: extraView reads them from the record's data
// with a small scanner of its own (valid JSON is all it needs: the record has passed the
// strict decoding of decode.go first).

// extraView is what the report facts read of a record beyond its view. Byte slices point
// into the record's data, or into buf for the rare string with escapes.
type extraView struct {
	sellerID, sellerName []byte
	hasInter             bool
	interID, interName   []byte
	interKind            []byte
	ip                   [ipTypesMax][]byte
	nip                  int

	exclusivity      []byte
	hasTerm          bool
	termFrom, termTo int32 // days since 1970-01-01
	buf              []byte
}

// ipTypesMax bounds the distinct IP type codes (the reference data has seven) and the IP
// types of one contract.
const ipTypesMax = 16

// decodeExtra fills x from the data of a record of kind k (see evOf); only registrations
// and rights assignments carry anything. It returns false if the data does not scan, which
// cannot happen for data that passed decodeData.
func decodeExtra(k uint8, data []byte, x *extraView) bool {
	buf := x.buf[:0]
	*x = extraView{buf: buf}
	p := xscan{b: data, x: x}
	switch k {
	case evRegistered:
		return p.object(func(key []byte) bool {
			switch string(key) {
			case "seller":
				return p.object(func(key []byte) bool {
					switch string(key) {
					case "id":
						return p.text(&x.sellerID)
					case "name":
						return p.text(&x.sellerName)
					}
					return p.skip()
				})
			case "intermediary":
				if p.null() {
					return true
				}
				x.hasInter = true
				return p.object(func(key []byte) bool {
					switch string(key) {
					case "id":
						return p.text(&x.interID)
					case "name":
						return p.text(&x.interName)
					case "kind":
						return p.text(&x.interKind)
					}
					return p.skip()
				})
			case "ip_types":
				return p.null() || p.array(func() bool {
					if x.nip == ipTypesMax {
						return false
					}
					x.nip++
					return p.text(&x.ip[x.nip-1])
				})
			}
			return p.skip()
		})
	case evRights:
		return p.object(func(key []byte) bool {
			switch string(key) {
			case "exclusivity":
				return p.text(&x.exclusivity)
			case "term":
				if p.null() {
					return true
				}
				x.hasTerm = true
				return p.object(func(key []byte) bool {
					switch string(key) {
					case "from":
						return p.day(&x.termFrom)
					case "to":
						return p.day(&x.termTo)
					}
					return p.skip()
				})
			}
			return p.skip()
		})
	}
	return true
}

// xscan walks valid JSON.
type xscan struct {
	b []byte
	i int
	x *extraView
}

func (p *xscan) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *xscan) eat(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *xscan) null() bool {
	p.ws()
	if bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		p.i += 4
		return true
	}
	return false
}

// raw scans a string and returns its bytes between the quotes, and whether it has escapes.
func (p *xscan) raw() (s []byte, esc, ok bool) {
	if !p.eat('"') {
		return nil, false, false
	}
	start := p.i
	for j := start; j < len(p.b); j++ {
		switch p.b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			p.i = j + 1
			return p.b[start:j], esc, true
		}
	}
	return nil, false, false
}

// text scans a string into *dst, unescaped.
func (p *xscan) text(dst *[]byte) bool {
	start := p.i
	s, esc, ok := p.raw()
	if !ok {
		return false
	}
	if !esc {
		*dst = s
		return true
	}
	var u string
	if json.Unmarshal(p.b[start:p.i], &u) != nil {
		return false
	}
	at := len(p.x.buf)
	p.x.buf = append(p.x.buf, u...)
	*dst = p.x.buf[at:len(p.x.buf):len(p.x.buf)]
	return true
}

// day scans a "YYYY-MM-DD" string into a day number.
func (p *xscan) day(dst *int32) bool {
	s, esc, ok := p.raw()
	if !ok || esc || len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	n := func(b []byte) int {
		v := 0
		for _, c := range b {
			v = v*10 + int(c-'0')
		}
		return v
	}
	*dst = int32(time.Date(n(s[:4]), time.Month(n(s[5:7])), n(s[8:]), 0, 0, 0, 0, time.UTC).Unix() / 86400)
	return true
}

func (p *xscan) object(field func(key []byte) bool) bool {
	if !p.eat('{') {
		return false
	}
	if p.eat('}') {
		return true
	}
	for {
		key, _, ok := p.raw()
		if !ok || !p.eat(':') || !field(key) {
			return false
		}
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
}

func (p *xscan) array(elem func() bool) bool {
	if !p.eat('[') {
		return false
	}
	if p.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if p.eat(',') {
			continue
		}
		return p.eat(']')
	}
}

// skip scans any value.
func (p *xscan) skip() bool {
	p.ws()
	if p.i >= len(p.b) {
		return false
	}
	switch p.b[p.i] {
	case '"':
		_, _, ok := p.raw()
		return ok
	case '{':
		return p.object(func([]byte) bool { return p.skip() })
	case '[':
		return p.array(p.skip)
	}
	start := p.i
	for p.i < len(p.b) && !bytes.ContainsRune([]byte(",}] \t\r\n"), rune(p.b[p.i])) {
		p.i++
	}
	return p.i > start
}

// facts is what the report facts keep per contract, parallel to State.contracts.
type facts struct {
	sellerRegion, buyerRegion uint16 // codes of the full 6-digit regions
	ip                        uint16 // bit i: IP type code i of reportData.ipCodes
	interKind                 uint16 // code; meaningful when inter != 0
	seller                    uint32 // index in reportData.parties
	inter                     uint32 // index in reportData.parties + 1; 0: none
}

// rightsFacts are the grants of a contract's rights assignments that reports look at.
type rightsFacts struct {
	ownership      int32 // researchers' total share of the latest ownership assignment, 1/10000; -1: none
	ownershipOn    int32 // its effective_on
	use            grant // the longest use grant
	exclusiveUse   grant // the longest exclusive use grant
	researcherUse  grant // the longest use grant with a researcher among its holders
	researcherUseN int32 // number of use grants with a researcher among their holders
}

// grant is a use grant's term (from == 0 && to == 0: none).
type grant struct{ from, to int32 }

func (g grant) longer(h grant) bool { return g.to-g.from > h.to-h.from }

// rewardCell sums allocations to researchers.
type rewardCell struct {
	amount   Money
	payments int64
}

type researcherMonth struct{ r, month int32 }

type institutionMonth struct {
	institution uint32 // in State.people
	month       int32
}

// rewardPayment is a payment with at least one allocation to a researcher.
type rewardPayment struct {
	pos      uint64
	contract uint32
	day      int32
	fen      int64 // allocated to researchers
}

// reportData is the report facts of a State.
type reportData struct {
	facts    []facts
	parties  interner // "id\x00name" of sellers and intermediaries
	ipCodes  interner
	rights   map[uint32]rightsFacts         // by contract index; contracts with ownership or use grants
	rMonths  map[researcherMonth]rewardCell // by researcher (State.rs) and month of paid_on
	iMonths  map[institutionMonth]rewardCell
	payments []rewardPayment
}

func (s *State) partyOf(id, name []byte) uint32 {
	k := append(append(append(s.keyBuf[:0], id...), 0), name...)
	s.keyBuf = k
	return s.rd.parties.id32(k)
}

// registerFacts records the report facts of contract i, just registered.
func (s *State) registerFacts(i uint32, v *view, x *extraView) error {
	if int(i) != len(s.rd.facts) {
		panic("projections: report facts out of step with the contracts")
	}
	f := facts{sellerRegion: s.codes.id(v.sellerReg), buyerRegion: s.codes.id(v.buyerReg), seller: s.partyOf(x.sellerID, x.sellerName)}
	if x.hasInter {
		f.inter = s.partyOf(x.interID, x.interName) + 1
		f.interKind = s.codes.id(x.interKind)
	}
	for _, t := range x.ip[:x.nip] {
		c := s.rd.ipCodes.id32(t)
		if c >= ipTypesMax {
			return fmt.Errorf("%w: more than %d distinct IP types", ErrFold, ipTypesMax)
		}
		f.ip |= 1 << c
	}
	s.rd.facts = append(s.rd.facts, f)
	return nil
}

// rightsFactsOf records the ownership and use grants of a rights assignment to contract i.
func (s *State) rightsFactsOf(i uint32, v *view, x *extraView) {
	var researchers int64
	hasResearcher := false
	for _, h := range v.holders {
		if string(h.kind) == KindResearcher {
			researchers += h.share
			hasResearcher = true
		}
	}
	switch string(v.right) {
	case "ownership":
	case "use":
		if !x.hasTerm {
			return
		}
	default:
		return
	}
	if s.rd.rights == nil {
		s.rd.rights = map[uint32]rightsFacts{}
	}
	rf, ok := s.rd.rights[i]
	if !ok {
		rf.ownership = -1
	}
	if string(v.right) == "ownership" {
		rf.ownership, rf.ownershipOn = int32(researchers), v.effectiveOn
	} else {
		g := grant{x.termFrom, x.termTo}
		if g.longer(rf.use) || rf.use == (grant{}) {
			rf.use = g
		}
		if string(x.exclusivity) == "exclusive" && (g.longer(rf.exclusiveUse) || rf.exclusiveUse == (grant{})) {
			rf.exclusiveUse = g
		}
		if hasResearcher {
			rf.researcherUseN++
			if g.longer(rf.researcherUse) || rf.researcherUse == (grant{}) {
				rf.researcherUse = g
			}
		}
	}
	s.rd.rights[i] = rf
}

// rewardFacts records the allocations of a payment to researchers: r[j] is the researcher
// of the j-th researcher allocation.
func (s *State) rewardFact(pos uint64, contract uint32, day int32, r int32, fen int64, first bool) {
	mn := monthOf(day)
	if s.rd.rMonths == nil {
		s.rd.rMonths, s.rd.iMonths = map[researcherMonth]rewardCell{}, map[institutionMonth]rewardCell{}
	}
	rk := researcherMonth{r, mn}
	rc := s.rd.rMonths[rk]
	rc.amount.add(fen)
	rc.payments++
	s.rd.rMonths[rk] = rc
	ik := institutionMonth{s.rs[r].institution, mn}
	ic := s.rd.iMonths[ik]
	ic.amount.add(fen)
	s.rd.iMonths[ik] = ic
	if first {
		s.rd.payments = append(s.rd.payments, rewardPayment{pos: pos, contract: contract, day: day})
	}
	s.rd.payments[len(s.rd.payments)-1].fen += fen
}

// countRewardPayment counts, once per institution, a payment whose researcher allocations
// went to the researchers rs.
func (s *State) countRewardPayment(day int32, rs []int32) {
	mn := monthOf(day)
	for j, r := range rs {
		inst := s.rs[r].institution
		if slices.ContainsFunc(rs[:j], func(q int32) bool { return s.rs[q].institution == inst }) {
			continue
		}
		ik := institutionMonth{inst, mn}
		ic := s.rd.iMonths[ik]
		ic.payments++
		s.rd.iMonths[ik] = ic
	}
}

// writeFacts writes the report facts to a snapshot.
func (s *State) writeFacts(w *snapWriter) {
	strs := func(t *interner) {
		w.u32(uint32(len(t.strs)))
		for _, x := range t.strs {
			w.str(x)
		}
	}
	strs(&s.rd.parties)
	strs(&s.rd.ipCodes)
	w.u32(uint32(len(s.rd.facts)))
	for _, f := range s.rd.facts {
		w.u16(f.sellerRegion)
		w.u16(f.buyerRegion)
		w.u16(f.ip)
		w.u16(f.interKind)
		w.u32(f.seller)
		w.u32(f.inter)
	}
	g := func(g grant) { w.u32(uint32(g.from)); w.u32(uint32(g.to)) }
	keys := slices.Sorted(maps.Keys(s.rd.rights))
	w.u32(uint32(len(keys)))
	for _, k := range keys {
		rf := s.rd.rights[k]
		w.u32(k)
		w.u32(uint32(rf.ownership))
		w.u32(uint32(rf.ownershipOn))
		g(rf.use)
		g(rf.exclusiveUse)
		g(rf.researcherUse)
		w.u32(uint32(rf.researcherUseN))
	}
	cell := func(c rewardCell) { w.money(c.amount); w.u64(uint64(c.payments)) }
	rks := slices.SortedFunc(maps.Keys(s.rd.rMonths), func(a, b researcherMonth) int {
		return cmp.Or(cmp.Compare(a.r, b.r), cmp.Compare(a.month, b.month))
	})
	w.u32(uint32(len(rks)))
	for _, k := range rks {
		w.u32(uint32(k.r))
		w.u32(uint32(k.month))
		cell(s.rd.rMonths[k])
	}
	iks := slices.SortedFunc(maps.Keys(s.rd.iMonths), func(a, b institutionMonth) int {
		return cmp.Or(cmp.Compare(a.institution, b.institution), cmp.Compare(a.month, b.month))
	})
	w.u32(uint32(len(iks)))
	for _, k := range iks {
		w.u32(k.institution)
		w.u32(uint32(k.month))
		cell(s.rd.iMonths[k])
	}
	w.u32(uint32(len(s.rd.payments)))
	for _, p := range s.rd.payments {
		w.u64(p.pos)
		w.u32(p.contract)
		w.u32(uint32(p.day))
		w.u64(uint64(p.fen))
	}
}

// readFacts reads what writeFacts wrote, checking every reference.
func (s *State) readFacts(r *snapReader) error {
	strs := func(t *interner) {
		n := r.count(4)
		for range n {
			if r.err != nil {
				return
			}
			t.id32([]byte(r.str()))
		}
	}
	strs(&s.rd.parties)
	strs(&s.rd.ipCodes)
	if len(s.rd.ipCodes.strs) > ipTypesMax {
		return fmt.Errorf("%w: %d IP types", ErrSnapshotCorrupt, len(s.rd.ipCodes.strs))
	}
	n := r.count(16)
	if r.err == nil && n != len(s.contracts) {
		return fmt.Errorf("%w: report facts of %d contracts, %d contracts", ErrSnapshotCorrupt, n, len(s.contracts))
	}
	if n > 0 {
		s.rd.facts = make([]facts, n)
	}
	nc, np := uint16(len(s.codes.strs)), uint32(len(s.rd.parties.strs))
	for i := 0; i < n && r.err == nil; i++ {
		f := facts{sellerRegion: r.u16(), buyerRegion: r.u16(), ip: r.u16(), interKind: r.u16(), seller: r.u32(), inter: r.u32()}
		if r.err == nil && (f.sellerRegion >= nc || f.buyerRegion >= nc || f.interKind >= nc || f.seller >= np || f.inter > np) {
			return fmt.Errorf("%w: report facts of contract %d: bad reference", ErrSnapshotCorrupt, i)
		}
		s.rd.facts[i] = f
	}
	g := func() grant { return grant{int32(r.u32()), int32(r.u32())} }
	for n = r.count(48); n > 0 && r.err == nil; n-- {
		k := r.u32()
		rf := rightsFacts{ownership: int32(r.u32()), ownershipOn: int32(r.u32()), use: g(), exclusiveUse: g(), researcherUse: g(), researcherUseN: int32(r.u32())}
		if r.err == nil && int(k) >= len(s.contracts) {
			return fmt.Errorf("%w: rights of contract %d", ErrSnapshotCorrupt, k)
		}
		if s.rd.rights == nil {
			s.rd.rights = map[uint32]rightsFacts{}
		}
		s.rd.rights[k] = rf
	}
	cell := func() rewardCell { return rewardCell{amount: r.money(), payments: int64(r.u64())} }
	for n = r.count(32); n > 0 && r.err == nil; n-- {
		k := researcherMonth{int32(r.u32()), int32(r.u32())}
		c := cell()
		if r.err == nil && (k.r < 0 || int(k.r) >= len(s.rs)) {
			return fmt.Errorf("%w: rewards of researcher %d", ErrSnapshotCorrupt, k.r)
		}
		if s.rd.rMonths == nil {
			s.rd.rMonths, s.rd.iMonths = map[researcherMonth]rewardCell{}, map[institutionMonth]rewardCell{}
		}
		s.rd.rMonths[k] = c
	}
	for n = r.count(32); n > 0 && r.err == nil; n-- {
		k := institutionMonth{r.u32(), int32(r.u32())}
		c := cell()
		if r.err == nil && k.institution >= uint32(len(s.people.strs)) {
			return fmt.Errorf("%w: rewards of institution %d", ErrSnapshotCorrupt, k.institution)
		}
		if s.rd.iMonths == nil {
			s.rd.rMonths, s.rd.iMonths = map[researcherMonth]rewardCell{}, map[institutionMonth]rewardCell{}
		}
		s.rd.iMonths[k] = c
	}
	n = r.count(24)
	if n > 0 {
		s.rd.payments = make([]rewardPayment, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		p := rewardPayment{pos: r.u64(), contract: r.u32(), day: int32(r.u32()), fen: int64(r.u64())}
		if r.err == nil && int(p.contract) >= len(s.contracts) {
			return fmt.Errorf("%w: reward payment of contract %d", ErrSnapshotCorrupt, p.contract)
		}
		s.rd.payments[i] = p
	}
	return r.err
}
