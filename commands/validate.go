package commands

import (
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"techledger/ledger"
)

// AmountMax is the largest amount a command may carry: 100 billion yuan (1,000 亿元), far
// above any single technology contract registered in China, so a misplaced decimal point
// or a stray digit is caught rather than recorded.
var AmountMax = decimal.RequireFromString("100000000000.00")

// amountDigitsMax bounds an amount string before it is parsed.
const amountDigitsMax = 20

// parseAmount parses a CNY amount: a JSON string of digits with at most 2 decimal places,
// not negative, at most AmountMax. Exponents, signs and spaces are refused.
func parseAmount(field, s string) (decimal.Decimal, *Error) {
	if s == "" {
		return decimal.Decimal{}, invalidf(field, "is required")
	}
	if len(s) > amountDigitsMax {
		return decimal.Decimal{}, invalidf(field, "%q is too long for an amount", clip(s))
	}
	if s[0] == '-' {
		return decimal.Decimal{}, invalidf(field, "%s must not be negative", s)
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || !digits(whole) || (dot && (frac == "" || !digits(frac))) {
		return decimal.Decimal{}, invalidf(field, "%q is not a decimal amount such as \"1200.00\"", clip(s))
	}
	if len(frac) > 2 {
		return decimal.Decimal{}, invalidf(field, "%s has more than 2 decimal places (amounts are in yuan to the fen)", s)
	}
	var d decimal.Decimal
	if len(whole)+len(frac) <= 18 {
		// Digits checked above and at most 18 of them: the coefficient is an int64, and
		// decimal.New gives what decimal.NewFromString would, without parsing again.
		var coef int64
		for _, part := range [2]string{whole, frac} {
			for i := 0; i < len(part); i++ {
				coef = coef*10 + int64(part[i]-'0')
			}
		}
		d = decimal.New(coef, -int32(len(frac)))
	} else {
		var err error
		if d, err = decimal.NewFromString(s); err != nil {
			return decimal.Decimal{}, invalidf(field, "%q is not a decimal amount", clip(s))
		}
	}
	if d.GreaterThan(AmountMax) {
		return decimal.Decimal{}, invalidf(field, "%s exceeds AmountMax (%s)", s, AmountMax.StringFixed(2))
	}
	return d, nil
}

// parseShare parses a share: a decimal fraction with at most 4 places in (0, 1].
func parseShare(field string, s *string) (decimal.Decimal, *Error) {
	if s == nil || *s == "" {
		return decimal.Decimal{}, invalidf(field, "is required")
	}
	whole, frac, dot := strings.Cut(*s, ".")
	if whole == "" || len(*s) > 8 || !digits(whole) || (dot && (frac == "" || !digits(frac))) {
		return decimal.Decimal{}, invalidf(field, "%q is not a decimal fraction such as \"0.3\"", clip(*s))
	}
	if len(frac) > 4 {
		return decimal.Decimal{}, invalidf(field, "%s has more than 4 decimal places", *s)
	}
	d := decimal.RequireFromString(*s)
	if !d.IsPositive() || d.GreaterThan(decimal.NewFromInt(1)) {
		return decimal.Decimal{}, invalidf(field, "%s is not in (0, 1]", *s)
	}
	return d, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func parseDate(field, s string) (ledger.Date, *Error) {
	if s == "" {
		return ledger.Date{}, invalidf(field, "is required")
	}
	d, err := ledger.ParseDate(s)
	if err != nil {
		return ledger.Date{}, invalidf(field, "%v", err)
	}
	return d, nil
}

// text checks a required free-text field: present, printable UTF-8, at most max bytes.
func text(field, s string, max int) *Error {
	if strings.TrimSpace(s) == "" {
		return invalidf(field, "is required")
	}
	return optionalText(field, s, max)
}

// optionalText checks an optional free-text field: printable UTF-8, at most max bytes.
func optionalText(field, s string, max int) *Error {
	if len(s) > max {
		return invalidf(field, "%d bytes exceed the limit of %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return invalidf(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalidf(field, "contains a control character")
		}
	}
	return nil
}

// identifier checks an id: present, printable, no spaces, at most IDBytesMax bytes.
func identifier(field, s string) *Error {
	if s == "" {
		return invalidf(field, "is required")
	}
	if err := optionalText(field, s, IDBytesMax); err != nil {
		return err
	}
	if strings.ContainsAny(s, " \u3000") {
		return invalidf(field, "%q must not contain spaces", clip(s))
	}
	return nil
}

// usccExempt reports whether a party in region has no unified social credit code: one
// abroad, or in Taiwan, Hong Kong or Macao (GB 32100-2015 covers mainland organizations).
func usccExempt(region string) bool {
	return region == AbroadRegion || strings.HasPrefix(region, "71") || strings.HasPrefix(region, "81") || strings.HasPrefix(region, "82")
}

// party checks a contract party and records every field at fault in p. Organizations' ids
// must be valid 统一社会信用代码 (GB 32100-2015), except parties abroad or in Taiwan, Hong Kong
// and Macao; individuals' ids are opaque (they may be masked) and never parsed. The check
// character is checked only when kind and region are valid, since they decide whether the
// id is a code at all.
func party(p *problems, field string, pt *ledger.Party, required bool) {
	if pt == nil {
		if required {
			p.add(field, "is required")
		}
		return
	}
	p.ok(text(field+".name", pt.Name, NameBytesMax))
	kindOK := false
	if pt.Kind == "" {
		p.add(field+".kind", "is required")
	} else if _, ok := PartyKindLabel(pt.Kind); !ok {
		p.add(field+".kind", "%q is not a party kind (want one of %s)", clip(pt.Kind), strings.Join(PartyKinds(), ", "))
	} else {
		kindOK = true
	}
	regionOK := false
	if pt.Region == "" {
		p.add(field+".region", "is required")
	} else if err := ValidRegion(pt.Region); err != nil {
		p.add(field+".region", "%v", err)
	} else {
		regionOK = true
	}
	if !p.ok(identifier(field+".id", pt.ID)) {
		return
	}
	if kindOK && regionOK && pt.Kind != "individual" && !usccExempt(pt.Region) {
		if err := ValidUSCC(pt.ID); err != nil {
			p.add(field+".id", "%v", err)
		}
	}
}

// clipRunes shortens s to at most n runes for an error message.
func clipRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
