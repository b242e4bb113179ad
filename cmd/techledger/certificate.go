package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"techledger/transparency"
)

func init() {
	addVerb(verb{name: "certificate", usage: "certificate [--data DIR] [--url URL --key KEY] [--format text|html] [-o FILE] CONTRACT_ID", summary: "print a contract's registration certificate with its transparency proof and a QR code", nargs: 1, flags: certificateFlags,
		help: "Prints the registration certificate (技术合同登记证明) of a contract: registration number,\nname, type, field, parties with regions, 成交额 and 技术交易额 as approved, registry and date,\nwith its transparency proof: the leaf hash of the registration, the checkpoint it is\nproved against and a QR code of the proof bundle's URL. The bundle is audited first.\nFrom the store (serve must not hold it) or, with --url and --key, from a running server."})
}

func certificateFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var tf tlogFlag
	var base, token, key, publicURL, format, out string
	data.register(fs)
	tf.register(fs, false)
	fs.StringVar(&base, "url", "", "fetch the bundle from this server (needs --key)")
	fs.StringVar(&token, "token", "", "bearer token for --url (default $TECHLEDGER_TOKEN)")
	fs.StringVar(&key, "key", "", "the log's verifier key or a file holding it (default: the one serve left beside the tree)")
	fs.StringVar(&publicURL, "public-url", "", "the server's address as readers reach it, for the QR code (default --url, else http://127.0.0.1:8080)")
	fs.StringVar(&format, "format", "text", "text or html (printable)")
	fs.StringVarP(&out, "o", "o", "", "write to this file (default stdout)")
	return func(ctx context.Context, call *call) int {
		stdout, stderr := call.stdout, call.stderr
		token = tokenOrEnv(token)
		if (format != "text" && format != "html") || (base != "" && key == "") {
			call.usage()
			return exitUsage
		}
		id := call.args[0]
		var b *transparency.Bundle
		var vkey string
		if base != "" {
			var err error
			if vkey, err = readKey(key); err != nil {
				fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
				return exitUsage
			}
			c := &logClient{base: strings.TrimRight(base, "/"), token: token}
			body, err := c.get(ctx, "/v1/contracts/"+url.PathEscape(id)+"/bundle", nil)
			if err != nil {
				fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
				return exitFailure
			}
			if b, err = decodeBundle(body); err != nil {
				fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
				return exitFailure
			}
		} else {
			s, code := openStore(ctx, data, stderr)
			if s == nil {
				return code
			}
			defer s.Close()
			l, stored, err := tf.openReading(ctx, s, data)
			if err != nil {
				fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
				return exitFailure
			}
			defer l.Close()
			vkey = stored
			if key != "" {
				if vkey, err = readKey(key); err != nil {
					fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
					return exitUsage
				}
			}
			if b, err = l.Bundle(ctx, id); err != nil {
				fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
				if errors.Is(err, transparency.ErrNotFound) {
					return exitRejected
				}
				return exitFailure
			}
		}
		if publicURL == "" {
			publicURL = base
		}
		if publicURL == "" {
			publicURL = "http://127.0.0.1:8080"
		}
		cert, err := transparency.NewCertificate(b, vkey, strings.TrimRight(publicURL, "/")+"/v1/contracts/"+url.PathEscape(id)+"/bundle")
		if err != nil {
			fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
			return exitRejected
		}
		var buf bytes.Buffer
		if format == "html" {
			err = cert.WriteHTML(&buf)
		} else {
			err = cert.WriteText(&buf)
		}
		if err != nil {
			fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
			return exitFailure
		}
		if out == "" {
			_, _ = stdout.Write(buf.Bytes())
			return exitOK
		}
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			fmt.Fprintf(stderr, "techledger certificate: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
}

func decodeBundle(body []byte) (*transparency.Bundle, error) {
	return parseBundle(bytes.NewReader(body), "from the server")
}
