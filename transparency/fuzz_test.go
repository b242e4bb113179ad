package transparency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"techledger/ledger/memstore"
	"techledger/transparency"
)

// FuzzParseCheckpoint: any text either parses to a checkpoint whose body is the text's
// first three lines and gives the same checkpoint back, or is refused with an error; never
// a panic (docs/reliability.md).
func FuzzParseCheckpoint(f *testing.F) {
	f.Add("o.example/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	f.Add("o\n1\nAAAA\n")
	f.Add("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nextension line\n")
	f.Add("o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("o\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("\n1\nAA==\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := transparency.ParseCheckpoint(text)
		if err != nil {
			if c != (transparency.Checkpoint{}) {
				t.Fatalf("%q refused (%v) but gave %+v", text, err, c)
			}
			return
		}
		if body := c.Body(); len(body) > len(text) || text[:len(body)] != body {
			t.Fatalf("%q parses to %+v, whose body %q is not its first lines", text, c, body)
		}
		again, err := transparency.ParseCheckpoint(c.Body())
		if err != nil || again != c {
			t.Fatalf("%q parses to %+v, whose body %q gives %+v, %v", text, c, c.Body(), again, err)
		}
	})
}

// FuzzAudit: any JSON given as a bundle is audited without a panic, refusals are an
// *AuditError naming problems, and only the real bundle passes.
func FuzzAudit(f *testing.F) {
	s := memstore.New()
	fill(f, s, 2, 3)
	l := openLog(f, s, f.TempDir())
	if _, err := l.SignNow(); err != nil {
		f.Fatal(err)
	}
	b, err := l.Bundle(context.Background(), contractID(1))
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(b)
	f.Add(good)
	f.Add([]byte(`{"format":"techledger-proof-bundle/1","records":[{"position":1}]}`))
	f.Add([]byte(`{"format":"x","records":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b transparency.Bundle
		if json.Unmarshal(raw, &b) != nil {
			return
		}
		rep, err := transparency.Audit(&b, testVKey)
		if err != nil {
			ae, ok := err.(*transparency.AuditError)
			if !ok || len(ae.Problems) == 0 {
				t.Fatalf("refusal is not an AuditError with problems: %v", err)
			}
			return
		}
		if string(raw) != string(good) {
			again, _ := json.Marshal(&b)
			if string(again) != string(good) {
				t.Fatalf("a bundle other than the real one passed: %s", raw)
			}
		}
		if rep.Events != len(b.Records) || len(rep.Positions) != len(b.Records) {
			t.Fatalf("report counts %d events, %d positions for %d records", rep.Events, len(rep.Positions), len(b.Records))
		}
	})
}

// FuzzParseAddCheckpoint: any add-checkpoint request body either parses to parts that
// FormatAddCheckpoint turns back into the same bytes, or is refused; never a panic.
func FuzzParseAddCheckpoint(f *testing.F) {
	f.Add([]byte("old 0\n\no\n1\nAAAA\n\n— o sig\n"))
	f.Add([]byte("old 12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\nnote"))
	f.Add([]byte("old 01\n\n"))
	f.Add([]byte("old 3\nAAAA\n\n"))
	f.Add([]byte("old 3"))
	f.Fuzz(func(t *testing.T, body []byte) {
		old, proof, signed, err := transparency.ParseAddCheckpoint(body)
		if err != nil {
			return
		}
		if again := transparency.FormatAddCheckpoint(old, proof, signed); !bytes.Equal(again, body) {
			t.Fatalf("%q parses to (%d, %d hashes, %q), formatted back as %q", body, old, len(proof), signed, again)
		}
	})
}
