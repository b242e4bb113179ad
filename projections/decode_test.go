package projections

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/internal/sample"
	"techledger/ledger"
	"techledger/ledger/memstore"
)

// sampleLog returns a memstore holding the generated sample of cfg, imported through
// package commands with no rejection.
func sampleLog(t testing.TB, cfg sample.Config) *memstore.Store {
	t.Helper()
	var buf bytes.Buffer
	_, err := sample.Write(&buf, cfg)
	require.NoError(t, err)
	s := memstore.New()
	sum, err := commands.Import(context.Background(), &buf, commands.NewHandler(s), commands.Actor{Name: "test", Role: "registrar"}, nil)
	require.NoError(t, err)
	require.Zero(t, sum.Rejected, "sample lines rejected: %v", sum.Errors)
	return s
}

var (
	smallOnce sync.Once
	smallLog  *memstore.Store
)

// smallSample is a shared sample log of 400 contracts (read only).
func smallSample(t testing.TB) *memstore.Store {
	smallOnce.Do(func() { smallLog = sampleLog(t, sample.Config{Seed: 7, Contracts: 400}) })
	return smallLog
}

func records(t testing.TB, s ledger.Store) []ledger.Record {
	t.Helper()
	var out []ledger.Record
	for rec, err := range s.ReadAll(context.Background(), 1) {
		require.NoError(t, err)
		out = append(out, rec)
	}
	return out
}

// strictView decodes rec with the strict codec only.
func strictView(t testing.TB, rec *ledger.Record) view {
	t.Helper()
	ev, err := ledger.DecodeRecord(rec)
	require.NoError(t, err)
	var v view
	require.NoError(t, v.from(ev))
	return v
}

// TestDecodeView_FastPathMatchesCodec: every event the commands write takes the fast path,
// and the fast path reads exactly what the strict codec decodes; the canonical path takes
// them all too and reads the same.
func TestDecodeView_FastPathMatchesCodec(t *testing.T) {
	recs := records(t, smallSample(t))
	seen := map[uint8]int{}
	for i := range recs {
		rec := &recs[i]
		var fast view
		typ, ok := evOf(rec.Type)
		require.True(t, ok, rec.Type)
		fast.reset(typ)
		p := newParser(rec.Data)
		require.True(t, p.event(&fast), "fast path refused position %d: %s", rec.Position, rec.Data)
		require.Equal(t, normal(strictView(t, rec)), normal(fast), "position %d", rec.Position)
		var canon view
		canon.reset(typ)
		p = newParser(rec.Data)
		require.True(t, p.canonical(&canon), "canonical path refused position %d: %s", rec.Position, rec.Data)
		require.Equal(t, normal(fast), normal(canon), "position %d", rec.Position)
		seen[typ]++
	}
	for _, typ := range []uint8{evRegistered, evAmended, evRevoked, evRights, evPayment} {
		require.NotZero(t, seen[typ], "the sample has no event of kind %d", typ)
	}
}

// normal makes a view comparable: nil and empty slices alike.
func normal(v view) view {
	fix := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	v.contractID, v.ctype, v.subtype, v.field = fix(v.contractID), fix(v.ctype), fix(v.subtype), fix(v.field)
	v.sellerKind, v.buyerKind, v.sellerReg, v.buyerReg, v.right = fix(v.sellerKind), fix(v.buyerKind), fix(v.sellerReg), fix(v.buyerReg), fix(v.right)
	if len(v.holders) == 0 {
		v.holders = nil
	}
	for i := range v.holders {
		v.holders[i].kind = fix(v.holders[i].kind)
	}
	if len(v.allocs) == 0 {
		v.allocs = nil
	}
	for i := range v.allocs {
		a := &v.allocs[i]
		a.id, a.name, a.kind, a.institution = fix(a.id), fix(a.name), fix(a.kind), fix(a.institution)
	}
	return v
}

// TestDecodeView_Fallback: data outside the canonical form takes the strict path and gives
// the same view, or the codec's error.
func TestDecodeView_Fallback(t *testing.T) {
	tests := []struct {
		name, data string
		wantErr    bool
	}{
		{"escaped contract id", `{"contract_id":"2023140101000\u0031\u00323","reason":"x"}`, false},
		{"whitespace and key case", ` { "Contract_ID" : "2023140101000123" , "reason" : "x" } `, false},
		{"unknown field", `{"contract_id":"2023140101000123","reason":"x","extra":1}`, true},
		{"number for string", `{"contract_id":2023140101000123,"reason":"x"}`, true},
		{"trailing data", `{"contract_id":"2023140101000123","reason":"x"}{}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &ledger.Record{Position: 1, Type: ledger.TypeContractRevoked, SchemaVersion: 1, Data: []byte(tt.data)}
			var v view
			err := decodeView(rec, &v)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "2023140101000123", string(v.contractID))
		})
	}
}

// FuzzDecodeView: whatever the data, decodeView never panics, and whenever the fast path
// (canonical or general) accepts, the strict codec accepts too and decodes the same view.
func FuzzDecodeView(f *testing.F) {
	for _, rec := range records(f, smallSample(f))[:60] {
		f.Add(rec.Type, []byte(rec.Data))
	}
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		rec := &ledger.Record{Position: 1, Type: typ, SchemaVersion: 1, Data: data}
		var fast, canon view
		k, ok := evOf(typ)
		fastOK, canonOK := false, false
		if ok {
			fast.reset(k)
			p := newParser(data)
			fastOK = p.event(&fast)
			canon.reset(k)
			p = newParser(data)
			canonOK = p.canonical(&canon)
		}
		var v view
		err := decodeView(rec, &v)
		if canonOK && !fastOK {
			t.Fatalf("canonical path accepted what the fast path refuses: %s", data)
		}
		if !fastOK {
			return
		}
		require.NoError(t, err)
		ev, err := ledger.DecodeRecord(rec)
		require.NoError(t, err, "fast path accepted what the codec refuses: %s", data)
		var strict view
		if strict.from(ev) != nil {
			t.Fatalf("fast path accepted amounts the codec's value refuses: %s", data)
		}
		require.Equal(t, normal(strict), normal(fast))
		if canonOK {
			require.Equal(t, normal(strict), normal(canon))
		}
		require.Equal(t, normal(strict), normal(v))
	})
}

// TestDecodeView_NoAllocs: decoding the sample's events into a reused view allocates
// nothing once the view's slices have grown (the point of the fast path).
func TestDecodeView_NoAllocs(t *testing.T) {
	recs := records(t, smallSample(t))
	var v view
	for i := range recs {
		require.NoError(t, decodeView(&recs[i], &v))
	}
	allocs := testing.AllocsPerRun(10, func() {
		for i := range recs {
			if err := decodeView(&recs[i], &v); err != nil {
				t.Fatal(err)
			}
		}
	})
	require.Zero(t, allocs, "allocations per pass over %d events", len(recs))
}
