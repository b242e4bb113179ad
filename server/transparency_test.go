package server

import (
	"context"
	"iter"
	"log/slog"
	"net/http"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/transparency"
)

// TestAPI_TransparencyRoles: without --public-proofs the proof routes need the auditor
// role; a server without a signing key answers them 404.
func TestAPI_TransparencyRoles(t *testing.T) {
	srv, _ := newAPIWith(t)
	c, _, _ := get(t, srv, "/v1/checkpoint")
	assert.Equal(t, http.StatusNotFound, c)
	c, _, _ = get(t, srv, "/v1/proof/inclusion?position=1&size=1")
	assert.Equal(t, http.StatusNotFound, c)
}

// exampleTransparencyLog returns a transparency log over s (the OpenAPI examples' ledger
// of 6 records) that signed checkpoints at sizes 1 and 6, the sizes the examples use.
func exampleTransparencyLog(t *testing.T, s ledger.Store) *transparency.Log {
	t.Helper()
	skey, vkey, err := transparency.GenerateKey("test.techledger.example/log")
	require.NoError(t, err)
	signer, _, err := transparency.ParseSignerKey(skey)
	require.NoError(t, err)
	dir := t.TempDir()
	opts := transparency.Options{Dir: dir, Signer: signer, VerifierKey: vkey, Logger: slog.New(slog.DiscardHandler)}
	first, err := transparency.Open(context.Background(), firstRecords{s, 1}, opts)
	require.NoError(t, err)
	_, err = first.SignNow()
	require.NoError(t, err)
	require.NoError(t, first.Close())
	l, err := transparency.Open(context.Background(), s, opts)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	cp, err := l.SignNow()
	require.NoError(t, err)
	require.Equal(t, int64(6), cp.Size, "the OpenAPI examples use size 6")
	return l
}

// firstRecords is a store cut after its first n records.
type firstRecords struct {
	ledger.Store
	n ledger.Position
}

func (f firstRecords) ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		for r, err := range f.Store.ReadAll(ctx, from) {
			if err == nil && r.Position > f.n {
				return
			}
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
}

// TestOpenAPI_TransparencySchemasMatchGoTypes: the transparency schemas list exactly the
// JSON members of the Go types the handlers encode.
func TestOpenAPI_TransparencySchemasMatchGoTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, typ := range map[string]any{
		"InclusionProof":   InclusionResponse{},
		"ConsistencyProof": ConsistencyResponse{},
		"Bundle":           transparency.Bundle{},
		"BundleRecord":     transparency.BundleRecord{},
	} {
		s := obj(obj(obj(doc, "components"), "schemas"), name)
		require.NotNil(t, s, name)
		var props, req []string
		for k := range obj(s, "properties") {
			props = append(props, k)
		}
		for _, r := range asList(s["required"]) {
			req = append(req, r.(string))
		}
		all, always := jsonMembers(reflect.TypeOf(typ))
		assert.ElementsMatch(t, all, props, name)
		assert.ElementsMatch(t, always, req, name)
	}
}

// transparencySamples are requests for the transparency routes over a log whose first
// record is contract 2023140101000123's registration, signed at size 1.
var transparencySamples = map[string]string{
	"GET /v1/checkpoint":            "/v1/checkpoint",
	"GET /v1/checkpoints/{size}":    "/v1/checkpoints/1",
	"GET /v1/proof/inclusion":       "/v1/proof/inclusion?position=1&size=1",
	"GET /v1/proof/consistency":     "/v1/proof/consistency?from=1&to=1",
	"GET /v1/tile/{path...}":        "/v1/tile/0/000.p/1",
	"GET /v1/contracts/{id}/bundle": "/v1/contracts/2023140101000123/bundle",
}

// signedTransparencyLog returns a transparency log over s that signed its current size.
func signedTransparencyLog(t *testing.T, store Store) *transparency.Log {
	t.Helper()
	s, ok := store.(transparency.Source)
	require.True(t, ok, "the test store can be followed")
	skey, vkey, err := transparency.GenerateKey("test.techledger.example/log")
	require.NoError(t, err)
	signer, _, err := transparency.ParseSignerKey(skey)
	require.NoError(t, err)
	l, err := transparency.Open(context.Background(), s, transparency.Options{Dir: t.TempDir(), Signer: signer, VerifierKey: vkey, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	_, err = l.SignNow()
	require.NoError(t, err)
	return l
}
