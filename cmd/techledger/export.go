package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"techledger/ledger"
	"techledger/server"
)

// recordColumns are the CSV columns of a record (export and history --format csv).
var recordColumns = []string{"position", "recorded_at", "stream", "version", "type", "schema_version", "id",
	"actor", "role", "command_id", "correlation_id", "reason", "data", "prev_hash", "hash"}

// zhRecordColumns are their Chinese labels (--labels zh).
var zhRecordColumns = map[string]string{
	"position": "日志位置", "recorded_at": "记录时间(UTC)", "stream": "事件流", "version": "流版本", "type": "事件类型",
	"schema_version": "模式版本", "id": "事件编号", "actor": "操作人", "role": "角色", "command_id": "命令编号",
	"correlation_id": "关联编号", "reason": "原因", "data": "数据", "prev_hash": "前一哈希", "hash": "哈希",
}

func recordRow(r server.RecordView) []string {
	return []string{
		strconv.FormatUint(uint64(r.Position), 10), r.RecordedAt.Format(time.RFC3339Nano), r.Stream,
		strconv.FormatUint(uint64(r.Version), 10), r.Type, strconv.Itoa(int(r.SchemaVersion)), r.ID,
		r.Metadata.Actor, r.Metadata.Role, r.Metadata.CommandID, r.Metadata.CorrelationID, r.Metadata.Reason,
		string(r.Data), r.PrevHash.String(), r.Hash.String(),
	}
}

func recordHeader(zh bool) []string {
	if zh {
		return labelled(recordColumns, zhRecordColumns)
	}
	return recordColumns
}

func init() {
	addVerb(verb{name: "export", usage: "export [--data DIR] [--from POS] [--to POS] [--format json|csv] [--labels zh] [-o FILE]", summary: "write the log (records with metadata and hash links) as NDJSON or CSV", nargs: 0, flags: exportFlags,
		help: "Writes the log, or the positions --from..--to of it, with every record's metadata and hash\nlink: as NDJSON (--format json, the shape of GET /v1/events, one record per line) or as CSV\n(UTF-8 with BOM; --labels zh for Chinese headers). An auditor can check the hash chain of\nan export without techledger."})
}

func exportFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var from, to uint64
	var format, labels, outPath string
	data.register(fs)
	fs.Uint64Var(&from, "from", 1, "first position")
	fs.Uint64Var(&to, "to", 0, "last position (0: the head of the log when the export starts)")
	fs.StringVar(&format, "format", "json", "output format: json (NDJSON) or csv")
	fs.StringVar(&labels, "labels", "", "zh: Chinese CSV headers")
	fs.StringVarP(&outPath, "o", "o", "", "write to this file instead of standard output")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		switch {
		case format != "json" && format != "ndjson" && format != "csv":
			fmt.Fprintf(stderr, "techledger export: format: want json or csv, got %q\n", format)
			return exitUsage
		case labels != "" && labels != "zh":
			fmt.Fprintf(stderr, "techledger export: labels: only zh is known, got %q\n", labels)
			return exitUsage
		case from == 0:
			fmt.Fprintln(stderr, "techledger export: from: positions start at 1")
			return exitUsage
		case to != 0 && to < from:
			fmt.Fprintf(stderr, "techledger export: to: %d is before from (%d)\n", to, from)
			return exitUsage
		}
		s, code := openStoreRead(ctx, data, stderr)
		if s == nil {
			return code
		}
		defer s.Close()
		head, err := s.Head(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			return exitFailure
		}
		if to == 0 || ledger.Position(to) > head {
			to = uint64(head)
		}
		out := stdout
		if outPath != "" {
			f, err := os.Create(outPath)
			if err != nil {
				fmt.Fprintf(stderr, "techledger: %v\n", err)
				return exitFailure
			}
			defer f.Close()
			out = f
		}
		var bar *progress
		if !isTerminal(out) { // a bar on the terminal the records go to would garble them
			bar = newProgress(stderr, "export", "events", int64(to)-int64(from)+1)
		}
		n, err := exportRecords(ctx, s, ledger.Position(from), ledger.Position(to), format == "csv", labels == "zh", out, func(n int64) { bar.set(n, "") })
		bar.done(n, "")
		if err != nil {
			fmt.Fprintf(stderr, "techledger export: %v\n", err)
			return exitFailure
		}
		if outPath != "" {
			fmt.Fprintf(stdout, "exported %d events (positions %d..%d) to %s\n", n, from, from+uint64(n)-1, outPath)
		}
		return exitOK
	}
}

// exportRecords writes the records from..to of s to w as NDJSON or CSV.
func exportRecords(ctx context.Context, s ledger.Store, from, to ledger.Position, asCSV, zh bool, w io.Writer, progress func(int64)) (int64, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	var cw *csv.Writer
	var enc *json.Encoder
	if asCSV {
		bw.WriteString("\ufeff") // so that Excel reads UTF-8
		cw = csv.NewWriter(bw)
		cw.Write(recordHeader(zh))
	} else {
		enc = json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
	}
	var n int64
	if from <= to {
		for rec, err := range s.ReadAll(ctx, from) {
			if err != nil {
				return n, err
			}
			if rec.Position > to {
				break
			}
			v := server.ViewOf(rec)
			if asCSV {
				err = cw.Write(recordRow(v))
			} else {
				err = enc.Encode(v)
			}
			if err != nil {
				return n, err
			}
			n++
			if n%1024 == 0 {
				progress(n)
			}
		}
	}
	if asCSV {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}
