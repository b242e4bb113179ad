package filestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/storetest"
)

var ctx = context.Background()

func open(tb testing.TB, dir string, opts filestore.Options) *filestore.Store {
	tb.Helper()
	s, err := filestore.Open(dir, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) ledger.Store { return open(tb, tb.TempDir(), filestore.Options{}) })
}

// TestStore_SmallSegments runs the suite again with tiny segments so that reads, indexes
// and the hash chain are exercised across many segment files.
func TestStore_SmallSegments(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) ledger.Store {
		return open(tb, tb.TempDir(), filestore.Options{SegmentBytes: 2048})
	})
}

// fill appends n batches of 1..3 events over a few streams and returns every event in
// log order.
func fill(tb testing.TB, s ledger.Store, n int) []ledger.Event {
	tb.Helper()
	var all []ledger.Event
	for i := range n {
		batch := make([]ledger.Event, 1+i%3)
		for j := range batch {
			batch[j] = storetest.Ev("ContractRegistered", i*10+j)
		}
		_, err := s.Append(ctx, fmt.Sprintf("contract-%d", i%5), ledger.Any, batch...)
		require.NoError(tb, err)
		all = append(all, batch...)
	}
	return all
}

func requireLog(tb testing.TB, s ledger.Store, want []ledger.Event) {
	tb.Helper()
	got := storetest.Collect(tb, s.ReadAll(ctx, 1))
	require.Len(tb, got, len(want))
	for i := range want {
		require.True(tb, got[i].SameEvent(want[i]), "position %d differs", i+1)
	}
	rep, err := ledger.Verify(ctx, s.ReadAll(ctx, 1))
	require.NoError(tb, err)
	require.Equal(tb, uint64(len(want)), rep.Records)
}

func segments(tb testing.TB, dir string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(tb, err)
	sort.Strings(m)
	return m
}

func TestStore_Reopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{SegmentBytes: 4096})
	want := fill(t, s, 60)
	require.NoError(t, s.Close())
	require.Greater(t, len(segments(t, dir)), 3, "the test must span several segments")

	s = open(t, dir, filestore.Options{SegmentBytes: 4096})
	requireLog(t, s, want)
	for i := range 5 { // stream versions survive: a stream continues where it was
		stream := fmt.Sprintf("contract-%d", i)
		n := len(storetest.Collect(t, s.ReadStream(ctx, stream, 1)))
		_, err := s.Append(ctx, stream, ledger.Exactly(ledger.Version(n)), storetest.Ev("PaymentRecorded", i))
		require.NoError(t, err)
	}
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(len(want)+5), rep.Records)
}

// TestStore_TornTail cuts the last segment at every byte offset inside the last batch's
// frame, as a crash during that write would, and checks that the store reopens with every
// earlier (acknowledged) event, that the torn batch is gone, and that appends continue
// the hash chain.
func TestStore_TornTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	want := fill(t, s, 12)
	require.NoError(t, s.Close())
	seg := segments(t, dir)[0]
	full, err := os.ReadFile(seg)
	require.NoError(t, err)

	// Append the last batch and see where its frame starts and ends.
	s = open(t, dir, filestore.Options{})
	last := []ledger.Event{storetest.Ev("A", 1000), storetest.Ev("A", 1001), storetest.Ev("A", 1002)}
	_, err = s.Append(ctx, "contract-last", ledger.NoStream, last...)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	withLast, err := os.ReadFile(seg)
	require.NoError(t, err)
	require.Greater(t, len(withLast), len(full))

	for cut := len(full); cut < len(withLast); cut++ {
		d := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(d, filepath.Base(seg)), withLast[:cut], 0o644))
		s, err := filestore.Open(d, filestore.Options{})
		require.NoError(t, err, "cut at %d", cut)
		got := storetest.Collect(t, s.ReadAll(ctx, 1))
		require.Len(t, got, len(want), "cut at %d keeps exactly the acknowledged events", cut)
		_, err = s.Append(ctx, "contract-last", ledger.NoStream, last...)
		require.NoError(t, err, "cut at %d: the torn batch can be appended again", cut)
		_, err = s.Verify(ctx)
		require.NoError(t, err, "cut at %d: the chain continues", cut)
		require.NoError(t, s.Close())
		fi, err := os.Stat(filepath.Join(d, filepath.Base(seg)))
		require.NoError(t, err)
		require.Equal(t, int64(len(withLast)), fi.Size(), "cut at %d: the re-appended batch takes the torn one's place", cut)
	}

	// A zero-filled tail (the file grew but its data never reached the disk) is torn too.
	d := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(d, filepath.Base(seg)), append(append([]byte(nil), full...), make([]byte, 4096)...), 0o644))
	s2 := open(t, d, filestore.Options{})
	requireLog(t, s2, want)
}

