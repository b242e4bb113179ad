package transparency

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger"
)

// This file is the verifier. It reads only what an outsider holds (a bundle, signed notes,
// a proof, a verifier key) and checks proofs with tlog.CheckRecord and tlog.CheckTree.

// AuditReport describes a bundle that checked out.
type AuditReport struct {
	ContractID string
	Checkpoint Checkpoint
	Events     int               // records of the contract, versions 1..Events
	Positions  []ledger.Position // their positions in the log
	LeafHash   tlog.Hash         // the leaf of the first record (the registration)
}

// AuditError lists everything wrong with a bundle, one problem a line.
type AuditError struct{ Problems []string }

func (e *AuditError) Error() string {
	return "audit failed:\n  " + strings.Join(e.Problems, "\n  ")
}

// Audit checks a contract's proof bundle with the verifier key vkey: the checkpoint's
// signature and origin; for each record, that its bytes hash to its chain hash, that it
// holds the position and previous hash the bundle lists, and that its inclusion proof leads
// to the checkpoint's root; and that the records are the contract's stream with versions
// 1..n in log order, starting with its registration, nothing missing in between. It
// returns an *AuditError naming every problem found.
//
// Inclusion proves that each record is in the signed log, not that the bundle holds every
// record of the contract: a gap in the versions shows, events after the last one in the
// bundle cannot (docs/transparency.md, "What a bundle proves").
func Audit(b *Bundle, vkey string) (AuditReport, error) {
	var rep AuditReport
	fail := func(format string, args ...any) (AuditReport, error) {
		return rep, &AuditError{Problems: []string{fmt.Sprintf(format, args...)}}
	}
	if b.Format != BundleFormat {
		return fail("bundle format %q: want %q", b.Format, BundleFormat)
	}
	if len(b.Records) == 0 {
		return fail("bundle holds no record")
	}
	if len(b.Records) > BundleRecordsMax {
		return fail("bundle holds %d records, more than BundleRecordsMax (%d)", len(b.Records), BundleRecordsMax)
	}
	if len(b.Checkpoint) > NoteBytesMax {
		return fail("checkpoint: %d bytes exceed NoteBytesMax", len(b.Checkpoint))
	}
	cp, err := OpenCheckpoint([]byte(b.Checkpoint), vkey)
	if err != nil {
		return fail("%v", err)
	}
	rep.ContractID, rep.Checkpoint = b.ContractID, cp
	stream := ledger.ContractStream(b.ContractID)
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var prevPos ledger.Position
	var prevVersion ledger.Version
	for i, br := range b.Records {
		where := fmt.Sprintf("record %d (position %d)", i+1, br.Position)
		if len(br.Record) <= sha256.Size {
			bad("%s: encoding of %d bytes is too short", where, len(br.Record))
			continue
		}
		content, stated := br.Record[:len(br.Record)-sha256.Size], br.Record[len(br.Record)-sha256.Size:]
		chain := ledger.Hash(sha256.Sum256(content))
		if chain != ledger.Hash(stated) {
			bad("%s: content hashes to %s but the record states %s (changed bytes)", where, chain, ledger.Hash(stated))
		}
		var rec ledger.Record
		if err := rec.UnmarshalBinary(br.Record); err != nil {
			bad("%s: does not decode: %v", where, err)
			continue
		}
		where = fmt.Sprintf("record %d (position %d, %s version %d, %s)", i+1, br.Position, rec.Stream, rec.Version, rec.Type)
		if rec.Position != br.Position {
			bad("%s: its bytes hold position %d", where, rec.Position)
		}
		if rec.PrevHash != br.PrevHash {
			bad("%s: its bytes hold previous hash %s, the bundle lists %s", where, rec.PrevHash, br.PrevHash)
		}
		switch {
		case br.Position < 1 || int64(br.Position) > cp.Size:
			bad("%s: position outside the checkpoint's tree of size %d", where, cp.Size)
		case len(br.Proof) > ProofHashesMax:
			bad("%s: inclusion proof of %d hashes exceeds ProofHashesMax", where, len(br.Proof))
		default:
			if err := tlog.CheckRecord(br.Proof, cp.Size, cp.Root, int64(br.Position)-1, LeafHash(chain)); err != nil {
				bad("%s: not in the signed log: its inclusion proof does not lead to the root %s of size %d", where, cp.Root, cp.Size)
			}
		}
		if rec.Stream != stream {
			bad("%s: belongs to stream %q, not %q", where, rec.Stream, stream)
		}
		switch {
		case rec.Version == prevVersion+1:
		case rec.Version > prevVersion+1:
			bad("%s: follows version %d: %s missing", where, prevVersion, versions(prevVersion+1, rec.Version-1))
		default:
			bad("%s: follows version %d: records out of order or repeated", where, prevVersion)
		}
		if i > 0 && rec.Position <= prevPos {
			bad("%s: follows position %d: records out of log order", where, prevPos)
		}
		if i == 0 {
			rep.LeafHash = LeafHash(chain)
			if rec.Type != ledger.TypeContractRegistered {
				bad("%s: the first record is not the contract's registration (%s)", where, ledger.TypeContractRegistered)
			}
		}
		prevPos, prevVersion = rec.Position, rec.Version
		rep.Positions = append(rep.Positions, rec.Position)
	}
	if len(problems) > 0 {
		return rep, &AuditError{Problems: problems}
	}
	rep.Events = len(b.Records)
	return rep, nil
}

