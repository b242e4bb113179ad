package reports

import (
	"cmp"
	"slices"

	"techledger/internal/refdata"
	"techledger/ledger"
	"techledger/projections"
)

// The indicators of the Shanxi action plan this ledger serves (山西省 2022 年科技成果转移
// 转化行动方案; docs/reports.md names what each table measures): brokered contracts, the
// ownership pilot's universities, county coverage, and results from outside the province
// taken up inside it.

// PilotUniversity is a university of the 赋权 pilot, from the date it joined.
type PilotUniversity struct {
	Name string
	From ledger.Date
}

// PilotUniversities are the Shanxi universities of the pilot that gives researchers
// ownership or a long-term use right of their results (赋予科研人员职务科技成果所有权或长期
// 使用权试点: national plan 国科发区〔2020〕128号, 2020-05-09; Shanxi named these four in 2022).
// The day in 2022 the Shanxi list took effect is not recorded here: it applies from
// 2022-01-01. Sellers are matched by their registered name.
var PilotUniversities = []PilotUniversity{
	{Name: "山西大学", From: ledger.Date{Year: 2022, Month: 1, Day: 1}},
	{Name: "太原理工大学", From: ledger.Date{Year: 2022, Month: 1, Day: 1}},
	{Name: "太原科技大学", From: ledger.Date{Year: 2022, Month: 1, Day: 1}},
	{Name: "山西农业大学", From: ledger.Date{Year: 2022, Month: 1, Day: 1}},
}

// LongTermUseYears is the shortest long-term use right of the pilot (国科发区〔2020〕128号:
// 长期使用权 of no less than 10 years).
const LongTermUseYears = 10

// interAcc accumulates plan_intermediary: a row per intermediary, in order of first sight.
type interAcc struct {
	row  []int32 // by PartyRef: 1 + index in refs and sums; 0: none yet
	refs []projections.PartyRef
	sums []pair
}

// at returns the sums of intermediary p.
func (a *interAcc) at(p projections.PartyRef) *pair {
	a.row = cover(a.row, int(p))
	i := a.row[p]
	if i == 0 {
		a.refs = append(a.refs, p)
		a.sums = append(a.sums, pair{})
		i = int32(len(a.sums))
		a.row[p] = i
	}
	return &a.sums[i-1]
}

// cover returns s grown, with zero values, to hold index i.
func cover[T any](s []T, i int) []T {
	if i < len(s) {
		return s
	}
	return append(s, make([]T, i+1-len(s)+len(s)/2)...)
}

// pilotAcc accumulates plan_pilot_universities.
type pilotAcc struct {
	of        []int8 // by seller PartyRef: 0 not looked up yet, -1 not a pilot, else 1 + index in PilotUniversities
	sums      []pair
	owned     []int64 // contracts with an ownership share assigned to researchers on or after From
	longUse   []int64 // contracts with a use grant of ≥ LongTermUseYears to researchers, effective on or after From
	total     pair
	tOwned    int64
	tLongTerm int64
}

func newPilotAcc() pilotAcc {
	n := len(PilotUniversities)
	return pilotAcc{sums: make([]pair, n), owned: make([]int64, n), longUse: make([]int64, n)}
}

// resolve looks up which sellers of the contracts of periods are pilot universities. A
// seller's name is far apart in memory from the contract: read for each seller as the
// contracts come, every read stalls, while read in one tight loop the reads overlap.
func (pa *pilotAcc) resolve(st *projections.State, periods []Period) {
	var sellers []projections.PartyRef
	for _, per := range periods {
		st.EachContract(per.From, per.To, func(f *projections.Facts) {
			pa.of = cover(pa.of, int(f.Seller))
			if pa.of[f.Seller] == 0 {
				pa.of[f.Seller] = -1
				sellers = append(sellers, f.Seller)
			}
		})
	}
	for _, p := range sellers {
		_, name := st.Party(p)
		if u := slices.IndexFunc(PilotUniversities, func(x PilotUniversity) bool { return x.Name == name }); u >= 0 {
			pa.of[p] = int8(u + 1)
		}
	}
}

// university returns the index in PilotUniversities of seller p, or -1; it reads the
// seller's name once per seller.
func (pa *pilotAcc) university(st *projections.State, p projections.PartyRef) int {
	pa.of = cover(pa.of, int(p))
	switch u := pa.of[p]; {
	case u < 0:
		return -1
	case u > 0:
		return int(u) - 1
	}
	_, name := st.Party(p)
	u := slices.IndexFunc(PilotUniversities, func(x PilotUniversity) bool { return x.Name == name })
	if u < 0 {
		pa.of[p] = -1
	} else {
		pa.of[p] = int8(u + 1)
	}
	return u
}

