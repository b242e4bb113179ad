package server

import (
	"context"
	"iter"

	"techledger/ledger"
)

// RecordView is a record as the API and the CLI show it (GET /v1/events, a contract's
// history, techledger export); the shape is ledger's, so that a follower reads it back.
type RecordView = ledger.RecordView

// ViewOf returns the view of r.
func ViewOf(r ledger.Record) RecordView { return ledger.ViewOf(r) }

// StreamReader reads one stream of a ledger (any ledger.Store).
type StreamReader interface {
	ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error]
}

// History returns every record of a contract's stream, in order; none if the contract is
// not registered.
func History(ctx context.Context, s StreamReader, contractID string) ([]RecordView, error) {
	var out []RecordView
	for rec, err := range s.ReadStream(ctx, ledger.ContractStream(contractID), 1) {
		if err != nil {
			return nil, err
		}
		out = append(out, ViewOf(rec))
	}
	return out, nil
}
