package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Version is a record's 1-based position within its stream. A stream with no records is
// at version 0.
type Version uint64

// Position is a record's 1-based position in the whole log. Positions strictly increase
// with no gaps; position 0 means "before the first record".
type Position uint64

// Expected is the stream version an append expects. Use [Any], [NoStream] or [Exactly].
type Expected struct {
	any bool
	v   Version
}

var (
	// Any accepts the append whatever the stream's version.
	Any = Expected{any: true}
	// NoStream accepts the append only if the stream has no records.
	NoStream = Expected{}
)

// Exactly accepts the append only if the stream is at version v. Exactly(0) is NoStream.
func Exactly(v Version) Expected { return Expected{v: v} }

// IsAny reports whether e is Any.
func (e Expected) IsAny() bool { return e.any }

// Version returns the exact version expected; it is meaningless when IsAny.
func (e Expected) Version() Version { return e.v }

// Matches reports whether a stream at version current satisfies e.
func (e Expected) Matches(current Version) bool { return e.any || e.v == current }

func (e Expected) String() string {
	switch {
	case e.any:
		return "any"
	case e.v == 0:
		return "no stream"
	default:
		return "version " + strconv.FormatUint(uint64(e.v), 10)
	}
}

// Metadata says who recorded an event, in which role, under which command and why.
// Every field is optional for the store; package commands fills them.
type Metadata struct {
	Actor         string `json:"actor,omitempty"`
	Role          string `json:"role,omitempty"`
	CommandID     string `json:"command_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	Reason        string `json:"reason,omitempty"`
	// CommandHash is the SHA-256 (hex) of the command's canonical content, so that a
	// command_id reused with other content is recognised, and an auditor can tie an event
	// to the exact command that caused it.
	CommandHash string `json:"command_hash,omitempty"`
}

// Size returns the bytes the metadata strings take (counted against EventBytesMax).
func (m Metadata) Size() int {
	return len(m.Actor) + len(m.Role) + len(m.CommandID) + len(m.CausationID) + len(m.CorrelationID) + len(m.Reason) + len(m.CommandHash)
}

// Event is a fact proposed for appending. The caller chooses ID (a UUIDv7, see NewEventID)
// so that retrying an append after an unclear outcome is recognised and not duplicated.
type Event struct {
	ID            uuid.UUID
	Type          string
	SchemaVersion uint16
	Data          json.RawMessage
	Metadata      Metadata
}

// Record is an Event as a Store holds it. Records returned by a Store are owned by the
// caller; a Store never mutates them after returning them.
type Record struct {
	ID            uuid.UUID
	Stream        string
	Version       Version
	Position      Position
	Type          string
	SchemaVersion uint16
	RecordedAt    time.Time // UTC
	Data          json.RawMessage
	Metadata      Metadata
	PrevHash      Hash // Hash of the record at Position-1; zero for position 1
	Hash          Hash // SHA-256 over this record's content and PrevHash, see (*Record).ComputeHash
}

// Event returns the event the record was appended from.
func (r *Record) Event() Event {
	return Event{ID: r.ID, Type: r.Type, SchemaVersion: r.SchemaVersion, Data: r.Data, Metadata: r.Metadata}
}

// SameEvent reports whether the record holds exactly event e (ID, type, schema, data and
// metadata). Stores use it to tell an idempotent retry from a conflicting reuse of IDs.
func (r *Record) SameEvent(e Event) bool {
	return r.ID == e.ID && r.Type == e.Type && r.SchemaVersion == e.SchemaVersion &&
		bytes.Equal(r.Data, e.Data) && r.Metadata == e.Metadata
}

// NewEventID returns a new UUIDv7 (time-ordered) event ID.
func NewEventID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// Limits every Store enforces on Append. Inputs past a limit are rejected with
// ErrInvalidAppend naming the limit; nothing is appended.
const (
	// EventsPerAppendMax bounds one atomic batch.
	EventsPerAppendMax = 256
	// EventBytesMax bounds one event's data plus metadata.
	EventBytesMax = 256 << 10
	// StreamBytesMax bounds a stream name.
	StreamBytesMax = 200
	// TypeBytesMax bounds an event type name.
	TypeBytesMax = 100
)

// ValidateAppend checks an append against the rules and limits every Store shares: a
// non-empty batch within EventsPerAppendMax, a valid stream name, UUIDv7 IDs unique within
// the batch, a type, a schema version, data shaped as a JSON object ("{...}"; that it is
// valid JSON is the codec's promise, see Encode), and each event within EventBytesMax. It returns an error wrapping ErrInvalidAppend that names the event and
// field at fault.
func ValidateAppend(stream string, events []Event) error {
	if err := ValidateStream(stream); err != nil {
		return err
	}
	if len(events) == 0 {
		return invalid("events: at least one event is required")
	}
	if len(events) > EventsPerAppendMax {
		return invalid("events: %d events exceed EventsPerAppendMax (%d)", len(events), EventsPerAppendMax)
	}
	seen := make(map[uuid.UUID]struct{}, len(events))
	for i := range events {
		e := &events[i]
		switch {
		case e.ID == uuid.Nil:
			return invalid("event %d: id: is required", i)
		case e.ID.Version() != 7:
			return invalid("event %d: id: %s is not a UUIDv7", i, e.ID)
		case e.Type == "":
			return invalid("event %d: type: is required", i)
		case len(e.Type) > TypeBytesMax || !printable(e.Type):
			return invalid("event %d: type: must be printable and at most %d bytes (TypeBytesMax)", i, TypeBytesMax)
		case e.SchemaVersion == 0:
			return invalid("event %d: schema_version: must be at least 1", i)
		case len(e.Data)+e.Metadata.Size() > EventBytesMax:
			return invalid("event %d: data: %d bytes exceed EventBytesMax (%d)", i, len(e.Data)+e.Metadata.Size(), EventBytesMax)
		case !isJSONObject(e.Data):
			return invalid("event %d: data: must be a JSON object", i)
		}
		if _, dup := seen[e.ID]; dup {
			return invalid("event %d: id: %s appears twice in the batch", i, e.ID)
		}
		seen[e.ID] = struct{}{}
	}
	return nil
}

// ValidateStream checks a stream name: non-empty, at most StreamBytesMax bytes, printable
// UTF-8 without spaces.
func ValidateStream(stream string) error {
	if stream == "" {
		return invalid("stream: is required")
	}
	if len(stream) > StreamBytesMax {
		return invalid("stream: %d bytes exceed StreamBytesMax (%d)", len(stream), StreamBytesMax)
	}
	if !printable(stream) {
		return invalid("stream: %q must be printable UTF-8 without spaces", stream)
	}
	for _, r := range stream {
		if r == ' ' {
			return invalid("stream: %q must be printable UTF-8 without spaces", stream)
		}
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// isJSONObject checks the shape of data: a JSON object, by its first and last non-space
// bytes. Full JSON validation is the codec's job (Encode only produces valid JSON); doing it
// here as well cost a sixth of the append path's CPU.
func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}'
}

// String formats a record's identity for logs and errors.
func (r *Record) String() string {
	return fmt.Sprintf("%s@%d (position %d, %s)", r.Stream, r.Version, r.Position, r.Type)
}
