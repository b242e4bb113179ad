package jetstream

import (
	"fmt"
	"strings"
)

// subjectToken encodes s as one NATS subject token. Bytes in [A-Za-z0-9_-] stay as they
// are, so ordinary stream names ("contract-2023140101000123") remain readable in NATS
// tools; every other byte becomes %XX (uppercase hex). The encoding is injective, so two
// ledger streams never share a subject, and the result never holds '.', '*', '>' or
// whitespace, which NATS gives a meaning. It never fails; ledger.ValidateStream bounds the
// input (at most StreamBytesMax bytes, so at most three times that here).
func subjectToken(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainByte(c) {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func plainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// parseSubjectToken reverses subjectToken.
func parseSubjectToken(tok string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case plainByte(c):
			b.WriteByte(c)
		case c == '%' && i+2 < len(tok) && upperHex(tok[i+1]) && upperHex(tok[i+2]):
			b.WriteByte(unhex(tok[i+1])<<4 | unhex(tok[i+2]))
			i += 2
		default:
			return "", fmt.Errorf("subject token %q: byte %d (%q) is not part of the encoding", tok, i, c)
		}
	}
	return b.String(), nil
}

func upperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}
