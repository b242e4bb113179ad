package reports_test

// An independent, naive computation of every report table (docs/reports.md), folded in
// the test from the events decoded by the strict codec (ledger.DecodeRecord) with big.Rat
// money — it shares no code with package reports nor with the projections' folds — and
// compared cell by cell with the JSON document the package writes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"techledger/commands"
	"techledger/internal/refdata"
	"techledger/internal/sample"
	"techledger/ledger"
	"techledger/ledger/memstore"
	"techledger/projections"
	"techledger/reports"
)

// ---------------------------------------------------------------------------------------
// Data sets: generated samples, plus a few commands for the edge cases.

type dataset struct {
	store *memstore.Store
	recs  []ledger.Record
	marks map[string]ledger.Position // named positions of the extra commands
}

var (
	datasetsMu sync.Mutex
	datasets   = map[uint64]*dataset{}
)

const sampleContracts = 1500

var seeds = []uint64{1, 2, 3}

func load(tb testing.TB, seed uint64) *dataset {
	tb.Helper()
	datasetsMu.Lock()
	defer datasetsMu.Unlock()
	if d := datasets[seed]; d != nil {
		return d
	}
	var buf bytes.Buffer
	if _, err := sample.Write(&buf, sample.Config{Seed: seed, Contracts: sampleContracts}); err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	st := memstore.New()
	h := commands.NewHandler(st)
	h.Now = func() time.Time { return time.Date(2026, time.June, 1, 12, 0, 0, 0, time.UTC) }
	who := commands.Actor{Name: "reports-test", Role: "registrar"}
	sum, err := commands.Import(ctx, bytes.NewReader(buf.Bytes()), h, who, nil)
	if err != nil || sum.Rejected != 0 {
		tb.Fatalf("import: %v, %d rejected %v", err, sum.Rejected, sum.Errors)
	}
	d := &dataset{store: st, marks: map[string]ledger.Position{}}
	run := func(mark, cmd string) {
		out, err := h.HandleJSON(ctx, []byte(cmd), who)
		if err != nil {
			tb.Fatalf("%s: %v", mark, err)
		}
		_ = out
		head, err := st.Head(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		d.marks[mark] = head
	}
	// A university outside the province selling to a Shanxi firm (plan_outside_results),
	// and the same from abroad; a contract that an amendment moves from development to
	// service (by_type, by_subtype) and to another field; one revoked after its period.
	run("outside", `{"command":"register_contract","command_id":"x-1","contract_id":"2024140101990001","title":"外省高校成果转让","type":"transfer","subtype":"patent_right","signed_on":"2024-03-01","registered_on":"2024-03-05","amount":"1200000.00","tech_amount":"1100000.00","field":"new_materials","seller":{"id":"12100000400000624D","name":"北京某大学","kind":"university","region":"110108"},"buyer":{"id":"91140105MA0000001E","name":"山西某公司","kind":"enterprise","region":"140105"},"intermediary":null,"ip_types":["patent","technical_secret"]}`)
	run("moved-registered", `{"command":"register_contract","command_id":"x-2","contract_id":"2024140101990002","title":"待更正的开发合同","type":"development","subtype":"commissioned","signed_on":"2024-05-01","registered_on":"2024-05-06","amount":"333333.33","tech_amount":"300000.01","field":"agriculture","seller":{"id":"91140105MA0000002H","name":"山西某科技公司","kind":"enterprise","region":"140109"},"buyer":{"id":"91140105MA0000003L","name":"山西某农业公司","kind":"enterprise","region":"140703"},"intermediary":null,"ip_types":[]}`)
	run("moved", `{"command":"amend_contract","command_id":"x-3","contract_id":"2024140101990002","type":"service","subtype":"training","field":"urban_social","amount":"333333.34","tech_amount":"300000.02","reason":"合同类型认定更正"}`)
	run("revoked-registered", `{"command":"register_contract","command_id":"x-4","contract_id":"2024140101990003","title":"期后撤销的合同","type":"license","subtype":"patent_license","signed_on":"2024-06-01","registered_on":"2024-06-03","amount":"777777.77","tech_amount":"700000.00","field":"nuclear","seller":{"id":"91140105MA0000004P","name":"山西某核技术公司","kind":"enterprise","region":"140802"},"buyer":{"id":"91140105MA0000005T","name":"山西某电力公司","kind":"enterprise","region":"141102"},"intermediary":null,"ip_types":["patent","software_copyright"]}`)
	run("revoked", `{"command":"revoke_contract","command_id":"x-5","contract_id":"2024140101990003","reason":"期后撤销"}`)
	run("2026", `{"command":"register_contract","command_id":"x-6","contract_id":"2026140101990001","title":"2026年开发合同","type":"development","subtype":"cooperative","signed_on":"2026-01-05","registered_on":"2026-01-06","amount":"5000.00","tech_amount":"5000.00","field":"aerospace","seller":{"id":"91140105MA0000006X","name":"山西某航天公司","kind":"enterprise","region":"140105"},"buyer":{"id":"91140105MA00000071","name":"山西某制造公司","kind":"enterprise","region":"140106"},"intermediary":null,"ip_types":[]}`)
	for rec, err := range st.ReadAll(ctx, 1) {
		if err != nil {
			tb.Fatal(err)
		}
		d.recs = append(d.recs, rec)
	}
	datasets[seed] = d
	return d
}

// state folds the dataset's log up to position to (0: all).
func (d *dataset) state(tb testing.TB, to ledger.Position) *projections.State {
	tb.Helper()
	st := projections.NewState(projections.Options{})
	if err := projections.Replay(context.Background(), d.store, st, to); err != nil {
		tb.Fatal(err)
	}
	return st
}

// ---------------------------------------------------------------------------------------
// The naive fold.

type nContract struct {
	id                  string
	reg                 ledger.Date
	typ, subtype, field string
	amount, tech        *big.Rat
	seller, buyer       ledger.Party
	inter               *ledger.Party
	ip                  []string
	revoked             bool
	ownership           *ledger.RightsAssigned
	uses                []*ledger.RightsAssigned
}

type nPayment struct {
	pos      ledger.Position
	contract *nContract
	paidOn   ledger.Date
	allocs   []ledger.Allocation
}

type naive struct {
	contracts []*nContract
	payments  []nPayment
}

func rat(d interface{ String() string }) *big.Rat {
	r, ok := new(big.Rat).SetString(d.String())
	if !ok {
		panic(d.String())
	}
	return r
}

func foldNaive(tb testing.TB, recs []ledger.Record, to ledger.Position) *naive {
	tb.Helper()
	n := &naive{}
	by := map[string]*nContract{}
	for i := range recs {
		if to != 0 && recs[i].Position > to {
			break
		}
		ev, err := ledger.DecodeRecord(&recs[i])
		if err != nil {
			tb.Fatal(err)
		}
		switch e := ev.(type) {
		case *ledger.ContractRegistered:
			c := &nContract{id: e.ContractID, reg: e.RegisteredOn, typ: e.Type, subtype: e.Subtype, field: e.Field,
				amount: rat(e.Amount), tech: rat(e.TechAmount), seller: e.Seller, buyer: e.Buyer, inter: e.Intermediary, ip: e.IPTypes}
			by[c.id] = c
			n.contracts = append(n.contracts, c)
		case *ledger.ContractAmended:
			c := by[e.ContractID]
			c.typ, c.subtype, c.field, c.amount, c.tech = e.Type, e.Subtype, e.Field, rat(e.Amount), rat(e.TechAmount)
		case *ledger.ContractRevoked:
			by[e.ContractID].revoked = true
		case *ledger.RightsAssigned:
			c := by[e.ContractID]
			switch e.Right {
			case ledger.RightOwnership:
				c.ownership = e
			case ledger.RightUse:
				c.uses = append(c.uses, e)
			}
		case *ledger.PaymentRecorded:
			n.payments = append(n.payments, nPayment{pos: recs[i].Position, contract: by[e.ContractID], paidOn: e.PaidOn, allocs: e.Allocations})
		}
	}
	return n
}

// ---------------------------------------------------------------------------------------
// Expected tables.

type cellSums struct {
	count        int64
	amount, tech *big.Rat
}

func (s *cellSums) add(c *nContract) {
	if s.amount == nil {
		s.amount, s.tech = new(big.Rat), new(big.Rat)
	}
	s.count++
	s.amount.Add(s.amount, c.amount)
	s.tech.Add(s.tech, c.tech)
}

type eRow struct {
	key, label string
	cur, prev  cellSums
	extra      map[string]int64
}

type eTable struct {
	rows    []*eRow
	total   eRow
	noTech  bool
	missing []string
}

func yuan(r *big.Rat) string {
	if r == nil {
		return "0.00"
	}
	return r.FloatString(2) // amounts are whole fen: exact
}

// pct is num/den in percent rounded half away from zero to 2 places, or nil.
func pct(num, den *big.Rat) *string {
	if den == nil || den.Sign() == 0 {
		return nil
	}
	if num == nil {
		num = new(big.Rat)
	}
	v := new(big.Rat).Quo(num, den)
	v.Mul(v, big.NewRat(100, 1))
	neg := v.Sign() < 0
	v.Abs(v)
	v.Add(v, big.NewRat(1, 200)) // + half of the last place, then truncate
	cents := new(big.Int).Quo(new(big.Int).Mul(v.Num(), big.NewInt(100)), v.Denom())
	s := fmt.Sprintf("%d.%02d", new(big.Int).Quo(cents, big.NewInt(100)), new(big.Int).Rem(cents, big.NewInt(100)))
	if neg && cents.Sign() != 0 {
		s = "-" + s
	}
	return &s
}

func within(d, from, to ledger.Date) bool { return !d.Before(from) && !d.After(to) }

func province(region string) string { return refdata.ProvinceOf(region) }

func regionLabel(code string) string {
	if l, ok := refdata.RegionName(code); ok {
		return l
	}
	return code
}

// expect computes every table of the report of period p (previous: q) from n.
func expect(n *naive, p, q reports.Period) map[string]*eTable {
	const home = "140000"
	var cur, prev []*nContract
	for _, c := range n.contracts {
		if c.revoked {
			continue
		}
		if within(c.reg, p.From, p.To) {
			cur = append(cur, c)
		}
		if within(c.reg, q.From, q.To) {
			prev = append(prev, c)
		}
	}
	out := map[string]*eTable{}
	// grouped builds a table from a function giving each contract's keys (nil: not in the
	// table), in the order keys lists (unlisted keys after, sorted), with labels.
	grouped := func(id string, keysOf func(*nContract) []string, order []string, label func(string) string, inTotal func(*nContract) bool) {
		t := &eTable{total: eRow{key: "total", label: "合计"}}
		rows := map[string]*eRow{}
		for w, list := range [][]*nContract{cur, prev} {
			for _, c := range list {
				if inTotal(c) {
					if w == 0 {
						t.total.cur.add(c)
					} else {
						t.total.prev.add(c)
					}
				}
				for _, k := range keysOf(c) {
					r := rows[k]
					if r == nil {
						r = &eRow{key: k, label: label(k)}
						rows[k] = r
					}
					if w == 0 {
						r.cur.add(c)
					} else {
						r.prev.add(c)
					}
				}
			}
		}
		var rest []string
		for k := range rows {
			if !slices.Contains(order, k) {
				rest = append(rest, k)
			}
		}
		sort.Strings(rest)
		for _, k := range append(slices.Clone(order), rest...) {
			if r := rows[k]; r != nil {
				t.rows = append(t.rows, r)
			}
		}
		out[id] = t
	}
	one := func(f func(*nContract) string) func(*nContract) []string {
		return func(c *nContract) []string { return []string{f(c)} }
	}
	all := func(*nContract) bool { return true }
	lbl := func(f func(string) (string, bool)) func(string) string {
		return func(k string) string {
			if l, ok := f(k); ok {
				return l
			}
			return k
		}
	}
	grouped("by_type", one(func(c *nContract) string { return c.typ }), refdata.ContractTypes(), lbl(refdata.ContractTypeLabel), all)
	var subOrder []string
	subLabels := map[string]string{}
	for _, t := range refdata.ContractTypes() {
		for _, s := range refdata.SubtypesOf(t) {
			subOrder = append(subOrder, s)
			subLabels[s], _ = refdata.SubtypeLabel(t, s)
		}
	}
	grouped("by_subtype", one(func(c *nContract) string { return c.subtype }), subOrder, func(k string) string { return subLabels[k] }, all)
	grouped("by_field", one(func(c *nContract) string { return c.field }), refdata.Fields(), lbl(refdata.FieldLabel), all)
	groupOf := func(kind string) string {
		if g := refdata.PartyKindGroup(kind); g != "" {
			return g
		}
		return "unknown"
	}
	groupLabel := func(g string) string {
		if l, ok := refdata.PartyKindGroupLabel(g); ok {
			return l
		}
		return "未知"
	}
	grouped("by_seller_kind", one(func(c *nContract) string { return groupOf(c.seller.Kind) }), append(refdata.PartyKindGroups(), "unknown"), groupLabel, all)
	grouped("by_buyer_kind", one(func(c *nContract) string { return groupOf(c.buyer.Kind) }), append(refdata.PartyKindGroups(), "unknown"), groupLabel, all)
	grouped("by_seller_province", one(func(c *nContract) string { return province(c.seller.Region) }), nil, regionLabel, all)
	grouped("by_buyer_province", one(func(c *nContract) string { return province(c.buyer.Region) }), nil, regionLabel, all)
	sellerHome := func(c *nContract) bool { return province(c.seller.Region) == home }
	buyerHome := func(c *nContract) bool { return province(c.buyer.Region) == home }
	grouped("by_seller_city", func(c *nContract) []string {
		if sellerHome(c) {
			return []string{refdata.CityOf(c.seller.Region)}
		}
		return nil
	}, nil, regionLabel, sellerHome)
	grouped("by_buyer_city", func(c *nContract) []string {
		if buyerHome(c) {
			return []string{refdata.CityOf(c.buyer.Region)}
		}
		return nil
	}, nil, regionLabel, buyerHome)
	flowLabels := map[string]string{"within": "省内", "outflow": "流向外省", "inflow": "吸纳外省", "external": "外省之间"}
	grouped("by_flow", one(func(c *nContract) string {
		switch s, b := sellerHome(c), buyerHome(c); {
		case s && b:
			return "within"
		case s:
			return "outflow"
		case b:
			return "inflow"
		}
		return "external"
	}), []string{"within", "outflow", "inflow", "external"}, func(k string) string { return flowLabels[k] }, all)
	grouped("by_ip_type", func(c *nContract) []string {
		if len(c.ip) == 0 {
			return []string{"none"}
		}
		set := slices.Clone(c.ip)
		slices.Sort(set)
		return slices.Compact(set)
	}, append(refdata.IPTypes(), "none"), func(k string) string {
		if k == "none" {
			return "未涉及知识产权"
		}
		return lbl(refdata.IPTypeLabel)(k)
	}, all)

	// Rewards: allocations to researchers by paid_on.
	rw := &eTable{total: eRow{key: "total", label: "合计", extra: map[string]int64{}}, noTech: true}
	type instAcc struct {
		amount      [2]*big.Rat
		payments    [2]int64
		researchers [2]map[string]bool
	}
	insts := map[string]*instAcc{}
	for _, pay := range n.payments {
		for w, per := range []reports.Period{p, q} {
			if !within(pay.paidOn, per.From, per.To) {
				continue
			}
			counted := map[string]bool{}
			for _, a := range pay.allocs {
				if a.Kind != "researcher" {
					continue
				}
				x := insts[a.Institution]
				if x == nil {
					x = &instAcc{amount: [2]*big.Rat{new(big.Rat), new(big.Rat)}, researchers: [2]map[string]bool{{}, {}}}
					insts[a.Institution] = x
				}
				x.amount[w].Add(x.amount[w], rat(a.Amount))
				x.researchers[w][a.HolderID] = true
				if !counted[a.Institution] {
					counted[a.Institution] = true
					x.payments[w]++
				}
			}
		}
	}
	var names []string
	for k := range insts {
		names = append(names, k)
	}
	sort.Strings(names)
	rw.total.cur.amount, rw.total.prev.amount = new(big.Rat), new(big.Rat)
	for _, k := range names {
		x := insts[k]
		r := &eRow{key: k, label: k, extra: map[string]int64{"researchers": int64(len(x.researchers[0])), "researchers_prev": int64(len(x.researchers[1]))}}
		r.cur = cellSums{count: x.payments[0], amount: x.amount[0]}
		r.prev = cellSums{count: x.payments[1], amount: x.amount[1]}
		rw.rows = append(rw.rows, r)
		rw.total.cur.count += x.payments[0]
		rw.total.prev.count += x.payments[1]
		rw.total.cur.amount.Add(rw.total.cur.amount, x.amount[0])
		rw.total.prev.amount.Add(rw.total.prev.amount, x.amount[1])
		rw.total.extra["researchers"] += r.extra["researchers"]
		rw.total.extra["researchers_prev"] += r.extra["researchers_prev"]
	}
	out["rewards_by_institution"] = rw

	// Plan tables.
	grouped("plan_intermediary", func(c *nContract) []string {
		if c.inter == nil {
			return nil
		}
		return []string{c.inter.ID + "\x00" + c.inter.Name}
	}, nil, func(k string) string { _, name, _ := strings.Cut(k, "\x00"); return name }, func(c *nContract) bool { return c.inter != nil })
	for _, r := range out["plan_intermediary"].rows {
		r.key, _, _ = strings.Cut(r.key, "\x00")
	}

	pilots := []string{"山西大学", "太原理工大学", "太原科技大学", "山西农业大学"}
	pilotStart := ledger.Date{Year: 2022, Month: 1, Day: 1}
	isPilot := func(c *nContract) bool { return slices.Contains(pilots, c.seller.Name) }
	grouped("plan_pilot_universities", func(c *nContract) []string {
		if isPilot(c) {
			return []string{c.seller.Name}
		}
		return nil
	}, pilots, func(k string) string { return k }, isPilot)
	pt := out["plan_pilot_universities"]
	pt.total.extra = map[string]int64{"ownership_assigned": 0, "long_term_use_assigned": 0}
	for _, r := range pt.rows {
		r.extra = map[string]int64{"ownership_assigned": 0, "long_term_use_assigned": 0}
		for _, c := range cur {
			if c.seller.Name != r.key {
				continue
			}
			if o := c.ownership; o != nil && !o.EffectiveOn.Before(pilotStart) {
				share := new(big.Rat)
				for _, h := range o.Holders {
					if h.Kind == "researcher" {
						share.Add(share, rat(h.Share))
					}
				}
				if share.Sign() > 0 {
					r.extra["ownership_assigned"]++
					pt.total.extra["ownership_assigned"]++
				}
			}
			var longest *ledger.Term
			for _, u := range c.uses {
				if !slices.ContainsFunc(u.Holders, func(h ledger.Holder) bool { return h.Kind == "researcher" }) {
					continue
				}
				if longest == nil || u.Term.To.Time().Sub(u.Term.From.Time()) > longest.To.Time().Sub(longest.From.Time()) {
					longest = u.Term
				}
			}
			if longest != nil && !longest.From.Before(pilotStart) && !longest.To.Time().Before(longest.From.Time().AddDate(10, 0, -1)) {
				r.extra["long_term_use_assigned"]++
				pt.total.extra["long_term_use_assigned"]++
			}
		}
	}

	var counties []string
	for _, c := range refdata.ShanxiRegions() {
		if !strings.HasSuffix(c, "00") {
			counties = append(counties, c)
		}
	}
	isCounty := func(r string) bool { return slices.Contains(counties, r) }
	grouped("plan_county_coverage", func(c *nContract) []string {
		var ks []string
		if isCounty(c.seller.Region) {
			ks = append(ks, c.seller.Region)
		}
		if isCounty(c.buyer.Region) && c.buyer.Region != c.seller.Region {
			ks = append(ks, c.buyer.Region)
		}
		return ks
	}, counties, regionLabel, func(c *nContract) bool { return isCounty(c.seller.Region) || isCounty(c.buyer.Region) })
	ct := out["plan_county_coverage"]
	covered := int64(0)
	for _, k := range counties {
		if i := slices.IndexFunc(ct.rows, func(r *eRow) bool { return r.key == k }); i >= 0 && ct.rows[i].cur.count > 0 {
			covered++
		} else {
			ct.missing = append(ct.missing, k)
		}
	}
	ct.total.extra = map[string]int64{"counties_covered": covered, "counties": int64(len(counties))}

	outside := func(c *nContract) bool {
		g := refdata.PartyKindGroup(c.seller.Kind)
		return (g == "university" || g == "research_institute") && province(c.seller.Region) != home && province(c.buyer.Region) == home
	}
	grouped("plan_outside_results", func(c *nContract) []string {
		if outside(c) {
			return []string{province(c.seller.Region)}
		}
		return nil
	}, nil, regionLabel, outside)
	return out
}

// ---------------------------------------------------------------------------------------
// Comparison with the document.

type jRow map[string]any

type jTable struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Unit    string `json:"unit"`
	Rows    []jRow `json:"rows"`
	Total   jRow   `json:"total"`
	Missing []struct {
		Key, Label string
	} `json:"missing"`
}

