package commands_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/memstore"
	"techledger/ledger/storetest"
)

var (
	ctx       = context.Background()
	registrar = commands.Actor{Name: "王登记", Role: "registrar"}
)

func newHandler(log commands.Log) *commands.Handler {
	h := commands.NewHandler(log)
	h.Now = func() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) }
	return h
}

func register(id, commandID, amount string) string {
	return fmt.Sprintf(`{"command":"register_contract","command_id":%q,"contract_id":%q,
 "title":"煤矸石综合利用技术转让","type":"transfer","subtype":"patent_right",
 "signed_on":"2023-03-01","registered_on":"2023-03-15","amount":%q,"tech_amount":"0.00","field":"environment",
 "seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},
 "buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},
 "intermediary":null,"achievement_id":"ACH-2022-0042","ip_types":["patent"]}`, commandID, id, amount)
}

func payment(contract, paymentID, amount string) string {
	return fmt.Sprintf(`{"command":"record_payment","command_id":"pay-%s-%s","contract_id":%q,"payment_id":%q,"amount":%q,"paid_on":"2023-06-30"}`,
		contract, paymentID, contract, paymentID, amount)
}

func useGrant(contract, commandID, excl, from, to string) string {
	return fmt.Sprintf(`{"command":"assign_rights","command_id":%q,"contract_id":%q,"right":"use","exclusivity":%q,
 "term":{"from":%q,"to":%q},"holders":[{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise"}]}`, commandID, contract, excl, from, to)
}

func handle(t testing.TB, h *commands.Handler, cmd string) commands.Outcome {
	t.Helper()
	out, err := h.HandleJSON(ctx, []byte(cmd), registrar)
	require.NoError(t, err)
	return out
}

func head(t testing.TB, s ledger.Store) ledger.Position {
	t.Helper()
	p, err := s.Head(ctx)
	require.NoError(t, err)
	return p
}

func TestHandler_AppliesAndRecordsWhoAndWhy(t *testing.T) {
	s := memstore.New()
	h := newHandler(s)
	out := handle(t, h, register("2023140101000123", "c-1", "1200000.00"))
	assert.Equal(t, commands.Outcome{Status: commands.StatusApplied, CommandID: "c-1", ContractID: "2023140101000123", Positions: []ledger.Position{1}}, out)
	out = handle(t, h, `{"command":"revoke_contract","command_id":"c-2","contract_id":"2023140101000123","reason":"重复登记"}`)
	assert.Equal(t, []ledger.Position{2}, out.Positions)

	recs := storetest.Collect(t, s.ReadStream(ctx, "contract-2023140101000123", 1))
	require.Len(t, recs, 2)
	assert.Equal(t, ledger.TypeContractRegistered, recs[0].Type)
	assert.Equal(t, "王登记", recs[1].Metadata.Actor)
	assert.Equal(t, "registrar", recs[1].Metadata.Role)
	assert.Equal(t, "c-2", recs[1].Metadata.CommandID)
	assert.Equal(t, "重复登记", recs[1].Metadata.Reason)
	assert.Len(t, recs[1].Metadata.CommandHash, 64)
}

func TestHandler_CommandIDIsPermanent(t *testing.T) {
	s := memstore.New()
	h := newHandler(s)
	first := handle(t, h, register("2023140101000123", "c-1", "1200000.00"))
	handle(t, h, payment("2023140101000123", "P-1", "100.00"))
	before := head(t, s)

	again := handle(t, h, register("2023140101000123", "c-1", "1200000.00"))
	assert.Equal(t, commands.StatusDuplicate, again.Status)
	assert.Equal(t, first.Positions, again.Positions, "the original outcome")
	assert.Equal(t, before, head(t, s), "nothing appended")

	_, err := h.HandleJSON(ctx, []byte(register("2023140101000999", "c-1", "5.00")), registrar)
	var e *commands.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, commands.CodeConflict, e.Code)
	assert.Equal(t, "command_id", e.Field)
	assert.Equal(t, before, head(t, s))

	// A new handler over the same log (a restart) knows every command_id.
	h2 := newHandler(s)
	again = handle(t, h2, payment("2023140101000123", "P-1", "100.00"))
	assert.Equal(t, commands.StatusDuplicate, again.Status)
	assert.Equal(t, []ledger.Position{2}, again.Positions)
	_, err = h2.HandleJSON(ctx, []byte(payment("2023140101000123", "P-1", "200.00")), registrar)
	assert.Equal(t, commands.CodeConflict, commands.CodeOf(err))
	assert.Equal(t, before, head(t, s))
}

