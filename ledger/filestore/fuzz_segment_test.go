package filestore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/filestore/faultfs"
	"techledger/ledger/storetest"
)

// Modes of FuzzOpenSegment, bits of its mode argument.
const (
	// segFuzzFixCRCs recomputes the CRC of every whole frame of the fuzzed segment, so that
	// changes reach the records behind it: their decoding, positions, versions and links.
	segFuzzFixCRCs = 1 << iota
	// segFuzzKeepCheckpoint keeps the index checkpoint Close wrote for the valid log, so
	// that Open may trust it for the records it covers (when the segment sizes still match).
	segFuzzKeepCheckpoint
)

const segFuzzDir = "/data"

// segFuzzLog is a small valid log, built the same way in every fuzz worker so that an
// input means the same thing in all of them: its files and its records' encodings.
type segFuzzLog struct {
	names []string          // segment file names, in log order
	files map[string][]byte // every file of the data directory but LOCK
	recs  [][]byte          // recs[p-1]: the encoding of the record at position p
	first []ledger.Position // first position of each segment
}

// FuzzOpenSegment replaces one segment file of a valid log of a few segments (which one:
// which) by the fuzzer's bytes, seeded with that segment's own bytes, and opens the store.
// With mode&segFuzzFixCRCs the CRC of every whole frame is recomputed first, so that the
// changes reach record decoding and the hash chain behind the CRC; without
// mode&segFuzzKeepCheckpoint the index checkpoint is removed, so that Open reads every
// segment. It asserts, besides never panicking:
//
//   - Open succeeds or fails with a *ledger.CorruptionError (the in-memory file system
//     injects no faults, so no other error is legitimate).
//   - Open may cut a torn tail (an incomplete frame or zero bytes at the end of the last
//     segment holding frames, never acknowledged by the store that wrote it), so the log
//     may end early, but only inside the fuzzed segment, and only if it is the last one:
//     every record of the segments before it is still there, and if it is not the last,
//     no record is lost at all. (A whole frame whose length and payload are both
//     damaged, so that it seems to run past the end of the segment, cannot be told from
//     a torn write: it is cut, with the frames after it. A damaged length alone is
//     refused: endsBefore finds the frame's real end by its CRC.)
//   - Without the checkpoint, every record Open indexed reads back: ReadAll from 1 gives
//     the positions 1..head in order, without an error, and ReadStream gives each
//     stream's records of them, with versions 1, 2, ...
//   - No fabricated data passes: if any record read differs from the record the valid log
//     had at that position (or lies past its end), or reading fails, Verify reports a
//     *ledger.CorruptionError. Without the checkpoint and without fixed-up CRCs, Open
//     alone refuses such a log (a changed frame fails its CRC): whatever it accepts is
//     a prefix of the valid log, and Verify passes.
//   - When Verify passes, the records read are exactly the valid log's first head ones,
//     and their hash chain checks out (PrevHash links, Hash is the content's).
//   - Closing and opening again gives the same head and the same records.
//
// Open checks each record's position, stream version and link (PrevHash), not its hash,
// and with the checkpoint kept it trusts the checkpoint for the records it covers (see the
// package doc): a record changed behind a fixed-up CRC that keeps its links, or damage
// the checkpoint covers, is found by Verify, not Open, which is what this target checks.
func FuzzOpenSegment(f *testing.F) {
	lg := buildSegFuzzLog(f)
	for i, name := range lg.names {
		seg := lg.files[name]
		for mode := range uint8(4) {
			f.Add(uint8(i), mode, seg)
		}
	}
	last := uint8(len(lg.names) - 1)
	tail := lg.files[lg.names[last]]
	f.Add(last, uint8(0), tail[:len(tail)-7])                              // a torn frame
	f.Add(last, uint8(0), append(bytes.Clone(tail), make([]byte, 100)...)) // a zero tail
	f.Add(last, uint8(segFuzzFixCRCs), tail[:segHeaderBytes+3])            // a torn frame header
	flipped := bytes.Clone(tail)
	flipped[segHeaderBytes+2] ^= 0x10 // the first frame's length, now past the end: endsBefore finds it whole
	f.Add(last, uint8(0), flipped)
	f.Add(uint8(0), uint8(0), []byte{})
	// A byte of the data of the first record of the second segment: refused by its CRC;
	// with the CRC fixed up, accepted by Open and found by Verify (the hash).
	changed := bytes.Clone(lg.files[lg.names[1]])
	changed[segHeaderBytes+8+recordPrefixBytes+90] ^= 1
	f.Add(uint8(1), uint8(0), changed)
	f.Add(uint8(1), uint8(segFuzzFixCRCs), changed)

	f.Fuzz(func(t *testing.T, which, mode uint8, data []byte) {
		k := int(which) % len(lg.names)
		if mode&segFuzzFixCRCs != 0 {
			data = fixFrameCRCs(data)
		}
		fsys := faultfs.New(faultfs.Config{})
		for name, b := range lg.files {
			if name == lg.names[k] {
				b = data
			} else if name == "INDEX" && mode&segFuzzKeepCheckpoint == 0 {
				continue
			}
			writeFaultFile(t, fsys, name, b)
		}
		opts := filestore.Options{FS: fsys.Proc(), Logger: slog.New(slog.DiscardHandler), CheckpointRecords: -1}
		s, err := filestore.Open(segFuzzDir, opts)
		var ce *ledger.CorruptionError
		if err != nil {
			require.ErrorAs(t, err, &ce, "Open refuses a damaged log only as corruption")
			return
		}
		ctx := context.Background()
		head, err := s.Head(ctx)
		require.NoError(t, err)
		recs, readErr := readAllRecords(s)
		if readErr != nil {
			require.ErrorAs(t, readErr, &ce, "ReadAll fails only as corruption")
		}

		require.GreaterOrEqual(t, head, lg.first[k]-1, "no record of the segments before the fuzzed one is lost")
		if k < len(lg.names)-1 {
			require.GreaterOrEqual(t, int(head), len(lg.recs), "only the last segment may lose a torn tail")
		}
		checkpoint := mode&segFuzzKeepCheckpoint != 0
		if !checkpoint {
			require.NoError(t, readErr, "every record Open indexed reads back")
			require.Len(t, recs, int(head))
			checkReadStream(t, s, recs)
		}
		for i, rec := range recs {
			require.Equal(t, ledger.Position(i+1), rec.Position, "ReadAll gives consecutive positions")
		}

		valid := readErr == nil && len(recs) == int(head) && int(head) <= len(lg.recs)
		for i := 0; valid && i < len(recs); i++ {
			valid = bytes.Equal(recs[i].AppendBinary(nil), lg.recs[i])
		}
		if !checkpoint && mode&segFuzzFixCRCs == 0 {
			require.True(t, valid, "Open accepts nothing but a prefix of the valid log when every frame has its CRC")
		}
		rep, verr := s.Verify(ctx)
		if !valid {
			require.ErrorAs(t, verr, &ce, "records that are not the valid log's must not pass Verify")
		} else if !checkpoint && mode&segFuzzFixCRCs == 0 {
			require.NoError(t, verr)
		}
		if verr == nil {
			require.True(t, valid, "Verify passes only the valid log's records")
			require.Equal(t, head, rep.Head)
			var prev ledger.Hash
			for _, rec := range recs {
				require.Equal(t, prev, rec.PrevHash)
				require.Equal(t, rec.ComputeHash(), rec.Hash)
				prev = rec.Hash
			}
		}
		require.NoError(t, s.Close())

		s, err = filestore.Open(segFuzzDir, opts)
		require.NoError(t, err, "a log Open accepted opens again after Close")
		defer s.Close()
		head2, err := s.Head(ctx)
		require.NoError(t, err)
		require.Equal(t, head, head2, "the head survives a close and an open")
		recs2, readErr2 := readAllRecords(s)
		require.Equal(t, readErr == nil, readErr2 == nil)
		require.Len(t, recs2, len(recs))
		for i := range recs {
			require.Equal(t, recs[i].AppendBinary(nil), recs2[i].AppendBinary(nil), "position %d reads the same after reopening", i+1)
		}
	})
}

