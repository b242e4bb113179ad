package reports

import (
	"bytes"
	"fmt"
	"math/big"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"techledger/projections"
)

// The workbook (docs/reports.md, Workbook): a cover sheet, one sheet per table, and for an
// annual report a tax sheet. Amounts are in 万元, rounded half away from zero to two
// decimals, written as the exact decimal text of a number cell (no float conversion) with
// the built-in format #,##0.00; shares and growth are number cells in percent.

// Sheet layout of a table.
const (
	sheetTitleRow  = 1
	sheetUnitRow   = 2
	sheetHeaderRow = 3
	// numFmtThousands is Excel's built-in number format 4, "#,##0.00".
	numFmtThousands = 4
	// colWidthMax bounds a column's width, in character widths.
	colWidthMax = 60
	// sheetNameMax is Excel's limit on a sheet name, in characters.
	sheetNameMax = 31
)

// CoverSheet and TaxSheet are the names of the workbook's first and last sheets.
const (
	CoverSheet = "封面"
	TaxSheet   = "税收"
)

// Workbook returns the XLSX workbook of r, with a tax sheet when tax is not nil.
func Workbook(r *Report, tax *TaxReport) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	w := &book{f: f}
	w.styles()
	if err := f.SetSheetName("Sheet1", CoverSheet); err != nil {
		return nil, fmt.Errorf("workbook: %w", err)
	}
	w.cover(r)
	for i := range r.Tables {
		w.table(&r.Tables[i])
	}
	if tax != nil {
		w.tax(tax)
	}
	if w.err != nil {
		return nil, fmt.Errorf("workbook: %w", w.err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, fmt.Errorf("workbook: %w", err)
	}
	return buf.Bytes(), nil
}

// book writes a workbook, keeping the first error.
type book struct {
	f                        *excelize.File
	title, header, num, bold int
	widths                   map[string][]int // sheet -> column widths so far
	err                      error
}