func (b *builder) addPlan(w int, f *projections.Facts, sellerHome, buyerHome bool) {
	if f.Intermediary != 0 {
		b.inter.at(f.Intermediary)[w].add(f)
	}

	pa := &b.pilot
	if u := pa.university(b.st, f.Seller); u >= 0 {
		pa.sums[u][w].add(f)
		pa.total[w].add(f)
		if w == 0 {
			if rf, ok := b.st.Rights(f.Index); ok {
				from := PilotUniversities[u].From
				if rf.Ownership && rf.ResearchersOwnership.IsPositive() && !rf.OwnershipOn.Before(from) {
					pa.owned[u]++
					pa.tOwned++
				}
				if t := rf.ResearcherUse; t != nil && t.Years(LongTermUseYears) && !t.From.Before(from) {
					pa.longUse[u]++
					pa.tLongTerm++
				}
			}
		}
	}

	sc, bc := b.codes[f.SellerRegion].county, b.codes[f.BuyerRegion].county
	if sc || bc {
		b.anyHome[w].add(f)
	}
	if sc {
		b.counties[f.SellerRegion][w].add(f)
	}
	if bc && f.BuyerRegion != f.SellerRegion {
		b.counties[f.BuyerRegion][w].add(f)
	}

	if g := b.codes[f.SellerKind].group; !sellerHome && buyerHome && (g == groupUniversity || g == groupInstitute) {
		b.outside[f.SellerProvince][w].add(f)
		b.outTotal[w].add(f)
	}
}

// Indexes of the party kind groups universities and research institutes belong to.
var (
	groupUniversity = slices.Index(refdata.PartyKindGroups(), "university")
	groupInstitute  = slices.Index(refdata.PartyKindGroups(), "research_institute")
)

func (b *builder) planTables(p Period) []Table {
	label := func(code string) string {
		if l, ok := refdata.RegionName(code); ok {
			return l
		}
		return code
	}

	inter := Table{ID: TablePlanIntermediary, Title: "技术中介（技术经纪、技术转移机构）促成的合同", Unit: UnitYuan, Note: "按登记的中介方；合计为经中介的合同"}
	type keyed struct {
		key, label string
		p          *pair
	}
	var rows []keyed
	var total pair
	for i, ref := range b.inter.refs {
		id, name := b.st.Party(ref)
		rows = append(rows, keyed{id, name, &b.inter.sums[i]})
	}
	slices.SortFunc(rows, func(a, b keyed) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.label, b.label)) })
	for _, r := range rows {
		inter.Rows = append(inter.Rows, r.p.row(r.key, r.label))
		for w := range 2 {
			total[w].addSums(&r.p[w])
		}
	}
	inter.Total = total.row("total", "合计")

	pa := &b.pilot
	pilot := Table{ID: TablePlanPilot, Title: "赋权改革试点高校", Unit: UnitYuan, Note: "卖方为试点高校的合同；ownership_assigned、long_term_use_assigned 为本期合同中向科研人员赋予所有权、10年以上长期使用权的项数"}
	for i, u := range PilotUniversities {
		if !pa.sums[i].empty() {
			r := pa.sums[i].row(u.Name, u.Name)
			r.Extra = []Extra{{"ownership_assigned", pa.owned[i]}, {"long_term_use_assigned", pa.longUse[i]}}
			pilot.Rows = append(pilot.Rows, r)
		}
	}
	pilot.Total = pa.total.row("total", "合计")
	pilot.Total.Extra = []Extra{{"ownership_assigned", pa.tOwned}, {"long_term_use_assigned", pa.tLongTerm}}

	counties := Table{ID: TablePlanCounties, Title: "县（市、区）覆盖", Unit: UnitYuan, Note: "买方或卖方在该县（市、区）的合同；合计为至少一方在本省县级区划的合同，每项只计一次"}
	if b.home == refdata.HomeProvince {
		byText := map[string]*pair{}
		for code := range b.counties {
			if !b.counties[code].empty() {
				byText[b.codes[code].text] = &b.counties[code]
			}
		}
		for _, c := range refdata.ShanxiRegions() {
			if c[4:] == "00" {
				continue
			}
			pr := byText[c]
			switch {
			case pr != nil && !pr.empty():
				counties.Rows = append(counties.Rows, pr.row(c, label(c)))
				if pr[0].count == 0 {
					counties.Missing = append(counties.Missing, KeyLabel{c, label(c)})
				}
			default:
				counties.Missing = append(counties.Missing, KeyLabel{c, label(c)})
			}
		}
		counties.Total = b.anyHome.row("total", "合计")
	} else {
		counties.Note = "本省县级区划未收录：仅山西省"
		var none pair
		counties.Total = none.row("total", "合计")
	}
	covered := int64(0)
	for _, r := range counties.Rows {
		if r.Count > 0 {
			covered++
		}
	}
	counties.Total.Extra = []Extra{{"counties_covered", covered}, {"counties", covered + int64(len(counties.Missing))}}

	outside := b.codeMapTable(TablePlanOutsideResult, "省外高校、科研院所成果在省内转化", "卖方为省外（含境外）高等院校或科研机构、买方在本省的合同，按卖方所在地区", b.outside, label)
	outside.Total = b.outTotal.row("total", "合计")
	return []Table{inter, pilot, counties, outside}
}

// codeMapTable is a table of the region codes accumulated in by (indexed by code), sorted
// by code.
func (b *builder) codeMapTable(id, title, note string, by []pair, label func(string) string) Table {
	t := Table{ID: id, Title: title, Unit: UnitYuan, Note: note}
	var codes []int
	for c := range by {
		if !by[c].empty() {
			codes = append(codes, c)
		}
	}
	slices.SortFunc(codes, func(x, y int) int { return cmp.Compare(b.codes[x].text, b.codes[y].text) })
	for _, c := range codes {
		t.Rows = append(t.Rows, by[c].row(b.codes[c].text, label(b.codes[c].text)))
	}
	return t
}
