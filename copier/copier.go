// Package copier moves a ledger from one store to another with every record as it is:
// position, event ID, stream, version, recorded-at time, metadata and hashes. The target
// appends the records through ledger.RecordAppender, so the copy has the same hash chain and
// the same head hash, and everything built on it (projections, reports, transparency
// checkpoints) is the same.
//
// A copy is resumable: run it again after an interruption and it continues from the target's
// head, after checking that the records the target holds are the source's. It ends by
// verifying both logs in full and comparing their heads.
package copier

import (
	"context"
	"errors"
	"fmt"

	"techledger/ledger"
)

// ErrMismatch means the target holds records that are not the source's (another ledger, or
// a diverged copy): nothing is copied.
var ErrMismatch = errors.New("copy: the target is not a prefix of the source")

// Options tune a copy.
type Options struct {
	// BatchRecords is how many records go to one AppendRecords call (default and at most
	// BatchRecordsMax). Each call is durable when it returns, so an interruption loses at
	// most the batch in flight.
	BatchRecords int
	// Progress, if set, is called after each batch with the target's new head and the
	// position the copy runs to.
	Progress func(done, total ledger.Position)
}

// BatchRecordsMax bounds Options.BatchRecords: one Append batch's limit, which every backend
// accepts in one AppendRecords call (the filestore writes a call as one frame).
const BatchRecordsMax = ledger.EventsPerAppendMax

// Report says what a copy did and what both sides verified.
type Report struct {
	// Resumed is the target's head when the copy started (0 for an empty target).
	Resumed ledger.Position `json:"resumed_from"`
	// Copied is how many records this run appended.
	Copied uint64 `json:"copied"`
	// Source and Target are what verifying each log in full found; a finished copy has the
	// same head and head hash on both.
	Source ledger.VerifyReport `json:"source"`
	Target ledger.VerifyReport `json:"target"`
}

// Copy appends to `to` every record of `from` that `to` does not hold yet, up to from's head
// when the copy starts, then verifies both logs. `to` must implement ledger.RecordAppender and
// must not be written by anything else meanwhile; `from` may keep growing (records after its
// starting head are left for the next run).
//
// If `to` is not empty, its last record must be the source's record at that position, field
// for field (by the hash chain, so is everything before it: the final verification of both
// logs proves it); otherwise Copy returns ErrMismatch and copies nothing. If `to` is ahead of
// `from` it returns ErrMismatch too. After an interruption (an error, a cancelled ctx, a
// crash) run Copy again: it resumes from the target's head.
func Copy(ctx context.Context, from, to ledger.Store, opts Options) (Report, error) {
	var rep Report
	ra, ok := to.(ledger.RecordAppender)
	if !ok {
		return rep, fmt.Errorf("copy: the target store (%T) cannot append copied records", to)
	}
	n := opts.BatchRecords
	if n <= 0 {
		n = BatchRecordsMax
	}
	if n > BatchRecordsMax {
		return rep, fmt.Errorf("copy: batch of %d records: more than BatchRecordsMax (%d)", n, BatchRecordsMax)
	}
	end, err := from.Head(ctx)
	if err != nil {
		return rep, fmt.Errorf("copy: source head: %w", err)
	}
	start, err := to.Head(ctx)
	if err != nil {
		return rep, fmt.Errorf("copy: target head: %w", err)
	}
	rep.Resumed = start
	if start > end {
		return rep, fmt.Errorf("%w: the target's head %d is past the source's %d", ErrMismatch, start, end)
	}
	if start > 0 {
		if err := sameRecord(ctx, from, to, start); err != nil {
			return rep, err
		}
	}
	batch := make([]ledger.Record, 0, n)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ra.AppendRecords(ctx, batch); err != nil {
			return fmt.Errorf("copy: append records %d-%d: %w (run the copy again to resume)", batch[0].Position, batch[len(batch)-1].Position, err)
		}
		rep.Copied += uint64(len(batch))
		if opts.Progress != nil {
			opts.Progress(batch[len(batch)-1].Position, end)
		}
		batch = batch[:0]
		return nil
	}
	if start < end {
		for rec, err := range from.ReadAll(ctx, start+1) {
			if err != nil {
				return rep, fmt.Errorf("copy: read source: %w", err)
			}
			batch = append(batch, rec)
			if len(batch) == n || rec.Position == end {
				if err := flush(); err != nil {
					return rep, err
				}
			}
			if rec.Position == end {
				break
			}
		}
		if err := flush(); err != nil {
			return rep, err
		}
	}
	if rep.Source, err = verify(ctx, from, end); err != nil {
		return rep, fmt.Errorf("copy: verify source: %w", err)
	}
	if rep.Target, err = verify(ctx, to, end); err != nil {
		return rep, fmt.Errorf("copy: verify target: %w", err)
	}
	if rep.Source != rep.Target {
		return rep, fmt.Errorf("%w: source verifies to head %d hash %s, target to head %d hash %s", ErrMismatch, rep.Source.Head, rep.Source.HeadHash, rep.Target.Head, rep.Target.HeadHash)
	}
	return rep, nil
}

// sameRecord checks that both stores hold the same record at position p.
func sameRecord(ctx context.Context, from, to ledger.Store, p ledger.Position) error {
	a, err := recordAt(ctx, from, p)
	if err != nil {
		return fmt.Errorf("copy: read source: %w", err)
	}
	b, err := recordAt(ctx, to, p)
	if err != nil {
		return fmt.Errorf("copy: read target: %w", err)
	}
	if a.Hash != b.Hash || a.ID != b.ID || a.Hash != a.ComputeHash() || b.Hash != b.ComputeHash() {
		return fmt.Errorf("%w: at position %d the source holds %s (hash %s), the target %s (hash %s)", ErrMismatch, p, a.String(), a.Hash, b.String(), b.Hash)
	}
	return nil
}

func recordAt(ctx context.Context, s ledger.Store, p ledger.Position) (ledger.Record, error) {
	for rec, err := range s.ReadAll(ctx, p) {
		if err != nil {
			return rec, err
		}
		if rec.Position != p {
			return rec, fmt.Errorf("read position %d, got %d", p, rec.Position)
		}
		return rec, nil
	}
	return ledger.Record{}, fmt.Errorf("position %d: not stored", p)
}

// verify checks a log in full up to position end (the store's own Verify when it has one and
// the log ends there).
func verify(ctx context.Context, s ledger.Store, end ledger.Position) (ledger.VerifyReport, error) {
	if v, ok := s.(ledger.Verifier); ok {
		if h, err := s.Head(ctx); err == nil && h == end {
			return v.Verify(ctx)
		}
	}
	return ledger.Verify(ctx, func(yield func(ledger.Record, error) bool) {
		for rec, err := range s.ReadAll(ctx, 1) {
			if err == nil && rec.Position > end {
				return
			}
			if !yield(rec, err) || err != nil {
				return
			}
		}
	})
}
