package server

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/projections"
	"techledger/reports"
)

// TestAPI_Reports: the annual route answers the document reports.Build gives for the same
// State (and the same bytes twice: the second from the cache); format=xlsx answers a
// workbook; a period the rules refuse is a 400 naming the parameter.
func TestAPI_Reports(t *testing.T) {
	srv, a := newExampleAPI(t)
	get := func(path string) (*http.Response, []byte) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}
	var want []byte
	require.NoError(t, a.proj.Read(func(st *projections.State) error {
		p, err := reports.Annual(2023)
		require.NoError(t, err)
		r, err := reports.Build(st, p)
		require.NoError(t, err)
		want = append(r.AppendJSON(nil), '\n')
		return nil
	}))
	for range 2 {
		resp, body := get("/v1/reports/annual?year=2023")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		assert.Equal(t, string(want), string(body))
	}
	resp, body := get("/v1/reports/annual?year=2023&format=xlsx")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, xlsxType, resp.Header.Get("Content-Type"))
	assert.True(t, bytes.HasPrefix(body, []byte("PK")), "a zip")

	for _, bad := range []string{"/v1/reports/period?from=2023-01-02&to=2023-03-31", "/v1/reports/annual?year=abc", "/v1/reports/tax?year=2023&format=pdf", "/v1/reports/annual?month=3"} {
		resp, body := get(bad)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", bad, body)
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), bad)
	}
}
