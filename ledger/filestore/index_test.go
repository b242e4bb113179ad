package filestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/storetest"
)

// FuzzReadCheckpoint changes bytes of a valid checkpoint and fixes its CRC up, so that the
// changes reach the structure behind it: reading never panics, and an index it accepts
// answers every lookup without panicking (entries are checked as they are used).
func FuzzReadCheckpoint(f *testing.F) {
	dir := f.TempDir()
	s, err := Open(dir, Options{SegmentBytes: 1024})
	require.NoError(f, err)
	for i := range 30 {
		_, err := s.Append(context.Background(), fmt.Sprintf("contract-%d", i%4), ledger.Any, storetest.Ev("A", i))
		require.NoError(f, err)
	}
	require.NoError(f, s.Close())
	valid, err := os.ReadFile(filepath.Join(dir, checkpointName))
	require.NoError(f, err)
	f.Add(uint64(1), uint8(1), uint8(3))
	f.Fuzz(func(t *testing.T, seed uint64, n, width uint8) {
		r := rand.New(rand.NewPCG(seed, 0))
		b := append([]byte(nil), valid[:len(valid)-4]...)
		for range 1 + int(n)%8 {
			at := 8 + r.IntN(len(b)-8) // the magic and version have their own test
			for j := 0; j < 1+int(width)%8 && at+j < len(b); j++ {
				b[at+j] = byte(r.Uint32())
			}
		}
		b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
		d := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(d, checkpointName), b, 0o644))
		x, _, err := readCheckpoint(OSFS{}, d) // must not panic
		if err != nil {
			return
		}
		// What it accepts answers without panicking.
		for p := ledger.Position(1); p <= x.last; p++ {
			_ = x.loc(p)
		}
		for i := range 4 {
			name := fmt.Sprintf("contract-%d", i)
			for v := ledger.Version(1); v <= x.streamLen(name); v++ {
				_, _ = x.streamAt(name, v)
			}
		}
		_, _ = x.ids.get(ledger.NewEventID())
	})
}

// TestCheckpoint_BadLocationIsCorruption writes a checkpoint whose location of one
// position points outside its segment, with a CRC that checks out (as only a bug could
// write): Open accepts it (entries are checked as they are used), and reading that
// position, by the whole log or by its stream, reports corruption at that position
// instead of panicking or answering another record.
func TestCheckpoint_BadLocationIsCorruption(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{SegmentBytes: 1024})
	require.NoError(t, err)
	for i := range 30 {
		_, err := s.Append(ctx, fmt.Sprintf("contract-%d", i%4), ledger.Any, storetest.Ev("A", i))
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	name := filepath.Join(dir, checkpointName)
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	nsegs := int(binary.BigEndian.Uint32(b[len(checkpointMagic)+1+8+32:]))
	const bad = 10 // position 10 is in stream contract-1 (the 3rd of it)
	at := checkpointHeader + nsegs*16 + (bad-1)*locBytes + 8
	binary.BigEndian.PutUint64(b[at:], 1<<40)
	binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	require.NoError(t, os.WriteFile(name, b, 0o644))

	s, err = Open(dir, Options{SegmentBytes: 1024})
	require.NoError(t, err)
	defer s.Close()
	var ce *ledger.CorruptionError
	n := 0
	for rec, err := range s.ReadAll(ctx, 1) {
		if err != nil {
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, ledger.Position(bad), ce.Position)
			break
		}
		n++
		require.Equal(t, ledger.Position(n), rec.Position)
	}
	assert.Equal(t, bad-1, n, "the records before it are read")
	var got []ledger.Version
	for rec, err := range s.ReadStream(ctx, "contract-1", 1) {
		if err != nil {
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, ledger.Position(bad), ce.Position)
			break
		}
		got = append(got, rec.Version)
	}
	assert.Equal(t, []ledger.Version{1, 2}, got)
}
