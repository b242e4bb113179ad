package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"techledger/ledger"
	"techledger/projections"
	"techledger/reports"
	"techledger/server"
)

func init() {
	addVerb(verb{name: "report", usage: "report annual|period|tax [--data DIR] [--year YYYY | --from DATE --to DATE] [--as-of POS|TIME] [--format table|json|csv|xlsx] [-o FILE] [--labels zh]",
		summary: "the annual-report tables (or a quarter, months to date), or the tax-eligibility flags", nargs: 1, flags: reportFlags,
		help: "The annual-report tables (annual: a calendar year; period: whole months, e.g. a quarter\nor 1–N 月) with 合计, shares and growth on the same period of the previous year, and the\naction-plan indicators; or the tax-eligibility flags of a year (tax). --format json is the\ndocument of GET /v1/reports/..., byte for byte; xlsx the workbook. See docs/reports.md."})
}

// reportFlags is `techledger report annual|period|tax`.
func reportFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var at, format, labels, from, to, out string
	var year int
	data.register(fs)
	fs.IntVar(&year, "year", 0, "annual, tax: the year (default: the year of the last record)")
	fs.StringVar(&from, "from", "", "period: first day, the first of a month (YYYY-MM-DD)")
	fs.StringVar(&to, "to", "", "period: last day, the last of a month (YYYY-MM-DD)")
	fs.StringVar(&at, "as-of", "", "the ledger as it stood at a log POSITION or an RFC 3339 time")
	fs.StringVar(&format, "format", "table", "output: table, json, csv (UTF-8 with BOM) or xlsx")
	fs.StringVar(&labels, "labels", "", "zh: Chinese headers (table and csv)")
	fs.StringVarP(&out, "o", "o", "", "write to FILE instead of standard output")
	var proj projFlag
	proj.register(fs)
	return func(ctx context.Context, c *call) int {
		return runReportVerb(ctx, c, &data, &proj, c.args[0], year, from, to, at, format, labels, out)
	}
}

func runReportVerb(ctx context.Context, c *call, data *storeFlag, proj *projFlag, kind string, year int, from, to, at, format, labels, out string) int {
	stdout, stderr := c.stdout, c.stderr
	if kind != reports.KindAnnual && kind != reports.KindPeriod && kind != reports.KindTax {
		fmt.Fprintf(stderr, "techledger report: want annual, period or tax, got %q\n", kind)
		c.usage()
		return exitUsage
	}
	q := reports.Request{Kind: kind, Year: year, Format: reports.FormatJSON}
	if format == reports.FormatXLSX {
		q.Format = reports.FormatXLSX
	}
	var errs []error
	for _, d := range []struct {
		name, s string
		dst     *ledger.Date
	}{{"from", from, &q.From}, {"to", to, &q.To}} {
		if d.s != "" {
			v, err := ledger.ParseDate(d.s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", d.name, err))
			}
			*d.dst = v
		}
	}
	if kind == reports.KindPeriod && (from == "") != (to == "") {
		errs = append(errs, errors.New("period: give both --from and --to, or neither"))
	}
	a, err := server.ParseAsOf(at)
	opts, herr := proj.options()
	ferr := error(nil)
	if format != "xlsx" {
		ferr = checkFormat(format, labels)
	}
	if err = errors.Join(append(errs, err, herr, ferr)...); err != nil {
		fmt.Fprintf(stderr, "techledger report: %v\n", err)
		c.usage()
		return exitUsage
	}
	w := stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			fmt.Fprintf(stderr, "techledger report: %v\n", err)
			return exitFailure
		}
		defer f.Close()
		w = f
	}
	var cache reports.Cache
	return runReport(ctx, *data, *proj, opts, stderr, func(r *projections.Runner) int {
		var body []byte
		var doc *reports.Report
		var tax *reports.TaxReport
		err := server.StateAt(ctx, r, a, func(st *projections.State) (err error) {
			if q.Year == 0 {
				q.Year = reports.DefaultYear(st, time.Now())
			}
			if kind == reports.KindPeriod && q.From.IsZero() {
				p := reports.DefaultPeriod(st, time.Now())
				q.From, q.To = p.From, p.To
			}
			if body, err = cache.Render(st, q); err != nil || format == "json" || format == "xlsx" {
				return err
			}
			if kind == reports.KindTax {
				tax, err = reports.BuildTax(st, q.Year)
				return err
			}
			p, err := reports.Annual(q.Year)
			if kind == reports.KindPeriod {
				p, err = reports.NewPeriod(q.From, q.To)
			}
			if err == nil {
				doc, err = reports.Build(st, p)
			}
			return err
		})
		if err != nil {
			fmt.Fprintf(stderr, "techledger report: %v\n", err)
			var qe *projections.QueryError
			if errors.As(err, &qe) {
				return exitUsage
			}
			return exitFailure
		}
		if format == "json" || format == "xlsx" {
			if _, err := w.Write(body); err != nil {
				fmt.Fprintf(stderr, "techledger report: %v\n", err)
				return exitFailure
			}
			return exitOK
		}
		header, rows := reportRows(doc, tax, labels == "zh")
		return emit(w, stderr, format, nil, header, rows)
	})
}

// reportRows flattens the tables (or the tax tallies) into one table: a row per table row,
// the table's id first.
func reportRows(doc *reports.Report, tax *reports.TaxReport, zh bool) ([]string, [][]string) {
	if tax != nil {
		header := []string{"seller_id", "name", "contracts", "tech_amount", "exempt", "half_rate", "rules"}
		if zh {
			header = []string{"卖方代码", "卖方名称", "合同数", "技术交易额", "免税部分", "减半部分", "适用规则"}
		}
		rows := [][]string{}
		for _, e := range tax.EIT {
			rules := ""
			for i, r := range e.Rules {
				if i > 0 {
					rules += ","
				}
				rules += r
			}
			rows = append(rows, []string{e.SellerID, e.Name, strconv.FormatInt(e.Contracts, 10), e.TechAmount.String(), e.Exempt.String(), e.HalfRate.String(), rules})
		}
		return header, rows
	}
	return reports.CSVRecords(doc, zh)
}
