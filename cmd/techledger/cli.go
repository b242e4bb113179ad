package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/user"
	"strconv"

	"github.com/spf13/pflag"

	"techledger/commands"
	"techledger/ledger"
	"techledger/server"
)

// localActor names the person running the CLI, as recorded in events' metadata.
func localActor() commands.Actor {
	name := "cli"
	if u, err := user.Current(); err == nil {
		name = "cli:" + u.Username
	}
	return commands.Actor{Name: name, Role: "registrar"}
}

func init() {
	addVerb(verb{name: "import", usage: "import [--data DIR] [--format table|json] FILE|-", summary: "apply an NDJSON file of commands (- for stdin); report each rejected line", nargs: 1, flags: importFlags,
		help: "Applies every valid line of an NDJSON file of commands (- reads stdin), reports each\nrejected line as \"line N: <field>: <rule>\", prints a summary and exits 1 if any line\nwas rejected. Importing the same file again appends nothing."})
}

func importFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var format string
	data.register(fs)
	fs.StringVar(&format, "format", "table", "output format: table (text) or json ({applied, duplicates, rejected, last_position, errors})")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		if format != "table" && format != "json" {
			c.usage()
			return exitUsage
		}
		var in io.Reader = os.Stdin
		var size int64
		if name := c.args[0]; name != "-" {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintf(stderr, "techledger: %v\n", err)
				return exitFailure
			}
			defer f.Close()
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
			in = f
		}
		s, code := openStore(ctx, data, stderr)
		if s == nil {
			return code
		}
		defer s.Close()
		return importInto(ctx, s, in, size, localActor(), format, stdout, stderr)
	}
}

// importSummary is the JSON shape of an import's summary (import --format json).
type importSummary struct {
	Applied      int             `json:"applied"`
	Duplicates   int             `json:"duplicates"`
	Rejected     int             `json:"rejected"`
	LastPosition ledger.Position `json:"last_position"`
	Errors       []importError   `json:"errors"`
}

type importError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// importInto imports in (size bytes, 0 if unknown: for the progress bar) into s and
// prints the summary as text or JSON.
func importInto(ctx context.Context, s ledger.Store, in io.Reader, size int64, who commands.Actor, format string, stdout, stderr io.Writer) int {
	h := commands.NewHandler(s)
	cr := &countingReader{r: in}
	bar := newProgress(stderr, "import", "bytes", size)
	var onLine func(int, *commands.Summary)
	if bar != nil {
		onLine = func(line int, sum *commands.Summary) {
			bar.set(cr.n, fmt.Sprintf("line %s: applied %s, duplicates %s, rejected %s", group(int64(line)), group(int64(sum.Applied)), group(int64(sum.Duplicates)), group(int64(sum.Rejected))))
		}
	}
	sum, err := commands.Import(ctx, cr, h, who, onLine)
	bar.done(cr.n, fmt.Sprintf("applied %s, duplicates %s, rejected %s", group(int64(sum.Applied)), group(int64(sum.Duplicates)), group(int64(sum.Rejected))))
	if format == "json" {
		out := importSummary{Applied: sum.Applied, Duplicates: sum.Duplicates, Rejected: sum.Rejected, LastPosition: sum.LastPosition, Errors: []importError{}}
		for _, e := range sum.Errors {
			out.Errors = append(out.Errors, importError{Line: e.Line, Error: e.Err.Error()})
		}
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(out)
	} else {
		for _, e := range sum.Errors {
			fmt.Fprintln(stdout, e.Error())
		}
		if sum.Rejected > len(sum.Errors) {
			fmt.Fprintf(stdout, "... and %d more rejected lines\n", sum.Rejected-len(sum.Errors))
		}
		fmt.Fprintf(stdout, "applied %d, duplicates %d, rejected %d, last position %d\n", sum.Applied, sum.Duplicates, sum.Rejected, sum.LastPosition)
	}
	if err != nil {
		fmt.Fprintf(stderr, "techledger: import stopped: %v\n", err)
		return exitFailure
	}
	if sum.Rejected > 0 {
		return exitRejected
	}
	return exitOK
}

func init() {
	addVerb(verb{name: "history", usage: "history [--data DIR] [--format table|json|csv] [--labels zh] CONTRACT_ID", summary: "every event of a contract with position, time, actor and data", nargs: 1, flags: historyFlags,
		help: "Prints every event of a contract with its position, time, actor and data."})
}

func historyFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var format, labels string
	data.register(fs)
	fs.StringVar(&format, "format", "table", "output format: table, json or csv (the columns of export)")
	fs.StringVar(&labels, "labels", "", "zh: Chinese CSV headers")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		if err := checkFormat(format, labels); err != nil {
			fmt.Fprintf(stderr, "techledger history: %v\n", err)
			return exitUsage
		}
		s, code := openStore(ctx, data, stderr)
		if s == nil {
			return code
		}
		defer s.Close()
		hist, err := server.History(ctx, s, c.args[0])
		if err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			return exitFailure
		}
		if len(hist) == 0 {
			fmt.Fprintf(stderr, "techledger: contract %s is not registered\n", c.args[0])
			return exitRejected
		}
		if format == "csv" {
			rows := make([][]string, len(hist))
			for i, e := range hist {
				rows[i] = recordRow(e)
			}
			return emit(stdout, stderr, "csv", nil, recordHeader(labels == "zh"), rows)
		}
		if format == "json" {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(hist); err != nil {
				return exitFailure
			}
			return exitOK
		}
		rows := make([][]string, len(hist))
		for i, e := range hist {
			rows[i] = []string{strconv.FormatUint(uint64(e.Position), 10), strconv.FormatUint(uint64(e.Version), 10), e.RecordedAt.Format("2006-01-02 15:04:05.000"), e.Type, e.Metadata.Actor, e.Metadata.Role, e.Metadata.CommandID, e.Metadata.Reason}
		}
		writeTable(stdout, []string{"POSITION", "VERSION", "RECORDED AT (UTC)", "TYPE", "ACTOR", "ROLE", "COMMAND", "REASON"}, rows)
		for _, e := range hist {
			fmt.Fprintf(stdout, "\n#%d %s\n%s\n", e.Position, e.Type, e.Data)
		}
		return exitOK
	}
}

func init() {
	addVerb(verb{name: "verify", usage: "verify [--data DIR] [--format table|json]", summary: "check the whole log: framing, CRCs, positions, versions and the hash chain", nargs: 0, flags: verifyFlags,
		help: "Reads the whole log from disk and checks every frame's CRC and every record's position,\nstream version, hash link and hash. Exits 0 with a summary when the log checks out;\notherwise exits 1 naming the first bad record (segment, offset, position) and what is wrong."})
}

func verifyFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var format string
	data.register(fs)
	fs.StringVar(&format, "format", "table", "output format: table (text) or json (the document of GET /v1/verify)")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		if format != "table" && format != "json" {
			c.usage()
			return exitUsage
		}
		failed := func(ce *ledger.CorruptionError) int {
			if format == "json" {
				writeJSONTo(stdout, map[string]any{"ok": false, "position": ce.Position, "location": ce.Location, "reason": ce.Reason})
			} else {
				fmt.Fprintf(stdout, "FAILED: %v\n", ce)
			}
			return exitRejected
		}
		s, err := openStoreErr(ctx, data, stderr)
		var ce *ledger.CorruptionError
		if errors.As(err, &ce) {
			return failed(ce)
		}
		if err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			return exitFailure
		}
		defer s.Close()
		var rep ledger.VerifyReport
		head, _ := s.Head(ctx)
		bar := newProgress(stderr, "verify", "events", int64(head))
		progress := func(p ledger.Position) { bar.set(int64(p), "") }
		switch v := s.(type) {
		case progressVerifier:
			rep, err = v.VerifyProgress(ctx, progress)
		case ledger.Verifier:
			rep, err = v.Verify(ctx)
		default:
			rep, err = ledger.Verify(ctx, counted(s.ReadAll(ctx, 1), progress))
		}
		bar.done(int64(rep.Records), "")
		if errors.As(err, &ce) {
			return failed(ce)
		}
		if err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			return exitFailure
		}
		if format == "json" {
			writeJSONTo(stdout, map[string]any{"ok": true, "report": rep})
			return exitOK
		}
		fmt.Fprintf(stdout, "OK: %d records in %d streams, head position %d, head hash %s\n", rep.Records, rep.Streams, rep.Head, rep.HeadHash)
		return exitOK
	}
}

// writeJSONTo writes v as one line of JSON, HTML characters unescaped.
func writeJSONTo(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// progressVerifier is a store whose Verify reports how far it is (filestore.Store).
type progressVerifier interface {
	VerifyProgress(ctx context.Context, progress func(ledger.Position)) (ledger.VerifyReport, error)
}

// counted passes on the records of seq, calling progress with the position of every
// 4096th.
func counted(seq iter.Seq2[ledger.Record, error], progress func(ledger.Position)) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		for rec, err := range seq {
			if err == nil && rec.Position%4096 == 0 {
				progress(rec.Position)
			}
			if !yield(rec, err) {
				return
			}
		}
	}
}
