package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"

	"github.com/spf13/pflag"

	"techledger/ledger"
	"techledger/server"
)

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
		s, code := openStoreRead(ctx, data, stderr)
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
		s, err := openStoreMode(ctx, data, true, stderr)
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
