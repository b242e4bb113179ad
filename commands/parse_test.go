package commands

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"
)

// decodeFast must never accept input that encoding/json (decodeJSON, the reference)
// would reject or decode differently. These tests check that on the command files in
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
	f.Fuzz(func(t *testing.T, b []byte) { checkDecodeFast(t, b) })
}
