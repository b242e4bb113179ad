package commands

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger/memstore"
)

// decodeFast must never accept input that encoding/json (decodeJSON, the reference)
// would reject or decode differently, and decodeJSON must refuse a repeated key (which
// repeatsKey, a naive second check, finds). These tests check that on the command files in
// testdata, the commands of the other tests, and thousands of random mutations of them
// (bytes deleted, inserted or swapped; keys re-cased or repeated; values turned into
// numbers, null, escapes or invalid UTF-8; trailing data), and FuzzDecodeFast on whatever
// the fuzzer finds. They also check that decodeFast covers the commands clients write,
// or it would prove nothing and speed nothing up.

func checkDecodeFast(tb testing.TB, b []byte) bool {
	tb.Helper()
	fast, ok := decodeFast(b)
	if !ok {
		return false
	}
	slow, err := decodeJSON(b)
	if err != nil {
		tb.Fatalf("decodeFast accepts %q; encoding/json rejects it: %v", b, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		tb.Fatalf("%q:\ndecodeFast gives   %#v\nencoding/json gives %#v", b, fast, slow)
	}
	if repeatsKey(b) {
		tb.Fatalf("decodeFast accepts %q, which repeats a key", b)
	}
	return true
}

func corpus(tb testing.TB) [][]byte {
	tb.Helper()
	var lines [][]byte
	for _, name := range []string{"../testdata/sample.ndjson", "../testdata/bad_commands.ndjson"} {
		f, err := os.Open(name)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, CommandBytesMax+1)
		for sc.Scan() {
			lines = append(lines, bytes.Clone(sc.Bytes()))
		}
		f.Close()
	}
	for _, s := range []string{registerJSON, proceedsJSON, useJSON, pay("P-1", "10.00"),
		`{"command":"amend_contract","command_id":"a-1","contract_id":"2023140101000123","amount":"1.00","tech_amount":null,"type":"development","reason":"r"}`,
		`{"command":"revoke_contract","contract_id":"x","reason":"r"}`,
		`{"command":"assign_rights","contract_id":"x","right":"use","holders":[],"term":{"from":"2024-01-01","to":"2025-01-01"}}`,
		`{"command":"assign_rights","contract_id":"x","right":"use","holders":null,"term":null,"exclusivity":null}`,
		`{"command":"register_contract","seller":{},"buyer":null,"ip_types":[],"intermediary":{"id":"a"}}`,
		`{"command":"register_contract","ip_types":null}`,
		` { "command" : "record_payment" ,"amount":"1"	}` + "\n\r ",
		`{"command":"record_payment"}`, `{}`, `[]`, `null`, `{"command":null}`} {
		lines = append(lines, []byte(s))
	}
	return lines
}

