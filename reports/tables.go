package reports

import (
	"math/bits"
	"slices"
	"strings"

	"techledger/internal/refdata"
	"techledger/projections"
)

// Table ids, in the order of the document.
const (
	TableByType            = "by_type"
	TableBySubtype         = "by_subtype"
	TableByField           = "by_field"
	TableBySellerKind      = "by_seller_kind"
	TableByBuyerKind       = "by_buyer_kind"
	TableBySellerProvince  = "by_seller_province"
	TableByBuyerProvince   = "by_buyer_province"
	TableBySellerCity      = "by_seller_city"
	TableByBuyerCity       = "by_buyer_city"
	TableByFlow            = "by_flow"
	TableByIPType          = "by_ip_type"
	TableRewards           = "rewards_by_institution"
	TablePlanIntermediary  = "plan_intermediary"
	TablePlanPilot         = "plan_pilot_universities"
	TablePlanCounties      = "plan_county_coverage"
	TablePlanOutsideResult = "plan_outside_results"
)

// Flows, in report order, with their labels (relative to the home province).
var flowOrder = []KeyLabel{
	{"within", "省内"},
	{"outflow", "流向外省"},
	{"inflow", "吸纳外省"},
	{"external", "外省之间"},
}

// UnitYuan is the unit of every amount in the JSON document.
const UnitYuan = "元"

// codeInfo is what the build needs to know of each code of the State, looked up once.
type codeInfo struct {
	text         string
	homeProvince bool // the home province's 6-digit code
	group        int  // party kind group index (refdata.PartyKindGroups), -1: not a party kind
	county       bool // a county-level code of the home province
}

// builder accumulates one report. Every accumulator is indexed by an interned code of the
// State (or a party reference), so the loop over the contracts does no string work and no
// map lookup, and sums exact fen (projections.Money).
type builder struct {
	st    *projections.State
	home  string // 6-digit
	codes []codeInfo

	byCode                [nCodeDims][]pair // indexed by code
	flow                  [4]pair
	ip                    []pair // by IP bit; the last is "none"
	all                   pair
	homeSeller, homeBuyer pair

	inter    interAcc
	pilot    pilotAcc
	counties []pair // by region code: contracts with a party in that home county
	anyHome  pair   // contracts with a party in a home county
	outside  []pair // by seller province code
	outTotal pair
}

// Code-keyed dimensions.
const (
	dimType = iota
	dimSubtype
	dimField
	dimSellerKind
	dimBuyerKind
	dimSellerProvince
	dimBuyerProvince
	dimSellerCity
	dimBuyerCity
	nCodeDims
)

// Build computes the report of period p from st (see docs/reports.md). It reads st only:
// call it inside projections.Runner.Read.
func Build(st *projections.State, p Period) (*Report, error) {
	b := newBuilder(st)
	prev := p.Previous()
	periods := []Period{p, prev}
	b.pilot.resolve(st, periods)
	for w, per := range periods {
		st.EachContract(per.From, per.To, func(f *projections.Facts) { b.add(w, f) })
	}
	r := &Report{
		AsOf: st.Position(), HeadHash: st.Hash(), RecordedAt: st.RecordedAt(),
		HomeProvince: b.home, Period: p, Previous: prev,
	}
	r.Tables = b.tables()
	rw, err := b.rewards(p, prev)
	if err != nil {
		return nil, err
	}
	r.Tables = append(r.Tables, rw)
	r.Tables = append(r.Tables, b.planTables(p)...)
	for i := range r.Tables {
		r.Tables[i].finish()
	}
	return r, nil
}

func newBuilder(st *projections.State) *builder {
	b := &builder{st: st, home: st.HomeProvince() + "0000"}
	groups := refdata.PartyKindGroups()
	counties := map[string]bool{}
	if b.home == refdata.HomeProvince {
		for _, c := range refdata.ShanxiRegions() {
			if !strings.HasSuffix(c, "00") {
				counties[c] = true
			}
		}
	}
	b.codes = make([]codeInfo, st.CodeCount())
	for i := range b.codes {
		t := st.Code(projections.Code(i))
		b.codes[i] = codeInfo{
			text: t, homeProvince: t == b.home, group: slices.Index(groups, refdata.PartyKindGroup(t)),
			county: counties[t],
		}
	}
	for d := range b.byCode {
		b.byCode[d] = make([]pair, len(b.codes))
	}
	b.ip = make([]pair, len(st.IPTypes())+1)
	b.counties = make([]pair, len(b.codes))
	b.outside = make([]pair, len(b.codes))
	b.pilot = newPilotAcc()
	return b
}

