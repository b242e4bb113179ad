package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
)

// Hash is a SHA-256 digest linking a record to its predecessor.
type Hash [sha256.Size]byte

// String returns the hash in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the all-zero hash (the predecessor of position 1).
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes the hash as lowercase hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText decodes a lowercase or uppercase hex hash.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("hash: want %d hex digits, got %d", 2*len(h), len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// recordFormat tags the canonical encoding so that a future change of layout is explicit.
const recordFormat byte = 1

// AppendBinary appends the record's canonical binary encoding to buf and returns the
// extended buffer. The encoding is every field in a fixed order (format byte, position,
// stream, version, ID, type, schema version, recorded-at as Unix nanoseconds, data, the seven
// metadata strings, previous hash) followed by the 32-byte hash. Strings and byte slices are
// prefixed with their uvarint length. The hash is SHA-256 over everything before it, so the
// encoding is also what the chain covers; backends may store it as is.
func (r *Record) AppendBinary(buf []byte) []byte {
	buf = r.appendCanonical(buf)
	return append(buf, r.Hash[:]...)
}

func (r *Record) appendCanonical(buf []byte) []byte {
	buf = append(buf, recordFormat)
	buf = binary.BigEndian.AppendUint64(buf, uint64(r.Position))
	buf = appendString(buf, r.Stream)
	buf = binary.BigEndian.AppendUint64(buf, uint64(r.Version))
	buf = append(buf, r.ID[:]...)
	buf = appendString(buf, r.Type)
	buf = binary.BigEndian.AppendUint16(buf, r.SchemaVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(r.RecordedAt.UnixNano()))
	buf = appendBytes(buf, r.Data)
	m := &r.Metadata
	for _, s := range [...]string{m.Actor, m.Role, m.CommandID, m.CausationID, m.CorrelationID, m.Reason, m.CommandHash} {
		buf = appendString(buf, s)
	}
	return append(buf, r.PrevHash[:]...)
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// ComputeHash returns SHA-256 over the record's canonical encoding (everything but Hash,
// PrevHash included). Stores set Hash to it at append; Verify recomputes it.
func (r *Record) ComputeHash() Hash {
	var scratch [512]byte
	return sha256.Sum256(r.appendCanonical(scratch[:0]))
}

// Seal sets r.PrevHash to prev and r.Hash to the resulting hash.
func (r *Record) Seal(prev Hash) {
	r.PrevHash = prev
	r.Hash = r.ComputeHash()
}

// SealAppend is Seal followed by AppendBinary, encoding the record once for both: it sets
// r.PrevHash to prev and r.Hash to the resulting hash, and appends the record's binary
// encoding to buf.
func (r *Record) SealAppend(buf []byte, prev Hash) []byte {
	r.PrevHash = prev
	start := len(buf)
	buf = r.appendCanonical(buf)
	r.Hash = sha256.Sum256(buf[start:])
	return append(buf, r.Hash[:]...)
}

// errShort is returned by UnmarshalBinary on truncated input.
var errShort = errors.New("record encoding truncated")

// UnmarshalBinary decodes a record encoded by AppendBinary. Data aliases b: the caller must
// not modify b afterwards (copy it first if it is reused). It checks the structure, not the
// hash; Verify checks the hash.
func (r *Record) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if f := d.byte(); d.err == nil && f != recordFormat {
		return fmt.Errorf("record format %d: want %d", f, recordFormat)
	}
	// The nine strings are copied into one allocation and sliced from it.
	var raw [9][]byte
	r.Position = Position(d.u64())
	raw[0] = d.bytes()
	r.Version = Version(d.u64())
	copy(r.ID[:], d.take(16))
	raw[1] = d.bytes()
	r.SchemaVersion = d.u16()
	r.RecordedAt = time.Unix(0, int64(d.u64())).UTC()
	r.Data = d.bytes()
	for i := 2; i < len(raw); i++ {
		raw[i] = d.bytes()
	}
	copy(r.PrevHash[:], d.take(len(r.PrevHash)))
	copy(r.Hash[:], d.take(len(r.Hash)))
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("record encoding has %d trailing bytes", len(d.b))
	}
	n := 0
	for _, x := range raw {
		n += len(x)
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, x := range raw {
		sb.Write(x)
	}
	all := sb.String()
	m := &r.Metadata
	for i, s := range [...]*string{&r.Stream, &r.Type, &m.Actor, &m.Role, &m.CommandID, &m.CausationID, &m.CorrelationID, &m.Reason, &m.CommandHash} {
		*s, all = all[:len(raw[i])], all[len(raw[i]):]
	}
	return nil
}

// RecordKey is what an index needs of an encoded record: where it is in the log and in
// its stream, its event ID, and its links in the hash chain.
type RecordKey struct {
	Position   Position
	Stream     []byte // aliases the encoding passed to DecodeKey
	Version    Version
	ID         [16]byte
	RecordedAt int64 // Unix nanoseconds
	PrevHash   Hash
	Hash       Hash
}

// DecodeKey decodes the key fields of a record encoded by AppendBinary without copying
// anything (Stream aliases b) and without looking into data or metadata. It checks the
// structure exactly as UnmarshalBinary does, so it accepts the same encodings; like
// UnmarshalBinary it does not check the hash.
func DecodeKey(b []byte) (RecordKey, error) {
	var k RecordKey
	d := decoder{b: b}
	if f := d.byte(); d.err == nil && f != recordFormat {
		return k, fmt.Errorf("record format %d: want %d", f, recordFormat)
	}
	k.Position = Position(d.u64())
	k.Stream = d.bytes()
	k.Version = Version(d.u64())
	copy(k.ID[:], d.take(16))
	d.bytes() // type
	d.u16()   // schema version
	k.RecordedAt = int64(d.u64())
	for range 8 { // data and the seven metadata strings
		d.bytes()
	}
	copy(k.PrevHash[:], d.take(len(k.PrevHash)))
	copy(k.Hash[:], d.take(len(k.Hash)))
	if d.err != nil {
		return k, d.err
	}
	if len(d.b) != 0 {
		return k, fmt.Errorf("record encoding has %d trailing bytes", len(d.b))
	}
	return k, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		if d.err == nil {
			d.err = errShort
		}
		return make([]byte, max(n, 0))
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) byte() byte { return d.take(1)[0] }
func (d *decoder) u16() uint16 {
	return binary.BigEndian.Uint16(d.take(2))
}
func (d *decoder) u64() uint64 { return binary.BigEndian.Uint64(d.take(8)) }
func (d *decoder) uvarint() int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	// n > 1 with a last byte of 0 is a non-minimal encoding: refused, so that every
	// record has exactly one encoding.
	if n <= 0 || (n > 1 && d.b[n-1] == 0) || v > uint64(len(d.b)-n) {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}
func (d *decoder) bytes() []byte { return d.take(d.uvarint()) }

// VerifyReport summarises a log that checked out.
type VerifyReport struct {
	Records  uint64   `json:"records"`
	Streams  int      `json:"streams"`
	Head     Position `json:"head"`
	HeadHash Hash     `json:"head_hash"`
}

// Verify reads records in log order from position 1 and checks, for each, that its
// position follows the previous one with no gap, that its stream version follows the
// stream's previous version, that PrevHash equals the previous record's Hash, that Hash
// is the SHA-256 of its content, and that RecordedAt is UTC. It returns a
// *CorruptionError naming the first bad record and what is wrong, or the error the
// sequence yielded.
func Verify(ctx context.Context, records iter.Seq2[Record, error]) (VerifyReport, error) {
	var rep VerifyReport
	var prev Hash
	versions := make(map[string]Version)
	for rec, err := range records {
		if err != nil {
			return rep, err
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		bad := func(format string, args ...any) error {
			return &CorruptionError{Position: rec.Position, Reason: fmt.Sprintf(format, args...)}
		}
		switch {
		case rec.Position != rep.Head+1:
			return rep, bad("position %d follows %d", rec.Position, rep.Head)
		case rec.Version != versions[rec.Stream]+1:
			return rep, bad("stream %q version %d follows %d", rec.Stream, rec.Version, versions[rec.Stream])
		case rec.PrevHash != prev:
			return rep, bad("previous hash %s does not match hash %s of position %d", rec.PrevHash, prev, rep.Head)
		case rec.Hash != rec.ComputeHash():
			return rep, bad("hash mismatch: stored %s, content hashes to %s", rec.Hash, rec.ComputeHash())
		case rec.RecordedAt.Location() != time.UTC:
			return rep, bad("recorded_at %s is not UTC", rec.RecordedAt)
		}
		if versions[rec.Stream] == 0 {
			rep.Streams++
		}
		versions[rec.Stream] = rec.Version
		rep.Records++
		rep.Head = rec.Position
		prev = rec.Hash
	}
	rep.HeadHash = prev
	return rep, nil
}