// The segment layout (segment.go).
const (
	segHeaderBytes    = filestore.HeaderBytes
	recordPrefixBytes = filestore.RecordPrefix
)

// fixFrameCRCs returns a copy of a segment whose frames, walked by their lengths from
// the end of the header, have the CRC of their payload; the walk stops at the first frame
// that is empty or runs past the end.
func fixFrameCRCs(seg []byte) []byte {
	b := bytes.Clone(seg)
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	for off := segHeaderBytes; off+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n == 0 || n > len(b)-off-8 {
			break
		}
		binary.BigEndian.PutUint32(b[off+4:], crc32.Checksum(b[off+8:off+8+n], castagnoli))
		off += 8 + n
	}
	return b
}

// buildSegFuzzLog appends 14 batches of 1 to 3 events over 3 streams, with fixed event IDs
// and times, to a store of small segments, closes it, and returns its files and records.
func buildSegFuzzLog(tb testing.TB) segFuzzLog {
	tb.Helper()
	fsys := faultfs.New(faultfs.Config{})
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	opts := filestore.Options{
		FS: fsys.Proc(), SegmentBytes: 700, CheckpointRecords: -1,
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { at = at.Add(time.Second); return at },
	}
	s, err := filestore.Open(segFuzzDir, opts)
	require.NoError(tb, err)
	ctx := context.Background()
	n := 0
	for b := range 14 {
		evs := make([]ledger.Event, 1+b%3)
		for i := range evs {
			n++
			var id uuid.UUID
			binary.BigEndian.PutUint64(id[8:], uint64(n))
			id[6], id[8] = 0x70, 0x80 // version 7, RFC 4122 variant
			evs[i] = ledger.Event{
				ID: id, Type: "ContractRegistered", SchemaVersion: 1,
				Data:     fmt.Appendf(nil, `{"n":%d,"note":"技术合同 %d"}`, n, n),
				Metadata: ledger.Metadata{Actor: "registrar-1", Role: "registrar", CommandID: fmt.Sprintf("cmd-%d", n)},
			}
		}
		_, err := s.Append(ctx, fmt.Sprintf("contract-%d", b%3), ledger.Any, evs...)
		require.NoError(tb, err)
	}
	var lg segFuzzLog
	recs, err := readAllRecords(s)
	require.NoError(tb, err)
	for _, rec := range recs {
		lg.recs = append(lg.recs, rec.AppendBinary(nil))
	}
	require.NoError(tb, s.Close())

	lg.files = map[string][]byte{}
	for _, name := range fsys.List(segFuzzDir) {
		if name == "LOCK" {
			continue
		}
		b, err := fsys.ReadFile(filepath.Join(segFuzzDir, name))
		require.NoError(tb, err)
		lg.files[name] = b
		if filepath.Ext(name) == ".seg" {
			lg.names = append(lg.names, name)
			lg.first = append(lg.first, ledger.Position(binary.BigEndian.Uint64(b[8:])))
		}
	}
	require.Contains(tb, lg.files, "INDEX")
	require.GreaterOrEqual(tb, len(lg.names), 3, "a log of a few segments")
	require.Greater(tb, len(lg.files[lg.names[len(lg.names)-1]]), segHeaderBytes, "the last segment holds frames")
	return lg
}

