package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"techledger/transparency"
)

func init() {
	addVerb(verb{name: "keygen", usage: "keygen --origin NAME --out FILE", summary: "write a new checkpoint signing key to FILE (0600) and print its verifier key", flags: keygenFlags,
		help: "Writes a new Ed25519 checkpoint signing key for a log named ORIGIN to FILE (mode 0600;\nFILE must not exist) and prints its verifier key (name+hash+base64) on stdout: give that\nto auditors. The origin is the name in every checkpoint; use different names for test\nand production logs (docs/transparency.md)."})
}

func keygenFlags(fs *pflag.FlagSet) action {
	var origin, out string
	fs.StringVar(&origin, "origin", "", "the log's name, e.g. techledger.example.cn/shanxi (no spaces or '+')")
	fs.StringVar(&out, "out", "", "file to write the signing key to")
	return func(_ context.Context, c *call) int {
		if origin == "" || out == "" {
			c.usage()
			return exitUsage
		}
		vkey, err := keygen(origin, out)
		if err != nil {
			fmt.Fprintf(c.stderr, "techledger keygen: %v\n", err)
			if errors.Is(err, os.ErrExist) {
				return exitUsage
			}
			return exitFailure
		}
		fmt.Fprintln(c.stdout, vkey)
		return exitOK
	}
}

// keygen writes a new signing key to path (which must not exist, mode 0600) and returns
// the verifier key.
func keygen(origin, path string) (string, error) {
	skey, vkey, err := transparency.GenerateKey(origin)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("write signing key: %w", err)
	}
	_, err = fmt.Fprintln(f, skey)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("write signing key %s: %w", path, err)
	}
	return vkey, nil
}
