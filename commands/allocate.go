package commands

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"techledger/ledger"
)

// Allocate splits a payment's net income among proceeds beneficiaries, exactly to the fen
// (docs/domain.md, Allocation to the fen): each share of the net income is rounded down to 0.01,
// and the fens left over go one by one to the largest fractional remainders, ties to the earlier
// holder in the list. The allocations always sum to net. Shares must sum to 1 with at most 4
// decimal places each and net must be a non-negative amount with at most 2 places; anything else is
// a bug in the caller and panics.
func Allocate(net decimal.Decimal, holders []ledger.Holder) []ledger.Allocation {
	netFen, ok := scaled(net, 2)
	if !ok || netFen < 0 {
		if net.IsNegative() || !net.Equal(net.Truncate(2)) {
			panic(fmt.Sprintf("commands: Allocate: net %s is not a non-negative amount in fen", net))
		}
		netFen = net.Shift(2).IntPart()
	}
	type part struct {
		i         int
		fen, rest int64 // rest: the part of a fen left over, in 1/10000 fen
	}
	parts := make([]part, len(holders))
	var units, sum int64
	for i, h := range holders {
		if h.Share == nil {
			panic(fmt.Sprintf("commands: Allocate: holder %d share is missing or has more than 4 places", i))
		}
		u, ok := scaled(*h.Share, 4) // share in 1/10000
		if !ok {
			if !h.Share.Equal(h.Share.Truncate(4)) {
				panic(fmt.Sprintf("commands: Allocate: holder %d share is missing or has more than 4 places", i))
			}
			u = h.Share.Shift(4).IntPart()
		}
		units += u
		// netFen <= AmountMax in fen (1e13) and u <= 1e4: the product fits in int64.
		exact := netFen * u
		parts[i] = part{i: i, fen: exact / 10000, rest: exact % 10000}
		sum += parts[i].fen
	}
	if units != 10000 {
		panic(fmt.Sprintf("commands: Allocate: shares sum to %d/10000, not 1", units))
	}
	left := netFen - sum // fewer fens than holders: each part lost less than one fen
	if left > 0 {
		order := slices.Clone(parts)
		slices.SortStableFunc(order, func(a, b part) int { return cmp.Compare(b.rest, a.rest) })
		for k := int64(0); k < left; k++ {
			parts[order[k].i].fen++
		}
	}
	out := make([]ledger.Allocation, len(holders))
	var total int64
	for i, h := range holders {
		out[i] = ledger.Allocation{
			HolderID: h.ID, Name: h.Name, Kind: h.Kind, Institution: h.Institution,
			Share: *h.Share, Amount: decimal.New(parts[i].fen, -2),
		}
		total += parts[i].fen
	}
	if total != netFen { // pair assertion: no fen created or lost, ever
		panic(fmt.Sprintf("commands: Allocate: allocated %d fen of %d", total, netFen))
	}
	return out
}

// pow10 holds 10^0 .. 10^18.
var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// scaled returns d * 10^places as an int64 when that is exact and d's coefficient has at
// most 15 digits, reading the coefficient and exponent instead of going through big.Int
// arithmetic (Shift, Truncate) as the general path does. ok is false otherwise.
func scaled(d decimal.Decimal, places int32) (v int64, ok bool) {
	k := d.Exponent() + places
	if k < 0 || k > 3 || d.NumDigits() > 15 {
		return 0, false
	}
	return d.CoefficientInt64() * pow10[k], true
}
