package transparency_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/jetstream"
	"techledger/ledger/memstore"
	"techledger/transparency"
)

// TestLog_FollowsAndSigns: a Log over a memstore catches up with the existing records,
// follows new ones through Run, signs checkpoints that verify with the verifier key, and
// proves inclusion and consistency against signed sizes only.
func TestLog_FollowsAndSigns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := memstore.New()
	fill(t, s, 3, 4)
	l := openLog(t, s, t.TempDir())
	require.Equal(t, int64(12), l.Size())
	_, _, err := l.Latest()
	require.ErrorIs(t, err, transparency.ErrNoCheckpoint)

	cp1, err := l.SignNow()
	require.NoError(t, err)
	require.Equal(t, int64(12), cp1.Size)
	_, msg1, err := l.Latest()
	require.NoError(t, err)
	got, err := transparency.OpenCheckpoint(msg1, testVKey)
	require.NoError(t, err)
	require.Equal(t, cp1, got)

	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	fill(t, memstoreTail{s, 3}, 2, 2)
	waitSize(t, l, 16)
	require.Eventually(t, func() bool { cp, _, _ := l.Latest(); return cp.Size == 16 }, 5e9, 1e6)
	cp2, msg2, err := l.Latest()
	require.NoError(t, err)

	// Inclusion at the signed sizes only.
	_, _, err = l.InclusionProof(1, 13)
	require.ErrorIs(t, err, transparency.ErrNotSigned)
	_, _, err = l.InclusionProof(13, 12)
	require.ErrorIs(t, err, transparency.ErrOutOfRange)
	recs := records(t, s)
	for _, size := range []int64{12, 16} {
		cp := cp1
		if size == 16 {
			cp = cp2
		}
		for _, r := range recs[:size] {
			leaf, p, err := l.InclusionProof(r.Position, size)
			require.NoError(t, err)
			require.Equal(t, transparency.LeafHash(r.Hash), leaf)
			require.NoError(t, tlog.CheckRecord(p, size, cp.Root, int64(r.Position)-1, leaf))
		}
	}
	p, err := l.ConsistencyProof(12, 16)
	require.NoError(t, err)
	c, err := transparency.CheckConsistency(testVKey, msg1, msg2, p)
	require.NoError(t, err)
	require.Equal(t, transparency.Consistent, c.Outcome, c.Reason)
	at, err := l.CheckpointAt(12)
	require.NoError(t, err)
	require.Equal(t, msg1, at)
	_, err = l.CheckpointAt(13)
	require.ErrorIs(t, err, transparency.ErrNotSigned)
	cancel()
	require.NoError(t, <-done)
}

