package filestore_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/storetest"
)

// logBuffer collects a store's log lines; the background checkpoint writer logs too.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func logged(opts filestore.Options) (filestore.Options, *logBuffer) {
	var b logBuffer
	opts.Logger = slog.New(slog.NewTextHandler(&b, nil))
	return opts, &b
}

const wholeLog = "reading the whole log"

// snapshotDir copies the segments and the checkpoint of a store's directory, as a crash
// of the machine at this moment would leave them (every acknowledged append is synced).
func snapshotDir(tb testing.TB, dir string) string {
	tb.Helper()
	to := tb.TempDir()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(tb, err)
	for _, name := range names {
		base := filepath.Base(name)
		if !strings.HasSuffix(base, ".seg") && base != "INDEX" {
			continue
		}
		b, err := os.ReadFile(name)
		require.NoError(tb, err)
		require.NoError(tb, os.WriteFile(filepath.Join(to, base), b, 0o644))
	}
	return to
}

// indexView is what the index answers: every record, each stream's records, the head,
// and the answer to a retry of every append.
type indexView struct {
	all     []ledger.Record
	streams map[string][]ledger.Record
	retries map[ledger.Position]ledger.AppendResult
}

func viewOf(tb testing.TB, s *filestore.Store) indexView {
	tb.Helper()
	v := indexView{all: storetest.Collect(tb, s.ReadAll(ctx, 1)), streams: map[string][]ledger.Record{}, retries: map[ledger.Position]ledger.AppendResult{}}
	for _, rec := range v.all {
		if _, ok := v.streams[rec.Stream]; !ok {
			v.streams[rec.Stream] = storetest.Collect(tb, s.ReadStream(ctx, rec.Stream, 1))
		}
	}
	for _, rec := range v.all { // a retry of each event alone (its stream version one before)
		res, err := s.Append(ctx, rec.Stream, ledger.Exactly(rec.Version-1), rec.Event())
		require.NoError(tb, err)
		require.True(tb, res.Duplicate, "position %d is recognised as stored", rec.Position)
		v.retries[rec.Position] = res
	}
	return v
}

// requireFullScanAgrees opens a copy of dir without its checkpoint and checks that the
// index it builds from the whole log answers exactly as want.
func requireFullScanAgrees(tb testing.TB, dir string, want indexView) {
	tb.Helper()
	d := snapshotDir(tb, dir)
	require.NoError(tb, os.Remove(filepath.Join(d, "INDEX")))
	opts, logs := logged(filestore.Options{})
	s := open(tb, d, opts)
	require.Contains(tb, logs.String(), wholeLog)
	got := viewOf(tb, s)
	require.Equal(tb, want, got)
}

// TestStore_CheckpointUsed closes a store spanning several segments (which writes the
// checkpoint) and reopens it: Open loads the checkpoint instead of reading the log, and
// the index answers as one rebuilt from the whole log does. Appends continue streams and
// the hash chain.
func TestStore_CheckpointUsed(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{SegmentBytes: 4096})
	want := fill(t, s, 60)
	require.NoError(t, s.Close())
	require.FileExists(t, filepath.Join(dir, "INDEX"))

	opts, logs := logged(filestore.Options{SegmentBytes: 4096})
	s = open(t, dir, opts)
	assert.Empty(t, logs.String(), "the checkpoint is used")
	requireLog(t, s, want)
	v := viewOf(t, s)
	requireFullScanAgrees(t, dir, v)

	// Closing a store nothing was appended to leaves the checkpoint as it is.
	ro := snapshotDir(t, dir)
	before, err := os.Stat(filepath.Join(ro, "INDEX"))
	require.NoError(t, err)
	require.NoError(t, open(t, ro, filestore.Options{}).Close())
	after, err := os.Stat(filepath.Join(ro, "INDEX"))
	require.NoError(t, err)
	assert.True(t, os.SameFile(before, after), "the checkpoint is not rewritten")

	_, err = s.Append(ctx, "contract-0", ledger.Exactly(ledger.Version(len(v.streams["contract-0"]))), storetest.Ev("PaymentRecorded", 9000))
	require.NoError(t, err)
	_, err = s.Append(ctx, "contract-new", ledger.NoStream, storetest.Ev("ContractRegistered", 9001))
	require.NoError(t, err)
	rep, err := s.Verify(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(len(want)+2), rep.Records)
}

