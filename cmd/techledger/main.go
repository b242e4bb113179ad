// Command techledger is the CLI and HTTP server of the techledger trade ledger: wiring
// only. It opens a store, hands commands to package commands and serves the log.
//
//	techledger serve   [--data DIR] [--addr 127.0.0.1:8080] [--tokens FILE] [--demo] [--feed nats://…]
//	techledger import  [--data DIR] [--format table|json] FILE|-
//	techledger stats   [--data DIR] [--by DIM,...] [--from DATE] [--to DATE] [--as-of POS|TIME] [--format table|json|csv]
//	techledger rewards [--data DIR] [--year YYYY] [--institution NAME] [--flags] [--as-of POS|TIME] [--format …]
//	techledger replay  [--data DIR]
//	techledger history [--data DIR] [--format table|json|csv] [--labels zh] CONTRACT_ID
//	techledger verify  [--data DIR] [--format table|json]
//	techledger export  [--data DIR] [--from POS] [--to POS] [--format json|csv] [--labels zh] [-o FILE]
//	techledger keygen  --origin NAME --out FILE
//	techledger prove   [--data DIR] [--tlog DIR] [--url URL] [-o FILE] CONTRACT_ID
//	techledger audit   --key KEY (BUNDLE | --checkpoint SAVED --url URL)
//	techledger certificate [--data DIR] [--url URL --key KEY] [--format text|html] [-o FILE] CONTRACT_ID
//	techledger bench   [--url URL] [--clients N] [--duration D | --commands N] [--token TOKEN] [--seed N] [--format table|json]
//
// Every verb has --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// exit codes
const (
	exitOK       = 0
	exitRejected = 1 // a command or import line was rejected; verify found a bad record
	exitUsage    = 2
	exitFailure  = 3 // the store or the system failed
)

type verb struct {
	name, usage, summary string
	run                  func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// verbs is set in init: the verbs' flag sets print their usage line from it.
var verbs []verb

func init() {
	verbs = []verb{
		{"serve", "serve [--data DIR] [--addr ADDR] [--tokens FILE] [--demo]", "serve the HTTP API (with --demo: a fresh store loaded with the sample data)", runServe},
		{"import", "import [--data DIR] [--format table|json] FILE|-", "apply an NDJSON file of commands (- for stdin); report each rejected line", runImport},
		{"stats", "stats [--data DIR] [--by DIM,...] [--from DATE] [--to DATE] [--as-of POS|TIME] [--format table|json|csv] [--labels zh]", "registered-contract statistics by period and dimension", runStats},
		{"rewards", "rewards [--data DIR] [--year YYYY] [--institution NAME] [--flags] [--as-of POS|TIME] [--format table|json|csv] [--labels zh]", "researcher reward tallies (or assignments below the floors)", runRewards},
		{"replay", "replay [--data DIR]", "rebuild the projections from the whole log and write a snapshot", runReplay},
		{"history", "history [--data DIR] [--format table|json|csv] [--labels zh] CONTRACT_ID", "every event of a contract with position, time, actor and data", runHistory},
		{"verify", "verify [--data DIR] [--format table|json]", "check the whole log: framing, CRCs, positions, versions and the hash chain", runVerify},
		{"export", "export [--data DIR] [--from POS] [--to POS] [--format json|csv] [--labels zh] [-o FILE]", "write the log (records with metadata and hash links) as NDJSON or CSV", runExport},
		{"keygen", "keygen --origin NAME --out FILE", "write a new checkpoint signing key to FILE (0600) and print its verifier key", runKeygen},
		{"prove", "prove [--data DIR] [--tlog DIR] [--url URL] [-o FILE] CONTRACT_ID", "write a contract's proof bundle (signed checkpoint, records, inclusion proofs)", runProve},
		{"audit", "audit --key KEY (BUNDLE | --checkpoint SAVED --url URL)", "check a proof bundle offline, or that the log still extends a saved checkpoint", runAudit},
		{"certificate", "certificate [--data DIR] [--url URL --key KEY] [--format text|html] [-o FILE] CONTRACT_ID", "print a contract's registration certificate with its transparency proof and a QR code", runCertificate},
		{"bench", "bench [--url URL] [--clients N] [--duration D | --commands N] [--token TOKEN] [--seed N] [--format table|json]", "load the HTTP API with the sample command mix (without --url: a server in this process); report commands/s and latency", runBench},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, v := range verbs {
		if v.name == args[0] {
			return v.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "techledger: unknown verb %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "techledger: an event-sourced ledger of technology contracts (技术合同认定登记)")
	fmt.Fprintln(w, "\nusage: techledger <verb> [flags]")
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-60s %s\n", v.usage, v.summary)
	}
}

// flags returns a flag set for a verb with the --data and --store flags every verb has and help as
// its --help text (after the verb's usage line).
func flags(name, help string, stderr io.Writer, data *storeFlag) *flag.FlagSet {
	fs := verbFlags(name, help, stderr)
	data.register(fs)
	return fs
}

// parse parses args, returning an exit code if the verb should stop.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}
