package ledger

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/shopspring/decimal"

	"techledger/internal/jsonw"
)

// dataBufs holds scratch buffers for encodeData: the data is written into one, then
// copied out at its exact size.
var dataBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// encodeData returns the JSON of e: the bytes json.Marshal(e) gives, written by appendData
// when it covers e.
func encodeData(e DomainEvent) ([]byte, error) {
	buf := dataBufs.Get().(*[]byte)
	scratch, ok := appendData((*buf)[:0], e)
	var data []byte
	if ok {
		data = bytes.Clone(scratch) // before the buffer goes back to the pool
	}
	if cap(scratch) <= 64<<10 { // keep the grown buffer, unless an outsized event grew it
		*buf = scratch[:0]
		dataBufs.Put(buf)
	}
	if !ok {
		return json.Marshal(e)
	}
	return data, nil
}

// appendData appends the JSON of e exactly as json.Marshal(e) writes it, without
// reflection: encoding the data was a tenth of the CPU of a command. It reports false for
// what it does not cover (an unknown event type, a zero Date, decimal formatting options
// changed from their defaults); Encode then uses json.Marshal, which stays the reference
// (TestEncode_MatchesJSONMarshal compares the two on generated and random values).
func appendData(b []byte, e DomainEvent) ([]byte, bool) {
	if decimal.MarshalJSONWithoutQuotes || !decimal.TrimTrailingZeros || decimal.UseScientificNotation {
		return b, false
	}
	w := dataWriter{b: b, ok: true}
	switch e := e.(type) {
	case *ContractRegistered:
		w.contractRegistered(e)
	case ContractRegistered:
		w.contractRegistered(&e)
	case *ContractAmended:
		w.contractAmended(e)
	case ContractAmended:
		w.contractAmended(&e)
	case *ContractRevoked:
		w.contractRevoked(e)
	case ContractRevoked:
		w.contractRevoked(&e)
	case *RightsAssigned:
		w.rightsAssigned(e)
	case RightsAssigned:
		w.rightsAssigned(&e)
	case *PaymentRecorded:
		w.paymentRecorded(e)
	case PaymentRecorded:
		w.paymentRecorded(&e)
	default:
		return b, false
	}
	return w.b, w.ok
}

// dataWriter appends JSON to b; ok turns false at the first value it cannot write as
// json.Marshal would.
type dataWriter struct {
	b  []byte
	ok bool
}

func (w *dataWriter) open()  { w.b = append(w.b, '{') }
func (w *dataWriter) close() { w.b = append(w.b, '}') }

func (w *dataWriter) str(name, s string) { w.b = jsonw.StringField(w.b, name, s) }

func (w *dataWriter) strOmitEmpty(name, s string) {
	if s != "" {
		w.str(name, s)
	}
}

func (w *dataWriter) strings(name string, ss []string) {
	w.b = jsonw.Strings(jsonw.Field(w.b, name), ss)
}

// date writes d as Date.MarshalText does; json.Marshal refuses the zero Date.
func (w *dataWriter) date(name string, d Date) {
	if d.IsZero() {
		w.ok = false
		return
	}
	var text [10]byte
	w.b = jsonw.String(jsonw.Field(w.b, name), string(d.appendText(text[:0])))
}

// dec writes d as decimal.Decimal.MarshalJSON does with the package's default options
// (checked in appendData): a quoted d.String(), i.e. the coefficient scaled by the
// exponent with trailing fractional zeros trimmed. Coefficients of up to 18 digits with
// exponents in [-30, 0] are formatted here; anything else goes through d.String().
func (w *dataWriter) dec(name string, d decimal.Decimal) {
	w.b = append(jsonw.Field(w.b, name), '"')
	w.b = appendDecimal(w.b, d)
	w.b = append(w.b, '"')
}

