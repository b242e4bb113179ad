// Package memstore is the in-memory reference implementation of ledger.Store. It keeps
// nothing across restarts; it is the test double for commands and projections and the
// yardstick the conformance suite is written against.
package memstore

import (
	"context"
	"iter"
	"sync"
	"time"

	"github.com/google/uuid"

	"techledger/ledger"
	"techledger/ledger/internal/logutil"
)

var _ ledger.Store = (*Store)(nil)

// Store is an in-memory ledger.Store. It is safe for concurrent use. "Durable" here means
// only "visible to every later read": nothing survives the process.
type Store struct {
	// Now returns the time recorded with new records; nil means time.Now. Recorded times
	// never go backwards: a record gets max(Now(), previous record's time).
	Now func() time.Time

	mu      sync.RWMutex
	records []ledger.Record // records[i] has position i+1
	streams map[string][]ledger.Position
	ids     map[uuid.UUID]ledger.Position
	closed  bool
	head    logutil.Head
}

// New returns an empty store.
func New() *Store {
	return &Store{streams: make(map[string][]ledger.Position), ids: make(map[uuid.UUID]ledger.Position)}
}

// Append implements ledger.Store.
func (s *Store) Append(ctx context.Context, stream string, expected ledger.Expected, events ...ledger.Event) (ledger.AppendResult, error) {
	if err := ledger.ValidateAppend(stream, events); err != nil {
		return ledger.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return ledger.AppendResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ledger.AppendResult{}, ledger.ErrClosed
	}
	res, dup, err := logutil.CheckRetry(stream, expected, events, s.lookup)
	if err != nil || dup {
		return res, err
	}
	current := ledger.Version(len(s.streams[stream]))
	if !expected.Matches(current) {
		return ledger.AppendResult{}, &ledger.VersionError{Stream: stream, Expected: expected, Actual: current}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now().UTC()
	var prev ledger.Hash
	if n := len(s.records); n > 0 {
		last := &s.records[n-1]
		prev = last.Hash
		if at.Before(last.RecordedAt) {
			at = last.RecordedAt
		}
	}
	for i, e := range events {
		rec := ledger.Record{
			ID: e.ID, Stream: stream, Version: current + ledger.Version(i) + 1,
			Position: ledger.Position(len(s.records) + 1), Type: e.Type, SchemaVersion: e.SchemaVersion,
			RecordedAt: at, Data: clone(e.Data), Metadata: e.Metadata,
		}
		rec.Seal(prev)
		prev = rec.Hash
		s.records = append(s.records, rec)
		s.streams[stream] = append(s.streams[stream], rec.Position)
		s.ids[e.ID] = rec.Position
		res.Positions = append(res.Positions, rec.Position)
		res.Version = rec.Version
	}
	s.head.Set(ledger.Position(len(s.records)))
	return res, nil
}

func (s *Store) lookup(id uuid.UUID) (ledger.Record, bool, error) {
	p, ok := s.ids[id]
	if !ok {
		return ledger.Record{}, false, nil
	}
	return s.records[p-1], true, nil
}

// ReadStream implements ledger.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		s.mu.RLock()
		positions := s.streams[stream]
		s.mu.RUnlock()
		for v := max(from, 1); int(v) <= len(positions); v++ {
			if err := ctx.Err(); err != nil {
				yield(ledger.Record{}, err)
				return
			}
			if !yield(s.at(positions[v-1]), nil) {
				return
			}
		}
	}
}

// ReadAll implements ledger.Store.
func (s *Store) ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		head := s.head.Load()
		for p := max(from, 1); p <= head; p++ {
			if err := ctx.Err(); err != nil {
				yield(ledger.Record{}, err)
				return
			}
			if !yield(s.at(p), nil) {
				return
			}
		}
	}
}

// at returns a copy of the record at p, which must be committed.
func (s *Store) at(p ledger.Position) ledger.Record {
	s.mu.RLock()
	rec := s.records[p-1]
	s.mu.RUnlock()
	rec.Data = clone(rec.Data)
	return rec
}

// Subscribe implements ledger.Store.
func (s *Store) Subscribe(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return logutil.Follow(ctx, from, s.ReadAll, &s.head)
}

// Head implements ledger.Store.
func (s *Store) Head(ctx context.Context) (ledger.Position, error) {
	return s.head.Load(), ctx.Err()
}

// Close implements ledger.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.head.Close()
	return nil
}

// Tamper replaces the data of the record at p without resealing it, for tests that prove
// Verify catches an altered log. It panics if p is not stored.
func (s *Store) Tamper(p ledger.Position, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[p-1].Data = clone(data)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

var _ ledger.RecordAppender = (*Store)(nil)

// AppendRecords implements ledger.RecordAppender: it appends recs as they are, after checking
// that they continue the log (logutil.CheckCopy). It is atomic: either every record is appended
// or, with an error wrapping ledger.ErrCorrupt naming the first bad record, none is.
func (s *Store) AppendRecords(ctx context.Context, recs []ledger.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ledger.ErrClosed
	}
	tip := logutil.Tip{
		Head:    ledger.Position(len(s.records)),
		Version: func(stream string) ledger.Version { return ledger.Version(len(s.streams[stream])) },
		Stored:  func(id uuid.UUID) bool { _, ok := s.ids[id]; return ok },
	}
	if n := len(s.records); n > 0 {
		tip.HeadHash = s.records[n-1].Hash
	}
	if err := logutil.CheckCopy(recs, tip); err != nil {
		return err
	}
	for _, r := range recs {
		r.Data = clone(r.Data)
		s.records = append(s.records, r)
		s.streams[r.Stream] = append(s.streams[r.Stream], r.Position)
		s.ids[r.ID] = r.Position
	}
	s.head.Set(ledger.Position(len(s.records)))
	return nil
}
