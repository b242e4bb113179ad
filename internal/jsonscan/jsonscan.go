// Package jsonscan reads JSON text without allocating, for the hand-written decoders on
// the hot paths: the command fast path (commands/parse.go) and the projections' view
// decoder (projections/decode.go). Each maps a known schema onto its own values and keeps
// a strict decoder as its fallback and its reference (see docs/architecture.md, the write
// and read paths).
//
// A Scanner never judges input invalid. Each method reports false for input it does not
// cover, and the caller then hands the whole input to its strict decoder, which decides.
// What a method does accept is valid JSON that encoding/json reads the same way: that is
// the package's contract, checked by FuzzScanner against encoding/json.
//
// It covers objects, arrays, null and strings; numbers and booleans are not read (no
// caller's schema has them), so an input holding one goes to the strict decoder.
package jsonscan

import "unicode/utf8"

// Scanner reads JSON from a byte slice, front to back. The zero Scanner reads an empty
// input; a Scanner is not safe for concurrent use. Byte slices it returns alias the input.
type Scanner struct {
	b []byte
	i int
}

// New returns a Scanner reading b from its start.
func New(b []byte) Scanner { return Scanner{b: b} }

// Offset returns the number of bytes read so far.
func (s *Scanner) Offset() int { return s.i }

// Space skips JSON whitespace.
func (s *Scanner) Space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// End skips whitespace and reports whether the input ends there.
func (s *Scanner) End() bool {
	s.Space()
	return s.i == len(s.b)
}

// Eat skips whitespace and then c, reporting whether c was there (if not, only the
// whitespace is consumed).
func (s *Scanner) Eat(c byte) bool {
	s.Space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// Lit consumes lit if the input continues with exactly it, skipping no whitespace: for
// decoders that match the one form an encoder writes, keys and punctuation included.
func (s *Scanner) Lit(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// Null skips whitespace and then a null, reporting whether one was there.
func (s *Scanner) Null() bool {
	s.Space()
	return s.Lit("null")
}

// special marks the bytes a string scan must stop at: the closing quote, a backslash,
// control bytes (invalid unescaped in JSON) and non-ASCII bytes (checked as UTF-8).
var special = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()

// Str skips whitespace and reads a string without escapes, of valid UTF-8, returning its
// contents (aliasing the input). Such a string's contents are its value, byte for byte.
// It reports false for an escaped string (whose value needs decoding), a string with
// invalid UTF-8 (which encoding/json replaces with U+FFFD), or anything else.
func (s *Scanner) Str() ([]byte, bool) {
	s.Space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	rest, ascii := s.b[s.i+1:], true
	for j, c := range rest {
		if !special[c] {
			continue
		}
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(rest[:j]) {
				return nil, false
			}
			s.i += j + 2
			return rest[:j:j], true
		case c >= utf8.RuneSelf:
			ascii = false
		default: // backslash or control byte
			return nil, false
		}
	}
	return nil, false
}

// SkipStr skips whitespace and a string, escaped or not, reporting whether one was there:
// for values a decoder checks to be strings without reading them. Invalid UTF-8 is
// accepted, as encoding/json accepts it (replacing it); escapes must be valid.
func (s *Scanner) SkipStr() bool {
	s.Space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		c := s.b[j]
		if !special[c] || c >= utf8.RuneSelf {
			continue
		}
		switch c {
		case '"':
			s.i = j + 1
			return true
		case '\\':
			if j+1 >= len(s.b) {
				return false
			}
			switch s.b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(s.b) || !isHex4(s.b[j+2:j+6]) {
					return false
				}
				j += 5
			default:
				return false
			}
		default: // control byte
			return false
		}
	}
	return false
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Key reads an object member's key (a string as Str reads it) and the colon after it.
func (s *Scanner) Key() ([]byte, bool) {
	k, ok := s.Str()
	return k, ok && s.Eat(':')
}

// Object reads an object, calling member with each key; member must read the member's
// value and report whether it could. Object reports false as soon as member does, or
// for anything but an object. Keys are read as Key reads them; repeated keys are the
// caller's to notice (see Seen).
func (s *Scanner) Object(member func(key []byte) bool) bool {
	if !s.Eat('{') {
		return false
	}
	if s.Eat('}') {
		return true
	}
	for {
		k, ok := s.Key()
		if !ok || !member(k) {
			return false
		}
		if !s.Eat(',') {
			return s.Eat('}')
		}
	}
}

// Rest reads the rest of an object whose first members the caller has read itself (a
// decoder that must see one member before it knows how to read the others): a ',' and a
// member, as many times as there are, then the closing '}'.
func (s *Scanner) Rest(member func(key []byte) bool) bool {
	for s.Eat(',') {
		k, ok := s.Key()
		if !ok || !member(k) {
			return false
		}
	}
	return s.Eat('}')
}

// Array reads an array, calling elem for each element; elem must read the element and
// report whether it could. Array reports false as soon as elem does, or for anything but
// an array (null included: callers that take null as empty check Null first).
func (s *Scanner) Array(elem func() bool) bool {
	if !s.Eat('[') {
		return false
	}
	if s.Eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if !s.Eat(',') {
			return s.Eat(']')
		}
	}
}

// ArrayOrNull is Array that also reads null, as an array without elements (as
// encoding/json reads null into a slice).
func (s *Scanner) ArrayOrNull(elem func() bool) bool {
	return s.Null() || s.Array(elem)
}

// Seen records which members of one object were read, by bit (a member's index in the
// caller's schema, below 64), so that a decoder can refuse a repeated key.
type Seen uint64

// First marks bit as read and reports whether it was the first time.
func (k *Seen) First(bit uint) bool {
	if *k&(1<<bit) != 0 {
		return false
	}
	*k |= 1 << bit
	return true
}
