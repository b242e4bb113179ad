package reports

import (
	"math"
	"math/big"
	"testing"
)

// TestPercent: half away from zero at two places, in both signs; no rounding of a sum; the
// same either side of the int64 fast path's bound (expected values worked out with exact
// fractions outside this code).
func TestPercent(t *testing.T) {
	const maxFast = math.MaxInt64 / 10000
	for _, c := range []struct {
		num, den int64
		want     string
	}{
		{math.MaxInt64, 3, "307445734561825860233.33"},
		{maxFast, 7, "13176245766935385.71"},
		{maxFast + 1, 7, "13176245766935400.00"},
		{-maxFast - 1, 7, "-13176245766935400.00"},
		{math.MinInt64, -3, "307445734561825860266.67"},
		{7, math.MinInt64, "0.00"},
		{math.MaxInt64, math.MaxInt64, "100.00"},
		{1, math.MaxInt64, "0.00"},
		{1, 3, "33.33"},
		{2, 3, "66.67"},
		{1, 8, "12.50"},
		{1, 80000, "0.00"},   // 0.00125 %
		{1, 40000, "0.00"},   // 0.0025 % -> 0.00
		{1, 20000, "0.01"},   // 0.005 % -> 0.01 (half away from zero)
		{-1, 20000, "-0.01"}, // and below zero
		{-1, 80000, "0.00"},  // no "-0.00"
		{5, 5, "100.00"},
		{-3, 2, "-150.00"},
		{3, -2, "-150.00"},
		{1, 0, ""},
		{123456789, 1000, "12345678.90"},
	} {
		if got := percent(big.NewInt(c.num), big.NewInt(c.den)); got != c.want {
			t.Errorf("percent(%d, %d) = %q, want %q", c.num, c.den, got, c.want)
		}
	}
}
