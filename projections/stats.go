package projections

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"techledger/ledger"
)

// Dimensions are the names a statistics query can group by (docs/domain.md, Statistics), in
// the order --help lists them.
var Dimensions = []string{
	"year", "quarter", "month", "type", "subtype", "field", "seller_kind", "buyer_kind",
	"seller_province", "seller_city", "buyer_province", "buyer_city", "flow",
}

// dimension indexes into Dimensions.
const (
	dimYear = iota
	dimQuarter
	dimMonth
	dimType
	dimSubtype
	dimField
	dimSellerKind
	dimBuyerKind
	dimSellerProvince
	dimSellerCity
	dimBuyerProvince
	dimBuyerCity
	dimFlow
	dimCount
)

// Flow values, relative to the home province.
var flows = [4]string{"within", "outflow", "inflow", "external"}

// StatsQuery selects registered-contract statistics.
type StatsQuery struct {
	By       []string    // dimension names (Dimensions); none: one row of totals
	From, To ledger.Date // registered_on range, both ends included; zero: open
}

// StatsRow is one group: its dimension values in the query's order, and its sums.
type StatsRow struct {
	Values     []string
	Count      int64
	Amount     Money // 合同成交额
	TechAmount Money // 技术交易额
	Paid       Money // payments recorded so far
}

// StatsReport is the result of a statistics query, rows sorted by their dimension values. It
// encodes as docs/domain.md (Statistics) shows: {"as_of": N, "rows": [{"<dim>": "<value>", …,
// "count": N, "amount": "0.00", "tech_amount": "0.00", "paid": "0.00"}]}.
type StatsReport struct {
	AsOf ledger.Position
	By   []string
	Rows []StatsRow
}

// MarshalJSON implements json.Marshaler with the keys in the documented order.
func (r StatsReport) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64+len(r.Rows)*(96+24*len(r.By)))
	b = append(b, `{"as_of":`...)
	b = strconv.AppendUint(b, uint64(r.AsOf), 10)
	b = append(b, `,"rows":[`...)
	for i, row := range r.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		for j, d := range r.By {
			b = strconv.AppendQuote(b, d)
			b = append(b, ':')
			b = strconv.AppendQuote(b, row.Values[j])
			b = append(b, ',')
		}
		b = append(b, `"count":`...)
		b = strconv.AppendInt(b, row.Count, 10)
		b = append(b, `,"amount":"`...)
		b = row.Amount.appendText(b)
		b = append(b, `","tech_amount":"`...)
		b = row.TechAmount.appendText(b)
		b = append(b, `","paid":"`...)
		b = row.Paid.appendText(b)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...), nil
}

