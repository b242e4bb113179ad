package commands_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/memstore"
	"techledger/ledger/storetest"
)

// indexProbe is what a handler answers to one command: its outcome and the error code.
type indexProbe struct {
	out  commands.Outcome
	code commands.Code
}

// probeCommands are answered after loading an index: repeats (duplicate), a conflicting
// repeat, a new contract, and a use grant overlapping the saved one.
var probeCommands = []string{
	register("2023140101000003", "c-3", "1000.00"),
	register("2023140101000003", "c-3", "999.00"),
	payment("2023140101000005", "P-1", "10.00"),
	register("2023140101000100", "c-100", "5.00"),
	useGrant("2023140101000002", "u-2", "sole", "2024-01-01", "2025-01-01"),
}

func probe(h *commands.Handler) []indexProbe {
	var got []indexProbe
	for _, c := range probeCommands {
		out, err := h.HandleJSON(ctx, []byte(c), registrar)
		got = append(got, indexProbe{out, commands.CodeOf(err)})
	}
	return got
}

// FuzzLoadIndex: the saved command index (commands.idx, read back at start and answered
// from in place) is untrusted input. The fuzzer's bytes are an index without its CRC,
// which the target appends so that mutations reach the entries and grants behind it.
// LoadIndexBytes never panics; an index it refuses leaves the handler answering exactly as
// one that read the log does; an index it accepts is answered from without a panic, and
// the one SaveIndex wrote answers exactly as the log does.
func FuzzLoadIndex(f *testing.F) {
	src := memstore.New()
	h := newHandler(src)
	fillLog(f, h, 0, 8)
	handle(f, h, useGrant("2023140101000001", "u-1", "exclusive", "2023-04-01", "2028-03-31"))
	var saved bytes.Buffer
	_, err := h.SaveIndex(ctx, &saved)
	require.NoError(f, err)
	recs := storetest.Collect(f, src.ReadAll(ctx, 1))
	fresh := func(t testing.TB) *memstore.Store {
		s := memstore.New()
		require.NoError(t, s.AppendRecords(ctx, append([]ledger.Record(nil), recs...)))
		return s
	}
	want := probe(newHandler(fresh(f)))
	valid := saved.Bytes()[:saved.Len()-4]
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add([]byte("TLCMDIDX"))
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.BigEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
		h := newHandler(fresh(t))
		_, err := h.LoadIndexBytes(ctx, b)
		got := probe(h)
		if err != nil || bytes.Equal(body, valid) {
			require.Equal(t, want, got, fmt.Sprintf("index refused (%v) or the saved one", err))
		}
	})
}
