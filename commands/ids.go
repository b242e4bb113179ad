package commands

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Identifier formats: the technology contract registration number (技术合同登记编号) and the
// unified social credit code (统一社会信用代码, USCC) of organizations. Individuals' and
// researchers' ids are opaque and never parsed. Validators return a plain error stating the
// rule that failed; the caller wraps it with the field name.

// Identifier limits.
const (
	// idBytesMax bounds the identifiers the validators read; longer input is rejected without
	// being echoed in the error.
	idBytesMax = 64

	// RegistrationYearMin is the earliest plausible registration year: technology contract
	// registration dates from the opening of the technology market in 1985; it was governed
	// by 技术合同认定登记管理办法 (2000) and is, from 2026-03-01, by its 2026 replacement
	// (docs/domain.md, Registration measures).
	RegistrationYearMin = 1985
	// RegistrationYearMax is the latest plausible registration year. Validation is pure and
	// does not read the clock, so the bound is fixed rather than "this year".
	RegistrationYearMax = 2100
)

// ValidRegistrationNumber checks a technology contract registration number (docs/domain.md,
// Registration number format).
//
// The current form has 16 digits, read as YYYY PPCC RR NNNNNN: the registration year, the first
// four digits of the registry's GB/T 2260 code (山西 1400, 太原 1401), the registry point and a
// serial. The year must lie in RegistrationYearMin..RegistrationYearMax and PP must be the prefix
// of one of the 31 mainland provinces (technology contract registries exist only there; 71, 81,
// 82 and the abroad code are rejected). CC, RR and the serial are not checked further: the
// registry assigns them.
//
// The older 14-digit form, YY PPCC RR NNNNNN, is accepted too, because historical records
// imported in bulk carry it: YY 85–99 reads as 1985–1999 and 00–84 as 2000–2084 (registration
// began in 1985, so no 14-digit number can mean an earlier year). The number is kept as given;
// it is not rewritten to 16 digits, since that would change the contract's identity.
func ValidRegistrationNumber(s string) error {
	if len(s) > idBytesMax {
		return fmt.Errorf("registration number must be 16 digits (YYYY PPCC RR NNNNNN), got %d bytes", len(s))
	}
	for i, r := range []rune(s) {
		if r < '0' || r > '9' {
			return fmt.Errorf("registration number %q: character %d %q is not a digit", s, i+1, r)
		}
	}
	if len(s) != 16 && len(s) != 14 {
		return fmt.Errorf("registration number %s must be 16 digits (YYYY PPCC RR NNNNNN) or the older 14 digits (YY PPCC RR NNNNNN), got %d", s, len(s))
	}
	var year int
	var rest string
	if len(s) == 16 {
		year, _ = strconv.Atoi(s[:4]) // four ASCII digits: cannot fail
		rest = s[4:]
	} else {
		yy, _ := strconv.Atoi(s[:2])
		year = 2000 + yy
		if yy >= 85 {
			year = 1900 + yy
		}
		rest = s[2:]
	}
	if year < RegistrationYearMin || year > RegistrationYearMax {
		return fmt.Errorf("registration number %s: year %d is outside %d..%d", s, year, RegistrationYearMin, RegistrationYearMax)
	}
	if prefix := rest[:2]; !refMainlandProvince(prefix) {
		return fmt.Errorf("registration number %s: region %s has no known mainland province prefix %s (GB/T 2260)", s, rest[:4], prefix)
	}
	return nil
}

// USCC format (GB 32100-2015 法人和其他组织统一社会信用代码编码规则).
const (
	// usccLength is the length of a USCC in characters.
	usccLength = 18
	// usccCharset is the code character set in order of value (0–30): digits and uppercase
	// letters except I, O, Z, S and V.
	usccCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	// usccAuthorities are the registration authority codes (登记管理部门代码, first character):
	// 1 机构编制, 2 外交, 3 司法行政, 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 市场监管 (工商),
	// A 中央军委改革和编制办公室, N 农业, Y 其他.
	usccAuthorities = "123456789ANY"
)

// usccWeights are the GB 32100-2015 weights of positions 1–17: 3^i mod 31.
var usccWeights = [usccLength - 1]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// ValidUSCC checks an organization's unified social credit code per GB 32100-2015:
//   - exactly 18 characters from the code set: digits and uppercase letters except I, O, Z, S,
//     V (lowercase is rejected, not folded: the code is stored as given);
//   - character 1, the registration authority, one of 1–9, A, N, Y;
//   - character 2, the organization type within that authority, a digit 1–9 (the per-authority
//     type tables are amended by the authorities, so they are not enforced; a mistyped
//     character is caught by the check character anyway);
//   - characters 3–8, the registering authority's GB/T 2260 code, digits;
//   - character 18, the check character: with the values v(c) of the code set (0–30) and the
//     weights w = 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28, it is
//     31 − (Σ v·w mod 31), with 31 written as 0.
//
// Characters 9–17 (the 主体标识码, formerly the organization code) are not checked beyond the
// code set. The check character catches every single-character substitution.
func ValidUSCC(s string) error {
	if len(s) > idBytesMax {
		return fmt.Errorf("unified social credit code must be %d characters, got %d bytes", usccLength, len(s))
	}
	for i, r := range []rune(s) {
		if r >= utf8.RuneSelf || strings.IndexByte(usccCharset, byte(r)) < 0 {
			return fmt.Errorf("unified social credit code %q: character %d %q is not a digit or an uppercase letter other than I, O, Z, S, V", s, i+1, r)
		}
	}
	if len(s) != usccLength {
		return fmt.Errorf("unified social credit code %s must be %d characters, got %d", s, usccLength, len(s))
	}
	if strings.IndexByte(usccAuthorities, s[0]) < 0 {
		return fmt.Errorf("unified social credit code %s: registration authority code %c is unknown (want one of 1-9, A, N, Y)", s, s[0])
	}
	if s[1] < '1' || s[1] > '9' {
		return fmt.Errorf("unified social credit code %s: organization type code %c must be a digit 1-9", s, s[1])
	}
	if !refAllDigits(s[2:8]) {
		return fmt.Errorf("unified social credit code %s: characters 3-8 %s must be the digits of a region code", s, s[2:8])
	}
	if got, want := s[17], usccCheckChar(s[:17]); got != want {
		return fmt.Errorf("unified social credit code %s: check character is %c, want %c", s, got, want)
	}
	return nil
}

// usccCheckChar computes the GB 32100-2015 check character of the first 17 characters of a
// USCC. body must be 17 characters of usccCharset; anything else is a bug and panics.
func usccCheckChar(body string) byte {
	if len(body) != usccLength-1 {
		panic("commands: usccCheckChar needs 17 characters")
	}
	sum := 0
	for i := 0; i < len(body); i++ {
		v := strings.IndexByte(usccCharset, body[i])
		if v < 0 {
			panic("commands: usccCheckChar: character outside the code set")
		}
		sum += v * usccWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return usccCharset[c]
}
