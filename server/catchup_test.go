package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger/memstore"
	"techledger/projections"
)

// loadingProjections are projections still catching up after a background start: every
// read of the live State answers ErrCatchingUp, as projections.Runner.Read does then.
type loadingProjections struct{ *projections.Runner }

func (loadingProjections) Read(func(*projections.State) error) error {
	return fmt.Errorf("projections are %w", projections.ErrCatchingUp)
}

// TestAPI_CatchingUp: while the projections catch up after a start, the reads that need
// them answer 503 with Retry-After and a problem naming why, and commands are taken.
func TestAPI_CatchingUp(t *testing.T) {
	s := memstore.New()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	proj := loadingProjections{projections.NewRunner(s, projections.RunnerOptions{Logger: logger})}
	a := New(Config{Store: s, Commands: commands.NewHandler(s), Projections: proj, Logger: logger})
	srv := httptest.NewServer(a.mux())
	defer srv.Close()

	code, body := post(t, srv, register)
	require.Equal(t, http.StatusCreated, code, body)
	for _, path := range []string{"/v1/stats/contracts", "/v1/rewards/researchers", "/v1/rewards/flags"} {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		var p map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		resp.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, path)
		assert.Equal(t, "2", resp.Header.Get("Retry-After"), path)
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), path)
		assert.Equal(t, "catching up", p["title"], path)
		assert.Contains(t, p["detail"], "catching up with the log", path)
	}
}
