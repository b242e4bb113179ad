package projections_test

// An independent oracle for the projections (issue 4): a second, deliberately naive
// computation of the statistics and the researcher rewards of docs/domain.md, folded from the
// raw NDJSON commands (not from the log's events, and sharing no code with the projections),
// compared with the projections on generated datasets of several seeds.
//
// Test functions named TestOracle* check the oracle on its own (they need no projection);
// TestProjectionMatchesOracle* compare the projections with it.
//
// The oracle's semantics, as docs/domain.md states them (Statistics, Payments, Allocation to
// the fen, Researcher reward tallies):
//   - stats: contracts registered and not revoked at the as-of point, with the latest
//     amendment's type/subtype/field/amount/tech_amount (an omitted field keeps its value);
//     filter from ≤ registered_on ≤ to (inclusive, either end open); per row count, amount,
//     tech_amount, and paid = the gross amounts of every payment of the contract so far.
//   - rewards: each payment's net (amount − costs) is split among the holders of the latest
//     proceeds assignment recorded before it (whatever its effective_on), or wholly to the
//     seller; floor to the fen, leftover fens to the largest remainders, ties to listing
//     order. Researchers are tallied per (id, institution).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"techledger/commands"
	"techledger/internal/sample"
	"techledger/ledger"
	"techledger/ledger/memstore"
)

// ---------------------------------------------------------------------------------------
// Raw commands, as the NDJSON gives them.

type rawParty struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Region string `json:"region"`
}

type rawHolder struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Institution string `json:"institution"`
	Share       string `json:"share"`
}

// rawCommand holds the fields of any of the five commands that the oracle needs. Pointer
// fields are those an amendment may leave out.
type rawCommand struct {
	Command      string      `json:"command"`
	CommandID    string      `json:"command_id"`
	ContractID   string      `json:"contract_id"`
	Type         *string     `json:"type"`
	Subtype      *string     `json:"subtype"`
	Field        *string     `json:"field"`
	RegisteredOn string      `json:"registered_on"`
	Amount       *string     `json:"amount"`
	TechAmount   *string     `json:"tech_amount"`
	Seller       *rawParty   `json:"seller"`
	Buyer        *rawParty   `json:"buyer"`
	Right        string      `json:"right"`
	Holders      []rawHolder `json:"holders"`
	PaymentID    string      `json:"payment_id"`
	Costs        string      `json:"costs"`
	PaidOn       string      `json:"paid_on"`
}

// parseCommands parses NDJSON, one command per line; cmds[i] is line i+1. Blank lines are
// refused so that line numbers stay log positions.
func parseCommands(ndjson []byte) ([]rawCommand, error) {
	lines := bytes.Split(bytes.TrimSuffix(ndjson, []byte("\n")), []byte("\n"))
	cmds := make([]rawCommand, 0, len(lines))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			return nil, fmt.Errorf("line %d is blank", i+1)
		}
		var c rawCommand
		if err := json.Unmarshal(line, &c); err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		cmds = append(cmds, c)
	}
	return cmds, nil
}

// ---------------------------------------------------------------------------------------
// Money, exact (big.Rat; never floats).

func money(s string) *big.Rat {
	if s == "" {
		return new(big.Rat)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(fmt.Sprintf("oracle: bad amount %q", s))
	}
	return r
}

var hundred = big.NewRat(100, 1)

// formatMoney formats an amount that is a whole number of fen with exactly two places.
func formatMoney(r *big.Rat) string {
	if !new(big.Rat).Mul(r, hundred).IsInt() || r.Sign() < 0 {
		panic(fmt.Sprintf("oracle: %s is not a non-negative amount in fen", r.RatString()))
	}
	return r.FloatString(2)
}

func sumRats(rs ...*big.Rat) *big.Rat {
	s := new(big.Rat)
	for _, r := range rs {
		s.Add(s, r)
	}
	return s
}

// oracleAllocate splits net among shares exactly to the fen (docs/domain.md, Allocation to
// the fen): each part is net×share rounded down to the fen; the fens left over go one by one
// to the largest fractional remainders, ties to the earlier share in the list.
func oracleAllocate(net *big.Rat, shares []*big.Rat) []*big.Rat {
	netFen := new(big.Rat).Mul(net, hundred)
	if !netFen.IsInt() || netFen.Sign() < 0 {
		panic(fmt.Sprintf("oracle: net %s is not a non-negative amount in fen", net.RatString()))
	}
	fens := make([]*big.Int, len(shares))
	rests := make([]*big.Rat, len(shares))
	total := new(big.Int)
	for i, s := range shares {
		exact := new(big.Rat).Mul(netFen, s)
		fens[i] = new(big.Int).Quo(exact.Num(), exact.Denom()) // exact ≥ 0: truncation is floor
		rests[i] = new(big.Rat).Sub(exact, new(big.Rat).SetInt(fens[i]))
		total.Add(total, fens[i])
	}
	left := new(big.Int).Sub(netFen.Num(), total)
	if left.Sign() < 0 || left.Sign() > 0 && left.Cmp(big.NewInt(int64(len(shares)))) >= 0 {
		panic(fmt.Sprintf("oracle: %s fen left over for %d holders: shares do not sum to 1", left, len(shares)))
	}
	order := make([]int, len(shares))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rests[order[a]].Cmp(rests[order[b]]) > 0 })
	for k := int64(0); k < left.Int64(); k++ {
		fens[order[k]].Add(fens[order[k]], big.NewInt(1))
	}
	out := make([]*big.Rat, len(shares))
	for i, f := range fens {
		out[i] = new(big.Rat).SetFrac(f, big.NewInt(100))
	}
	return out
}

// ---------------------------------------------------------------------------------------
// The oracle's fold of the commands up to a position.

type oContract struct {
	id, registeredOn, typ, subtype, field string
	amount, tech, paid                    *big.Rat
	seller, buyer                         rawParty
	revoked                               bool
	proceeds                              []rawHolder // the latest proceeds assignment; nil: none
}

type oAlloc struct {
	holder rawHolder
	amount *big.Rat
}

type oPayment struct {
	pos                           int
	contractID, paymentID, paidOn string
	amount, costs, net            *big.Rat
	allocs                        []oAlloc
}

type oLedger struct {
	asOf      int
	contracts map[string]*oContract
	payments  []oPayment // in log order
}

// foldOracle applies cmds[:asOf] (asOf 0: all). Every command is one the ledger accepted.
func foldOracle(cmds []rawCommand, asOf int) *oLedger {
	if asOf == 0 {
		asOf = len(cmds)
	}
	l := &oLedger{asOf: asOf, contracts: map[string]*oContract{}}
	for i, c := range cmds[:asOf] {
		pos := i + 1
		ct := l.contracts[c.ContractID]
		if c.Command != "register_contract" && ct == nil {
			panic(fmt.Sprintf("oracle: position %d: %s of unregistered contract %s", pos, c.Command, c.ContractID))
		}
		switch c.Command {
		case "register_contract":
			l.contracts[c.ContractID] = &oContract{
				id: c.ContractID, registeredOn: c.RegisteredOn,
				typ: *c.Type, subtype: *c.Subtype, field: *c.Field,
				amount: money(*c.Amount), tech: money(*c.TechAmount), paid: new(big.Rat),
				seller: *c.Seller, buyer: *c.Buyer,
			}
		case "amend_contract":
			if c.Type != nil {
				ct.typ = *c.Type
			}
			if c.Subtype != nil {
				ct.subtype = *c.Subtype
			}
			if c.Field != nil {
				ct.field = *c.Field
			}
			if c.Amount != nil {
				ct.amount = money(*c.Amount)
			}
			if c.TechAmount != nil {
				ct.tech = money(*c.TechAmount)
			}
		case "revoke_contract":
			ct.revoked = true
		case "assign_rights":
			if c.Right == "proceeds" {
				ct.proceeds = slices.Clone(c.Holders)
			}
		case "record_payment":
			amount, costs := money(*c.Amount), money(c.Costs)
			net := new(big.Rat).Sub(amount, costs)
			holders := ct.proceeds
			if holders == nil {
				holders = []rawHolder{{ID: ct.seller.ID, Name: ct.seller.Name, Kind: ct.seller.Kind, Share: "1"}}
			}
			shares := make([]*big.Rat, len(holders))
			for i, h := range holders {
				shares[i] = money(h.Share)
			}
			p := oPayment{pos: pos, contractID: c.ContractID, paymentID: c.PaymentID, paidOn: c.PaidOn, amount: amount, costs: costs, net: net}
			for i, a := range oracleAllocate(net, shares) {
				p.allocs = append(p.allocs, oAlloc{holder: holders[i], amount: a})
			}
			l.payments = append(l.payments, p)
			ct.paid.Add(ct.paid, amount)
		default:
			panic(fmt.Sprintf("oracle: position %d: unknown command %q", pos, c.Command))
		}
	}
	return l
}