func TestHandler_GeneratesMissingCommandID(t *testing.T) {
	s := memstore.New()
	h := newHandler(s)
	cmd := `{"command":"register_contract","contract_id":"2023140101000123","title":"t","type":"service","subtype":"general","signed_on":"2023-01-01","registered_on":"2023-01-02","amount":"10.00","tech_amount":"10.00","field":"agriculture","seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},"buyer":{"id":"P-1","name":"张三","kind":"individual","region":"140100"},"intermediary":null,"ip_types":[]}`
	out := handle(t, h, cmd)
	assert.Contains(t, out.CommandID, "gen-")
	recs := storetest.Collect(t, s.ReadAll(ctx, 1))
	assert.Equal(t, out.CommandID, recs[0].Metadata.CommandID)
	// Without a key the command is not idempotent: sending it again is a new command,
	// which the rules then judge (here: already registered).
	_, err := h.HandleJSON(ctx, []byte(cmd), registrar)
	assert.Equal(t, commands.CodeConflict, commands.CodeOf(err))
}

func TestHandler_RejectionAppendsNothing(t *testing.T) {
	s := memstore.New()
	h := newHandler(s)
	handle(t, h, register("2023140101000123", "c-1", "100.00"))
	for _, bad := range []string{
		payment("2023140101000123", "P-1", "100.01"),
		payment("2023140101000999", "P-1", "1.00"),
		`{"command":"record_payment","bogus":1}`,
		`not json`,
	} {
		_, err := h.HandleJSON(ctx, []byte(bad), registrar)
		require.Error(t, err)
		assert.NotEqual(t, commands.Code(""), commands.CodeOf(err), "a rejection is typed: %v", err)
	}
	assert.Equal(t, ledger.Position(1), head(t, s))
}

// TestHandler_ConcurrentRegistrations: 32 goroutines register the same contract_id with
// different command_ids; exactly one succeeds and the log holds one registration.
func TestHandler_ConcurrentRegistrations(t *testing.T) {
	s := memstore.New()
	h := newHandler(s)
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.HandleJSON(ctx, []byte(register("2023140101000123", fmt.Sprintf("c-%d", i), "1000.00")), registrar)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		assert.Equal(t, commands.CodeConflict, commands.CodeOf(err), "%v", err)
	}
	assert.Equal(t, 1, ok)
	assert.Len(t, storetest.Collect(t, s.ReadAll(ctx, 1)), 1)
}

// TestHandler_ConcurrentPayments: 40 goroutines each pay 100.00 on a 1000.00 contract (two
// handlers over one log, as two server processes would be); exactly 10 succeed, the rest
// are rejected for exceeding the amount, and the log's payments sum to exactly 1000.00.
func TestHandler_ConcurrentPayments(t *testing.T) {
	s := memstore.New()
	hs := []*commands.Handler{newHandler(s), newHandler(s)}
	handle(t, hs[0], register("2023140101000123", "c-1", "1000.00"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	applied, rejected := 0, 0
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := hs[i%2].HandleJSON(ctx, []byte(payment("2023140101000123", fmt.Sprintf("P-%d", i), "100.00")), registrar)
			mu.Lock()
			defer mu.Unlock()
			var e *commands.Error
			switch {
			case err == nil:
				applied++
			case errors.As(err, &e) && e.Field == "amount":
				rejected++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 10, applied)
	assert.Equal(t, 30, rejected)
	total := decimal.Zero
	for rec, err := range s.ReadAll(ctx, 1) {
		require.NoError(t, err)
		if rec.Type == ledger.TypePaymentRecorded {
			ev, err := ledger.DecodeRecord(&rec)
			require.NoError(t, err)
			total = total.Add(ev.(*ledger.PaymentRecorded).Amount)
		}
	}
	assert.Equal(t, "1000", total.String())
}

func TestHandler_ExclusiveGrantsAcrossContracts(t *testing.T) {
	s := memstore.New()
	h := newHandler(s)
	handle(t, h, register("2023140101000123", "c-1", "1000.00"))
	handle(t, h, register("2023140101000124", "c-2", "1000.00"))
	handle(t, h, useGrant("2023140101000123", "u-1", "exclusive", "2023-04-01", "2028-03-31"))

	_, err := h.HandleJSON(ctx, []byte(useGrant("2023140101000124", "u-2", "sole", "2028-03-31", "2030-01-01")), registrar)
	var e *commands.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, commands.CodeConflict, e.Code)
	assert.Contains(t, e.Rule, "2023140101000123")

	handle(t, h, useGrant("2023140101000124", "u-3", "sole", "2028-04-01", "2030-01-01"))
	// A restarted handler knows the grants from the log.
	h2 := newHandler(s)
	_, err = h2.HandleJSON(ctx, []byte(useGrant("2023140101000123", "u-4", "exclusive", "2029-01-01", "2029-12-31")), registrar)
	assert.Equal(t, commands.CodeConflict, commands.CodeOf(err))
	// Revoking a registration lifts its grants.
	handle(t, h2, `{"command":"revoke_contract","command_id":"r-1","contract_id":"2023140101000124","reason":"重复登记"}`)
	handle(t, h2, useGrant("2023140101000123", "u-5", "exclusive", "2029-01-01", "2029-12-31"))
}

// TestHandler_ConcurrentExclusiveGrants: 16 goroutines grant overlapping exclusive use of
// one achievement under 16 contracts; exactly one wins.
func TestHandler_ConcurrentExclusiveGrants(t *testing.T) {
	s := memstore.New()
	h := newHandler(s)
	for i := range 16 {
		handle(t, h, register(fmt.Sprintf("20231401010001%02d", i), fmt.Sprintf("c-%d", i), "1000.00"))
	}
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.HandleJSON(ctx, []byte(useGrant(fmt.Sprintf("20231401010001%02d", i), fmt.Sprintf("u-%d", i), "exclusive", "2024-01-01", "2025-01-01")), registrar)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			assert.Equal(t, commands.CodeConflict, commands.CodeOf(err))
		}
	}
	assert.Equal(t, 1, ok)
}