type jDoc struct {
	AsOf         uint64 `json:"as_of"`
	HeadHash     string `json:"head_hash"`
	HomeProvince string `json:"home_province"`
	Period       struct {
		From, To string
	} `json:"period"`
	Previous struct {
		From, To string
	} `json:"previous"`
	Tables []jTable `json:"tables"`
}

var tableOrder = []string{"by_type", "by_subtype", "by_field", "by_seller_kind", "by_buyer_kind", "by_seller_province",
	"by_buyer_province", "by_seller_city", "by_buyer_city", "by_flow", "by_ip_type", "rewards_by_institution",
	"plan_intermediary", "plan_pilot_universities", "plan_county_coverage", "plan_outside_results"}

func wantRow(r *eRow, total *eRow, noTech bool) map[string]any {
	m := map[string]any{
		"key": r.key, "label": r.label, "count": float64(r.cur.count), "amount": yuan(r.cur.amount),
		"count_prev": float64(r.prev.count), "amount_prev": yuan(r.prev.amount),
	}
	if !noTech {
		m["tech_amount"], m["tech_amount_prev"] = yuan(r.cur.tech), yuan(r.prev.tech)
	}
	num := r.cur.amount
	if num == nil {
		num = new(big.Rat)
	}
	if s := pct(num, total.cur.amount); s != nil {
		m["amount_share"] = *s
	} else {
		m["amount_share"] = nil
	}
	prev := r.prev.amount
	if prev == nil {
		prev = new(big.Rat)
	}
	if s := pct(new(big.Rat).Sub(num, prev), prev); s != nil {
		m["amount_growth"] = *s
	} else {
		m["amount_growth"] = nil
	}
	for k, v := range r.extra {
		m[k] = float64(v)
	}
	return m
}

