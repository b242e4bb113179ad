package reports

import (
	"fmt"
	"time"

	"techledger/ledger"
	"techledger/projections"
)

// Report kinds a Request asks for.
const (
	KindAnnual = "annual"
	KindPeriod = "period"
	KindTax    = "tax"
)

// Formats a Request may ask for.
const (
	FormatJSON = "json"
	FormatXLSX = "xlsx"
)

// Request is what the CLI verb and the HTTP routes ask for. For KindAnnual and KindTax,
// Year; for KindPeriod, From and To.
type Request struct {
	Kind     string
	Year     int
	From, To ledger.Date
	Format   string // FormatJSON (default) or FormatXLSX
}

// DefaultYear is the year a request without one covers: that of the last record folded,
// or of now for an empty log.
func DefaultYear(st *projections.State, now time.Time) int {
	if at := st.RecordedAt(); !at.IsZero() && st.Position() > 0 {
		return at.UTC().Year()
	}
	return now.UTC().Year()
}

// DefaultPeriod is the period a request without one covers: the months to date (快报) of
// the last record folded (of now for an empty log): 1 January to the end of its month.
func DefaultPeriod(st *projections.State, now time.Time) Period {
	at := now
	if r := st.RecordedAt(); !r.IsZero() && st.Position() > 0 {
		at = r
	}
	at = at.UTC()
	return Period{From: ledger.Date{Year: at.Year(), Month: time.January, Day: 1}, To: lastOfMonth(at.Year(), at.Month())}
}

// Render returns the document q asks for, computed from st: the JSON document (docs/
// reports.md) followed by a newline, or the XLSX workbook (an annual workbook carries the tax
// sheet of its year). It is kept in c at st's position: asking again before a record is
// folded costs a lookup. A request the rules refuse gives a *projections.QueryError.
func (c *Cache) Render(st *projections.State, q Request) ([]byte, error) {
	switch q.Format {
	case "", FormatJSON:
		q.Format = FormatJSON
	case FormatXLSX:
	default:
		return nil, &projections.QueryError{Field: "format", Rule: "json or xlsx"}
	}
	var p Period
	var err error
	switch q.Kind {
	case KindAnnual, KindTax:
		p, err = Annual(q.Year)
	case KindPeriod:
		p, err = NewPeriod(q.From, q.To)
	default:
		return nil, &projections.QueryError{Field: "kind", Rule: "annual, period or tax"}
	}
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s|%s|%s|%s", q.Kind, q.Format, p.From, p.To)
	v, err := c.Get(st, key, func() (any, error) { return c.render(st, q.Kind, q.Format, p) })
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// render computes a document; the tables come from c.Report, so the JSON, the workbook and
// the console's dashboard of one position and period share one Build.
func (c *Cache) render(st *projections.State, kind, format string, p Period) ([]byte, error) {
	if kind == KindTax {
		t, err := BuildTax(st, p.From.Year)
		if err != nil {
			return nil, err
		}
		if format == FormatXLSX {
			r, err := c.Report(st, p)
			if err != nil {
				return nil, err
			}
			return Workbook(r, t)
		}
		b, err := t.MarshalJSON()
		return append(b, '\n'), err
	}
	r, err := c.Report(st, p)
	if err != nil {
		return nil, err
	}
	if format == FormatXLSX {
		var t *TaxReport
		if kind == KindAnnual {
			if t, err = BuildTax(st, p.From.Year); err != nil {
				return nil, err
			}
		}
		return Workbook(r, t)
	}
	return append(r.AppendJSON(nil), '\n'), nil
}
