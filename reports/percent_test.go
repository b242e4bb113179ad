package reports

import (
	"math/big"
	"testing"
)

// TestPercent: half away from zero at two places, in both signs; no rounding of a sum.
func TestPercent(t *testing.T) {
	for _, c := range []struct {
		num, den int64
		want     string
	}{
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
