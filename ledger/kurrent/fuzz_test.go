package kurrent

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/storetest"
)

// FuzzDecodeEvent: decodeEvent (an event read from KurrentDB, where any client with write
// access to the stream, or a damaged server, may have put it) never panics; it refuses
// with a *ledger.CorruptionError at the event's revision, or returns a record at the
// position its revision says whose hash covers its content, and which encodes to an event
// that decodes to the same record.
func FuzzDecodeEvent(f *testing.F) {
	for _, r := range storetest.SealedLog(3) {
		ev := encodeEvent(&r)
		f.Add(revisionOf(r.Position), ev.ID[:], ev.Type, ev.Data, ev.Metadata)
		f.Add(revisionOf(r.Position)+1, ev.ID[:], ev.Type, ev.Data, ev.Metadata)
	}
	f.Add(uint64(0), []byte{}, "", []byte{}, []byte(`{"techledger":1,"hash":"00"}`))
	f.Add(uint64(1<<64-1), []byte{1}, "x", []byte(`null`), []byte(`{"techledger":1,"position":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, rev uint64, id []byte, typ string, data, meta []byte) {
		ev := wireEvent{Type: typ, Data: data, Metadata: meta, Revision: rev}
		copy(ev.ID[:], id)
		r, err := decodeEvent(&ev)
		if err != nil {
			var ce *ledger.CorruptionError
			require.True(t, errors.As(err, &ce), "%T: %v", err, err)
			require.Equal(t, positionOf(rev), ce.Position)
			return
		}
		require.Equal(t, positionOf(rev), r.Position)
		require.Equal(t, r.ComputeHash(), r.Hash)
		require.Equal(t, uuid.UUID(ev.ID), r.ID)
		again := encodeEvent(&r)
		again.Revision = rev
		back, err := decodeEvent(&again)
		require.NoError(t, err, "a decoded record encodes to an event refused")
		require.Equal(t, r, back)
	})
}
