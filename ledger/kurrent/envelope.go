package kurrent

import (
	"encoding/json"
	"fmt"
	"time"

	"techledger/ledger"
)

// The mapping between the ledger's positions and KurrentDB revisions: the whole log is one
// KurrentDB stream whose revisions count from 0 without gaps, so position p is revision p-1.

// revisionOf returns the revision of position p (p >= 1).
func revisionOf(p ledger.Position) uint64 {
	if p == 0 {
		panic("kurrent: position 0 has no revision")
	}
	return uint64(p) - 1
}

// positionOf returns the position of revision r.
func positionOf(r uint64) ledger.Position { return ledger.Position(r + 1) }

// expectedLast returns the revision an append on a log whose head is head expects.
func expectedLast(head ledger.Position) int64 { return int64(head) - 1 }

// envelopeFormat tags the envelope's layout.
const envelopeFormat = 1

// envelope is the KurrentDB event metadata carrying a record's fields other than its ID,
// type and data (which are the event's own): JSON, so that KurrentDB's UI and tools show it.
type envelope struct {
	Format        int             `json:"techledger"`
	Stream        string          `json:"stream"`
	Version       ledger.Version  `json:"version"`
	Position      ledger.Position `json:"position"`
	SchemaVersion uint16          `json:"schema_version"`
	RecordedAtNs  int64           `json:"recorded_at_ns"`
	Metadata      ledger.Metadata `json:"metadata"`
	PrevHash      ledger.Hash     `json:"prev_hash"`
	Hash          ledger.Hash     `json:"hash"`
}

// encodeEvent returns the KurrentDB event holding r.
func encodeEvent(r *ledger.Record) wireEvent {
	meta, err := json.Marshal(envelope{
		Format: envelopeFormat, Stream: r.Stream, Version: r.Version, Position: r.Position,
		SchemaVersion: r.SchemaVersion, RecordedAtNs: r.RecordedAt.UnixNano(), Metadata: r.Metadata,
		PrevHash: r.PrevHash, Hash: r.Hash,
	})
	if err != nil {
		panic(fmt.Sprintf("kurrent: encode envelope: %v", err)) // plain strings and numbers
	}
	return wireEvent{ID: r.ID, Type: r.Type, Data: r.Data, Metadata: meta}
}

// wireBytes is what an event counts against the server's maximum append size.
func wireBytes(e *wireEvent) int { return len(e.Data) + len(e.Metadata) + len(e.Type) + 16 }

// decodeEvent returns the record an event read from the log holds, checking that it is at
// the revision its position says and that its hash covers its content. It returns a
// *ledger.CorruptionError for anything else.
func decodeEvent(e *wireEvent) (ledger.Record, error) {
	bad := func(format string, args ...any) error {
		return &ledger.CorruptionError{Position: positionOf(e.Revision), Location: fmt.Sprintf("revision %d", e.Revision), Reason: fmt.Sprintf(format, args...)}
	}
	var env envelope
	if err := json.Unmarshal(e.Metadata, &env); err != nil {
		return ledger.Record{}, bad("event metadata is not a techledger envelope: %v", err)
	}
	if env.Format != envelopeFormat {
		return ledger.Record{}, bad("envelope format %d, want %d", env.Format, envelopeFormat)
	}
	r := ledger.Record{
		ID: e.ID, Stream: env.Stream, Version: env.Version, Position: env.Position, Type: e.Type,
		SchemaVersion: env.SchemaVersion, RecordedAt: time.Unix(0, env.RecordedAtNs).UTC(),
		Data: json.RawMessage(e.Data), Metadata: env.Metadata, PrevHash: env.PrevHash, Hash: env.Hash,
	}
	switch {
	case r.Position != positionOf(e.Revision):
		return ledger.Record{}, bad("record says position %d at revision %d", r.Position, e.Revision)
	case r.Hash != r.ComputeHash():
		return ledger.Record{}, bad("hash mismatch: stored %s, content hashes to %s", r.Hash, r.ComputeHash())
	}
	return r, nil
}
