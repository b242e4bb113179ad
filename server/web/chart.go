package web

import (
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"techledger/projections"
	"techledger/reports"
)

// Charts of the statistics dashboard, drawn on the server as inline SVG (templates/
// dashboard.html draws the shapes computed here): no script, nothing the CSP has to allow,
// the same in every browser and on paper. Geometry is computed from the amounts in fen
// with integer arithmetic; every number a chart shows is also in the table under it, and
// each bar and point carries a <title> with its exact figures (the browser's tooltip).

// Sizes of the charts' view boxes (user units; the SVG scales to its box).
const (
	chartWidth     = 760
	barLabelWidth  = 160 // category labels left of the bars
	barValueWidth  = 100 // the value right of the longest bar
	barRowHeight   = 34
	barTop         = 28 // the legend
	lineLeft       = 80 // the y axis labels
	lineTop        = 28
	lineHeight     = 200 // the plot
	lineBottom     = 28  // the month labels
	barLabelRunes  = 10  // longer labels are cut in the chart (the table has them whole)
	chartTicksWant = 4   // about this many grid lines
)

// barChart is a horizontal bar chart of one table: per row, a bar for the period and a
// thinner one for the same period of the previous year, scaled to the largest of them.
type barChart struct {
	Width, Height int
	Summary       string // aria-label
	LabelX        int    // where the category labels end (text-anchor end)
	Rows          []barRow
}

type barRow struct {
	Label     string // as shown (cut to barLabelRunes)
	LabelY    int
	Cur, Prev svgBar
}

type svgBar struct {
	X, Y, W, H int
	Title      string // tooltip: label, amount in 元, count
	Text       string // the amount in 万元, right of the bar ("" for none)
	TextX      int
	TextY      int
}

// newBarChart draws rows (amounts of the period and of the previous one). unit names
// what count counts (项, 笔) in the tooltips.
func newBarChart(summary string, rows []reports.Row, unit string) barChart {
	c := barChart{Width: chartWidth, Summary: summary, LabelX: barLabelWidth - 8}
	plot := chartWidth - barLabelWidth - barValueWidth
	maxFen := new(big.Int)
	for i := range rows {
		for _, m := range []projections.Money{rows[i].Amount, rows[i].AmountPrev} {
			if f := m.Fen(); f.Cmp(maxFen) > 0 {
				maxFen = f
			}
		}
	}
	for i, r := range rows {
		y := barTop + i*barRowHeight
		cw := scale(r.Amount, maxFen, plot)
		pw := scale(r.AmountPrev, maxFen, plot)
		c.Rows = append(c.Rows, barRow{
			Label: cut(r.Label, barLabelRunes), LabelY: y + 14,
			Cur: svgBar{X: barLabelWidth, Y: y + 2, W: cw, H: 16, Text: wan(r.Amount), TextX: barLabelWidth + cw + 6, TextY: y + 15,
				Title: r.Label + " 本期：" + group(r.Amount.String()) + " 元，" + strconv.FormatInt(r.Count, 10) + " " + unit},
			Prev: svgBar{X: barLabelWidth, Y: y + 20, W: pw, H: 8,
				Title: r.Label + " 上年同期：" + group(r.AmountPrev.String()) + " 元，" + strconv.FormatInt(r.CountPrev, 10) + " " + unit},
		})
	}
	c.Height = barTop + len(rows)*barRowHeight + 8
	return c
}

// lineChart draws a monthly series of the period against the previous year's.
type lineChart struct {
	Width, Height int
	Summary       string
	PlotLeft      int
	PlotRight     int
	Ticks         []svgTick
	Months        []svgMonth
	Cur, Prev     string // polyline points
}

type svgTick struct {
	Y     int
	Label string // 万元
}

type svgMonth struct {
	X, LabelY   int
	Label       string
	CurY, PrevY int
	CurT, PrevT string // tooltips
	ShowLabel   bool
}

