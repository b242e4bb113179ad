package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"techledger/ledger"
	"techledger/projections"
	"techledger/reports"
)

// The report routes (docs/reports.md): the annual and period tables and the tax flags, as
// the JSON document or, with ?format=xlsx, the workbook. They read the projections like
// the statistics, so every role that reads statistics may call them.

// xlsxType is the media type of a workbook.
const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

func (s *Server) reportRoutes() []Route {
	return []Route{
		{"GET /v1/reports/annual", ReadFigures, s.getReport(reports.KindAnnual, "year")},
		{"GET /v1/reports/period", ReadFigures, s.getReport(reports.KindPeriod, "from", "to")},
		{"GET /v1/reports/tax", ReadFigures, s.getReport(reports.KindTax, "year")},
	}
}

// getReport answers GET /v1/reports/{kind}?year= (or from=&to=)&as_of=&format=. Without a
// year it covers the year of the last record folded; without from and to, the months to
// date of that record.
func (s *Server) getReport(kind string, params ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		qs := r.URL.Query()
		if !s.knownParams(w, r, append(params, "as_of", "format")...) {
			return
		}
		q := reports.Request{Kind: kind, Format: qs.Get("format")}
		if qs.Has("year") {
			y, err := strconv.Atoi(qs.Get("year"))
			if err != nil {
				s.badQuery(w, r, fmt.Errorf("year: want a year such as 2024"))
				return
			}
			q.Year = y
		}
		for _, d := range []struct {
			name string
			dst  *ledger.Date
		}{{"from", &q.From}, {"to", &q.To}} {
			if v := qs.Get(d.name); v != "" {
				t, err := ledger.ParseDate(v)
				if err != nil {
					s.badQuery(w, r, fmt.Errorf("%s: %v", d.name, err))
					return
				}
				*d.dst = t
			}
		}
		at, err := ParseAsOf(qs.Get("as_of"))
		if err != nil {
			s.badQuery(w, r, err)
			return
		}
		var body []byte
		err = StateAt(r.Context(), s.proj, at, func(st *projections.State) (err error) {
			now := time.Now()
			if q.Year == 0 && !qs.Has("year") {
				q.Year = reports.DefaultYear(st, now)
			}
			if kind == reports.KindPeriod && q.From.IsZero() && q.To.IsZero() {
				p := reports.DefaultPeriod(st, now)
				q.From, q.To = p.From, p.To
			}
			body, err = s.reports.Render(st, q)
			return err
		})
		if err != nil {
			s.answer(w, r, nil, err)
			return
		}
		if q.Format == reports.FormatXLSX {
			w.Header().Set("Content-Type", xlsxType)
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="techledger-%s.xlsx"`, kind))
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	}
}
