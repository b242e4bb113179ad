package kurrent

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// client is what the Store needs of a KurrentDB server, in the Store's own terms. esdbClient
// (esdb.go) is the implementation that talks to a server through EventStore-Client-Go; every
// call into that library is in that one file, so that moving to another client (the
// KurrentDB-Client-Go successor) is a change of one file. The tests run the Store against an
// in-memory stand-in of this interface.
type client interface {
	// Append appends events to stream if the stream's last revision is expectedLast
	// (noStream: the stream does not exist), and returns the stream's last revision after
	// the append. It returns a *revisionError when the stream is elsewhere, unless every
	// event ID is already stored right after expectedLast, which the server answers as an
	// idempotent success. errUnknownOutcome means the append may or may not be stored.
	Append(ctx context.Context, stream string, expectedLast int64, events []wireEvent) (last uint64, err error)
	// Read returns at most count events of stream from revision from (inclusive), in
	// order; none for a missing stream.
	Read(ctx context.Context, stream string, from uint64, count uint64) ([]wireEvent, error)
	// Subscribe follows stream from revision from (inclusive): the stored events, then
	// new ones. The subscription ends with an error when the server drops it; the Store
	// subscribes again.
	Subscribe(ctx context.Context, stream string, from uint64) (subscription, error)
	// Settings returns the stream's retention settings.
	Settings(ctx context.Context, stream string) (streamSettings, error)
	// Close closes the connection.
	Close() error
}

// subscription is a live read of a stream.
type subscription interface {
	// Recv returns the next event, blocking until there is one, or the error that ended
	// the subscription.
	Recv() (wireEvent, error)
	Close() error
}

// noStream is the expected last revision of a stream that does not exist.
const noStream int64 = -1

// wireEvent is one KurrentDB event as the Store writes and reads it.
type wireEvent struct {
	ID       uuid.UUID
	Type     string
	Data     []byte // the record's data (JSON)
	Metadata []byte // the envelope: everything else of the record (see envelope.go)
	Revision uint64 // set on events read
}

// streamSettings are the stream metadata settings that could make the server delete
// records (KurrentDB stream metadata $tb, $maxAge, $maxCount) or the stream itself.
type streamSettings struct {
	TruncateBefore *uint64
	MaxAgeSeconds  *uint64
	MaxCount       *uint64
	Deleted        bool
}

// unsafe says why settings could lose records, or "" when they cannot.
func (st streamSettings) unsafe() string {
	switch {
	case st.Deleted:
		return "the stream is deleted"
	case st.TruncateBefore != nil:
		return fmt.Sprintf("the stream's metadata truncates it before revision %d ($tb)", *st.TruncateBefore)
	case st.MaxAgeSeconds != nil:
		return fmt.Sprintf("the stream's metadata deletes events older than %ds ($maxAge)", *st.MaxAgeSeconds)
	case st.MaxCount != nil:
		return fmt.Sprintf("the stream's metadata keeps only the last %d events ($maxCount)", *st.MaxCount)
	}
	return ""
}

// The client's errors, translated from the library's by esdb.go.
var (
	// errWrongRevision: an append's expected revision did not match (see revisionError).
	errWrongRevision = errors.New("kurrent: wrong expected revision")
	// errUnknownOutcome: the server did not answer in time or the connection was lost;
	// an append may or may not have been stored.
	errUnknownOutcome = errors.New("kurrent: no answer from the server (outcome unknown)")
	// errTooLarge: the server refused an append as larger than its maximum append size.
	errTooLarge = errors.New("kurrent: append larger than the server accepts")
	// errDenied: the server refused the credentials or the access.
	errDenied = errors.New("kurrent: access denied")
	// errDeleted: the stream was deleted (tombstoned).
	errDeleted = errors.New("kurrent: stream deleted")
)

// revisionError is errWrongRevision with the stream's actual last revision when the server
// says it (-1 when the stream does not exist or the revision is unknown).
type revisionError struct {
	Actual int64
}

func (e *revisionError) Error() string {
	return fmt.Sprintf("%v (stream at revision %d)", errWrongRevision, e.Actual)
}

func (e *revisionError) Unwrap() error { return errWrongRevision }