// writeFaultFile writes a durable file of the data directory.
func writeFaultFile(tb testing.TB, fsys *faultfs.FS, name string, b []byte) {
	tb.Helper()
	p := fsys.Proc()
	require.NoError(tb, p.MkdirAll(segFuzzDir, 0o755))
	f, err := p.OpenFile(filepath.Join(segFuzzDir, name), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	require.NoError(tb, err)
	_, err = f.Write(b)
	require.NoError(tb, err)
	require.NoError(tb, f.Sync())
	require.NoError(tb, f.Close())
	require.NoError(tb, p.SyncDir(segFuzzDir))
}

// readAllRecords reads the log from position 1 until its head or the first error.
func readAllRecords(s *filestore.Store) ([]ledger.Record, error) {
	var recs []ledger.Record
	for rec, err := range s.ReadAll(context.Background(), 1) {
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// checkReadStream checks that ReadStream gives each stream's records of recs (the whole
// log), in order, with versions 1, 2, ...
func checkReadStream(tb testing.TB, s *filestore.Store, recs []ledger.Record) {
	tb.Helper()
	byStream := map[string][]ledger.Record{}
	for _, rec := range recs {
		byStream[rec.Stream] = append(byStream[rec.Stream], rec)
	}
	for stream, want := range byStream {
		got := storetest.Collect(tb, s.ReadStream(context.Background(), stream, 1))
		require.Len(tb, got, len(want), "stream %q", stream)
		for i := range want {
			require.Equal(tb, ledger.Version(i+1), got[i].Version)
			require.Equal(tb, want[i].AppendBinary(nil), got[i].AppendBinary(nil))
		}
	}
}
