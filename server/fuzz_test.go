package server

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// FuzzParseTokens: whatever the bytes of a tokens file, ParseTokens never panics; when it
// accepts, every entry of the file looks up to its own name and role, and the file holds no
// more entries than Tokens.Len (docs/reliability.md, fuzzing).
func FuzzParseTokens(f *testing.F) {
	f.Add([]byte(`[{"token":"0123456789abcdef","role":"admin","name":"ops"}]`))
	f.Add([]byte(`[{"token":"0123456789abcdef","role":"registrar","name":"王登记"},{"token":"fedcba9876543210~","role":"auditor","name":"a"}]`))
	f.Add([]byte(`[{"token":"0123456789abcdef","role":"admin","name":"x"},{"token":"0123456789abcdef","role":"admin","name":"y"}]`))
	f.Add([]byte(`[{"token":"short","role":"admin","name":"x"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"token":"0123456789abcdef"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := ParseTokens(b)
		if err != nil {
			require.Nil(t, ts)
			return
		}
		var entries []tokenEntry
		require.NoError(t, json.Unmarshal(b, &entries), "accepted a file encoding/json refuses: %q", b)
		require.Equal(t, len(entries), ts.Len())
		for _, e := range entries {
			p, ok := ts.Lookup(e.Token)
			require.True(t, ok, "token of %q not found", e.Name)
			require.Equal(t, Principal{Name: e.Name, Role: Role(e.Role)}, p)
			require.Contains(t, Roles, p.Role)
		}
	})
}

// FuzzParseAsOf: ParseAsOf never panics, gives a position or a time but not both, and an
// accepted value written back in its canonical form parses to the same value.
func FuzzParseAsOf(f *testing.F) {
	for _, s := range []string{"", "0", "1", "18446744073709551615", "18446744073709551616", "-1", "+1",
		"2024-01-31T16:00:00Z", "2024-01-31T16:00:00.123456789+08:00", "2024-01-31", "2024-02-30T00:00:00Z", "now"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAsOf(s)
		if err != nil {
			require.Equal(t, AsOf{}, a)
			return
		}
		require.False(t, a.Pos != 0 && !a.At.IsZero(), "both a position and a time from %q", s)
		var again AsOf
		switch {
		case a.Pos != 0:
			again, err = ParseAsOf(strconv.FormatUint(uint64(a.Pos), 10))
			require.NoError(t, err)
			require.Equal(t, a, again)
		case !a.At.IsZero():
			again, err = ParseAsOf(a.At.Format(time.RFC3339Nano))
			require.NoError(t, err, "%q read as %v", s, a.At)
			require.True(t, a.At.Equal(again.At), "%q: %v then %v", s, a.At, again.At)
		default:
			require.Empty(t, s)
		}
	})
}

// FuzzParseStatsQuery: ParseStatsQuery never panics; accepted dates written back parse to
// the same dates, and an error names the parameter at fault.
func FuzzParseStatsQuery(f *testing.F) {
	f.Add("", "", "")
	f.Add("province,field", "2023-01-01", "2023-12-31")
	f.Add("year,,type", "2023-02-29", "")
	f.Add("nonsense", "", "2024-13-01")
	f.Add("province", "0000-01-01", "9999-12-31")
	f.Fuzz(func(t *testing.T, by, from, to string) {
		q, err := ParseStatsQuery(by, from, to)
		if err != nil {
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "from: ") || strings.HasPrefix(msg, "to: "), "error %q names no parameter", msg)
			return
		}
		for _, d := range []struct {
			s string
			v ledger.Date
		}{{from, q.From}, {to, q.To}} {
			if d.s == "" {
				require.Equal(t, ledger.Date{}, d.v)
				continue
			}
			back, err := ledger.ParseDate(d.v.String())
			require.NoError(t, err, "%q read as %v", d.s, d.v)
			require.Equal(t, d.v, back)
		}
	})
}
