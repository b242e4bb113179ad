package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"techledger/ledger"
	"techledger/transparency"
)

// verifierKeyFile is where serve --signing-key leaves the verifier key (public), beside the
// tree, so that prove and certificate find it.
const verifierKeyFile = "key.pub"

// tlogFlag holds the transparency log's flags.
type tlogFlag struct {
	dir        string
	signingKey string
	interval   time.Duration
	public     bool
	witnesses  []string
}

func (f *tlogFlag) register(fs *pflag.FlagSet, serve bool) {
	fs.StringVar(&f.dir, "tlog", "", "directory of the transparency log (default: DATA/tlog for the embedded store, ./tlog for other stores)")
	if serve {
		fs.StringVar(&f.signingKey, "signing-key", "", "checkpoint signing key file (techledger keygen): keep the Merkle tree, sign checkpoints, serve proofs")
		fs.DurationVar(&f.interval, "checkpoint-interval", time.Second, "least time between two signed checkpoints")
		fs.BoolVar(&f.public, "public-proofs", false, "serve checkpoints, proofs and tiles to anyone, without a token")
		fs.StringArrayVar(&f.witnesses, "witness", nil, "URL of a C2SP tlog-witness (techledger witness) to cosign each checkpoint; repeatable")
	}
}

// path returns the transparency directory for the store flags.
func (f tlogFlag) path(data storeFlag) string {
	switch {
	case f.dir != "":
		return f.dir
	case data.fileDir() != "":
		return filepath.Join(data.fileDir(), "tlog")
	}
	return "tlog"
}

// openSigning opens the transparency log for serve: with the signing key, writing the
// verifier key beside the tree. The key file must not be readable by others.
func (f tlogFlag) openSigning(ctx context.Context, s ledger.Store, data storeFlag, logger *slog.Logger) (*transparency.Log, string, error) {
	st, err := os.Stat(f.signingKey)
	if err != nil {
		return nil, "", fmt.Errorf("signing-key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("signing-key: %s is readable by others (mode %v): chmod 600 it", f.signingKey, st.Mode().Perm())
	}
	b, err := os.ReadFile(f.signingKey)
	if err != nil {
		return nil, "", fmt.Errorf("signing-key: %w", err)
	}
	signer, vkey, err := transparency.ParseSignerKey(string(b))
	if err != nil {
		return nil, "", fmt.Errorf("signing-key %s: %w", f.signingKey, err)
	}
	dir := f.path(data)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("tlog: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, verifierKeyFile), []byte(vkey+"\n"), 0o644); err != nil {
		return nil, "", fmt.Errorf("tlog: %w", err)
	}
	l, err := transparency.Open(ctx, s, transparency.Options{Dir: dir, Signer: signer, VerifierKey: vkey, Interval: f.interval, Logger: logger, Witnesses: f.witnesses})
	return l, vkey, err
}

// openReading opens the transparency log kept by serve, to read checkpoints and build
// proofs (prove, certificate): it needs the verifier key serve left beside the tree.
func (f tlogFlag) openReading(ctx context.Context, s ledger.Store, data storeFlag) (*transparency.Log, string, error) {
	dir := f.path(data)
	b, err := os.ReadFile(filepath.Join(dir, verifierKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("no transparency log in %s: run serve --signing-key first", dir)
	}
	if err != nil {
		return nil, "", fmt.Errorf("tlog: %w", err)
	}
	vkey := strings.TrimSpace(string(b))
	l, err := transparency.Open(ctx, s, transparency.Options{Dir: dir, VerifierKey: vkey, Logger: slog.New(slog.DiscardHandler)})
	return l, vkey, err
}
