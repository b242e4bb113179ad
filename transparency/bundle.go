package transparency

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger"
)

// BundleFormat names the bundle layout (docs/transparency.md).
const BundleFormat = "techledger-proof-bundle/1"

// Limits Audit enforces on a bundle; past them it refuses the bundle.
const (
	// BundleRecordsMax bounds the records of one contract in a bundle.
	BundleRecordsMax = 100_000
	// ProofHashesMax bounds an inclusion or consistency proof (a tree of 2^63 leaves
	// needs 63).
	ProofHashesMax = 64
)

// Bundle is a contract's proof bundle: a signed checkpoint and, for each of the
// contract's records that it covers, the record's binary encoding and its inclusion proof
// at the checkpoint's size. Audit checks it with nothing but the verifier key.
type Bundle struct {
	Format     string         `json:"format"`
	ContractID string         `json:"contract_id"`
	Checkpoint string         `json:"checkpoint"` // the signed note
	Records    []BundleRecord `json:"records"`
}

// BundleRecord is one record of a Bundle.
type BundleRecord struct {
	Position ledger.Position `json:"position"`
	PrevHash ledger.Hash     `json:"prev_hash"` // hex
	// Record is the record's binary encoding (ledger.Record.AppendBinary): its canonical
	// bytes followed by their SHA-256, the chain hash (base64 in JSON).
	Record []byte `json:"record"`
	// Proof is the inclusion proof of the leaf SHA-256(0x00 ‖ chain hash) at the
	// checkpoint's size (RFC 6962 audit path, base64 hashes).
	Proof tlog.RecordProof `json:"proof"`
}

// Bundle builds the proof bundle of a contract at the latest signed checkpoint. Records
// appended after that checkpoint are not in it. It returns ErrNoCheckpoint before the
// first checkpoint and ErrNotFound when the contract has no record in the signed tree.
func (l *Log) Bundle(ctx context.Context, contractID string) (*Bundle, error) {
	sr, ok := l.src.(StreamReader)
	if !ok {
		return nil, fmt.Errorf("transparency: the store cannot read a stream")
	}
	cp, msg, err := l.Latest()
	if err != nil {
		return nil, err
	}
	b := &Bundle{Format: BundleFormat, ContractID: contractID, Checkpoint: string(msg)}
	for rec, err := range sr.ReadStream(ctx, ledger.ContractStream(contractID), 1) {
		if err != nil {
			return nil, fmt.Errorf("transparency: read contract %s: %w", contractID, err)
		}
		if int64(rec.Position) > cp.Size {
			break
		}
		_, proof, err := l.InclusionProof(rec.Position, cp.Size)
		if err != nil {
			return nil, fmt.Errorf("transparency: prove position %d: %w", rec.Position, err)
		}
		b.Records = append(b.Records, BundleRecord{Position: rec.Position, PrevHash: rec.PrevHash, Record: rec.AppendBinary(nil), Proof: proof})
	}
	if len(b.Records) == 0 {
		return nil, fmt.Errorf("contract %s at size %d: %w", contractID, cp.Size, ErrNotFound)
	}
	return b, nil
}
