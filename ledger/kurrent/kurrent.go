// Package kurrent is a ledger.Store on KurrentDB / EventStoreDB, through
// github.com/EventStore/EventStore-Client-Go/v4.
//
// # One KurrentDB stream holds the whole log
//
// Every ledger record is one KurrentDB event in one KurrentDB stream (named in the store URL):
// the event's ID is the record's event ID, its type the record's type, its data the record's
// data, and its metadata an envelope (JSON) with the rest: ledger stream, version, position,
// schema version, recorded-at, metadata and both hashes. KurrentDB's $all positions have gaps
// and hold other streams' events, but a stream's revisions count from 0 without gaps, so
// position p is revision p-1. docs/backends.md says why this design rather than a KurrentDB
// stream per contract.
//
// # Appends: compare-and-set on the log's last revision
//
// A writer seals its records on the index's head (position, version, chain) and appends them
// in one call expecting the log's last revision exactly (NoStream for an empty log), never
// Any: the server stores the batch atomically only if nothing was appended since, so
// positions are gapless and the chain links even with writers in several processes. When
// another writer got in first the Store reads what it missed and decides again (a real
// conflict becomes a *ledger.VersionError). An append with no answer (deadline, lost
// connection) has an unknown outcome: the Store catches up and looks for the batch's IDs, and
// appends again with the same expected revision only if they are not there; the server
// answers such a repeat at an exact revision as an idempotent success. Appends in one process
// are serialised: one round trip per Append.
//
// # Idempotency and reads
//
// The server's idempotency by event ID holds only at an exact revision and, for other
// expectations, only in a bounded cache; techledger's permanent idempotency comes from the
// Store's index, rebuilt at open by reading the whole log (checking positions, versions and
// the chain) and kept current: event ID -> position, ledger stream -> positions. ReadStream
// reads the positions the index names (consecutive ones in one read). ReadAll reads the log
// stream forward; Subscribe follows it with a catch-up subscription and subscribes again from
// the next position when the server drops it (the client never does).
//
// # Limits and settings
//
// A batch must fit in the server's maximum append size (1 MiB by default, AppendBytesMax):
// a larger one is refused with ledger.ErrInvalidAppend before anything is sent. A log stream
// whose metadata sets truncation ($tb), a maximum age or a maximum count, or that is deleted,
// is refused at open: the server could delete records under the hash chain.
package kurrent

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/google/uuid"

	"techledger/ledger"
	"techledger/ledger/internal/logutil"
)

var _ ledger.Store = (*Store)(nil)

// Limits.
const (
	// AppendBytesMax is the server's default maximum append size (MaxAppendSize, 1 MiB).
	AppendBytesMax = 1 << 20
	// appendAttemptsMax bounds how often one Append catches up and decides again.
	appendAttemptsMax = 100
	// readPageMax is how many events one read asks for.
	readPageMax = 512
	// copyEventsMax bounds the events of one append made by AppendRecords.
	copyEventsMax = 1024
	// unknownOutcomesMax bounds how often one Append sends its batch again after an append
	// whose outcome is unknown (each may wait for the client's deadline).
	unknownOutcomesMax = 3
	// resubscribeAttemptsMax bounds consecutive failed subscribes before Subscribe gives up.
	resubscribeAttemptsMax = 20
)

// Config configures a Store.
type Config struct {
	// Stream is the KurrentDB stream holding the log (required).
	Stream string
	// AppendBytesMax is the largest append the server accepts (default AppendBytesMax);
	// set it when the server's MaxAppendSize differs.
	AppendBytesMax int
	// Now returns the time recorded with new records (default time.Now). Recorded times
	// never go backwards.
	Now func() time.Time
	// ResubscribeDelay is the pause before subscribing again after a drop (default 100ms).
	ResubscribeDelay time.Duration
}

// Store is a ledger.Store on a KurrentDB stream. It is safe for concurrent use; several
// Stores, in one process or many, may append to the same stream.
type Store struct {
	c   client
	cfg Config

	writeMu sync.Mutex // serialises this process's appenders
	catchMu sync.Mutex // one catch-up at a time
	done    chan struct{}

	mu       sync.RWMutex
	closed   bool
	failed   error
	head     ledger.Position
	lastHash ledger.Hash
	lastTime time.Time
	streams  map[string][]ledger.Position // positions of each ledger stream's records
	ids      map[uuid.UUID]ledger.Position
}

