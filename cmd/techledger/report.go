package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"techledger/commands"
	"techledger/ledger"
	"techledger/projections"
	"techledger/server"
)

// runReport opens the store read-only and a Runner over it, and calls fn with the Runner
// caught up. It starts from the snapshot if one matches, and writes none: the directory
// may be another process's (serve keeps the snapshot current; see docs/operations.md).
func runReport(ctx context.Context, data storeFlag, proj projFlag, opts projections.Options, stderr io.Writer, fn func(*projections.Runner) int) int {
	s, code := openStoreRead(ctx, data, stderr)
	if s == nil {
		return code
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	head, _ := s.Head(ctx)
	bar := newProgress(stderr, "replay", "events", int64(head)) // drawn only if catching up takes a while
	r := projections.NewRunner(s, projections.RunnerOptions{
		Options:     opts,
		SnapshotDir: proj.snapshotDir(data), SnapshotReadOnly: true,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Progress: func(p ledger.Position) { bar.set(int64(p), "") },
	})
	if err := r.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "techledger: %v\n", err)
		return exitFailure
	}
	if bar != nil && bar.width > 0 {
		bar.done(int64(r.Position()), "")
	}
	code = fn(r)
	return code
}

func init() {
	addVerb(verb{name: "stats", usage: "stats [--data DIR] [--by DIM,...] [--from DATE] [--to DATE] [--as-of POS|TIME] [--format table|json|csv] [--labels zh]", summary: "registered-contract statistics by period and dimension", nargs: 0, flags: statsFlags,
		help: "Registered-contract statistics (count, 成交额, 技术交易额, paid) over contracts registered and\nnot revoked, amendments applied, grouped by dimensions: " + strings.Join(projections.Dimensions, ", ") + ".\nNo --by gives one row of totals."})
}

func statsFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var by, from, to, at, format, labels string
	data.register(fs)
	fs.StringVar(&by, "by", "", "comma-separated dimensions to group by")
	fs.StringVar(&from, "from", "", "first registered_on date included (YYYY-MM-DD)")
	fs.StringVar(&to, "to", "", "last registered_on date included (YYYY-MM-DD)")
	fs.StringVar(&at, "as-of", "", "the ledger as it stood at a log POSITION or an RFC 3339 time")
	fs.StringVar(&format, "format", "table", "output: table, json or csv (UTF-8 with BOM)")
	fs.StringVar(&labels, "labels", "", "zh: Chinese headers and values (table and csv)")
	var proj projFlag
	proj.register(fs)
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		q, err := server.ParseStatsQuery(by, from, to)
		a, aerr := server.ParseAsOf(at)
		opts, herr := proj.options()
		if err = errors.Join(err, aerr, herr, checkFormat(format, labels)); err != nil {
			fmt.Fprintf(stderr, "techledger stats: %v\n", err)
			c.usage()
			return exitUsage
		}
		return runReport(ctx, data, proj, opts, stderr, func(r *projections.Runner) int {
			var rep projections.StatsReport
			err := server.StateAt(ctx, r, a, func(st *projections.State) (err error) {
				rep, err = st.Stats(q)
				return err
			})
			if err != nil {
				fmt.Fprintf(stderr, "techledger stats: %v\n", err)
				var qe *projections.QueryError
				if errors.As(err, &qe) {
					return exitUsage
				}
				return exitFailure
			}
			header, rows := statsTable(rep, labels == "zh")
			return emit(stdout, stderr, format, rep, header, rows)
		})
	}
}

func init() {
	addVerb(verb{name: "rewards", usage: "rewards [--data DIR] [--year YYYY] [--institution NAME] [--flags] [--as-of POS|TIME] [--format table|json|csv] [--labels zh]", summary: "researcher reward tallies (or assignments below the floors)", nargs: 0, flags: rewardsFlags,
		help: "Researcher reward tallies: each payment's net income as allocated to the proceeds\nbeneficiaries in force when it was recorded; per researcher and institution, with the\ncontracts and payments they were a beneficiary of."})
}

func rewardsFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var at, format, labels, institution string
	var year int
	var showFlags bool
	data.register(fs)
	fs.IntVar(&year, "year", 0, "only payments with paid_on in this year")
	fs.StringVar(&institution, "institution", "", "only researchers of this institution (exact name)")
	fs.BoolVar(&showFlags, "flags", false, "list the proceeds assignments below the statutory floor or the Shanxi policy level instead")
	fs.StringVar(&at, "as-of", "", "the ledger as it stood at a log POSITION or an RFC 3339 time")
	fs.StringVar(&format, "format", "table", "output: table, json or csv (UTF-8 with BOM)")
	fs.StringVar(&labels, "labels", "", "zh: Chinese headers (table and csv)")
	var proj projFlag
	proj.register(fs)
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		a, err := server.ParseAsOf(at)
		opts, herr := proj.options()
		if err = errors.Join(err, herr, checkFormat(format, labels)); err != nil {
			fmt.Fprintf(stderr, "techledger rewards: %v\n", err)
			c.usage()
			return exitUsage
		}
		return runReport(ctx, data, proj, opts, stderr, func(r *projections.Runner) int {
			var rep projections.RewardsReport
			var flagged []projections.Flag
			err := server.StateAt(ctx, r, a, func(st *projections.State) (err error) {
				if showFlags {
					flagged = st.Flags()
					return nil
				}
				rep, err = st.Rewards(projections.RewardsQuery{Year: year, Institution: institution})
				return err
			})
			if err != nil {
				fmt.Fprintf(stderr, "techledger rewards: %v\n", err)
				var qe *projections.QueryError
				if errors.As(err, &qe) {
					return exitUsage
				}
				return exitFailure
			}
			if showFlags {
				header, rows := flagsTable(flagged, labels == "zh")
				return emit(stdout, stderr, format, flagged, header, rows)
			}
			header, rows := rewardsTable(rep, labels == "zh")
			return emit(stdout, stderr, format, rep, header, rows)
		})
	}
}

func init() {
	addVerb(verb{name: "replay", usage: "replay [--data DIR] [--dry-run]", summary: "rebuild the projections from the whole log and write a snapshot (--dry-run: write nothing)", nargs: 0, flags: replayFlags,
		help: "Rebuilds the projections from the whole log, ignoring any snapshot, writes a new\nsnapshot, and prints how long it took. With --dry-run it writes nothing and opens the\nstore read-only, so it also runs while serve owns the directory."})
}

func replayFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var proj projFlag
	var dryRun bool
	data.register(fs)
	proj.register(fs)
	fs.BoolVar(&dryRun, "dry-run", false, "replay without writing a snapshot (the store opened read-only)")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		opts, err := proj.options()
		if err != nil {
			fmt.Fprintf(stderr, "techledger replay: %v\n", err)
			c.usage()
			return exitUsage
		}
		open := openStore
		if dryRun {
			open = openStoreRead
		}
		s, code := open(ctx, data, stderr)
		if s == nil {
			return code
		}
		defer s.Close()
		head, _ := s.Head(ctx)
		bar := newProgress(stderr, "replay", "events", int64(head))
		r := projections.NewRunner(s, projections.RunnerOptions{
			Options: opts, SnapshotDir: proj.snapshotDir(data), SnapshotReadOnly: dryRun,
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
			Progress: func(p ledger.Position) { bar.set(int64(p), "") },
		})
		start := time.Now()
		err = r.Rebuild(ctx)
		if err == nil {
			bar.done(int64(r.Position()), "")
		}
		if err != nil {
			fmt.Fprintf(stderr, "techledger replay: %v\n", err)
			return exitFailure
		}
		took := time.Since(start) // the snapshot write included
		var events ledger.Position
		var contracts int
		_ = r.Read(func(st *projections.State) error {
			events, contracts = st.Position(), st.Contracts()
			return nil
		})
		snap := "no snapshot written (give --snapshots DIR)"
		if d := proj.snapshotDir(data); dryRun {
			snap = "no snapshot written (--dry-run)"
		} else if d != "" {
			snap = "snapshot written to " + d
		}
		fmt.Fprintf(stdout, "replayed %d events (%d contracts) in %s: %.0f events/s; %s\n",
			events, contracts, took.Round(time.Millisecond), float64(events)/took.Seconds(), snap)
		return exitOK
	}
}

func checkFormat(format, labels string) error {
	if format != "table" && format != "json" && format != "csv" {
		return fmt.Errorf("format: want table, json or csv, got %q", format)
	}
	if labels != "" && labels != "zh" {
		return fmt.Errorf("labels: only zh is known, got %q", labels)
	}
	return nil
}

