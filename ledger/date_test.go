package ledger

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestParseDate_FastMatchesTimeParse checks every day-month combination (valid or not) of
// years around the edges, and random strings, against ParseDate's time.Parse path: the
// fast path may only accept what that path accepts, as the same Date.
func TestParseDate_FastMatchesTimeParse(t *testing.T) {
	check := func(s string) {
		fast, ok := parseDateFast(s)
		if !ok {
			return
		}
		tm, err := time.Parse(time.DateOnly, s)
		if err != nil || tm.Year() < 1900 || DateOf(tm) != fast {
			t.Fatalf("parseDateFast(%q) = %v; time.Parse gives %v, %v", s, fast, tm, err)
		}
	}
	accepted := 0
	for _, y := range []int{0, 1, 1600, 1800, 1899, 1900, 1901, 1996, 2000, 2023, 2024, 2100, 2400, 9999} {
		for m := range 14 {
			for d := range 33 {
				s := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
				check(s)
				if _, ok := parseDateFast(s); ok {
					accepted++
				}
			}
		}
	}
	// Every valid day of the nine years from 1900 on, four of them leap years.
	if want := 9*365 + 4; accepted != want {
		t.Errorf("parseDateFast accepted %d dates, want %d", accepted, want)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 100_000 {
		b := []byte("2024-02-29")
		for range 1 + r.IntN(2) {
			b[r.IntN(len(b))] = "0123456789-+ /x"[r.IntN(15)]
		}
		check(string(b))
	}
}