// ---------------------------------------------------------------------------------------
// Statistics.

const homeProvince = "14"

func provinceOf(region string) string {
	if region == "999999" {
		return region
	}
	return region[:2] + "0000"
}

func cityOf(region string) string {
	if region == "999999" {
		return region
	}
	return region[:4] + "00"
}

var oracleDims = map[string]func(c *oContract) string{
	"year": func(c *oContract) string { return c.registeredOn[:4] },
	"quarter": func(c *oContract) string {
		m, _ := strconv.Atoi(c.registeredOn[5:7])
		return fmt.Sprintf("%s-Q%d", c.registeredOn[:4], (m-1)/3+1)
	},
	"month":           func(c *oContract) string { return c.registeredOn[:7] },
	"type":            func(c *oContract) string { return c.typ },
	"subtype":         func(c *oContract) string { return c.subtype },
	"field":           func(c *oContract) string { return c.field },
	"seller_kind":     func(c *oContract) string { return c.seller.Kind },
	"buyer_kind":      func(c *oContract) string { return c.buyer.Kind },
	"seller_province": func(c *oContract) string { return provinceOf(c.seller.Region) },
	"seller_city":     func(c *oContract) string { return cityOf(c.seller.Region) },
	"buyer_province":  func(c *oContract) string { return provinceOf(c.buyer.Region) },
	"buyer_city":      func(c *oContract) string { return cityOf(c.buyer.Region) },
	"flow": func(c *oContract) string {
		in := func(p rawParty) bool { return strings.HasPrefix(p.Region, homeProvince) }
		switch s, b := in(c.seller), in(c.buyer); {
		case s && b:
			return "within"
		case s:
			return "outflow"
		case b:
			return "inflow"
		default:
			return "external"
		}
	},
}

var allDims = []string{
	"year", "quarter", "month", "type", "subtype", "field", "seller_kind", "buyer_kind",
	"seller_province", "seller_city", "buyer_province", "buyer_city", "flow",
}

// statsJSON returns the stats document of docs/domain.md (Statistics) for the query.
func (l *oLedger) statsJSON(by []string, from, to string) []byte {
	type agg struct {
		dims               []string
		count              int
		amount, tech, paid *big.Rat
	}
	groups := map[string]*agg{}
	if len(by) == 0 {
		groups[""] = &agg{amount: new(big.Rat), tech: new(big.Rat), paid: new(big.Rat)}
	}
	for _, c := range l.contracts {
		if c.revoked || from != "" && c.registeredOn < from || to != "" && c.registeredOn > to {
			continue
		}
		dims := make([]string, len(by))
		for i, d := range by {
			f, ok := oracleDims[d]
			if !ok {
				panic("oracle: unknown dimension " + d)
			}
			dims[i] = f(c)
		}
		key := strings.Join(dims, "\x00")
		g := groups[key]
		if g == nil {
			g = &agg{dims: dims, amount: new(big.Rat), tech: new(big.Rat), paid: new(big.Rat)}
			groups[key] = g
		}
		g.count++
		g.amount.Add(g.amount, c.amount)
		g.tech.Add(g.tech, c.tech)
		g.paid.Add(g.paid, c.paid)
	}
	var list []*agg
	for _, g := range groups {
		list = append(list, g)
	}
	slices.SortFunc(list, func(a, b *agg) int { return slices.Compare(a.dims, b.dims) })
	rows := []map[string]any{}
	for _, g := range list {
		row := map[string]any{"count": g.count, "amount": formatMoney(g.amount), "tech_amount": formatMoney(g.tech), "paid": formatMoney(g.paid)}
		for i, d := range by {
			row[d] = g.dims[i]
		}
		rows = append(rows, row)
	}
	b, err := json.Marshal(map[string]any{"as_of": l.asOf, "rows": rows})
	if err != nil {
		panic(err)
	}
	return b
}

// ---------------------------------------------------------------------------------------
// Rewards.

// rewardsJSON returns the rewards document of docs/domain.md (Researcher reward tallies) (year 0:
// all; institution "": all).
func (l *oLedger) rewardsJSON(year int, institution string) []byte {
	type key struct{ id, inst string }
	type agg struct {
		name      string
		amount    *big.Rat
		contracts map[string]bool
		payments  int
	}
	tally := map[key]*agg{}
	latest := map[key]string{} // a researcher's name as of the as-of point, whatever the year
	for _, p := range l.payments {
		for _, a := range p.allocs {
			latest[key{a.holder.ID, a.holder.Institution}] = a.holder.Name
		}
	}
	for _, p := range l.payments {
		if year != 0 && p.paidOn[:4] != strconv.Itoa(year) {
			continue
		}
		for _, a := range p.allocs {
			h := a.holder
			if h.Kind != "researcher" || institution != "" && h.Institution != institution {
				continue
			}
			k := key{h.ID, h.Institution}
			g := tally[k]
			if g == nil {
				g = &agg{amount: new(big.Rat), contracts: map[string]bool{}}
				tally[k] = g
			}
			g.name = latest[k]
			g.amount.Add(g.amount, a.amount)
			g.contracts[p.contractID] = true
			g.payments++
		}
	}
	keys := make([]key, 0, len(tally))
	for k := range tally {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return slices.Compare([]string{a.id, a.inst}, []string{b.id, b.inst}) })
	rows := []rewardsRow{}
	for _, k := range keys {
		g := tally[k]
		rows = append(rows, rewardsRow{ResearcherID: k.id, Name: g.name, Institution: k.inst, Amount: formatMoney(g.amount), Contracts: int64(len(g.contracts)), Payments: int64(g.payments)})
	}
	b, err := json.Marshal(map[string]any{"as_of": l.asOf, "rows": rows})
	if err != nil {
		panic(err)
	}
	return b
}

// researcherTotal is Σ of every allocation to a researcher.
func (l *oLedger) researcherTotal() *big.Rat {
	s := new(big.Rat)
	for _, p := range l.payments {
		for _, a := range p.allocs {
			if a.holder.Kind == "researcher" {
				s.Add(s, a.amount)
			}
		}
	}
	return s
}

// ---------------------------------------------------------------------------------------
// The documents, decoded strictly into one structure for both sides.

type statsRow struct {
	Dims                     []string // in the order of the query's dimensions
	Count                    int64
	Amount, TechAmount, Paid string
}

func (r statsRow) key() []string { return r.Dims }

type statsDoc struct {
	AsOf uint64
	Rows []statsRow
}

type rewardsRow struct {
	ResearcherID string `json:"researcher_id"`
	Name         string `json:"name"`
	Institution  string `json:"institution"`
	Amount       string `json:"amount"`
	Contracts    int64  `json:"contracts"`
	Payments     int64  `json:"payments"`
}

func (r rewardsRow) key() []string { return []string{r.ResearcherID, r.Institution} }

type rewardsDoc struct {
	AsOf uint64
	Rows []rewardsRow
}

var amountRe = regexp.MustCompile(`^(0|[1-9][0-9]*)\.[0-9]{2}$`)

// decodeDoc checks the envelope {"as_of": N, "rows": [...]} and returns its parts.
func decodeDoc(b []byte) (uint64, []map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return 0, nil, fmt.Errorf("not a JSON object: %v", err)
	}
	for k := range top {
		if k != "as_of" && k != "rows" {
			return 0, nil, fmt.Errorf("unexpected key %q (want as_of and rows)", k)
		}
	}
	var asOf uint64
	if raw, ok := top["as_of"]; !ok {
		return 0, nil, fmt.Errorf("as_of missing")
	} else if err := json.Unmarshal(raw, &asOf); err != nil {
		return 0, nil, fmt.Errorf("as_of %s is not a position: %v", raw, err)
	}
	raw, ok := top["rows"]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return 0, nil, fmt.Errorf("rows missing or null (want an array)")
	}
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return 0, nil, fmt.Errorf("rows is not an array of objects: %v", err)
	}
	return asOf, rows, nil
}

