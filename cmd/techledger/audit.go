package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"techledger/server"
	"techledger/transparency"
)

// bundleBytesMax bounds a bundle file read by audit.
const bundleBytesMax = 256 << 20

func init() {
	addVerb(verb{name: "audit", usage: "audit --key KEY [--witness KEY ...] (BUNDLE | --checkpoint SAVED --url URL)", summary: "check a proof bundle offline, or that the log still extends a saved checkpoint", nargs: -1, flags: auditFlags,
		help: "With BUNDLE: checks a contract's proof bundle (techledger prove) offline with the verifier\nkey: the checkpoint's signature, every record's hash and inclusion proof, and that the\nrecords are the contract's events, versions 1..n, nothing missing. Exit 0 only if all holds,\n1 naming each problem otherwise.\nWith --checkpoint SAVED --url URL: fetches the log's current checkpoint and a consistency\nproof from SAVED and prints consistent (exit 0), rollback or fork (exit 1, with both signed\nnotes as evidence). Exit 3 when the log cannot be reached or answers nonsense.\nWith --witness: the checkpoint must also carry a valid cosignature by each witness given\n(C2SP tlog-cosignature; serve --witness publishes them); exit 1 naming a missing one."})
}

func auditFlags(fs *pflag.FlagSet) action {
	var key, saved, base, token string
	var witnesses []string
	fs.StringVar(&key, "key", "", "the log's verifier key (name+hash+base64), or a file holding it")
	fs.StringArrayVar(&witnesses, "witness", nil, "require a cosignature of the checkpoint by this witness (its cosignature key, as techledger witness prints it, or a file holding it; repeatable)")
	fs.StringVar(&saved, "checkpoint", "", "file holding the last signed checkpoint you verified (with --url)")
	fs.StringVar(&base, "url", "", "the log's server, e.g. https://ledger.example.cn (with --checkpoint)")
	fs.StringVar(&token, "token", "", "bearer token for --url (default $TECHLEDGER_TOKEN; not needed with serve --public-proofs)")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		online := saved != "" || base != ""
		if key == "" || (online && (saved == "" || base == "" || len(c.args) != 0)) || (!online && len(c.args) != 1) {
			c.usage()
			return exitUsage
		}
		vkey, err := readKey(key)
		if err != nil {
			fmt.Fprintf(stderr, "techledger audit: %v\n", err)
			return exitUsage
		}
		wkeys, err := readCosignatureKeys(witnesses)
		if err != nil {
			fmt.Fprintf(stderr, "techledger audit: %v\n", err)
			return exitUsage
		}
		if online {
			return auditConsistency(ctx, vkey, wkeys, saved, base, tokenOrEnv(token), stdout, stderr)
		}
		return auditBundle(vkey, wkeys, c.args[0], stdout, stderr)
	}
}