// add counts contract f in period w (0: the period, 1: the previous one).
func (b *builder) add(w int, f *projections.Facts) {
	b.all[w].add(f)
	b.byCode[dimType][f.Type][w].add(f)
	b.byCode[dimSubtype][f.Subtype][w].add(f)
	b.byCode[dimField][f.Field][w].add(f)
	b.byCode[dimSellerKind][f.SellerKind][w].add(f)
	b.byCode[dimBuyerKind][f.BuyerKind][w].add(f)
	b.byCode[dimSellerProvince][f.SellerProvince][w].add(f)
	b.byCode[dimBuyerProvince][f.BuyerProvince][w].add(f)
	sellerHome, buyerHome := b.codes[f.SellerProvince].homeProvince, b.codes[f.BuyerProvince].homeProvince
	if sellerHome {
		b.byCode[dimSellerCity][f.SellerCity][w].add(f)
		b.homeSeller[w].add(f)
	}
	if buyerHome {
		b.byCode[dimBuyerCity][f.BuyerCity][w].add(f)
		b.homeBuyer[w].add(f)
	}
	b.flow[flowIndex(f.Flow)][w].add(f)
	if f.IPTypes == 0 {
		b.ip[len(b.ip)-1][w].add(f)
	} else {
		for m := f.IPTypes; m != 0; m &= m - 1 {
			if bit := bits.TrailingZeros16(m); bit < len(b.ip)-1 {
				b.ip[bit][w].add(f)
			}
		}
	}
	b.addPlan(w, f, sellerHome, buyerHome)
}

// flowIndex returns the index of flow f in flowOrder.
func flowIndex(f string) int {
	switch f {
	case "within":
		return 0
	case "outflow":
		return 1
	case "inflow":
		return 2
	case "external":
		return 3
	}
	panic("reports: unknown flow " + f)
}

// tables returns the contract tables of the document, up to by_ip_type.
func (b *builder) tables() []Table {
	types := refdata.ContractTypes()
	label := func(f func(string) (string, bool)) func(string) string {
		return func(k string) string {
			if l, ok := f(k); ok {
				return l
			}
			return k
		}
	}
	var subtypes []KeyLabel
	for _, t := range types {
		for _, s := range refdata.SubtypesOf(t) {
			l, _ := refdata.SubtypeLabel(t, s)
			subtypes = append(subtypes, KeyLabel{s, l})
		}
	}
	keyed := func(keys []string, lf func(string) string) []KeyLabel {
		out := make([]KeyLabel, len(keys))
		for i, k := range keys {
			out[i] = KeyLabel{k, lf(k)}
		}
		return out
	}
	regionLabel := label(refdata.RegionName)
	out := []Table{
		b.codeTable(TableByType, "按合同类别", "", dimType, keyed(types, label(refdata.ContractTypeLabel)), regionLabel, b.all),
		b.codeTable(TableBySubtype, "按合同类别细分", "", dimSubtype, subtypes, regionLabel, b.all),
		b.codeTable(TableByField, "按技术领域", "", dimField, keyed(refdata.Fields(), label(refdata.FieldLabel)), regionLabel, b.all),
		b.groupTable(TableBySellerKind, "技术输出（按卖方性质）", "卖方性质：技术输出", dimSellerKind),
		b.groupTable(TableByBuyerKind, "技术吸纳（按买方性质）", "买方性质：技术吸纳；本省登记的合同所见", dimBuyerKind),
		b.codeTable(TableBySellerProvince, "按卖方所在地区（技术输出）", "", dimSellerProvince, nil, regionLabel, b.all),
		b.codeTable(TableByBuyerProvince, "按买方所在地区（技术吸纳）", "吸纳仅含在本省登记的合同", dimBuyerProvince, nil, regionLabel, b.all),
		b.codeTable(TableBySellerCity, "本省各市技术输出", "合计为卖方在本省的合同", dimSellerCity, nil, regionLabel, b.homeSeller),
		b.codeTable(TableByBuyerCity, "本省各市技术吸纳", "合计为买方在本省的合同", dimBuyerCity, nil, regionLabel, b.homeBuyer),
	}
	flow := Table{ID: TableByFlow, Title: "按技术流向", Unit: UnitYuan, Total: b.all.row("total", "合计")}
	for i, k := range flowOrder {
		if !b.flow[i].empty() {
			flow.Rows = append(flow.Rows, b.flow[i].row(k.Key, k.Label))
		}
	}
	ipt := Table{ID: TableByIPType, Title: "按知识产权类型", Unit: UnitYuan, Note: "涉及多种知识产权的合同计入每一类；合计每项合同只计一次", Total: b.all.row("total", "合计")}
	ips := b.st.IPTypes()
	order := refdata.IPTypes()
	for _, t := range ips { // codes outside the reference data after it
		if !slices.Contains(order, t) {
			order = append(order, t)
		}
	}
	for _, t := range order {
		if bit := slices.Index(ips, t); bit >= 0 && !b.ip[bit].empty() {
			ipt.Rows = append(ipt.Rows, b.ip[bit].row(t, label(refdata.IPTypeLabel)(t)))
		}
	}
	if none := &b.ip[len(b.ip)-1]; !none.empty() {
		ipt.Rows = append(ipt.Rows, none.row("none", "未涉及知识产权"))
	}
	return append(out, flow, ipt)
}