func checkKeys(i int, row map[string]json.RawMessage, want []string) error {
	for _, k := range want {
		if _, ok := row[k]; !ok {
			return fmt.Errorf("row %d: key %q missing", i, k)
		}
	}
	if len(row) != len(want) {
		var extra []string
		for k := range row {
			if !slices.Contains(want, k) {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		return fmt.Errorf("row %d: unexpected keys %q", i, extra)
	}
	return nil
}

func rowString(i int, row map[string]json.RawMessage, k string) (string, error) {
	var s string
	if err := json.Unmarshal(row[k], &s); err != nil {
		return "", fmt.Errorf("row %d: %s = %s is not a string", i, k, row[k])
	}
	return s, nil
}

func rowAmount(i int, row map[string]json.RawMessage, k string) (string, error) {
	s, err := rowString(i, row, k)
	if err == nil && !amountRe.MatchString(s) {
		err = fmt.Errorf("row %d: %s = %q is not an amount with exactly two decimals", i, k, s)
	}
	return s, err
}

func rowCount(i int, row map[string]json.RawMessage, k string) (int64, error) {
	var n int64
	if err := json.Unmarshal(row[k], &n); err != nil || n < 0 {
		return 0, fmt.Errorf("row %d: %s = %s is not a count", i, k, row[k])
	}
	return n, nil
}

func decodeStats(b []byte, by []string) (statsDoc, error) {
	asOf, rows, err := decodeDoc(b)
	if err != nil {
		return statsDoc{}, err
	}
	doc := statsDoc{AsOf: asOf, Rows: []statsRow{}}
	keys := append(slices.Clone(by), "count", "amount", "tech_amount", "paid")
	for i, row := range rows {
		if err := checkKeys(i, row, keys); err != nil {
			return doc, err
		}
		r := statsRow{Dims: []string{}}
		for _, d := range by {
			v, err := rowString(i, row, d)
			if err != nil {
				return doc, err
			}
			r.Dims = append(r.Dims, v)
		}
		if r.Count, err = rowCount(i, row, "count"); err != nil {
			return doc, err
		}
		if r.Amount, err = rowAmount(i, row, "amount"); err != nil {
			return doc, err
		}
		if r.TechAmount, err = rowAmount(i, row, "tech_amount"); err != nil {
			return doc, err
		}
		if r.Paid, err = rowAmount(i, row, "paid"); err != nil {
			return doc, err
		}
		doc.Rows = append(doc.Rows, r)
	}
	return doc, nil
}

func decodeRewards(b []byte) (rewardsDoc, error) {
	asOf, rows, err := decodeDoc(b)
	if err != nil {
		return rewardsDoc{}, err
	}
	doc := rewardsDoc{AsOf: asOf, Rows: []rewardsRow{}}
	for i, row := range rows {
		if err := checkKeys(i, row, []string{"researcher_id", "name", "institution", "amount", "contracts", "payments"}); err != nil {
			return doc, err
		}
		var r rewardsRow
		if r.ResearcherID, err = rowString(i, row, "researcher_id"); err != nil {
			return doc, err
		}
		if r.Name, err = rowString(i, row, "name"); err != nil {
			return doc, err
		}
		if r.Institution, err = rowString(i, row, "institution"); err != nil {
			return doc, err
		}
		if r.Amount, err = rowAmount(i, row, "amount"); err != nil {
			return doc, err
		}
		if r.Contracts, err = rowCount(i, row, "contracts"); err != nil {
			return doc, err
		}
		if r.Payments, err = rowCount(i, row, "payments"); err != nil {
			return doc, err
		}
		doc.Rows = append(doc.Rows, r)
	}
	return doc, nil
}

// diffRows lists how got differs from want: rows missing, extra or different (matched by
// key), and rows of got out of order. It returns nil when they are equal.
func diffRows[R interface{ key() []string }](want, got []R) []string {
	var out []string
	for i := 1; i < len(got); i++ {
		if slices.Compare(got[i-1].key(), got[i].key()) >= 0 {
			out = append(out, fmt.Sprintf("rows %d and %d out of order or duplicated: %q, %q", i-1, i, got[i-1].key(), got[i].key()))
		}
	}
	index := func(rows []R) map[string]R {
		m := map[string]R{}
		for _, r := range rows {
			m[strings.Join(r.key(), "\x00")] = r
		}
		return m
	}
	w, g := index(want), index(got)
	var keys []string
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		wr, inW := w[k]
		gr, inG := g[k]
		switch {
		case !inG:
			out = append(out, fmt.Sprintf("missing row %+v", wr))
		case !inW:
			out = append(out, fmt.Sprintf("unexpected row %+v", gr))
		case !reflect.DeepEqual(wr, gr):
			out = append(out, fmt.Sprintf("row %q:\n\twant %+v\n\tgot  %+v", wr.key(), wr, gr))
		}
	}
	return out
}

func reportDiff(t testing.TB, label string, wantAsOf, gotAsOf uint64, diffs []string) {
	t.Helper()
	if wantAsOf != gotAsOf {
		t.Errorf("%s: as_of = %d, want %d", label, gotAsOf, wantAsOf)
	}
	if len(diffs) == 0 {
		return
	}
	const show = 8
	msg := diffs
	if len(msg) > show {
		msg = append(slices.Clone(msg[:show]), fmt.Sprintf("… and %d more", len(diffs)-show))
	}
	t.Errorf("%s: %d differences:\n%s", label, len(diffs), strings.Join(msg, "\n"))
}

func compareStats(t testing.TB, label string, want statsDoc, gotJSON []byte, by []string) {
	t.Helper()
	got, err := decodeStats(gotJSON, by)
	if err != nil {
		t.Errorf("%s: stats document: %v\n%.500s", label, err, gotJSON)
		return
	}
	reportDiff(t, label, want.AsOf, got.AsOf, diffRows(want.Rows, got.Rows))
}

func compareRewards(t testing.TB, label string, want rewardsDoc, gotJSON []byte) {
	t.Helper()
	got, err := decodeRewards(gotJSON)
	if err != nil {
		t.Errorf("%s: rewards document: %v\n%.500s", label, err, gotJSON)
		return
	}
	reportDiff(t, label, want.AsOf, got.AsOf, diffRows(want.Rows, got.Rows))
}

func mustStats(t testing.TB, b []byte, by []string) statsDoc {
	t.Helper()
	d, err := decodeStats(b, by)
	if err != nil {
		t.Fatalf("oracle stats document: %v", err)
	}
	return d
}

func mustRewards(t testing.TB, b []byte) rewardsDoc {
	t.Helper()
	d, err := decodeRewards(b)
	if err != nil {
		t.Fatalf("oracle rewards document: %v", err)
	}
	return d
}

// ---------------------------------------------------------------------------------------
// Datasets: the same NDJSON parsed for the oracle and imported into a memstore.

type dataset struct {
	name    string
	cmds    []rawCommand    // cmds[i] was applied at position i+1
	records []ledger.Record // records[i] is at position i+1
	store   *memstore.Store
}

func (d *dataset) head() int { return len(d.cmds) }

// loadDataset imports ndjson into a new memstore and checks that every line was applied as
// exactly one event: no rejection, no duplicate, the k-th line at position k.
func loadDataset(t testing.TB, name string, ndjson []byte) *dataset {
	t.Helper()
	cmds, err := parseCommands(ndjson)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	ctx := context.Background()
	store := memstore.New()
	h := commands.NewHandler(store)
	h.Now = func() time.Time { return time.Date(2026, time.June, 1, 12, 0, 0, 0, time.UTC) }
	var progressErr string
	progress := func(line int, s *commands.Summary) {
		if progressErr == "" && (s.Applied != line || s.Rejected != 0 || s.Duplicates != 0 || s.LastPosition != ledger.Position(line)) {
			progressErr = fmt.Sprintf("after line %d: applied %d, rejected %d, duplicates %d, last position %d", line, s.Applied, s.Rejected, s.Duplicates, s.LastPosition)
		}
	}
	sum, err := commands.Import(ctx, bytes.NewReader(ndjson), h, commands.Actor{Name: "oracle-test", Role: "registrar"}, progress)
	if err != nil {
		t.Fatalf("%s: import: %v", name, err)
	}
	if sum.Rejected != 0 || sum.Duplicates != 0 {
		var errs []string
		for _, e := range sum.Errors[:min(5, len(sum.Errors))] {
			errs = append(errs, e.Error())
		}
		t.Fatalf("%s: import: %d rejected, %d duplicates, want none:\n%s", name, sum.Rejected, sum.Duplicates, strings.Join(errs, "\n"))
	}
	if progressErr != "" {
		t.Fatalf("%s: import: each line must append exactly one event: %s", name, progressErr)
	}
	if sum.Applied != len(cmds) || sum.LastPosition != ledger.Position(len(cmds)) {
		t.Fatalf("%s: import: applied %d, last position %d, want %d and %d", name, sum.Applied, sum.LastPosition, len(cmds), len(cmds))
	}
	if head, err := store.Head(ctx); err != nil || head != ledger.Position(len(cmds)) {
		t.Fatalf("%s: head %d (%v), want %d", name, head, err, len(cmds))
	}
	d := &dataset{name: name, cmds: cmds, store: store}
	for rec, err := range store.ReadAll(ctx, 1) {
		if err != nil {
			t.Fatalf("%s: read: %v", name, err)
		}
		i := len(d.records)
		if i >= len(cmds) || rec.Position != ledger.Position(i+1) || rec.Metadata.CommandID != cmds[i].CommandID || rec.Stream != ledger.ContractStream(cmds[i].ContractID) {
			t.Fatalf("%s: record at position %d (command %q, stream %s) is not line %d's event", name, rec.Position, rec.Metadata.CommandID, rec.Stream, i+1)
		}
		d.records = append(d.records, rec)
	}
	if len(d.records) != len(cmds) {
		t.Fatalf("%s: %d records for %d commands", name, len(d.records), len(cmds))
	}
	return d
}

// The generated datasets: a few seeds, enough contracts for every dimension value to turn up
// while the whole file stays fast under -race.
var oracleSeeds = []uint64{1, 17, 2024}

const oracleContracts = 300

var (
	datasetsMu sync.Mutex
	datasets   = map[uint64]*dataset{}
)

func sampleDataset(t testing.TB, seed uint64) *dataset {
	t.Helper()
	datasetsMu.Lock()
	defer datasetsMu.Unlock()
	if d := datasets[seed]; d != nil {
		return d
	}
	var buf bytes.Buffer
	if _, err := sample.Write(&buf, sample.Config{Seed: seed, Contracts: oracleContracts}); err != nil {
		t.Fatal(err)
	}
	d := loadDataset(t, fmt.Sprintf("seed %d", seed), buf.Bytes())
	datasets[seed] = d
	return d
}

// forEachSeed runs f in a parallel subtest per seed. The datasets are shared read-only.
func forEachSeed(t *testing.T, f func(t *testing.T, d *dataset)) {
	for _, seed := range oracleSeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			f(t, sampleDataset(t, seed))
		})
	}
}

