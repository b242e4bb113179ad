package reports_test

// The workbook read back with archive/zip and encoding/xml only (not excelize): every
// table's sheet holds the JSON document's rows, amounts converted to 万元 by a naive
// rounding written here, number cells formatted #,##0.00, the header frozen. A number
// cell is compared by its value: its text may drop trailing zeros ("12.5" for 12.50).

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path"
	"strconv"
	"strings"
	"testing"

	"techledger/ledger"
	"techledger/projections"
	"techledger/reports"
)

type xlsxCell struct {
	Ref   string `xml:"r,attr"`
	Style int    `xml:"s,attr"`
	Type  string `xml:"t,attr"`
	V     string `xml:"v"`
	IS    struct {
		T string `xml:"t"`
	} `xml:"is"`
}

type xlsxSheet struct {
	Panes []struct {
		YSplit string `xml:"ySplit,attr"`
		State  string `xml:"state,attr"`
	} `xml:"sheetViews>sheetView>pane"`
	Rows []struct {
		R     int        `xml:"r,attr"`
		Cells []xlsxCell `xml:"c"`
	} `xml:"sheetData>row"`
}

// workbook is a read-back workbook: sheet name -> cell ref -> (text, numFmtId).
type workbook struct {
	order  []string
	sheets map[string]map[string]xlsxValue
	frozen map[string]string
}

type xlsxValue struct {
	text    string
	numeric bool
	numFmt  int
}