// TestStore_CheckpointStale reopens a log that grew after its checkpoint and was not
// closed (a crash): Open loads the checkpoint and reads only the records after it.
func TestStore_CheckpointStale(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	want := fill(t, s, 30)
	require.NoError(t, s.Close())
	s = open(t, dir, filestore.Options{})
	want = append(want, fill(t, s, 20)...)
	crashed := snapshotDir(t, dir) // the store is still open: no checkpoint at the new head

	opts, logs := logged(filestore.Options{})
	s2 := open(t, crashed, opts)
	assert.Empty(t, logs.String(), "the checkpoint is used")
	requireLog(t, s2, want)
	requireFullScanAgrees(t, crashed, viewOf(t, s2))
}

// TestStore_CheckpointTornTail cuts the records appended after the checkpoint at every
// byte of the last frame: Open loads the checkpoint, keeps every acknowledged event and
// truncates the torn tail, as without a checkpoint.
func TestStore_CheckpointTornTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	want := fill(t, s, 10)
	require.NoError(t, s.Close())
	s = open(t, dir, filestore.Options{})
	want = append(want, fill(t, s, 5)...)
	before := snapshotDir(t, dir)
	_, err := s.Append(ctx, "contract-last", ledger.NoStream, storetest.Ev("A", 1000), storetest.Ev("A", 1001))
	require.NoError(t, err)
	after := snapshotDir(t, dir)
	seg := filepath.Base(segments(t, dir)[0])
	short, err := os.ReadFile(filepath.Join(before, seg))
	require.NoError(t, err)
	long, err := os.ReadFile(filepath.Join(after, seg))
	require.NoError(t, err)
	require.Greater(t, len(long), len(short))

	for cut := len(short); cut < len(long); cut++ {
		d := snapshotDir(t, after)
		require.NoError(t, os.WriteFile(filepath.Join(d, seg), long[:cut], 0o644))
		opts, logs := logged(filestore.Options{})
		s, err := filestore.Open(d, opts)
		require.NoError(t, err, "cut at %d", cut)
		assert.Empty(t, logs.String(), "cut at %d: the checkpoint is used", cut)
		got := storetest.Collect(t, s.ReadAll(ctx, 1))
		require.Len(t, got, len(want), "cut at %d keeps exactly the acknowledged events", cut)
		_, err = s.Verify(ctx)
		require.NoError(t, err, "cut at %d", cut)
		require.NoError(t, s.Close())
	}
}

// TestStore_CheckpointIgnored damages the checkpoint, or makes it disagree with the log,
// in each way Open must notice: it is ignored with a log line and the index is rebuilt
// from the whole log, answering as a full scan does.
func TestStore_CheckpointIgnored(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{SegmentBytes: 4096})
	want := fill(t, s, 40)
	require.NoError(t, s.Close())
	require.Greater(t, len(segments(t, dir)), 2)
	index, err := os.ReadFile(filepath.Join(dir, "INDEX"))
	require.NoError(t, err)

	// other is another log of as many records with the same streams, not the same events.
	otherDir := t.TempDir()
	other := open(t, otherDir, filestore.Options{SegmentBytes: 4096})
	fill(t, other, 40)
	require.NoError(t, other.Close())

	cases := []struct {
		name   string
		damage func(t *testing.T, d string)
		reason string
	}{
		{"flipped byte", func(t *testing.T, d string) {
			b := bytes.Clone(index)
			b[len(b)/2] ^= 1
			writeFile(t, filepath.Join(d, "INDEX"), b)
		}, "crc mismatch"},
		{"cut short", func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "INDEX"), index[:len(index)-10])
		}, "crc mismatch"},
		{"unknown version", func(t *testing.T, d string) {
			b := bytes.Clone(index)
			b[7] = 99
			writeFile(t, filepath.Join(d, "INDEX"), b)
		}, "version 99"},
		{"not a checkpoint", func(t *testing.T, d string) {
			writeFile(t, filepath.Join(d, "INDEX"), []byte("hello"))
		}, "not an index checkpoint"},
		{"log replaced", func(t *testing.T, d string) {
			for _, seg := range segments(t, otherDir) {
				b, err := os.ReadFile(seg)
				require.NoError(t, err)
				writeFile(t, filepath.Join(d, filepath.Base(seg)), b)
			}
		}, ""},
		{"segment shorter than covered", func(t *testing.T, d string) {
			segs := segments(t, d)
			require.NoError(t, os.Truncate(segs[len(segs)-1], int64(len(mustRead(t, segs[len(segs)-1]))-1)))
		}, "covers"},
		{"sealed segment longer than covered", func(t *testing.T, d string) {
			seg := segments(t, d)[0]
			writeFile(t, seg, append(mustRead(t, seg), make([]byte, 8)...))
		}, "covers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := snapshotDir(t, dir)
			tc.damage(t, d)
			opts, logs := logged(filestore.Options{SegmentBytes: 4096})
			s, err := filestore.Open(d, opts)
			if tc.name == "sealed segment longer than covered" {
				// Not the checkpoint's business: the full scan finds the zeros inside the log.
				require.ErrorIs(t, err, ledger.ErrCorrupt)
				assert.Contains(t, logs.String(), "index checkpoint ignored")
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			assert.Contains(t, logs.String(), "index checkpoint ignored")
			assert.Contains(t, logs.String(), tc.reason)
			v := viewOf(t, s)
			if tc.name == "segment shorter than covered" {
				assert.Len(t, v.all, len(want)-countLastBatch(want), "the torn last batch is truncated")
			} else if tc.name != "log replaced" {
				assert.Len(t, v.all, len(want))
			}
			requireFullScanAgrees(t, d, v)
		})
	}
}

