package reports

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"techledger/projections"
)

// The workbook (docs/reports.md, Workbook): a cover sheet, one sheet per table, and for an
// annual report a tax sheet. Amounts are in 万元, rounded half away from zero to two
// decimals, in number cells with the built-in format #,##0.00; shares and growth are number
// cells in percent. Each sheet is laid out in memory (the column widths depend on every
// cell) and then written with excelize's stream writer, row by row.

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
	f.SetZipWriter(fastZip)
	w := &book{f: f, names: map[string]bool{}}
	w.styles()
	if err := f.SetSheetName("Sheet1", CoverSheet); err != nil {
		return nil, fmt.Errorf("workbook: %w", err)
	}
	w.names[CoverSheet] = true
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

// fastZip is the workbook's zip writer: deflate at its fastest level, which compresses the
// sheets' repetitive XML almost as well as the default level in a fraction of the time.
// The compressors (about 1 MB each) are pooled, as archive/zip pools its own.
func fastZip(w io.Writer) excelize.ZipWriter {
	z := zip.NewWriter(w)
	z.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		if fw, ok := flatePool.Get().(*flate.Writer); ok {
			fw.Reset(out)
			return pooledFlate{fw}, nil
		}
		fw, err := flate.NewWriter(out, flate.BestSpeed)
		return pooledFlate{fw}, err
	})
	return z
}

var flatePool sync.Pool // of *flate.Writer at flate.BestSpeed

// pooledFlate returns its writer to flatePool when closed.
type pooledFlate struct{ *flate.Writer }

func (p pooledFlate) Close() error {
	err := p.Writer.Close()
	flatePool.Put(p.Writer)
	return err
}

// book writes a workbook, keeping the first error.
type book struct {
	f                        *excelize.File
	title, header, num, bold int
	names                    map[string]bool // sheet names taken
	sheet                    sheet           // the sheet being laid out, reused
	vals                     []any           // a row for the stream writer, reused
	err                      error
}

// sheet is a worksheet laid out in memory: its cells row by row (rows and, within a row,
// columns in increasing order, as the stream writer needs them) and its column widths.
type sheet struct {
	name   string
	cells  []sheetCell
	rows   []sheetRow
	widths []int
}

// sheetRow is row n, cells[from:to] from column A.
type sheetRow struct {
	n, from, to int
}

// sheetCell is a cell; a gap (set false) before a row's last cell is left out.
type sheetCell struct {
	c   excelize.Cell
	set bool
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
}

func (w *book) keep(err error) {
	if w.err == nil && err != nil {
		w.err = err
	}
}

// begin starts laying out sheet name.
func (w *book) begin(name string) *sheet {
	s := &w.sheet
	s.name, s.cells, s.rows, s.widths = name, s.cells[:0], s.rows[:0], s.widths[:0]
	return s
}

// set puts v (a string, float64 or int64; nil: an empty cell) with style at col, row.
func (s *sheet) set(col, row int, v any, style int) {
	if n := len(s.rows); n == 0 || s.rows[n-1].n != row {
		if n > 0 && s.rows[n-1].n > row {
			panic(fmt.Sprintf("reports: sheet %s: row %d after row %d", s.name, row, s.rows[n-1].n))
		}
		s.rows = append(s.rows, sheetRow{n: row, from: len(s.cells), to: len(s.cells)})
	}
	r := &s.rows[len(s.rows)-1]
	if col <= r.to-r.from {
		panic(fmt.Sprintf("reports: sheet %s: column %d of row %d set twice or out of order", s.name, col, row))
	}
	for r.to-r.from < col-1 {
		s.cells = append(s.cells, sheetCell{})
		r.to++
	}
	s.cells = append(s.cells, sheetCell{c: excelize.Cell{StyleID: style, Value: v}, set: true})
	r.to++
}

// text puts a string cell and widens its column to fit it.
func (s *sheet) text(col, row int, v string, style int) {
	s.set(col, row, v, style)
	s.fit(col, v)
}

