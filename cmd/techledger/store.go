package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/jetstream"
	"techledger/ledger/kurrent"
	"techledger/projections"
)

// storeFlag is where a verb's ledger is: --data DIR (the embedded store) or --store URL.
type storeFlag struct {
	dir string // --data
	url string // --store; overrides dir
}

func (f *storeFlag) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.dir, "data", "./data", "data directory of the embedded store")
	fs.StringVar(&f.url, "store", "", "store URL instead of --data: file:///path, nats://host:port/STREAM[?replicas=3&creds=FILE], esdb://host:2113/STREAM[?tls=false]")
}

// String names the store for logs, without credentials.
func (f storeFlag) String() string {
	if f.url == "" {
		return f.dir
	}
	if u, err := url.Parse(f.url); err == nil {
		return u.Redacted()
	}
	return "(store URL)"
}

// fileDir returns the directory of an embedded store ("" for another backend).
func (f storeFlag) fileDir() string {
	switch {
	case f.url == "":
		return f.dir
	case strings.HasPrefix(f.url, "file://"):
		return strings.TrimPrefix(f.url, "file://")
	}
	return ""
}

// snapshotDir is where the projections' snapshot is kept: DATA/projections for the
// embedded store; none for other backends (they replay at start).
func snapshotDir(f storeFlag) string {
	if d := f.fileDir(); d != "" {
		return filepath.Join(d, "projections")
	}
	return ""
}

// openStore opens the store a verb was given, printing any warning about unsafe settings.
func openStore(ctx context.Context, f storeFlag, stderr io.Writer) (ledger.Store, int) {
	s, err := openStoreErr(ctx, f, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "techledger: %v\n", err)
		return nil, exitFailure
	}
	return s, 0
}

func openStoreErr(ctx context.Context, f storeFlag, stderr io.Writer) (ledger.Store, error) {
	return openStoreMode(ctx, f, false, stderr)
}

// openStoreRead opens the store for a verb that only reads: the embedded store read-only
// (filestore.OpenReadOnly), so that it works while serve owns the directory
// (docs/operations.md, "Reading a live store").
func openStoreRead(ctx context.Context, f storeFlag, stderr io.Writer) (ledger.Store, int) {
	s, err := openStoreMode(ctx, f, true, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "techledger: %v\n", err)
		return nil, exitFailure
	}
	return s, 0
}

func openStoreMode(ctx context.Context, f storeFlag, readOnly bool, stderr io.Writer) (ledger.Store, error) {
	if dir := f.fileDir(); dir != "" {
		// The filestore logs what it does not return as an error (an index checkpoint
		// ignored): on the verb's stderr, beside its other messages.
		opts := filestore.Options{Logger: slog.New(slog.NewTextHandler(stderr, nil))}
		if readOnly {
			return filestore.OpenReadOnly(dir, opts)
		}
		return filestore.Open(dir, opts)
	}
	switch {
	case strings.HasPrefix(f.url, "nats://"), strings.HasPrefix(f.url, "tls://"):
		s, err := jetstream.Open(ctx, f.url)
		if err != nil {
			return nil, err
		}
		warnings, err := s.Warnings(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "techledger: warning: cannot check the stream's settings: %v\n", err)
		}
		for _, w := range warnings {
			fmt.Fprintf(stderr, "techledger: WARNING: %s\n", w)
		}
		return s, nil
	case strings.HasPrefix(f.url, "kurrentdb://"), strings.HasPrefix(f.url, "kurrentdb+discover://"),
		strings.HasPrefix(f.url, "esdb://"), strings.HasPrefix(f.url, "esdb+discover://"):
		return kurrent.Open(ctx, f.url)
	}
	return nil, fmt.Errorf("store %q: want file:///path, nats://host:port/STREAM or esdb://host:2113/STREAM", f.url)
}

// projFlag holds the flags of the verbs that fold projections (serve, stats, rewards,
// replay): --home-province, the province `flow` is relative to (docs/domain.md, Statistics), and
// --snapshots, where the projections' snapshot is kept.
type projFlag struct {
	home      string
	snapshots string
}

func (p *projFlag) register(fs *pflag.FlagSet) {
	fs.StringVar(&p.home, "home-province", projections.DefaultHomeProvince, "home province of the flow dimension: its 2-digit GB/T 2260 prefix (14) or code (140000)")
	fs.StringVar(&p.snapshots, "snapshots", "", "directory of the projections' snapshot (default: DATA/projections for the embedded store, none for other stores, which then replay the log at every start)")
}

// options returns the projections' options, or an error naming the flag.
func (p projFlag) options() (projections.Options, error) {
	h := p.home
	if len(h) == 6 && strings.HasSuffix(h, "0000") {
		h = h[:2]
	}
	if _, ok := commands.ProvinceName(h); !ok || len(h) != 2 {
		return projections.Options{}, fmt.Errorf("home-province: %q is not a province (want a prefix such as 14 or a code such as 140000)", p.home)
	}
	return projections.Options{HomeProvince: h}, nil
}

// snapshotDir is where the projections' snapshot is kept: --snapshots, else
// DATA/projections for the embedded store, else none ("").
func (p projFlag) snapshotDir(f storeFlag) string {
	if p.snapshots != "" {
		return p.snapshots
	}
	return snapshotDir(f)
}
