package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger/memstore"
	"techledger/projections"
	"techledger/transparency"
)

// FuzzQueryUint: queryUint (the integer query parameters of /v1/events and the reports)
// never panics; it gives the default for an absent or empty value; otherwise it accepts
// exactly the strings of ASCII digits up to 2^64-1, with their value, checked against
// math/big, and its error quotes the value refused.
func FuzzQueryUint(f *testing.F) {
	for _, s := range []string{"", "0", "1", "007", "+1", "-1", " 1", "1 ", "1e3", "0x10", "1_000",
		"18446744073709551615", "18446744073709551616", "99999999999999999999999", "١٢", "１", "\x00", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest("GET", "/v1/events?"+url.Values{"n": {s}}.Encode(), nil)
		got, err := queryUint(r, "n", 7)
		if s == "" {
			require.NoError(t, err)
			require.Equal(t, uint64(7), got)
			return
		}
		want, ok := new(big.Int), s != ""
		for _, c := range []byte(s) {
			ok = ok && '0' <= c && c <= '9'
		}
		if ok {
			want.SetString(s, 10)
			ok = want.IsUint64()
		}
		if !ok {
			require.Error(t, err, "accepted %q", s)
			require.Contains(t, err.Error(), strconv.Quote(s))
			return
		}
		require.NoError(t, err, "refused %q", s)
		require.Equal(t, want.Uint64(), got)
	})
}

// fuzzRoutes are the routes with path values, each a function of the value.
var fuzzRoutes = []func(v string) string{
	func(v string) string { return "/v1/contracts/" + url.PathEscape(v) },
	func(v string) string { return "/v1/contracts/" + url.PathEscape(v) + "/history" },
	func(v string) string { return "/v1/contracts/" + url.PathEscape(v) + "/bundle" },
	func(v string) string { return "/v1/checkpoints/" + url.PathEscape(v) },
	func(v string) string { // {path...}: the value's slashes stay separators
		parts := strings.Split(v, "/")
		for i, p := range parts {
			parts[i] = url.PathEscape(p)
		}
		return "/v1/tile/" + strings.Join(parts, "/")
	},
}

// FuzzRoutePathValue sends each route with a path value ({id}, {size}, {path...}) the
// fuzzed value, through the whole server (routing, roles, metrics, request log) over a
// store holding one contract and a signed transparency log. Whatever the value: no panic,
// no 500; a redirect (the mux cleaning the path), 200, or a 4xx problem document whose
// status is the response's; 200 for a contract route only for the one contract there
// is, and for a checkpoint only for a positive integer.
func FuzzRoutePathValue(f *testing.F) {
	for _, s := range []struct {
		route uint8
		v     string
	}{
		{0, "2023140101000123"}, {1, "2023140101000123"}, {2, "2023140101000123"}, {0, "2023140101000124"},
		{0, ""}, {0, ".."}, {1, "a/b"}, {0, "%00"}, {0, "合同"}, {0, strings.Repeat("9", 300)},
		{3, "1"}, {3, "0"}, {3, "-1"}, {3, "+1"}, {3, "01"}, {3, "9223372036854775808"}, {3, "x"},
		{4, "0/000.p/1"}, {4, "0/000"}, {4, "9/999/999"}, {4, "../../etc/passwd"}, {4, "0/x001/002"}, {4, ""},
	} {
		f.Add(s.route, s.v)
	}
	h := fuzzServer(f)
	f.Fuzz(func(t *testing.T, route uint8, v string) {
		path := fuzzRoutes[int(route)%len(fuzzRoutes)](v)
		req, err := http.NewRequest("GET", "http://techledger.test"+path, nil)
		if err != nil {
			return // not a URL a client can send
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		code := w.Code
		require.NotEqual(t, http.StatusInternalServerError, code, "%s: %s", path, w.Body)
		switch {
		case code == http.StatusMovedPermanently || code == http.StatusTemporaryRedirect || code == http.StatusPermanentRedirect:
			return
		case code == http.StatusOK:
			switch int(route) % len(fuzzRoutes) {
			case 0, 1, 2:
				require.Equal(t, "2023140101000123", v, "%s answered 200", path)
			case 3:
				n, err := strconv.ParseInt(v, 10, 64)
				require.True(t, err == nil && n >= 1, "%s answered 200", path)
			}
		case code >= 400 && code < 500:
			require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"), "%s", path)
			var p struct {
				Status int `json:"status"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p), "%s: %s", path, w.Body)
			require.Equal(t, code, p.Status)
		default:
			t.Fatalf("%s: status %d: %s", path, code, w.Body)
		}
	})
}

// fuzzServer is the whole API over a memstore holding one contract, with a transparency
// log that signed it.
func fuzzServer(tb testing.TB) http.Handler {
	tb.Helper()
	s := memstore.New()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	proj := projections.NewRunner(s, projections.RunnerOptions{Logger: logger})
	require.NoError(tb, proj.Start(ctx))
	a := New(Config{Store: s, Commands: commands.NewHandler(s), Projections: proj, Logger: logger})
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/v1/commands", strings.NewReader(register)))
	require.Equal(tb, http.StatusCreated, rec.Code, "%s", rec.Body)
	skey, vkey, err := transparency.GenerateKey("test.techledger.example/log")
	require.NoError(tb, err)
	signer, _, err := transparency.ParseSignerKey(skey)
	require.NoError(tb, err)
	l, err := transparency.Open(ctx, s, transparency.Options{Dir: tb.TempDir(), Signer: signer, VerifierKey: vkey, Logger: logger})
	require.NoError(tb, err)
	tb.Cleanup(func() { l.Close() })
	_, err = l.SignNow()
	require.NoError(tb, err)
	a.tlog = l
	return a.Handler()
}
