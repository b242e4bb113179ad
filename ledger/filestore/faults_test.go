package filestore_test

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/filestore/faultfs"
	"techledger/ledger/storetest"
)

// simDir is the data directory inside the in-memory file system.
const simDir = "/data"

// openFault opens the store of the fault file system's current process.
func openFault(tb testing.TB, fsys *faultfs.FS) *filestore.Store {
	tb.Helper()
	s, err := filestore.Open(simDir, filestore.Options{FS: fsys.Proc(), Logger: slog.New(slog.DiscardHandler), CheckpointRecords: -1})
	require.NoError(tb, err)
	return s
}

func appendOne(tb testing.TB, s ledger.Store, stream string, e ledger.Event) (ledger.AppendResult, error) {
	tb.Helper()
	return s.Append(ctx, stream, ledger.Any, e)
}

// requireHolds checks that the store holds exactly want, in order.
func requireHolds(tb testing.TB, s ledger.Store, want ...ledger.Event) {
	tb.Helper()
	requireLog(tb, s, want)
	_, err := s.(ledger.Verifier).Verify(ctx)
	require.NoError(tb, err)
}

// TestStore_FailedFsyncLeavesNothingForTheNextOpen is the regression test of the first
// bug the simulation found (seed 2). After a failed fsync, Linux keeps the written bytes
// in the page cache while the disk may never get them ("fsyncgate"). The store failed,
// as it should, but a restart of the process (no power cut) read the failed frame back
// from the page cache: a retry of that append answered "duplicate", the next append went
// after it, and a later crash left a hole of zeros in the middle of the log — open
// refused it as corrupt and every acknowledged event after the hole was out of reach. The
// store now cuts the active segment back to what its last successful fsync covered.
func TestStore_FailedFsyncLeavesNothingForTheNextOpen(t *testing.T) {
	fsys := faultfs.New(faultfs.Config{})
	s := openFault(t, fsys)
	a, b, c, d := storetest.Ev("A", 1), storetest.Ev("B", 2), storetest.Ev("C", 3), storetest.Ev("D", 4)
	_, err := appendOne(t, s, "s", a)
	require.NoError(t, err)
	fsys.FailNext(faultfs.FaultSync, 0) // the disk gets none of b
	_, err = appendOne(t, s, "s", b)
	require.ErrorIs(t, err, syscall.EIO)
	_, err = appendOne(t, s, "s", c)
	require.ErrorIs(t, err, syscall.EIO, "the store refuses appends until reopened")
	s.Close()

	s = openFault(t, fsys) // a restart: the page cache is kept
	res, err := appendOne(t, s, "s", b)
	require.NoError(t, err)
	require.False(t, res.Duplicate, "b never reached the disk: the retry must append it")
	_, err = appendOne(t, s, "s", d)
	require.NoError(t, err)
	s.Close()

	fsys.Crash()
	s = openFault(t, fsys)
	defer s.Close()
	requireHolds(t, s, a, b, d)
}

// TestStore_OpenSyncsWhatAKilledProcessWrote is the regression test of the second bug:
// a process killed between its write and its fsync leaves the frame in the page cache.
// The next open read it as part of the log and answered a retry "duplicate" without the
// frame being durable; a power cut then lost an event acknowledged by that answer. Open
// now fsyncs the active segment before it serves anything.
func TestStore_OpenSyncsWhatAKilledProcessWrote(t *testing.T) {
	fsys := faultfs.New(faultfs.Config{})
	s := openFault(t, fsys)
	a, b := storetest.Ev("A", 1), storetest.Ev("B", 2)
	_, err := appendOne(t, s, "s", a)
	require.NoError(t, err)
	fsys.KillAtNextSync()
	_, err = appendOne(t, s, "s", b)
	require.ErrorIs(t, err, faultfs.ErrDead)
	s.Close()

	s = openFault(t, fsys)
	res, err := appendOne(t, s, "s", b)
	require.NoError(t, err)
	require.True(t, res.Duplicate, "b is in the log the new process reads")
	s.Close()

	fsys.Crash()
	s = openFault(t, fsys)
	defer s.Close()
	requireHolds(t, s, a, b)
}

// TestStore_FailedWriteCutsTheShortWrite: a write that fails having written part of a
// frame (a short write, ENOSPC) leaves nothing of it for the next open either.
func TestStore_FailedWriteCutsTheShortWrite(t *testing.T) {
	fsys := faultfs.New(faultfs.Config{})
	s := openFault(t, fsys)
	a, b, c := storetest.Ev("A", 1), storetest.Ev("B", 2), storetest.Ev("C", 3)
	_, err := appendOne(t, s, "s", a)
	require.NoError(t, err)
	fsys.FailNext(faultfs.FaultNoSpace, 20)
	_, err = appendOne(t, s, "s", b)
	require.ErrorIs(t, err, syscall.ENOSPC)
	s.Close()

	s = openFault(t, fsys)
	_, err = appendOne(t, s, "s", c)
	require.NoError(t, err)
	s.Close()
	fsys.Crash()
	s = openFault(t, fsys)
	defer s.Close()
	requireHolds(t, s, a, c)
}

