package transparency_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger/memstore"
	"techledger/transparency"
)

const witnessName = "witness.test.techledger.example/w1"

var witnessSKey, witnessVKey = mustKey(witnessName)

// testLog is a log's tree over chain hashes and the notes signed of it with one key.
type testLog struct {
	tree *transparency.Tree
	skey string
}

// newTestLog builds a tree of n leaves; leaves from fork on differ from the honest log's.
func newTestLog(t *testing.T, n, fork int, skey string) *testLog {
	t.Helper()
	tree, err := transparency.OpenTree(filepath.Join(t.TempDir(), "tree.hashes"))
	require.NoError(t, err)
	t.Cleanup(func() { tree.Close() })
	for i := range n {
		c := chainHash(i)
		if i >= fork {
			c = chainHash(i + 1_000_000)
		}
		require.NoError(t, tree.Append(c))
	}
	return &testLog{tree: tree, skey: skey}
}

func (l *testLog) signed(t *testing.T, n int64) []byte {
	t.Helper()
	root, err := l.tree.Root(n)
	require.NoError(t, err)
	s, err := note.NewSigner(l.skey)
	require.NoError(t, err)
	msg, err := note.Sign(&note.Note{Text: transparency.Checkpoint{Origin: s.Name(), Size: n, Root: root}.Body()}, s)
	require.NoError(t, err)
	return msg
}

func (l *testLog) proof(t *testing.T, m, n int64) tlog.TreeProof {
	t.Helper()
	p, err := l.tree.ConsistencyProof(m, n)
	require.NoError(t, err)
	return p
}

func openWitness(t *testing.T, dir string) *transparency.Witness {
	t.Helper()
	w, err := transparency.OpenWitness(transparency.WitnessOptions{Dir: dir, SignerKey: witnessSKey, LogKeys: []string{testVKey}, Logger: quiet})
	require.NoError(t, err)
	return w
}

// checkCosignature checks a cosignature line as C2SP tlog-cosignature specifies it,
// written here from the specification: key ID = SHA-256(name ‖ "\n" ‖ 0x04 ‖ public
// key)[:4]; signature = 8-byte big-endian timestamp ‖ Ed25519 signature of
// "cosignature/v1\ntime <timestamp>\n" ‖ the checkpoint's body. It returns the timestamp.
func checkCosignature(t *testing.T, line, body string) time.Time {
	t.Helper()
	vk, err := base64.StdEncoding.DecodeString(strings.SplitN(witnessVKey, "+", 3)[2]) // name+hash+key; the key may hold '+'

	require.NoError(t, err)
	require.Equal(t, byte(1), vk[0])
	pub := ed25519.PublicKey(vk[1:])
	rest, ok := strings.CutPrefix(line, "— "+witnessName+" ")
	require.True(t, ok, "cosignature line %q", line)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(rest, "\n"))
	require.NoError(t, err)
	require.Len(t, raw, 4+8+64)
	id := sha256.Sum256(append([]byte(witnessName+"\n\x04"), pub...))
	require.Equal(t, id[:4], raw[:4], "key ID")
	ts := binary.BigEndian.Uint64(raw[4:12])
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, body)
	require.True(t, ed25519.Verify(pub, []byte(msg), raw[12:]), "cosignature does not verify")
	return time.Unix(int64(ts), 0)
}

