package ledger

import (
	"context"
	"iter"
)

// Store is the log. Every backend (memstore, filestore, jetstream, kurrent) implements it and
// passes ledger/storetest. All methods are safe for concurrent use.
type Store interface {
	// Append atomically appends events to the end of stream if the stream's version
	// matches expected, and returns their positions. Either every event is appended or
	// none is. When Append returns nil the events are durable (they survive a crash of the
	// process or the machine).
	//
	// If every event ID in the batch is already stored, in this stream, in this order, with
	// the same content, and at the place expected asks for (any place for Any), Append is an
	// idempotent success: it appends nothing and returns the original positions with
	// Duplicate set. Any other reuse of a stored ID returns ErrDuplicateEvent.
	//
	// Append returns an error wrapping ErrInvalidAppend for a malformed batch (see
	// ValidateAppend), a *VersionError (ErrWrongVersion) when expected does not match,
	// ErrDuplicateEvent, ErrClosed, or a wrapped infrastructure error. In every error case
	// nothing was appended, except that an infrastructure error (for example a failed
	// fsync) leaves the outcome unknown: retry with the same event IDs to learn it.
	Append(ctx context.Context, stream string, expected Expected, events ...Event) (AppendResult, error)

	// ReadStream yields the records of stream with version >= from, in version order.
	// A stream that does not exist yields nothing. The sequence ends at the stream's
	// version when the read started or later; it stops at the first error it yields.
	ReadStream(ctx context.Context, stream string, from Version) iter.Seq2[Record, error]

	// ReadAll yields every record with position >= from, in position order, up to the
	// head at the time of the call or later; it stops at the first error it yields.
	ReadAll(ctx context.Context, from Position) iter.Seq2[Record, error]

	// Subscribe yields every record with position >= from, in position order: first the
	// records already stored, then each new record as it is appended, without gap or
	// duplicate, until ctx is done (it then yields ctx.Err()) or the consumer stops. A slow
	// consumer never blocks writers and never loses records: it reads from the log, not
	// from a bounded buffer.
	Subscribe(ctx context.Context, from Position) iter.Seq2[Record, error]

	// Head returns the position of the last record (0 for an empty log).
	Head(ctx context.Context) (Position, error)

	// Close releases the store. Appends after Close return ErrClosed.
	Close() error
}

// AppendResult is the outcome of a successful Append.
type AppendResult struct {
	// Positions holds each event's global position, in batch order.
	Positions []Position
	// Version is the stream's version after the last event of the batch.
	Version Version
	// Duplicate is set when the events were already stored (an idempotent retry); the
	// positions are the original ones.
	Duplicate bool
}

// Verifier is implemented by stores that can check their own integrity more precisely
// than Verify over ReadAll (for example naming a file and offset).
type Verifier interface {
	Verify(ctx context.Context) (VerifyReport, error)
}