// Open connects to the server a store URL names (see ParseURL) and opens the log.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	conn, stream, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	c, err := dialESDB(conn)
	if err != nil {
		return nil, err
	}
	s, err := newStore(ctx, c, Config{Stream: stream})
	if err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

// newStore opens the log in cfg.Stream through c: it refuses unsafe stream settings and
// builds the index by reading the whole log. It returns a *ledger.CorruptionError if the
// stream does not hold a consistent log.
func newStore(ctx context.Context, c client, cfg Config) (*Store, error) {
	if err := validStreamName(cfg.Stream); err != nil {
		return nil, fmt.Errorf("kurrent: %w", err)
	}
	if cfg.AppendBytesMax <= 0 {
		cfg.AppendBytesMax = AppendBytesMax
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ResubscribeDelay <= 0 {
		cfg.ResubscribeDelay = 100 * time.Millisecond
	}
	st, err := c.Settings(ctx, cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("kurrent: read settings of stream %s: %w", cfg.Stream, err)
	}
	if why := st.unsafe(); why != "" {
		return nil, fmt.Errorf("kurrent: stream %s: refusing to open: %s, so the server could delete records of the log; remove the setting (or use a new stream)", cfg.Stream, why)
	}
	s := &Store{c: c, cfg: cfg, done: make(chan struct{}), streams: make(map[string][]ledger.Position), ids: make(map[uuid.UUID]ledger.Position)}
	if err := s.catchUp(ctx); err != nil {
		return nil, fmt.Errorf("kurrent: open stream %s: %w", cfg.Stream, err)
	}
	return s, nil
}

// catchUp reads every record after the index's head and adds it to the index.
func (s *Store) catchUp(ctx context.Context) error {
	s.catchMu.Lock()
	defer s.catchMu.Unlock()
	for {
		from := s.headNow() + 1
		evs, err := s.c.Read(ctx, s.cfg.Stream, revisionOf(from), readPageMax)
		if err != nil {
			return fmt.Errorf("kurrent: read stream %s from revision %d: %w", s.cfg.Stream, revisionOf(from), err)
		}
		recs := make([]ledger.Record, len(evs))
		for i := range evs {
			if recs[i], err = decodeEvent(&evs[i]); err != nil {
				return s.fail(err)
			}
		}
		if err := s.apply(recs); err != nil {
			return err
		}
		if len(evs) < readPageMax {
			return nil
		}
	}
}

func (s *Store) headNow() ledger.Position {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.head
}

func (s *Store) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		s.failed = fmt.Errorf("kurrent: appends refused: %w", err)
	}
	return err
}

// tip returns where the index's log ends. s.mu is held.
func (s *Store) tip() logutil.Tip {
	return logutil.Tip{
		Head: s.head, HeadHash: s.lastHash,
		Version: func(stream string) ledger.Version { return ledger.Version(len(s.streams[stream])) },
		Stored:  func(id uuid.UUID) bool { _, ok := s.ids[id]; return ok },
	}
}

// apply adds records read from or appended to the log to the index, after checking that they
// continue it. Records the index already holds are skipped.
func (s *Store) apply(recs []ledger.Record) error {
	s.mu.Lock()
	for len(recs) > 0 && recs[0].Position <= s.head {
		recs = recs[1:]
	}
	if len(recs) == 0 {
		s.mu.Unlock()
		return nil
	}
	if err := logutil.CheckCopy(recs, s.tip()); err != nil {
		var ce *ledger.CorruptionError
		if errors.As(err, &ce) {
			ce.Location = fmt.Sprintf("stream %s revision %d", s.cfg.Stream, revisionOf(max(ce.Position, 1)))
		}
		if s.failed == nil {
			s.failed = fmt.Errorf("kurrent: appends refused: %w", err)
		}
		s.mu.Unlock()
		return err
	}
	for _, r := range recs {
		s.streams[r.Stream] = append(s.streams[r.Stream], r.Position)
		s.ids[r.ID] = r.Position
	}
	last := &recs[len(recs)-1]
	s.head, s.lastHash = last.Position, last.Hash
	if last.RecordedAt.After(s.lastTime) {
		s.lastTime = last.RecordedAt
	}
	s.mu.Unlock()
	return nil
}

