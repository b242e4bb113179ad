package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/memstore"
	"techledger/projections"
	"techledger/server"
	"techledger/transparency"
)

// proofServer is the console with the certificate page beside the HTTP API with its
// transparency routes, over one memstore and one transparency log that follows it and
// signs a checkpoint every 10 ms, as serve --signing-key wires them.
type proofServer struct {
	*httptest.Server
	store   *memstore.Store
	handler *commands.Handler
	log     *transparency.Log
}

func newProofServer(t testing.TB) *proofServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store := memstore.New()
	h := commands.NewHandler(store)
	h.Now = func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }
	quiet := slog.New(slog.DiscardHandler)
	t.Cleanup(cancel)
	l, vkey := runTestLog(t, store)
	search := projections.NewSearchRunner(store, projections.SearchRunnerOptions{Logger: quiet})
	require.NoError(t, search.Start(ctx))
	tokens := testTokensFile(t)
	api := server.New(server.Config{Store: store, Commands: h, Tokens: tokens, Transparency: l, Logger: quiet}).Handler()
	c, err := New(Config{Log: store, Commands: h, Search: search, Proofs: &Proofs{Log: l, VerifierKey: vkey},
		Authenticate: tokens.Lookup, Logger: slog.New(slog.NewTextHandler(tLog{t}, nil)),
		Now: func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			api.ServeHTTP(w, r)
			return
		}
		c.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &proofServer{Server: srv, store: store, handler: h, log: l}
}

// runTestLog opens a transparency log of store, signing with a new key every 10 ms, and
// runs it until the test ends; it returns the log and its verifier key.
func runTestLog(tb testing.TB, store *memstore.Store) (*transparency.Log, string) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	skey, vkey, err := transparency.GenerateKey("test.techledger.example/log")
	require.NoError(tb, err)
	signer, _, err := transparency.ParseSignerKey(skey)
	require.NoError(tb, err)
	l, err := transparency.Open(ctx, store, transparency.Options{Dir: tb.TempDir(), Signer: signer, VerifierKey: vkey,
		Interval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(tb, err)
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		assert.NoError(tb, <-done)
		l.Close()
	})
	return l, vkey
}

// testTokensFile returns testTokens as the API's tokens.
func testTokensFile(t testing.TB) *server.Tokens {
	t.Helper()
	var toks []map[string]string
	for tok, p := range testTokens {
		toks = append(toks, map[string]string{"token": tok, "role": string(p.Role), "name": p.Name})
	}
	b, err := json.Marshal(toks)
	require.NoError(t, err)
	tokens, err := server.ParseTokens(b)
	require.NoError(t, err)
	return tokens
}

// apply applies commands through the handler, as the API would.
func (ps *proofServer) apply(t testing.TB, jsons ...string) {
	t.Helper()
	(&testServer{store: ps.store, handler: ps.handler}).apply(t, jsons...)
}

// signed waits until a signed checkpoint covers the whole log.
func (ps *proofServer) signed(t testing.TB) {
	t.Helper()
	head, err := ps.store.Head(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		cp, _, err := ps.log.Latest()
		return err == nil && cp.Size >= int64(head)
	}, 10*time.Second, 5*time.Millisecond, "a checkpoint of size %d", head)
}

// apiJSON fetches an API route with a bearer token and decodes its JSON into v.
func (ps *proofServer) apiJSON(t testing.TB, token, path string, v any) {
	t.Helper()
	code, _, b := (&statsServer{Server: ps.Server}).apiGet(t, token, path)
	require.Equal(t, http.StatusOK, code, "%s: %s", path, b)
	require.NoError(t, json.Unmarshal(b, v), path)
}

// An amendment of the worked example's amounts, with its complete terms.
const amendJSON = `{"command":"amend_contract","command_id":"c-0003","contract_id":"2023140101000123","type":"transfer","subtype":"patent_right",
 "field":"environment","amount":"1250000.00","tech_amount":"1050000.50","reason":"补充协议调整价款"}`