// TestHandler_AllocationFixedAtPayment: a later proceeds assignment never re-allocates an
// earlier payment.
func TestHandler_AllocationFixedAtPayment(t *testing.T) {
	s := memstore.New()
	h := newHandler(s)
	handle(t, h, register("2023140101000123", "c-1", "1000.00"))
	handle(t, h, payment("2023140101000123", "P-1", "100.00"))
	handle(t, h, `{"command":"assign_rights","command_id":"a-1","contract_id":"2023140101000123","right":"proceeds","effective_on":"2023-03-15","holders":[
  {"id":"12140000405000025X","name":"太原理工大学","kind":"institution","share":"0.3"},
  {"id":"R-001","name":"张三","kind":"researcher","institution":"太原理工大学","share":"0.7"}]}`)
	handle(t, h, payment("2023140101000123", "P-2", "100.00"))
	var allocs [][]string
	for rec, err := range s.ReadAll(ctx, 1) {
		require.NoError(t, err)
		if rec.Type == ledger.TypePaymentRecorded {
			ev, err := ledger.DecodeRecord(&rec)
			require.NoError(t, err)
			var a []string
			for _, al := range ev.(*ledger.PaymentRecorded).Allocations {
				a = append(a, al.HolderID+"="+al.Amount.StringFixed(2))
			}
			allocs = append(allocs, a)
		}
	}
	assert.Equal(t, [][]string{{"12140000405000025X=100.00"}, {"12140000405000025X=30.00", "R-001=70.00"}}, allocs)
}

