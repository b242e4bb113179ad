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

// Replay folds the records of log after st.Position() into st, up to position to (0: up to
// the head of the log when the read started).
func Replay(ctx context.Context, log Reader, st *State, to ledger.Position) error {
	if to != 0 && to <= st.Position() {
		if to < st.Position() {
			return fmt.Errorf("projections: replay to position %d: the state is already at %d", to, st.Position())
		}
		return nil
	}
	for rec, err := range log.ReadAll(ctx, st.Position()+1) {
		if err != nil {
			return fmt.Errorf("projections: replay: %w", err)
		}
		if err := st.Apply(&rec); err != nil {
			return fmt.Errorf("projections: replay: %w", err)
		}
		if rec.Position == to {
			return nil
		}
	}
	if to != 0 && st.Position() < to {
		return fmt.Errorf("projections: replay to position %d: the log ends at %d", to, st.Position())
	}
	return nil
}