// codeTable is a table of code dimension d. With order, rows follow it and codes outside
// it follow, sorted; without, rows are sorted by code (regions).
func (b *builder) codeTable(id, title, note string, d int, order []KeyLabel, label func(string) string, total pair) Table {
	t := Table{ID: id, Title: title, Unit: UnitYuan, Note: note, Total: total.row("total", "合计")}
	idx := map[string]int{}
	for i := range b.codes {
		if !b.byCode[d][i].empty() {
			idx[b.codes[i].text] = i
		}
	}
	var rest []string
	for k := range idx {
		if !slices.ContainsFunc(order, func(o KeyLabel) bool { return o.Key == k }) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range order {
		if i, ok := idx[k.Key]; ok {
			t.Rows = append(t.Rows, b.byCode[d][i].row(k.Key, k.Label))
		}
	}
	for _, k := range rest {
		t.Rows = append(t.Rows, b.byCode[d][idx[k]].row(k, label(k)))
	}
	return t
}

// groupTable is a table of party kind groups (refdata.PartyKindGroups) of dimension d.
func (b *builder) groupTable(id, title, note string, d int) Table {
	groups := refdata.PartyKindGroups()
	acc := make([]pair, len(groups)+1) // the last: kinds outside the reference data
	for i := range b.codes {
		g := b.codes[i].group
		if g < 0 {
			g = len(groups)
		}
		for w := range 2 {
			acc[g][w].addSums(&b.byCode[d][i][w])
		}
	}
	t := Table{ID: id, Title: title, Unit: UnitYuan, Note: note, Total: b.all.row("total", "合计")}
	for i, g := range groups {
		if !acc[i].empty() {
			l, _ := refdata.PartyKindGroupLabel(g)
			t.Rows = append(t.Rows, acc[i].row(g, l))
		}
	}
	if last := &acc[len(groups)]; !last.empty() {
		t.Rows = append(t.Rows, last.row("unknown", "未知"))
	}
	return t
}

// rewards is the rewards_by_institution table: reward amounts allocated to researchers in
// the period (by paid_on), per institution; count is the payments, Extra the researchers.
func (b *builder) rewards(p, prev Period) (Table, error) {
	t := Table{ID: TableRewards, Title: "科研人员奖励和报酬（按单位）", Unit: UnitYuan, Note: "按支付日期；count 为付款笔数", NoTech: true}
	type both struct {
		cur, prev projections.InstitutionRewards
	}
	by := map[string]*both{}
	var keys []string
	for w, per := range []Period{p, prev} {
		rows, err := b.st.RewardsByInstitution(per.From, per.To)
		if err != nil {
			return Table{}, err
		}
		for _, r := range rows {
			x := by[r.Institution]
			if x == nil {
				x = &both{}
				by[r.Institution] = x
				keys = append(keys, r.Institution)
			}
			if w == 0 {
				x.cur = r
			} else {
				x.prev = r
			}
		}
	}
	slices.Sort(keys)
	var tc, tp projections.InstitutionRewards
	for _, k := range keys {
		x := by[k]
		t.Rows = append(t.Rows, rewardRow(k, &x.cur, &x.prev))
		for _, a := range []struct {
			to, from *projections.InstitutionRewards
		}{{&tc, &x.cur}, {&tp, &x.prev}} {
			a.to.Amount.AddMoney(a.from.Amount)
			a.to.Payments += a.from.Payments
			a.to.Researchers += a.from.Researchers // a researcher belongs to one institution per tally
		}
	}
	t.Total = rewardRow("total", &tc, &tp)
	t.Total.Label = "合计"
	return t, nil
}

func rewardRow(key string, cur, prev *projections.InstitutionRewards) Row {
	return Row{
		Key: key, Label: key, Count: cur.Payments, Amount: cur.Amount, CountPrev: prev.Payments, AmountPrev: prev.Amount,
		Extra: []Extra{{"researchers", cur.Researchers}, {"researchers_prev", prev.Researchers}},
	}
}
