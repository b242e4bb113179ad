package ledger

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// RecordView is a record in the JSON shape the HTTP API's GET /v1/events, a contract's history
// and `techledger export` show, and that a follower or a backup over HTTP reads back: the
// envelope, the metadata, the data as stored and the hash link. ViewOf and (RecordView).Record
// convert both ways without loss, so that the hash chain can be checked on the far side.
type RecordView struct {
	Position      Position        `json:"position"`
	Stream        string          `json:"stream"`
	Version       Version         `json:"version"`
	ID            string          `json:"id"`
	RecordedAt    time.Time       `json:"recorded_at"`
	Type          string          `json:"type"`
	SchemaVersion uint16          `json:"schema_version"`
	Metadata      Metadata        `json:"metadata"`
	Data          json.RawMessage `json:"data"`
	PrevHash      Hash            `json:"prev_hash"`
	Hash          Hash            `json:"hash"`
}

// ViewOf returns the view of r.
func ViewOf(r Record) RecordView {
	return RecordView{
		Position: r.Position, Stream: r.Stream, Version: r.Version, ID: r.ID.String(), RecordedAt: r.RecordedAt,
		Type: r.Type, SchemaVersion: r.SchemaVersion, Metadata: r.Metadata, Data: r.Data, PrevHash: r.PrevHash, Hash: r.Hash,
	}
}

// Record returns the record the view shows, with its time in UTC and its data copied. It
// returns an error naming the field when the ID is not a UUID; it checks nothing else (the
// caller checks the hash chain).
func (v RecordView) Record() (Record, error) {
	id, err := uuid.Parse(v.ID)
	if err != nil {
		return Record{}, fmt.Errorf("id: %w", err)
	}
	return Record{
		ID: id, Stream: v.Stream, Version: v.Version, Position: v.Position, Type: v.Type,
		SchemaVersion: v.SchemaVersion, RecordedAt: v.RecordedAt.UTC(), Data: append(json.RawMessage(nil), v.Data...),
		Metadata: v.Metadata, PrevHash: v.PrevHash, Hash: v.Hash,
	}, nil
}