// emit prints v as JSON, or the table as text or CSV.
func emit(stdout, stderr io.Writer, format string, v any, header []string, rows [][]string) int {
	switch format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			return exitFailure
		}
	case "csv":
		io.WriteString(stdout, "\ufeff") // so that Excel reads UTF-8
		w := csv.NewWriter(stdout)
		w.Write(header)
		w.WriteAll(rows)
		if err := w.Error(); err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			return exitFailure
		}
	default:
		if err := writeTable(stdout, header, rows); err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			return exitFailure
		}
	}
	return exitOK
}

// Chinese labels of report columns (--labels zh).
var zhHeaders = map[string]string{
	"year": "年份", "quarter": "季度", "month": "月份", "type": "合同类别", "subtype": "合同子类",
	"field": "技术领域", "seller_kind": "卖方性质", "buyer_kind": "买方性质",
	"seller_province": "卖方省份", "seller_city": "卖方城市", "buyer_province": "买方省份", "buyer_city": "买方城市",
	"flow": "流向", "count": "合同数", "amount": "成交额(元)", "tech_amount": "技术交易额(元)", "paid": "已付金额(元)",
	"researcher_id": "科研人员编号", "name": "姓名", "institution": "单位", "reward": "奖励金额(元)",
	"contracts": "合同数", "payments": "付款笔数", "contract_id": "合同登记编号", "position": "日志位置",
	"effective_on": "生效日期", "researchers_share": "科研人员份额", "rule": "依据", "level": "层级", "min_share": "最低份额",
}

var zhFlows = map[string]string{"within": "省内", "outflow": "技术输出", "inflow": "技术吸纳", "external": "省外之间"}

func headers(names []string, zh bool) []string {
	if zh {
		return labelled(names, zhHeaders)
	}
	return names
}

// labelled returns the label of each name (the name itself if it has none).
func labelled(names []string, labels map[string]string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = cmp.Or(labels[n], n)
	}
	return out
}

// zhValue returns the Chinese label of a dimension value (the value itself if none).
func zhValue(dim, v string) string {
	var l string
	var ok bool
	switch dim {
	case "type":
		l, ok = commands.ContractTypeLabel(v)
	case "subtype":
		for _, t := range commands.ContractTypes() {
			if l, ok = commands.SubtypeLabel(t, v); ok {
				break
			}
		}
	case "field":
		l, ok = commands.FieldLabel(v)
	case "seller_kind", "buyer_kind":
		l, ok = commands.PartyKindLabel(v)
	case "seller_province", "buyer_province", "seller_city", "buyer_city":
		l, ok = commands.RegionName(v)
	case "flow":
		l, ok = zhFlows[v]
	}
	if !ok {
		return v
	}
	return l
}

func statsTable(rep projections.StatsReport, zh bool) ([]string, [][]string) {
	header := headers(append(append([]string{}, rep.By...), "count", "amount", "tech_amount", "paid"), zh)
	rows := make([][]string, len(rep.Rows))
	for i, r := range rep.Rows {
		row := make([]string, 0, len(header))
		for j, v := range r.Values {
			if zh {
				v = zhValue(rep.By[j], v)
			}
			row = append(row, v)
		}
		rows[i] = append(row, strconv.FormatInt(r.Count, 10), r.Amount.String(), r.TechAmount.String(), r.Paid.String())
	}
	return header, rows
}

func rewardsTable(rep projections.RewardsReport, zh bool) ([]string, [][]string) {
	header := headers([]string{"researcher_id", "name", "institution", "amount", "contracts", "payments"}, zh)
	if zh {
		header[3] = zhHeaders["reward"]
	}
	rows := make([][]string, len(rep.Rows))
	for i, r := range rep.Rows {
		rows[i] = []string{r.ResearcherID, r.Name, r.Institution, r.Amount.String(), strconv.FormatInt(r.Contracts, 10), strconv.FormatInt(r.Payments, 10)}
	}
	return header, rows
}

func flagsTable(flags []projections.Flag, zh bool) ([]string, [][]string) {
	header := headers([]string{"contract_id", "position", "effective_on", "researchers_share", "rule", "level", "min_share"}, zh)
	rows := make([][]string, len(flags))
	for i, f := range flags {
		rows[i] = []string{f.ContractID, strconv.FormatUint(uint64(f.Position), 10), f.EffectiveOn.String(), f.ResearchersShare.String(), f.Rule, f.Level, f.MinShare.String()}
	}
	return header, rows
}
