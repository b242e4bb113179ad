package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"techledger/ledger"
	"techledger/projections"
	"techledger/reports"
	"techledger/server"
)

// The statistics dashboard (/stats, docs/console.md): the annual-report tables of a year or
// a period as headline tiles, charts and the tables under them, with the workbook and the
// CSV to download. Its numbers are the report document's (GET /v1/reports/...): the same
// reports.Build over the same projections, kept in the cache the API's routes use.

// Figures is what the statistics dashboard reads: the projections the API's report routes
// answer from, and the cache of report documents it shares with them
// (server.Config.Reports), so that a page and the JSON of one position are one
// computation.
type Figures struct {
	Projections server.Projections
	Reports     *reports.Cache
}

// dashQuery is what the dashboard's picker asks for.
type dashQuery struct {
	kind     string // reports.KindAnnual or reports.KindPeriod
	year     int    // annual; 0: the year of the last record folded
	from, to ledger.Date
	asOf     server.AsOf
}

// dashYears is how many years the year picker offers, back from the latest.
const dashYears = 10

// parseDashQuery reads ?year= or ?from=&to= (a month "2024-01" or a date) and ?as_of=. It
// returns the values as typed and an error per field at fault.
func parseDashQuery(qs url.Values) (dashQuery, map[string]string, map[string]string) {
	vals, errs := map[string]string{}, map[string]string{}
	for _, k := range []string{"year", "from", "to", "as_of"} {
		vals[k] = strings.TrimSpace(qs.Get(k))
	}
	q := dashQuery{kind: reports.KindAnnual}
	if vals["from"] != "" || vals["to"] != "" {
		q.kind = reports.KindPeriod
		for _, k := range []string{"from", "to"} {
			if vals[k] == "" {
				errs[k] = "期间须同时给出起止月份（from and to are both required）"
				continue
			}
			d, err := parseMonth(vals[k], k == "to")
			if err != nil {
				errs[k] = err.Error()
				continue
			}
			if k == "from" {
				q.from = d
			} else {
				q.to = d
			}
		}
		if len(errs) == 0 {
			if _, err := reports.NewPeriod(q.from, q.to); err != nil {
				var qe *projections.QueryError
				if errors.As(err, &qe) {
					errs[qe.Field] = qe.Rule
				} else {
					errs["from"] = err.Error()
				}
			}
		}
	} else if vals["year"] != "" {
		y, err := strconv.Atoi(vals["year"])
		if err == nil {
			_, err = reports.Annual(y)
		}
		if err != nil {
			errs["year"] = fmt.Sprintf("年份应为 %d 至 %d 之间的四位数字（a year such as 2024）", reports.YearMin, reports.YearMax)
		}
		q.year = y
	}
	a, err := server.ParseAsOf(vals["as_of"])
	if err != nil {
		errs["as_of"] = "应为日志位置（正整数）或 RFC 3339 时间（" + err.Error() + "）"
	}
	q.asOf = a
	return q, vals, errs
}

// parseMonth reads "2024-03" (the first day of the month, or with last its last day) or a
// date "2024-03-01".
func parseMonth(s string, last bool) (ledger.Date, error) {
	if len(s) == len("2024-03") {
		t, err := time.Parse("2006-01", s)
		if err != nil {
			return ledger.Date{}, fmt.Errorf("月份格式应为 YYYY-MM（want a month such as 2024-03, got %q）", s)
		}
		if last {
			t = t.AddDate(0, 1, -1)
		}
		return ledger.DateOf(t), nil
	}
	d, err := ledger.ParseDate(s)
	if err != nil {
		return ledger.Date{}, fmt.Errorf("月份格式应为 YYYY-MM（%v）", err)
	}
	return d, nil
}

func monthOf(d ledger.Date) string { return fmt.Sprintf("%04d-%02d", d.Year, d.Month) }

// period returns the period q covers, the year of st's last record when q names none.
func (q *dashQuery) period(st *projections.State, now time.Time) (reports.Period, error) {
	if q.kind == reports.KindPeriod {
		return reports.NewPeriod(q.from, q.to)
	}
	if q.year == 0 {
		q.year = reports.DefaultYear(st, now)
	}
	return reports.Annual(q.year)
}

// cacheFor returns the shared cache for the live projections; a past position or time
// gets a cache of its own, so that it does not push out the live documents.
func (c *Console) cacheFor(a server.AsOf) *reports.Cache {
	if a.Pos == 0 && a.At.IsZero() {
		return c.cfg.Figures.Reports
	}
	return &reports.Cache{}
}

// queryError maps an error of StateAt or the reports to a field of the picker, if it is
// a *projections.QueryError.
func queryError(err error, errs map[string]string) bool {
	var qe *projections.QueryError
	if !errors.As(err, &qe) {
		return false
	}
	f := qe.Field
	if f == "kind" {
		f = "year"
	}
	errs[f] = qe.Rule
	return true
}

