package transparency_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger/memstore"
	"techledger/transparency"
)

func TestParseCheckpoint(t *testing.T) {
	c := transparency.Checkpoint{Origin: "o.example/log", Size: 42}
	c.Root[0] = 7
	got, err := transparency.ParseCheckpoint(c.Body())
	require.NoError(t, err)
	require.Equal(t, c, got)
	got, err = transparency.ParseCheckpoint(c.Body() + "extension line\n")
	require.NoError(t, err)
	require.Equal(t, c, got)
	for name, text := range map[string]string{
		"empty":        "",
		"no root":      "o\n1\n",
		"size":         "o\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"negative":     "o\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"short root":   "o\n1\nAAAA\n",
		"no origin":    "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"no last \\n":  "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"not base64":   "o\n1\n!!!!\n",
		"size is text": "o\nten\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	} {
		_, err := transparency.ParseCheckpoint(text)
		require.Error(t, err, name)
	}
}

func TestParseSignerKey(t *testing.T) {
	for range 20 { // keys whose base64 holds '+' included
		skey, vkey := mustKey(testOrigin)
		s, v, err := transparency.ParseSignerKey(skey + "\n")
		require.NoError(t, err)
		require.Equal(t, vkey, v)
		require.Equal(t, testOrigin, s.Name())
	}
	_, _, err := transparency.ParseSignerKey("PRIVATE+KEY+secret")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret")
}

// TestLog_TornCheckpoint: a checkpoint whose write was cut by a crash (never published) is
// dropped at open; the ones before it stay.
func TestLog_TornCheckpoint(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	fill(t, s, 2, 2)
	l := openLog(t, s, dir)
	cp, err := l.SignNow()
	require.NoError(t, err)
	require.NoError(t, l.Close())
	fill(t, memstoreTail{s, 0}, 1, 1)
	l = openLog(t, s, dir)
	_, err = l.SignNow()
	require.NoError(t, err)
	require.NoError(t, l.Close())
	path := filepath.Join(dir, transparency.CheckpointsFile)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b[:len(b)-10], 0o644))
	l = openLog(t, s, dir)
	got, _, err := l.Latest()
	require.NoError(t, err)
	require.Equal(t, cp, got)
	// Damage in the middle is not a torn tail: refused.
	require.NoError(t, l.Close())
	b[20] ^= 1
	require.NoError(t, os.WriteFile(path, b, 0o644))
	_, err = transparency.Open(t.Context(), s, options(t, dir, testSKey))
	require.ErrorContains(t, err, "CRC mismatch")
}

// TestLog_NeverSignsInconsistent: when the stored hashes no longer give the root last
// signed (here a stored hash damaged while the log runs, after the tree grew to 16 records
// so that the root of size 9 is read back from the file), SignNow refuses to sign a new
// checkpoint, naming both roots.
func TestLog_NeverSignsInconsistent(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	fill(t, s, 3, 3)
	l := openLog(t, s, dir)
	_, err := l.SignNow()
	require.NoError(t, err)
	for range 7 {
		require.NoError(t, l.Tree().Append(records(t, s)[0].Hash))
	}
	require.NoError(t, l.Tree().Sync())
	f, err := os.OpenFile(filepath.Join(dir, transparency.TreeFile), os.O_RDWR, 0)
	require.NoError(t, err)
	// The hash of the subtree of leaves 0..7, which the root of size 9 is made of.
	_, err = f.WriteAt([]byte{0xde, 0xad}, 32+32*tlog.StoredHashIndex(3, 0))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = l.SignNow()
	var mm *transparency.RootMismatchError
	require.ErrorAs(t, err, &mm)
	cp, _, err := l.Latest()
	require.NoError(t, err)
	require.Equal(t, int64(9), cp.Size)
}
