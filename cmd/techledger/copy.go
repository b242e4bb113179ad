package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"techledger/copier"
	"techledger/ledger"
)

func init() {
	addVerb(verb{name: "copy", usage: "copy --from URL --to URL [--format table|json]", summary: "copy a ledger into another store, record for record (resumable); verify both", flags: copyFlags,
		help: "Copies every record of the --from store into the --to store as it is (position, event ID,\nstream, version, recorded-at, metadata, hashes), then verifies both logs and prints their heads\nand head hashes, which must be equal. The target must be empty or hold a copy of the source's\nbeginning: after an interruption run the same command again and it resumes from the target's\nhead. Records appended to the source after the copy starts are left for the next run.\nStores: a directory, file:///path, nats://host:port/STREAM, esdb://host:2113/STREAM (see\ndocs/backends.md)."})
}

// copyFlags is `techledger copy --from URL --to URL`: package copier does the work.
func copyFlags(fs *pflag.FlagSet) action {
	var from, to, format string
	fs.StringVar(&from, "from", "", "the store to copy: DIR, file:///path, nats://host:port/STREAM or esdb://host:2113/STREAM")
	fs.StringVar(&to, "to", "", "the store to copy into (empty, or a copy of the source's beginning)")
	fs.StringVar(&format, "format", "table", "output format: table (text) or json")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		if from == "" || to == "" || (format != "table" && format != "json") {
			c.usage()
			return exitUsage
		}
		src, err := openStoreErr(ctx, copyStore(from), stderr)
		if err != nil {
			fmt.Fprintf(stderr, "techledger: copy: open --from: %v\n", err)
			return exitFailure
		}
		defer src.Close()
		dst, err := openStoreErr(ctx, copyStore(to), stderr)
		if err != nil {
			fmt.Fprintf(stderr, "techledger: copy: open --to: %v\n", err)
			return exitFailure
		}
		defer dst.Close()
		head, _ := src.Head(ctx)
		bar := newProgress(stderr, "copy", "events", int64(head))
		rep, err := copier.Copy(ctx, src, dst, copier.Options{Progress: func(done, _ ledger.Position) { bar.set(int64(done), "") }})
		bar.done(int64(rep.Target.Head), "")
		if err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			if errors.Is(err, copier.ErrMismatch) || errors.Is(err, ledger.ErrCorrupt) {
				return exitRejected
			}
			return exitFailure
		}
		if format == "json" {
			writeJSONTo(stdout, rep)
			return exitOK
		}
		fmt.Fprintf(stdout, "copied %d records (resumed from position %d)\n", rep.Copied, rep.Resumed)
		fmt.Fprintf(stdout, "source verified: %d records, head %d, head hash %s\n", rep.Source.Records, rep.Source.Head, rep.Source.HeadHash)
		fmt.Fprintf(stdout, "target verified: %d records, head %d, head hash %s\n", rep.Target.Records, rep.Target.Head, rep.Target.HeadHash)
		return exitOK
	}
}

// copyStore reads a --from or --to value: a URL, or a directory of the embedded store.
func copyStore(v string) storeFlag {
	if strings.Contains(v, "://") {
		return storeFlag{url: v}
	}
	return storeFlag{dir: v}
}
