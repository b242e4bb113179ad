package commands

import (
	"strings"
	"testing"
)

func TestValidRegistrationNumber(t *testing.T) {
	tests := []struct {
		name    string
		number  string
		wantErr string // "" for valid; otherwise a substring of the error
	}{
		{name: "docs/domain.md example", number: "2023140101000123"},
		{name: "provincial registry 1400", number: "2024140001000001"},
		{name: "first year of registration", number: "1985140101000001"},
		{name: "last plausible year", number: "2100140101000001"},
		{name: "registry in another province", number: "2023110108000456"},
		{name: "registry in 新疆", number: "2023650100000001"},
		{name: "14-digit form, 1998", number: "98140101000123"},
		{name: "14-digit form, 1985", number: "85140101000123"},
		{name: "14-digit form, 2005", number: "05140101000123"},

		{name: "year before registration began", number: "1984140101000123", wantErr: "year 1984 is outside 1985..2100"},
		{name: "year beyond the bound", number: "2101140101000123", wantErr: "year 2101"},
		{name: "year zero", number: "0000140101000123", wantErr: "year 0"},
		{name: "unknown province prefix", number: "2023160101000123", wantErr: "province prefix 16"},
		{name: "Taiwan has no registry", number: "2023710000000123", wantErr: "province prefix 71"},
		{name: "Hong Kong has no registry", number: "2023810000000123", wantErr: "province prefix 81"},
		{name: "abroad code is not a registry", number: "2023999999000123", wantErr: "province prefix 99"},
		{name: "14-digit form with bad prefix", number: "98000101000123", wantErr: "province prefix 00"},
		{name: "15 digits", number: "202314010100012", wantErr: "got 15"},
		{name: "17 digits", number: "20231401010001234", wantErr: "got 17"},
		{name: "empty", number: "", wantErr: "got 0"},
		{name: "very long input is not echoed", number: strings.Repeat("1", 1000), wantErr: "got 1000 bytes"},
		{name: "letter", number: "2023140101A00123", wantErr: "character 11 'A' is not a digit"},
		{name: "separators", number: "2023-1401-01-001", wantErr: "character 5 '-'"},
		{name: "full-width digits", number: "２０２３１４０１０１０００１２３", wantErr: "character 1 '２'"},
		{name: "trailing space", number: "2023140101000123 ", wantErr: "character 17 ' '"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidRegistrationNumber(tt.number)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("ValidRegistrationNumber(%q) = %v, want nil", tt.number, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidRegistrationNumber(%q) = %v, want an error containing %q", tt.number, err, tt.wantErr)
			}
		})
	}
}

// usccValue is the GB 32100-2015 value of a code character, written out independently of the
// package's charset constant: digits 0–9, then the letters A–Y without I, O, S, V, Z.
func usccValue(tb testing.TB, c byte) int {
	tb.Helper()
	const letters = "ABCDEFGHJKLMNPQRTUWXY" // 10..30
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case strings.IndexByte(letters, c) >= 0:
		return 10 + strings.IndexByte(letters, c)
	}
	tb.Fatalf("%q is not a USCC character", c)
	return -1
}

// usccCongruent is a second way of checking a USCC: GB 32100-2015 chooses the check character
// so that Σ v(c_i)·3^(i−1) for i = 1..17, plus v(c_18), is a multiple of 31. It uses powers of 3
// instead of the weight table and a congruence instead of the 31 − (sum mod 31) formula.
func usccCongruent(tb testing.TB, s string) bool {
	tb.Helper()
	sum, w := 0, 1
	for i := 0; i < 17; i++ {
		sum += usccValue(tb, s[i]) * w
		w = w * 3 % 31
	}
	return (sum+usccValue(tb, s[17]))%31 == 0
}

// withCheck completes a 17-character body with the check character found by search over the
// congruence, independently of usccCheckChar.
func withCheck(tb testing.TB, body string) string {
	tb.Helper()
	for _, c := range []byte("0123456789ABCDEFGHJKLMNPQRTUWXY") {
		if s := body + string(c); usccCongruent(tb, s) {
			return s
		}
	}
	tb.Fatalf("no check character for %s", body)
	return ""
}

func TestUSCCWeights(t *testing.T) {
	// The standard's weights are 3^(i−1) mod 31.
	w := 1
	for i, got := range usccWeights {
		if got != w {
			t.Errorf("usccWeights[%d] = %d, want 3^%d mod 31 = %d", i, got, i, w)
		}
		w = w * 3 % 31
	}
}

