package filestore_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/storetest"
)

// requireSamePrefix checks that every segment of copyDir equals the segment of the same
// name in srcDir over the copy's length, byte for byte, and that the copy holds the
// source's segments in order (the last possibly shorter).
func requireSamePrefix(tb testing.TB, srcDir, copyDir string) {
	tb.Helper()
	src, cp := segments(tb, srcDir), segments(tb, copyDir)
	require.NotEmpty(tb, cp)
	require.LessOrEqual(tb, len(cp), len(src))
	for i, name := range cp {
		require.Equal(tb, filepath.Base(src[i]), filepath.Base(name))
		a, b := mustRead(tb, src[i]), mustRead(tb, name)
		require.LessOrEqual(tb, len(b), len(a))
		require.True(tb, bytes.Equal(a[:len(b)], b), "segment %s differs", filepath.Base(name))
		if i < len(cp)-1 {
			require.Equal(tb, len(a), len(b), "segment %s is sealed: copied whole", filepath.Base(name))
		}
	}
}

// TestBackup_DuringWrites takes backups while writers append (the source owned by a
// Store, as serve owns it), then restores the first: the restored store verifies, holds
// the backup's position and head hash, and its segments equal the source's up to there
// byte for byte. The second backup into the same directory copies only the new part.
func TestBackup_DuringWrites(t *testing.T) {
	src := t.TempDir()
	w := open(t, src, filestore.Options{SegmentBytes: 16 << 10})
	fill(t, w, 50)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var n atomic.Int64
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := w.Append(ctx, fmt.Sprintf("contract-w%d-%d", g, i%9), ledger.Any, storetest.Ev("A", i)); err != nil {
					t.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	require.Eventually(t, func() bool { return n.Load() >= 200 }, 10*time.Second, time.Millisecond, "the writers get going")
	bdir := filepath.Join(t.TempDir(), "backup")
	rep1, err := filestore.Backup(ctx, src, bdir, filestore.Options{})
	require.NoError(t, err)
	require.Greater(t, rep1.Position, ledger.Position(50))
	require.Equal(t, uint64(rep1.Position), rep1.Records)
	first := mustRead(t, filepath.Join(bdir, "BACKUP.json"))

	// Restore it (a snapshot of the backup, before the next one grows it).
	restoreFrom := filepath.Join(t.TempDir(), "b1")
	require.NoError(t, os.CopyFS(restoreFrom, os.DirFS(bdir)))

	require.Eventually(t, func() bool { return n.Load() >= int64(rep1.Position)+300 }, 10*time.Second, time.Millisecond)
	rep2, err := filestore.Backup(ctx, src, bdir, filestore.Options{})
	require.NoError(t, err)
	close(stop)
	wg.Wait()
	require.Greater(t, rep2.Position, rep1.Position)
	assert.NotEqual(t, first, mustRead(t, filepath.Join(bdir, "BACKUP.json")))
	requireSamePrefix(t, src, bdir)
	// Incremental: the second run copied exactly the bytes that the log grew by between
	// the two positions.
	var size1, size2 int64
	for _, name := range segments(t, restoreFrom) {
		fi, err := os.Stat(name)
		require.NoError(t, err)
		size1 += fi.Size()
	}
	for _, name := range segments(t, bdir) {
		fi, err := os.Stat(name)
		require.NoError(t, err)
		size2 += fi.Size()
	}
	assert.Equal(t, size2-size1, rep2.Copied, "the second backup copies only what the first lacks")
	assert.Less(t, rep2.Copied, size2)

	data := filepath.Join(t.TempDir(), "restored")
	rrep, err := filestore.Restore(ctx, restoreFrom, data, filestore.Options{})
	require.NoError(t, err)
	assert.Equal(t, rep1.Position, rrep.Position)
	assert.Equal(t, rep1.HeadHash, rrep.HeadHash)
	requireSamePrefix(t, src, data)
	r := open(t, data, filestore.Options{})
	v, err := r.Verify(ctx)
	require.NoError(t, err)
	assert.Equal(t, rep1.Position, v.Head)
	got := storetest.Collect(t, r.ReadAll(ctx, 1))
	want := storetest.Collect(t, w.ReadAll(ctx, 1))[:len(got)]
	for i := range got {
		require.Equal(t, want[i].Hash, got[i].Hash)
	}
	// The restored store takes appends that continue the chain.
	_, err = r.Append(ctx, "contract-after", ledger.NoStream, storetest.Ev("A", 1))
	require.NoError(t, err)
	_, err = r.Verify(ctx)
	require.NoError(t, err)
}

// TestRestore_RefusesNonEmpty checks that restore leaves a non-empty directory alone.
func TestRestore_RefusesNonEmpty(t *testing.T) {
	src := t.TempDir()
	s := open(t, src, filestore.Options{})
	fill(t, s, 5)
	require.NoError(t, s.Close())
	bdir := t.TempDir()
	_, err := filestore.Backup(ctx, src, bdir, filestore.Options{})
	require.NoError(t, err)
	target := t.TempDir()
	writeFile(t, filepath.Join(target, "keep"), []byte("x"))
	_, err = filestore.Restore(ctx, bdir, target, filestore.Options{})
	require.ErrorContains(t, err, "not empty")
	entries, err := os.ReadDir(target)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

// TestBackup_OtherLog checks that a backup directory holding another log is refused and
// left as it was.
func TestBackup_OtherLog(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		s := open(t, d, filestore.Options{})
		fill(t, s, 5)
		require.NoError(t, s.Close())
	}
	bdir := t.TempDir()
	_, err := filestore.Backup(ctx, a, bdir, filestore.Options{})
	require.NoError(t, err)
	before := dirState(t, bdir)
	_, err = filestore.Backup(ctx, b, bdir, filestore.Options{})
	require.ErrorContains(t, err, "not a backup of this log")
	assert.Equal(t, before, dirState(t, bdir))
}
