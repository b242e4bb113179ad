package main

import (
	"io"
	"strings"
	"unicode/utf8"
)

// writeTable prints rows under a header in columns two spaces apart, padded by display
// width: a Chinese character takes two terminal cells, so text/tabwriter (which counts
// runes) misaligns tables with names and labels in Chinese.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	widths := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], displayWidth(c))
			}
		}
	}
	var b, line strings.Builder
	for _, r := range append([][]string{header}, rows...) {
		line.Reset()
		for i, c := range r {
			line.WriteString(c)
			if i < len(r)-1 && i < len(widths) {
				line.WriteString(strings.Repeat(" ", widths[i]-displayWidth(c)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// displayWidth is the number of terminal cells s takes: two for East Asian wide and
// full-width characters (Unicode UAX #11, the ranges used by CJK text), one otherwise.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		n++
		if wide(r) {
			n++
		}
	}
	return n
}

func wide(r rune) bool {
	if r < 0x1100 || r == utf8.RuneError {
		return false
	}
	return r <= 0x115F || // Hangul Jamo
		(r >= 0x2E80 && r <= 0x303E) || // CJK radicals, punctuation
		(r >= 0x3041 && r <= 0x33FF) || // kana, CJK symbols
		(r >= 0x3400 && r <= 0x4DBF) || // CJK extension A
		(r >= 0x4E00 && r <= 0x9FFF) || // CJK unified ideographs
		(r >= 0xA000 && r <= 0xA4CF) || // Yi
		(r >= 0xAC00 && r <= 0xD7A3) || // Hangul syllables
		(r >= 0xF900 && r <= 0xFAFF) || // CJK compatibility ideographs
		(r >= 0xFE30 && r <= 0xFE4F) || // CJK compatibility forms
		(r >= 0xFF00 && r <= 0xFF60) || // full-width forms
		(r >= 0xFFE0 && r <= 0xFFE6) ||
		(r >= 0x20000 && r <= 0x3FFFD) // CJK extensions B and later
}
