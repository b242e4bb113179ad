package reports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"testing"

	"techledger/internal/refdata"
	"techledger/ledger"
	"techledger/projections"
	"techledger/reports"
)

func mustAnnual(t testing.TB, y int) reports.Period {
	t.Helper()
	p, err := reports.Annual(y)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func build(t testing.TB, st *projections.State, p reports.Period) jDoc {
	t.Helper()
	r, err := reports.Build(st, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var d jDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d jDoc) row(table, key string) jRow {
	for _, t := range d.Tables {
		if t.ID == table {
			if key == "total" {
				return t.Total
			}
			for _, r := range t.Rows {
				if r["key"] == key {
					return r
				}
			}
		}
	}
	return nil
}

func count(r jRow) int64 {
	if r == nil {
		return 0
	}
	return int64(r["count"].(float64))
}

// TestBuild_AmendmentMovesContract: the amendment of contract 2024140101990002 moves it
// from development to service (and commissioned to training, agriculture to urban_social):
// the report as of just before and just after it differ by exactly that contract.
func TestBuild_AmendmentMovesContract(t *testing.T) {
	d := load(t, 1)
	p := mustAnnual(t, 2024)
	before := build(t, d.state(t, d.marks["moved-registered"]), p)
	after := build(t, d.state(t, d.marks["moved"]), p)
	for _, c := range []struct {
		table, key string
		delta      int64
	}{
		{"by_type", "development", -1}, {"by_type", "service", 1},
		{"by_subtype", "commissioned", -1}, {"by_subtype", "training", 1},
		{"by_field", "agriculture", -1}, {"by_field", "urban_social", 1},
		{"by_type", "total", 0},
	} {
		if got := count(after.row(c.table, c.key)) - count(before.row(c.table, c.key)); got != c.delta {
			t.Errorf("%s/%s: count changed by %d, want %d", c.table, c.key, got, c.delta)
		}
	}
	// The total amount changes by the amendment's 0.01.
	a, _ := new(big.Rat).SetString(after.row("by_type", "total")["amount"].(string))
	b, _ := new(big.Rat).SetString(before.row("by_type", "total")["amount"].(string))
	if diff := new(big.Rat).Sub(a, b); diff.Cmp(big.NewRat(1, 100)) != 0 {
		t.Errorf("total amount changed by %s, want 0.01", diff.FloatString(2))
	}
}

// TestBuild_RevocationAfterPeriod: a 2024 contract revoked after 2024 ended counts in the
// 2024 report as of before its revocation, and not as of after it (docs/reports.md: figures are
// as of the position, not as of the period's end).
func TestBuild_RevocationAfterPeriod(t *testing.T) {
	d := load(t, 2)
	p := mustAnnual(t, 2024)
	before := build(t, d.state(t, d.marks["revoked-registered"]), p)
	after := build(t, d.state(t, d.marks["revoked"]), p)
	for _, c := range [][2]string{{"by_type", "license"}, {"by_field", "nuclear"}, {"by_ip_type", "patent"}, {"by_ip_type", "software_copyright"}, {"by_type", "total"}} {
		if got := count(before.row(c[0], c[1])) - count(after.row(c[0], c[1])); got != 1 {
			t.Errorf("%s/%s: revocation removed %d contracts, want 1", c[0], c[1], got)
		}
	}
	// A contract with two IP types counts once in the 合计 of by_ip_type.
	if got := count(before.row("by_ip_type", "total")) - count(after.row("by_ip_type", "total")); got != 1 {
		t.Errorf("by_ip_type total: %d, want 1", got)
	}
}

// TestBuild_GrowthNullWithoutPreviousYear: the sample starts in 2019, so every growth of
// the 2019 report is null, and every share is still a number.
func TestBuild_GrowthNullWithoutPreviousYear(t *testing.T) {
	d := load(t, 3)
	doc := build(t, d.state(t, 0), mustAnnual(t, 2019))
	for _, tb := range doc.Tables {
		for _, r := range append(slices.Clone(tb.Rows), tb.Total) {
			if r["amount_growth"] != nil || r["count_prev"].(float64) != 0 {
				t.Errorf("%s/%v: growth %v, count_prev %v", tb.ID, r["key"], r["amount_growth"], r["count_prev"])
			}
		}
	}
	if got := doc.row("by_type", "total")["amount_share"]; got != "100.00" {
		t.Errorf("total share %v", got)
	}
}

// TestBuild_OutsideResults: the university in Beijing selling to a Shanxi firm is the row
// of 110000 in plan_outside_results.
func TestBuild_OutsideResults(t *testing.T) {
	d := load(t, 1)
	doc := build(t, d.state(t, 0), mustAnnual(t, 2024))
	r := doc.row("plan_outside_results", "110000")
	if r == nil || count(r) < 1 || r["label"] != "北京市" {
		t.Fatalf("row %v", r)
	}
}

// TestReport_ByteStable: the same position gives the same bytes whether the State was
// replayed in batches, folded record by record, or read back from a snapshot; and twice
// from one State.
func TestReport_ByteStable(t *testing.T) {
	d := load(t, 1)
	p := mustAnnual(t, 2024)
	doc := func(st *projections.State) []byte {
		r, err := reports.Build(st, p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := r.MarshalJSON()
		return b
	}
	replayed := d.state(t, 0)
	want := doc(replayed)
	if !bytes.Equal(want, doc(replayed)) {
		t.Fatal("two builds from one State differ")
	}
	one := projections.NewState(projections.Options{})
	for i := range d.recs {
		if err := one.Apply(&d.recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(want, doc(one)) {
		t.Fatal("Apply and Replay give other documents")
	}
	var snap bytes.Buffer
	if err := replayed.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	back, err := projections.ReadSnapshot(snap.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, doc(back)) {
		t.Fatal("a State read from a snapshot gives another document")
	}
	var js any
	if err := json.Unmarshal(want, &js); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(want) || !bytes.HasPrefix(want, []byte(fmt.Sprintf(`{"as_of":%d,"head_hash":"%s","home_province":"140000","period":{"from":"2024-01-01","to":"2024-12-31"},"previous":{"from":"2023-01-01","to":"2023-12-31"},"tables":[{"id":"by_type","title":"按合同类别","unit":"元","rows":[{"key":"development","label":"技术开发","count":`, replayed.Position(), replayed.Hash()))) {
		t.Fatalf("document starts %s", want[:300])
	}
}

func TestNewPeriod(t *testing.T) {
	date := func(s string) ledger.Date {
		d, err := ledger.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"2024-01-01", "2024-03-31", true},
		{"2024-02-01", "2024-02-29", true},
		{"2024-01-01", "2024-12-31", true},
		{"2024-01-02", "2024-03-31", false},
		{"2024-01-01", "2024-03-30", false},
		{"2024-04-01", "2024-03-31", false},
		{"2024-01-01", "2025-01-31", false},
	} {
		_, err := reports.NewPeriod(date(c.from), date(c.to))
		var qe *projections.QueryError
		if (err == nil) != c.ok || (err != nil && !errors.As(err, &qe)) {
			t.Errorf("NewPeriod(%s, %s) = %v", c.from, c.to, err)
		}
	}
	if _, err := reports.Annual(1899); err == nil {
		t.Error("year 1899 accepted")
	}
	p, _ := reports.NewPeriod(date("2024-02-01"), date("2024-02-29"))
	if q := p.Previous(); q.From != date("2023-02-01") || q.To != date("2023-02-28") {
		t.Errorf("previous of February 2024: %v", q)
	}
}

// TestCache_KeyedOnPosition: a second Get at the same position does not build; after a
// record is folded it builds again.
func TestCache_KeyedOnPosition(t *testing.T) {
	d := load(t, 1)
	st := d.state(t, ledger.Position(len(d.recs)-1))
	var c reports.Cache
	builds := 0
	get := func() {
		if _, err := c.Get(st, "k", func() (any, error) { builds++; return builds, nil }); err != nil {
			t.Fatal(err)
		}
	}
	get()
	get()
	if builds != 1 {
		t.Fatalf("%d builds at one position", builds)
	}
	if err := projections.Replay(context.Background(), d.store, st, 0); err != nil {
		t.Fatal(err)
	}
	get()
	if builds != 2 {
		t.Fatalf("%d builds after a record was folded", builds)
	}
}

// ---------------------------------------------------------------------------------------
// Tax flags, against a naive computation of the rules as docs/reports.md states them.

func TestBuildTax_MatchesNaive(t *testing.T) {
	qualifying := []string{"patent", "software_copyright", "ic_layout", "plant_variety", "biomedical_variety"}
	hasQual := func(c *nContract) bool {
		return slices.ContainsFunc(c.ip, func(ip string) bool { return slices.Contains(qualifying, ip) })
	}
	for _, seed := range seeds {
		d := load(t, seed)
		st := d.state(t, 0)
		n := foldNaive(t, d.recs, 0)
		for _, y := range []int{2019, 2024, 2025, 2026} {
			t.Run(fmt.Sprintf("seed=%d/%d", seed, y), func(t *testing.T) {
				tr, err := reports.BuildTax(st, y)
				if err != nil {
					t.Fatal(err)
				}
				b, err := tr.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				var got struct {
					VATCounts map[string]int64 `json:"vat_counts"`
					VAT       []struct {
						ContractID string `json:"contract_id"`
						Status     string `json:"status"`
						Rule       string `json:"rule"`
					} `json:"vat"`
					EIT []struct {
						SellerID   string `json:"seller_id"`
						Contracts  int64  `json:"contracts"`
						TechAmount string `json:"tech_amount"`
						Exempt     string `json:"exempt"`
						HalfRate   string `json:"half_rate"`
					} `json:"eit"`
					IIT []struct {
						ContractID  string `json:"contract_id"`
						Researchers string `json:"researchers_amount"`
						Status      string `json:"status"`
					} `json:"iit"`
				}
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatal(err)
				}
				year := mustAnnual(t, y)
				// VAT: one flag per live contract registered in the year, in the projections'
				// order (month, then log order): compare as maps.
				wantVAT := map[string]string{}
				counts := map[string]int64{}
				eit := map[string]*big.Rat{}
				eitN := map[string]int64{}
				for _, c := range n.contracts {
					if c.revoked || !within(c.reg, year.From, year.To) {
						continue
					}
					s := map[string]string{"development": "eligible", "transfer": "eligible", "license": "probable"}[c.typ]
					if s == "" {
						s = "not_eligible"
					}
					if !c.reg.Before(ledger.Date{Year: 2026, Month: 1, Day: 1}) && s == "eligible" {
						s = "probable"
					}
					wantVAT[c.id] = s
					counts[s]++
					if refdata.PartyKindGroup(c.seller.Kind) != "enterprise" || !hasQual(c) {
						continue
					}
					ok := c.typ == "transfer"
					if c.typ == "license" {
						for _, u := range c.uses {
							if u.Term.To.Time().Before(u.Term.From.Time().AddDate(5, 0, -1)) {
								continue
							}
							if c.reg.Before(ledger.Date{Year: 2015, Month: 10, Day: 1}) && u.Exclusivity != "exclusive" {
								continue
							}
							ok = true
						}
					}
					if ok {
						if eit[c.seller.ID] == nil {
							eit[c.seller.ID] = new(big.Rat)
						}
						eit[c.seller.ID].Add(eit[c.seller.ID], c.tech)
						eitN[c.seller.ID]++
					}
				}
				gotVAT := map[string]string{}
				for _, f := range got.VAT {
					gotVAT[f.ContractID] = f.Status
				}
				if fmt.Sprint(gotVAT) != fmt.Sprint(wantVAT) {
					t.Errorf("VAT flags differ: %d got, %d want", len(gotVAT), len(wantVAT))
				}
				for _, s := range []string{"eligible", "probable", "not_eligible"} {
					if got.VATCounts[s] != counts[s] {
						t.Errorf("vat_counts[%s] = %d, want %d", s, got.VATCounts[s], counts[s])
					}
				}
				if len(got.EIT) != len(eit) {
					t.Errorf("%d EIT sellers, want %d", len(got.EIT), len(eit))
				}
				threshold := big.NewRat(5_000_000, 1)
				for i, e := range got.EIT {
					if i > 0 && got.EIT[i-1].SellerID >= e.SellerID {
						t.Errorf("EIT not sorted at %d", i)
					}
					sum := eit[e.SellerID]
					if sum == nil {
						t.Errorf("unexpected EIT seller %s", e.SellerID)
						continue
					}
					exempt, half := new(big.Rat).Set(sum), new(big.Rat)
					if sum.Cmp(threshold) > 0 {
						exempt.Set(threshold)
						half.Sub(sum, threshold)
					}
					if e.TechAmount != yuan(sum) || e.Exempt != yuan(exempt) || e.HalfRate != yuan(half) || e.Contracts != eitN[e.SellerID] {
						t.Errorf("EIT %s: %+v, want %s %s %s %d", e.SellerID, e, yuan(sum), yuan(exempt), yuan(half), eitN[e.SellerID])
					}
				}
				// IIT: one flag per payment in the year with a researcher allocation, in log order.
				var want []string
				for _, pay := range n.payments {
					if !within(pay.paidOn, year.From, year.To) {
						continue
					}
					amt, any := new(big.Rat), false
					for _, a := range pay.allocs {
						if a.Kind == "researcher" {
							amt.Add(amt, rat(a.Amount))
							any = true
						}
					}
					if !any {
						continue
					}
					c := pay.contract
					g := refdata.PartyKindGroup(c.seller.Kind)
					ok := (g == "university" || g == "research_institute") && (c.typ == "transfer" || c.typ == "license") &&
						hasQual(c) && !c.revoked && !pay.paidOn.Before(ledger.Date{Year: 2018, Month: 7, Day: 1})
					s := "not_eligible"
					if ok {
						s = "probable"
					}
					want = append(want, c.id+" "+yuan(amt)+" "+s)
				}
				var have []string
				for _, f := range got.IIT {
					have = append(have, f.ContractID+" "+f.Researchers+" "+f.Status)
				}
				if !slices.Equal(have, want) {
					t.Errorf("IIT flags differ: %d got, %d want", len(have), len(want))
				}
			})
		}
	}
}