// TestOpen_FlippedFrameLengthIsCorruptionNotATornTail is the regression test of the bug
// the simulation found with seed 73: a bit flipped at rest in the length of the last
// segment's frames made a whole, acknowledged frame look as if it ran past the end of
// the file, which Open took for a torn tail and cut off with every record from there on,
// silently. Open now refuses the log, naming the segment and the frame's offset.
func TestOpen_FlippedFrameLengthIsCorruptionNotATornTail(t *testing.T) {
	for _, frame := range []int{0, 1, 2} { // the flip in the first, a middle, the last frame
		t.Run(fmt.Sprint("frame ", frame), func(t *testing.T) {
			fsys := faultfs.New(faultfs.Config{})
			s := openFault(t, fsys)
			for i := range 3 {
				_, err := appendOne(t, s, "s", storetest.Ev("A", i))
				require.NoError(t, err)
			}
			require.NoError(t, s.Close())
			seg := filepath.Join(simDir, "00000000000000000001.seg")
			b, err := fsys.ReadFile(seg)
			require.NoError(t, err)
			off := int64(16) // the frames, parsed independently: length uint32 | crc uint32 | payload
			for range frame {
				off += 8 + int64(binary.BigEndian.Uint32(b[off:]))
			}
			require.NoError(t, fsys.FlipBit(seg, off+1, 7)) // length + 8 MiB: past the end
			// Without the index checkpoint Close wrote, Open reads the segment (with it,
			// Verify finds the damage: TestSimulation checks both).
			require.NoError(t, fsys.Proc().Remove(filepath.Join(simDir, "INDEX")))
			_, err = filestore.Open(simDir, filestore.Options{FS: fsys.Proc(), Logger: slog.New(slog.DiscardHandler)})
			var ce *ledger.CorruptionError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, fmt.Sprintf("segment 00000000000000000001.seg offset %d", off), ce.Location)
		})
	}
}