// Append implements ledger.Store. Besides the errors every Store returns, it returns an error
// wrapping ledger.ErrInvalidAppend when the batch is larger than the server accepts
// (Config.AppendBytesMax).
func (s *Store) Append(ctx context.Context, stream string, expected ledger.Expected, events ...ledger.Event) (ledger.AppendResult, error) {
	if err := ledger.ValidateAppend(stream, events); err != nil {
		return ledger.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return ledger.AppendResult{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	unknown := 0
	for range appendAttemptsMax {
		res, recs, err := s.decide(ctx, stream, expected, events)
		if err != nil || recs == nil {
			return res, err
		}
		wire := make([]wireEvent, len(recs))
		size := 0
		for i := range recs {
			wire[i] = encodeEvent(&recs[i])
			size += wireBytes(&wire[i])
		}
		if size > s.cfg.AppendBytesMax {
			return ledger.AppendResult{}, fmt.Errorf("%w: batch encodes to %d bytes, more than the server's maximum append size (%d bytes, AppendBytesMax)", ledger.ErrInvalidAppend, size, s.cfg.AppendBytesMax)
		}
		_, err = s.c.Append(ctx, s.cfg.Stream, expectedLast(recs[0].Position-1), wire)
		switch {
		case err == nil:
			return res, s.apply(recs)
		case errors.Is(err, errWrongRevision):
			// Another writer got in first: catch up and decide again.
		case errors.Is(err, errUnknownOutcome):
			// Catch up and decide again: if the batch was stored, its IDs are found there and
			// the answer is its positions; if not, it is appended again at the same exact
			// revision, which the server answers as a retry should the first one land late.
			if cerr := s.catchUp(ctx); cerr != nil {
				return ledger.AppendResult{}, fmt.Errorf("kurrent: append to %q: outcome unknown, retry with the same event IDs: %w (then: %w)", stream, err, cerr)
			}
			if p, ok := s.storedAt(events[0].ID); ok && p == recs[0].Position {
				return res, nil
			}
			if unknown++; unknown == unknownOutcomesMax {
				return ledger.AppendResult{}, fmt.Errorf("kurrent: append to %q: outcome unknown %d times, retry with the same event IDs: %w", stream, unknown, err)
			}
			continue
		case errors.Is(err, errTooLarge):
			return ledger.AppendResult{}, fmt.Errorf("%w: %w", ledger.ErrInvalidAppend, err)
		default:
			return ledger.AppendResult{}, fmt.Errorf("kurrent: append to %q: %w", stream, err)
		}
		if err := s.catchUp(ctx); err != nil {
			return ledger.AppendResult{}, err
		}
	}
	return ledger.AppendResult{}, fmt.Errorf("kurrent: append to %q: other writers got in first %d times (appendAttemptsMax)", stream, appendAttemptsMax)
}

func (s *Store) storedAt(id uuid.UUID) (ledger.Position, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.ids[id]
	return p, ok
}

// decide checks the batch against the index and seals its records. It returns nil records
// when the answer needs no append (a retry, a conflict).
func (s *Store) decide(ctx context.Context, stream string, expected ledger.Expected, events []ledger.Event) (ledger.AppendResult, []ledger.Record, error) {
	s.mu.RLock()
	closed, failed := s.closed, s.failed
	head, prev, lastTime := s.head, s.lastHash, s.lastTime
	current := ledger.Version(len(s.streams[stream]))
	s.mu.RUnlock()
	switch {
	case closed:
		return ledger.AppendResult{}, nil, ledger.ErrClosed
	case failed != nil:
		return ledger.AppendResult{}, nil, failed
	}
	res, dup, err := logutil.CheckRetry(stream, expected, events, s.lookup(ctx))
	if err != nil || dup {
		return res, nil, err
	}
	if !expected.Matches(current) {
		return ledger.AppendResult{}, nil, &ledger.VersionError{Stream: stream, Expected: expected, Actual: current}
	}
	at := s.cfg.Now().UTC()
	if at.Before(lastTime) {
		at = lastTime
	}
	recs := make([]ledger.Record, len(events))
	res.Positions = make([]ledger.Position, len(events))
	for i, e := range events {
		r := &recs[i]
		*r = ledger.Record{
			ID: e.ID, Stream: stream, Version: current + ledger.Version(i) + 1, Position: head + ledger.Position(i) + 1,
			Type: e.Type, SchemaVersion: e.SchemaVersion, RecordedAt: at, Data: e.Data, Metadata: e.Metadata,
		}
		r.Seal(prev)
		prev = r.Hash
		res.Positions[i] = r.Position
	}
	res.Version = current + ledger.Version(len(events))
	return res, recs, nil
}

// lookup finds stored events through the index and reads them from the server.
func (s *Store) lookup(ctx context.Context) logutil.Lookup {
	return func(id uuid.UUID) (ledger.Record, bool, error) {
		p, ok := s.storedAt(id)
		if !ok {
			return ledger.Record{}, false, nil
		}
		recs, err := s.readRange(ctx, p, 1)
		if err != nil {
			return ledger.Record{}, false, err
		}
		if len(recs) != 1 || recs[0].ID != id {
			return ledger.Record{}, false, &ledger.CorruptionError{Position: p, Location: fmt.Sprintf("stream %s revision %d", s.cfg.Stream, revisionOf(p)), Reason: fmt.Sprintf("event %s is not where the index says", id)}
		}
		return recs[0], true, nil
	}
}

// readRange reads n records from position from, decoded and checked.
func (s *Store) readRange(ctx context.Context, from ledger.Position, n uint64) ([]ledger.Record, error) {
	evs, err := s.c.Read(ctx, s.cfg.Stream, revisionOf(from), n)
	if err != nil {
		return nil, fmt.Errorf("kurrent: read stream %s from revision %d: %w", s.cfg.Stream, revisionOf(from), err)
	}
	recs := make([]ledger.Record, len(evs))
	for i := range evs {
		if recs[i], err = decodeEvent(&evs[i]); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// ReadStream implements ledger.Store. It catches the index up and reads the positions it
// names for the stream, consecutive ones in one read.
func (s *Store) ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		from = max(from, 1)
		if err := s.catchUp(ctx); err != nil {
			yield(ledger.Record{}, err)
			return
		}
		s.mu.RLock()
		var positions []ledger.Position
		if ps := s.streams[stream]; int(from) <= len(ps) {
			positions = append(positions, ps[from-1:]...)
		}
		s.mu.RUnlock()
		next := from
		for len(positions) > 0 {
			n := 1
			for n < len(positions) && n < readPageMax && positions[n] == positions[0]+ledger.Position(n) {
				n++
			}
			recs, err := s.readRange(ctx, positions[0], uint64(n))
			if err == nil && len(recs) != n {
				err = &ledger.CorruptionError{Position: positions[0], Reason: fmt.Sprintf("read %d records, the index holds %d", len(recs), n)}
			}
			if err != nil {
				yield(ledger.Record{}, err)
				return
			}
			for _, r := range recs {
				if r.Stream != stream || r.Version != next {
					yield(ledger.Record{}, &ledger.CorruptionError{Position: r.Position, Reason: fmt.Sprintf("want stream %q version %d, found %s", stream, next, r.String())})
					return
				}
				if !yield(r, nil) {
					return
				}
				next++
			}
			positions = positions[n:]
		}
	}
}

// ReadAll implements ledger.Store: it reads the log stream forward from from to its end.
func (s *Store) ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		next := max(from, 1)
		for {
			if err := ctx.Err(); err != nil {
				yield(ledger.Record{}, err)
				return
			}
			recs, err := s.readRange(ctx, next, readPageMax)
			if err != nil {
				yield(ledger.Record{}, err)
				return
			}
			for _, r := range recs {
				if r.Position != next {
					yield(ledger.Record{}, &ledger.CorruptionError{Position: next, Location: fmt.Sprintf("stream %s revision %d", s.cfg.Stream, revisionOf(next)), Reason: fmt.Sprintf("position %d follows %d: events are missing", r.Position, next-1)})
					return
				}
				if !yield(r, nil) {
					return
				}
				next++
			}
			if len(recs) < readPageMax {
				return
			}
		}
	}
}

