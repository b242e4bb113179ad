package ledger

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by every Store. Match them with errors.Is; backends wrap them
// with context.
var (
	// ErrWrongVersion means the expected version given to Append did not match the
	// stream; nothing was appended.
	ErrWrongVersion = errors.New("ledger: wrong expected version")
	// ErrDuplicateEvent means an event ID in the batch is already stored, but not as the
	// same events at the same place; nothing was appended.
	ErrDuplicateEvent = errors.New("ledger: event id already stored with other content or at another place")
	// ErrInvalidAppend means the append itself is malformed (empty batch, bad stream name,
	// missing ID, a limit exceeded); nothing was appended.
	ErrInvalidAppend = errors.New("ledger: invalid append")
	// ErrUnknownEvent means a record's type or schema version is not one this build knows.
	ErrUnknownEvent = errors.New("ledger: unknown event type or schema version")
	// ErrCorrupt means the log failed an integrity check (framing, CRC, hash chain,
	// position or version continuity).
	ErrCorrupt = errors.New("ledger: corrupt log")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("ledger: store closed")
	// ErrLocked means another process holds the store's data directory.
	ErrLocked = errors.New("ledger: data directory locked by another process")
	// ErrStorageFull means the store's storage has no space left: the append was not
	// made, and appends resume once space is freed (reads go on meanwhile).
	ErrStorageFull = errors.New("ledger: storage full")
)

// VersionError is returned (wrapping ErrWrongVersion) when Append's expected version does
// not match the stream.
type VersionError struct {
	Stream   string
	Expected Expected
	Actual   Version // current stream version; 0 when the stream does not exist
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("%v: stream %q: expected %v, stream is at version %d", ErrWrongVersion, e.Stream, e.Expected, e.Actual)
}

// Unwrap lets errors.Is match ErrWrongVersion.
func (e *VersionError) Unwrap() error { return ErrWrongVersion }

// CorruptionError is returned (wrapping ErrCorrupt) by Verify and by backends that find a
// damaged log. It names the first bad record and what is wrong with it.
type CorruptionError struct {
	// Position of the first bad record (0 when unknown, e.g. the frame holding it is unreadable).
	Position Position
	// Location is backend specific: for the filestore "segment 3 offset 1234".
	Location string
	// Reason says what is wrong, e.g. "hash mismatch" or "crc mismatch".
	Reason string
}

func (e *CorruptionError) Error() string {
	s := fmt.Sprintf("%v: position %d", ErrCorrupt, e.Position)
	if e.Location != "" {
		s += " (" + e.Location + ")"
	}
	return s + ": " + e.Reason
}

// Unwrap lets errors.Is match ErrCorrupt.
func (e *CorruptionError) Unwrap() error { return ErrCorrupt }

// invalid returns an ErrInvalidAppend with a message naming the field and the rule.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidAppend, fmt.Sprintf(format, args...))
}
