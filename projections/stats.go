package projections

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"techledger/ledger"
)

// Dimensions are the names a statistics query can group by (DESIGN §4), in the order
// --help lists them.
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

// StatsReport is the result of a statistics query, rows sorted by their dimension values.
// It encodes as DESIGN §4 shows: {"as_of": N, "rows": [{"<dim>": "<value>", …, "count":
// N, "amount": "0.00", "tech_amount": "0.00", "paid": "0.00"}]}.
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

// group sums the contracts of one row while a query runs.
type group struct {
	count              int64
	amount, tech, paid Money
}

// gkey holds the codes of a row's dimension values, in query order.
type gkey [dimCount]uint16

// Stats answers a statistics query over the contracts registered and not revoked, with
// their amendments applied. Full months inside the range are read from the cube (one cell
// per month and classification); the months at the ends of a range that cut through them
// are read contract by contract.
func (s *State) Stats(q StatsQuery) (StatsReport, error) {
	dims := make([]int, len(q.By))
	for i, name := range q.By {
		d := slices.Index(Dimensions, name)
		if d < 0 {
			return StatsReport{}, &QueryError{Field: "by", Rule: fmt.Sprintf("unknown dimension %q (one of %s)", name, strings.Join(Dimensions, ", "))}
		}
		if slices.Contains(dims[:i], d) {
			return StatsReport{}, &QueryError{Field: "by", Rule: fmt.Sprintf("dimension %q given twice", name)}
		}
		dims[i] = d
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

	groups := map[gkey]*group{}
	add := func(month int32, k dimKey, count int64, amount, tech, paid Money) {
		var key gkey
		for i, d := range dims {
			key[i] = s.code(d, month, k)
		}
		g := groups[key]
		if g == nil {
			g = &group{}
			groups[key] = g
		}
		g.count += count
		g.amount.addMoney(amount)
		g.tech.addMoney(tech)
		g.paid.addMoney(paid)
	}
	for _, mn := range s.monthList {
		first, last := monthBounds(mn)
		if last < from || first > to {
			continue
		}
		m := s.months[mn]
		if from <= first && last <= to {
			for i := range m.cells {
				c := &m.cells[i]
				if c.count != 0 {
					add(mn, c.key, c.count, c.amount, c.tech, c.paid)
				}
			}
			continue
		}
		for _, ci := range m.contracts {
			c := &s.contracts[ci]
			if !c.revoked && from <= c.day && c.day <= to {
				add(mn, c.dims, 1, Fen(c.amount), Fen(c.tech), Fen(c.paid))
			}
		}
	}

	rows := make([]StatsRow, 0, len(groups)+1)
	for key, g := range groups {
		row := StatsRow{Values: make([]string, len(dims)), Count: g.count, Amount: g.amount, TechAmount: g.tech, Paid: g.paid}
		for i, d := range dims {
			row.Values[i] = s.value(d, key[i])
		}
		rows = append(rows, row)
	}
	if len(dims) == 0 && len(rows) == 0 {
		rows = append(rows, StatsRow{Values: []string{}})
	}
	slices.SortFunc(rows, func(a, b StatsRow) int { return slices.Compare(a.Values, b.Values) })
	return StatsReport{AsOf: s.pos, By: slices.Clone(q.By), Rows: rows}, nil
}

// code returns the code of dimension d for a cell of month mn.
func (s *State) code(d int, mn int32, k dimKey) uint16 {
	switch d {
	case dimYear:
		return uint16(mn / 12)
	case dimQuarter:
		return uint16(mn / 3)
	case dimMonth:
		return uint16(mn)
	case dimType:
		return k.typ
	case dimSubtype:
		return k.sub
	case dimField:
		return k.field
	case dimSellerKind:
		return k.sellerKind
	case dimBuyerKind:
		return k.buyerKind
	case dimSellerProvince:
		return s.regions[k.sellerCity].province
	case dimSellerCity:
		return k.sellerCity
	case dimBuyerProvince:
		return s.regions[k.buyerCity].province
	case dimBuyerCity:
		return k.buyerCity
	case dimFlow:
		sh, bh := s.regions[k.sellerCity].home, s.regions[k.buyerCity].home
		switch {
		case sh && bh:
			return 0
		case sh:
			return 1
		case bh:
			return 2
		}
		return 3
	}
	panic("projections: unknown dimension")
}

// value returns the text of code c of dimension d.
func (s *State) value(d int, c uint16) string {
	switch d {
	case dimYear:
		return strconv.Itoa(int(c))
	case dimQuarter:
		return fmt.Sprintf("%04d-Q%d", c/4, c%4+1)
	case dimMonth:
		return fmt.Sprintf("%04d-%02d", c/12, c%12+1)
	case dimFlow:
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