// TestLog_RunFromEmpty: a Log started over an empty store signs its first checkpoint once
// the first records arrive.
func TestLog_RunFromEmpty(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := memstore.New()
	l := openLog(t, s, t.TempDir())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	time.Sleep(30 * time.Millisecond) // a few ticks with nothing to sign
	fill(t, s, 2, 1)
	require.Eventually(t, func() bool { cp, _, _ := l.Latest(); return cp.Size == 2 }, 5*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

// memstoreTail appends to a store's contracts after the first skip contracts' fill: a
// helper so fill can add new contracts to a log that already holds some.
type memstoreTail struct {
	*memstore.Store
	skip int
}

func (m memstoreTail) Append(ctx context.Context, stream string, _ ledger.Expected, events ...ledger.Event) (ledger.AppendResult, error) {
	return m.Store.Append(ctx, stream+"-more", ledger.Any, events...)
}

// TestLog_Restart: a reopened Log keeps its stored hashes and checkpoints, rebuilds a
// missing or damaged hash file from the log, and catches up with records appended while
// it was closed.
func TestLog_Restart(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	fill(t, s, 4, 5)
	l := openLog(t, s, dir)
	cp, err := l.SignNow()
	require.NoError(t, err)
	require.NoError(t, l.Close())

	fill(t, memstoreTail{s, 0}, 2, 3)
	l2 := openLog(t, s, dir)
	require.Equal(t, int64(26), l2.Size())
	got, _, err := l2.Latest()
	require.NoError(t, err)
	require.Equal(t, cp, got)
	root26, err := l2.Tree().Root(26)
	require.NoError(t, err)
	require.NoError(t, l2.Close())

	// Missing hash file: rebuilt.
	require.NoError(t, os.Remove(filepath.Join(dir, transparency.TreeFile)))
	l3 := openLog(t, s, dir)
	r, err := l3.Tree().Root(26)
	require.NoError(t, err)
	require.Equal(t, root26, r)
	require.NoError(t, l3.Close())

	// Damaged hash file (one stored node hash changed): noticed at the checkpoint's root,
	// rebuilt from the log, and the root checks out.
	path := filepath.Join(dir, transparency.TreeFile)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[32+5*32+3] ^= 0xff
	require.NoError(t, os.WriteFile(path, b, 0o644))
	l4 := openLog(t, s, dir)
	r, err = l4.Tree().Root(26)
	require.NoError(t, err)
	require.Equal(t, root26, r)
}

// TestLog_RefusesRewrittenLog: a log rewritten and re-chained after a checkpoint was
// signed does not give the signed root; Open refuses with both roots in the error. A log
// shorter than the last checkpoint is refused as a rollback.
func TestLog_RefusesRewrittenLog(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	fill(t, s, 3, 3)
	l := openLog(t, s, dir)
	cp, err := l.SignNow()
	require.NoError(t, err)
	require.NoError(t, l.Close())

	recs := records(t, s)
	recs[4].Data = []byte(`{"contract_id":"x","n":999}`)
	_, err = transparency.Open(context.Background(), rechained(t, recs), options(t, dir, testSKey))
	var mm *transparency.RootMismatchError
	require.ErrorAs(t, err, &mm)
	require.Equal(t, cp.Root, mm.Signed)
	require.NotEqual(t, cp.Root, mm.Log)
	require.Contains(t, err.Error(), cp.Root.String())
	require.Contains(t, err.Error(), mm.Log.String())

	_, err = transparency.Open(context.Background(), rechained(t, records(t, s)[:7]), options(t, dir, testSKey))
	require.ErrorAs(t, err, &mm)
	require.Contains(t, err.Error(), "rolled back")

	// The untouched log still opens.
	openLog(t, s, dir)
}

// TestLog_Filestore: the Log follows the filestore exactly as it follows the memstore,
// and survives a restart of both.
func TestLog_Filestore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	fs, err := filestore.Open(filepath.Join(dir, "data"), filestore.Options{})
	require.NoError(t, err)
	fill(t, fs, 5, 3)
	l, err := transparency.Open(ctx, fs, options(t, filepath.Join(dir, "tlog"), testSKey))
	require.NoError(t, err)
	go l.Run(ctx)
	fill(t, memstoreTailFS{fs}, 5, 2)
	waitSize(t, l, 25)
	require.Eventually(t, func() bool { cp, _, _ := l.Latest(); return cp.Size == 25 }, 5e9, 1e6)
	cancel()
	b, err := l.Bundle(context.Background(), contractID(2))
	require.NoError(t, err)
	rep, err := transparency.Audit(b, testVKey)
	require.NoError(t, err)
	require.Equal(t, 3, rep.Events)
	require.NoError(t, l.Close())
	require.NoError(t, fs.Close())

	fs, err = filestore.Open(filepath.Join(dir, "data"), filestore.Options{})
	require.NoError(t, err)
	defer fs.Close()
	l, err = transparency.Open(context.Background(), fs, options(t, filepath.Join(dir, "tlog"), testSKey))
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, int64(25), l.Size())
}

type memstoreTailFS struct{ *filestore.Store }

func (m memstoreTailFS) Append(ctx context.Context, stream string, _ ledger.Expected, events ...ledger.Event) (ledger.AppendResult, error) {
	return m.Store.Append(ctx, stream+"-more", ledger.Any, events...)
}

// TestLog_WrongKey: a checkpoints file signed by one key cannot be opened with another.
func TestLog_WrongKey(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	fill(t, s, 1, 2)
	l := openLog(t, s, dir)
	_, err := l.SignNow()
	require.NoError(t, err)
	require.NoError(t, l.Close())
	other, _ := mustKey(testOrigin)
	_, err = transparency.Open(context.Background(), s, options(t, dir, other))
	require.Error(t, err)
	require.Contains(t, err.Error(), "not signed by the trusted key")
}