// ---------------------------------------------------------------------------------------
// Queries.

type statsCase struct {
	by       []string
	from, to string
}

func (q statsCase) String() string {
	by := strings.Join(q.by, "+")
	if by == "" {
		by = "none"
	}
	return fmt.Sprintf("by=%s,from=%s,to=%s", by, q.from, q.to)
}

// statsCases: every dimension alone, open and in a closed range; no dimension over open,
// half-open, closed, single-day and empty ranges; combinations of two and three.
func statsCases() []statsCase {
	var cs []statsCase
	ranges := [][2]string{{"", ""}, {"2021-03-01", "2023-05-15"}, {"2022-01-01", ""}, {"", "2023-08-15"}}
	for i, d := range allDims {
		cs = append(cs, statsCase{by: []string{d}})
		r := ranges[1+i%(len(ranges)-1)]
		cs = append(cs, statsCase{by: []string{d}, from: r[0], to: r[1]})
	}
	for _, r := range [][2]string{
		{"", ""}, {"2022-01-01", ""}, {"", "2020-12-31"}, {"2021-03-01", "2023-05-15"},
		{"2023-05-15", "2023-05-15"}, {"2024-02-29", "2024-02-29"}, {"2030-01-01", ""}, {"", "2018-12-31"},
	} {
		cs = append(cs, statsCase{from: r[0], to: r[1]})
	}
	for _, by := range [][]string{
		{"year", "type"}, {"quarter", "flow"}, {"seller_province", "buyer_province"}, {"type", "field"},
		{"type", "subtype", "field"}, {"year", "seller_kind", "buyer_city"}, {"flow", "seller_city", "month"},
	} {
		cs = append(cs, statsCase{by: by}, statsCase{by: by, from: "2022-04-01", to: "2024-08-20"})
	}
	return cs
}

