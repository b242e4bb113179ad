package reports

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"time"

	"techledger/projections"
)

// What the console's statistics dashboard (docs/console.md) reads beside the document: the
// month-by-month series of a period, the growth of the count and of 技术交易额 for the
// headline tiles, the report kept in a Cache, and the CSV of the tables (which the CLI
// writes too).

// TableMonthly is the id of the table Monthly returns. It is not a table of the document.
const TableMonthly = "monthly"

// Monthly returns the contracts of period p month by month, each month against the same
// month of the previous year: a row per month of p, in order, even a month with none (a
// series to draw), keyed "YYYY-MM" and labelled "M月" ("YYYY年M月" when p spans two
// years), with shares of the period's 成交额 and growth as in the document's tables. It
// counts what Build counts, read from the statistics aggregates (State.Stats by month), so
// its 合计 is the 合计 of Build's by_type table. It reads st only: call it inside
// projections.Runner.Read.
func Monthly(st *projections.State, p Period) (Table, error) {
	prev := p.Previous()
	var sums [2]map[string]projections.StatsRow
	for w, per := range []Period{p, prev} {
		rep, err := st.Stats(projections.StatsQuery{By: []string{"month"}, From: per.From, To: per.To})
		if err != nil {
			return Table{}, fmt.Errorf("monthly: %w", err)
		}
		sums[w] = make(map[string]projections.StatsRow, len(rep.Rows))
		for _, r := range rep.Rows {
			sums[w][r.Values[0]] = r
		}
	}
	t := Table{ID: TableMonthly, Title: "按月份", Unit: UnitYuan, Note: "按登记日期；上年同期为上年同月"}
	var total pair
	for y, m := p.From.Year, p.From.Month; y < p.To.Year || y == p.To.Year && m <= p.To.Month; y, m = nextMonth(y, m) {
		key := monthKey(y, m)
		label := fmt.Sprintf("%d月", m)
		if p.From.Year != p.To.Year {
			label = fmt.Sprintf("%d年%d月", y, m)
		}
		cur, last := sums[0][key], sums[1][monthKey(y-1, m)]
		r := Row{Key: key, Label: label,
			Count: cur.Count, Amount: cur.Amount, TechAmount: cur.TechAmount,
			CountPrev: last.Count, AmountPrev: last.Amount, TechAmountPrev: last.TechAmount}
		t.Rows = append(t.Rows, r)
		total[0].count += r.Count
		total[0].amount.AddMoney(r.Amount)
		total[0].tech.AddMoney(r.TechAmount)
		total[1].count += r.CountPrev
		total[1].amount.AddMoney(r.AmountPrev)
		total[1].tech.AddMoney(r.TechAmountPrev)
	}
	t.Total = total.row("total", "合计")
	t.finish()
	return t, nil
}

func nextMonth(y int, m time.Month) (int, time.Month) {
	if m == time.December {
		return y + 1, time.January
	}
	return y, m + 1
}

func monthKey(y int, m time.Month) string { return fmt.Sprintf("%04d-%02d", y, m) }

// CountGrowth returns the growth of the count on the previous period in percent, rounded
// half away from zero to two decimals ("" when the previous count is zero): what
// AmountGrowth is for 成交额.
func (r *Row) CountGrowth() string {
	return percent(big.NewInt(r.Count-r.CountPrev), big.NewInt(r.CountPrev))
}

// TechGrowth returns the growth of 技术交易额 on the previous period, as CountGrowth.
func (r *Row) TechGrowth() string {
	t, p := r.TechAmount.Fen(), r.TechAmountPrev.Fen()
	return percent(new(big.Int).Sub(t, p), p)
}

// Report returns the report of period p computed from st (Build), kept in c at st's
// position like Render's documents: the dashboard and the JSON document of the same
// position show the same numbers, and asking again before a record is folded costs a
// lookup. The report is shared: callers must not change it.
func (c *Cache) Report(st *projections.State, p Period) (*Report, error) {
	v, err := c.Get(st, "report|"+p.From.String()+"|"+p.To.String(), func() (any, error) { return Build(st, p) })
	if err != nil {
		return nil, err
	}
	return v.(*Report), nil
}

// Monthly returns Monthly(st, p), kept in c like Report.
func (c *Cache) Monthly(st *projections.State, p Period) (Table, error) {
	v, err := c.Get(st, "monthly|"+p.From.String()+"|"+p.To.String(), func() (any, error) { return Monthly(st, p) })
	if err != nil {
		return Table{}, err
	}
	return v.(Table), nil
}

// CSVRecords returns the tables of r as one table: a header and a row per table row and
// 合计, the table's id first (its Chinese title with zh), amounts in 元 with two decimals,
// shares and growth in percent ("" for null), as the document has them. The CLI's
// `report --format csv` and the dashboard's download write it.
func CSVRecords(r *Report, zh bool) (header []string, rows [][]string) {
	header = []string{"table", "key", "label", "count", "amount", "tech_amount", "count_prev", "amount_prev", "tech_amount_prev", "amount_share", "amount_growth"}
	if zh {
		header = []string{"表", "代码", "项目", "合同数", "成交额", "技术交易额", "上年同期合同数", "上年同期成交额", "上年同期技术交易额", "成交额占比%", "成交额增长%"}
	}
	for _, t := range r.Tables {
		for _, row := range append(append([]Row{}, t.Rows...), t.Total) {
			tech, techPrev := row.TechAmount.String(), row.TechAmountPrev.String()
			if t.NoTech {
				tech, techPrev = "", ""
			}
			id := t.ID
			if zh {
				id = t.Title
			}
			rows = append(rows, []string{id, row.Key, row.Label, strconv.FormatInt(row.Count, 10), row.Amount.String(), tech,
				strconv.FormatInt(row.CountPrev, 10), row.AmountPrev.String(), techPrev, row.AmountShare, row.AmountGrowth})
		}
	}
	return header, rows
}

// WriteCSV writes CSVRecords(r, zh) to w as UTF-8 CSV with a byte-order mark (so that
// Excel reads the Chinese as UTF-8).
func WriteCSV(w io.Writer, r *Report, zh bool) error {
	header, rows := CSVRecords(r, zh)
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}
