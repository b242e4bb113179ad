package filestore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/storetest"
)

// dirState is every file of a directory with its size and modification time: what a
// read-only open must leave as it found it.
func dirState(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(tb, err)
	out := map[string]string{}
	for _, e := range entries {
		fi, err := e.Info()
		require.NoError(tb, err)
		out[e.Name()] = fmt.Sprintf("%d %d", fi.Size(), fi.ModTime().UnixNano())
	}
	return out
}

// TestOpenReadOnly_WhileWriting opens the store read-only again and again while a writer
// in the same process (holding the lock) appends from several goroutines across many
// small segments, and checks each time that the read-only store verifies, ends on a
// batch boundary, and holds exactly the writer's records up to its head (a consistent
// prefix), and that its head never goes back.
func TestOpenReadOnly_WhileWriting(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir, filestore.Options{SegmentBytes: 8 << 10, CheckpointRecords: 200})
	_, err := filestore.Open(dir, filestore.Options{})
	require.ErrorIs(t, err, ledger.ErrLocked, "the writer holds the lock")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var appended sync.Map // first position of each batch -> its size
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				batch := []ledger.Event{storetest.Ev("A", g*100000+i)}
				if i%3 == 0 {
					batch = append(batch, storetest.Ev("B", g*100000+i))
				}
				res, err := w.Append(ctx, fmt.Sprintf("contract-%d-%d", g, i%7), ledger.Any, batch...)
				if err != nil {
					t.Error(err)
					return
				}
				appended.Store(res.Positions[0], len(batch))
			}
		}()
	}
	var last ledger.Position
	var heads []ledger.Position
	deadline := time.Now().Add(2 * time.Second)
	opens := 0
	for time.Now().Before(deadline) || opens < 5 {
		r, err := filestore.OpenReadOnly(dir, filestore.Options{})
		require.NoError(t, err)
		opens++
		head, err := r.Head(ctx)
		require.NoError(t, err)
		require.GreaterOrEqual(t, head, last, "the visible head never goes back")
		last = head
		rep, err := r.Verify(ctx)
		require.NoError(t, err, "a live store verifies read-only")
		require.Equal(t, head, rep.Head)
		got := storetest.Collect(t, r.ReadAll(ctx, 1))
		require.Len(t, got, int(head))
		// The reader may see a frame written whose fsync has not returned yet: wait for
		// the writer to acknowledge it.
		require.Eventually(t, func() bool { h, _ := w.Head(ctx); return h >= head }, 5*time.Second, time.Millisecond)
		want := storetest.Collect(t, w.ReadAll(ctx, 1))
		for i := range got {
			require.Equal(t, want[i].Hash, got[i].Hash, "position %d", i+1)
		}
		heads = append(heads, head)
		_, err = r.Append(ctx, "contract-x", ledger.Any, storetest.Ev("A", 1))
		require.ErrorIs(t, err, filestore.ErrReadOnly)
		require.NoError(t, r.Close())
		require.NoError(t, r.Close(), "closing twice is harmless")
	}
	close(stop)
	wg.Wait()
	for _, head := range heads { // each ends on a batch boundary: the batch holding it ends there
		for p := head; p > 0; p-- {
			if n, ok := appended.Load(p); ok {
				require.Equal(t, head, p+ledger.Position(n.(int))-1, "head %d cuts the batch at %d", head, p)
				break
			}
		}
	}
	require.Greater(t, last, ledger.Position(0))
	require.Greater(t, len(segments(t, dir)), 2, "the test must span several segments")
	_, err = w.Verify(ctx)
	require.NoError(t, err)
}

// TestOpenReadOnly_TornTail checks that a torn tail is not visible and is left in place,
// that nothing in the directory changes, and that the owner's lock is not taken.
func TestOpenReadOnly_TornTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	want := fill(t, s, 20)
	require.NoError(t, s.Close())
	seg := segments(t, dir)[0]
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte{0, 0, 1, 0, 1, 2, 3, 4, 5}) // a frame of 256 bytes, cut short
	require.NoError(t, err)
	require.NoError(t, f.Close())
	before := dirState(t, dir)

	r, err := filestore.OpenReadOnly(dir, filestore.Options{})
	require.NoError(t, err)
	requireLog(t, r, want)
	_, err = r.Verify(ctx)
	require.NoError(t, err)
	w, err := filestore.Open(t.TempDir(), filestore.Options{}) // another dir: sanity
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, r.Close())
	assert.Equal(t, before, dirState(t, dir), "a read-only open changes nothing")

	// The owner can still open (the reader took no lock) and truncates the torn tail.
	s = open(t, dir, filestore.Options{})
	requireLog(t, s, want)
}

// TestOpenReadOnly_Refuses checks that damage before the tail refuses a read-only open,
// naming the position, as Open does, and that a directory without a log is refused.
func TestOpenReadOnly_Refuses(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{CheckpointRecords: -1})
	fill(t, s, 20)
	require.NoError(t, s.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, "INDEX")))
	seg := segments(t, dir)[0]
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	b[100] ^= 0xff
	require.NoError(t, os.WriteFile(seg, b, 0o644))
	_, err = filestore.OpenReadOnly(dir, filestore.Options{})
	var ce *ledger.CorruptionError
	require.True(t, errors.As(err, &ce), "got %v", err)
	assert.Contains(t, ce.Location, filepath.Base(seg))

	_, err = filestore.OpenReadOnly(t.TempDir(), filestore.Options{})
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = filestore.OpenReadOnly(filepath.Join(t.TempDir(), "none"), filestore.Options{})
	require.ErrorIs(t, err, os.ErrNotExist)
}