// asOfPositions picks positions of interest in d: the first, the middle, the last two, and
// just before and at the first and the last revocation, the first and the last amendment,
// the first reclassification (type or field), the first proceeds assignment that follows a
// payment of its contract, and the next payment of that contract. 0 stands for the head.
func asOfPositions(t testing.TB, d *dataset) []int {
	t.Helper()
	n := d.head()
	ps := []int{0, 1, n / 2, n - 1, n}
	firstRevoke, firstAmend, firstReclass, reassign, nextPay, lastRevoke, lastAmend := 0, 0, 0, 0, 0, 0, 0
	paidBefore := map[string]bool{}
	for i, c := range d.cmds {
		pos := i + 1
		switch c.Command {
		case "revoke_contract":
			if firstRevoke == 0 {
				firstRevoke = pos
			}
			lastRevoke = pos
		case "amend_contract":
			if firstAmend == 0 {
				firstAmend = pos
			}
			lastAmend = pos
			if firstReclass == 0 && (c.Type != nil || c.Field != nil) {
				firstReclass = pos
			}
		case "assign_rights":
			if reassign == 0 && c.Right == "proceeds" && paidBefore[c.ContractID] {
				reassign = pos
			}
		case "record_payment":
			if reassign != 0 && nextPay == 0 && c.ContractID == d.cmds[reassign-1].ContractID {
				nextPay = pos
			}
			paidBefore[c.ContractID] = true
		}
	}
	if firstRevoke == 0 || firstAmend == 0 || reassign == 0 || nextPay == 0 {
		t.Fatalf("%s lacks a revocation (%d), an amendment (%d), or a proceeds assignment after a payment followed by another payment (%d, %d)", d.name, firstRevoke, firstAmend, reassign, nextPay)
	}
	if firstReclass == 0 {
		firstReclass = firstAmend
	}
	for _, p := range []int{firstRevoke, lastRevoke, firstAmend, lastAmend, firstReclass, reassign, nextPay} {
		ps = append(ps, p-1, p)
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}

// rewardYears returns the years of paid_on in d, plus one year without payments.
func rewardYears(d *dataset) []int {
	seen := map[int]bool{}
	for _, c := range d.cmds {
		if c.Command == "record_payment" {
			y, _ := strconv.Atoi(c.PaidOn[:4])
			seen[y] = true
		}
	}
	var ys []int
	for y := range seen {
		ys = append(ys, y)
	}
	slices.Sort(ys)
	return append(ys, 2031)
}

// rewardInstitutions returns the researchers' institutions in d, the most allocated first,
// then the least.
func rewardInstitutions(l *oLedger) (most, least string) {
	n := map[string]int{}
	for _, p := range l.payments {
		for _, a := range p.allocs {
			if a.holder.Kind == "researcher" {
				n[a.holder.Institution]++
			}
		}
	}
	var insts []string
	for k := range n {
		insts = append(insts, k)
	}
	slices.SortFunc(insts, func(a, b string) int {
		if n[a] != n[b] {
			return n[b] - n[a]
		}
		return strings.Compare(a, b)
	})
	if len(insts) == 0 {
		return "", ""
	}
	return insts[0], insts[len(insts)-1]
}

// ---------------------------------------------------------------------------------------
// The hand-written scenario.
//
//	pos  command
//	 1   register A 2023140101000001 development/commissioned/advanced_manufacturing,
//	     2023-02-10, 100000.00 (tech 80000.00), 太原理工大学 (140100) → enterprise (140400)
//	 2   register C 2023140101000002 transfer/patent_right/environment, 2023-05-20,
//	     500000.00 (500000.00), individual (110105 北京) → enterprise (140400)
//	 3   pay A P-1 30000.00, costs 0.00, 2023-03-01        (no proceeds yet: all to the seller)
//	 4   proceeds A: institution 0.30, R-001 张三 0.49, R-002 李四 0.21 (太原理工大学),
//	     effective_on 2024-06-01 (after the next payment's paid_on: it applies all the same)
//	 5   proceeds C: R-003 王五 0.3333, R-001 张三 0.3333, R-004 孙七 0.3334 (all 山西大学)
//	 6   pay C P-1 0.05, no costs, 2023-06-01               → 0.02, 0.01, 0.02 (tie: R-003 first)
//	 7   register D 2023140101000003 consulting/feasibility/agriculture, 2023-08-01,
//	     20000.00 (15000.00), enterprise (140400) → foreign enterprise (999999)
//	 8   pay D P-1 5000.00, costs 500.00, 2023-09-01        (all to the seller)
//	 9   amend A: service/general/new_energy (amounts kept)
//	10   revoke D
//	11   pay A P-2 1200.01, costs 200.00, 2024-01-15        net 1000.01 → 300.00, 490.01, 210.00
//	12   pay C P-2 200000.00, costs 20000.00, 2024-03-10    net 180000.00 → 59994.00, 59994.00, 60012.00
//	13   register E 2022140101000004 development/cooperative/electronic_information,
//	     2022-11-30, 300000.00 (300000.00), foreign enterprise (999999) → individual (110105)
//	14   pay E P-1 100000.00, costs 0.00, 2022-12-20        (all to the seller)
//	15   amend E: amount 350000.00 (tech kept)
//	16   proceeds E: R-005 赵六 1.00 (太原理工大学)
//	17   pay E P-2 1000.00, costs 1000.00, 2023-01-05       net 0.00 → R-005 0.00
//	18   proceeds C again: R-003 renamed 王伍 0.5, R-004 孙七 0.5 (R-001 dropped)
//	19   pay C P-3 100.01, costs 0.00, 2024-07-01           → 50.01, 50.00 (tie: R-003 first)
var handScenario = []string{
	`{"command":"register_contract","command_id":"h-01","contract_id":"2023140101000001","title":"数控机床远程运维系统开发","type":"development","subtype":"commissioned","signed_on":"2023-02-01","registered_on":"2023-02-10","amount":"100000.00","tech_amount":"80000.00","field":"advanced_manufacturing","seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},"buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"intermediary":null,"ip_types":[]}`,
	`{"command":"register_contract","command_id":"h-02","contract_id":"2023140101000002","title":"煤矸石综合利用专利权转让","type":"transfer","subtype":"patent_right","signed_on":"2023-05-10","registered_on":"2023-05-20","amount":"500000.00","tech_amount":"500000.00","field":"environment","seller":{"id":"P-100","name":"周八","kind":"individual","region":"110105"},"buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"intermediary":null,"ip_types":["patent"]}`,
	`{"command":"record_payment","command_id":"h-03","contract_id":"2023140101000001","payment_id":"P-1","amount":"30000.00","costs":"0.00","paid_on":"2023-03-01"}`,
	`{"command":"assign_rights","command_id":"h-04","contract_id":"2023140101000001","right":"proceeds","effective_on":"2024-06-01","holders":[{"id":"12140000405000025X","name":"太原理工大学","kind":"institution","share":"0.30"},{"id":"R-001","name":"张三","kind":"researcher","institution":"太原理工大学","share":"0.49"},{"id":"R-002","name":"李四","kind":"researcher","institution":"太原理工大学","share":"0.21"}]}`,
	`{"command":"assign_rights","command_id":"h-05","contract_id":"2023140101000002","right":"proceeds","effective_on":"2023-05-20","holders":[{"id":"R-003","name":"王五","kind":"researcher","institution":"山西大学","share":"0.3333"},{"id":"R-001","name":"张三","kind":"researcher","institution":"山西大学","share":"0.3333"},{"id":"R-004","name":"孙七","kind":"researcher","institution":"山西大学","share":"0.3334"}]}`,
	`{"command":"record_payment","command_id":"h-06","contract_id":"2023140101000002","payment_id":"P-1","amount":"0.05","paid_on":"2023-06-01"}`,
	`{"command":"register_contract","command_id":"h-07","contract_id":"2023140101000003","title":"谷子新品种推广可行性论证","type":"consulting","subtype":"feasibility","signed_on":"2023-07-20","registered_on":"2023-08-01","amount":"20000.00","tech_amount":"15000.00","field":"agriculture","seller":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"buyer":{"id":"F-1","name":"Acme GmbH","kind":"foreign_enterprise","region":"999999"},"intermediary":null,"ip_types":[]}`,
	`{"command":"record_payment","command_id":"h-08","contract_id":"2023140101000003","payment_id":"P-1","amount":"5000.00","costs":"500.00","paid_on":"2023-09-01"}`,
	`{"command":"amend_contract","command_id":"h-09","contract_id":"2023140101000001","type":"service","subtype":"general","field":"new_energy","reason":"合同性质认定更正"}`,
	`{"command":"revoke_contract","command_id":"h-10","contract_id":"2023140101000003","reason":"重复登记"}`,
	`{"command":"record_payment","command_id":"h-11","contract_id":"2023140101000001","payment_id":"P-2","amount":"1200.01","costs":"200.00","paid_on":"2024-01-15"}`,
	`{"command":"record_payment","command_id":"h-12","contract_id":"2023140101000002","payment_id":"P-2","amount":"200000.00","costs":"20000.00","paid_on":"2024-03-10"}`,
	`{"command":"register_contract","command_id":"h-13","contract_id":"2022140101000004","title":"工业视觉检测算法合作开发","type":"development","subtype":"cooperative","signed_on":"2022-11-20","registered_on":"2022-11-30","amount":"300000.00","tech_amount":"300000.00","field":"electronic_information","seller":{"id":"F-2","name":"Globex Ltd","kind":"foreign_enterprise","region":"999999"},"buyer":{"id":"P-200","name":"吴九","kind":"individual","region":"110105"},"intermediary":null,"ip_types":[]}`,
	`{"command":"record_payment","command_id":"h-14","contract_id":"2022140101000004","payment_id":"P-1","amount":"100000.00","costs":"0.00","paid_on":"2022-12-20"}`,
	`{"command":"amend_contract","command_id":"h-15","contract_id":"2022140101000004","amount":"350000.00","reason":"补充协议"}`,
	`{"command":"assign_rights","command_id":"h-16","contract_id":"2022140101000004","right":"proceeds","effective_on":"2023-01-01","holders":[{"id":"R-005","name":"赵六","kind":"researcher","institution":"太原理工大学","share":"1.00"}]}`,
	`{"command":"record_payment","command_id":"h-17","contract_id":"2022140101000004","payment_id":"P-2","amount":"1000.00","costs":"1000.00","paid_on":"2023-01-05"}`,
	`{"command":"assign_rights","command_id":"h-18","contract_id":"2023140101000002","right":"proceeds","effective_on":"2024-06-01","holders":[{"id":"R-003","name":"王伍","kind":"researcher","institution":"山西大学","share":"0.5"},{"id":"R-004","name":"孙七","kind":"researcher","institution":"山西大学","share":"0.5"}]}`,
	`{"command":"record_payment","command_id":"h-19","contract_id":"2023140101000002","payment_id":"P-3","amount":"100.01","costs":"0.00","paid_on":"2024-07-01"}`,
}

func sr(dims []string, count int64, amount, tech, paid string) statsRow {
	if dims == nil {
		dims = []string{}
	}
	return statsRow{Dims: dims, Count: count, Amount: amount, TechAmount: tech, Paid: paid}
}

type handStats struct {
	statsCase
	asOf int
	want statsDoc
}

// handStatsCases are the scenario's statistics, computed by hand.
var handStatsCases = []handStats{
	{statsCase{}, 0, statsDoc{19, []statsRow{sr(nil, 3, "950000.00", "880000.00", "332300.07")}}},
	{statsCase{by: []string{"type"}}, 0, statsDoc{19, []statsRow{
		sr([]string{"development"}, 1, "350000.00", "300000.00", "101000.00"),
		sr([]string{"service"}, 1, "100000.00", "80000.00", "31200.01"),
		sr([]string{"transfer"}, 1, "500000.00", "500000.00", "200100.06"),
	}}},
	{statsCase{by: []string{"flow"}}, 0, statsDoc{19, []statsRow{
		sr([]string{"external"}, 1, "350000.00", "300000.00", "101000.00"),
		sr([]string{"inflow"}, 1, "500000.00", "500000.00", "200100.06"),
		sr([]string{"within"}, 1, "100000.00", "80000.00", "31200.01"),
	}}},
	{statsCase{by: []string{"quarter"}}, 0, statsDoc{19, []statsRow{
		sr([]string{"2022-Q4"}, 1, "350000.00", "300000.00", "101000.00"),
		sr([]string{"2023-Q1"}, 1, "100000.00", "80000.00", "31200.01"),
		sr([]string{"2023-Q2"}, 1, "500000.00", "500000.00", "200100.06"),
	}}},
	{statsCase{by: []string{"month", "subtype"}}, 0, statsDoc{19, []statsRow{
		sr([]string{"2022-11", "cooperative"}, 1, "350000.00", "300000.00", "101000.00"),
		sr([]string{"2023-02", "general"}, 1, "100000.00", "80000.00", "31200.01"),
		sr([]string{"2023-05", "patent_right"}, 1, "500000.00", "500000.00", "200100.06"),
	}}},
	{statsCase{by: []string{"seller_province", "buyer_city"}}, 0, statsDoc{19, []statsRow{
		sr([]string{"110000", "140400"}, 1, "500000.00", "500000.00", "200100.06"),
		sr([]string{"140000", "140400"}, 1, "100000.00", "80000.00", "31200.01"),
		sr([]string{"999999", "110100"}, 1, "350000.00", "300000.00", "101000.00"),
	}}},
	{statsCase{by: []string{"seller_city", "buyer_province"}}, 0, statsDoc{19, []statsRow{
		sr([]string{"110100", "140000"}, 1, "500000.00", "500000.00", "200100.06"),
		sr([]string{"140100", "140000"}, 1, "100000.00", "80000.00", "31200.01"),
		sr([]string{"999999", "110000"}, 1, "350000.00", "300000.00", "101000.00"),
	}}},
	{statsCase{by: []string{"buyer_kind", "seller_kind", "subtype"}}, 0, statsDoc{19, []statsRow{
		sr([]string{"enterprise", "individual", "patent_right"}, 1, "500000.00", "500000.00", "200100.06"),
		sr([]string{"enterprise", "university", "general"}, 1, "100000.00", "80000.00", "31200.01"),
		sr([]string{"individual", "foreign_enterprise", "cooperative"}, 1, "350000.00", "300000.00", "101000.00"),
	}}},
	// As of 1: A alone, nothing paid.
	{statsCase{}, 1, statsDoc{1, []statsRow{sr(nil, 1, "100000.00", "80000.00", "0.00")}}},
	// As of 8 (before the amendment of A) and 9 (after it): A moves from development /
	// advanced_manufacturing to service / new_energy; D (revoked at 10) still counts.
	{statsCase{by: []string{"type", "field"}}, 8, statsDoc{8, []statsRow{
		sr([]string{"consulting", "agriculture"}, 1, "20000.00", "15000.00", "5000.00"),
		sr([]string{"development", "advanced_manufacturing"}, 1, "100000.00", "80000.00", "30000.00"),
		sr([]string{"transfer", "environment"}, 1, "500000.00", "500000.00", "0.05"),
	}}},
	{statsCase{by: []string{"type", "field"}}, 9, statsDoc{9, []statsRow{
		sr([]string{"consulting", "agriculture"}, 1, "20000.00", "15000.00", "5000.00"),
		sr([]string{"service", "new_energy"}, 1, "100000.00", "80000.00", "30000.00"),
		sr([]string{"transfer", "environment"}, 1, "500000.00", "500000.00", "0.05"),
	}}},
	{statsCase{by: []string{"flow"}}, 9, statsDoc{9, []statsRow{
		sr([]string{"inflow"}, 1, "500000.00", "500000.00", "0.05"),
		sr([]string{"outflow"}, 1, "20000.00", "15000.00", "5000.00"),
		sr([]string{"within"}, 1, "100000.00", "80000.00", "30000.00"),
	}}},
	// As of 10: D revoked, its payment no longer counted.
	{statsCase{}, 10, statsDoc{10, []statsRow{sr(nil, 2, "600000.00", "580000.00", "30000.05")}}},
	// As of 14 (before E's amendment) and 15 (after).
	{statsCase{by: []string{"year"}}, 14, statsDoc{14, []statsRow{
		sr([]string{"2022"}, 1, "300000.00", "300000.00", "100000.00"),
		sr([]string{"2023"}, 2, "600000.00", "580000.00", "231200.06"),
	}}},
	{statsCase{by: []string{"year"}}, 15, statsDoc{15, []statsRow{
		sr([]string{"2022"}, 1, "350000.00", "300000.00", "100000.00"),
		sr([]string{"2023"}, 2, "600000.00", "580000.00", "231200.06"),
	}}},
	// Date ranges, both ends inclusive.
	{statsCase{from: "2023-05-20"}, 0, statsDoc{19, []statsRow{sr(nil, 1, "500000.00", "500000.00", "200100.06")}}},
	{statsCase{by: []string{"year"}, to: "2023-02-10"}, 0, statsDoc{19, []statsRow{
		sr([]string{"2022"}, 1, "350000.00", "300000.00", "101000.00"),
		sr([]string{"2023"}, 1, "100000.00", "80000.00", "31200.01"),
	}}},
	{statsCase{from: "2023-01-01", to: "2023-05-19"}, 0, statsDoc{19, []statsRow{sr(nil, 1, "100000.00", "80000.00", "31200.01")}}},
	{statsCase{from: "2024-01-01"}, 0, statsDoc{19, []statsRow{sr(nil, 0, "0.00", "0.00", "0.00")}}},
	{statsCase{by: []string{"type"}, from: "2024-01-01"}, 0, statsDoc{19, []statsRow{}}},
}

type handRewards struct {
	year        int
	institution string
	asOf        int
	want        rewardsDoc
}

func rr(id, name, inst, amount string, contracts, payments int64) rewardsRow {
	return rewardsRow{ResearcherID: id, Name: name, Institution: inst, Amount: amount, Contracts: contracts, Payments: payments}
}

// handRewardsCases are the scenario's rewards, computed by hand. "太原理工大学" sorts before
// "山西大学" (U+592A < U+5C71).
var handRewardsCases = []handRewards{
	{0, "", 0, rewardsDoc{19, []rewardsRow{
		rr("R-001", "张三", "太原理工大学", "490.01", 1, 1),
		rr("R-001", "张三", "山西大学", "59994.01", 1, 2),
		rr("R-002", "李四", "太原理工大学", "210.00", 1, 1),
		rr("R-003", "王伍", "山西大学", "60044.03", 1, 3),
		rr("R-004", "孙七", "山西大学", "60062.02", 1, 3),
		rr("R-005", "赵六", "太原理工大学", "0.00", 1, 1),
	}}},
	// Before R-003's rename.
	{0, "", 17, rewardsDoc{17, []rewardsRow{
		rr("R-001", "张三", "太原理工大学", "490.01", 1, 1),
		rr("R-001", "张三", "山西大学", "59994.01", 1, 2),
		rr("R-002", "李四", "太原理工大学", "210.00", 1, 1),
		rr("R-003", "王五", "山西大学", "59994.02", 1, 2),
		rr("R-004", "孙七", "山西大学", "60012.02", 1, 2),
		rr("R-005", "赵六", "太原理工大学", "0.00", 1, 1),
	}}},
	// R-003's only 2023 allocation carries the old name 王五, but a report names people as
	// they are known at its as-of point, whatever the year it covers: 王伍 (renamed in 2024).
	{2023, "", 0, rewardsDoc{19, []rewardsRow{
		rr("R-001", "张三", "山西大学", "0.01", 1, 1),
		rr("R-003", "王伍", "山西大学", "0.02", 1, 1),
		rr("R-004", "孙七", "山西大学", "0.02", 1, 1),
		rr("R-005", "赵六", "太原理工大学", "0.00", 1, 1),
	}}},
	{2024, "", 0, rewardsDoc{19, []rewardsRow{
		rr("R-001", "张三", "太原理工大学", "490.01", 1, 1),
		rr("R-001", "张三", "山西大学", "59994.00", 1, 1),
		rr("R-002", "李四", "太原理工大学", "210.00", 1, 1),
		rr("R-003", "王伍", "山西大学", "60044.01", 1, 2),
		rr("R-004", "孙七", "山西大学", "60062.00", 1, 2),
	}}},
	{2022, "", 0, rewardsDoc{19, []rewardsRow{}}},
	{0, "山西大学", 0, rewardsDoc{19, []rewardsRow{
		rr("R-001", "张三", "山西大学", "59994.01", 1, 2),
		rr("R-003", "王伍", "山西大学", "60044.03", 1, 3),
		rr("R-004", "孙七", "山西大学", "60062.02", 1, 3),
	}}},
	{2024, "太原理工大学", 0, rewardsDoc{19, []rewardsRow{
		rr("R-001", "张三", "太原理工大学", "490.01", 1, 1),
		rr("R-002", "李四", "太原理工大学", "210.00", 1, 1),
	}}},
	{0, "", 5, rewardsDoc{5, []rewardsRow{}}},
	{0, "", 10, rewardsDoc{10, []rewardsRow{
		rr("R-001", "张三", "山西大学", "0.01", 1, 1),
		rr("R-003", "王五", "山西大学", "0.02", 1, 1),
		rr("R-004", "孙七", "山西大学", "0.02", 1, 1),
	}}},
}

func handDataset(t testing.TB) *dataset {
	t.Helper()
	return loadDataset(t, "hand scenario", []byte(strings.Join(handScenario, "\n")+"\n"))
}

func (h handStats) label() string { return fmt.Sprintf("%v,as_of=%d", h.statsCase, h.asOf) }

func (h handRewards) label() string {
	return fmt.Sprintf("year=%d,institution=%q,as_of=%d", h.year, h.institution, h.asOf)
}

// ---------------------------------------------------------------------------------------
// Oracle-only tests.

// TestOracleAllocateExamples checks the allocation rule on cases worked out by hand.
func TestOracleAllocateExamples(t *testing.T) {
	for _, tc := range []struct {
		net    string
		shares []string
		want   []string
	}{
		{"0.05", []string{"0.3333", "0.3333", "0.3334"}, []string{"0.02", "0.01", "0.02"}},
		{"0.02", []string{"0.3333", "0.3333", "0.3334"}, []string{"0.01", "0.00", "0.01"}},
		{"1000.01", []string{"0.30", "0.49", "0.21"}, []string{"300.00", "490.01", "210.00"}},
		{"0.01", []string{"0.5", "0.5"}, []string{"0.01", "0.00"}},
		{"0.03", []string{"0.25", "0.25", "0.25", "0.25"}, []string{"0.01", "0.01", "0.01", "0.00"}},
		{"0.00", []string{"1"}, []string{"0.00"}},
		{"180000.00", []string{"0.3333", "0.3333", "0.3334"}, []string{"59994.00", "59994.00", "60012.00"}},
		{"99.99", []string{"0.0001", "0.9999"}, []string{"0.01", "99.98"}},
	} {
		shares := make([]*big.Rat, len(tc.shares))
		for i, s := range tc.shares {
			shares[i] = money(s)
		}
		var got []string
		for _, a := range oracleAllocate(money(tc.net), shares) {
			got = append(got, formatMoney(a))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("allocate %s by %v = %v, want %v", tc.net, tc.shares, got, tc.want)
		}
	}
}

// randomAllocation draws a net amount (in fen) and shares in basis points summing to 10000.
func randomAllocation(rng *rand.Rand) (netFen int64, bps []int64) {
	switch rng.IntN(3) {
	case 0:
		netFen = rng.Int64N(1000)
	case 1:
		netFen = rng.Int64N(100_000_000)
	default:
		netFen = rng.Int64N(10_000_000_000_000) // up to 1e11 yuan
	}
	n := 1 + rng.IntN(12)
	cuts := map[int64]bool{}
	for len(cuts) < n-1 {
		cuts[1+rng.Int64N(9999)] = true
	}
	points := []int64{0, 10000}
	for c := range cuts {
		points = append(points, c)
	}
	slices.Sort(points)
	for i := 1; i < len(points); i++ {
		bps = append(bps, points[i]-points[i-1])
	}
	return netFen, bps
}

// TestOracleAllocateProperty checks, on random nets and shares, that the allocation sums to
// the net exactly, that each part is within one fen of net×share (floor or floor + 1 fen),
// and that the extra fens went to the largest remainders, ties to the earlier holder.
func TestOracleAllocateProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2024))
	fen := big.NewRat(1, 100)
	for iter := range 3000 {
		netFen, bps := randomAllocation(rng)
		net := big.NewRat(netFen, 100)
		shares := make([]*big.Rat, len(bps))
		for i, b := range bps {
			shares[i] = big.NewRat(b, 10000)
		}
		parts := oracleAllocate(net, shares)
		if s := sumRats(parts...); s.Cmp(net) != 0 {
			t.Fatalf("case %d: net %s by %v: parts sum to %s", iter, formatMoney(net), bps, s.FloatString(4))
		}
		extra := make([]bool, len(parts))
		rest := make([]*big.Rat, len(parts))
		for i, p := range parts {
			exact := new(big.Rat).Mul(net, shares[i])
			floorFen := new(big.Int).Quo(new(big.Rat).Mul(exact, hundred).Num(), new(big.Rat).Mul(exact, hundred).Denom())
			floor := new(big.Rat).SetFrac(floorFen, big.NewInt(100))
			rest[i] = new(big.Rat).Sub(exact, floor)
			switch d := new(big.Rat).Sub(p, floor); {
			case d.Sign() == 0:
			case d.Cmp(fen) == 0:
				extra[i] = true
			default:
				t.Fatalf("case %d: part %d = %s, net×share = %s: not floor or floor + 1 fen", iter, i, formatMoney(p), exact.FloatString(6))
			}
			if diff := new(big.Rat).Sub(p, exact); new(big.Rat).Abs(diff).Cmp(fen) >= 0 {
				t.Fatalf("case %d: part %d = %s is a fen or more from %s", iter, i, formatMoney(p), exact.FloatString(6))
			}
		}
		for i := range parts {
			for j := range parts {
				if extra[i] && !extra[j] {
					if c := rest[i].Cmp(rest[j]); c < 0 || c == 0 && i > j {
						t.Fatalf("case %d: holder %d got the extra fen (remainder %s) before holder %d (remainder %s)", iter, i, rest[i].FloatString(6), j, rest[j].FloatString(6))
					}
				}
			}
		}
	}
}