// TestConsole_Certificate checks the certificate page over HTTP: the roles that read
// contracts open it and the contract page links to it, a statistician gets 403, an unknown
// contract and one registered after the last checkpoint get 404 with the reason.
func TestConsole_Certificate(t *testing.T) {
	ps := newProofServer(t)
	ps.apply(t, exampleJSON)
	ps.signed(t)
	for tok, p := range testTokens {
		code, body := get(t, (&testServer{Server: ps.Server}).client(t, tok), ps.URL+"/contracts/2023140101000123/certificate")
		want := http.StatusOK
		if !p.Role.May(server.ReadContracts) {
			want = http.StatusForbidden
		}
		assert.Equal(t, want, code, p.Role)
		if code == http.StatusOK {
			assert.Contains(t, body, `<img id="cert-qr" src="data:image/png;base64,`)
			assert.Contains(t, body, ps.URL+"/v1/contracts/2023140101000123/bundle", "the bundle's URL as the reader reached the server")
		}
	}
	cl := (&testServer{Server: ps.Server}).client(t, tokRegistrar)
	_, page := get(t, cl, ps.URL+"/contracts/2023140101000123")
	assert.Contains(t, page, `href="/contracts/2023140101000123/certificate"`)
	code, body := get(t, cl, ps.URL+"/contracts/2099140101000123/certificate")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, "未登记")

	// Without a transparency log there is neither the page nor the link.
	plain := newTestServer(t, false)
	plain.apply(t, exampleJSON)
	code, _ = get(t, plain.client(t, ""), plain.URL+"/contracts/2023140101000123/certificate")
	assert.Equal(t, http.StatusNotFound, code)
	_, page = get(t, plain.client(t, ""), plain.URL+"/contracts/2023140101000123")
	assert.NotContains(t, page, "/certificate")
}

// TestBrowser_CertificateMatchesAPI registers the worked example and amends its amounts,
// waits for a checkpoint, follows the contract page's link to the certificate as a
// registrar in Chromium, and checks it against the API fetched apart from the page: the
// registration number and the amounts in force (GET /v1/contracts/{id}), the leaf hash
// recomputed in the test from the registration record of GET /v1/contracts/{id}/bundle
// (SHA-256 of 0x00 and the record's chain hash, its last 32 bytes) and the checkpoint's
// size, and that the QR image is a PNG the browser decoded. The tab fails on any CSP
// violation.
func TestBrowser_CertificateMatchesAPI(t *testing.T) {
	ps := newProofServer(t)
	ps.apply(t, exampleJSON, amendJSON)
	ps.signed(t)

	var contract struct {
		ContractID string `json:"contract_id"`
		Amount     string `json:"amount"`
		TechAmount string `json:"tech_amount"`
	}
	ps.apiJSON(t, tokRegistrar, "/v1/contracts/2023140101000123", &contract)
	var bundle struct {
		Checkpoint string `json:"checkpoint"`
		Records    []struct {
			Position ledger.Position `json:"position"`
			Record   []byte          `json:"record"`
		} `json:"records"`
	}
	ps.apiJSON(t, tokRegistrar, "/v1/contracts/2023140101000123/bundle", &bundle)
	require.Len(t, bundle.Records, 2, "the registration and the amendment")
	reg := bundle.Records[0].Record
	require.Greater(t, len(reg), 32)
	leaf := sha256.Sum256(append([]byte{0}, reg[len(reg)-32:]...))
	size := strings.Split(bundle.Checkpoint, "\n")[1] // origin, size, root, then the signatures

	tb := newTab(t)
	tb.signIn(ps.URL, tokRegistrar)
	tb.open(ps.URL + "/contracts/2023140101000123")
	tb.submit(`#certificate-link`)
	assert.Equal(t, contract.ContractID, tb.text(`#cert-number`))
	assert.Equal(t, "2023140101000123", tb.text(`#cert-number`))
	assert.Equal(t, contract.Amount, tb.text(`#cert-amount`))
	assert.Equal(t, contract.TechAmount, tb.text(`#cert-tech`))
	assert.Equal(t, "1050000.50", tb.text(`#cert-tech`), "the amount in force, as amended")
	assert.Equal(t, base64.StdEncoding.EncodeToString(leaf[:]), tb.text(`#cert-leaf`))
	assert.Equal(t, "1", tb.text(`#cert-position`))
	assert.Equal(t, size, tb.text(`#cert-size`))
	assert.Equal(t, strings.TrimSpace(bundle.Checkpoint), strings.TrimSpace(tb.text(`#cert-note`)), "the signed checkpoint the bundle is proved against")
	assert.Contains(t, tb.text(`#cert-parties`), "太原理工大学")
	assert.Contains(t, tb.text(`#cert-parties`), "长治市")
	assert.Contains(t, tb.text(`#cert-bundle`), "/v1/contracts/2023140101000123/bundle")
	src := value(tb, chromedp.Evaluate[string](`document.querySelector('#cert-qr').src`))
	assert.True(t, strings.HasPrefix(src, "data:image/png;base64,"), "the QR code inline")
	w := value(tb, chromedp.Evaluate[int](`document.querySelector('#cert-qr').naturalWidth`))
	assert.Greater(t, w, 0, "the browser decoded the QR image")
	tb.shot("certificate")
}