// compareDoc checks the JSON document of p against the naive computation.
func compareDoc(t *testing.T, doc []byte, n *naive, p reports.Period) {
	t.Helper()
	var d jDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	q := p.Previous()
	if d.Period.From != p.From.String() || d.Period.To != p.To.String() || d.Previous.From != q.From.String() || d.Previous.To != q.To.String() {
		t.Fatalf("periods %+v %+v", d.Period, d.Previous)
	}
	if d.HomeProvince != "140000" {
		t.Errorf("home_province %q", d.HomeProvince)
	}
	want := expect(n, p, q)
	var ids []string
	for _, tb := range d.Tables {
		ids = append(ids, tb.ID)
	}
	if !slices.Equal(ids, tableOrder) {
		t.Fatalf("tables %v, want %v", ids, tableOrder)
	}
	for _, tb := range d.Tables {
		w := want[tb.ID]
		if tb.Unit != "元" || tb.Title == "" {
			t.Errorf("%s: unit %q title %q", tb.ID, tb.Unit, tb.Title)
		}
		if len(tb.Rows) != len(w.rows) {
			var got, exp []string
			for _, r := range tb.Rows {
				got = append(got, fmt.Sprint(r["key"]))
			}
			for _, r := range w.rows {
				exp = append(exp, r.key)
			}
			t.Errorf("%s: rows %v, want %v", tb.ID, got, exp)
			continue
		}
		for i, r := range w.rows {
			checkRow(t, tb.ID, tb.Rows[i], wantRow(r, &w.total, w.noTech))
		}
		checkRow(t, tb.ID, tb.Total, wantRow(&w.total, &w.total, w.noTech))
		if tb.ID == "plan_county_coverage" {
			var got []string
			for _, m := range tb.Missing {
				got = append(got, m.Key)
				if m.Label != regionLabel(m.Key) {
					t.Errorf("missing %s labelled %q", m.Key, m.Label)
				}
			}
			if !slices.Equal(got, w.missing) {
				t.Errorf("missing counties %v, want %v", got, w.missing)
			}
		}
	}
}