func appendDecimal(b []byte, d decimal.Decimal) []byte {
	exp := d.Exponent()
	if exp > 0 || exp < -30 || d.NumDigits() > 18 {
		return append(b, d.String()...)
	}
	c := d.CoefficientInt64()
	if exp == 0 {
		return strconv.AppendInt(b, c, 10)
	}
	if c < 0 {
		b = append(b, '-')
		c = -c
	}
	var digits [20]byte
	str := strconv.AppendInt(digits[:0], c, 10)
	scale := int(-exp)
	var intPart, frac []byte
	leadingZeros := 0
	if len(str) > scale {
		intPart, frac = str[:len(str)-scale], str[len(str)-scale:]
	} else {
		intPart, frac, leadingZeros = []byte{'0'}, str, scale-len(str)
	}
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	b = append(b, intPart...)
	if len(frac) == 0 {
		return b
	}
	b = append(b, '.')
	for range leadingZeros {
		b = append(b, '0')
	}
	return append(b, frac...)
}

func (w *dataWriter) party(name string, p *Party) {
	w.b = jsonw.Field(w.b, name)
	if p == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.open()
	w.str("id", p.ID)
	w.str("name", p.Name)
	w.str("kind", p.Kind)
	w.str("region", p.Region)
	w.close()
}

func (w *dataWriter) contractRegistered(e *ContractRegistered) {
	w.open()
	w.str("contract_id", e.ContractID)
	w.str("title", e.Title)
	w.str("type", e.Type)
	w.str("subtype", e.Subtype)
	w.date("signed_on", e.SignedOn)
	w.date("registered_on", e.RegisteredOn)
	w.dec("amount", e.Amount)
	w.dec("tech_amount", e.TechAmount)
	w.str("field", e.Field)
	w.party("seller", &e.Seller)
	w.party("buyer", &e.Buyer)
	w.party("intermediary", e.Intermediary)
	w.strOmitEmpty("achievement_id", e.AchievementID)
	w.strings("ip_types", e.IPTypes)
	w.close()
}

func (w *dataWriter) contractAmended(e *ContractAmended) {
	w.open()
	w.str("contract_id", e.ContractID)
	w.str("type", e.Type)
	w.str("subtype", e.Subtype)
	w.str("field", e.Field)
	w.dec("amount", e.Amount)
	w.dec("tech_amount", e.TechAmount)
	w.strings("changed", e.Changed)
	w.str("reason", e.Reason)
	w.close()
}

func (w *dataWriter) contractRevoked(e *ContractRevoked) {
	w.open()
	w.str("contract_id", e.ContractID)
	w.str("reason", e.Reason)
	w.close()
}

func (w *dataWriter) rightsAssigned(e *RightsAssigned) {
	w.open()
	w.str("contract_id", e.ContractID)
	w.str("right", e.Right)
	w.date("effective_on", e.EffectiveOn)
	w.b = jsonw.Field(w.b, "holders")
	if e.Holders == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.b = append(w.b, '[')
		for i := range e.Holders {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			h := &e.Holders[i]
			w.open()
			w.str("id", h.ID)
			w.str("name", h.Name)
			w.str("kind", h.Kind)
			w.strOmitEmpty("institution", h.Institution)
			if h.Share != nil {
				w.dec("share", *h.Share)
			}
			w.close()
		}
		w.b = append(w.b, ']')
	}
	w.strOmitEmpty("exclusivity", e.Exclusivity)
	if e.Term != nil {
		w.b = jsonw.Field(w.b, "term")
		w.open()
		w.date("from", e.Term.From)
		w.date("to", e.Term.To)
		w.close()
	}
	w.strOmitEmpty("achievement_id", e.AchievementID)
	w.close()
}

func (w *dataWriter) paymentRecorded(e *PaymentRecorded) {
	w.open()
	w.str("contract_id", e.ContractID)
	w.str("payment_id", e.PaymentID)
	w.dec("amount", e.Amount)
	w.dec("costs", e.Costs)
	w.dec("net", e.Net)
	w.date("paid_on", e.PaidOn)
	w.b = jsonw.Field(w.b, "allocations")
	if e.Allocations == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.b = append(w.b, '[')
		for i := range e.Allocations {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			a := &e.Allocations[i]
			w.open()
			w.str("holder_id", a.HolderID)
			w.str("name", a.Name)
			w.str("kind", a.Kind)
			w.strOmitEmpty("institution", a.Institution)
			w.dec("share", a.Share)
			w.dec("amount", a.Amount)
			w.close()
		}
		w.b = append(w.b, ']')
	}
	w.close()
}
