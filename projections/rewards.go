package projections

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"techledger/ledger"
)

// Researcher rewards (docs/domain.md, Researcher reward tallies). Each PaymentRecorded event fixes,
// when it is recorded, how the payment's net income is allocated to the proceeds beneficiaries in
// force (package commands computes it, exact to the fen). The tallies sum those allocations; they
// never re-allocate, so a later assignment or a revocation changes nothing already allocated.
//
// A tally is kept per researcher and institution: a researcher who moved is listed once
// per institution, with what they earned as its member.

// KindResearcher is the holder kind of researchers among proceeds beneficiaries.
const KindResearcher = "researcher"

// researcher is a researcher at an institution, with their tallies.
type researcher struct {
	id, institution, name uint32 // in State.people
	all                   tally
	years                 []yearTally // by year of paid_on, in the order first seen
}

type yearTally struct {
	year int16
	tally
}

type tally struct {
	amount              Money
	payments, contracts int64
}

// seenKey says which researcher and contract a State.seen entry is about. Its value has
// bit y-seenYear0 set when the researcher had an allocation under the contract in year y
// (years outside the 64 the mask covers are kept in State.seenOther).
type seenKey struct {
	r        int32
	contract uint32
}

type seenOtherKey struct {
	r        int32
	contract uint32
	year     int16
}

const seenYear0 = 1990

func (s *State) reward(contract uint32, v *view, pos ledger.Position) {
	var year int16
	var buf [8]int32
	rs := buf[:0] // the researchers allocated to, for the report facts
	for i := range v.allocs {
		a := &v.allocs[i]
		if string(a.kind) != KindResearcher {
			continue
		}
		if year == 0 {
			y, _, _ := civilOf(v.paidOn)
			year = int16(y)
		}
		r := s.researcher(a)
		s.tally(r, year, contract, a.amount)
		s.rewardFact(uint64(pos), contract, v.paidOn, r, a.amount, len(rs) == 0)
		rs = append(rs, r)
	}
	if len(rs) > 0 {
		s.countRewardPayment(v.paidOn, rs)
	}
}

func (s *State) researcher(a *allocView) int32 {
	s.keyBuf = researcherKeyOf(s.keyBuf[:0], a.id, a.institution)
	r, ok := s.researchers[string(s.keyBuf)]
	if !ok {
		r = int32(len(s.rs))
		s.researchers[string(s.keyBuf)] = r
		s.rs = append(s.rs, researcher{id: s.people.id32(a.id), institution: s.people.id32(a.institution), name: s.people.id32(a.name)})
	}
	if rs := &s.rs[r]; s.people.str(rs.name) != string(a.name) {
		rs.name = s.people.id32(a.name) // the latest name recorded
	}
	return r
}

// researcherKeyOf appends the key of the researchers map: id's length, id, institution.
func researcherKeyOf(b, id, institution []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	return append(b, institution...)
}

// tally adds an allocation of fen to researcher r under contract in year.
func (s *State) tally(r int32, year int16, contract uint32, fen int64) {
	rs := &s.rs[r]
	yi := slices.IndexFunc(rs.years, func(y yearTally) bool { return y.year == year })
	if yi < 0 {
		yi = len(rs.years)
		rs.years = append(rs.years, yearTally{year: year})
	}
	yt := &rs.years[yi].tally
	rs.all.amount.add(fen)
	rs.all.payments++
	yt.amount.add(fen)
	yt.payments++

	k := seenKey{r, contract}
	mask, seen := s.seen[k]
	if !seen {
		rs.all.contracts++
	}
	if b := int(year) - seenYear0; b >= 0 && b < 64 {
		if mask&(1<<b) == 0 {
			yt.contracts++
		}
		mask |= 1 << b
	} else if _, ok := s.seenOther[seenOtherKey{r, contract, year}]; !ok {
		s.seenOther[seenOtherKey{r, contract, year}] = struct{}{}
		yt.contracts++
	}
	if !seen || mask != s.seen[k] {
		s.seen[k] = mask
	}
}

// RewardsQuery selects researcher tallies.
type RewardsQuery struct {
	Year        int    // of paid_on; 0: every year
	Institution string // exact; "": every institution
}

// RewardRow is one researcher's tally (docs/domain.md, Researcher reward tallies).
type RewardRow struct {
	ResearcherID string `json:"researcher_id"`
	Name         string `json:"name"` // as last recorded up to the as-of point, whatever the year filter
	Institution  string `json:"institution"`
	Amount       Money  `json:"amount"`
	Contracts    int64  `json:"contracts"` // contracts with at least one payment allocating to them
	Payments     int64  `json:"payments"`  // payments allocating to them
}

// RewardsReport is the result of a rewards query, sorted by researcher ID, then
// institution.
type RewardsReport struct {
	AsOf ledger.Position `json:"as_of"`
	Rows []RewardRow     `json:"rows"`
}

