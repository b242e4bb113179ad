package reports_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"techledger/ledger"
	"techledger/reports"
)

// TestMonthly_MatchesNaive checks every cell of the monthly series against the naive fold
// of the test (contracts registered in each month, not revoked, amendments applied), for
// several seeds and periods (one spanning two years), and that its 合计 is the 合计 of
// Build's by_type table.
func TestMonthly_MatchesNaive(t *testing.T) {
	ps := periods(t)
	from, _ := ledger.ParseDate("2024-07-01")
	to, _ := ledger.ParseDate("2025-06-30")
	span, err := reports.NewPeriod(from, to)
	if err != nil {
		t.Fatal(err)
	}
	ps["2024-07..2025-06"] = span
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			d := load(t, seed)
			st := d.state(t, 0)
			n := foldNaive(t, d.recs, 0)
			for name, p := range ps {
				t.Run(name, func(t *testing.T) {
					got, err := reports.Monthly(st, p)
					if err != nil {
						t.Fatal(err)
					}
					// The naive series: every month from p.From to p.To, against the same month a year before.
					type sums struct {
						count        int64
						amount, tech *big.Rat
					}
					month := func(y int, m time.Month) sums {
						s := sums{amount: new(big.Rat), tech: new(big.Rat)}
						for _, c := range n.contracts {
							if !c.revoked && c.reg.Year == y && c.reg.Month == m {
								s.count++
								s.amount.Add(s.amount, c.amount)
								s.tech.Add(s.tech, c.tech)
							}
						}
						return s
					}
					total := sums{amount: new(big.Rat), tech: new(big.Rat)}
					var rows []reports.Row
					for y, m := p.From.Year, p.From.Month; y*12+int(m) <= p.To.Year*12+int(p.To.Month); m++ {
						if m > time.December {
							y, m = y+1, time.January
						}
						total.amount.Add(total.amount, month(y, m).amount)
						rows = append(rows, reports.Row{Key: fmt.Sprintf("%04d-%02d", y, m)})
					}
					if len(got.Rows) != len(rows) {
						t.Fatalf("%d rows, want %d", len(got.Rows), len(rows))
					}
					for i := range rows {
						var y, mi int
						fmt.Sscanf(rows[i].Key, "%d-%d", &y, &mi)
						m := time.Month(mi)
						cur, prev := month(y, m), month(y-1, m)
						g := got.Rows[i]
						label := fmt.Sprintf("%d月", m)
						if p.From.Year != p.To.Year {
							label = fmt.Sprintf("%d年%d月", y, m)
						}
						wantShare, wantGrowth := pct(cur.amount, total.amount), pct(new(big.Rat).Sub(cur.amount, prev.amount), prev.amount)
						if g.Key != rows[i].Key || g.Label != label || g.Count != cur.count || g.Amount.String() != yuan(cur.amount) ||
							g.TechAmount.String() != yuan(cur.tech) || g.CountPrev != prev.count || g.AmountPrev.String() != yuan(prev.amount) ||
							g.TechAmountPrev.String() != yuan(prev.tech) || !samePct(g.AmountShare, wantShare) || !samePct(g.AmountGrowth, wantGrowth) {
							t.Errorf("row %d: %+v, want %s %s %d %s %s / %d %s %s, share %v growth %v", i, g, rows[i].Key, label, cur.count, yuan(cur.amount), yuan(cur.tech),
								prev.count, yuan(prev.amount), yuan(prev.tech), deref(wantShare), deref(wantGrowth))
						}
					}
					r, err := reports.Build(st, p)
					if err != nil {
						t.Fatal(err)
					}
					bt := r.Tables[0].Total
					if r.Tables[0].ID != reports.TableByType || got.Total.Count != bt.Count || got.Total.Amount != bt.Amount || got.Total.TechAmount != bt.TechAmount ||
						got.Total.CountPrev != bt.CountPrev || got.Total.AmountPrev != bt.AmountPrev || got.Total.TechAmountPrev != bt.TechAmountPrev ||
						got.Total.AmountGrowth != bt.AmountGrowth {
						t.Errorf("合计 %+v, by_type 合计 %+v", got.Total, bt)
					}
				})
			}
		})
	}
}

func samePct(got string, want *string) bool {
	if want == nil {
		return got == ""
	}
	return got == *want
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// TestRow_Growths checks the growth of the count and of 技术交易额 against the test's own
// rounding, including a zero previous period and a fall.
func TestRow_Growths(t *testing.T) {
	d := load(t, 1)
	st := d.state(t, 0)
	for _, y := range []int{2019, 2020, 2024, 2025} {
		r, err := reports.Build(st, mustAnnual(t, y))
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range r.Tables {
			for _, row := range append(tb.Rows, tb.Total) {
				c, cp := big.NewRat(row.Count, 1), big.NewRat(row.CountPrev, 1)
				tc, tp := rat(row.TechAmount), rat(row.TechAmountPrev)
				if g := row.CountGrowth(); !samePct(g, pct(new(big.Rat).Sub(c, cp), cp)) {
					t.Errorf("%d %s %s: count growth %q (%d on %d)", y, tb.ID, row.Key, g, row.Count, row.CountPrev)
				}
				if g := row.TechGrowth(); !samePct(g, pct(new(big.Rat).Sub(tc, tp), tp)) {
					t.Errorf("%d %s %s: tech growth %q (%s on %s)", y, tb.ID, row.Key, g, row.TechAmount, row.TechAmountPrev)
				}
			}
		}
	}
}

// TestWriteCSV reads the CSV back and checks every cell against the JSON document of the
// same report.
func TestWriteCSV(t *testing.T) {
	d := load(t, 2)
	st := d.state(t, 0)
	r, err := reports.Build(st, mustAnnual(t, 2024))
	if err != nil {
		t.Fatal(err)
	}
	var doc jDoc
	b, _ := r.MarshalJSON()
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := reports.WriteCSV(&buf, r, false); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\xef\xbb\xbf")) {
		t.Fatal("no byte-order mark")
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes()[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, i := recs[0], 1
	for _, tb := range doc.Tables {
		for _, row := range append(tb.Rows, tb.Total) {
			if i >= len(recs) {
				t.Fatalf("CSV ends before %s %v", tb.ID, row["key"])
			}
			for j, col := range header {
				want := ""
				switch v := row[col].(type) {
				case nil:
				case string:
					want = v
				case float64:
					want = fmt.Sprint(int64(v))
				}
				if col == "table" {
					want = tb.ID
				}
				if recs[i][j] != want {
					t.Errorf("%s %v: %s = %q, want %q", tb.ID, row["key"], col, recs[i][j], want)
				}
			}
			i++
		}
	}
	if i != len(recs) {
		t.Errorf("%d CSV rows, the document has %d", len(recs)-1, i-1)
	}
	var zh bytes.Buffer
	if err := reports.WriteCSV(&zh, r, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(zh.String(), "按合同类别,") || !strings.Contains(zh.String(), "成交额增长%") {
		t.Error("zh: Chinese titles and headers")
	}
}