func TestValidUSCC(t *testing.T) {
	// Worked by hand for the GB 32100-2015 example 91350100M000100Y43:
	//   values   9  1  3  5  0  1  0  0  M=21  0  0  0  1  0  0  Y=30  4
	//   weights  1  3  9 27 19 26 16 17  20   29 25 13  8 24 10  30   28
	//   products 9  3 27 135 0 26  0  0  420   0  0  0  8  0  0  900  112  → sum 1640
	//   1640 mod 31 = 28; 31 − 28 = 3 → check character "3". ✓
	// And for the docs/domain.md example 12140000405000025X (太原理工大学 in the example command):
	//   1·1 + 2·3 + 1·9 + 4·27 + 4·20 + 5·25 + 2·30 + 5·28 = 529; 529 mod 31 = 2;
	//   31 − 2 = 29 → "X". ✓ The example is valid.
	tests := []struct {
		name    string
		code    string
		wantErr string // "" for valid; otherwise a substring of the error
	}{
		{name: "GB 32100-2015 example", code: "91350100M000100Y43"},
		{name: "example seller (事业单位)", code: "12140000405000025X"},
		{name: "example buyer (企业)", code: "91140400234567819D"},
		{name: "enterprise registered in Shenzhen", code: "914403001922038216"},
		{name: "check character 0 (31 mod 31)", code: withCheck(t, "9114010000000000A")},
		{name: "social organization (民政)", code: withCheck(t, "51140000MJY000000")},
		{name: "rural collective (农业)", code: withCheck(t, "N2140105MF0000000")},
		{name: "other authority Y", code: withCheck(t, "Y1140100MA0000000")},

		{name: "wrong check character", code: "12140000405000025Y", wantErr: "check character is Y, want X"},
		{name: "transposed digits", code: "12140000450000025X", wantErr: "check character is X, want"},
		{name: "single digit typo", code: "91140400234567818D", wantErr: "check character is D, want"},
		{name: "lowercase check character", code: "12140000405000025x", wantErr: "character 18 'x'"},
		{name: "lowercase letter in body", code: "91350100m000100Y43", wantErr: "character 9 'm'"},
		{name: "letter I", code: "9135010I0000000000", wantErr: "character 8 'I'"},
		{name: "letter O", code: "91350100O000100Y43", wantErr: "character 9"},
		{name: "letter Z", code: "91350100Z000100Y43", wantErr: "character 9"},
		{name: "letter S", code: "91350100S000100Y43", wantErr: "character 9"},
		{name: "letter V", code: "91350100V000100Y43", wantErr: "character 9"},
		{name: "17 characters", code: "1214000040500002X", wantErr: "must be 18 characters, got 17"},
		{name: "19 characters", code: "12140000405000025XX", wantErr: "got 19"},
		{name: "empty", code: "", wantErr: "got 0"},
		{name: "spaces", code: " 12140000405000025", wantErr: "character 1"},
		{name: "Chinese characters", code: "统一社会信用代码", wantErr: "character 1 '统'"},
		{name: "full-width letters, 18 of them", code: "９１３５０１００Ｍ０００１００Ｙ４３", wantErr: "character 1 '９'"},
		{name: "invalid UTF-8", code: "\xff1350100M000100Y43", wantErr: "character 1"},
		{name: "very long input is not echoed", code: strings.Repeat("9", 100), wantErr: "got 100 bytes"},
		{name: "unknown authority 0", code: withCheck(t, "0114010000000000A"), wantErr: "registration authority code 0"},
		{name: "unknown authority B", code: withCheck(t, "B114010000000000A"), wantErr: "registration authority code B"},
		{name: "type code 0", code: withCheck(t, "9014010000000000A"), wantErr: "organization type code 0"},
		{name: "type code letter", code: withCheck(t, "9A14010000000000A"), wantErr: "organization type code A"},
		{name: "letter in region code", code: withCheck(t, "911401A000000000A"), wantErr: "characters 3-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidUSCC(tt.code)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("ValidUSCC(%q) = %v, want nil", tt.code, err)
				}
				if !usccCongruent(t, tt.code) {
					t.Errorf("%s fails the independent congruence check", tt.code)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidUSCC(%q) = %v, want an error containing %q", tt.code, err, tt.wantErr)
			}
		})
	}
}

// TestValidUSCC_SingleSubstitution proves the claim in ValidUSCC's doc: changing any one
// character of a valid code to any other code character is rejected (31 is prime and no weight
// is 0 mod 31).
func TestValidUSCC_SingleSubstitution(t *testing.T) {
	for _, valid := range []string{"91350100M000100Y43", "12140000405000025X", "91140400234567819D"} {
		for i := 0; i < len(valid); i++ {
			for _, c := range []byte(usccCharset) {
				if c == valid[i] {
					continue
				}
				changed := valid[:i] + string(c) + valid[i+1:]
				if ValidUSCC(changed) == nil {
					t.Errorf("ValidUSCC(%s) = nil after changing character %d of %s", changed, i+1, valid)
				}
			}
		}
	}
}

// FuzzValidUSCC checks that ValidUSCC never panics, and that whatever it accepts has 18
// characters and passes the independent congruence check.
func FuzzValidUSCC(f *testing.F) {
	for _, s := range []string{
		"91350100M000100Y43", "12140000405000025X", "12140000405000025Y", "", "统一社会信用代码",
		"91350100m000100Y43", "000000000000000000", "YYYYYYYYYYYYYYYYYY", "\xff\xfe" + "1234567890123456",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidUSCC(s) != nil {
			return
		}
		if len(s) != 18 {
			t.Fatalf("ValidUSCC accepted %q of length %d", s, len(s))
		}
		if !usccCongruent(t, s) {
			t.Fatalf("ValidUSCC accepted %q, which fails the congruence check", s)
		}
	})
}

// FuzzValidRegistrationNumber checks that ValidRegistrationNumber never panics, and that whatever
// it accepts is 14 or 16 ASCII digits with a mainland province prefix after the year.
func FuzzValidRegistrationNumber(f *testing.F) {
	for _, s := range []string{
		"2023140101000123", "98140101000123", "1984140101000123", "", "2023-1401-01-001",
		"２０２３１４０１", "99999999999999999", "0000000000000000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidRegistrationNumber(s) != nil {
			return
		}
		if len(s) != 14 && len(s) != 16 {
			t.Fatalf("accepted %q of length %d", s, len(s))
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				t.Fatalf("accepted %q with a non-digit", s)
			}
		}
		prefix := s[len(s)-12 : len(s)-10]
		if name, ok := ProvinceName(prefix); !ok || prefix == "71" || prefix == "81" || prefix == "82" {
			t.Fatalf("accepted %q with province prefix %s (%s, %v)", s, prefix, name, ok)
		}
	})
}