// newLineChart draws the monthly table's rows: 成交额 of each month, the period's line and
// the previous year's, on an axis in 万元 with round steps.
func newLineChart(summary string, rows []reports.Row) lineChart {
	c := lineChart{Width: chartWidth, Height: lineTop + lineHeight + lineBottom, Summary: summary, PlotLeft: lineLeft, PlotRight: chartWidth - 16}
	maxFen := new(big.Int)
	for i := range rows {
		for _, m := range []projections.Money{rows[i].Amount, rows[i].AmountPrev} {
			if f := m.Fen(); f.Cmp(maxFen) > 0 {
				maxFen = f
			}
		}
	}
	// The axis: steps of 1, 2 or 5 × 10^k 万元 (10^6 fen), about chartTicksWant of them.
	maxWan := new(big.Int).Div(new(big.Int).Add(maxFen, big.NewInt(999_999)), big.NewInt(1_000_000)) // ceil
	step := niceStep(new(big.Int).Div(new(big.Int).Add(maxWan, big.NewInt(chartTicksWant-1)), big.NewInt(chartTicksWant)))
	n := new(big.Int).Div(new(big.Int).Add(maxWan, new(big.Int).Sub(step, big.NewInt(1))), step)
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	axisWan := new(big.Int).Mul(n, step)
	axisFen := new(big.Int).Mul(axisWan, big.NewInt(1_000_000))
	bottom := lineTop + lineHeight
	for i := int64(0); i <= n.Int64(); i++ {
		v := new(big.Int).Mul(step, big.NewInt(i))
		c.Ticks = append(c.Ticks, svgTick{Y: bottom - int(new(big.Int).Div(new(big.Int).Mul(v, big.NewInt(lineHeight)), axisWan).Int64()), Label: group(v.String())})
	}
	plot := c.PlotRight - c.PlotLeft
	var cur, prev []string
	every := (len(rows) + 11) / 12 // label every month of up to a year
	for i, r := range rows {
		x := c.PlotLeft + (2*i+1)*plot/(2*max(len(rows), 1))
		m := svgMonth{X: x, LabelY: bottom + 18, Label: r.Label, ShowLabel: i%max(every, 1) == 0,
			CurY: bottom - scale(r.Amount, axisFen, lineHeight), PrevY: bottom - scale(r.AmountPrev, axisFen, lineHeight),
			CurT:  r.Label + " 本期：" + group(r.Amount.String()) + " 元，" + strconv.FormatInt(r.Count, 10) + " 项",
			PrevT: r.Label + " 上年同期：" + group(r.AmountPrev.String()) + " 元，" + strconv.FormatInt(r.CountPrev, 10) + " 项"}
		c.Months = append(c.Months, m)
		cur = append(cur, strconv.Itoa(x)+","+strconv.Itoa(m.CurY))
		prev = append(prev, strconv.Itoa(x)+","+strconv.Itoa(m.PrevY))
	}
	c.Cur, c.Prev = strings.Join(cur, " "), strings.Join(prev, " ")
	return c
}

// niceStep returns the smallest of 1, 2, 5 × 10^k that is at least v (at least 1).
func niceStep(v *big.Int) *big.Int {
	for p := big.NewInt(1); ; p.Mul(p, big.NewInt(10)) {
		for _, k := range []int64{1, 2, 5} {
			if s := new(big.Int).Mul(p, big.NewInt(k)); s.Cmp(v) >= 0 {
				return s
			}
		}
	}
}

// scale returns m's share of full (fen) in px, rounded down; 0 when full is zero.
func scale(m projections.Money, full *big.Int, px int) int {
	if full.Sign() == 0 {
		return 0
	}
	v := new(big.Int).Mul(m.Fen(), big.NewInt(int64(px)))
	return int(v.Div(v, full).Int64())
}

// wan returns m in 万元 rounded half away from zero to two decimals, digits grouped:
// "14,974.91".
func wan(m projections.Money) string {
	f := m.Fen() // 万元 with two decimals = fen / 10^4, in hundredths
	neg := f.Sign() < 0
	q, r := new(big.Int).QuoRem(new(big.Int).Abs(f), big.NewInt(10_000), new(big.Int))
	if r.Cmp(big.NewInt(5_000)) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	s := q.String()
	for len(s) < 3 {
		s = "0" + s
	}
	s = group(s[:len(s)-2]) + "." + s[len(s)-2:]
	if neg && q.Sign() != 0 {
		s = "-" + s
	}
	return s
}

// group puts a comma between each three digits of the whole part of a decimal number:
// "1497490974.28" → "1,497,490,974.28".
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return sign + b.String()
}

// cut shortens s to n runes, marking the cut with "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
