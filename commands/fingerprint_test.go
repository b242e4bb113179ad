package commands

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"techledger/ledger"
)

// Fingerprints are stored in the log and compared with those of later commands, so the
// hand-written canonical encoding must equal json.Marshal's (with command_id cleared) for
// every command. These tests check that against json.Marshal, the reference, on generated
// commands (random strings with escapes, HTML characters and invalid UTF-8; nil and empty
// lists; absent optional fields and parts) and on fuzzed input that decodes.

// fingerprintReference is Fingerprint as it was first written, with json.Marshal.
func fingerprintReference(tb testing.TB, cmd Command) string {
	tb.Helper()
	h := cmd.Head()
	id := h.CommandID
	h.CommandID = ""
	b, err := json.Marshal(cmd)
	h.CommandID = id
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func checkFingerprint(tb testing.TB, cmd Command) {
	tb.Helper()
	h := cmd.Head()
	id := h.CommandID
	h.CommandID = ""
	want, err := json.Marshal(cmd)
	h.CommandID = id
	if err != nil {
		tb.Fatal(err)
	}
	got, ok := appendCanonical(nil, cmd)
	if !ok {
		tb.Fatalf("appendCanonical does not cover %T", cmd)
	}
	if string(got) != string(want) {
		tb.Fatalf("%#v:\nappendCanonical gives %s\njson.Marshal gives    %s", cmd, got, want)
	}
	if g, w := Fingerprint(cmd), fingerprintReference(tb, cmd); g != w {
		tb.Fatalf("Fingerprint = %s, reference %s", g, w)
	}
	if h.CommandID != id {
		tb.Fatal("Fingerprint changed the command")
	}
}

type cmdGen struct{ r *rand.Rand }

var cmdAlphabet = []string{"a", "Z", "7", " ", ".", `"`, `\`, "<", ">", "&", "\n", "\t", "\x00", "\x1f", "\x7f",
	"\x80", "\xff", "é", "太原", "\u2028", "\u2029", "\U0001F600", "{", "}"}

func (g cmdGen) str() string {
	if g.r.IntN(4) == 0 {
		return ""
	}
	var b []byte
	for range g.r.IntN(8) {
		b = append(b, cmdAlphabet[g.r.IntN(len(cmdAlphabet))]...)
	}
	return string(b)
}

func (g cmdGen) ptr() *string {
	if g.r.IntN(2) == 0 {
		return nil
	}
	s := g.str()
	return &s
}

func (g cmdGen) party() *ledger.Party {
	if g.r.IntN(3) == 0 {
		return nil
	}
	return &ledger.Party{ID: g.str(), Name: g.str(), Kind: g.str(), Region: g.str()}
}

func (g cmdGen) command() Command {
	h := Header{Command: g.str(), CommandID: g.str()}
	switch g.r.IntN(5) {
	case 0:
		c := &RegisterContract{Header: h, ContractID: g.str(), Title: g.str(), Type: g.str(), Subtype: g.str(),
			SignedOn: g.str(), RegisteredOn: g.str(), Amount: g.str(), TechAmount: g.str(), Field: g.str(),
			Seller: g.party(), Buyer: g.party(), Intermediary: g.party(), AchievementID: g.str()}
		switch g.r.IntN(3) {
		case 1:
			c.IPTypes = []string{}
		case 2:
			c.IPTypes = []string{g.str(), g.str()}
		}
		return c
	case 1:
		return &AmendContract{Header: h, ContractID: g.str(), Amount: g.ptr(), TechAmount: g.ptr(), Type: g.ptr(),
			Subtype: g.ptr(), Field: g.ptr(), Reason: g.str()}
	case 2:
		return &RevokeContract{Header: h, ContractID: g.str(), Reason: g.str()}
	case 3:
		c := &AssignRights{Header: h, ContractID: g.str(), Right: g.str(), EffectiveOn: g.str(), Exclusivity: g.str()}
		if n := g.r.IntN(4); n > 0 {
			c.Holders = make([]HolderInput, n-1)
			for i := range c.Holders {
				c.Holders[i] = HolderInput{ID: g.str(), Name: g.str(), Kind: g.str(), Institution: g.str(), Share: g.ptr()}
			}
		}
		if g.r.IntN(2) == 0 {
			c.Term = &TermInput{From: g.str(), To: g.str()}
		}
		return c
	default:
		return &RecordPayment{Header: h, ContractID: g.str(), PaymentID: g.str(), Amount: g.str(), Costs: g.str(), PaidOn: g.str()}
	}
}

func TestFingerprint_MatchesJSONMarshal(t *testing.T) {
	g := cmdGen{rand.New(rand.NewPCG(3, 5))}
	for range 30_000 {
		checkFingerprint(t, g.command())
	}
	for _, s := range []string{registerJSON, proceedsJSON, useJSON, pay("P-1", "10.00")} {
		cmd, err := Decode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		checkFingerprint(t, cmd)
	}
}

func FuzzFingerprint(f *testing.F) {
	for _, s := range []string{registerJSON, proceedsJSON, useJSON, pay("P-1", "10.00"),
		`{"command":"amend_contract","contract_id":"2023140101000123","amount":"1.00","reason":"r"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if cmd, err := Decode(b); err == nil {
			checkFingerprint(t, cmd)
		}
	})
}