// Subscribe implements ledger.Store with a catch-up subscription to the log stream. When the
// server drops it, Subscribe subscribes again from the next position after
// Config.ResubscribeDelay; after resubscribeAttemptsMax drops in a row without a record it
// yields the last error. Close ends it with ledger.ErrClosed.
func (s *Store) Subscribe(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		next := max(from, 1)
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-sctx.Done():
			}
		}()
		end := func(err error) {
			switch {
			case ctx.Err() != nil:
				err = ctx.Err()
			case sctx.Err() != nil:
				err = ledger.ErrClosed
			}
			yield(ledger.Record{}, err)
		}
		failures := 0
		for {
			sub, err := s.c.Subscribe(sctx, s.cfg.Stream, revisionOf(next))
			for err == nil {
				var ev wireEvent
				if ev, err = sub.Recv(); err != nil {
					break
				}
				var r ledger.Record
				if r, err = decodeEvent(&ev); err != nil {
					sub.Close()
					end(err)
					return
				}
				if r.Position < next {
					continue
				}
				if r.Position != next {
					sub.Close()
					end(&ledger.CorruptionError{Position: next, Reason: fmt.Sprintf("subscription delivered position %d after %d", r.Position, next-1)})
					return
				}
				failures = 0
				if !yield(r, nil) {
					sub.Close()
					return
				}
				next++
			}
			if sub != nil {
				sub.Close()
			}
			if sctx.Err() != nil {
				end(sctx.Err())
				return
			}
			if failures++; failures >= resubscribeAttemptsMax || errors.Is(err, errDenied) || errors.Is(err, errDeleted) {
				end(fmt.Errorf("kurrent: subscribe to stream %s from revision %d: %w", s.cfg.Stream, revisionOf(next), err))
				return
			}
			t := time.NewTimer(s.cfg.ResubscribeDelay)
			select {
			case <-t.C:
			case <-sctx.Done():
				t.Stop()
				end(sctx.Err())
				return
			}
		}
	}
}

