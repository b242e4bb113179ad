package jetstream

import (
	"encoding/binary"
	"fmt"

	"techledger/ledger"
)

// The format byte tags the layout of a commit message's payload. Both formats have the same
// layout; they differ in what the records may be.
const (
	// msgFormat: the records of one ledger stream, with consecutive versions (one Append, or
	// several Appends to one stream grouped in one message).
	msgFormat byte = 1
	// msgFormatGroup: records of several ledger streams (Appends to several streams grouped in
	// one message, or copied records); each stream's versions are checked against the index.
	msgFormatGroup byte = 2
)

// messageRecordsMax bounds the records of one message (the server's max_payload bounds it
// first in practice: a record takes at least ~150 bytes).
const messageRecordsMax = 1 << 14

// oneStream reports whether every record of recs is of the first record's stream.
func oneStream(recs []ledger.Record) bool {
	for i := range recs {
		if recs[i].Stream != recs[0].Stream {
			return false
		}
	}
	return true
}

// encodeCommit returns the payload of one commit message: the format byte (msgFormat when
// every record is of one stream, else msgFormatGroup), the number of records as a uvarint,
// then each record's canonical encoding (ledger.Record.AppendBinary, hash included) prefixed
// with its length as a uvarint. The records of a message are stored atomically, in position
// order.
func encodeCommit(recs []ledger.Record) []byte {
	size := 1 + binary.MaxVarintLen32
	for i := range recs {
		r := &recs[i]
		size += binary.MaxVarintLen32 + recordOverheadBytes + len(r.Stream) + len(r.Type) + len(r.Data) + r.Metadata.Size()
	}
	buf := make([]byte, 0, size)
	format := msgFormat
	if !oneStream(recs) {
		format = msgFormatGroup
	}
	buf = append(buf, format)
	buf = binary.AppendUvarint(buf, uint64(len(recs)))
	var scratch []byte
	for i := range recs {
		scratch = recs[i].AppendBinary(scratch[:0])
		buf = binary.AppendUvarint(buf, uint64(len(scratch)))
		buf = append(buf, scratch...)
	}
	return buf
}

// recordOverheadBytes bounds a record's encoding beyond its strings and data: fixed fields,
// two hashes and length prefixes.
const recordOverheadBytes = 1 + 8 + 8 + 16 + 2 + 8 + 2*32 + 11*binary.MaxVarintLen32

// decodeCommit decodes a payload made by encodeCommit. The records' Data alias b. It checks
// the structure, that positions run consecutively and the hash chain links inside the
// message, and for msgFormat that the records are of one stream with consecutive versions;
// the caller checks how the message continues the log.
func decodeCommit(b []byte) ([]ledger.Record, error) {
	if len(b) == 0 || (b[0] != msgFormat && b[0] != msgFormatGroup) {
		return nil, fmt.Errorf("commit message: unknown format (want %d or %d)", msgFormat, msgFormatGroup)
	}
	group := b[0] == msgFormatGroup
	b = b[1:]
	n, k := binary.Uvarint(b)
	// Every record takes at least its length's byte: a count beyond the bytes left is
	// refused before anything is allocated for it.
	if k <= 0 || n == 0 || n > messageRecordsMax || n > uint64(len(b)-k) {
		return nil, fmt.Errorf("commit message: bad record count")
	}
	b = b[k:]
	recs := make([]ledger.Record, n)
	for i := range recs {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("commit message: record %d truncated", i)
		}
		if err := recs[i].UnmarshalBinary(b[k : k+int(l) : k+int(l)]); err != nil {
			return nil, fmt.Errorf("commit message: record %d: %w", i, err)
		}
		b = b[k+int(l):]
		if i > 0 {
			prev := &recs[i-1]
			r := &recs[i]
			if r.Position != prev.Position+1 || r.PrevHash != prev.Hash ||
				(!group && (r.Version != prev.Version+1 || r.Stream != prev.Stream)) {
				return nil, fmt.Errorf("commit message: record %d does not follow record %d", i, i-1)
			}
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("commit message: %d trailing bytes", len(b))
	}
	return recs, nil
}
