package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/pflag"

	"techledger/transparency"
)

func init() {
	addVerb(verb{name: "prove", usage: "prove [--data DIR] [--tlog DIR] [--url URL] [-o FILE] CONTRACT_ID", summary: "write a contract's proof bundle (signed checkpoint, records, inclusion proofs)", nargs: 1, flags: proveFlags,
		help: "Writes the proof bundle of a contract: the latest signed checkpoint and each of the\ncontract's records it covers (binary encoding, position, previous hash) with its inclusion\nproof. `techledger audit --key KEY BUNDLE` checks it offline. From the store (serve must\nnot hold it) or, with --url, from a running server."})
}

func proveFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var tf tlogFlag
	var out, base, token string
	data.register(fs)
	tf.register(fs, false)
	fs.StringVarP(&out, "o", "o", "", "write the bundle to this file (default stdout)")
	fs.StringVar(&base, "url", "", "fetch the bundle from this server instead of opening the store")
	fs.StringVar(&token, "token", "", "bearer token for --url (default $TECHLEDGER_TOKEN)")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		id := c.args[0]
		var body []byte
		if base != "" {
			lc := &logClient{base: base, token: tokenOrEnv(token)}
			b, err := lc.get(ctx, "/v1/contracts/"+url.PathEscape(id)+"/bundle", nil)
			if err != nil {
				fmt.Fprintf(stderr, "techledger prove: %v\n", err)
				return exitFailure
			}
			body = b
		} else {
			b, code := proveLocal(ctx, data, tf, id, stderr)
			if b == nil {
				return code
			}
			j, err := json.MarshalIndent(b, "", "  ")
			if err != nil {
				return exitFailure
			}
			body = append(j, '\n')
		}
		if out == "" {
			_, _ = stdout.Write(body)
			return exitOK
		}
		if err := os.WriteFile(out, body, 0o644); err != nil {
			fmt.Fprintf(stderr, "techledger prove: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
}

// proveLocal builds a contract's bundle from the store and the transparency log on disk.
func proveLocal(ctx context.Context, data storeFlag, tf tlogFlag, id string, stderr io.Writer) (*transparency.Bundle, int) {
	s, code := openStore(ctx, data, stderr)
	if s == nil {
		return nil, code
	}
	defer s.Close()
	l, _, err := tf.openReading(ctx, s, data)
	if err != nil {
		fmt.Fprintf(stderr, "techledger prove: %v\n", err)
		return nil, exitFailure
	}
	defer l.Close()
	b, err := l.Bundle(ctx, id)
	switch {
	case errors.Is(err, transparency.ErrNotFound):
		fmt.Fprintf(stderr, "techledger prove: contract %s is not in the last signed checkpoint\n", id)
		return nil, exitRejected
	case err != nil:
		fmt.Fprintf(stderr, "techledger prove: %v\n", err)
		return nil, exitFailure
	}
	return b, exitOK
}
