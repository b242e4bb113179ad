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

// RecordAppender is an optional Store capability, found by type assertion: it appends records
// copied verbatim from another log (a follower, a backup restore, a move between backends), keeping
// each record's position, ID, stream, version, recorded-at time, metadata and hashes.
//
// AppendRecords appends recs, which must continue the log exactly: the first record's position is
// Head()+1, positions are consecutive, each record's PrevHash is the hash of the record before it
// (the store's head hash for the first), each record's Hash equals its ComputeHash, and each
// record's version is one past its stream's current version. Records that break any of these rules
// are refused with an error wrapping ErrCorrupt (a *CorruptionError naming the position) and
// nothing of the call is appended. When AppendRecords returns nil the records are durable. It is
// atomic per call on the embedded backends; a backend that cannot make a multi-stream call atomic
// documents what a retry after a failure does (the copy resumes from Head and checks the overlap).
// Ordinary Appends must not run concurrently with AppendRecords on the same store.
type RecordAppender interface {
	AppendRecords(ctx context.Context, recs []Record) error
}