func versions(from, to ledger.Version) string {
	if from == to {
		return fmt.Sprintf("version %d", from)
	}
	return fmt.Sprintf("versions %d to %d", from, to)
}

// Outcome is what CheckConsistency found.
type Outcome int

const (
	// Consistent: the fetched checkpoint is the saved one or extends it.
	Consistent Outcome = iota
	// Rollback: the fetched checkpoint has fewer records than the saved one.
	Rollback
	// Fork: the fetched checkpoint has the saved size with another root, or a larger size
	// that does not extend the saved tree (no valid consistency proof).
	Fork
)

func (o Outcome) String() string {
	switch o {
	case Consistent:
		return "consistent"
	case Rollback:
		return "rollback"
	case Fork:
		return "fork"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Consistency is the result of comparing a saved checkpoint with a fetched one. For a
// rollback or a fork, the two signed notes are the evidence: both verify with the log's
// key, and no honest log signs both.
type Consistency struct {
	Outcome              Outcome
	Saved, Fetched       Checkpoint
	SavedNote, FetchNote []byte
	Reason               string
}

// CheckConsistency verifies the saved and the fetched signed checkpoints with vkey and,
// when the fetched one is larger, the consistency proof between them. An error means an
// input is not valid (a signature that does not verify, a malformed note): that is not
// evidence against the log, only a bad input.
func CheckConsistency(vkey string, saved, fetched []byte, proof tlog.TreeProof) (Consistency, error) {
	c := Consistency{SavedNote: saved, FetchNote: fetched}
	var err error
	if c.Saved, err = OpenCheckpoint(saved, vkey); err != nil {
		return c, fmt.Errorf("saved %w", err)
	}
	if c.Fetched, err = OpenCheckpoint(fetched, vkey); err != nil {
		return c, fmt.Errorf("fetched %w", err)
	}
	if c.Saved.Size < 1 {
		return c, fmt.Errorf("saved checkpoint: size 0 proves nothing")
	}
	if len(proof) > ProofHashesMax {
		return c, fmt.Errorf("consistency proof of %d hashes exceeds ProofHashesMax", len(proof))
	}
	s, f := c.Saved, c.Fetched
	switch {
	case f.Size < s.Size:
		c.Outcome, c.Reason = Rollback, fmt.Sprintf("the log now signs size %d, smaller than the saved size %d", f.Size, s.Size)
	case f.Size == s.Size && f.Root == s.Root:
		c.Outcome, c.Reason = Consistent, fmt.Sprintf("the log still signs size %d with the saved root", f.Size)
	case f.Size == s.Size:
		c.Outcome, c.Reason = Fork, fmt.Sprintf("two checkpoints of size %d with different roots %s and %s", f.Size, s.Root, f.Root)
	default:
		if err := tlog.CheckTree(proof, f.Size, f.Root, s.Size, s.Root); err != nil {
			c.Outcome, c.Reason = Fork, fmt.Sprintf("the tree of size %d (root %s) does not extend the saved tree of size %d (root %s): the consistency proof fails", f.Size, f.Root, s.Size, s.Root)
		} else {
			c.Outcome, c.Reason = Consistent, fmt.Sprintf("the tree of size %d extends the saved tree of size %d", f.Size, s.Size)
		}
	}
	return c, nil
}