// dashTile is a headline figure.
type dashTile struct {
	ID, Label   string
	Value, Unit string // as shown: count, or 万元
	Exact       string // the exact figure (元), "" for a count
	Prev        string // the previous period's, as Value
	Growth      string // percent, "" when the previous period has none
}

// dashChart is a chart and the table of its numbers.
type dashChart struct {
	ID, Title, Note string
	Bars            *barChart
	Line            *lineChart
	Table           reports.Table
	CountLabel      string // the count column's header: 合同数, 付款笔数
	AmountLabel     string // 成交额, 奖励金额
	Extra           []string
}

func (c *Console) getDashboard(w http.ResponseWriter, r *http.Request, who Principal) {
	q, vals, errs := parseDashQuery(r.URL.Query())
	data := map[string]any{"Title": "统计", "Values": vals, "Errors": errs}
	status := http.StatusOK
	if len(errs) == 0 {
		var view dashView
		var latest int
		cache := c.cacheFor(q.asOf)
		err := server.StateAt(r.Context(), c.cfg.Figures.Projections, q.asOf, func(st *projections.State) error {
			latest = reports.DefaultYear(st, c.now())
			p, err := q.period(st, c.now())
			if err != nil {
				return err
			}
			// The report's part of the page is the same for every reader of one position
			// and period: it is rendered once and kept beside the report.
			v, err := cache.Get(st, "web-dashboard|"+q.kind+"|"+p.From.String()+"|"+p.To.String(), func() (any, error) {
				return c.dashboardView(st, cache, p, q)
			})
			if err != nil {
				return err
			}
			view = v.(dashView)
			return nil
		})
		switch {
		case err == nil:
			vals["year"] = strconv.Itoa(q.year)
			if q.kind == reports.KindPeriod { // as the month inputs show them
				vals["year"], vals["from"], vals["to"] = "", monthOf(view.period.From), monthOf(view.period.To)
			}
			data["ReportHTML"] = view.html
			data["Latest"] = latest
		case queryError(err, errs):
		default:
			c.failed(w, r, who, err)
			return
		}
	}
	if len(errs) > 0 {
		status = http.StatusBadRequest
	}
	data["YearField"] = yearField(vals["year"], data["Latest"], errs["year"], c.now().Year())
	c.render(w, r, status, "dashboard", who, data)
}

// dashView is the report's part of the dashboard, rendered.
type dashView struct {
	html   template.HTML
	period reports.Period
}

// dashboardView renders the tiles, charts and tables of period p from st.
func (c *Console) dashboardView(st *projections.State, cache *reports.Cache, p reports.Period, q dashQuery) (dashView, error) {
	rep, err := cache.Report(st, p)
	if err != nil {
		return dashView{}, err
	}
	monthly, err := cache.Monthly(st, p)
	if err != nil {
		return dashView{}, err
	}
	data := map[string]any{}
	c.dashboardData(data, rep, monthly, q)
	var buf bytes.Buffer
	if err := c.pages["dashboard"].ExecuteTemplate(&buf, "dashreport", data); err != nil {
		return dashView{}, fmt.Errorf("render the dashboard: %w", err)
	}
	return dashView{html: template.HTML(buf.String()), period: rep.Period}, nil
}

// yearField is the year picker: the dashYears years to the latest with data (this year
// when it is not known), and the one asked for.
func yearField(selected string, latest any, problem string, thisYear int) fieldView {
	last, _ := latest.(int)
	if last == 0 {
		last = thisYear
	}
	g := optionGroup{Options: []option{{Value: "", Label: "按期间（见右）"}}}
	years := []string{}
	for y := last; y > last-dashYears; y-- {
		years = append(years, strconv.Itoa(y))
	}
	if selected != "" && !slices.Contains(years, selected) {
		years = append(years, selected)
	}
	for _, y := range years {
		g.Options = append(g.Options, option{Value: y, Label: y + " 年", Selected: y == selected})
	}
	return fieldView{Name: "year", Label: "年度", Type: "select", Value: selected, Error: problem, Options: []optionGroup{g}}
}

// rewardsTopMax is how many institutions the rewards chart shows.
const rewardsTopMax = 10