// fit widens column col to fit v (two widths per wide rune).
func (s *sheet) fit(col int, v string) {
	n := 2
	for _, r := range v {
		if utf8.RuneLen(r) > 1 {
			n += 2
		} else {
			n++
		}
	}
	for len(s.widths) < col {
		s.widths = append(s.widths, 8)
	}
	s.widths[col-1] = max(s.widths[col-1], min(n, colWidthMax))
}

// number puts the decimal text v (at most two decimals) as a number cell, "" as an empty
// cell with the style, and widens the column for its #,##0.00 display.
func (s *sheet) number(col, row int, v string, style int) {
	if v == "" {
		s.set(col, row, nil, style)
		return
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		panic(fmt.Sprintf("reports: number cell %q: %v", v, err))
	}
	s.set(col, row, x, style)
	s.fit(col, v+",,,")
}

func (s *sheet) integer(col, row int, n int64, style int) {
	s.set(col, row, n, style)
	s.fit(col, strconv.FormatInt(n, 10)+",,,")
}

// flush writes the sheet laid out with a stream writer; frozen rows at the top stay in view.
func (w *book) flush(frozen int) {
	s := &w.sheet
	sw, err := w.f.NewStreamWriter(s.name)
	if err != nil {
		w.keep(err)
		return
	}
	// The stream writer keeps one <col> per column, each new one ahead of those set
	// before: set them from the last so that they come out in ascending order, as Excel
	// requires.
	for i := len(s.widths) - 1; i >= 0; i-- {
		w.keep(sw.SetColWidth(i+1, i+1, float64(s.widths[i])))
	}
	if frozen > 0 {
		w.keep(sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: frozen, TopLeftCell: "A" + strconv.Itoa(frozen+1), ActivePane: "bottomLeft"}))
	}
	for _, r := range s.rows {
		w.vals = w.vals[:0]
		for i := r.from; i < r.to; i++ {
			if c := &s.cells[i]; c.set {
				w.vals = append(w.vals, &c.c)
			} else {
				w.vals = append(w.vals, nil)
			}
		}
		w.keep(sw.SetRow("A"+strconv.Itoa(r.n), w.vals))
	}
	w.keep(sw.Flush())
}

// WanYuan returns m in 万元 rounded half away from zero to two decimals ("1234.57").
func WanYuan(m projections.Money) string {
	fen := m.Fen() // 0.01 万元 = 100 yuan = 10,000 fen
	if fen.IsInt64() {
		return wanYuan(fen.Int64())
	}
	neg := fen.Sign() < 0
	fen.Abs(fen)
	d := big.NewInt(10000)
	q, r := new(big.Int).QuoRem(fen, d, new(big.Int))
	if r.Lsh(r, 1).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	return hundredths(q.String(), neg && q.Sign() != 0)
}

// wanYuan is WanYuan of fen fen.
func wanYuan(fen int64) string {
	neg := fen < 0
	u := uint64(fen) // two's complement: -fen as uint64 below
	if neg {
		u = -u
	}
	q, r := u/10000, u%10000
	if r >= 5000 {
		q++
	}
	return hundredths(strconv.FormatUint(q, 10), neg && q != 0)
}

// hundredths formats a count of hundredths given as digits ("12345" -> "123.45").
func hundredths(s string, neg bool) string {
	for len(s) < 3 {
		s = "0" + s
	}
	s = s[:len(s)-2] + "." + s[len(s)-2:]
	if neg {
		s = "-" + s
	}
	return s
}

// RoundingRules is the cover sheet's statement of units and rounding.
const RoundingRules = "金额单位：万元，按四舍五入（half away from zero）保留两位小数；占比、增长单位：%，同样保留两位小数。合计由精确金额（分）求和后换算，不是各行取整值之和；上年同期为零时增长为空。"

func (w *book) cover(r *Report) {
	s := w.begin(CoverSheet)
	kind := "技术合同认定登记统计快报"
	if r.Period.From.Month == time.January && r.Period.To.Month == time.December && r.Period.From.Year == r.Period.To.Year {
		kind = fmt.Sprintf("%d年技术合同认定登记统计年报", r.Period.From.Year)
	}
	s.text(1, 1, kind, w.title)
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
		s.text(1, i+3, l[0], 0)
		s.set(2, i+3, l[1], 0)
	}
	s.fit(2, r.HeadHash.String())
	w.flush(0)
}