// countLastBatch gives the size of fill's last batch.
func countLastBatch(all []ledger.Event) int {
	n, i := 0, 0
	for n < len(all) {
		n += 1 + i%3
		i++
	}
	return 1 + (i-1)%3
}

func writeFile(tb testing.TB, name string, b []byte) {
	tb.Helper()
	require.NoError(tb, os.WriteFile(name, b, 0o644))
}

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	require.NoError(tb, err)
	return b
}

// TestStore_CheckpointOnSeal appends across many small segments without closing: sealed
// segments lead to checkpoints written in the background, so that a crash leaves a
// checkpoint near the head. Reopening a copy uses it.
func TestStore_CheckpointOnSeal(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{SegmentBytes: 2048, CheckpointRecords: 1})
	want := fill(t, s, 80)
	require.Greater(t, len(segments(t, dir)), 5)
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(dir, "INDEX"))
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	crashed := snapshotDir(t, dir)
	opts, logs := logged(filestore.Options{SegmentBytes: 2048, CheckpointRecords: 1})
	s2 := open(t, crashed, opts)
	assert.Empty(t, logs.String(), "the checkpoint is used")
	requireLog(t, s2, want)
	requireFullScanAgrees(t, crashed, viewOf(t, s2))
	require.NoError(t, s.Close())

	// With the default, a log this small is not worth a checkpoint before Close.
	dir = t.TempDir()
	s = open(t, dir, filestore.Options{SegmentBytes: 2048})
	fill(t, s, 80)
	require.NoFileExists(t, filepath.Join(dir, "INDEX"))
	require.NoError(t, s.Close())
	require.FileExists(t, filepath.Join(dir, "INDEX"))
}

// TestStore_CheckpointEmptySegment: a crash right after a segment was started leaves it
// empty (header only); a checkpoint written after that covers it, and is used.
func TestStore_CheckpointEmptySegment(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, filestore.Options{})
	want := fill(t, s, 10)
	require.NoError(t, s.Close())
	next := uint64(len(want) + 1)
	hdr := binary.BigEndian.AppendUint64([]byte("TLSEG\x00\x00\x01"), next)
	writeFile(t, filepath.Join(dir, fmt.Sprintf("%020d.seg", next)), hdr)

	s = open(t, dir, filestore.Options{})
	requireLog(t, s, want)
	require.NoError(t, s.Close())
	opts, logs := logged(filestore.Options{})
	s = open(t, dir, opts)
	assert.Empty(t, logs.String(), "the checkpoint is used")
	requireLog(t, s, want)
	want = append(want, fill(t, s, 3)...)
	requireLog(t, s, want)
	requireFullScanAgrees(t, dir, viewOf(t, s))
}

// TestStore_CheckpointEmpty closes a store with nothing in it and reopens it.
func TestStore_CheckpointEmpty(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, open(t, dir, filestore.Options{}).Close())
	opts, logs := logged(filestore.Options{})
	s := open(t, dir, opts)
	assert.Empty(t, logs.String())
	want := fill(t, s, 3)
	requireLog(t, s, want)
}
