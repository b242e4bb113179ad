package jetstream

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubjectToken(t *testing.T) {
	cases := map[string]string{
		"contract-2023140101000123": "contract-2023140101000123",
		"a.b":                       "a%2Eb",
		"a*b>c":                     "a%2Ab%3Ec",
		"100%":                      "100%25",
		"合同":                        "%E5%90%88%E5%90%8C",
	}
	for in, want := range cases {
		got := subjectToken(in)
		assert.Equal(t, want, got, in)
		back, err := parseSubjectToken(got)
		require.NoError(t, err)
		assert.Equal(t, in, back)
	}
	_, err := parseSubjectToken("a.b")
	assert.Error(t, err)
	_, err = parseSubjectToken("a%2")
	assert.Error(t, err)
}

// FuzzSubjectToken proves the encoding is a valid single subject token and reversible
// (hence injective: two ledger streams never share a subject).
func FuzzSubjectToken(f *testing.F) {
	for _, s := range []string{"contract-1", "a.b", "%", "合同 x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := subjectToken(s)
		if strings.ContainsAny(tok, ".*> \t\r\n") {
			t.Fatalf("token %q of %q is not a single subject token", tok, s)
		}
		back, err := parseSubjectToken(tok)
		if err != nil || back != s {
			t.Fatalf("token %q of %q decodes to %q, %v", tok, s, back, err)
		}
	})
}