func (w *book) styles() {
	style := func(s *excelize.Style) int {
		id, err := w.f.NewStyle(s)
		w.keep(err)
		return id
	}
	w.title = style(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	w.header = style(&excelize.Style{Font: &excelize.Font{Bold: true}, Alignment: &excelize.Alignment{Horizontal: "center", WrapText: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	w.num = style(&excelize.Style{NumFmt: numFmtThousands})
	w.bold = style(&excelize.Style{Font: &excelize.Font{Bold: true}, NumFmt: numFmtThousands})
	w.widths = map[string][]int{}
}

func (w *book) keep(err error) {
	if w.err == nil && err != nil {
		w.err = err
	}
}

func cell(col, row int) string {
	c, _ := excelize.CoordinatesToCellName(col, row)
	return c
}

// text writes a string cell and widens its column to fit it (two widths per wide rune).
func (w *book) text(sheet string, col, row int, s string) {
	w.keep(w.f.SetCellStr(sheet, cell(col, row), s))
	w.fit(sheet, col, s)
}

func (w *book) fit(sheet string, col int, s string) {
	n := 2
	for _, r := range s {
		if utf8.RuneLen(r) > 1 {
			n += 2
		} else {
			n++
		}
	}
	ws := w.widths[sheet]
	for len(ws) < col {
		ws = append(ws, 8)
	}
	ws[col-1] = max(ws[col-1], min(n, colWidthMax))
	w.widths[sheet] = ws
}

// number writes the decimal text s as a number cell ("" leaves the cell empty).
func (w *book) number(sheet string, col, row int, s string, style int) {
	c := cell(col, row)
	if s != "" {
		w.keep(w.f.SetCellDefault(sheet, c, s))
		w.fit(sheet, col, s+",,,")
	}
	w.keep(w.f.SetCellStyle(sheet, c, c, style))
}

func (w *book) integer(sheet string, col, row int, n int64, style int) {
	w.number(sheet, col, row, strconv.FormatInt(n, 10), style)
}

func (w *book) finish(sheet string, frozen int) {
	for i, n := range w.widths[sheet] {
		col, _ := excelize.ColumnNumberToName(i + 1)
		w.keep(w.f.SetColWidth(sheet, col, col, float64(n)))
	}
	if frozen > 0 {
		w.keep(w.f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: frozen, TopLeftCell: cell(1, frozen+1), ActivePane: "bottomLeft"}))
	}
}

// WanYuan returns m in 万元 rounded half away from zero to two decimals ("1234.57").
func WanYuan(m projections.Money) string {
	fen := m.Fen() // 0.01 万元 = 100 yuan = 10,000 fen
	neg := fen.Sign() < 0
	fen.Abs(fen)
	d := big.NewInt(10000)
	q, r := new(big.Int).QuoRem(fen, d, new(big.Int))
	if r.Lsh(r, 1).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	s := q.String()
	for len(s) < 3 {
		s = "0" + s
	}
	s = s[:len(s)-2] + "." + s[len(s)-2:]
	if neg && q.Sign() != 0 {
		s = "-" + s
	}
	return s
}

// RoundingRules is the cover sheet's statement of units and rounding.
const RoundingRules = "金额单位：万元，按四舍五入（half away from zero）保留两位小数；占比、增长单位：%，同样保留两位小数。合计由精确金额（分）求和后换算，不是各行取整值之和；上年同期为零时增长为空。"

func (w *book) cover(r *Report) {
	s := CoverSheet
	kind := "技术合同认定登记统计快报"
	if r.Period.From.Month == time.January && r.Period.To.Month == time.December && r.Period.From.Year == r.Period.To.Year {
		kind = fmt.Sprintf("%d年技术合同认定登记统计年报", r.Period.From.Year)
	}
	w.text(s, 1, 1, kind)
	w.keep(w.f.SetCellStyle(s, "A1", "A1", w.title))
	lines := [][2]string{
		{"统计期间", r.Period.From.String() + " 至 " + r.Period.To.String()},
		{"对比期间（上年同期）", r.Previous.From.String() + " 至 " + r.Previous.To.String()},
		{"截至日志位置", strconv.FormatUint(uint64(r.AsOf), 10)},
		{"截至时间（UTC）", r.RecordedAt.UTC().Format(time.RFC3339)},
		{"日志头哈希（SHA-256）", r.HeadHash.String()},
		{"本省", r.HomeProvince},
		{"统计口径", "已登记且截至该位置未撤销的合同，按变更后的内容，以登记日期归期"},
		{"单位与取整", RoundingRules},
	}
	for i, l := range lines {
		w.text(s, 1, i+3, l[0])
		w.keep(w.f.SetCellStr(s, cell(2, i+3), l[1]))
	}
	w.fit(s, 2, r.HeadHash.String())
	w.finish(s, 0)
}

// sheetName returns a valid, unique sheet name for a table.
func (w *book) sheetName(title string) string {
	name := []rune(title)
	if len(name) > sheetNameMax {
		name = name[:sheetNameMax]
	}
	for i, c := range name {
		switch c {
		case '[', ']', ':', '*', '?', '/', '\\':
			name[i] = '_'
		}
	}
	base := string(name)
	n := base
	for k := 2; ; k++ {
		if idx, _ := w.f.GetSheetIndex(n); idx < 0 {
			return n
		}
		n = fmt.Sprintf("%s%d", string([]rune(base)[:min(len([]rune(base)), sheetNameMax-2)]), k)
	}
}

func (w *book) table(t *Table) {
	s := w.sheetName(t.Title)
	_, err := w.f.NewSheet(s)
	w.keep(err)
	w.text(s, 1, sheetTitleRow, t.Title)
	w.keep(w.f.SetCellStyle(s, "A1", "A1", w.title))
	unit := "单位：万元；占比、增长：%"
	if t.Note != "" {
		unit += "。" + t.Note
	}
	w.keep(w.f.SetCellStr(s, cell(1, sheetUnitRow), unit))
	head := []string{"项目", "代码", "合同数（项）", "成交额", "技术交易额", "上年同期合同数", "上年同期成交额", "上年同期技术交易额", "成交额占比（%）", "成交额增长（%）"}
	if t.NoTech {
		head = []string{"项目", "代码", "付款笔数", "奖酬金额", "上年同期付款笔数", "上年同期奖酬金额", "金额占比（%）", "金额增长（%）"}
	}
	for _, x := range t.Total.Extra {
		head = append(head, extraLabels[x.Name])
	}
	for i, h := range head {
		w.text(s, i+1, sheetHeaderRow, h)
	}
	w.keep(w.f.SetCellStyle(s, cell(1, sheetHeaderRow), cell(len(head), sheetHeaderRow), w.header))
	row := sheetHeaderRow + 1
	put := func(r *Row, style int) {
		w.text(s, 1, row, r.Label)
		if r.Key != "total" {
			w.text(s, 2, row, r.Key)
		}
		col := 3
		num := func(v string) { w.number(s, col, row, v, style); col++ }
		integer := func(n int64) { w.integer(s, col, row, n, style); col++ }
		integer(r.Count)
		num(WanYuan(r.Amount))
		if !t.NoTech {
			num(WanYuan(r.TechAmount))
		}
		integer(r.CountPrev)
		num(WanYuan(r.AmountPrev))
		if !t.NoTech {
			num(WanYuan(r.TechAmountPrev))
		}
		num(r.AmountShare)
		num(r.AmountGrowth)
		for _, x := range r.Extra {
			integer(x.Value)
		}
		row++
	}
	for i := range t.Rows {
		put(&t.Rows[i], w.num)
	}
	put(&t.Total, w.bold)
	if len(t.Missing) > 0 {
		row++
		w.text(s, 1, row, "无合同的县（市、区）")
		for _, m := range t.Missing {
			row++
			w.text(s, 1, row, m.Label)
			w.text(s, 2, row, m.Key)
		}
	}
	w.finish(s, sheetHeaderRow)
}

// extraLabels are the header labels of the extra counts.
var extraLabels = map[string]string{
	"researchers":            "科研人员数",
	"researchers_prev":       "上年同期科研人员数",
	"ownership_assigned":     "赋予科研人员所有权（项）",
	"long_term_use_assigned": "赋予长期使用权（项）",
	"counties_covered":       "有合同的县（市、区）数",
	"counties":               "县（市、区）总数",
}

func (w *book) tax(t *TaxReport) {
	s := TaxSheet
	_, err := w.f.NewSheet(s)
	w.keep(err)
	w.text(s, 1, 1, fmt.Sprintf("%d年税收优惠资格提示（供参考，非税务意见）", t.Year))
	w.keep(w.f.SetCellStyle(s, "A1", "A1", w.title))
	w.keep(w.f.SetCellStr(s, "A2", "增值税免税（按合同）：符合 / 可能 / 不符合；企业所得税：按卖方汇总技术交易额（所得的替代指标），单位：万元"))
	w.text(s, 1, 3, "增值税免税")
	w.text(s, 2, 3, "符合")
	w.text(s, 3, 3, "可能")
	w.text(s, 4, 3, "不符合")
	w.integer(s, 2, 4, t.VATCounts.Eligible, w.num)
	w.integer(s, 3, 4, t.VATCounts.Probable, w.num)
	w.integer(s, 4, 4, t.VATCounts.NotEligible, w.num)
	head := []string{"卖方代码", "卖方名称", "合同数（项）", "技术交易额", "免税部分（≤500万元）", "减半部分", "适用规则"}
	const headRow = 6
	for i, h := range head {
		w.text(s, i+1, headRow, h)
	}
	w.keep(w.f.SetCellStyle(s, cell(1, headRow), cell(len(head), headRow), w.header))
	for i, e := range t.EIT {
		r := headRow + 1 + i
		w.text(s, 1, r, e.SellerID)
		w.text(s, 2, r, e.Name)
		w.integer(s, 3, r, e.Contracts, w.num)
		w.number(s, 4, r, WanYuan(e.TechAmount), w.num)
		w.number(s, 5, r, WanYuan(e.Exempt), w.num)
		w.number(s, 6, r, WanYuan(e.HalfRate), w.num)
		rules := ""
		for j, id := range e.Rules {
			if j > 0 {
				rules += ", "
			}
			rules += id
		}
		w.text(s, 7, r, rules)
	}
	w.finish(s, headRow)
}