func TestDecodeFast_MatchesEncodingJSON(t *testing.T) {
	lines := corpus(t)
	fast := 0
	for _, b := range lines {
		if checkDecodeFast(t, b) {
			fast++
		}
	}
	if fast < len(lines)*9/10 {
		t.Errorf("decodeFast covers only %d of %d commands", fast, len(lines))
	}
	r := rand.New(rand.NewPCG(1, 9))
	inserts := [][]byte{[]byte(`"`), []byte(`\`), []byte(`\u0041`), []byte(`,`), []byte(`:`), []byte(`{`), []byte(`}`),
		[]byte(`[`), []byte(`]`), []byte(`null`), []byte(`1`), []byte(`true`), []byte(" "), []byte("\v"), []byte("\x00"),
		[]byte("\xff"), []byte("\xc3"), []byte(`"x":"y",`), []byte(`"amount":"2",`), []byte(`"command_id":"z",`),
		[]byte(`"Amount":"2",`), []byte(`"seller":{"id":"x"},`), []byte(`"holders":[{"id":"h"}],`), []byte(`"term":{},`)}
	members := []string{`"amount":"2"`, `"amount":null`, `"command_id":"z"`, `"command":"revoke_contract"`, `"Amount":"3"`,
		`"seller":{"name":"x"}`, `"seller":null`, `"intermediary":{"kind":"k"}`, `"ip_types":["a"]`, `"ip_types":null`,
		`"holders":[{"id":"h","share":"1"}]`, `"holders":[]`, `"term":{"to":"t"}`, `"term":null`, `"tech_amount":"1"`,
		`"reason":"r"`, `"costs":null`, `"type":"t"`, `"unknown":"u"`, `"id":"i"`, `"share":null`, `"from":"f"`}
	for range 200_000 {
		b := bytes.Clone(lines[r.IntN(len(lines))])
		for range 1 + r.IntN(3) {
			if len(b) == 0 {
				break
			}
			i := r.IntN(len(b))
			switch r.IntN(6) {
			case 0: // delete a byte
				b = append(b[:i], b[i+1:]...)
			case 1: // insert something
				b = append(b[:i], append(bytes.Clone(inserts[r.IntN(len(inserts))]), b[i:]...)...)
			case 2: // swap two bytes
				j := r.IntN(len(b))
				b[i], b[j] = b[j], b[i]
			case 3: // flip the case of a letter
				if c := b[i]; c >= 'a' && c <= 'z' {
					b[i] = c - 'a' + 'A'
				}
			case 4: // trailing data
				b = append(b, inserts[r.IntN(len(inserts))]...)
			case 5: // a member, maybe a repeated one, after a comma
				if j := bytes.IndexByte(b[i:], ','); j >= 0 {
					b = append(b[:i+j+1], append([]byte(members[r.IntN(len(members))]+","), b[i+j+1:]...)...)
				}
			}
		}
		checkDecodeFast(t, b)
	}
}

func FuzzDecodeFast(f *testing.F) {
	for _, b := range corpus(f)[6000:] {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeFast(t, b)
		if _, err := decodeJSON(b); err == nil && repeatsKey(b) {
			t.Fatalf("decodeJSON accepts %q, which repeats a key", b)
		}
	})
}

// TestDecode_DuplicateKeys: a key repeated in one object, anywhere in the command, is
// refused naming the member and the rule, on whichever path the command takes (the fast
// path declines it; decodeJSON refuses it), and nothing is appended. Keys that only look
// different but that encoding/json matches to one field (case, escapes) are duplicates
// too; the same key in two different objects is not.
func TestDecode_DuplicateKeys(t *testing.T) {
	payment := pay("P-1", "10.00")
	tests := []struct {
		name, in, field string
	}{
		{"top level", strings.Replace(registerJSON, `"title":`, `"amount":"1.00","title":`, 1), "amount"},
		{"command twice", `{"command":"revoke_contract","command":"revoke_contract","contract_id":"2023140101000123","reason":"r"}`, "command"},
		{"repeated last", payment[:len(payment)-1] + `,"amount":"20.00"}`, "amount"},
		{"null then a value", strings.Replace(registerJSON, `"intermediary":null`, `"intermediary":null,"intermediary":{"id":"x"}`, 1), "intermediary"},
		{"case folded", `{"command":"revoke_contract","contract_id":"2023140101000123","reason":"r","Reason":"s"}`, "Reason"},
		{"escaped", `{"command":"revoke_contract","contract_id":"2023140101000123","reason":"r","\u0072eason":"s"}`, "reason"},
		{"nested in seller", strings.Replace(registerJSON, `"name":"太原理工大学",`, `"name":"太原理工大学","name":"山西大学",`, 1), "seller.name"},
		{"nested in buyer", strings.Replace(registerJSON, `"kind":"enterprise"`, `"kind":"enterprise","kind":"university"`, 1), "buyer.kind"},
		{"in the second holder", strings.Replace(proceedsJSON, `"share":"0.49"`, `"share":"0.49","share":"0.99"`, 1), "holders[1].share"},
		{"in the term", strings.Replace(useJSON, `"to":"2033-03-14"`, `"to":"2033-03-14","from":"2024-01-01"`, 1), "term.from"},
		{"in the term, escaped", strings.Replace(useJSON, `"to":"2033-03-14"`, `"to":"2033-03-14","\u0066rom":"2024-01-01"`, 1), "term.from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := decodeFast([]byte(tt.in)); ok {
				t.Fatal("the fast path accepts a repeated key")
			}
			_, err := Decode([]byte(tt.in))
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, CodeMalformed, e.Code)
			assert.Equal(t, tt.field, e.Field)
			assert.Equal(t, "duplicate key", e.Rule)
			assert.Equal(t, tt.field+": duplicate key", e.Error())

			s := memstore.New()
			_, err = NewHandler(s).HandleJSON(context.Background(), []byte(tt.in), Actor{Name: "test", Role: "registrar"})
			require.ErrorAs(t, err, &e)
			head, err := s.Head(context.Background())
			require.NoError(t, err)
			assert.Zero(t, head, "appended")
		})
	}
	for _, in := range []string{registerJSON, proceedsJSON, useJSON} {
		_, err := Decode([]byte(in))
		require.NoError(t, err, "the same key in different objects is not a duplicate: %s", in)
	}
}

// repeatsKey reports whether a key repeats in one object anywhere in the JSON b, naively:
// encoding/json splits each object into keys and raw values, and each key is compared
// with every earlier key of its object under strings.EqualFold (how encoding/json matches
// keys to fields).
func repeatsKey(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return false
	}
	switch tok {
	case json.Delim('{'):
		var keys []string
		for dec.More() {
			k, err := dec.Token()
			var v json.RawMessage
			if err != nil || dec.Decode(&v) != nil {
				return false
			}
			for _, earlier := range keys {
				if strings.EqualFold(earlier, k.(string)) {
					return true
				}
			}
			keys = append(keys, k.(string))
			if repeatsKey(v) {
				return true
			}
		}
	case json.Delim('['):
		for dec.More() {
			var v json.RawMessage
			if dec.Decode(&v) != nil {
				return false
			}
			if repeatsKey(v) {
				return true
			}
		}
	}
	return false
}

// TestDuplicateKey checks the strict path's check against repeatsKey on the corpus and on
// mutations of it that insert a member, repeating a key or not.
func TestDuplicateKey(t *testing.T) {
	members := []string{`"amount":"1",`, `"name":"n",`, `"Share":null,`, `"id":"x",`, `"from":"f",`,
		`"command":"revoke_contract",`, `"\u0061mount":"2",`, `"seller":{"id":"a","ID":"b"},`, `"holders":[{},{"x":"1","X":"2"}],`}
	r := rand.New(rand.NewPCG(2, 7))
	lines := corpus(t)
	dups := 0
	for i := range 20_000 {
		b := lines[i%len(lines)]
		if i >= len(lines) {
			var commas []int
			for j, c := range b {
				if c == ',' {
					commas = append(commas, j+1)
				}
			}
			if len(commas) == 0 {
				continue
			}
			at := commas[r.IntN(len(commas))]
			b = append(append(append([]byte{}, b[:at]...), members[r.IntN(len(members))]...), b[at:]...)
		}
		if !json.Valid(b) {
			continue
		}
		got, want := duplicateKey(b) != nil, repeatsKey(b)
		if got != want {
			t.Fatalf("%s: duplicateKey finds a repeated key: %v; repeatsKey: %v", b, got, want)
		}
		if got {
			dups++
		}
	}
	if dups < 1000 {
		t.Errorf("only %d inputs repeat a key: the test proves little", dups)
	}
}