func checkRow(t *testing.T, table string, got jRow, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if gv, ok := got[k]; !ok || fmt.Sprint(gv) != fmt.Sprint(v) || (gv == nil) != (v == nil) {
			t.Errorf("%s row %v: %s = %v, want %v", table, got["key"], k, gv, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s row %v: unexpected field %s", table, got["key"], k)
		}
	}
}

func periods(t *testing.T) map[string]reports.Period {
	t.Helper()
	out := map[string]reports.Period{}
	for _, y := range []int{2019, 2023, 2024, 2025} { // 2019: the previous year has no contract
		p, err := reports.Annual(y)
		if err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprint(y)] = p
	}
	for name, r := range map[string][2]string{"2024-Q2": {"2024-04-01", "2024-06-30"}, "2025-01..05": {"2025-01-01", "2025-05-31"}, "2024-02": {"2024-02-01", "2024-02-29"}} {
		from, _ := ledger.ParseDate(r[0])
		to, _ := ledger.ParseDate(r[1])
		p, err := reports.NewPeriod(from, to)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	return out
}

// TestBuild_MatchesNaive: every cell of every table, for several seeds and periods, as of
// the head and as of a position in the middle of the log.
func TestBuild_MatchesNaive(t *testing.T) {
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			d := load(t, seed)
			for _, to := range []ledger.Position{0, ledger.Position(len(d.recs) * 2 / 3)} {
				st := d.state(t, to)
				n := foldNaive(t, d.recs, to)
				for name, p := range periods(t) {
					t.Run(fmt.Sprintf("as_of=%d/%s", to, name), func(t *testing.T) {
						r, err := reports.Build(st, p)
						if err != nil {
							t.Fatal(err)
						}
						doc, err := r.MarshalJSON()
						if err != nil {
							t.Fatal(err)
						}
						compareDoc(t, doc, n, p)
					})
				}
			}
		})
	}
}