// dashboardData puts the report's tiles, charts and tables into data.
func (c *Console) dashboardData(data map[string]any, rep *reports.Report, monthly reports.Table, q dashQuery) {
	table := func(id string) reports.Table {
		for _, t := range rep.Tables {
			if t.ID == id {
				return t
			}
		}
		panic("web: the report has no table " + id) // Build always writes every table
	}
	total := table(reports.TableByType).Total
	data["Report"] = rep
	data["Tiles"] = []dashTile{
		{ID: "count", Label: "合同数", Value: group(strconv.FormatInt(total.Count, 10)), Unit: "项", Prev: group(strconv.FormatInt(total.CountPrev, 10)), Growth: total.CountGrowth()},
		{ID: "amount", Label: "成交额", Value: wan(total.Amount), Unit: "万元", Exact: group(total.Amount.String()), Prev: wan(total.AmountPrev), Growth: total.AmountGrowth},
		{ID: "tech_amount", Label: "技术交易额", Value: wan(total.TechAmount), Unit: "万元", Exact: group(total.TechAmount.String()), Prev: wan(total.TechAmountPrev), Growth: total.TechGrowth()},
	}
	bars := func(t reports.Table, title, note, unit string) dashChart {
		if note == "" {
			note = t.Note
		}
		b := newBarChart(title+"：本期与上年同期成交额（万元）", t.Rows, unit)
		return dashChart{ID: t.ID, Title: title, Note: note, Bars: &b, Table: t, CountLabel: "合同数", AmountLabel: "成交额"}
	}
	line := newLineChart("各月成交额：本期与上年同期（万元）", monthly.Rows)
	charts := []dashChart{
		{ID: reports.TableMonthly, Title: "各月成交额", Note: monthly.Note, Line: &line, Table: monthly, CountLabel: "合同数", AmountLabel: "成交额"},
		bars(table(reports.TableByType), "按合同类别", "", "项"),
		bars(table(reports.TableByField), "按技术领域", "", "项"),
		bars(table(reports.TableBySellerCity), "本省各市技术输出", "按卖方所在市；合计为卖方在本省的合同", "项"),
		bars(table(reports.TableByBuyerCity), "本省各市技术吸纳", "按买方所在市；吸纳仅含在本省登记的合同；合计为买方在本省的合同", "项"),
		bars(table(reports.TableByFlow), "按技术流向", "", "项"),
	}
	rw := table(reports.TableRewards)
	top := slices.Clone(rw.Rows) // the cached report is shared: sort a copy
	slices.SortStableFunc(top, func(a, b reports.Row) int { return b.Amount.Fen().Cmp(a.Amount.Fen()) })
	top = top[:min(len(top), rewardsTopMax)]
	rw.Rows = top
	rc := bars(rw, "科研人员奖励和报酬前十位单位", fmt.Sprintf("按支付日期；按本期奖励金额排列前 %d 位；合计为全部单位", rewardsTopMax), "笔")
	rc.CountLabel, rc.AmountLabel, rc.Extra = "付款笔数", "奖励金额", []string{"科研人员数", "上年同期科研人员数"}
	charts = append(charts, rc)
	data["Charts"] = charts
	v := url.Values{}
	if q.kind == reports.KindPeriod {
		v.Set("from", rep.Period.From.String())
		v.Set("to", rep.Period.To.String())
	} else {
		v.Set("year", strconv.Itoa(q.year))
	}
	if rep.AsOf > 0 && (q.asOf.Pos != 0 || !q.asOf.At.IsZero()) {
		v.Set("as_of", strconv.FormatUint(uint64(rep.AsOf), 10))
	}
	data["Download"] = v.Encode()
}

// getDashboardFile answers the dashboard's downloads: the workbook (the bytes of GET
// /v1/reports/...?format=xlsx) or the CSV of the tables (`report --format csv`).
func (c *Console) getDashboardFile(format string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, who Principal) {
		q, _, errs := parseDashQuery(r.URL.Query())
		var body []byte
		var name string
		err := errors.New("bad query")
		if len(errs) == 0 {
			cache := c.cacheFor(q.asOf)
			err = server.StateAt(r.Context(), c.cfg.Figures.Projections, q.asOf, func(st *projections.State) error {
				p, err := q.period(st, c.now())
				if err != nil {
					return err
				}
				name = fmt.Sprintf("techledger-%s-%d", q.kind, q.year)
				if q.kind == reports.KindPeriod {
					name = fmt.Sprintf("techledger-%s-%s-%s", q.kind, p.From, p.To)
				}
				if format == reports.FormatXLSX {
					body, err = cache.Render(st, reports.Request{Kind: q.kind, Year: q.year, From: p.From, To: p.To, Format: reports.FormatXLSX})
					return err
				}
				rep, err := cache.Report(st, p)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if err := reports.WriteCSV(&buf, rep, true); err != nil {
					return err
				}
				body = buf.Bytes()
				return nil
			})
		}
		if err != nil && (len(errs) > 0 || queryError(err, errs)) {
			var msg []string
			for _, k := range []string{"year", "from", "to", "as_of"} {
				if e, ok := errs[k]; ok {
					msg = append(msg, k+"："+e)
				}
			}
			c.render(w, r, http.StatusBadRequest, "error", who, map[string]any{"Title": "无法下载", "Message": strings.Join(msg, "；")})
			return
		}
		if err != nil {
			c.failed(w, r, who, err)
			return
		}
		ct := "text/csv; charset=utf-8"
		if format == reports.FormatXLSX {
			ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, name, format))
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	}
}

// formatCSV names the CSV download (reports has JSON and XLSX only).
const formatCSV = "csv"