// ParseDimensions splits a comma-separated list of dimension names ("" gives none).
func ParseDimensions(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// rowKey identifies a result row: the period codes and the base codes of its values,
// each packed 16 bits per dimension in query order.
type rowKey struct{ period, base uint64 }

// Stats answers a statistics query over the contracts registered and not revoked, with
// their amendments applied. It reads the aggregate of the query's base dimensions (see
// cube.go): the cells summed over all months when the query has no period dimension and
// its range takes in every month, otherwise the cells of each month the range covers
// whole, plus the contracts of the months the range cuts through.
func (s *State) Stats(q StatsQuery) (StatsReport, error) {
	var period, base []int // dimension indexes (Dimensions) of each kind, in query order
	dimIdx := make([]int, 0, len(q.By))
	seen := map[string]bool{}
	for _, name := range q.By {
		d := slices.Index(Dimensions, name)
		if d < 0 {
			return StatsReport{}, &QueryError{Field: "by", Rule: fmt.Sprintf("unknown dimension %q (one of %s)", name, strings.Join(Dimensions, ", "))}
		}
		if seen[name] {
			return StatsReport{}, &QueryError{Field: "by", Rule: fmt.Sprintf("dimension %q given twice", name)}
		}
		seen[name] = true
		dimIdx = append(dimIdx, d)
		if d <= dimMonth {
			period = append(period, d)
		} else {
			base = append(base, baseOf[d])
		}
	}
	from, to := int32(-1<<31), int32(1<<31-1)
	if !q.From.IsZero() {
		from = daysOf(q.From)
	}
	if !q.To.IsZero() {
		to = daysOf(q.To)
	}
	if from > to {
		return StatsReport{}, &QueryError{Field: "from", Rule: "must not be after to"}
	}

	groups := map[rowKey]*group{}
	at := func(k rowKey) *group {
		g := groups[k]
		if g == nil {
			g = &group{}
			groups[k] = g
		}
		return g
	}
	periodKey := func(mn int32) uint64 {
		var k uint64
		for _, d := range period {
			k = k<<16 | uint64(periodCode(d, mn))
		}
		return k
	}
	scan := func(mn int32) {
		pk := periodKey(mn)
		for _, ci := range s.months[mn] {
			if c := &s.contracts[ci]; !c.revoked && from <= c.day && c.day <= to {
				at(rowKey{pk, packKey(c, base)}).addContract(c, 1)
			}
		}
	}
	covered := func(mn int32) bool {
		first, last := monthBounds(mn)
		return from <= first && last <= to
	}
	switch {
	case len(base) > cubeDimsMax:
		for _, mn := range s.monthList {
			scan(mn)
		}
	case len(period) == 0 && (len(s.monthList) == 0 || covered(s.monthList[0]) && covered(s.monthList[len(s.monthList)-1])):
		cb := s.cube(base)
		for i := range cb.all.list {
			cl := &cb.all.list[i]
			if cl.sum.count != 0 {
				at(rowKey{0, cl.key}).addGroup(&cl.sum)
			}
		}
	default:
		cb := s.cube(base)
		for _, mn := range s.monthList {
			first, last := monthBounds(mn)
			switch {
			case last < from || first > to:
			case from <= first && last <= to:
				pk := periodKey(mn)
				if m := cb.months[mn]; m != nil {
					for i := range m.list {
						cl := &m.list[i]
						if cl.sum.count != 0 {
							at(rowKey{pk, cl.key}).addGroup(&cl.sum)
						}
					}
				}
			default:
				scan(mn)
			}
		}
	}

	rows := make([]StatsRow, 0, len(groups)+1)
	for k, g := range groups {
		row := StatsRow{Values: make([]string, len(q.By)), Count: g.count, Amount: g.amount, TechAmount: g.tech, Paid: g.paid}
		pi, bi := len(period), len(base)
		for i := len(q.By) - 1; i >= 0; i-- { // unpack from the low bits: last dimension first
			d := dimIdx[i]
			if d <= dimMonth {
				pi--
				row.Values[i] = periodValue(d, uint16(k.period>>(16*(len(period)-1-pi))))
			} else {
				bi--
				row.Values[i] = s.baseValue(baseOf[d], uint16(k.base>>(16*(len(base)-1-bi))))
			}
		}
		rows = append(rows, row)
	}
	if len(q.By) == 0 && len(rows) == 0 {
		rows = append(rows, StatsRow{Values: []string{}})
	}
	slices.SortFunc(rows, func(a, b StatsRow) int { return slices.Compare(a.Values, b.Values) })
	return StatsReport{AsOf: s.pos, By: slices.Clone(q.By), Rows: rows}, nil
}

// baseOf maps a dimension index (Dimensions) to its base code index.
var baseOf = [dimCount]int{
	dimType: baseType, dimSubtype: baseSubtype, dimField: baseField, dimSellerKind: baseSellerKind,
	dimBuyerKind: baseBuyerKind, dimSellerProvince: baseSellerProvince, dimSellerCity: baseSellerCity,
	dimBuyerProvince: baseBuyerProvince, dimBuyerCity: baseBuyerCity, dimFlow: baseFlow,
}

// periodCode returns the code of period dimension d for month number mn.
func periodCode(d int, mn int32) uint16 {
	switch d {
	case dimYear:
		return uint16(mn / 12)
	case dimQuarter:
		return uint16(mn / 3)
	}
	return uint16(mn)
}

func periodValue(d int, c uint16) string {
	switch d {
	case dimYear:
		return strconv.Itoa(int(c))
	case dimQuarter:
		return fmt.Sprintf("%04d-Q%d", c/4, c%4+1)
	}
	return fmt.Sprintf("%04d-%02d", c/12, c%12+1)
}

func (s *State) baseValue(b int, c uint16) string {
	if b == baseFlow {
		return flows[c]
	}
	return s.codes.str(uint32(c))
}

// monthBounds returns the first and last day of month number mn.
func monthBounds(mn int32) (first, last int32) {
	y, m := int(mn/12), int(mn%12)+1
	first = civilDays(y, m, 1)
	return first, first + int32(monthDays(y, m)) - 1
}
