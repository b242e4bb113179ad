package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"

	"techledger/server"
	"techledger/transparency"
)

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func runVerb(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestCLI_TransparencyLog runs the auditor's whole path through the verbs and the HTTP
// routes: keygen, serve --signing-key, checkpoints and proofs over HTTP, prove (from the
// server and from the store), audit of the bundle (and of a tampered copy), and audit
// --checkpoint --url reporting consistent, fork and rollback.
func TestCLI_TransparencyLog(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "log.key")
	code, vkey, errs := runVerb(t, "keygen", "--origin", "test.techledger.example/log", "--out", key)
	require.Equal(t, exitOK, code, errs)
	vkey = strings.TrimSpace(vkey)
	st, err := os.Stat(key)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	code, _, errs = runVerb(t, "keygen", "--origin", "x", "--out", key)
	assert.Equal(t, exitUsage, code, "keygen must not overwrite a key")
	assert.Contains(t, errs, "exists")
	b, _ := os.ReadFile(key)
	assert.NotContains(t, errs, strings.TrimSpace(string(b)))

	data := filepath.Join(dir, "data")
	in := filepath.Join(dir, "in.ndjson")
	require.NoError(t, os.WriteFile(in, []byte(register+"\n"+registerN(2)+"\n"), 0o644))
	code, _, errs = runVerb(t, "import", "--data", data, in)
	require.Equal(t, exitOK, code, errs)

	ctx, cancel := context.WithCancel(context.Background())
	url, done, serr := startServeInProcess(t, ctx, "--data", data, "--signing-key", key, "--checkpoint-interval", "20ms", "--public-proofs")
	var note []byte
	require.Eventually(t, func() bool {
		c, b := httpGet(t, url+"/v1/checkpoint")
		note = b
		return c == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond, serr)
	cp, err := transparency.OpenCheckpoint(note, vkey)
	require.NoError(t, err)
	require.Equal(t, int64(2), cp.Size)
	saved := filepath.Join(dir, "saved.checkpoint")
	require.NoError(t, os.WriteFile(saved, note, 0o644))

	resp, err := http.Post(url+"/v1/commands", "application/json", strings.NewReader(registerN(3)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Eventually(t, func() bool {
		_, b := httpGet(t, url+"/v1/checkpoint")
		c, err := transparency.OpenCheckpoint(b, vkey)
		return err == nil && c.Size == 3
	}, 10*time.Second, 10*time.Millisecond)

	c, body := httpGet(t, url+"/v1/proof/inclusion?position=1&size=2")
	require.Equal(t, http.StatusOK, c, string(body))
	var inc server.InclusionResponse
	require.NoError(t, json.Unmarshal(body, &inc))
	require.NoError(t, tlog.CheckRecord(inc.Proof, 2, cp.Root, 0, inc.LeafHash))
	c, _ = httpGet(t, url+"/v1/proof/inclusion?position=1&size=1")
	assert.Equal(t, http.StatusNotFound, c, "size 1 was never signed")
	c, _ = httpGet(t, url+"/v1/proof/inclusion?position=x&size=2")
	assert.Equal(t, http.StatusBadRequest, c)
	c, b = httpGet(t, url+"/v1/checkpoints/2")
	assert.Equal(t, http.StatusOK, c)
	assert.Equal(t, note, b)
	c, _ = httpGet(t, url+"/v1/tile/0/000.p/3")
	assert.Equal(t, http.StatusOK, c)

	code, out, errs := runVerb(t, "audit", "--key", vkey, "--checkpoint", saved, "--url", url)
	require.Equal(t, exitOK, code, out+errs)
	assert.Contains(t, out, "consistent")

	bundle := filepath.Join(dir, "bundle.json")
	code, _, errs = runVerb(t, "prove", "--url", url, "-o", bundle, "2023140101000123")
	require.Equal(t, exitOK, code, errs)
	code, out, errs = runVerb(t, "audit", "--key", vkey, bundle)
	require.Equal(t, exitOK, code, out+errs)
	assert.Contains(t, out, "OK: contract 2023140101000123: 1 events")

	// A changed byte in the record is named.
	var bb transparency.Bundle
	raw, _ := os.ReadFile(bundle)
	require.NoError(t, json.Unmarshal(raw, &bb))
	bb.Records[0].Record[60] ^= 1
	raw, _ = json.Marshal(bb)
	tampered := filepath.Join(dir, "tampered.json")
	require.NoError(t, os.WriteFile(tampered, raw, 0o644))
	code, out, _ = runVerb(t, "audit", "--key", vkey, tampered)
	assert.Equal(t, exitRejected, code)
	assert.Contains(t, out, "changed bytes")

	// A fork: another log signed with the same key, same size, other records.
	other := filepath.Join(dir, "other")
	require.NoError(t, os.WriteFile(in, []byte(registerN(7)+"\n"+registerN(8)+"\n"+registerN(9)+"\n"+registerN(10)+"\n"), 0o644))
	code, _, errs = runVerb(t, "import", "--data", other, in)
	require.Equal(t, exitOK, code, errs)
	ctx2, cancel2 := context.WithCancel(context.Background())
	url2, done2, _ := startServeInProcess(t, ctx2, "--data", other, "--signing-key", key, "--checkpoint-interval", "20ms")
	var forked []byte
	require.Eventually(t, func() bool {
		c, b := httpGet(t, url2+"/v1/checkpoint")
		forked = b
		return c == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond)
	cancel2()
	<-done2
	forkFile := filepath.Join(dir, "fork.checkpoint")
	require.NoError(t, os.WriteFile(forkFile, forked, 0o644)) // size 4 > 3: the log looks rolled back
	code, out, _ = runVerb(t, "audit", "--key", vkey, "--checkpoint", forkFile, "--url", url)
	assert.Equal(t, exitRejected, code)
	assert.Contains(t, out, "rollback")
	assert.Contains(t, out, string(forked))

	// Once the log has 4 records too, the same checkpoint is a fork: same size, other root.
	resp, err = http.Post(url+"/v1/commands", "application/json", strings.NewReader(registerN(4)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Eventually(t, func() bool {
		_, b := httpGet(t, url+"/v1/checkpoint")
		c, err := transparency.OpenCheckpoint(b, vkey)
		return err == nil && c.Size == 4
	}, 10*time.Second, 10*time.Millisecond)
	code, out, _ = runVerb(t, "audit", "--key", vkey, "--checkpoint", forkFile, "--url", url)
	assert.Equal(t, exitRejected, code)
	assert.Contains(t, out, "fork: two checkpoints of size 4")
	assert.Contains(t, out, string(forked))
	cancel()
	require.Equal(t, exitOK, <-done)

	// From the store, without the server.
	code, out, errs = runVerb(t, "prove", "--data", data, "2023140101000003")
	require.Equal(t, exitOK, code, errs)
	require.NoError(t, os.WriteFile(bundle, []byte(out), 0o644))
	code, out, errs = runVerb(t, "audit", "--key", vkey, bundle)
	require.Equal(t, exitOK, code, out+errs)
	// The certificate, from the store: terms, proof and a QR code.
	code, out, errs = runVerb(t, "certificate", "--data", data, "2023140101000123")
	require.Equal(t, exitOK, code, errs)
	for _, want := range []string{"技术合同登记证明", "2023140101000123", "煤矸石综合利用技术转让", "技术转让 / 专利权转让",
		"1200000.00 元", "1000000.00 元", "太原理工大学", "太原市", "2023-03-15", "Registration leaf hash", "size 4", "█"} {
		assert.Contains(t, out, want)
	}
	qr, err := qrcode.New("http://127.0.0.1:8080/v1/contracts/2023140101000123/bundle", qrcode.Medium)
	require.NoError(t, err)
	assert.Contains(t, out, qr.ToSmallString(false), "the QR code holds the bundle's URL")
	code, out, errs = runVerb(t, "certificate", "--data", data, "--format", "html", "--public-url", "https://ledger.example.cn", "2023140101000123")
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, out, `src="data:image/png;base64,`)
	assert.Contains(t, out, "https://ledger.example.cn/v1/contracts/2023140101000123/bundle")
	code, _, _ = runVerb(t, "certificate", "--data", data, "2099140101000003")
	assert.Equal(t, exitRejected, code)
	code, _, _ = runVerb(t, "prove", "--data", data, "2099140101000003")
	assert.Equal(t, exitRejected, code)
	code, _, _ = runVerb(t, "audit", "--key", vkey, filepath.Join(dir, "missing.json"))
	assert.Equal(t, exitRejected, code)
	code, _, _ = runVerb(t, "audit", bundle)
	assert.Equal(t, exitUsage, code)
}
