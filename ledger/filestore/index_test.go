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

	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/storetest"
)

// FuzzReadCheckpoint changes bytes of a valid checkpoint and fixes its CRC up, so that the
// changes reach the structure checks behind it: reading never panics, and what it accepts
// keeps the index's invariants (every location inside its segment, stream positions
// increasing, event IDs sorted), which readCheckpoint checks itself, and answers.
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