// TestOpen_RemovesAnEmptySegmentWhoseBatchesWereLost is the regression test of the bug
// the simulation found with seed 34: a segment is created when the batches decided fill
// the one before, before the syncer has written them there. A crash (or a failed fsync)
// in between left a log whose last segment starts past its end, and Open refused it as
// corrupt although nothing acknowledged was lost. Open now removes such an empty segment.
func TestOpen_RemovesAnEmptySegmentWhoseBatchesWereLost(t *testing.T) {
	fsys := faultfs.New(faultfs.Config{})
	s := openFault(t, fsys)
	a, b, c := storetest.Ev("A", 1), storetest.Ev("B", 2), storetest.Ev("C", 3)
	for _, e := range []ledger.Event{a, b} {
		_, err := appendOne(t, s, "s", e)
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	// What a roll for positions 3..8 left: the segment of position 9, header only.
	p := fsys.Proc()
	require.NoError(t, p.Remove(filepath.Join(simDir, "INDEX")))
	f, err := p.OpenFile(filepath.Join(simDir, "00000000000000000009.seg"), os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.Write(append([]byte("TLSEG\x00\x00\x01"), 0, 0, 0, 0, 0, 0, 0, 9))
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, p.SyncDir(simDir))
	fsys.Crash()

	s = openFault(t, fsys)
	res, err := appendOne(t, s, "s", c)
	require.NoError(t, err)
	require.Equal(t, []ledger.Position{3}, res.Positions)
	require.NoError(t, s.Close())
	require.NotContains(t, fsys.List(simDir), "00000000000000000009.seg")
	fsys.Crash()
	s = openFault(t, fsys)
	defer s.Close()
	requireHolds(t, s, a, b, c)
}

// TestStore_CloseCutsWhatAFailedFsyncLeft: when cutting the segment back after a failed
// fsync fails too, Close tries again; if that fails, Close says so (ErrUncutTail).
func TestStore_CloseCutsWhatAFailedFsyncLeft(t *testing.T) {
	for _, closeCuts := range []bool{true, false} {
		t.Run(fmt.Sprint("close cuts ", closeCuts), func(t *testing.T) {
			fsys := faultfs.New(faultfs.Config{})
			s := openFault(t, fsys)
			a, b := storetest.Ev("A", 1), storetest.Ev("B", 2)
			_, err := appendOne(t, s, "s", a)
			require.NoError(t, err)
			fsys.FailNext(faultfs.FaultSync, 0)
			fsys.FailNext(faultfs.FaultTruncate, 0)
			_, err = appendOne(t, s, "s", b)
			require.ErrorIs(t, err, syscall.EIO)
			if !closeCuts {
				fsys.FailNext(faultfs.FaultTruncate, 0)
				require.ErrorIs(t, s.Close(), filestore.ErrUncutTail)
				return
			}
			require.NoError(t, s.Close())
			s = openFault(t, fsys) // a restart, page cache kept
			res, err := appendOne(t, s, "s", b)
			require.NoError(t, err)
			require.False(t, res.Duplicate)
			require.NoError(t, s.Close())
			fsys.Crash()
			s = openFault(t, fsys)
			defer s.Close()
			requireHolds(t, s, a, b)
		})
	}
}

// TestStore_ResumesAppendsWhenSpaceIsFreed: on a full disk an append fails with
// ledger.ErrStorageFull, having left nothing of itself in the log; reads go on; once
// space is freed, appends resume without a reopen, and the failed one can be sent again.
func TestStore_ResumesAppendsWhenSpaceIsFreed(t *testing.T) {
	fsys := faultfs.New(faultfs.Config{})
	s, err := filestore.Open(simDir, filestore.Options{FS: fsys.Proc(), Logger: slog.New(slog.DiscardHandler), NoSpaceRetry: time.Nanosecond})
	require.NoError(t, err)
	a, b, c := storetest.Ev("A", 1), storetest.Ev("B", 2), storetest.Ev("C", 3)
	_, err = appendOne(t, s, "s", a)
	require.NoError(t, err)
	fsys.SetCapacity(fsys.Used() + 40) // b's frame is larger: a short write, then ENOSPC
	_, err = appendOne(t, s, "s", b)
	require.ErrorIs(t, err, ledger.ErrStorageFull)
	require.ErrorIs(t, err, syscall.ENOSPC)
	_, err = appendOne(t, s, "s", b)
	require.ErrorIs(t, err, ledger.ErrStorageFull, "still full")
	requireLog(t, s, []ledger.Event{a}) // reads go on

	fsys.SetCapacity(0)
	res, err := appendOne(t, s, "s", b)
	require.NoError(t, err)
	require.Equal(t, []ledger.Position{2}, res.Positions, "nothing of the failed attempts is in the log")
	_, err = appendOne(t, s, "s", c)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	fsys.Crash()
	s = openFault(t, fsys)
	defer s.Close()
	requireHolds(t, s, a, b, c)
}

// TestStore_FailedFsyncIsNotResumed: ENOSPC from an fsync (a file system with delayed
// allocation) is not resumed from, as a full disk found by a write is: after a failed
// fsync the store refuses appends until reopened.
func TestStore_FailedFsyncIsNotResumed(t *testing.T) {
	fsys := faultfs.New(faultfs.Config{})
	s, err := filestore.Open(simDir, filestore.Options{FS: fsys.Proc(), Logger: slog.New(slog.DiscardHandler), NoSpaceRetry: time.Nanosecond})
	require.NoError(t, err)
	defer s.Close()
	fsys.FailNext(faultfs.FaultSyncFull, 0)
	_, err = appendOne(t, s, "s", storetest.Ev("A", 1))
	require.ErrorIs(t, err, syscall.ENOSPC)
	_, err = appendOne(t, s, "s", storetest.Ev("B", 2))
	require.ErrorContains(t, err, "read-only until reopened")
	require.NotErrorIs(t, err, ledger.ErrStorageFull)
}

// TestOpen_ChecksTheHeaderOfAnEmptyActiveSegment: an empty last segment that starts
// where the log ends is where appends go on, so Open checks its header (found with seed
// 100 of the simulation: Open took a segment with a flipped magic as the active one).
func TestOpen_ChecksTheHeaderOfAnEmptyActiveSegment(t *testing.T) {
	fsys := faultfs.New(faultfs.Config{})
	s := openFault(t, fsys)
	for i := range 2 {
		_, err := appendOne(t, s, "s", storetest.Ev("A", i))
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	p := fsys.Proc()
	require.NoError(t, p.Remove(filepath.Join(simDir, "INDEX")))
	f, err := p.OpenFile(filepath.Join(simDir, "00000000000000000003.seg"), os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.Write(append([]byte("TLSEG\x00\x04\x01"), 0, 0, 0, 0, 0, 0, 0, 3)) // one bit off the magic
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, p.SyncDir(simDir))

	_, err = filestore.Open(simDir, filestore.Options{FS: fsys.Proc(), Logger: slog.New(slog.DiscardHandler)})
	var ce *ledger.CorruptionError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "segment 00000000000000000003.seg offset 0", ce.Location)
}

// TestOpen_SyncsTheDirectory is the regression test of the bug the simulation found with
// seed 1267: the directory fsync that makes a new segment's name durable failed, so Open
// failed; the next Open found the segment (its name in the page cache) and acknowledged
// appends into it, and a power cut then left the file under its temporary name, which
// Open removes as unfinished: every acknowledged event was lost. Open now fsyncs the
// directory before it serves anything.
func TestOpen_SyncsTheDirectory(t *testing.T) {
	fsys := faultfs.New(faultfs.Config{})
	fsys.FailNext(faultfs.FaultSyncDir, 0)
	_, err := filestore.Open(simDir, filestore.Options{FS: fsys.Proc(), Logger: slog.New(slog.DiscardHandler)})
	require.ErrorIs(t, err, syscall.EIO)
	s := openFault(t, fsys)
	a := storetest.Ev("A", 1)
	_, err = appendOne(t, s, "s", a)
	require.NoError(t, err)
	fsys.Crash()
	s.Close()
	s = openFault(t, fsys)
	defer s.Close()
	requireHolds(t, s, a)
}
