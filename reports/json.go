package reports

import (
	"strconv"

	"techledger/internal/jsonw"
)

// MarshalJSON implements json.Marshaler: the document of docs/reports.md, keys in a fixed
// order, so that one State always gives the same bytes, whatever the backend.
func (r *Report) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// AppendJSON appends the JSON document of r to b.
func (r *Report) AppendJSON(b []byte) []byte {
	b = append(b, `{"as_of":`...)
	b = strconv.AppendUint(b, uint64(r.AsOf), 10)
	b = jsonw.StringField(b, "head_hash", r.HeadHash.String())
	b = jsonw.StringField(b, "home_province", r.HomeProvince)
	b = appendPeriod(jsonw.Field(b, "period"), r.Period)
	b = appendPeriod(jsonw.Field(b, "previous"), r.Previous)
	b = append(jsonw.Field(b, "tables"), '[')
	for i := range r.Tables {
		if i > 0 {
			b = append(b, ',')
		}
		b = r.Tables[i].appendJSON(b)
	}
	return append(b, "]}"...)
}

func appendPeriod(b []byte, p Period) []byte {
	b = append(b, '{')
	b = jsonw.StringField(b, "from", p.From.String())
	b = jsonw.StringField(b, "to", p.To.String())
	return append(b, '}')
}

func (t *Table) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = jsonw.StringField(b, "id", t.ID)
	b = jsonw.StringField(b, "title", t.Title)
	b = jsonw.StringField(b, "unit", t.Unit)
	if t.Note != "" {
		b = jsonw.StringField(b, "note", t.Note)
	}
	b = append(jsonw.Field(b, "rows"), '[')
	for i := range t.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = t.Rows[i].appendJSON(b, t.NoTech)
	}
	b = append(b, ']')
	b = t.Total.appendJSON(jsonw.Field(b, "total"), t.NoTech)
	if t.ID == TablePlanCounties {
		b = append(jsonw.Field(b, "missing"), '[')
		for i, m := range t.Missing {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = jsonw.StringField(b, "key", m.Key)
			b = jsonw.StringField(b, "label", m.Label)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func (r *Row) appendJSON(b []byte, noTech bool) []byte {
	b = append(b, '{')
	b = jsonw.StringField(b, "key", r.Key)
	b = jsonw.StringField(b, "label", r.Label)
	b = strconv.AppendInt(jsonw.Field(b, "count"), r.Count, 10)
	b = jsonw.StringField(b, "amount", r.Amount.String())
	if !noTech {
		b = jsonw.StringField(b, "tech_amount", r.TechAmount.String())
	}
	b = strconv.AppendInt(jsonw.Field(b, "count_prev"), r.CountPrev, 10)
	b = jsonw.StringField(b, "amount_prev", r.AmountPrev.String())
	if !noTech {
		b = jsonw.StringField(b, "tech_amount_prev", r.TechAmountPrev.String())
	}
	b = appendPercent(jsonw.Field(b, "amount_share"), r.AmountShare)
	b = appendPercent(jsonw.Field(b, "amount_growth"), r.AmountGrowth)
	for _, x := range r.Extra {
		b = strconv.AppendInt(jsonw.Field(b, x.Name), x.Value, 10)
	}
	return append(b, '}')
}

func appendPercent(b []byte, p string) []byte {
	if p == "" {
		return append(b, "null"...)
	}
	return jsonw.String(b, p)
}