// Head implements ledger.Store: the last position stored by any writer.
func (s *Store) Head(ctx context.Context) (ledger.Position, error) {
	if err := s.catchUp(ctx); err != nil {
		return 0, err
	}
	return s.headNow(), nil
}

// Close implements ledger.Store: it waits for an append in flight, ends subscriptions and
// closes the connection. Closing twice is harmless.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	return s.c.Close()
}

var _ ledger.RecordAppender = (*Store)(nil)

// AppendRecords implements ledger.RecordAppender. It catches the index up, checks that recs
// continue the log (an error wrapping ledger.ErrCorrupt names the first record that does not,
// and nothing is appended) and appends them as they are, as many per call as fit the
// server's maximum append size. A call that fits one append is atomic; a longer one is
// appended piece by piece, and if it fails part-way the pieces stored stay: Head tells where
// to resume.
func (s *Store) AppendRecords(ctx context.Context, recs []ledger.Record) error {
	if len(recs) == 0 {
		return ctx.Err()
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.catchUp(ctx); err != nil {
		return err
	}
	s.mu.RLock()
	closed, failed := s.closed, s.failed
	err := logutil.CheckCopy(recs, s.tip())
	s.mu.RUnlock()
	switch {
	case closed:
		return ledger.ErrClosed
	case failed != nil:
		return failed
	case err != nil:
		return err
	}
	for len(recs) > 0 {
		var wire []wireEvent
		size := 0
		for len(wire) < len(recs) && len(wire) < copyEventsMax {
			w := encodeEvent(&recs[len(wire)])
			if size+wireBytes(&w) > s.cfg.AppendBytesMax && len(wire) > 0 {
				break
			}
			size += wireBytes(&w)
			wire = append(wire, w)
		}
		if size > s.cfg.AppendBytesMax {
			return fmt.Errorf("%w: record at position %d encodes to %d bytes, more than the server's maximum append size (%d)", ledger.ErrInvalidAppend, recs[0].Position, size, s.cfg.AppendBytesMax)
		}
		part := recs[:len(wire)]
		if _, err := s.c.Append(ctx, s.cfg.Stream, expectedLast(part[0].Position-1), wire); err != nil {
			return fmt.Errorf("kurrent: copy records %d-%d: %w (read Head to resume)", part[0].Position, part[len(part)-1].Position, err)
		}
		if err := s.apply(part); err != nil {
			return err
		}
		recs = recs[len(wire):]
	}
	return nil
}
