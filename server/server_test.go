package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRole_May checks the role matrix against the roles table of docs/architecture.md,
// written out here by hand: admin may do everything, anyone may use an open route.
func TestRole_May(t *testing.T) {
	want := map[Role][]Capability{
		RoleRegistrar:    {Open, Submit, ReadContracts, ReadFigures},
		RoleAuditor:      {Open, ReadContracts, ReadFigures, Audit},
		RoleStatistician: {Open, ReadFigures},
		RoleAdmin:        {Open, Submit, ReadContracts, ReadFigures, Audit},
		"":               {Open},
		"root":           {Open},
	}
	all := []Capability{Open, Submit, ReadContracts, ReadFigures, Audit}
	for role, may := range want {
		for _, c := range all {
			t.Run(fmt.Sprintf("%s/%s", role, c), func(t *testing.T) {
				assert.Equal(t, slices.Contains(may, c), role.May(c))
			})
		}
	}
}

// TestConfig_Routes: a route passed in Config.Routes is served beside the API's own,
// behind its capability (401 without a token, 403 for a role without it), sees its caller
// through PrincipalOf, and is counted in the metrics by its pattern.
func TestConfig_Routes(t *testing.T) {
	tokens, err := ParseTokens([]byte(`[{"token":"statistician-token-0123456","role":"statistician","name":"王五"},{"token":"auditor-token-0123456789ab","role":"auditor","name":"审计"}]`))
	require.NoError(t, err)
	page := Route{Pattern: "GET /extra/{name}", Access: ReadFigures, Handler: func(w http.ResponseWriter, r *http.Request) {
		p := PrincipalOf(r.Context())
		writeJSON(w, http.StatusOK, map[string]string{"name": r.PathValue("name"), "who": p.Name, "role": string(p.Role)})
	}}
	s := New(Config{Tokens: tokens, Routes: []Route{page}})
	require.Equal(t, page.Pattern, s.Routes()[len(s.Routes())-1].Pattern, "extra routes come after the API's")
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	call := func(token string) (int, map[string]string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/extra/报表", nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, body := call("statistician-token-0123456")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, map[string]string{"name": "报表", "who": "王五", "role": "statistician"}, body)
	code, _ = call("")
	assert.Equal(t, http.StatusUnauthorized, code)

	// A role without the capability: a route needing Audit refuses the statistician.
	s = New(Config{Tokens: tokens, Routes: []Route{{Pattern: "GET /extra/{name}", Access: Audit, Handler: page.Handler}}})
	srv2 := httptest.NewServer(s.Handler())
	defer srv2.Close()
	req, _ := http.NewRequest(http.MethodGet, srv2.URL+"/extra/x", nil)
	req.Header.Set("Authorization", "Bearer statistician-token-0123456")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	requests := testutil.ToFloat64(s.metrics.requests.WithLabelValues("GET /extra/{name}", "403"))
	assert.Equal(t, 1.0, requests, "the extra route is counted by its pattern")
}
