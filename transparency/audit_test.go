package transparency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger"
	"techledger/ledger/memstore"
	"techledger/transparency"
)

// scenario is a log of 5 contracts × 4 events (20 records, each contract's spread over
// the log), its signed checkpoint (what an auditor saved) and contract 2's bundle.
type scenario struct {
	store *memstore.Store
	log   *transparency.Log
	saved []byte
	recs  []ledger.Record
	b     *transparency.Bundle
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	s := memstore.New()
	fill(t, s, 5, 4)
	l := openLog(t, s, t.TempDir())
	_, err := l.SignNow()
	require.NoError(t, err)
	_, saved, err := l.Latest()
	require.NoError(t, err)
	b, err := l.Bundle(context.Background(), contractID(2))
	require.NoError(t, err)
	return &scenario{store: s, log: l, saved: saved, recs: records(t, s), b: b}
}

// clone deep-copies a bundle through its JSON form (which is also what audit reads).
func clone(t *testing.T, b *transparency.Bundle) *transparency.Bundle {
	t.Helper()
	j, err := json.Marshal(b)
	require.NoError(t, err)
	var out transparency.Bundle
	require.NoError(t, json.Unmarshal(j, &out))
	return &out
}

// signRewritten signs a checkpoint over a rewritten log with skey and returns the note and
// the rewritten log's bundle for contract 2.
func signRewritten(t *testing.T, src transparency.Source, skey string) ([]byte, *transparency.Bundle, *transparency.Log) {
	t.Helper()
	l, err := transparency.Open(context.Background(), src, options(t, t.TempDir(), skey))
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	_, err = l.SignNow()
	require.NoError(t, err)
	_, msg, err := l.Latest()
	require.NoError(t, err)
	b, err := l.Bundle(context.Background(), contractID(2))
	require.NoError(t, err)
	return msg, b, l
}

func requireAuditFails(t *testing.T, b *transparency.Bundle, vkey string, want ...string) {
	t.Helper()
	_, err := transparency.Audit(b, vkey)
	require.Error(t, err)
	for _, w := range want {
		require.Contains(t, err.Error(), w)
	}
}

func TestAudit_ValidBundle(t *testing.T) {
	sc := newScenario(t)
	rep, err := transparency.Audit(clone(t, sc.b), testVKey)
	require.NoError(t, err)
	require.Equal(t, 4, rep.Events)
	require.Equal(t, int64(20), rep.Checkpoint.Size)
	require.Equal(t, []ledger.Position{3, 8, 13, 18}, rep.Positions)
	require.Equal(t, transparency.LeafHash(sc.recs[2].Hash), rep.LeafHash)
}

// TestAudit_ChangedByte flips each byte of each record in turn: every change is caught,
// as bytes that no longer hash to the stated chain hash, or (when the change hits the
// stated hash) as a record that is not in the signed log. A changed record whose stated
// hash is recomputed is not in the signed log either.
func TestAudit_ChangedByte(t *testing.T) {
	sc := newScenario(t)
	for i := range sc.b.Records {
		for off := range sc.b.Records[i].Record {
			b := clone(t, sc.b)
			b.Records[i].Record[off] ^= 0x01
			_, err := transparency.Audit(b, testVKey)
			require.Error(t, err, "record %d byte %d", i, off)
			msg := err.Error()
			require.True(t, strings.Contains(msg, "changed bytes") || strings.Contains(msg, "does not decode") || strings.Contains(msg, "not in the signed log"), msg)
		}
	}
	b := clone(t, sc.b)
	var rec ledger.Record
	require.NoError(t, rec.UnmarshalBinary(b.Records[1].Record))
	rec.Data = bytes.Replace(rec.Data, []byte(`"n":1`), []byte(`"n":7`), 1)
	rec.Hash = rec.ComputeHash()
	b.Records[1].Record = rec.AppendBinary(nil)
	requireAuditFails(t, b, testVKey, "record 2 (position 8", "not in the signed log")
}

// TestAudit_MissingEvent: a bundle without one of the contract's events names the missing
// version; without the registration it says so.
func TestAudit_MissingEvent(t *testing.T) {
	sc := newScenario(t)
	b := clone(t, sc.b)
	b.Records = append(b.Records[:1], b.Records[2:]...)
	requireAuditFails(t, b, testVKey, "version 2 missing")
	b = clone(t, sc.b)
	b.Records = b.Records[1:]
	requireAuditFails(t, b, testVKey, "version 1 missing", "not the contract's registration")
}

// TestAudit_SwappedRecords: two records swapped in the bundle are out of order; two
// records swapped in the log and re-chained give a checkpoint of the same size with
// another root: a fork against the saved one.
func TestAudit_SwappedRecords(t *testing.T) {
	sc := newScenario(t)
	b := clone(t, sc.b)
	b.Records[1], b.Records[2] = b.Records[2], b.Records[1]
	requireAuditFails(t, b, testVKey, "out of order")

	recs := append([]ledger.Record(nil), sc.recs...)
	recs[7], recs[12] = recs[12], recs[7]
	forged, _, _ := signRewritten(t, rechained(t, recs), testSKey)
	c, err := transparency.CheckConsistency(testVKey, sc.saved, forged, nil)
	require.NoError(t, err)
	require.Equal(t, transparency.Fork, c.Outcome)
	require.Contains(t, c.Reason, "two checkpoints of size 20 with different roots")
}