// sheetName returns a valid sheet name for a title, unique in the workbook, and takes it.
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
	for k := 2; w.names[n]; k++ {
		n = fmt.Sprintf("%s%d", string([]rune(base)[:min(len([]rune(base)), sheetNameMax-2)]), k)
	}
	w.names[n] = true
	return n
}

// newSheet adds a sheet and starts laying it out.
func (w *book) newSheet(name string) *sheet {
	_, err := w.f.NewSheet(name)
	w.keep(err)
	return w.begin(name)
}

func (w *book) table(t *Table) {
	s := w.newSheet(w.sheetName(t.Title))
	s.text(1, sheetTitleRow, t.Title, w.title)
	unit := "单位：万元；占比、增长：%"
	if t.Note != "" {
		unit += "。" + t.Note
	}
	s.set(1, sheetUnitRow, unit, 0)
	head := []string{"项目", "代码", "合同数（项）", "成交额", "技术交易额", "上年同期合同数", "上年同期成交额", "上年同期技术交易额", "成交额占比（%）", "成交额增长（%）"}
	if t.NoTech {
		head = []string{"项目", "代码", "付款笔数", "奖酬金额", "上年同期付款笔数", "上年同期奖酬金额", "金额占比（%）", "金额增长（%）"}
	}
	for _, x := range t.Total.Extra {
		head = append(head, extraLabels[x.Name])
	}
	for i, h := range head {
		s.text(i+1, sheetHeaderRow, h, w.header)
	}
	row := sheetHeaderRow + 1
	put := func(r *Row, style int) {
		s.text(1, row, r.Label, 0)
		if r.Key != "total" {
			s.text(2, row, r.Key, 0)
		}
		col := 3
		num := func(v string) { s.number(col, row, v, style); col++ }
		integer := func(n int64) { s.integer(col, row, n, style); col++ }
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
		s.text(1, row, "无合同的县（市、区）", 0)
		for _, m := range t.Missing {
			row++
			s.text(1, row, m.Label, 0)
			s.text(2, row, m.Key, 0)
		}
	}
	w.flush(sheetHeaderRow)
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
	s := w.newSheet(TaxSheet)
	s.text(1, 1, fmt.Sprintf("%d年税收优惠资格提示（供参考，非税务意见）", t.Year), w.title)
	s.set(1, 2, "增值税免税（按合同）：符合 / 可能 / 不符合；企业所得税：按卖方汇总技术交易额（所得的替代指标），单位：万元", 0)
	s.text(1, 3, "增值税免税", 0)
	s.text(2, 3, "符合", 0)
	s.text(3, 3, "可能", 0)
	s.text(4, 3, "不符合", 0)
	s.integer(2, 4, t.VATCounts.Eligible, w.num)
	s.integer(3, 4, t.VATCounts.Probable, w.num)
	s.integer(4, 4, t.VATCounts.NotEligible, w.num)
	head := []string{"卖方代码", "卖方名称", "合同数（项）", "技术交易额", "免税部分（≤500万元）", "减半部分", "适用规则"}
	const headRow = 6
	for i, h := range head {
		s.text(i+1, headRow, h, w.header)
	}
	for i, e := range t.EIT {
		r := headRow + 1 + i
		s.text(1, r, e.SellerID, 0)
		s.text(2, r, e.Name, 0)
		s.integer(3, r, e.Contracts, w.num)
		s.number(4, r, WanYuan(e.TechAmount), w.num)
		s.number(5, r, WanYuan(e.Exempt), w.num)
		s.number(6, r, WanYuan(e.HalfRate), w.num)
		rules := ""
		for j, id := range e.Rules {
			if j > 0 {
				rules += ", "
			}
			rules += id
		}
		s.text(7, r, rules, 0)
	}
	w.flush(headRow)
}
