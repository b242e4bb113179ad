// Package logutil holds the mechanics every ledger backend shares: recognising an
// idempotent retry, and following the log's head for Subscribe.
package logutil

import (
	"context"
	"fmt"
	"iter"
	"sync"

	"github.com/google/uuid"

	"techledger/ledger"
)

// Lookup returns the stored record holding event ID id, if any.
type Lookup func(id uuid.UUID) (ledger.Record, bool, error)

// CheckRetry decides whether appending events to stream with expected is a retry of an
// append already stored. It returns dup=true with the original result when every ID is
// stored, in stream, consecutively in batch order, with the same content, at the place
// expected asks for. It returns dup=false and nil when no ID of the batch is stored, and
// an error wrapping ledger.ErrDuplicateEvent for any other reuse of a stored ID.
func CheckRetry(stream string, expected ledger.Expected, events []ledger.Event, lookup Lookup) (ledger.AppendResult, bool, error) {
	var res ledger.AppendResult
	found := 0
	var first ledger.Record
	for i, e := range events {
		rec, ok, err := lookup(e.ID)
		if err != nil {
			return res, false, err
		}
		if !ok {
			if found > 0 {
				return res, false, fmt.Errorf("%w: event %d (%s) is new but event 0 is stored at %s", ledger.ErrDuplicateEvent, i, e.ID, first.String())
			}
			continue
		}
		if found == 0 {
			if i > 0 {
				return res, false, fmt.Errorf("%w: event %d (%s) is stored at %s but event 0 is new", ledger.ErrDuplicateEvent, i, e.ID, rec.String())
			}
			first = rec
		}
		found++
		switch {
		case rec.Stream != stream:
			return res, false, fmt.Errorf("%w: event %d (%s) is stored in stream %q, not %q", ledger.ErrDuplicateEvent, i, e.ID, rec.Stream, stream)
		case rec.Version != first.Version+ledger.Version(i):
			return res, false, fmt.Errorf("%w: event %d (%s) is stored at %s, not right after event 0", ledger.ErrDuplicateEvent, i, e.ID, rec.String())
		case !rec.SameEvent(e):
			return res, false, fmt.Errorf("%w: event %d (%s) is stored at %s with other content", ledger.ErrDuplicateEvent, i, e.ID, rec.String())
		}
		res.Positions = append(res.Positions, rec.Position)
		res.Version = rec.Version
	}
	if found == 0 {
		return ledger.AppendResult{}, false, nil
	}
	if !expected.IsAny() && expected.Version() != first.Version-1 {
		return ledger.AppendResult{}, false, fmt.Errorf("%w: events are stored at %s, but the append expected %v", ledger.ErrDuplicateEvent, first.String(), expected)
	}
	res.Duplicate = true
	return res, true, nil
}

// Head tracks the last committed position and wakes goroutines waiting for it to move.
// The zero value is ready to use.
type Head struct {
	mu     sync.Mutex
	pos    ledger.Position
	ch     chan struct{}
	closed bool
}

// Load returns the current head.
func (h *Head) Load() ledger.Position {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pos
}

// Set moves the head to p and wakes every waiter.
func (h *Head) Set(p ledger.Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos = p
	if h.ch != nil {
		close(h.ch)
		h.ch = nil
	}
}

// Close wakes every waiter for good; Wait then returns ledger.ErrClosed.
func (h *Head) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.ch != nil {
		close(h.ch)
		h.ch = nil
	}
}

// Wait blocks until the head is past after, ctx is done, or the head is closed.
func (h *Head) Wait(ctx context.Context, after ledger.Position) error {
	for {
		h.mu.Lock()
		if h.pos > after {
			h.mu.Unlock()
			return nil
		}
		if h.closed {
			h.mu.Unlock()
			return ledger.ErrClosed
		}
		if h.ch == nil {
			h.ch = make(chan struct{})
		}
		ch := h.ch
		h.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Follow implements Store.Subscribe over a store's ReadAll and its Head: it reads what is
// stored, then waits for the head to move and reads again, so a slow consumer reads from
// the log and never holds up a writer.
func Follow(ctx context.Context, from ledger.Position, readAll func(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error], head *Head) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		next := max(from, 1)
		for {
			for rec, err := range readAll(ctx, next) {
				if err != nil {
					yield(ledger.Record{}, err)
					return
				}
				if !yield(rec, nil) {
					return
				}
				next = rec.Position + 1
			}
			if err := head.Wait(ctx, next-1); err != nil {
				yield(ledger.Record{}, err)
				return
			}
		}
	}
}
