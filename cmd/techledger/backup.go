package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"techledger/internal/replica"
	"techledger/ledger/filestore"
)

func init() {
	addVerb(verb{name: "backup", usage: "backup (--data DIR | --url URL [--token T]) --to DIR [--format table|json]", summary: "copy the log, online and incrementally, to a backup directory; verify it; print its position and head hash", nargs: 0, flags: backupFlags,
		help: "Copies the log, online, to a backup directory: from a data directory (opened read-only, so\nserve keeps running) byte for byte, or from a running server (--url) record by record with\nthe hash chain checked. Incremental: a second backup into the same directory copies only\nwhat it lacks. The copy is verified whole; backup prints its position and head hash."})
}

func backupFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var to, url, token, format string
	data.register(fs)
	fs.StringVar(&to, "to", "", "backup directory (created if needed; an earlier backup of the same log is brought up to date)")
	fs.StringVar(&url, "url", "", "copy from this server (http://host:port) instead of --data")
	fs.StringVar(&token, "token", "", "bearer token for --url (auditor or admin)")
	fs.StringVar(&format, "format", "table", "output format: table (text) or json")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		if to == "" || (format != "table" && format != "json") {
			if to == "" {
				fmt.Fprintln(stderr, "techledger backup: to: the backup directory is required")
			}
			c.usage()
			return exitUsage
		}
		if url == "" && data.fileDir() == "" {
			fmt.Fprintln(stderr, "techledger backup: store: only the embedded store is backed up by techledger; for JetStream use the server's own backup (docs/operations.md)")
			return exitUsage
		}
		opts := filestore.Options{Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
		var rep filestore.BackupReport
		var err error
		if url != "" {
			rep, err = backupURL(ctx, replica.Primary{URL: url, Token: token, Client: &http.Client{}}, to, opts)
		} else {
			rep, err = filestore.Backup(ctx, data.fileDir(), to, opts)
		}
		if err != nil {
			fmt.Fprintf(stderr, "techledger backup: %v\n", err)
			return exitFailure
		}
		return printBackup(stdout, "backup", format, rep)
	}
}

// backupURL brings the data directory to the head of the server p, checking the hash
// chain of every record, and verifies it whole.
func backupURL(ctx context.Context, p replica.Primary, to string, opts filestore.Options) (filestore.BackupReport, error) {
	s, err := filestore.Open(to, opts)
	if err != nil {
		return filestore.BackupReport{}, err
	}
	defer s.Close()
	before := s.Size()
	if _, err := replica.Pull(ctx, p, s); err != nil {
		return filestore.BackupReport{}, err
	}
	v, err := s.Verify(ctx)
	if err != nil {
		return filestore.BackupReport{}, fmt.Errorf("verify the copy: %w", err)
	}
	return filestore.BackupReport{Position: v.Head, HeadHash: v.HeadHash, Records: v.Records, Copied: s.Size() - before, Segments: s.Segments(), TakenAt: time.Now().UTC()}, nil
}

func printBackup(stdout io.Writer, what, format string, rep filestore.BackupReport) int {
	if format == "json" {
		writeJSONTo(stdout, rep)
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: position %d, head hash %s, %d records verified, %s bytes copied, %d segments\n",
		what, rep.Position, rep.HeadHash, rep.Records, group(rep.Copied), rep.Segments)
	return exitOK
}

func init() {
	addVerb(verb{name: "restore", usage: "restore --from BACKUP --data DIR [--format table|json]", summary: "put a backup in place as a new data directory (refuses a non-empty one) and verify it", nargs: 0, flags: restoreFlags,
		help: "Puts a backup in place as a data directory, which must be new or empty (a non-empty one is\nrefused), verifies it whole and prints its position and head hash."})
}

func restoreFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var from, format string
	data.register(fs)
	fs.StringVar(&from, "from", "", "backup directory (made by techledger backup)")
	fs.StringVar(&format, "format", "table", "output format: table (text) or json")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		if from == "" || data.fileDir() == "" || (format != "table" && format != "json") {
			if from == "" {
				fmt.Fprintln(stderr, "techledger restore: from: the backup directory is required")
			}
			c.usage()
			return exitUsage
		}
		rep, err := filestore.Restore(ctx, from, data.fileDir(), filestore.Options{Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			fmt.Fprintf(stderr, "techledger restore: %v\n", err)
			return exitFailure
		}
		return printBackup(stdout, "restored", format, rep)
	}
}