// Rewards returns the researcher tallies the query selects.
func (s *State) Rewards(q RewardsQuery) (RewardsReport, error) {
	if q.Year != 0 && (q.Year < 1900 || q.Year > 9999) {
		return RewardsReport{}, &QueryError{Field: "year", Rule: "a year from 1900 to 9999"}
	}
	rows := []RewardRow{}
	for _, rs := range s.rs {
		inst := s.people.str(rs.institution)
		if q.Institution != "" && inst != q.Institution {
			continue
		}
		t := rs.all
		if q.Year != 0 {
			yi := slices.IndexFunc(rs.years, func(y yearTally) bool { return int(y.year) == q.Year })
			if yi < 0 {
				continue
			}
			t = rs.years[yi].tally
		}
		rows = append(rows, RewardRow{
			ResearcherID: s.people.str(rs.id), Name: s.people.str(rs.name), Institution: inst,
			Amount: t.amount, Contracts: t.contracts, Payments: t.payments,
		})
	}
	slices.SortFunc(rows, func(a, b RewardRow) int {
		return cmp.Or(cmp.Compare(a.ResearcherID, b.ResearcherID), cmp.Compare(a.Institution, b.Institution))
	})
	return RewardsReport{AsOf: s.pos, Rows: rows}, nil
}

// RewardRule is a dated minimum for the researchers' share of a result's net transfer or
// licence income.
type RewardRule struct {
	Name     string          `json:"name"`      // citation
	Level    string          `json:"level"`     // RuleStatutory or RuleProvincial
	From     ledger.Date     `json:"from"`      // in force for assignments effective on or after this date
	MinShare decimal.Decimal `json:"min_share"` // researchers' total share below this is flagged
}

// Rule levels.
const (
	RuleStatutory  = "statutory"  // the national law's floor
	RuleProvincial = "provincial" // the Shanxi policy level
)

// RewardRules are the rule versions reports check proceeds assignments against; for each
// level the latest version in force on the assignment's effective_on applies. They apply
// to transfer and licence contracts (equity, 技术入股, is a transfer subtype), the cases
// 促进科技成果转化法 art. 45 sets a minimum for; development, consulting and service income
// is not flagged.
var RewardRules = []RewardRule{
	// 促进科技成果转化法 (1996) art. 29: at least 20 % of the net income of a transfer.
	{Name: "促进科技成果转化法(1996) 第二十九条", Level: RuleStatutory, From: ledger.Date{Year: 1996, Month: 10, Day: 1}, MinShare: decimal.RequireFromString("0.2")},
	// 促进科技成果转化法 (2015 revision, in force 2015-10-01) art. 45: at least 50 %.
	{Name: "促进科技成果转化法(2015) 第四十五条", Level: RuleStatutory, From: ledger.Date{Year: 2015, Month: 10, Day: 1}, MinShare: decimal.RequireFromString("0.5")},
	// 晋政发〔2017〕31号 raises it to at least 70 % in Shanxi. The day it took effect is not
	// recorded here: it is applied from the start of 2017.
	{Name: "晋政发〔2017〕31号", Level: RuleProvincial, From: ledger.Date{Year: 2017, Month: 1, Day: 1}, MinShare: decimal.RequireFromString("0.7")},
}

// Flag is a proceeds assignment whose researchers' total share is below a rule's minimum.
type Flag struct {
	ContractID       string          `json:"contract_id"`
	Position         ledger.Position `json:"position"`
	EffectiveOn      ledger.Date     `json:"effective_on"`
	ResearchersShare decimal.Decimal `json:"researchers_share"`
	Rule             string          `json:"rule"`  // RewardRule.Name
	Level            string          `json:"level"` // RuleStatutory or RuleProvincial
	MinShare         decimal.Decimal `json:"min_share"`
}

// FlaggedTypes are the contract types RewardRules apply to.
var FlaggedTypes = []string{"transfer", "license"}

func (s *State) flag(pos ledger.Position, contract uint32, v *view) {
	c := &s.contracts[contract]
	var units int64
	for _, h := range v.holders {
		if string(h.kind) == KindResearcher {
			units += h.share
		}
	}
	typ := s.codes.str(uint32(c.codes[baseType]))
	if !slices.Contains(FlaggedTypes, typ) {
		return // ruleFlags gives none: spare it the contract ID and the decimal
	}
	y, m, d := civilOf(v.effectiveOn)
	eff := ledger.Date{Year: y, Month: time.Month(m), Day: d}
	s.flags = append(s.flags, ruleFlags(s.contractID(c.key), typ, pos, eff, decimal.New(units, -4))...)
}

// RulesInForce returns, for each level, the latest rule version in force on day (levels
// with no version yet in force are left out).
func RulesInForce(day ledger.Date) []RewardRule {
	var out []RewardRule
	for _, level := range []string{RuleStatutory, RuleProvincial} {
		var in *RewardRule
		for i := range RewardRules {
			r := &RewardRules[i]
			if r.Level == level && !day.Before(r.From) && (in == nil || r.From.After(in.From)) {
				in = r
			}
		}
		if in != nil {
			out = append(out, *in)
		}
	}
	return out
}

// Flags returns the flagged proceeds assignments in log order.
func (s *State) Flags() []Flag { return append([]Flag{}, s.flags...) }

// QueryError is a query the projections refuse; it names the parameter and the rule.
type QueryError struct {
	Field string
	Rule  string
}

func (e *QueryError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Rule) }