// TestOracleAllocateAgreesWithCommands checks the oracle's allocation against the one the
// command side fixes in PaymentRecorded events (commands.Allocate), on random inputs.
func TestOracleAllocateAgreesWithCommands(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2025))
	for iter := range 2000 {
		netFen, bps := randomAllocation(rng)
		shares := make([]*big.Rat, len(bps))
		holders := make([]ledger.Holder, len(bps))
		for i, b := range bps {
			shares[i] = big.NewRat(b, 10000)
			s := decimal.New(b, -4)
			holders[i] = ledger.Holder{ID: fmt.Sprintf("H-%d", i), Kind: "researcher", Share: &s}
		}
		want := oracleAllocate(big.NewRat(netFen, 100), shares)
		got := commands.Allocate(decimal.New(netFen, -2), holders)
		for i := range want {
			if got[i].Amount.StringFixed(2) != formatMoney(want[i]) {
				t.Fatalf("case %d: net %d fen by %v: holder %d gets %s, oracle %s", iter, netFen, bps, i, got[i].Amount.StringFixed(2), formatMoney(want[i]))
			}
		}
	}
}

// TestOracleHandScenario checks the oracle against the hand-computed statistics and rewards
// of the scenario, and the scenario's import (each command one event at its line number).
func TestOracleHandScenario(t *testing.T) {
	d := handDataset(t)
	for _, h := range handStatsCases {
		got := foldOracle(d.cmds, h.asOf).statsJSON(h.by, h.from, h.to)
		compareStats(t, "oracle stats "+h.label(), h.want, got, h.by)
	}
	for _, h := range handRewardsCases {
		got := foldOracle(d.cmds, h.asOf).rewardsJSON(h.year, h.institution)
		compareRewards(t, "oracle rewards "+h.label(), h.want, got)
	}
	// Money: every payment's allocations sum to its net; the researchers got 180800.07 of
	// the 315600.07 net income.
	l := foldOracle(d.cmds, 0)
	nets := new(big.Rat)
	for _, p := range l.payments {
		nets.Add(nets, p.net)
		var parts []*big.Rat
		for _, a := range p.allocs {
			parts = append(parts, a.amount)
		}
		if s := sumRats(parts...); s.Cmp(p.net) != 0 {
			t.Errorf("payment %s/%s: allocations sum to %s, net %s", p.contractID, p.paymentID, formatMoney(s), formatMoney(p.net))
		}
	}
	if got := formatMoney(nets); got != "315600.07" {
		t.Errorf("Σ net = %s, want 315600.07", got)
	}
	if got := formatMoney(l.researcherTotal()); got != "180800.07" {
		t.Errorf("Σ researcher allocations = %s, want 180800.07", got)
	}
}

