package ledger

import (
	"encoding/binary"
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

// recordEncodingMin is the length of the shortest record encoding: every string and byte
// field empty (one length byte each).
const recordEncodingMin = 1 + 8 + 1 + 8 + 16 + 1 + 2 + 8 + 1 + 7 + 2*len(Hash{})

// DecodeChain returns the fields that chain a record, its position, previous hash and
// hash, from its binary encoding (see (*Record).AppendBinary) without decoding the rest:
// the format byte and the position open the encoding, the previous hash and the hash end
// it. It checks the format byte and the length, not the fields between
// ((*RawRecord).UnmarshalBinary does), so it is for readers that trust the framing of the
// store and need only the chain, such as a rebuild of the transparency log's tree.
func DecodeChain(b []byte) (pos Position, prev, hash Hash, err error) {
	if len(b) < recordEncodingMin {
		return 0, Hash{}, Hash{}, fmt.Errorf("record encoding of %d bytes: shorter than any record (%d)", len(b), recordEncodingMin)
	}
	if b[0] != recordFormat {
		return 0, Hash{}, Hash{}, fmt.Errorf("record format %d: want %d", b[0], recordFormat)
	}
	pos = Position(binary.BigEndian.Uint64(b[1:9]))
	n := len(b)
	copy(prev[:], b[n-2*len(prev):n-len(prev)])
	copy(hash[:], b[n-len(hash):])
	return pos, prev, hash, nil
}