func readXLSX(t *testing.T, b []byte) *workbook {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	decode := func(name string, v any) {
		if err := xml.Unmarshal(files[name], v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
			RID  string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	decode("xl/workbook.xml", &wb)
	var rels struct {
		Rels []struct {
			ID     string `xml:"Id,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	decode("xl/_rels/workbook.xml.rels", &rels)
	var sst struct {
		SI []struct {
			T string `xml:"t"`
			R []struct {
				T string `xml:"t"`
			} `xml:"r"`
		} `xml:"si"`
	}
	if files["xl/sharedStrings.xml"] != nil {
		decode("xl/sharedStrings.xml", &sst)
	}
	var styles struct {
		XF []struct {
			NumFmt int `xml:"numFmtId,attr"`
		} `xml:"cellXfs>xf"`
	}
	decode("xl/styles.xml", &styles)
	w := &workbook{sheets: map[string]map[string]xlsxValue{}, frozen: map[string]string{}}
	for _, s := range wb.Sheets {
		target := ""
		for _, r := range rels.Rels {
			if r.ID == s.RID {
				target = r.Target
			}
		}
		name := strings.TrimPrefix(target, "/")
		if !strings.HasPrefix(name, "xl/") {
			name = path.Join("xl", target)
		}
		var sh xlsxSheet
		decode(name, &sh)
		cells := map[string]xlsxValue{}
		for _, row := range sh.Rows {
			for _, c := range row.Cells {
				v := xlsxValue{numFmt: styles.XF[c.Style].NumFmt}
				switch c.Type {
				case "s":
					i, _ := strconv.Atoi(c.V)
					v.text = sst.SI[i].T
					for _, r := range sst.SI[i].R {
						v.text += r.T
					}
				case "inlineStr":
					v.text = c.IS.T
				case "str":
					v.text = c.V
				case "", "n":
					v.text, v.numeric = c.V, c.V != ""
				}
				cells[c.Ref] = v
			}
		}
		w.order = append(w.order, s.Name)
		w.sheets[s.Name] = cells
		for _, p := range sh.Panes {
			if p.State == "frozen" {
				w.frozen[s.Name] = p.YSplit
			}
		}
	}
	return w
}

// wan converts a JSON amount in yuan to 万元 with two decimals, half away from zero.
func wan(t *testing.T, yuanText string) string {
	r, ok := new(big.Rat).SetString(yuanText)
	if !ok {
		t.Fatalf("amount %q", yuanText)
	}
	r.Quo(r, big.NewRat(10000, 1))
	neg := r.Sign() < 0
	r.Abs(r)
	r.Add(r, big.NewRat(1, 200))
	cents := new(big.Int).Quo(new(big.Int).Mul(r.Num(), big.NewInt(100)), r.Denom())
	s := fmt.Sprintf("%d.%02d", new(big.Int).Quo(cents, big.NewInt(100)), new(big.Int).Rem(cents, big.NewInt(100)))
	if neg && cents.Sign() != 0 {
		s = "-" + s
	}
	return s
}

// sameNumber reports whether the decimal texts got and want are the same number (both ""
// for an empty cell).
func sameNumber(got, want string) bool {
	if got == "" || want == "" {
		return got == want
	}
	g, ok1 := new(big.Rat).SetString(got)
	w, ok2 := new(big.Rat).SetString(want)
	return ok1 && ok2 && g.Cmp(w) == 0
}

func TestWorkbook_MatchesJSON(t *testing.T) {
	d := load(t, 1)
	st := d.state(t, 0)
	p := mustAnnual(t, 2024)
	r, err := reports.Build(st, p)
	if err != nil {
		t.Fatal(err)
	}
	tax, err := reports.BuildTax(st, 2024)
	if err != nil {
		t.Fatal(err)
	}
	b, err := reports.Workbook(r, tax)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := r.MarshalJSON()
	var jd jDoc
	if err := json.Unmarshal(doc, &jd); err != nil {
		t.Fatal(err)
	}
	wb := readXLSX(t, b)
	if len(wb.order) != len(jd.Tables)+2 || wb.order[0] != reports.CoverSheet || wb.order[len(wb.order)-1] != reports.TaxSheet {
		t.Fatalf("sheets %v", wb.order)
	}
	cover := wb.sheets[reports.CoverSheet]
	var coverText []string
	for _, v := range cover {
		coverText = append(coverText, v.text)
	}
	all := strings.Join(coverText, "\n")
	for _, want := range []string{jd.HeadHash, strconv.FormatUint(jd.AsOf, 10), "2024-01-01 至 2024-12-31", "2023-01-01 至 2023-12-31", "万元", "四舍五入"} {
		if !strings.Contains(all, want) {
			t.Errorf("cover sheet lacks %q", want)
		}
	}
	col := func(i int) string { return string(rune('A' + i)) }
	for i, tb := range jd.Tables {
		name := wb.order[i+1]
		cells := wb.sheets[name]
		if cells["A1"].text != tb.Title {
			t.Errorf("sheet %s: title %q, want %q", name, cells["A1"].text, tb.Title)
		}
		if !strings.Contains(cells["A2"].text, "万元") {
			t.Errorf("sheet %s: unit row %q", name, cells["A2"].text)
		}
		if wb.frozen[name] != "3" {
			t.Errorf("sheet %s: frozen at %q, want 3", name, wb.frozen[name])
		}
		noTech := tb.ID == "rewards_by_institution"
		for j, row := range append(append([]jRow{}, tb.Rows...), tb.Total) {
			n := 4 + j
			want := []string{fmt.Sprint(row["count"])}
			want = append(want, wan(t, row["amount"].(string)))
			if !noTech {
				want = append(want, wan(t, row["tech_amount"].(string)))
			}
			want = append(want, fmt.Sprint(row["count_prev"]), wan(t, row["amount_prev"].(string)))
			if !noTech {
				want = append(want, wan(t, row["tech_amount_prev"].(string)))
			}
			for _, k := range []string{"amount_share", "amount_growth"} {
				if row[k] == nil {
					want = append(want, "")
				} else {
					want = append(want, row[k].(string))
				}
			}
			if got := cells[fmt.Sprintf("A%d", n)].text; got != row["label"] {
				t.Errorf("%s row %d: label %q, want %v", name, n, got, row["label"])
			}
			for k, w := range want {
				c := cells[fmt.Sprintf("%s%d", col(2+k), n)]
				if !sameNumber(c.text, w) || (w != "" && !c.numeric) || c.numFmt != 4 {
					t.Errorf("%s %s%d: %+v, want number %q with format 4", name, col(2+k), n, c, w)
				}
			}
		}
	}
	// The tax sheet: VAT counts and the EIT tallies in 万元.
	tc := wb.sheets[reports.TaxSheet]
	if tc["B4"].text != strconv.FormatInt(tax.VATCounts.Eligible, 10) || tc["D4"].text != strconv.FormatInt(tax.VATCounts.NotEligible, 10) {
		t.Errorf("tax sheet VAT counts %v %v", tc["B4"], tc["D4"])
	}
	for i, e := range tax.EIT {
		n := 7 + i
		if tc[fmt.Sprintf("A%d", n)].text != e.SellerID || !sameNumber(tc[fmt.Sprintf("D%d", n)].text, wan(t, e.TechAmount.String())) {
			t.Errorf("tax sheet row %d: %v %v, want %s %s", n, tc[fmt.Sprintf("A%d", n)], tc[fmt.Sprintf("D%d", n)], e.SellerID, wan(t, e.TechAmount.String()))
		}
	}
}

func TestWanYuan(t *testing.T) {
	for _, c := range []struct {
		fen  int64
		want string
	}{{0, "0.00"}, {4999, "0.00"}, {5000, "0.01"}, {1_000_000, "1.00"}, {123_456_789_01, "12345.68"}, {-5000, "-0.01"}, {-4999, "0.00"}} {
		m := projections.Fen(c.fen)
		if got := reports.WanYuan(m); got != c.want {
			t.Errorf("WanYuan(%d fen) = %q, want %q", c.fen, got, c.want)
		}
	}
}

// TestCache_Render: the JSON it renders is Build's document and a newline; a workbook is a
// zip; a format or a period the rules refuse is a *projections.QueryError.
func TestCache_Render(t *testing.T) {
	d := load(t, 2)
	st := d.state(t, 0)
	var c reports.Cache
	r, err := reports.Build(st, mustAnnual(t, 2024))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := r.MarshalJSON()
	got, err := c.Render(st, reports.Request{Kind: reports.KindAnnual, Year: 2024})
	if err != nil || !bytes.Equal(got, append(want, '\n')) {
		t.Fatalf("annual JSON differs from Build's (%v)", err)
	}
	for _, q := range []reports.Request{
		{Kind: reports.KindAnnual, Year: 2024, Format: "xlsx"},
		{Kind: reports.KindTax, Year: 2024, Format: "xlsx"},
		{Kind: reports.KindPeriod, From: ledger.Date{Year: 2024, Month: 1, Day: 1}, To: ledger.Date{Year: 2024, Month: 3, Day: 31}, Format: "xlsx"},
	} {
		b, err := c.Render(st, q)
		if err != nil || !bytes.HasPrefix(b, []byte("PK")) {
			t.Errorf("%+v: %v", q, err)
		}
	}
	for _, q := range []reports.Request{
		{Kind: reports.KindAnnual, Year: 2024, Format: "pdf"},
		{Kind: reports.KindPeriod, From: ledger.Date{Year: 2024, Month: 1, Day: 2}, To: ledger.Date{Year: 2024, Month: 3, Day: 31}},
		{Kind: reports.KindTax, Year: 10000},
	} {
		var qe *projections.QueryError
		if _, err := c.Render(st, q); !errors.As(err, &qe) {
			t.Errorf("%+v: %v, want a QueryError", q, err)
		}
	}
}
