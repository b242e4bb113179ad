package loadgen

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPosters: both posters send the body, the content type and the token, and return
// the status and the whole answer; the connPoster keeps one connection while the server
// keeps it, dials again when the server closes it, and reports a dead server as an error.
func TestPosters(t *testing.T) {
	var conns atomic.Int64
	closeEvery := int64(0)
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/commands" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer tok-0123456789abcdef" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if c := n.Add(1); closeEvery > 0 && c%closeEvery == 0 {
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(http.StatusCreated)
		w.Write(append([]byte("echo:"), body...))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	for _, tc := range []struct {
		name       string
		url        string
		closeEvery int64
		wantConns  int64
		wantType   poster
	}{
		{"conn, kept alive", srv.URL, 0, 1, &connPoster{}},
		{"conn, server closes every 2nd", srv.URL, 2, 3, &connPoster{}},
		{"net/http client", "https://" + srv.Listener.Addr().String(), 0, 1, &clientPoster{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conns.Store(0)
			n.Store(0)
			closeEvery = tc.closeEvery
			p := newPoster(tc.url, "tok-0123456789abcdef", &http.Client{})
			defer p.close()
			assert.IsType(t, tc.wantType, p)
			if cp, ok := p.(*clientPoster); ok {
				cp.url = srv.URL + "/v1/commands" // the test server speaks plain http
			}
			var buf bytes.Buffer
			for i := range 5 {
				body := []byte(`{"n":` + string(rune('0'+i)) + `}`)
				status, err := p.post(context.Background(), body, &buf)
				require.NoError(t, err)
				assert.Equal(t, http.StatusCreated, status)
				assert.Equal(t, "echo:"+string(body), buf.String())
			}
			if _, ok := p.(*connPoster); ok {
				assert.Equal(t, tc.wantConns, conns.Load())
			}
		})
	}

	p := newPoster(srv.URL, "", &http.Client{})
	srv.Close()
	var buf bytes.Buffer
	status, err := p.post(context.Background(), []byte("{}"), &buf)
	assert.Error(t, err, "a dead server is an error")
	assert.Zero(t, status)
}