// TestWitness: the witness cosigns the first checkpoint it sees and then only checkpoints
// that a consistency proof shows extend the latest it cosigned; it refuses a rollback, a
// fork at the same size or at a larger one, a bad proof, a stale old size, an unknown log
// and a signature by another key, and keeps its state across a restart.
func TestWitness(t *testing.T) {
	dir := t.TempDir()
	w := openWitness(t, dir)
	honest := newTestLog(t, 50, 50, testSKey)
	forked := newTestLog(t, 50, 20, testSKey) // same key, same first 20 records
	otherSKey, _ := mustKey(testOrigin)
	impostor := newTestLog(t, 50, 50, otherSKey)

	add := func(old int64, p tlog.TreeProof, msg []byte) ([]byte, error) {
		return w.AddCheckpoint(old, p, msg)
	}
	requireCosigned := func(cosig []byte, err error, msg []byte, size int64) {
		t.Helper()
		require.NoError(t, err)
		before := time.Now().Add(-2 * time.Second)
		ts := checkCosignature(t, string(cosig), noteBody(t, msg))
		require.WithinRange(t, ts, before, time.Now().Add(time.Second))
		// The library's verifier accepts the checkpoint with both signatures.
		cv, err := transparency.NewCosignatureVerifier(w.VerifierKey())
		require.NoError(t, err)
		lv, err := note.NewVerifier(testVKey)
		require.NoError(t, err)
		n, err := note.Open(append(bytes.Clone(msg), cosig...), note.VerifierList(lv, cv))
		require.NoError(t, err)
		require.Len(t, n.Sigs, 2)
		cp, _, ok := w.Latest(testOrigin)
		require.True(t, ok)
		require.Equal(t, size, cp.Size)
	}
	requireRefused := func(status int, size int64, reason string, _ []byte, err error) {
		t.Helper()
		var we *transparency.WitnessError
		require.ErrorAs(t, err, &we)
		require.Equal(t, status, we.Status, we.Reason)
		require.Contains(t, we.Reason, reason)
		if status == http.StatusConflict {
			require.Equal(t, size, we.Size)
		}
	}

	cosig, err := add(0, nil, honest.signed(t, 10))
	requireCosigned(cosig, err, honest.signed(t, 10), 10)
	cosig, err = add(10, honest.proof(t, 10, 25), honest.signed(t, 25))
	requireCosigned(cosig, err, honest.signed(t, 25), 25)
	cosig, err = add(25, nil, honest.signed(t, 25)) // the same checkpoint again: a fresh cosignature
	requireCosigned(cosig, err, honest.signed(t, 25), 25)

	cosig, err = add(25, nil, honest.signed(t, 10))
	requireRefused(http.StatusBadRequest, 0, "larger than the checkpoint's size 10", cosig, err)
	cosig, err = add(10, nil, honest.signed(t, 10))
	requireRefused(http.StatusConflict, 25, "old size 10 is not the size of the latest", cosig, err)
	cosig, err = add(0, nil, honest.signed(t, 40))
	requireRefused(http.StatusConflict, 25, "old size 0", cosig, err)
	cosig, err = add(25, nil, forked.signed(t, 25))
	requireRefused(http.StatusConflict, 25, "fork: checkpoint of", cosig, err)
	cosig, err = add(25, forked.proof(t, 25, 40), forked.signed(t, 40))
	requireRefused(http.StatusUnprocessableEntity, 0, "does not verify", cosig, err)
	bad := honest.proof(t, 25, 40)
	bad[0][0] ^= 1
	cosig, err = add(25, bad, honest.signed(t, 40))
	requireRefused(http.StatusUnprocessableEntity, 0, "does not verify", cosig, err)
	cosig, err = add(25, honest.proof(t, 25, 40), impostor.signed(t, 40))
	requireRefused(http.StatusForbidden, 0, "no valid signature", cosig, err)
	other := newTestLog(t, 50, 50, mustSKey(t, "other.example/log"))
	cosig, err = add(0, nil, other.signed(t, 40))
	requireRefused(http.StatusNotFound, 0, `unknown log origin "other.example/log"`, cosig, err)
	cp, _, _ := w.Latest(testOrigin)
	require.Equal(t, int64(25), cp.Size, "a refused checkpoint changed the witness's state")

	// After a restart the witness still knows size 25 and its root.
	w = openWitness(t, dir)
	cosig, err = add(25, nil, forked.signed(t, 25))
	requireRefused(http.StatusConflict, 25, "fork", cosig, err)
	cosig, err = add(25, honest.proof(t, 25, 40), honest.signed(t, 40))
	requireCosigned(cosig, err, honest.signed(t, 40), 40)
}

func mustSKey(t *testing.T, origin string) string {
	t.Helper()
	s, _, err := transparency.GenerateKey(origin)
	require.NoError(t, err)
	return s
}

// noteBody returns the text of a signed note (without its signatures).
func noteBody(t *testing.T, msg []byte) string {
	t.Helper()
	text, _, ok := strings.Cut(string(msg), "\n\n")
	require.True(t, ok)
	return text + "\n"
}

