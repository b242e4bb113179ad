package projections

import (
	"cmp"
	"math/big"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"techledger/ledger"
)

// What package reports reads of a State: the contracts counted by Stats, one by one with
// their report facts (facts.go), and the reward tallies by institution and month. Like
// every method of State, none of these is safe for concurrent use with Apply: call them
// inside Runner.Read.

// Code is an interned code of a State: a contract type, subtype, field, party kind or
// region code. Code(c) gives its text.
type Code uint16

// Code returns the text of c.
func (s *State) Code(c Code) string { return s.codes.str(uint32(c)) }

// CodeCount returns the number of codes interned: every Code is below it.
func (s *State) CodeCount() int { return len(s.codes.strs) }

// PartyRef identifies a seller or an intermediary by its id and name as registered.
type PartyRef uint32

// Party returns the id and name of p (p > 0).
func (s *State) Party(p PartyRef) (id, name string) {
	k := s.rd.parties.str(uint32(p) - 1)
	for i := 0; i < len(k); i++ {
		if k[i] == 0 {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

// IPTypes returns the IP type codes seen so far; bit i of Facts.IPTypes stands for the
// i-th.
func (s *State) IPTypes() []string { return slices.Clone(s.rd.ipCodes.strs) }

// Facts is a contract as the report tables read it, with its amendments applied.
type Facts struct {
	Index              uint32 // the contract's index in the State (ContractID, Rights)
	Day                int32  // registered_on, days since 1970-01-01 (DateOf)
	Amount, TechAmount int64  // fen
	Type, Subtype      Code
	Field              Code
	SellerKind         Code
	BuyerKind          Code
	// Regions: the province (xx0000), the city (xxxx00) and the region as registered.
	SellerProvince, SellerCity, SellerRegion Code
	BuyerProvince, BuyerCity, BuyerRegion    Code
	Flow                                     string // within, outflow, inflow or external
	IPTypes                                  uint16 // bit i: IPTypes()[i]; 0: none involved
	Seller                                   PartyRef
	Intermediary                             PartyRef // 0: none
	IntermediaryKind                         Code     // when Intermediary != 0
}

// EachContract calls fn with the facts of every contract registered from from to to
// (both included; a zero date leaves that end open) and not revoked: the contracts Stats
// counts. The order is by month of registered_on, then log order; fn must not keep f.
func (s *State) EachContract(from, to ledger.Date, fn func(f *Facts)) {
	lo, hi := int32(-1<<31), int32(1<<31-1)
	if !from.IsZero() {
		lo = daysOf(from)
	}
	if !to.IsZero() {
		hi = daysOf(to)
	}
	var f Facts
	for _, mn := range s.monthList {
		first, last := monthBounds(mn)
		if last < lo || first > hi {
			continue
		}
		for _, i := range s.months[mn] {
			c := &s.contracts[i]
			if c.revoked || c.day < lo || c.day > hi {
				continue
			}
			s.factsOf(i, &f)
			fn(&f)
		}
	}
}

// ContractFacts returns the facts of the contract at index i, revoked or not.
func (s *State) ContractFacts(i uint32) (f Facts, revoked bool) {
	s.factsOf(i, &f)
	return f, s.contracts[i].revoked
}

func (s *State) factsOf(i uint32, f *Facts) {
	c, x := &s.contracts[i], &s.rd.facts[i]
	*f = Facts{
		Index: i, Day: c.day, Amount: c.amount, TechAmount: c.tech,
		Type: Code(c.codes[baseType]), Subtype: Code(c.codes[baseSubtype]), Field: Code(c.codes[baseField]),
		SellerKind: Code(c.codes[baseSellerKind]), BuyerKind: Code(c.codes[baseBuyerKind]),
		SellerProvince: Code(c.codes[baseSellerProvince]), SellerCity: Code(c.codes[baseSellerCity]), SellerRegion: Code(x.sellerRegion),
		BuyerProvince: Code(c.codes[baseBuyerProvince]), BuyerCity: Code(c.codes[baseBuyerCity]), BuyerRegion: Code(x.buyerRegion),
		Flow: flows[c.codes[baseFlow]], IPTypes: x.ip, Seller: PartyRef(x.seller + 1),
		Intermediary: PartyRef(x.inter), IntermediaryKind: Code(x.interKind),
	}
}

// ContractID returns the registration number of the contract at index i.
func (s *State) ContractID(i uint32) string { return s.contractID(s.contracts[i].key) }

// Term is a use grant's term, both ends included.
type Term struct {
	From, To ledger.Date
}

// Years reports whether the term lasts at least n whole years (to ≥ from + n years − 1 day).
func (t Term) Years(n int) bool {
	from := time.Date(t.From.Year, t.From.Month, t.From.Day, 0, 0, 0, 0, time.UTC)
	to := time.Date(t.To.Year, t.To.Month, t.To.Day, 0, 0, 0, 0, time.UTC)
	return !to.Before(from.AddDate(n, 0, -1))
}

// RightsFacts are a contract's ownership and use grants, as the report tables read them.
type RightsFacts struct {
	Ownership            bool            // an ownership assignment was recorded
	ResearchersOwnership decimal.Decimal // researchers' total share in the latest one
	OwnershipOn          ledger.Date     // its effective_on
	Use                  *Term           // the longest use grant (nil: none)
	ExclusiveUse         *Term           // the longest exclusive use grant
	ResearcherUse        *Term           // the longest use grant with a researcher among its holders
	ResearcherUseGrants  int             // use grants with a researcher among their holders
}

// Rights returns the rights facts of the contract at index i (false: no ownership or use
// assignment recorded).
func (s *State) Rights(i uint32) (RightsFacts, bool) {
	rf, ok := s.rd.rights[i]
	if !ok {
		return RightsFacts{}, false
	}
	term := func(g grant) *Term {
		if g == (grant{}) {
			return nil
		}
		return &Term{From: DateOf(g.from), To: DateOf(g.to)}
	}
	out := RightsFacts{
		Ownership: rf.ownership >= 0, Use: term(rf.use), ExclusiveUse: term(rf.exclusiveUse),
		ResearcherUse: term(rf.researcherUse), ResearcherUseGrants: int(rf.researcherUseN),
	}
	if out.Ownership {
		out.ResearchersOwnership = decimal.New(int64(rf.ownership), -4)
		out.OwnershipOn = DateOf(rf.ownershipOn)
	}
	return out, true
}

// InstitutionRewards are the allocations to an institution's researchers in a period.
type InstitutionRewards struct {
	Institution string
	Amount      Money
	Researchers int64 // researchers with at least one allocation
	Payments    int64 // payments with at least one allocation to its researchers
}

// RewardsByInstitution returns the researcher allocations of the payments paid from from
// to to, by institution, sorted by institution. The tallies are kept by month, so the
// period must be whole months: from the first day of a month to the last day of a month;
// otherwise it returns a *QueryError.
func (s *State) RewardsByInstitution(from, to ledger.Date) ([]InstitutionRewards, error) {
	if from.Day != 1 || to.Day != monthDays(to.Year, int(to.Month)) {
		return nil, &QueryError{Field: "from", Rule: "rewards are tallied by month: a period from the first day of a month to the last day of a month"}
	}
	lo, hi := monthOf(daysOf(from)), monthOf(daysOf(to))
	by := map[uint32]*InstitutionRewards{}
	at := func(inst uint32) *InstitutionRewards {
		r := by[inst]
		if r == nil {
			r = &InstitutionRewards{Institution: s.people.str(inst)}
			by[inst] = r
		}
		return r
	}
	for k, c := range s.rd.iMonths {
		if lo <= k.month && k.month <= hi {
			r := at(k.institution)
			r.Amount.addMoney(c.amount)
			r.Payments += c.payments
		}
	}
	seen := map[int32]bool{}
	for k := range s.rd.rMonths {
		if lo <= k.month && k.month <= hi && !seen[k.r] {
			seen[k.r] = true
			at(s.rs[k.r].institution).Researchers++
		}
	}
	out := make([]InstitutionRewards, 0, len(by))
	for _, r := range by {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b InstitutionRewards) int { return cmp.Compare(a.Institution, b.Institution) })
	return out, nil
}

// RewardPayment is a payment with at least one allocation to a researcher.
type RewardPayment struct {
	Position    ledger.Position
	Index       uint32 // the contract's index (ContractID)
	PaidOn      ledger.Date
	Researchers Money // allocated to researchers
}

// EachRewardPayment calls fn for every payment paid from from to to (both included) with
// at least one allocation to a researcher, in log order.
func (s *State) EachRewardPayment(from, to ledger.Date, fn func(RewardPayment)) {
	lo, hi := daysOf(from), daysOf(to)
	for _, p := range s.rd.payments {
		if lo <= p.day && p.day <= hi {
			fn(RewardPayment{Position: ledger.Position(p.pos), Index: p.contract, PaidOn: DateOf(p.day), Researchers: Fen(p.fen)})
		}
	}
}

// DateOf returns the date of a day number (days since 1970-01-01).
func DateOf(day int32) ledger.Date {
	y, m, d := civilOf(day)
	return ledger.Date{Year: y, Month: time.Month(m), Day: d}
}

// DayOf returns the day number of a date.
func DayOf(d ledger.Date) int32 { return daysOf(d) }

// Add adds f fen to m, exactly.
func (m *Money) Add(f int64) { m.add(f) }

// AddMoney adds n to m, exactly.
func (m *Money) AddMoney(n Money) { m.addMoney(n) }

// Fen returns m in fen.
func (m Money) Fen() *big.Int { return m.big() }

// HomeProvince returns the 2-digit prefix of the home province the flows are relative to.
func (s *State) HomeProvince() string { return s.home }
