package transparency_test

import (
	"context"
	"encoding/json"
	"testing"

	"techledger/ledger/memstore"
	"techledger/transparency"
)

// FuzzParseCheckpoint: any text either parses to a checkpoint whose body gives the same
// checkpoint back, or is refused with an error; never a panic.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add("o.example/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	f.Add("o\n1\nAAAA\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := transparency.ParseCheckpoint(text)
		if err != nil {
			return
		}
		again, err := transparency.ParseCheckpoint(c.Body())
		if err != nil || again != c {
			t.Fatalf("%q parses to %+v, whose body %q gives %+v, %v", text, c, c.Body(), again, err)
		}
	})
}

// FuzzAudit: any JSON given as a bundle is audited without a panic, and only the real
// bundle passes.
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
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b transparency.Bundle
		if json.Unmarshal(raw, &b) != nil {
			return
		}
		_, err := transparency.Audit(&b, testVKey)
		if err == nil && string(raw) != string(good) {
			again, _ := json.Marshal(&b)
			if string(again) != string(good) {
				t.Fatalf("a bundle other than the real one passed: %s", raw)
			}
		}
	})
}
