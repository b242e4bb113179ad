package projections

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// FuzzReadSnapshot: ReadSnapshot never panics and refuses damage with ErrSnapshotCorrupt or
// ErrSnapshotVersion; a State it accepts writes a snapshot that reads back and writes the
// same bytes again. The input is a snapshot without its checksum, which the target appends,
// so the fuzzer reaches the tables behind the checksum (docs/reliability.md, fuzzing).
func FuzzReadSnapshot(f *testing.F) {
	log := smallSample(f)
	for _, pos := range []ledger.Position{0, 1, 7, 40} {
		var buf bytes.Buffer
		st := NewState(Options{})
		require.NoError(f, Replay(f.Context(), log, st, pos))
		if pos == 0 {
			st = NewState(Options{HomeProvince: "14"})
		}
		require.NoError(f, st.WriteSnapshot(&buf))
		f.Add(buf.Bytes()[:buf.Len()-4])
	}
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, body []byte) {
		// The bytes as given, checksum and all, must not panic either.
		_, _ = ReadSnapshot(body)
		b := binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
		st, err := ReadSnapshot(b)
		if err != nil {
			require.True(t, errors.Is(err, ErrSnapshotCorrupt) || errors.Is(err, ErrSnapshotVersion), "unnamed damage: %v", err)
			require.Nil(t, st)
			return
		}
		var first, second bytes.Buffer
		require.NoError(t, st.WriteSnapshot(&first))
		back, err := ReadSnapshot(first.Bytes())
		require.NoError(t, err, "a State read from a snapshot writes one it refuses")
		require.NoError(t, back.WriteSnapshot(&second))
		require.Equal(t, first.Bytes(), second.Bytes())
	})
}

// TestReadSnapshot_HugeLengthAllocatesLittle: a damaged snapshot whose first string claims
// 4 GiB is refused without allocating that much (found by FuzzReadSnapshot, which took
// seconds and then the fuzz worker's memory on such inputs).
func TestReadSnapshot_HugeLengthAllocatesLittle(t *testing.T) {
	body := binary.LittleEndian.AppendUint16([]byte(snapshotMagic), SnapshotVersion)
	body = binary.LittleEndian.AppendUint32(body, math.MaxUint32)
	b := binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadSnapshot(b)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, ErrSnapshotCorrupt)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated")
}
