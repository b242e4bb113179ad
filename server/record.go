package server

import (
	"context"
	"encoding/json"
	"iter"
	"time"

	"techledger/ledger"
)

// RecordView is a record as the API and the CLI show it (GET /v1/events, a contract's
// history, techledger export): the envelope, the metadata, the data as stored and the hash
// link.
type RecordView struct {
	Position      ledger.Position `json:"position"`
	Stream        string          `json:"stream"`
	Version       ledger.Version  `json:"version"`
	ID            string          `json:"id"`
	RecordedAt    time.Time       `json:"recorded_at"`
	Type          string          `json:"type"`
	SchemaVersion uint16          `json:"schema_version"`
	Metadata      ledger.Metadata `json:"metadata"`
	Data          json.RawMessage `json:"data"`
	PrevHash      ledger.Hash     `json:"prev_hash"`
	Hash          ledger.Hash     `json:"hash"`
}

// ViewOf returns the view of r.
func ViewOf(r ledger.Record) RecordView {
	return RecordView{
		Position: r.Position, Stream: r.Stream, Version: r.Version, ID: r.ID.String(), RecordedAt: r.RecordedAt,
		Type: r.Type, SchemaVersion: r.SchemaVersion, Metadata: r.Metadata, Data: r.Data, PrevHash: r.PrevHash, Hash: r.Hash,
	}
}

// StreamReader reads one stream of a ledger (any ledger.Store).
type StreamReader interface {
	ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error]
}

// History returns every record of a contract's stream, in order; none if the contract is
// not registered.
func History(ctx context.Context, s StreamReader, contractID string) ([]RecordView, error) {
	var out []RecordView
	for rec, err := range s.ReadStream(ctx, ledger.ContractStream(contractID), 1) {
		if err != nil {
			return nil, err
		}
		out = append(out, ViewOf(rec))
	}
	return out, nil
}
