package commands

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// TestParseAmount_MatchesNewFromString checks that parseAmount, which builds the decimal
// from the digits it has checked, gives exactly what decimal.NewFromString gives (value
// and exponent) for accepted amounts of every length, leading zeros included, and
// rejects the same ones as before.
func TestParseAmount_MatchesNewFromString(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	cases := []string{"0", "0.00", "0.5", "007.10", "1000", "1000.00", "100000000000.00", "100000000000.01",
		"99999999999.99", "000000000000000001.5", "0000000000000000001", "1234567890123456.78"}
	for range 50_000 {
		var b strings.Builder
		for range 1 + r.IntN(19) {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		if r.IntN(3) > 0 {
			b.WriteByte('.')
			for range 1 + r.IntN(2) {
				b.WriteByte(byte('0' + r.IntN(10)))
			}
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		got, err := parseAmount("amount", s)
		if err != nil {
			want, werr := decimal.NewFromString(s)
			if len(s) <= amountDigitsMax && werr == nil && !want.GreaterThan(AmountMax) {
				t.Fatalf("parseAmount(%q) rejects it: %v", s, err)
			}
			continue
		}
		want, werr := decimal.NewFromString(s)
		if werr != nil || !reflect.DeepEqual(got, want) || got.Exponent() != want.Exponent() || got.String() != want.String() {
			t.Fatalf("parseAmount(%q) = %#v, NewFromString gives %#v, %v", s, got, want, werr)
		}
	}
}
