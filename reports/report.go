package reports

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"techledger/ledger"
	"techledger/projections"
)

// Period is a range of registered_on dates, both ends included, in whole months (the
// reward tallies are kept by month; see docs/reports.md).
type Period struct {
	From, To ledger.Date
}

// YearMin and YearMax bound the years a report may cover.
const (
	YearMin = 1900
	YearMax = 9999
)

// Annual returns the period of calendar year y.
func Annual(y int) (Period, error) {
	if y < YearMin || y > YearMax {
		return Period{}, &projections.QueryError{Field: "year", Rule: fmt.Sprintf("a year from %d to %d", YearMin, YearMax)}
	}
	return Period{From: ledger.Date{Year: y, Month: time.January, Day: 1}, To: ledger.Date{Year: y, Month: time.December, Day: 31}}, nil
}

// NewPeriod returns the period from from to to: a quarter, or months to date (快报), or
// any run of whole months within one span of at most a year.
func NewPeriod(from, to ledger.Date) (Period, error) {
	switch {
	case from.IsZero() || to.IsZero():
		return Period{}, &projections.QueryError{Field: "from", Rule: "from and to are both required"}
	case from.Year < YearMin || to.Year > YearMax:
		return Period{}, &projections.QueryError{Field: "from", Rule: fmt.Sprintf("dates from %d to %d", YearMin, YearMax)}
	case to.Before(from):
		return Period{}, &projections.QueryError{Field: "from", Rule: "must not be after to"}
	case from.Day != 1:
		return Period{}, &projections.QueryError{Field: "from", Rule: "must be the first day of a month (reports cover whole months)"}
	case to != lastOfMonth(to.Year, to.Month):
		return Period{}, &projections.QueryError{Field: "to", Rule: "must be the last day of a month (reports cover whole months)"}
	case (to.Year-from.Year)*12+int(to.Month)-int(from.Month) >= 12:
		return Period{}, &projections.QueryError{Field: "to", Rule: "a period covers at most 12 months, so that it does not overlap the same period of the previous year"}
	}
	return Period{From: from, To: to}, nil
}

// Previous returns the same period of the previous year.
func (p Period) Previous() Period {
	return Period{
		From: ledger.Date{Year: p.From.Year - 1, Month: p.From.Month, Day: 1},
		To:   lastOfMonth(p.To.Year-1, p.To.Month),
	}
}

func lastOfMonth(y int, m time.Month) ledger.Date {
	return ledger.DateOf(time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC))
}

// Report is the document of an annual or period report: the position it was computed at
// and the tables (see docs/reports.md for every table, unit and rounding rule).
type Report struct {
	AsOf         ledger.Position
	HeadHash     ledger.Hash
	RecordedAt   time.Time // when the record at AsOf was recorded
	HomeProvince string    // 6-digit code, e.g. "140000"
	Period       Period
	Previous     Period
	Tables       []Table
}

// Table is one breakdown: its rows in reference-data order and the 合计 row.
type Table struct {
	ID    string
	Title string
	Unit  string
	Note  string // what the figures measure, when a title alone could mislead
	Rows  []Row
	Total Row
	// Missing lists, for plan_county_coverage, the counties with no contract.
	Missing []KeyLabel
	// NoTech leaves tech_amount out of the rows (rewards have none).
	NoTech bool
}

// KeyLabel is a code and its label.
type KeyLabel struct {
	Key, Label string
}

// Row is one line of a table. Share and growth are computed when the table is finished.
type Row struct {
	Key, Label                 string
	Count, CountPrev           int64
	Amount, AmountPrev         projections.Money
	TechAmount, TechAmountPrev projections.Money
	AmountShare                string // percent with two decimals; "" when the total is zero
	AmountGrowth               string // percent with two decimals; "" (null) when AmountPrev is zero
	Extra                      []Extra
}

// Extra is a count a table adds to its rows after the common fields.
type Extra struct {
	Name  string
	Value int64
}

// sums accumulate contracts.
type sums struct {
	count  int64
	amount projections.Money
	tech   projections.Money
}

func (s *sums) add(f *projections.Facts) {
	s.count++
	s.amount.Add(f.Amount)
	s.tech.Add(f.TechAmount)
}

func (s *sums) addSums(o *sums) {
	s.count += o.count
	s.amount.AddMoney(o.amount)
	s.tech.AddMoney(o.tech)
}

// pair is a row's sums in the period (0) and the previous period (1).
type pair [2]sums

func (p *pair) row(key, label string) Row {
	return Row{
		Key: key, Label: label,
		Count: p[0].count, Amount: p[0].amount, TechAmount: p[0].tech,
		CountPrev: p[1].count, AmountPrev: p[1].amount, TechAmountPrev: p[1].tech,
	}
}

func (p *pair) empty() bool { return p[0].count == 0 && p[1].count == 0 }

// finish computes the shares and growths of t's rows and total.
func (t *Table) finish() {
	total := t.Total.Amount.Fen()
	for i := range t.Rows {
		t.Rows[i].percents(total)
	}
	t.Total.percents(total)
}

func (r *Row) percents(total *big.Int) {
	a := r.Amount.Fen()
	r.AmountShare = percent(a, total)
	p := r.AmountPrev.Fen()
	r.AmountGrowth = percent(new(big.Int).Sub(a, p), p)
}

// percent returns num ÷ den in percent, rounded half away from zero to two decimals
// ("12.35", "-0.50"); "" when den is zero.
func percent(num, den *big.Int) string {
	if den.Sign() == 0 {
		return ""
	}
	if num.IsInt64() && den.IsInt64() {
		if n, d := num.Int64(), den.Int64(); -percentFastMax <= n && n <= percentFastMax && d != math.MinInt64 {
			return percent64(n, d)
		}
	}
	n := new(big.Int).Mul(num, big.NewInt(10000)) // percent × 100
	neg := (n.Sign() < 0) != (den.Sign() < 0)
	n.Abs(n)
	d := new(big.Int).Abs(den)
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	if r.Lsh(r, 1).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	return hundredths(q.String(), neg && q.Sign() != 0)
}

// percentFastMax bounds the numerators percent64 takes: ×10,000 stays within int64.
const percentFastMax = math.MaxInt64 / 10000

// percent64 is percent for |n| ≤ percentFastMax and d ∉ {0, MinInt64}, without big.Int.
func percent64(n, d int64) string {
	neg := (n < 0) != (d < 0)
	if n < 0 {
		n = -n
	}
	if d < 0 {
		d = -d
	}
	q, r := n*10000/d, n*10000%d
	if r >= d-r { // 2r ≥ d, without overflow
		q++
	}
	return hundredths(strconv.FormatInt(q, 10), neg && q != 0)
}
