package projections

import (
	"context"
	"fmt"
	"iter"

	"techledger/ledger"
)

// Reader is what a replay needs of a ledger.Store.
type Reader interface {
	ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error]
}

// replayBatch is how many records travel together from the decoding goroutine to the
// fold.
const replayBatch = 256

// batch is records read and decoded, on their way to the fold.
type batch struct {
	recs  []ledger.Record
	views []view
	err   error // the read or decode error after the records (if any)
}

// Replay folds the records of log after st.Position() into st, up to position to (0: up to
// the head of the log when the read started). Reading and decoding run on one goroutine
// and the fold on the caller's, in batches, so a replay uses two cores.
func Replay(ctx context.Context, log Reader, st *State, to ledger.Position) error {
	if to != 0 && to <= st.Position() {
		if to < st.Position() {
			return fmt.Errorf("projections: replay to position %d: the state is already at %d", to, st.Position())
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan *batch, 4)
	free := make(chan *batch, 4)
	for range cap(free) {
		free <- &batch{recs: make([]ledger.Record, 0, replayBatch), views: make([]view, replayBatch)}
	}
	go func() {
		defer close(full)
		var b *batch
		next := func() bool {
			select {
			case b = <-free:
				b.recs, b.err = b.recs[:0], nil
				return true
			case <-ctx.Done():
				return false
			}
		}
		if !next() {
			return
		}
		for rec, err := range log.ReadAll(ctx, st.Position()+1) {
			if err == nil {
				b.recs = append(b.recs, rec)
				i := len(b.recs) - 1
				err = decodeView(&b.recs[i], &b.views[i])
				if err != nil {
					b.recs = b.recs[:i]
				}
			}
			if err != nil {
				b.err = err
				full <- b
				return
			}
			if len(b.recs) == replayBatch || rec.Position == to {
				full <- b
				if rec.Position == to || !next() {
					return
				}
			}
		}
		if len(b.recs) > 0 {
			full <- b
		}
	}()
	for b := range full {
		for i := range b.recs {
			if err := st.applyView(&b.recs[i], &b.views[i]); err != nil {
				return fmt.Errorf("projections: replay: %w", err)
			}
		}
		if b.err != nil {
			return fmt.Errorf("projections: replay: %w", b.err)
		}
		if st.Position() == to {
			return nil
		}
		free <- b
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if to != 0 && st.Position() < to {
		return fmt.Errorf("projections: replay to position %d: the log ends at %d", to, st.Position())
	}
	return nil
}