// TestHandler_TwoHandlersOnFilestore runs two handlers on one filestore (which reports an
// append's positions before its fsync, so each handler indexes its own appends early and
// reads only the other's): 32 callers register and pay, alternating handlers, then send
// every command again through the other handler and through a new one (a restart). Each
// repeat must be a duplicate with the original positions, and a reused command_id with
// other content a conflict, whichever handler appended the original.
func TestHandler_TwoHandlersOnFilestore(t *testing.T) {
	s, err := filestore.Open(t.TempDir(), filestore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	hs := []*commands.Handler{newHandler(s), newHandler(s)}
	const callers = 32
	cmds := make([][]string, callers)
	outs := make([][]commands.Outcome, callers)
	var wg sync.WaitGroup
	for i := range callers {
		id := fmt.Sprintf("202314010100%04d", i)
		cmds[i] = []string{register(id, "reg-"+id, "1000.00"), payment(id, "P-1", "100.00"), payment(id, "P-2", "200.00"), payment(id, "P-3", "300.00")}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, c := range cmds[i] {
				out, err := hs[(i+j)%2].HandleJSON(ctx, []byte(c), registrar)
				if err != nil {
					t.Errorf("%s: %v", c, err)
					return
				}
				outs[i] = append(outs[i], out)
			}
		}()
	}
	wg.Wait()
	require.False(t, t.Failed())
	assert.Equal(t, ledger.Position(callers*4), head(t, s))

	restarted := newHandler(s)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, c := range cmds[i] {
				for _, h := range []*commands.Handler{hs[(i+j+1)%2], restarted} {
					out, err := h.HandleJSON(ctx, []byte(c), registrar)
					if err != nil || out.Status != commands.StatusDuplicate || fmt.Sprint(out.Positions) != fmt.Sprint(outs[i][j].Positions) {
						t.Errorf("repeat of %s: %+v, %v; want a duplicate at %v", c, out, err, outs[i][j].Positions)
					}
				}
			}
			id := fmt.Sprintf("202314010100%04d", i)
			_, err := hs[i%2].HandleJSON(ctx, []byte(fmt.Sprintf(`{"command":"record_payment","command_id":"pay-%s-P-1","contract_id":%q,"payment_id":"P-9","amount":"1.00","paid_on":"2023-06-30"}`, id, id)), registrar)
			if commands.CodeOf(err) != commands.CodeConflict {
				t.Errorf("reused command_id with other content: %v, want a conflict", err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, ledger.Position(callers*4), head(t, s), "nothing appended by the repeats")
}

// decidingLog is a memstore that, like the filestore, reports an append's positions
// before the append returns, and then runs during (once), as another command arriving in
// that moment would.
type decidingLog struct {
	*memstore.Store
	during func()
}

func (l *decidingLog) AppendDecided(ctx context.Context, stream string, expected ledger.Expected, decided func(ledger.AppendResult), events ...ledger.Event) (ledger.AppendResult, error) {
	res, err := l.Append(ctx, stream, expected, events...)
	if err == nil && !res.Duplicate {
		decided(res)
		if f := l.during; f != nil {
			l.during = nil
			f()
		}
	}
	return res, err
}

// TestHandler_IndexesDecidedPositions has a command catch up while another's append has
// reported its position but not yet returned, so that the index takes that command from
// what the append reported: repeating it must still be a duplicate, and reusing its
// command_id with other content a conflict.
func TestHandler_IndexesDecidedPositions(t *testing.T) {
	l := &decidingLog{Store: memstore.New()}
	h := newHandler(l)
	handle(t, h, register("2023140101000123", "c-1", "1000.00"))
	l.during = func() { handle(t, h, payment("2023140101000123", "P-2", "100.00")) }
	first := handle(t, h, payment("2023140101000123", "P-1", "100.00"))
	assert.Equal(t, []ledger.Position{2}, first.Positions)

	again := handle(t, h, payment("2023140101000123", "P-1", "100.00"))
	assert.Equal(t, commands.StatusDuplicate, again.Status)
	assert.Equal(t, first.Positions, again.Positions)
	_, err := h.HandleJSON(ctx, []byte(payment("2023140101000123", "P-1", "200.00")), registrar)
	assert.Equal(t, commands.CodeConflict, commands.CodeOf(err))
	assert.Equal(t, ledger.Position(3), head(t, l))
}

// TestHandler_StaleCache has a second handler change a contract behind the first one's
// cache: the first handler decides on its cached contract without asking the log, so its
// decisions must still follow the log. A payment that only the amended amount allows is
// accepted (a rejection is only given on the contract as the log has it), and a payment_id
// the other handler recorded is refused (the append's expected version does not match
// the cached one, and the retry reads the stream).
func TestHandler_StaleCache(t *testing.T) {
	s := memstore.New()
	h1, h2 := newHandler(s), newHandler(s)
	const id = "2023140101000123"
	handle(t, h1, register(id, "reg", "1000.00"))
	handle(t, h1, payment(id, "P-1", "100.00"))
	handle(t, h2, fmt.Sprintf(`{"command":"amend_contract","command_id":"amend","contract_id":%q,"amount":"5000.00","tech_amount":"0.00","reason":"补充协议"}`, id))
	handle(t, h1, payment(id, "P-2", "3000.00"))
	handle(t, h2, payment(id, "P-3", "10.00"))
	_, err := h1.HandleJSON(ctx, []byte(`{"command":"record_payment","command_id":"again","contract_id":"`+id+`","payment_id":"P-3","amount":"10.00","paid_on":"2023-06-30"}`), registrar)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "P-3")
	assert.Equal(t, ledger.Position(5), head(t, s))
}
