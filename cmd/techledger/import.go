package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"

	"github.com/spf13/pflag"

	"techledger/commands"
	"techledger/ledger"
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
	addVerb(verb{name: "import", usage: "import [--data DIR | --url URL [--token TOKEN]] [--lanes N] [--file-order] [--format table|json] FILE|-", summary: "apply an NDJSON file of commands (- for stdin), locally or into a running server; report each rejected line", nargs: 1, flags: importFlags,
		help: "Applies every valid line of an NDJSON file of commands (- reads stdin), reports each\nrejected line as \"line N: <field>: <rule>\", prints a summary and exits 1 if any line\nwas rejected. Importing the same file again appends nothing. With --url the commands are\nposted to a running server (POST /v1/commands) instead of a local store.\n\nCommands are pipelined (--lanes at once): each contract's commands, and the use grants on\none achievement, are applied in file order, so the outcome is that of applying the lines\none by one (docs/operations.md, Bulk import). Into a local store, --file-order also puts\nthe events at the positions a one-at-a-time import gives them (about half as fast)."})
}

func importFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var format, serverURL, token string
	var lanes int
	var fileOrder bool
	data.register(fs)
	fs.StringVar(&format, "format", "table", "output format: table (text) or json ({applied, duplicates, rejected, last_position, errors})")
	fs.StringVar(&serverURL, "url", "", "post the commands to the server at this base URL (http://host:port) instead of opening --data")
	fs.StringVar(&token, "token", "", "with --url: send Authorization: Bearer TOKEN (a registrar's or an admin's)")
	fs.IntVar(&lanes, "lanes", commands.ImportLanesDefault, fmt.Sprintf("commands applied at once, 1..%d (1: one after the other)", commands.ImportLanesMax))
	fs.BoolVar(&fileOrder, "file-order", false, "into a local store: append in the file's order, so positions are those of a one-at-a-time import (about half as fast)")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		switch {
		case format != "table" && format != "json",
			lanes < 1 || lanes > commands.ImportLanesMax,
			token != "" && serverURL == "",
			fileOrder && serverURL != "",
			serverURL != "" && (c.changed("data") || c.changed("store")):
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
		if serverURL != "" {
			r, err := newRemote(serverURL, token, lanes)
			if err != nil {
				fmt.Fprintf(stderr, "techledger import: %v\n", err)
				return exitUsage
			}
			if err := r.check(ctx); err != nil {
				fmt.Fprintf(stderr, "techledger: %v\n", err)
				return exitFailure
			}
			return importInto(ctx, r, in, size, commands.ImportOptions{Lanes: lanes}, format, stdout, stderr)
		}
		s, code := openStore(ctx, data, stderr)
		if s == nil {
			return code
		}
		defer s.Close()
		a := commands.HandlerApplier{Handler: commands.NewHandler(s), Who: localActor()}
		return importInto(ctx, a, in, size, commands.ImportOptions{Lanes: lanes, FileOrder: fileOrder}, format, stdout, stderr)
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

// importInto imports in (size bytes, 0 if unknown: for the progress bar) through a and
// prints the summary as text or JSON.
func importInto(ctx context.Context, a commands.Applier, in io.Reader, size int64, opt commands.ImportOptions, format string, stdout, stderr io.Writer) int {
	cr := &countingReader{r: in}
	bar := newProgress(stderr, "import", "bytes", size)
	var onLine func(int, *commands.Summary)
	if bar != nil {
		onLine = func(line int, sum *commands.Summary) {
			bar.set(cr.n.Load(), fmt.Sprintf("line %s: applied %s, duplicates %s, rejected %s", group(int64(line)), group(int64(sum.Applied)), group(int64(sum.Duplicates)), group(int64(sum.Rejected))))
		}
	}
	opt.Progress = onLine
	sum, err := commands.ImportTo(ctx, cr, a, opt)
	bar.done(cr.n.Load(), fmt.Sprintf("applied %s, duplicates %s, rejected %s", group(int64(sum.Applied)), group(int64(sum.Duplicates)), group(int64(sum.Rejected))))
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
