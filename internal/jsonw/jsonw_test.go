package jsonw

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// The reference is encoding/json itself: every string and list must come out as
// json.Marshal writes it.

func TestString_MatchesJSONMarshal(t *testing.T) {
	cases := []string{"", "plain", `q"uote\back`, "<a href='x'>&amp;</a>", "\x00\x01\b\f\n\r\t\x1f\x7f",
		"太原理工大学", "\u2028\u2029", "bad\xffutf8\xc3", "\xed\xa0\x80", "mixed 中\x80文\u2028<>"}
	for _, s := range cases {
		checkString(t, s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "0", " ", `"`, `\`, "<", ">", "&", "\n", "\x00", "\x1f", "\x7f", "\x80", "\xff", "é", "中", "\u2028", "\u2029", "\U0001F600", "\xe2\x80", "\xed\xbf\xbf"}
	for range 20000 {
		var s []byte
		for range r.IntN(12) {
			if r.IntN(4) == 0 {
				s = append(s, byte(r.IntN(256)))
			} else {
				s = append(s, alphabet[r.IntN(len(alphabet))]...)
			}
		}
		checkString(t, string(s))
	}
}

func checkString(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := String(nil, s); string(got) != string(want) {
		t.Fatalf("String(%q) = %s, json.Marshal gives %s", s, got, want)
	}
}

func TestStrings_MatchesJSONMarshal(t *testing.T) {
	for _, ss := range [][]string{nil, {}, {"a"}, {"a", "<b>", ""}} {
		want, _ := json.Marshal(ss)
		if got := Strings(nil, ss); string(got) != string(want) {
			t.Errorf("Strings(%q) = %s, want %s", ss, got, want)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add("<太原>\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) { checkString(t, s) })
}
