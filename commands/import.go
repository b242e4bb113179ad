package commands

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"techledger/ledger"
)

// Limits of an import.
const (
	// ImportLineBytesMax bounds one NDJSON line (one command).
	ImportLineBytesMax = CommandBytesMax
	// ImportErrorsMax bounds the rejected lines a Summary lists; all are counted.
	ImportErrorsMax = 1000
)

// utf8BOM is the byte-order mark some Windows tools write at the start of a UTF-8 file:
// it is not part of the first command.
var utf8BOM = []byte("\ufeff")

// LineError is a rejected line of an import.
type LineError struct {
	Line int   `json:"line"`
	Err  error `json:"-"`
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Summary is the result of an import.
type Summary struct {
	Applied      int             `json:"applied"`
	Duplicates   int             `json:"duplicates"`
	Rejected     int             `json:"rejected"`
	LastPosition ledger.Position `json:"last_position"` // of the last event appended or found (0: none)
	Errors       []LineError     `json:"-"`             // the first ImportErrorsMax rejections, in line order
}

// Import applies every command of an NDJSON stream (one JSON command per line; blank lines
// are skipped) through h, in order. A rejected line is reported as "line N: <field>: <rule>"
// and does not stop the import; a failure of the log or of reading r does (the lines after
// it are not applied and the error is returned with the summary so far). A UTF-8 byte-order
// mark at the start of r is skipped. Re-importing the
// same lines appends nothing: their command_ids are already recorded. progress, if not nil,
// is called after each line.
func Import(ctx context.Context, r io.Reader, h *Handler, who Actor, progress func(line int, s *Summary)) (Summary, error) {
	var sum Summary
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		b, tooLong, err := readLine(br, ImportLineBytesMax)
		if err == io.EOF && len(b) == 0 && !tooLong {
			return sum, nil
		}
		if err != nil && err != io.EOF {
			return sum, fmt.Errorf("import: read line %d: %w", line, err)
		}
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		if line == 1 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		switch {
		case tooLong:
			sum.reject(line, reject(CodeMalformed, "", "line exceeds ImportLineBytesMax (%d bytes)", ImportLineBytesMax))
		case len(bytes.TrimSpace(b)) == 0:
		default:
			out, herr := h.HandleJSON(ctx, b, who)
			var rej *Error
			switch {
			case errors.As(herr, &rej):
				sum.reject(line, rej)
			case herr != nil:
				return sum, fmt.Errorf("import: line %d: %w", line, herr)
			case out.Status == StatusDuplicate:
				sum.Duplicates++
			default:
				sum.Applied++
			}
			if n := len(out.Positions); n > 0 {
				sum.LastPosition = max(sum.LastPosition, out.Positions[n-1])
			}
		}
		if progress != nil {
			progress(line, &sum)
		}
		if err == io.EOF {
			return sum, nil
		}
	}
}

func (s *Summary) reject(line int, err error) {
	s.Rejected++
	if len(s.Errors) < ImportErrorsMax {
		s.Errors = append(s.Errors, LineError{Line: line, Err: err})
	}
}

// readLine reads one line without its newline. A line longer than max is consumed to its
// end and reported as tooLong, without keeping it.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > max+1 { // +1: the newline
			tooLong = true
			buf = buf[:0]
		} else if !tooLong {
			buf = append(buf, frag...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		buf = bytes.TrimSuffix(bytes.TrimSuffix(buf, []byte("\n")), []byte("\r"))
		if tooLong {
			return nil, true, err
		}
		return buf, false, err
	}
}