// TestAudit_DroppedRecord: a record dropped from the bundle is a missing version; a
// record dropped from the log (re-chained and re-signed) is a rollback when the log is
// now shorter, and a fork once it has grown past the saved size again (no consistency
// proof can exist).
func TestAudit_DroppedRecord(t *testing.T) {
	sc := newScenario(t)
	b := clone(t, sc.b)
	b.Records = b.Records[: len(b.Records)-2 : len(b.Records)-2]
	b.Records = append(b.Records, sc.b.Records[3])
	requireAuditFails(t, b, testVKey, "version 3 missing")

	recs := append(append([]ledger.Record(nil), sc.recs[:5]...), sc.recs[6:]...)
	forged, _, _ := signRewritten(t, rechained(t, recs), testSKey)
	c, err := transparency.CheckConsistency(testVKey, sc.saved, forged, nil)
	require.NoError(t, err)
	require.Equal(t, transparency.Rollback, c.Outcome)
	require.Equal(t, sc.saved, c.SavedNote)
	require.Equal(t, forged, c.FetchNote)

	more := append(recs, sc.recs[5], sc.recs[0])
	more[len(more)-1].ID = ledger.NewEventID()
	forged, _, l := signRewritten(t, rechained(t, more), testSKey)
	p, err := l.Tree().ConsistencyProof(20, 21)
	require.NoError(t, err)
	c, err = transparency.CheckConsistency(testVKey, sc.saved, forged, p)
	require.NoError(t, err)
	require.Equal(t, transparency.Fork, c.Outcome)
	require.Contains(t, c.Reason, "does not extend")
}

// TestAudit_RewrittenTailOtherKey: the log's tail rewritten, re-chained and signed with
// another key under the same origin: its bundle and checkpoint are refused as not signed
// by the trusted key.
func TestAudit_RewrittenTailOtherKey(t *testing.T) {
	sc := newScenario(t)
	recs := append([]ledger.Record(nil), sc.recs...)
	for i := 15; i < len(recs); i++ {
		recs[i].Data = []byte(`{"contract_id":"forged","n":0}`)
	}
	otherS, _ := mustKey(testOrigin)
	forged, b, _ := signRewritten(t, rechained(t, recs), otherS)
	requireAuditFails(t, b, testVKey, "not signed by the trusted key")
	_, err := transparency.CheckConsistency(testVKey, sc.saved, forged, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "not signed by the trusted key")
}

// TestCheckConsistency covers the outcomes on honest logs and a fork made with the
// log's own key: a grown log is consistent with a valid proof, the same checkpoint is
// consistent, a smaller one is a rollback, a wrong proof is a fork.
func TestCheckConsistency(t *testing.T) {
	sc := newScenario(t)
	fill(t, memstoreTail{sc.store, 0}, 3, 1)
	// A second log directory over the grown store, with the same key.
	l2 := openLog(t, sc.store, t.TempDir())
	_, err := l2.SignNow()
	require.NoError(t, err)
	_, grown, err := l2.Latest()
	require.NoError(t, err)
	_, err = l2.ConsistencyProof(20, 23)
	require.ErrorIs(t, err, transparency.ErrNotSigned) // 20 was signed in the other directory
	p, err := l2.Tree().ConsistencyProof(20, 23)
	require.NoError(t, err)

	c, err := transparency.CheckConsistency(testVKey, sc.saved, grown, p)
	require.NoError(t, err)
	require.Equal(t, transparency.Consistent, c.Outcome)
	c, err = transparency.CheckConsistency(testVKey, sc.saved, sc.saved, nil)
	require.NoError(t, err)
	require.Equal(t, transparency.Consistent, c.Outcome)
	c, err = transparency.CheckConsistency(testVKey, grown, sc.saved, nil)
	require.NoError(t, err)
	require.Equal(t, transparency.Rollback, c.Outcome)
	require.Contains(t, c.Reason, "smaller than the saved size 23")
	bad := append(p[:0:0], p...)
	bad[0][0] ^= 1
	c, err = transparency.CheckConsistency(testVKey, sc.saved, grown, bad)
	require.NoError(t, err)
	require.Equal(t, transparency.Fork, c.Outcome)

	_, err = transparency.CheckConsistency(testVKey, []byte("garbage"), grown, p)
	require.Error(t, err)
}

// TestAudit_BadInput: malformed bundles get a clear error, never a panic.
func TestAudit_BadInput(t *testing.T) {
	sc := newScenario(t)
	cases := map[string]func(b *transparency.Bundle){
		"bundle format":       func(b *transparency.Bundle) { b.Format = "x" },
		"holds no record":     func(b *transparency.Bundle) { b.Records = nil },
		"checkpoint":          func(b *transparency.Bundle) { b.Checkpoint = "" },
		"too short":           func(b *transparency.Bundle) { b.Records[0].Record = []byte{1} },
		"position outside":    func(b *transparency.Bundle) { b.Records[0].Position = 99 },
		"exceeds ProofHashes": func(b *transparency.Bundle) { b.Records[0].Proof = make(tlog.RecordProof, 65) },
		"previous hash":       func(b *transparency.Bundle) { b.Records[0].PrevHash[0] ^= 1 },
		"not in the signed":   func(b *transparency.Bundle) { b.Records[0].Proof = b.Records[0].Proof[1:] },
	}
	for want, mutate := range cases {
		b := clone(t, sc.b)
		mutate(b)
		requireAuditFails(t, b, testVKey, want)
	}
	_, err := transparency.Audit(clone(t, sc.b), "not a key")
	require.ErrorContains(t, err, "verifier key")
	_, other := mustKey("other.example/log")
	requireAuditFails(t, clone(t, sc.b), other, "not signed by the trusted key")
}
