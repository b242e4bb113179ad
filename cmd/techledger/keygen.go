package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"techledger/transparency"
)

func runKeygen(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var origin, out string
	fs := verbFlags("keygen", "Writes a new Ed25519 checkpoint signing key for a log named ORIGIN to FILE (mode 0600;\nFILE must not exist) and prints its verifier key (name+hash+base64) on stdout: give that\nto auditors. The origin is the name in every checkpoint; use different names for test\nand production logs (docs/transparency.md).", stderr)
	fs.StringVar(&origin, "origin", "", "the log's name, e.g. techledger.example.cn/shanxi (no spaces or '+')")
	fs.StringVar(&out, "out", "", "file to write the signing key to")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 || origin == "" || out == "" {
		fs.Usage()
		return exitUsage
	}
	vkey, err := keygen(origin, out)
	if err != nil {
		fmt.Fprintf(stderr, "techledger keygen: %v\n", err)
		if errors.Is(err, os.ErrExist) {
			return exitUsage
		}
		return exitFailure
	}
	fmt.Fprintln(stdout, vkey)
	return exitOK
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

// verbFlags returns a flag set for a verb with help as its --help text (after the verb's
// usage line); flags adds the store flags to it.
func verbFlags(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("techledger "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		for _, v := range verbs {
			if v.name == name {
				fmt.Fprintf(stderr, "usage: techledger %s\n\n", v.usage)
			}
		}
		fmt.Fprintln(stderr, help)
		fs.PrintDefaults()
	}
	return fs
}
