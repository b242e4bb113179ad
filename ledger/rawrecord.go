package ledger

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// RawRecord is a record decoded in place from its binary encoding (see
// (*Record).AppendBinary): its byte fields alias the encoding, and the metadata is checked
// but not kept. It is for readers that go through many records and keep little of each,
// such as a replay of the whole log: decoding one allocates nothing.
type RawRecord struct {
	ID            uuid.UUID
	Stream        []byte
	Version       Version
	Position      Position
	Type          []byte
	SchemaVersion uint16
	RecordedAt    time.Time // UTC
	Data          []byte
	PrevHash      Hash
	Hash          Hash
}

// UnmarshalBinary decodes a record encoded by (*Record).AppendBinary, accepting exactly
// the encodings (*Record).UnmarshalBinary accepts. Stream, Type and Data alias b: they are
// valid while b is. Like (*Record).UnmarshalBinary it checks the structure, not the hash.
func (r *RawRecord) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if f := d.byte(); d.err == nil && f != recordFormat {
		return fmt.Errorf("record format %d: want %d", f, recordFormat)
	}
	r.Position = Position(d.u64())
	r.Stream = d.bytes()
	r.Version = Version(d.u64())
	copy(r.ID[:], d.take(16))
	r.Type = d.bytes()
	r.SchemaVersion = d.u16()
	r.RecordedAt = time.Unix(0, int64(d.u64())).UTC()
	r.Data = d.bytes()
	for range 7 { // the metadata strings
		d.bytes()
	}
	copy(r.PrevHash[:], d.take(len(r.PrevHash)))
	copy(r.Hash[:], d.take(len(r.Hash)))
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("record encoding has %d trailing bytes", len(d.b))
	}
	return nil
}
