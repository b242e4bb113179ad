// Package transparency makes the ledger a transparency log: a Merkle tree over the records
// in position order (RFC 6962 hashing, leaf index = position − 1, leaf data = the record's
// chain hash), signed checkpoints in the C2SP tlog-checkpoint format, inclusion and
// consistency proofs against signed sizes, tiles in the tlog-tiles layout, and a proof
// bundle for one contract that Audit checks offline with nothing but a verifier key.
//
// The hashing, the stored-hash layout and the proofs are golang.org/x/mod/sumdb/tlog; the
// signed notes are golang.org/x/mod/sumdb/note. This package only stores and serves them.
// A Witness (witness.go, C2SP tlog-witness) cosigns a log's checkpoints once a consistency
// proof shows they extend the last one it cosigned (cosignatures by
// github.com/transparency-dev/formats/note).
//
// A Log follows any ledger store through ReadAll and Subscribe (see Source), so it works
// the same over every backend. docs/transparency.md describes the leaf data, the files, the
// checkpoint and bundle formats, the audit outcomes, key rotation and the witness.
//
// Audit and CheckConsistency (audit.go) are the verifier: they read only what an outsider
// has (a bundle or two signed notes and a proof, and a verifier key) and share no code with
// the side that produces them beyond the record codec of package ledger.
package transparency
