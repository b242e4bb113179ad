package ledger

import (
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// The hand-written encoder must write exactly what json.Marshal writes, since the bytes
// are hashed into the chain: these tests compare the two, json.Marshal being the
// reference, on generated events (random strings with escapes, invalid UTF-8 and HTML
// characters; random decimals of any size and exponent; nil and empty lists; absent
// optional parts; pointer and value events) and on a fuzzed PaymentRecorded.

func checkEncode(tb testing.TB, e DomainEvent) {
	tb.Helper()
	want, wantErr := json.Marshal(e)
	got, gotErr := encodeData(e)
	if (gotErr != nil) != (wantErr != nil) {
		tb.Fatalf("%#v: encodeData error %v, json.Marshal error %v", e, gotErr, wantErr)
	}
	if string(got) != string(want) {
		tb.Fatalf("%#v:\nencodeData gives   %s\njson.Marshal gives %s", e, got, want)
	}
	fast, ok := appendData(nil, e)
	if ok && string(fast) != string(want) {
		tb.Fatalf("%#v:\nappendData gives   %s\njson.Marshal gives %s", e, fast, want)
	}
}

type gen struct{ r *rand.Rand }

var genAlphabet = []string{"a", "Z", "7", " ", "-", `"`, `\`, "/", "<", ">", "&", "\n", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
	"\x80", "\xff", "\xc3", "é", "太原", "\u2028", "\u2029", "\U0001F600", "\xed\xa0\x80", "{", "}"}

func (g gen) str() string {
	if g.r.IntN(4) == 0 {
		return ""
	}
	var b []byte
	for range g.r.IntN(10) {
		b = append(b, genAlphabet[g.r.IntN(len(genAlphabet))]...)
	}
	return string(b)
}

func (g gen) strs() []string {
	switch g.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	ss := make([]string, 1+g.r.IntN(3))
	for i := range ss {
		ss[i] = g.str()
	}
	return ss
}

func (g gen) dec() decimal.Decimal {
	var coef *big.Int
	switch g.r.IntN(5) {
	case 0: // beyond int64
		coef = new(big.Int).Lsh(big.NewInt(g.r.Int64()), uint(g.r.IntN(80)))
	case 1:
		coef = big.NewInt(g.r.Int64N(1000))
	case 2:
		coef = big.NewInt([]int64{0, 1, -1, 10, 100, 999999999999999999, 1000000000000000000, -999999999999999999, -1 << 63, 1<<63 - 1}[g.r.IntN(10)])
	default:
		coef = big.NewInt(g.r.Int64N(1 << (1 + g.r.IntN(62))))
	}
	if g.r.IntN(3) == 0 {
		coef.Neg(coef)
	}
	exp := int32(g.r.IntN(50) - 40)
	if g.r.IntN(2) == 0 {
		exp = int32(-g.r.IntN(4))
	}
	if g.r.IntN(10) == 0 {
		return decimal.Decimal{} // the zero value: nil coefficient
	}
	return decimal.NewFromBigInt(coef, exp)
}

func (g gen) decPtr() *decimal.Decimal {
	if g.r.IntN(3) == 0 {
		return nil
	}
	d := g.dec()
	return &d
}

func (g gen) date() Date {
	if g.r.IntN(50) == 0 {
		return Date{} // json.Marshal refuses it
	}
	if g.r.IntN(20) == 0 { // out of the formattable range: garbage, but the same garbage
		return Date{Year: g.r.IntN(40000) - 20000, Month: time.Month(g.r.IntN(200) - 100), Day: g.r.IntN(200) - 100}
	}
	return Date{Year: 1900 + g.r.IntN(8100), Month: time.Month(1 + g.r.IntN(12)), Day: 1 + g.r.IntN(31)}
}

func (g gen) party() Party { return Party{ID: g.str(), Name: g.str(), Kind: g.str(), Region: g.str()} }

func (g gen) event() DomainEvent {
	switch g.r.IntN(5) {
	case 0:
		e := &ContractRegistered{ContractID: g.str(), Title: g.str(), Type: g.str(), Subtype: g.str(),
			SignedOn: g.date(), RegisteredOn: g.date(), Amount: g.dec(), TechAmount: g.dec(), Field: g.str(),
			Seller: g.party(), Buyer: g.party(), AchievementID: g.str(), IPTypes: g.strs()}
		if g.r.IntN(2) == 0 {
			p := g.party()
			e.Intermediary = &p
		}
		return e
	case 1:
		return &ContractAmended{ContractID: g.str(), Type: g.str(), Subtype: g.str(), Field: g.str(),
			Amount: g.dec(), TechAmount: g.dec(), Changed: g.strs(), Reason: g.str()}
	case 2:
		return &ContractRevoked{ContractID: g.str(), Reason: g.str()}
	case 3:
		e := &RightsAssigned{ContractID: g.str(), Right: g.str(), EffectiveOn: g.date(), Exclusivity: g.str(), AchievementID: g.str()}
		if n := g.r.IntN(4); n > 0 {
			e.Holders = make([]Holder, n-1)
			for i := range e.Holders {
				e.Holders[i] = Holder{ID: g.str(), Name: g.str(), Kind: g.str(), Institution: g.str(), Share: g.decPtr()}
			}
		}
		if g.r.IntN(2) == 0 {
			e.Term = &Term{From: g.date(), To: g.date()}
		}
		return e
	default:
		e := &PaymentRecorded{ContractID: g.str(), PaymentID: g.str(), Amount: g.dec(), Costs: g.dec(), Net: g.dec(), PaidOn: g.date()}
		if n := g.r.IntN(4); n > 0 {
			e.Allocations = make([]Allocation, n-1)
			for i := range e.Allocations {
				e.Allocations[i] = Allocation{HolderID: g.str(), Name: g.str(), Kind: g.str(), Institution: g.str(), Share: g.dec(), Amount: g.dec()}
			}
		}
		return e
	}
}

// value returns the event as a value rather than a pointer; json.Marshal writes both alike.
func value(e DomainEvent) DomainEvent {
	switch e := e.(type) {
	case *ContractRegistered:
		return *e
	case *ContractAmended:
		return *e
	case *ContractRevoked:
		return *e
	case *RightsAssigned:
		return *e
	case *PaymentRecorded:
		return *e
	}
	panic("unknown event")
}

func TestEncode_MatchesJSONMarshal(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(7, 11))}
	fast := 0
	for i := range 50_000 {
		e := g.event()
		checkEncode(t, e)
		if i%10 == 0 {
			checkEncode(t, value(e))
		}
		if _, ok := appendData(nil, e); ok {
			fast++
		}
	}
	// Most events must take the hand-written path, or this test proves little.
	if fast < 40_000 {
		t.Errorf("appendData covered only %d of 50000 events", fast)
	}
}

func TestEncode_DecimalOptionsFallBack(t *testing.T) {
	// With decimal's formatting options changed, the encoder defers to json.Marshal.
	e := &PaymentRecorded{ContractID: "c", Amount: decimal.RequireFromString("1000.50"), PaidOn: Date{2024, 6, 30}}
	defer func(v bool) { decimal.TrimTrailingZeros = v }(decimal.TrimTrailingZeros)
	decimal.TrimTrailingZeros = false
	checkEncode(t, e)
	if _, ok := appendData(nil, e); ok {
		t.Error("appendData wrote decimals with TrimTrailingZeros off")
	}
}

func FuzzEncode_PaymentRecorded(f *testing.F) {
	f.Add("2024140100000001", "P-1", int64(100050), int32(-2), "太原<理工>", int64(5), int32(-1))
	f.Fuzz(func(t *testing.T, contract, payment string, coef int64, exp int32, name string, share int64, shareExp int32) {
		d := decimal.New(coef, exp%64)
		e := &PaymentRecorded{ContractID: contract, PaymentID: payment, Amount: d, Costs: d.Neg(), Net: decimal.New(share, shareExp%64),
			PaidOn:      Date{2024, 6, 30},
			Allocations: []Allocation{{HolderID: payment, Name: name, Kind: contract, Institution: name, Share: decimal.New(share, shareExp%64), Amount: d}}}
		checkEncode(t, e)
	})
}

// TestEncode_Concurrent encodes from many goroutines at once: the scratch buffers are
// shared through a pool, and no encoding may see another's bytes.
func TestEncode_Concurrent(t *testing.T) {
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := gen{rand.New(rand.NewPCG(uint64(w), 1))}
			for range 2000 {
				e := g.event()
				want, wantErr := json.Marshal(e)
				got, err := encodeData(e)
				if (err != nil) != (wantErr != nil) || string(got) != string(want) {
					t.Errorf("concurrent encodeData gives %s, json.Marshal %s", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
