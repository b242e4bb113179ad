package projections

import (
	"math/big"
	"math/bits"
	"strconv"

	"github.com/shopspring/decimal"
)

// Money is an exact sum of amounts in fen (0.01 CNY). It is a 128-bit two's-complement
// integer, so sums of any number of amounts the ledger accepts can never overflow: the
// folds add and subtract in fen, exactly, and never round.
type Money struct {
	hi int64
	lo uint64
}

// Fen returns the money holding f fen.
func Fen(f int64) Money { return Money{hi: f >> 63, lo: uint64(f)} }

func (m *Money) add(f int64) {
	lo, carry := bits.Add64(m.lo, uint64(f), 0)
	m.hi += f>>63 + int64(carry)
	m.lo = lo
}

func (m *Money) addMoney(n Money) {
	lo, carry := bits.Add64(m.lo, n.lo, 0)
	m.hi += n.hi + int64(carry)
	m.lo = lo
}

// IsZero reports whether m is 0.
func (m Money) IsZero() bool { return m.hi == 0 && m.lo == 0 }

func (m Money) big() *big.Int {
	if m.hi == int64(m.lo)>>63 { // fits in int64
		return big.NewInt(int64(m.lo))
	}
	n := new(big.Int).SetInt64(m.hi)
	n.Lsh(n, 64)
	return n.Add(n, new(big.Int).SetUint64(m.lo))
}

// Decimal returns m in yuan.
func (m Money) Decimal() decimal.Decimal { return decimal.NewFromBigInt(m.big(), -2) }

// String formats m in yuan with exactly two decimals ("1234.50", "-0.01").
func (m Money) String() string { return string(m.appendText(nil)) }

func (m Money) appendText(b []byte) []byte {
	var digits []byte
	neg := false
	if m.hi == int64(m.lo)>>63 {
		v := int64(m.lo)
		neg = v < 0
		if neg {
			digits = strconv.AppendUint(nil, uint64(-v), 10) // -MinInt64 as uint64 is right
		} else {
			digits = strconv.AppendUint(nil, uint64(v), 10)
		}
	} else {
		n := m.big()
		neg = n.Sign() < 0
		digits = n.Abs(n).Append(nil, 10)
	}
	for len(digits) < 3 {
		digits = append([]byte{'0'}, digits...)
	}
	if neg {
		b = append(b, '-')
	}
	b = append(b, digits[:len(digits)-2]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-2:]...)
}

// MarshalText implements encoding.TextMarshaler (JSON: a string with two decimals).
func (m Money) MarshalText() ([]byte, error) { return m.appendText(nil), nil }
