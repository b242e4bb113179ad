package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/filestore"
)

// registerN is a valid registration of contract n (a distinct registration number).
func registerN(n int) string {
	return strings.NewReplacer(`"c-1"`, fmt.Sprintf(`"stop-%d"`, n), "2023140101000123", fmt.Sprintf("2023140101%06d", n)).Replace(register)
}

// startServeInProcess runs the serve verb in a goroutine and returns its base URL and a channel
// with its exit code.
func startServeInProcess(t *testing.T, ctx context.Context, args ...string) (string, <-chan int, *testBuffer) {
	t.Helper()
	stderr := &testBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), &testBuffer{}, stderr)
	}()
	addr := regexp.MustCompile(`addr=(https?://\S+)`)
	var url string
	require.Eventually(t, func() bool {
		m := addr.FindStringSubmatch(stderr.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, 10*time.Second, 5*time.Millisecond, "serve did not start: %s", stderr)
	return url, code, stderr
}

// TestServe_StopFinishesInFlight stops serve (as SIGTERM does: main cancels the context)
// while commands are being posted from 8 clients: it exits 0, no client gets an error
// status, and every acknowledged command is in the log afterwards.
func TestServe_StopFinishesInFlight(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	url, code, stderr := startServeInProcess(t, ctx, "--data", dir)

	var next, acked atomic.Int64
	type ack struct {
		id  string
		pos ledger.Position
	}
	var mu sync.Mutex
	var acks []ack
	var bad []string
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 20 * time.Second}
			for {
				n := int(next.Add(1))
				resp, err := client.Post(url+"/v1/commands", "application/json", strings.NewReader(registerN(n)))
				if err != nil {
					return // the server has stopped accepting
				}
				var out struct {
					Positions []ledger.Position `json:"positions"`
				}
				err = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode != http.StatusCreated || err != nil || len(out.Positions) != 1 {
					bad = append(bad, fmt.Sprintf("command %d: status %d, %v", n, resp.StatusCode, err))
				} else {
					acks = append(acks, ack{fmt.Sprintf("stop-%d", n), out.Positions[0]})
				}
				mu.Unlock()
				acked.Add(1)
			}
		}()
	}
	require.Eventually(t, func() bool { return acked.Load() >= 50 }, 20*time.Second, time.Millisecond)
	stop()
	select {
	case c := <-code:
		assert.Equal(t, exitOK, c, "stderr: %s", stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	wg.Wait()
	assert.Empty(t, bad, "no client got an error status")
	assert.Contains(t, stderr.String(), "stopping")

	s, err := filestore.Open(dir, filestore.Options{})
	require.NoError(t, err)
	defer s.Close()
	for _, a := range acks {
		var found bool
		for rec, err := range s.ReadAll(context.Background(), a.pos) {
			require.NoError(t, err)
			found = rec.Metadata.CommandID == a.id
			break
		}
		assert.True(t, found, "acknowledged command %s is at position %d", a.id, a.pos)
	}
	t.Logf("%d commands acknowledged before the stop", len(acks))
}

// TestServe_RefusesOpenAddress: serve without --tokens refuses a non-loopback address
// (server.CheckListen has the table of addresses).
func TestServe_RefusesOpenAddress(t *testing.T) {
	assert.Equal(t, exitUsage, run(context.Background(), []string{"serve", "--data", t.TempDir(), "--addr", "0.0.0.0:0"}, io.Discard, io.Discard),
		"serve without --tokens refuses a non-loopback address")
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key as PEM files and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "techledger test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServe_TLS: with --tls-cert and --tls-key serve speaks HTTPS only; giving one
// without the other, or files that are not a key pair, is a usage error.
func TestServe_TLS(t *testing.T) {
	cert, key, pool := selfSigned(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	url, code, stderr := startServeInProcess(t, ctx, "--data", t.TempDir(), "--tls-cert", cert, "--tls-key", key)
	require.True(t, strings.HasPrefix(url, "https://"), url)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(url + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get("http://" + strings.TrimPrefix(url, "https://") + "/healthz")
	if err == nil {
		resp.Body.Close()
		assert.NotEqual(t, http.StatusOK, resp.StatusCode, "plain HTTP is not served")
	}
	stop()
	assert.Equal(t, exitOK, <-code, stderr.String())

	for _, args := range [][]string{
		{"--tls-cert", cert},
		{"--tls-key", key},
		{"--tls-cert", key, "--tls-key", cert},
	} {
		var errb bytes.Buffer
		assert.Equal(t, exitUsage, run(context.Background(), append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, args...), io.Discard, &errb), "%v", args)
		assert.Contains(t, errb.String(), "tls-", "%v", args)
	}
}

// testBuffer is an unbounded bytes.Buffer safe for the server's goroutines.
type testBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *testBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *testBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