// paymentEvent is the part of a PaymentRecorded event the oracle cross-checks.
type paymentEvent struct {
	ContractID  string  `json:"contract_id"`
	PaymentID   string  `json:"payment_id"`
	Net         jsonRat `json:"net"`
	Allocations []struct {
		HolderID    string  `json:"holder_id"`
		Kind        string  `json:"kind"`
		Institution string  `json:"institution"`
		Amount      jsonRat `json:"amount"`
	} `json:"allocations"`
}

// jsonRat decodes a decimal given as a JSON string or number.
type jsonRat struct{ *big.Rat }

func (j *jsonRat) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return fmt.Errorf("bad decimal %s", b)
	}
	j.Rat = r
	return nil
}

// TestOracleDatasetLog checks the oracle on the generated datasets, without the projections:
// every payment's allocations sum to its net (money conservation), and they are, holder for
// holder and fen for fen, the allocations the ledger recorded in its PaymentRecorded event.
// It also checks that each dataset exercises what the comparisons rely on.
func TestOracleDatasetLog(t *testing.T) {
	forEachSeed(t, func(t *testing.T, d *dataset) {
		l := foldOracle(d.cmds, 0)
		n := map[string]int{}
		for _, c := range d.cmds {
			n[c.Command]++
		}
		toSeller, toResearchers := 0, 0
		for _, p := range l.payments {
			var parts []*big.Rat
			for _, a := range p.allocs {
				parts = append(parts, a.amount)
				if a.holder.Kind == "researcher" {
					toResearchers++
				}
			}
			if len(p.allocs) == 1 && p.allocs[0].holder.ID == l.contracts[p.contractID].seller.ID && l.contracts[p.contractID].proceeds == nil {
				toSeller++
			}
			if s := sumRats(parts...); s.Cmp(p.net) != 0 {
				t.Errorf("position %d: allocations sum to %s, net %s", p.pos, formatMoney(s), formatMoney(p.net))
			}
			rec := d.records[p.pos-1]
			var ev paymentEvent
			if rec.Type != ledger.TypePaymentRecorded {
				t.Errorf("position %d: %s event for record_payment", p.pos, rec.Type)
				continue
			}
			if err := json.Unmarshal(rec.Data, &ev); err != nil {
				t.Errorf("position %d: %v", p.pos, err)
				continue
			}
			if ev.ContractID != p.contractID || ev.PaymentID != p.paymentID || ev.Net.Cmp(p.net) != 0 || len(ev.Allocations) != len(p.allocs) {
				t.Errorf("position %d: event %s/%s net %s with %d allocations, oracle %s/%s net %s with %d",
					p.pos, ev.ContractID, ev.PaymentID, ev.Net.FloatString(2), len(ev.Allocations), p.contractID, p.paymentID, formatMoney(p.net), len(p.allocs))
				continue
			}
			for i, a := range ev.Allocations {
				o := p.allocs[i]
				if a.HolderID != o.holder.ID || a.Kind != o.holder.Kind || a.Institution != o.holder.Institution || a.Amount.Cmp(o.amount) != 0 {
					t.Errorf("position %d allocation %d: event %s (%s, %q) %s, oracle %s (%s, %q) %s",
						p.pos, i, a.HolderID, a.Kind, a.Institution, a.Amount.FloatString(2), o.holder.ID, o.holder.Kind, o.holder.Institution, formatMoney(o.amount))
				}
			}
		}
		t.Logf("%s: %d commands %v; %d payments (%d wholly to the seller), %d researcher allocations", d.name, len(d.cmds), n, len(l.payments), toSeller, toResearchers)
		for _, name := range []string{"register_contract", "amend_contract", "revoke_contract", "assign_rights", "record_payment"} {
			if n[name] == 0 {
				t.Errorf("%s has no %s", d.name, name)
			}
		}
		if toSeller == 0 || toResearchers == 0 {
			t.Errorf("%s: %d payments wholly to the seller, %d researcher allocations: want some of each", d.name, toSeller, toResearchers)
		}
		flows := map[string]bool{}
		for _, c := range l.contracts {
			flows[oracleDims["flow"](c)] = true
		}
		if len(flows) < 3 {
			t.Errorf("%s: flows %v: want at least three kinds", d.name, flows)
		}
		// asOfPositions fails if the dataset lacks a revocation, amendment or reassignment.
		t.Logf("%s: flows %v; as-of positions %v", d.name, slices.Sorted(maps.Keys(flows)), asOfPositions(t, d))
	})
}

