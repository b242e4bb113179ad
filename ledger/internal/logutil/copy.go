package logutil

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"techledger/ledger"
)

// Tip is where a log ends, as ledger.RecordAppender's rules need it: the head position, the
// head record's hash, each stream's version and whether an event ID is stored.
type Tip struct {
	Head     ledger.Position
	HeadHash ledger.Hash
	Version  func(stream string) ledger.Version
	Stored   func(id uuid.UUID) bool
}

// CheckCopy checks that recs continue the log ending at tip exactly, as
// ledger.RecordAppender.AppendRecords requires: consecutive positions from tip.Head+1, each
// PrevHash the hash of the record before, each Hash its ComputeHash, each version one past its
// stream's, event IDs new, a valid stream name, a UTC recorded-at time. It returns a
// *ledger.CorruptionError naming the first record that breaks a rule, or nil.
func CheckCopy(recs []ledger.Record, tip Tip) error {
	prev := tip.Head
	prevHash := tip.HeadHash
	versions := make(map[string]ledger.Version)
	ids := make(map[uuid.UUID]struct{}, len(recs))
	for i := range recs {
		r := &recs[i]
		bad := func(format string, args ...any) error {
			return &ledger.CorruptionError{Position: r.Position, Location: fmt.Sprintf("copied record %d", i), Reason: fmt.Sprintf(format, args...)}
		}
		v, ok := versions[r.Stream]
		if !ok {
			v = tip.Version(r.Stream)
		}
		_, twice := ids[r.ID]
		switch {
		case r.Position != prev+1:
			return bad("position %d does not follow %d", r.Position, prev)
		case ledger.ValidateStream(r.Stream) != nil:
			return bad("stream %q: %v", r.Stream, ledger.ValidateStream(r.Stream))
		case r.Version != v+1:
			return bad("stream %q version %d does not follow %d", r.Stream, r.Version, v)
		case r.PrevHash != prevHash:
			return bad("previous hash %s does not match hash %s of position %d", r.PrevHash, prevHash, prev)
		case r.Hash != r.ComputeHash():
			return bad("hash mismatch: stored %s, content hashes to %s", r.Hash, r.ComputeHash())
		case r.RecordedAt.Location() != time.UTC:
			return bad("recorded_at %s is not UTC", r.RecordedAt)
		case r.ID == uuid.Nil:
			return bad("event id is missing")
		case twice || tip.Stored(r.ID):
			return bad("event id %s is already stored", r.ID)
		}
		versions[r.Stream] = r.Version
		ids[r.ID] = struct{}{}
		prev, prevHash = r.Position, r.Hash
	}
	return nil
}
