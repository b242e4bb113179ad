package transparency_test

import (
	"context"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/transparency"
)

const testOrigin = "test.techledger.example/log"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testKey is one key pair for the whole package's tests.
var testSKey, testVKey = mustKey(testOrigin)

func mustKey(origin string) (string, string) {
	s, v, err := transparency.GenerateKey(origin)
	if err != nil {
		panic(err)
	}
	return s, v
}

func options(tb testing.TB, dir, skey string) transparency.Options {
	tb.Helper()
	s, vkey, err := transparency.ParseSignerKey(skey)
	require.NoError(tb, err)
	return transparency.Options{Dir: dir, Signer: s, VerifierKey: vkey, Logger: quiet, Interval: 10 * time.Millisecond}
}

func openLog(tb testing.TB, src transparency.Source, dir string) *transparency.Log {
	tb.Helper()
	l, err := transparency.Open(context.Background(), src, options(tb, dir, testSKey))
	require.NoError(tb, err)
	tb.Cleanup(func() { l.Close() })
	return l
}

// event returns an event of contract id of the given type.
func event(id, typ string, n int) ledger.Event {
	return ledger.Event{ID: ledger.NewEventID(), Type: typ, SchemaVersion: 1,
		Data:     []byte(fmt.Sprintf(`{"contract_id":%q,"n":%d}`, id, n)),
		Metadata: ledger.Metadata{Actor: "registrar-1", Role: "registrar", CommandID: fmt.Sprintf("c-%s-%d", id, n)}}
}

// contractID returns the i-th test contract's registration number.
func contractID(i int) string { return fmt.Sprintf("2023140101%06d", i) }

// fill appends to s, for contracts 0..contracts-1 in turn, a registration then amendments
// and payments, perContract events each, interleaved so that each contract's records are
// spread over the log.
func fill(tb testing.TB, s ledger.Store, contracts, perContract int) {
	tb.Helper()
	ctx := context.Background()
	for v := range perContract {
		for c := range contracts {
			typ := ledger.TypePaymentRecorded
			switch {
			case v == 0:
				typ = ledger.TypeContractRegistered
			case v%2 == 1:
				typ = ledger.TypeContractAmended
			}
			id := contractID(c)
			_, err := s.Append(ctx, ledger.ContractStream(id), ledger.Exactly(ledger.Version(v)), event(id, typ, v))
			require.NoError(tb, err)
		}
	}
}

// records returns every record of s.
func records(tb testing.TB, s ledger.Store) []ledger.Record {
	tb.Helper()
	var out []ledger.Record
	for rec, err := range s.ReadAll(context.Background(), 1) {
		require.NoError(tb, err)
		out = append(out, rec)
	}
	return out
}

// rechained returns a memstore holding recs re-sealed into a valid chain with positions
// 1..n: what an operator who rewrites history and recomputes the chain produces.
func rechained(tb testing.TB, recs []ledger.Record) *sliceSource {
	tb.Helper()
	var prev ledger.Hash
	out := make([]ledger.Record, len(recs))
	versions := map[string]ledger.Version{}
	for i, r := range recs {
		r.Position = ledger.Position(i + 1)
		versions[r.Stream]++
		r.Version = versions[r.Stream]
		r.Seal(prev)
		prev = r.Hash
		out[i] = r
	}
	return &sliceSource{recs: out}
}

// sliceSource is a fixed log held in a slice: a Source for logs the tests rewrite.
type sliceSource struct{ recs []ledger.Record }

func (s *sliceSource) ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		for _, r := range s.recs[min(int(max(from, 1))-1, len(s.recs)):] {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func (s *sliceSource) Subscribe(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		for r, err := range s.ReadAll(ctx, from) {
			if !yield(r, err) {
				return
			}
		}
		<-ctx.Done()
		yield(ledger.Record{}, ctx.Err())
	}
}

func (s *sliceSource) ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		for _, r := range s.recs {
			if r.Stream == stream && r.Version >= from && !yield(r, nil) {
				return
			}
		}
	}
}

// waitSize waits until the log's tree holds n records.
func waitSize(tb testing.TB, l *transparency.Log, n int64) {
	tb.Helper()
	require.Eventually(tb, func() bool { return l.Size() >= n }, 10*time.Second, time.Millisecond, "tree size %d, want %d", l.Size(), n)
}
