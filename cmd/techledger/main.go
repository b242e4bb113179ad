// Command techledger is the CLI and HTTP server of the techledger trade ledger: wiring
// only. It opens a store, hands commands to package commands, serves the API of package
// server and formats what the verbs print.
//
//	techledger serve   [--data DIR] [--addr 127.0.0.1:8080] [--tokens FILE] [--demo] [--feed nats://…]
//	techledger import  [--data DIR] [--format table|json] FILE|-
//	techledger stats   [--data DIR] [--by DIM,...] [--from DATE] [--to DATE] [--as-of POS|TIME] [--format table|json|csv]
//	techledger rewards [--data DIR] [--year YYYY] [--institution NAME] [--flags] [--as-of POS|TIME] [--format …]
//	techledger replay  [--data DIR]
//	techledger history [--data DIR] [--format table|json|csv] [--labels zh] CONTRACT_ID
//	techledger verify  [--data DIR] [--format table|json]
//	techledger export  [--data DIR] [--from POS] [--to POS] [--format json|csv] [--labels zh] [-o FILE]
//	techledger copy    --from URL --to URL [--format table|json]
//	techledger bench   [--url URL] [--clients N] [--duration D | --commands N] [--token TOKEN] [--seed N] [--format table|json]
//	techledger version
//
// Every verb has --help; flags may come before or after the positional arguments;
// `techledger completion bash|zsh|fish|powershell` prints a shell completion script.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// exit codes
const (
	exitOK       = 0
	exitRejected = 1 // a command or import line was rejected; verify found a bad record
	exitUsage    = 2
	exitFailure  = 3 // the store or the system failed
)

// verb is one CLI verb. Each verb is declared in a file of its own, whose init registers
// it with addVerb: adding a verb is adding one file.
type verb struct {
	name    string // what the user types: "history"
	usage   string // the usage line after "techledger ", flags included
	summary string // one line in the list of verbs
	help    string // the --help text
	nargs   int    // how many positional arguments the verb takes (-n: at most n)
	// flags declares the verb's flags on fs and returns what the verb does once they are
	// parsed. It is called afresh for every run, so the flags' variables belong to one run.
	flags func(fs *pflag.FlagSet) action
}

// action runs a verb and returns its exit code.
type action func(ctx context.Context, c *call) int

// call is one run of a verb.
type call struct {
	args           []string // the positional arguments
	stdout, stderr io.Writer
	fs             *pflag.FlagSet
	cmd            *cobra.Command
}

// changed reports whether the flag name was given.
func (c *call) changed(name string) bool { return c.fs.Changed(name) }

// usage prints the verb's usage on stderr.
func (c *call) usage() { fmt.Fprint(c.stderr, c.cmd.UsageString()) }

// verbs are the registered verbs, in the order of registration.
var verbs []verb

// addVerb registers a verb; it is called from the init of the verb's file.
func addVerb(v verb) { verbs = append(verbs, v) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the verb args[0] with the rest of args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "techledger",
		Short:         "an event-sourced ledger of technology contracts (技术合同认定登记)",
		Long:          "techledger: an event-sourced ledger of technology contracts (技术合同认定登记)",
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs, // an unknown verb is an error, not the root's argument
		// Runnable, so that cobra checks Args (a root without Run answers anything with help).
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	// What a verb prints, a completion script and cobra's answers to completion requests
	// go to stdout; help goes to stderr, as it did before the verbs moved to cobra.
	root.SetOut(stdout)
	root.SetErr(stderr)
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		c.SetOut(stderr)
		help(c, args)
	})
	code := exitOK
	for _, v := range verbs {
		root.AddCommand(v.command(&code, stdout, stderr))
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, root.UsageString())
		return exitUsage
	}
	root.SetArgs(longFlags(args))
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil { // every error cobra returns is a mistake on the command line
		fmt.Fprintf(stderr, "techledger: %v\n\n", err)
		if cmd == nil {
			cmd = root
		}
		fmt.Fprint(stderr, cmd.UsageString())
		return exitUsage
	}
	return code
}

// command returns the cobra command of v; its run stores the exit code in code.
func (v verb) command(code *int, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   v.usage,
		Short: v.summary,
		Long:  v.help,
		Args:  cobra.ExactArgs(v.nargs),
	}
	if v.nargs < 0 {
		cmd.Args = cobra.MaximumNArgs(-v.nargs)
	}
	act := v.flags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		*code = act(cmd.Context(), &call{args: args, stdout: stdout, stderr: stderr, fs: cmd.Flags(), cmd: cmd})
		return nil
	}
	return cmd
}

// longFlags rewrites the single-dash long flags the standard flag package accepted
// (-data DIR) as the double-dash ones cobra reads (--data DIR), so that scripts written
// before the move keep working. One-letter flags (-o) and everything after "--" stay.
func longFlags(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "--" {
			copy(out[i:], args[i:])
			break
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(name) > 1 {
			a = "-" + a
		}
		out[i] = a
	}
	return out
}