// TestStore_FlippedByte flips one byte in a frame in the middle of a segment and checks
// that open, reading the whole log (no index checkpoint), refuses the log, naming the
// segment, the offset and the position. With the checkpoint, which Open trusts for what
// it covers, Open succeeds and Verify names the damage.
func TestStore_FlippedByte(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	fill(t, s, 20)
	require.NoError(t, s.Close())
	seg := segments(t, dir)[0]
	data, err := os.ReadFile(seg)
	require.NoError(t, err)
	off := len(data) / 2
	data[off] ^= 0x40
	require.NoError(t, os.WriteFile(seg, data, 0o644))

	s = open(t, dir, filestore.Options{})
	_, err = s.Verify(ctx)
	require.ErrorIs(t, err, ledger.ErrCorrupt, "Verify checks what the checkpoint covers")
	require.NoError(t, s.Close())

	require.NoError(t, os.Remove(filepath.Join(dir, "INDEX")))
	_, err = filestore.Open(dir, filestore.Options{})
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	var ce *ledger.CorruptionError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Location, filepath.Base(seg))
	assert.Contains(t, ce.Location, "offset")
	assert.Contains(t, ce.Reason, "crc mismatch")
	assert.Positive(t, ce.Position)
	assert.Contains(t, err.Error(), fmt.Sprintf("position %d", ce.Position))
	t.Logf("open refused: %v", err)
}

// TestStore_FlippedByteVerify damages a segment under an open store: Verify re-reads the
// disk and names the first bad record.
func TestStore_FlippedByteVerify(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	fill(t, s, 20)
	seg := segments(t, dir)[0]
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	require.NoError(t, err)
	fi, err := f.Stat()
	require.NoError(t, err)
	b := make([]byte, 1)
	_, err = f.ReadAt(b, fi.Size()/2)
	require.NoError(t, err)
	b[0] ^= 0x01
	_, err = f.WriteAt(b, fi.Size()/2)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	_, err = s.Verify(ctx)
	var ce *ledger.CorruptionError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Location, filepath.Base(seg))
	assert.Positive(t, ce.Position)
}

// TestStore_LastFrameGarbage: a whole last frame with a bad CRC that is not zeros is not a
// torn write (a torn write is shorter than its frame); it is corruption and refuses open.
func TestStore_LastFrameGarbage(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	fill(t, s, 5)
	require.NoError(t, s.Close())
	seg := segments(t, dir)[0]
	data, err := os.ReadFile(seg)
	require.NoError(t, err)
	data[len(data)-3] ^= 0xff
	require.NoError(t, os.WriteFile(seg, data, 0o644))
	_, err = filestore.Open(dir, filestore.Options{})
	require.ErrorIs(t, err, ledger.ErrCorrupt)
}

func TestStore_Locked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	_, err := filestore.Open(dir, filestore.Options{})
	require.ErrorIs(t, err, ledger.ErrLocked)
	require.NoError(t, s.Close())
	s2, err := filestore.Open(dir, filestore.Options{})
	require.NoError(t, err, "the lock is released on close")
	require.NoError(t, s2.Close())
}

// TestStore_MissingSegment: a segment removed from the middle of the log is a gap in
// positions and refuses open.
func TestStore_MissingSegment(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{SegmentBytes: 2048})
	fill(t, s, 40)
	require.NoError(t, s.Close())
	segs := segments(t, dir)
	require.Greater(t, len(segs), 2)
	require.NoError(t, os.Remove(segs[1]))
	_, err := filestore.Open(dir, filestore.Options{})
	var ce *ledger.CorruptionError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Reason, "segment starts at position")
}

// TestStore_ConcurrentAcrossSegments appends from many goroutines at once with tiny
// segments, so that the syncer's batches hold several frames and segment switches in the
// middle, then reopens the store (which rechecks every frame and the hash chain) and
// verifies it: every acknowledged event is there, once, in a valid log.
func TestStore_ConcurrentAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{SegmentBytes: 2048})
	const writers, perWriter = 16, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				batch := []ledger.Event{storetest.Ev("PaymentRecorded", w*1000+i*2), storetest.Ev("PaymentRecorded", w*1000+i*2+1)}
				if _, err := s.Append(ctx, fmt.Sprintf("contract-%d", w), ledger.Any, batch[:1+i%2]...); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, s.Close())
	require.Greater(t, len(segments(t, dir)), 10, "the test must span many segments")

	s = open(t, dir, filestore.Options{SegmentBytes: 2048})
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(writers*perWriter*3/2), rep.Records)
	for w := range writers {
		got := storetest.Collect(t, s.ReadStream(ctx, fmt.Sprintf("contract-%d", w), 1))
		assert.Len(t, got, perWriter*3/2)
	}
}

// TestStore_VerifyProgress: VerifyProgress reports every 4096th position, in order, and
// gives Verify's report.
func TestStore_VerifyProgress(t *testing.T) {
	s := open(t, t.TempDir(), filestore.Options{SegmentBytes: 256 << 10})
	evs := fill(t, s, 4500) // 9,000 events in batches of 1 to 3
	require.Len(t, evs, 9000)
	var seen []ledger.Position
	rep, err := s.VerifyProgress(context.Background(), func(p ledger.Position) { seen = append(seen, p) })
	require.NoError(t, err)
	assert.Equal(t, []ledger.Position{4096, 8192}, seen)
	want, err := s.Verify(context.Background())
	require.NoError(t, err)
	assert.Equal(t, want, rep)
	assert.Equal(t, ledger.Position(9000), rep.Head)
}
