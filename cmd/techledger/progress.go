package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// progress draws a one-line progress bar on a terminal for long work (import, replay,
// verify, export). A nil *progress draws nothing: newProgress returns nil when the
// output is not a terminal, so scripts and pipes stay quiet.
type progress struct {
	w     io.Writer
	label string
	unit  string
	total int64 // 0: unknown, a counter without a bar
	start time.Time
	drawn time.Time
	now   func() time.Time
	width int // of the last line drawn, to blank it
}

// progressEvery is the least time between two redraws.
const progressEvery = 100 * time.Millisecond

// newProgress returns a progress bar on w if w is a terminal, else nil.
func newProgress(w io.Writer, label, unit string, total int64) *progress {
	if !isTerminal(w) {
		return nil
	}
	return newProgressTo(w, label, unit, total, time.Now)
}

func newProgressTo(w io.Writer, label, unit string, total int64, now func() time.Time) *progress {
	t := now()
	return &progress{w: w, label: label, unit: unit, total: total, start: t, now: now}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// set reports that n units are done, with an optional note; it redraws at most every
// progressEvery.
func (p *progress) set(n int64, note string) {
	if p == nil {
		return
	}
	t := p.now()
	if t.Sub(p.drawn) < progressEvery {
		return
	}
	p.drawn = t
	p.draw(n, note, t)
}

func (p *progress) draw(n int64, note string, t time.Time) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s", p.label)
	elapsed := t.Sub(p.start)
	switch {
	case p.total > 0:
		frac := min(float64(n)/float64(p.total), 1)
		const width = 24
		full := int(frac * width)
		fmt.Fprintf(&b, " [%s%s] %3.0f%% %s/%s %s", strings.Repeat("#", full), strings.Repeat(".", width-full), frac*100, group(n), group(p.total), p.unit)
	default:
		fmt.Fprintf(&b, " %s %s", group(n), p.unit)
	}
	if s := elapsed.Seconds(); s > 0 && n > 0 {
		fmt.Fprintf(&b, "  %s/s", group(int64(float64(n)/s)))
		if p.total > n {
			eta := time.Duration(float64(p.total-n) / (float64(n) / s) * float64(time.Second))
			fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
		}
	}
	if note != "" {
		b.WriteString("  " + note)
	}
	line := b.String()
	pad := max(p.width-len(line), 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.width = len(line)
}

// done draws the final state and ends the line.
func (p *progress) done(n int64, note string) {
	if p == nil {
		return
	}
	p.draw(n, note, p.now())
	fmt.Fprintln(p.w)
}

// group writes n with thousands separators: 1234567 -> 1,234,567.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// countingReader counts the bytes read through it, for progress by bytes; the count may
// be read from another goroutine than the reader's.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
