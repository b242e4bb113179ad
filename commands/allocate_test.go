package commands

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

func sharesOf(ss ...string) []ledger.Holder {
	hs := make([]ledger.Holder, len(ss))
	for i, s := range ss {
		hs[i] = ledger.Holder{ID: fmt.Sprintf("H%d", i), Share: sharep(s)}
	}
	return hs
}

func amountsOf(as []ledger.Allocation) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Amount.StringFixed(2)
	}
	return out
}

func TestAllocate(t *testing.T) {
	tests := []struct {
		name   string
		net    string
		shares []string
		want   []string
	}{
		{"docs/domain.md example: 0.30 / 0.49 / 0.21 of 550000", "550000.00", []string{"0.30", "0.49", "0.21"}, []string{"165000.00", "269500.00", "115500.00"}},
		{"one fen to three equal thirds goes to the first (ties: listing order)", "0.01", []string{"0.3334", "0.3333", "0.3333"}, []string{"0.01", "0.00", "0.00"}},
		{"two fens: largest remainders first", "0.02", []string{"0.3333", "0.3334", "0.3333"}, []string{"0.01", "0.01", "0.00"}},
		{"100.00 in thirds", "100.00", []string{"0.3333", "0.3333", "0.3334"}, []string{"33.33", "33.33", "33.34"}},
		{"remainder to the largest fraction, not the largest share", "10.01", []string{"0.5", "0.25", "0.25"}, []string{"5.01", "2.50", "2.50"}},
		{"ties among later holders go to the earlier one", "0.03", []string{"0.25", "0.25", "0.25", "0.25"}, []string{"0.01", "0.01", "0.01", "0.00"}},
		{"zero net", "0.00", []string{"0.7", "0.3"}, []string{"0.00", "0.00"}},
		{"single holder", "123.45", []string{"1"}, []string{"123.45"}},
		// 0.0001 of 9999999999999 fen is 999999999.9999 fen: the leftover fen goes to it.
		{"large amount", "99999999999.99", []string{"0.0001", "0.9999"}, []string{"10000000.00", "99989999999.99"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Allocate(d(tc.net), sharesOf(tc.shares...))
			assert.Equal(t, tc.want, amountsOf(got))
		})
	}
}

func TestAllocate_PanicsOnBadInput(t *testing.T) {
	assert.Panics(t, func() { Allocate(d("1.00"), sharesOf("0.5", "0.4")) }, "shares not summing to 1")
	assert.Panics(t, func() { Allocate(d("1.001"), sharesOf("1")) }, "net below the fen")
	assert.Panics(t, func() { Allocate(d("-1"), sharesOf("1")) }, "negative net")
}

// TestAllocate_Property checks, for random nets and shares, against an independent
// computation with exact rationals: the allocations sum to the net; each is the exact
// share rounded down or up by one fen; and the fens rounded up went to the largest
// remainders, ties in listing order.
func TestAllocate_Property(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		n := 1 + r.IntN(8)
		units := randomSplit(r, 10000, n)
		hs := make([]ledger.Holder, n)
		for i, u := range units {
			s := reexpress(r, int64(u), -4)
			hs[i] = ledger.Holder{ID: fmt.Sprint(i), Share: &s}
		}
		netFen := r.Int64N(1_000_000_000_00)
		if r.IntN(4) == 0 {
			netFen = r.Int64N(20)
		}
		net := reexpress(r, netFen, -2)
		got := Allocate(net, hs)

		sum := decimal.Zero
		type rem struct {
			i    int
			frac *big.Rat
		}
		var rems []rem
		floors := make([]int64, n)
		var floorSum int64
		for i, u := range units {
			exact := new(big.Rat).SetFrac64(netFen*int64(u), 10000) // in fen
			fl := new(big.Int).Quo(exact.Num(), exact.Denom()).Int64()
			floors[i] = fl
			floorSum += fl
			rems = append(rems, rem{i, new(big.Rat).Sub(exact, new(big.Rat).SetInt64(fl))})
			sum = sum.Add(got[i].Amount)
		}
		require.True(t, sum.Equal(net), "sum %s != net %s", sum, net)
		sort.SliceStable(rems, func(a, b int) bool { return rems[a].frac.Cmp(rems[b].frac) > 0 })
		extra := make([]int64, n)
		for k := int64(0); k < netFen-floorSum; k++ {
			extra[rems[k].i] = 1
		}
		for i := range n {
			want := decimal.New(floors[i]+extra[i], -2)
			require.True(t, got[i].Amount.Equal(want), "holder %d: got %s want %s (net %s, units %v)", i, got[i].Amount, want, net, units)
		}
	}
}

// reexpress returns coef * 10^exp as a decimal written with some other exponent (1.5 as
// 15e-1, 1500e-3 or 15000000e-7, 2.00 as 2): Allocate must not depend on how a value is
// written.
func reexpress(r *rand.Rand, coef int64, exp int32) decimal.Decimal {
	switch r.IntN(4) {
	case 0: // more places
		k := r.IntN(6)
		return decimal.NewFromBigInt(new(big.Int).Mul(big.NewInt(coef), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil)), exp-int32(k))
	case 1: // fewest places
		for coef != 0 && coef%10 == 0 {
			coef, exp = coef/10, exp+1
		}
	}
	return decimal.New(coef, exp)
}

// randomSplit splits total into n positive parts.
func randomSplit(r *rand.Rand, total, n int) []int {
	cuts := map[int]bool{}
	for len(cuts) < n-1 {
		cuts[1+r.IntN(total-1)] = true
	}
	points := []int{0, total}
	for c := range cuts {
		points = append(points, c)
	}
	sort.Ints(points)
	out := make([]int, n)
	for i := range n {
		out[i] = points[i+1] - points[i]
	}
	return out
}