// TestTile_ServesProvableTiles: a client that knows only a signed checkpoint reads the
// log's tiles through tlog.TileHashReader (which checks every tile against the root) and
// computes inclusion proofs that verify; entry bundles hold the records' chain hashes.
func TestTile_ServesProvableTiles(t *testing.T) {
	s := memstore.New()
	fill(t, s, 100, 7) // 700 records: full and partial tiles, two levels
	l := openLog(t, s, t.TempDir())
	cp, err := l.SignNow()
	require.NoError(t, err)
	tr := tileClient{l}
	hr := tlog.TileHashReader(tlog.Tree{N: cp.Size, Hash: cp.Root}, tr)
	recs := records(t, s)
	for _, i := range []int64{0, 255, 256, 511, 600, 699} {
		p, err := tlog.ProveRecord(cp.Size, i, hr)
		require.NoError(t, err)
		require.NoError(t, tlog.CheckRecord(p, cp.Size, cp.Root, i, transparency.LeafHash(recs[i].Hash)))
	}
	e, err := l.Tile(context.Background(), "tile/entries/001")
	require.NoError(t, err)
	require.Len(t, e, 256*34)
	require.Equal(t, recs[256].Hash[:], e[2:34])
	e, err = l.Tile(context.Background(), "tile/entries/002.p/188")
	require.NoError(t, err)
	require.Len(t, e, 188*34)
	_, err = l.Tile(context.Background(), "tile/entries/002")
	require.ErrorIs(t, err, transparency.ErrOutOfRange)
	_, err = l.Tile(context.Background(), "tile/0/003")
	require.ErrorIs(t, err, transparency.ErrOutOfRange)
	_, err = l.Tile(context.Background(), "tile/../../etc/passwd")
	require.ErrorIs(t, err, transparency.ErrOutOfRange)
}

type tileClient struct{ l *transparency.Log }

func (tileClient) Height() int { return 8 }
func (c tileClient) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := c.l.Tile(context.Background(), transparency.TilePath(t))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
func (tileClient) SaveTiles([]tlog.Tile, [][]byte) {}

type memstoreTailJS struct{ *jetstream.Store }

func (m memstoreTailJS) Append(ctx context.Context, stream string, _ ledger.Expected, events ...ledger.Event) (ledger.AppendResult, error) {
	return m.Store.Append(ctx, stream+"-more", ledger.Any, events...)
}

// rawSource is a sliceSource that also hands out records' binary encodings, as the
// filestore does (transparency.RawScanner).
type rawSource struct{ *sliceSource }

func (s rawSource) ScanRaw(ctx context.Context, from ledger.Position, fn func(ledger.Position, []byte) error) error {
	var buf []byte
	for _, r := range s.recs[min(int(max(from, 1))-1, len(s.recs)):] {
		buf = r.AppendBinary(buf[:0])
		if err := fn(r.Position, buf); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ transparency.RawScanner = rawSource{}
	_ transparency.RawScanner = (*filestore.Store)(nil) // a rebuild over the filestore decodes in place
)

// TestLog_RebuildChecksTheLog opens a Log with no hash file over a log of 150,000 records
// (three batches of the rebuild), read through ReadAll and through ScanRaw: a sound log
// gives the naive recursion's root; a broken chain link or a position out of order is
// refused with a *ledger.CorruptionError naming the position.
func TestLog_RebuildChecksTheLog(t *testing.T) {
	const n = 150_000
	recs := make([]ledger.Record, n)
	nv := &naive{memo: map[[2]int]tlog.Hash{}}
	var prev ledger.Hash
	for i := range recs {
		r := ledger.Record{Position: ledger.Position(i + 1), Stream: "contract-1", Version: ledger.Version(i + 1),
			Type: ledger.TypePaymentRecorded, SchemaVersion: 1, RecordedAt: time.Unix(int64(i), 0).UTC(), Data: []byte(`{}`)}
		r.Seal(prev)
		prev = r.Hash
		recs[i] = r
		nv.leaves = append(nv.leaves, r.Hash[:])
	}
	brokenLink := slices.Clone(recs)
	brokenLink[99_999].PrevHash[0] ^= 1
	outOfOrder := slices.Clone(recs)
	outOfOrder[69_999], outOfOrder[70_000] = outOfOrder[70_000], outOfOrder[69_999]
	cases := []struct {
		name    string
		recs    []ledger.Record
		badPos  ledger.Position
		comment string
	}{
		{"sound", recs, 0, ""},
		{"broken link", brokenLink, 100_000, "previous hash"},
		{"out of order", outOfOrder, 70_001, "expected position 70000"},
	}
	for _, c := range cases {
		for _, raw := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/raw=%v", c.name, raw), func(t *testing.T) {
				var src transparency.Source = &sliceSource{recs: c.recs}
				if raw {
					src = rawSource{&sliceSource{recs: c.recs}}
				}
				l, err := transparency.Open(context.Background(), src, transparency.Options{Dir: t.TempDir(), Logger: quiet})
				if c.badPos == 0 {
					require.NoError(t, err)
					defer l.Close()
					require.Equal(t, int64(n), l.Size())
					root, err := l.Tree().Root(n)
					require.NoError(t, err)
					require.Equal(t, nv.mth(0, n), root)
					return
				}
				var ce *ledger.CorruptionError
				require.ErrorAs(t, err, &ce)
				require.Equal(t, c.badPos, ce.Position)
				require.Contains(t, ce.Reason, c.comment)
			})
		}
	}
}