// TestWitness_HTTP drives add-checkpoint over HTTP as tlog-witness specifies it: a
// cosignature line for 200, the latest size as text/x.tlog.size for 409, and 400 for a
// malformed body.
func TestWitness_HTTP(t *testing.T) {
	w := openWitness(t, t.TempDir())
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	honest := newTestLog(t, 30, 30, testSKey)
	post := func(body []byte) (int, string, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/add-checkpoint", "text/plain", bytes.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	msg := honest.signed(t, 10)
	status, _, body := post(transparency.FormatAddCheckpoint(0, nil, msg))
	require.Equal(t, http.StatusOK, status, body)
	checkCosignature(t, body, noteBody(t, msg))

	msg = honest.signed(t, 30)
	status, ctype, body := post(transparency.FormatAddCheckpoint(0, nil, msg))
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, "text/x.tlog.size", ctype)
	require.Equal(t, "10\n", body)
	size, err := strconv.ParseInt(strings.TrimSpace(body), 10, 64)
	require.NoError(t, err)
	status, _, body = post(transparency.FormatAddCheckpoint(size, honest.proof(t, size, 30), msg))
	require.Equal(t, http.StatusOK, status, body)
	checkCosignature(t, body, noteBody(t, msg))

	for name, b := range map[string]string{
		"no old line":      "10\n\n" + string(msg),
		"old size":         "old 010\n\n" + string(msg),
		"negative":         "old -1\n\n" + string(msg),
		"proof line":       "old 10\nnot base64!\n\n" + string(msg),
		"short hash":       "old 10\nAAAA\n\n" + string(msg),
		"no empty line":    "old 10",
		"64 proof lines":   "old 10\n" + strings.Repeat(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n", 64) + "\n" + string(msg),
		"not a checkpoint": "old 30\n\n" + testOrigin + "\nnot a note\n",
	} {
		status, _, body := post([]byte(b))
		require.Equal(t, http.StatusBadRequest, status, "%s: %s", name, body)
	}
	cp, _, _ := w.Latest(testOrigin)
	require.Equal(t, int64(30), cp.Size)
}

// TestParseAddCheckpoint: FormatAddCheckpoint and ParseAddCheckpoint are inverses.
func TestParseAddCheckpoint(t *testing.T) {
	p := tlog.TreeProof{tlog.Hash(chainHash(1)), tlog.Hash(chainHash(2))}
	msg := []byte("origin\n5\nroot\n\n— origin sig\n")
	old, got, signed, err := transparency.ParseAddCheckpoint(transparency.FormatAddCheckpoint(42, p, msg))
	require.NoError(t, err)
	require.Equal(t, int64(42), old)
	require.Equal(t, p, got)
	require.Equal(t, msg, signed)
}

// TestLog_Witnessed: a Log with a witness submits its checkpoints and publishes them with
// the witness's cosignature, again after the log grew (with a consistency proof) and after
// a restart of the log (which learns the witness's size from a 409). A witness that answers
// garbage adds nothing, and the published note still verifies with the log's key.
func TestLog_Witnessed(t *testing.T) {
	w := openWitness(t, t.TempDir())
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		io.WriteString(rw, "— x AAAA\nnot a signature line\n")
	}))
	defer garbage.Close()
	cv, err := transparency.NewCosignatureVerifier(w.VerifierKey())
	require.NoError(t, err)
	lv, err := note.NewVerifier(testVKey)
	require.NoError(t, err)

	s := memstore.New()
	fill(t, s, 3, 2)
	dir := t.TempDir()
	run := func(records int64) {
		t.Helper()
		opts := options(t, dir, testSKey)
		opts.Witnesses = []string{garbage.URL, srv.URL}
		l, err := transparency.Open(context.Background(), s, opts)
		require.NoError(t, err)
		defer l.Close()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		require.Eventually(t, func() bool {
			cp, msg, err := l.Latest()
			if err != nil || cp.Size != records {
				return false
			}
			n, err := note.Open(msg, note.VerifierList(lv, cv))
			return err == nil && len(n.Sigs) == 2 && len(n.UnverifiedSigs) == 0
		}, 10*time.Second, 5*time.Millisecond)
		cancel()
		require.NoError(t, <-done)
		wcp, _, ok := w.Latest(testOrigin)
		require.True(t, ok)
		require.Equal(t, records, wcp.Size)
	}
	run(6)
	fill(t, memstoreTail{s, 0}, 4, 1)
	run(10)
}

// TestCheckCosignatures: an auditor requiring a witness's cosignature accepts the
// checkpoint that witness cosigned and names the witness when its cosignature is missing,
// made by another witness, or altered.
func TestCheckCosignatures(t *testing.T) {
	w := openWitness(t, t.TempDir())
	otherSKey, _ := mustKey("witness.test.techledger.example/w2")
	other, err := transparency.OpenWitness(transparency.WitnessOptions{Dir: t.TempDir(), SignerKey: otherSKey, LogKeys: []string{testVKey}, Logger: quiet})
	require.NoError(t, err)
	honest := newTestLog(t, 10, 10, testSKey)
	msg := honest.signed(t, 10)
	cosig, err := w.AddCheckpoint(0, nil, msg)
	require.NoError(t, err)
	full := append(bytes.Clone(msg), cosig...)

	cs, err := transparency.CheckCosignatures(full, testVKey, []string{w.VerifierKey()})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.Equal(t, witnessName, cs[0].Witness)
	require.Equal(t, checkCosignature(t, string(cosig), noteBody(t, msg)).UTC(), cs[0].Time)
	cs, err = transparency.CheckCosignatures(full, testVKey, nil)
	require.NoError(t, err)
	require.Empty(t, cs)

	_, err = transparency.CheckCosignatures(msg, testVKey, []string{w.VerifierKey()})
	require.ErrorContains(t, err, "not cosigned by witness "+witnessName)
	_, err = transparency.CheckCosignatures(full, testVKey, []string{w.VerifierKey(), other.VerifierKey()})
	require.ErrorContains(t, err, "not cosigned by witness witness.test.techledger.example/w2+")
	altered := bytes.Clone(full)
	i := len(msg) + len("— "+witnessName+" ") + 20
	altered[i] ^= 3 // a byte of the cosignature's base64
	_, err = transparency.CheckCosignatures(altered, testVKey, []string{w.VerifierKey()})
	require.Error(t, err)
	_, err = transparency.CheckCosignatures(full, "not a key", nil)
	require.ErrorContains(t, err, "verifier key")
}
