package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"

	"techledger/server"
	"techledger/transparency"
)

// TestCLI_Witness plugs a witness into a log as tlog-witness intends: serve signs
// checkpoints; the witness verb cosigns the first, then a later one with the consistency
// proof served by the log, and the cosigned checkpoint verifies with the log's key and the
// witness's cosignature key (printed by the verb); a rollback to the first is refused with
// 409 and the latest size.
func TestCLI_Witness(t *testing.T) {
	dir := t.TempDir()
	logKey, witnessKey := filepath.Join(dir, "log.key"), filepath.Join(dir, "witness.key")
	code, vkey, errs := runVerb(t, "keygen", "--origin", "test.techledger.example/log", "--out", logKey)
	require.Equal(t, exitOK, code, errs)
	vkey = strings.TrimSpace(vkey)
	code, _, errs = runVerb(t, "keygen", "--origin", "witness.test.techledger.example", "--out", witnessKey)
	require.Equal(t, exitOK, code, errs)

	code, _, _ = runVerb(t, "witness", "--key", witnessKey)
	require.Equal(t, exitUsage, code, "no --log and no --state")
	require.NoError(t, os.Chmod(witnessKey, 0o644))
	code, _, errs = runVerb(t, "witness", "--key", witnessKey, "--log", vkey, "--state", dir)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "readable by others")
	require.NoError(t, os.Chmod(witnessKey, 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, done, serr := startServeInProcess(t, ctx, "--data", filepath.Join(dir, "data"), "--signing-key", logKey, "--checkpoint-interval", "20ms", "--public-proofs")
	wurl, cosigKey, wdone, werr := startWitness(t, ctx, witnessKey, vkey, filepath.Join(dir, "witness"))

	checkpointOfSize := func(n int64) []byte {
		t.Helper()
		for i := int64(0); i < n; i++ {
			resp, err := http.Post(url+"/v1/commands", "application/json", strings.NewReader(registerN(int(100*n+i))))
			require.NoError(t, err)
			resp.Body.Close()
		}
		var msg []byte
		require.Eventually(t, func() bool {
			_, b := httpGet(t, url+"/v1/checkpoint")
			cp, err := transparency.OpenCheckpoint(b, vkey)
			msg = b
			return err == nil && cp.Size >= n
		}, 10*time.Second, 10*time.Millisecond, serr)
		return msg
	}
	add := func(body []byte) (int, string) {
		t.Helper()
		resp, err := http.Post(wurl+"/add-checkpoint", "text/plain", bytes.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	verify := func(msg []byte, cosig string) {
		t.Helper()
		lv, err := note.NewVerifier(vkey)
		require.NoError(t, err)
		wv, err := transparency.NewCosignatureVerifier(cosigKey)
		require.NoError(t, err)
		n, err := note.Open(append(bytes.Clone(msg), cosig...), note.VerifierList(lv, wv))
		require.NoError(t, err)
		require.Len(t, n.Sigs, 2)
	}

	first := checkpointOfSize(2)
	status, cosig := add(transparency.FormatAddCheckpoint(0, nil, first))
	require.Equal(t, http.StatusOK, status, cosig)
	verify(first, cosig)
	cp1, err := transparency.OpenCheckpoint(first, vkey)
	require.NoError(t, err)

	second := checkpointOfSize(cp1.Size + 3)
	cp2, err := transparency.OpenCheckpoint(second, vkey)
	require.NoError(t, err)
	c, body := httpGet(t, fmt.Sprintf("%s/v1/proof/consistency?from=%d&to=%d", url, cp1.Size, cp2.Size))
	require.Equal(t, http.StatusOK, c, string(body))
	var proof server.ConsistencyResponse
	require.NoError(t, json.Unmarshal(body, &proof))
	status, cosig = add(transparency.FormatAddCheckpoint(cp1.Size, proof.Proof, second))
	require.Equal(t, http.StatusOK, status, cosig)
	verify(second, cosig)

	status, body2 := add(transparency.FormatAddCheckpoint(cp1.Size, nil, first))
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, fmt.Sprintf("%d\n", cp2.Size), body2)

	cancel()
	require.Equal(t, exitOK, <-done, serr)
	require.Equal(t, exitOK, <-wdone, werr)
}

// startWitness runs the witness verb in a goroutine and returns its URL, its cosignature
// verifier key, a channel with its exit code and its stderr.
func startWitness(t *testing.T, ctx context.Context, key, logKey, state string) (string, string, <-chan int, *testBuffer) {
	t.Helper()
	wout, werr := &testBuffer{}, &testBuffer{}
	wdone := make(chan int, 1)
	go func() {
		wdone <- run(ctx, []string{"witness", "--key", key, "--log", logKey, "--state", state, "--addr", "127.0.0.1:0"}, wout, werr)
	}()
	var wurl string
	require.Eventually(t, func() bool {
		m := regexp.MustCompile(`addr=(http://\S+)`).FindStringSubmatch(werr.String())
		if m != nil {
			wurl = m[1]
		}
		return m != nil
	}, 10*time.Second, 5*time.Millisecond, "witness did not start: %s", werr)
	return wurl, strings.TrimSpace(wout.String()), wdone, werr
}

// TestCLI_ServeWitness: serve --witness submits each checkpoint to the witness and serves
// it with the witness's cosignature, before and after the log grows.
func TestCLI_ServeWitness(t *testing.T) {
	dir := t.TempDir()
	logKey, witnessKey := filepath.Join(dir, "log.key"), filepath.Join(dir, "witness.key")
	code, vkey, errs := runVerb(t, "keygen", "--origin", "test.techledger.example/log", "--out", logKey)
	require.Equal(t, exitOK, code, errs)
	vkey = strings.TrimSpace(vkey)
	code, _, errs = runVerb(t, "keygen", "--origin", "witness.test.techledger.example", "--out", witnessKey)
	require.Equal(t, exitOK, code, errs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wurl, cosigKey, wdone, werr := startWitness(t, ctx, witnessKey, vkey, filepath.Join(dir, "witness"))
	url, done, serr := startServeInProcess(t, ctx, "--data", filepath.Join(dir, "data"), "--signing-key", logKey, "--checkpoint-interval", "20ms", "--witness", wurl, "--public-proofs")
	lv, err := note.NewVerifier(vkey)
	require.NoError(t, err)
	wv, err := transparency.NewCosignatureVerifier(cosigKey)
	require.NoError(t, err)
	posted := int64(0)
	for _, size := range []int64{2, 5} {
		for ; posted < size; posted++ {
			resp, err := http.Post(url+"/v1/commands", "application/json", strings.NewReader(registerN(int(100+posted))))
			require.NoError(t, err)
			resp.Body.Close()
		}
		require.Eventually(t, func() bool {
			_, b := httpGet(t, url+"/v1/checkpoint")
			n, err := note.Open(b, note.VerifierList(lv, wv))
			if err != nil || len(n.Sigs) != 2 {
				return false
			}
			cp, err := transparency.ParseCheckpoint(n.Text)
			return err == nil && cp.Size == size
		}, 10*time.Second, 10*time.Millisecond, "%s\n%s", serr, werr)
		if size == 2 {
			_, b := httpGet(t, url+"/v1/checkpoint")
			require.NoError(t, os.WriteFile(filepath.Join(dir, "saved"), b, 0o644))
		}
	}

	// The auditor requires the witness's cosignature: present; then another witness's: missing.
	code, out, errs := runVerb(t, "audit", "--key", vkey, "--witness", cosigKey, "--checkpoint", filepath.Join(dir, "saved"), "--url", url)
	require.Equal(t, exitOK, code, out+errs)
	require.Contains(t, out, "consistent")
	require.Contains(t, out, "cosigned by witness witness.test.techledger.example at ")
	otherSKey, _, err := transparency.GenerateKey("other.witness.example")
	require.NoError(t, err)
	other, err := transparency.OpenWitness(transparency.WitnessOptions{Dir: t.TempDir(), SignerKey: otherSKey, LogKeys: []string{vkey}})
	require.NoError(t, err)
	code, out, errs = runVerb(t, "audit", "--key", vkey, "--witness", cosigKey, "--witness", other.VerifierKey(), "--checkpoint", filepath.Join(dir, "saved"), "--url", url)
	require.Equal(t, exitRejected, code, out+errs)
	require.Contains(t, out, "FAILED: checkpoint not cosigned by witness other.witness.example+")
	code, _, errs = runVerb(t, "audit", "--key", vkey, "--witness", "nonsense", "--checkpoint", filepath.Join(dir, "saved"), "--url", url)
	require.Equal(t, exitUsage, code, errs)
	cancel()
	require.Equal(t, exitOK, <-done, serr)
	require.Equal(t, exitOK, <-wdone, werr)
}