// readCosignatureKeys returns witnesses' cosignature keys given inline or as files.
func readCosignatureKeys(keys []string) ([]string, error) {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, err := transparency.NewCosignatureVerifier(k); err == nil {
			out = append(out, k)
			continue
		}
		b, err := os.ReadFile(k)
		if err != nil {
			return nil, fmt.Errorf("witness: neither a cosignature key (name+hash+base64) nor a readable file: %w", err)
		}
		if _, err := transparency.NewCosignatureVerifier(string(b)); err != nil {
			return nil, fmt.Errorf("witness %s: %w", k, err)
		}
		out = append(out, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// checkWitnesses prints the cosignatures the witnesses made on the checkpoint note signed
// and reports whether each of wkeys cosigned it.
func checkWitnesses(signed []byte, vkey string, wkeys []string, stdout io.Writer) bool {
	if len(wkeys) == 0 {
		return true
	}
	cs, err := transparency.CheckCosignatures(signed, vkey, wkeys)
	for _, c := range cs {
		fmt.Fprintf(stdout, "cosigned by witness %s at %s\n", c.Witness, c.Time.Format(time.RFC3339))
	}
	if err != nil {
		fmt.Fprintf(stdout, "FAILED: %v\n", err)
		return false
	}
	return true
}

// tokenOrEnv returns token, or $TECHLEDGER_TOKEN when it is empty (read at run time, so
// that --help never shows it).
func tokenOrEnv(token string) string {
	if token == "" {
		return os.Getenv("TECHLEDGER_TOKEN")
	}
	return token
}

// readKey returns a verifier key given inline or as a file.
func readKey(s string) (string, error) {
	if _, err := note.NewVerifier(s); err == nil {
		return s, nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return "", fmt.Errorf("key: neither a verifier key (name+hash+base64) nor a readable file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func auditBundle(vkey string, wkeys []string, path string, stdout, stderr io.Writer) int {
	b, err := readBundle(path)
	if err != nil {
		fmt.Fprintf(stderr, "techledger audit: %v\n", err)
		return exitRejected
	}
	rep, err := transparency.Audit(b, vkey)
	if err != nil {
		fmt.Fprintf(stdout, "FAILED: contract %s\n", b.ContractID)
		var ae *transparency.AuditError
		if errors.As(err, &ae) {
			for _, p := range ae.Problems {
				fmt.Fprintf(stdout, "  %s\n", p)
			}
		} else {
			fmt.Fprintf(stdout, "  %v\n", err)
		}
		return exitRejected
	}
	fmt.Fprintf(stdout, "OK: contract %s: %d events (positions %v) are in the log %s at size %d, root %s\n",
		rep.ContractID, rep.Events, rep.Positions, rep.Checkpoint.Origin, rep.Checkpoint.Size, rep.Checkpoint.Root)
	fmt.Fprintf(stdout, "registration leaf hash: %s\n", rep.LeafHash)
	if !checkWitnesses([]byte(b.Checkpoint), vkey, wkeys, stdout) {
		return exitRejected
	}
	return exitOK
}

func readBundle(path string) (*transparency.Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	defer f.Close()
	return parseBundle(f, path)
}

// parseBundle decodes a proof bundle (at most bundleBytesMax bytes, no unknown members).
func parseBundle(r io.Reader, name string) (*transparency.Bundle, error) {
	var b transparency.Bundle
	dec := json.NewDecoder(io.LimitReader(r, bundleBytesMax))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("bundle %s: not a proof bundle: %w", name, err)
	}
	return &b, nil
}

func auditConsistency(ctx context.Context, vkey string, wkeys []string, savedPath, base, token string, stdout, stderr io.Writer) int {
	saved, err := os.ReadFile(savedPath)
	if err != nil {
		fmt.Fprintf(stderr, "techledger audit: %v\n", err)
		return exitUsage
	}
	savedCP, err := transparency.OpenCheckpoint(saved, vkey)
	if err != nil {
		fmt.Fprintf(stderr, "techledger audit: saved %v\n", err)
		return exitUsage
	}
	c := &logClient{base: strings.TrimRight(base, "/"), token: token}
	fetched, err := c.get(ctx, "/v1/checkpoint", nil)
	if err != nil {
		fmt.Fprintf(stderr, "techledger audit: %v\n", err)
		return exitFailure
	}
	fetchedCP, err := transparency.OpenCheckpoint(fetched, vkey)
	if err != nil {
		fmt.Fprintf(stdout, "FAILED: the log's current checkpoint does not verify: %v\n\n%s", err, fetched)
		return exitRejected
	}
	var proof tlog.TreeProof
	if fetchedCP.Size > savedCP.Size {
		q := url.Values{"from": {strconv.FormatInt(savedCP.Size, 10)}, "to": {strconv.FormatInt(fetchedCP.Size, 10)}}
		body, err := c.get(ctx, "/v1/proof/consistency", q)
		if err != nil {
			fmt.Fprintf(stderr, "techledger audit: %v\n", err)
			return exitFailure
		}
		var resp server.ConsistencyResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			fmt.Fprintf(stderr, "techledger audit: consistency proof: %v\n", err)
			return exitFailure
		}
		proof = resp.Proof
	}
	res, err := transparency.CheckConsistency(vkey, saved, fetched, proof)
	if err != nil {
		fmt.Fprintf(stderr, "techledger audit: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s: %s\n", res.Outcome, res.Reason)
	if res.Outcome == transparency.Consistent {
		if !checkWitnesses(fetched, vkey, wkeys, stdout) {
			return exitRejected
		}
		return exitOK
	}
	fmt.Fprintf(stdout, "\nEvidence: both notes are signed by %s; no honest log signs both.\n\n--- saved checkpoint\n%s\n--- fetched checkpoint\n%s", fetchedCP.Origin, saved, fetched)
	return exitRejected
}

// logClient reads a techledger server's transparency routes.
type logClient struct {
	base, token string
}

// responseBytesMax bounds what audit reads from the server.
const responseBytesMax = 1 << 20

func (c *logClient) get(ctx context.Context, path string, q url.Values) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, responseBytesMax))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}
