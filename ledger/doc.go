// Package ledger is techledger's vocabulary and its log.
//
// Every fact techledger knows is an event appended to an immutable log. This package
// defines what such a fact looks like and what a log must promise, and nothing else: it
// holds no business rules (those live in package commands) and no read models (package
// projections). Backends live in sub-packages (memstore, filestore, …) and all pass the
// one conformance suite in ledger/storetest.
//
// The loop the rest of techledger builds on:
//
//	state   := fold(store.ReadStream(ctx, "contract-2023140101000123", 1))   // commands
//	events  := decide(state, command, now, ids)                             // pure
//	result  := store.Append(ctx, stream, ledger.Exactly(state.Version), events...)
//	for rec, err := range store.Subscribe(ctx, checkpoint) { model = apply(model, rec) } // projections
//
// # Records
//
// An [Event] is what a caller proposes: an ID (UUIDv7, chosen by the caller so that a
// retried append is recognised), a type, a schema version, JSON data and [Metadata] (who,
// in which role, under which command, why). A [Record] is an event as the store keeps it:
// with its stream, its 1-based stream [Version], its global [Position] (strictly
// increasing, no gaps, starting at 1), the UTC time it was recorded, and a SHA-256 hash
// that covers all of that plus the hash of the record before it. Changing any byte of any
// record breaks the chain from that record on, which [Verify] reports.
//
// # Domain events
//
// The facts of docs/domain.md are Go types ([ContractRegistered], [ContractAmended],
// [ContractRevoked], [RightsAssigned], [PaymentRecorded]) with a codec ([Encode],
// [Decode]) that refuses an unknown type or schema version instead of guessing.
package ledger