// ---------------------------------------------------------------------------------------
// Projection vs oracle.

// TestProjectionMatchesOracleHandScenario checks the projections against the hand-computed
// statistics and rewards of the scenario.
func TestProjectionMatchesOracleHandScenario(t *testing.T) {
	d := handDataset(t)
	for _, h := range handStatsCases {
		got := projectStatsJSON(t, d.store, h.by, h.from, h.to, ledger.Position(h.asOf))
		compareStats(t, "projection stats "+h.label(), h.want, got, h.by)
	}
	for _, h := range handRewardsCases {
		got := projectRewardsJSON(t, d.store, h.year, h.institution, ledger.Position(h.asOf))
		compareRewards(t, "projection rewards "+h.label(), h.want, got)
	}
}

// TestProjectionMatchesOracleStats compares the statistics at the head for every dimension,
// combinations of them, and date ranges.
func TestProjectionMatchesOracleStats(t *testing.T) {
	forEachSeed(t, func(t *testing.T, d *dataset) {
		l := foldOracle(d.cmds, 0)
		for _, q := range statsCases() {
			want := mustStats(t, l.statsJSON(q.by, q.from, q.to), q.by)
			got := projectStatsJSON(t, d.store, q.by, q.from, q.to, 0)
			compareStats(t, q.String(), want, got, q.by)
		}
	})
}

// TestProjectionMatchesOracleAsOf compares statistics and rewards as of several positions
// (0: the head); as_of must be the position asked, or the head for 0.
func TestProjectionMatchesOracleAsOf(t *testing.T) {
	queries := []statsCase{{}, {by: []string{"type", "subtype"}}, {by: []string{"field", "flow"}}, {by: []string{"year"}, from: "2020-01-01", to: "2023-06-30"}}
	forEachSeed(t, func(t *testing.T, d *dataset) {
		for i, pos := range asOfPositions(t, d) {
			l := foldOracle(d.cmds, pos)
			if pos == 0 && l.asOf != d.head() || pos != 0 && l.asOf != pos {
				t.Fatalf("oracle as_of %d for %d", l.asOf, pos)
			}
			// Totals at every position, and one of the other queries in turn.
			for _, q := range []statsCase{queries[0], queries[1+i%(len(queries)-1)]} {
				want := mustStats(t, l.statsJSON(q.by, q.from, q.to), q.by)
				got := projectStatsJSON(t, d.store, q.by, q.from, q.to, ledger.Position(pos))
				compareStats(t, fmt.Sprintf("as_of=%d,%v", pos, q), want, got, q.by)
			}
			year := []int{0, 2023}[i%2]
			want := mustRewards(t, l.rewardsJSON(year, ""))
			got := projectRewardsJSON(t, d.store, year, "", ledger.Position(pos))
			compareRewards(t, fmt.Sprintf("as_of=%d,rewards year=%d", pos, year), want, got)
		}
	})
}

// TestProjectionMatchesOracleRewards compares the rewards at the head: no filter, each year
// (and one without payments), the institutions with the most and the fewest allocations,
// one that does not exist, and year + institution.
func TestProjectionMatchesOracleRewards(t *testing.T) {
	forEachSeed(t, func(t *testing.T, d *dataset) {
		l := foldOracle(d.cmds, 0)
		most, least := rewardInstitutions(l)
		type q struct {
			year int
			inst string
		}
		qs := []q{{0, ""}, {0, most}, {0, least}, {0, "不存在的大学"}, {2024, most}, {2021, least}}
		for _, y := range rewardYears(d) {
			qs = append(qs, q{y, ""})
		}
		for _, q := range qs {
			want := mustRewards(t, l.rewardsJSON(q.year, q.inst))
			got := projectRewardsJSON(t, d.store, q.year, q.inst, 0)
			compareRewards(t, fmt.Sprintf("year=%d,institution=%q", q.year, q.inst), want, got)
		}
	})
}

// TestProjectionMatchesOracleMoney is the money-conservation property on the datasets.
// Every payment's allocations sum to its net (the oracle's own, checked against the log by
// TestOracleDatasetLog); the projection's rewards are researchers only, so: Σ of the rows'
// amounts equals Σ of the oracle's researcher allocations exactly and is at most Σ net; and
// the per-year and per-institution documents partition that total.
func TestProjectionMatchesOracleMoney(t *testing.T) {
	forEachSeed(t, func(t *testing.T, d *dataset) {
		l := foldOracle(d.cmds, 0)
		nets := new(big.Rat)
		for _, p := range l.payments {
			nets.Add(nets, p.net)
			var parts []*big.Rat
			for _, a := range p.allocs {
				parts = append(parts, a.amount)
			}
			if s := sumRats(parts...); s.Cmp(p.net) != 0 {
				t.Fatalf("position %d: oracle allocations sum to %s, net %s", p.pos, formatMoney(s), formatMoney(p.net))
			}
		}
		want := l.researcherTotal()
		total := func(b []byte) *big.Rat {
			doc, err := decodeRewards(b)
			if err != nil {
				t.Fatalf("rewards document: %v", err)
			}
			s := new(big.Rat)
			for _, r := range doc.Rows {
				s.Add(s, money(r.Amount))
			}
			return s
		}
		got := total(projectRewardsJSON(t, d.store, 0, "", 0))
		if got.Cmp(want) != 0 {
			t.Errorf("Σ rewards rows = %s, Σ oracle researcher allocations = %s", formatMoney(got), formatMoney(want))
		}
		if got.Cmp(nets) > 0 {
			t.Errorf("Σ rewards rows = %s exceeds Σ net = %s", formatMoney(got), formatMoney(nets))
		}
		byYear := new(big.Rat)
		for _, y := range rewardYears(d) {
			byYear.Add(byYear, total(projectRewardsJSON(t, d.store, y, "", 0)))
		}
		if byYear.Cmp(got) != 0 {
			t.Errorf("Σ over years of rewards = %s, all years = %s", formatMoney(byYear), formatMoney(got))
		}
		insts := map[string]bool{}
		for _, p := range l.payments {
			for _, a := range p.allocs {
				if a.holder.Kind == "researcher" {
					insts[a.holder.Institution] = true
				}
			}
		}
		byInst := new(big.Rat)
		for inst := range insts {
			byInst.Add(byInst, total(projectRewardsJSON(t, d.store, 0, inst, 0)))
		}
		if byInst.Cmp(got) != 0 {
			t.Errorf("Σ over %d institutions of rewards = %s, all = %s", len(insts), formatMoney(byInst), formatMoney(got))
		}
		t.Logf("%s: Σ net %s, Σ researcher rewards %s", d.name, formatMoney(nets), formatMoney(got))
	})
}
