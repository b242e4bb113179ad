package projections

import (
	"fmt"

	"github.com/shopspring/decimal"

	"techledger/internal/jsonscan"
	"techledger/ledger"
)

// The folds read only some fields of each event, as compact values: money in fen (int64),
// dates as day numbers, codes and names as byte slices into the record's data. decodeView
// reads them straight from the JSON without allocating (the fast path: canonical.go for
// the exact form ledger.Encode writes, parser.event for any order of the fields). It
// accepts only the fields ledger.Encode writes, with every field of the schema type-checked;
// on anything else (an unknown field, an escaped string the fold needs, a number where a
// string belongs, a value out of range) it falls back to the strict ledger.Decode and
// converts its result, so the fold sees exactly what the codec decides. A record the codec
// refuses fails the fold.

// view is the part of a domain event the folds use. Byte slices point into the record's
// data (fast path) or into strings of the decoded event (fallback).
type view struct {
	typ        uint8 // one of the ev* constants
	contractID []byte

	// ContractRegistered, ContractAmended.
	ctype, subtype, field []byte
	amount, tech          int64 // fen
	// ContractRegistered.
	registeredOn          int32 // days since 1970-01-01
	sellerKind, buyerKind []byte
	sellerReg, buyerReg   []byte

	// RightsAssigned.
	right       []byte
	effectiveOn int32
	holders     []holderView

	// PaymentRecorded (amount above is the payment's amount).
	costs, net int64
	paidOn     int32
	allocs     []allocView
}

// holderView is a proceeds beneficiary of a RightsAssigned event.
type holderView struct {
	kind  []byte
	share int64 // in 1/10000; 0 when absent
}

// allocView is one allocation of a PaymentRecorded event.
type allocView struct {
	id, name, kind, institution []byte
	amount                      int64 // fen
}

// Event kinds of a view.
const (
	evRegistered uint8 = iota + 1
	evAmended
	evRevoked
	evRights
	evPayment
)

// evOf returns the kind of the event type typ (false: not one the folds read).
func evOf[T string | []byte](typ T) (uint8, bool) {
	switch string(typ) {
	case ledger.TypeContractRegistered:
		return evRegistered, true
	case ledger.TypeContractAmended:
		return evAmended, true
	case ledger.TypeContractRevoked:
		return evRevoked, true
	case ledger.TypeRightsAssigned:
		return evRights, true
	case ledger.TypePaymentRecorded:
		return evPayment, true
	}
	return 0, false
}

// typeOf is the inverse of evOf.
func typeOf(k uint8) string {
	switch k {
	case evRegistered:
		return ledger.TypeContractRegistered
	case evAmended:
		return ledger.TypeContractAmended
	case evRevoked:
		return ledger.TypeContractRevoked
	case evRights:
		return ledger.TypeRightsAssigned
	case evPayment:
		return ledger.TypePaymentRecorded
	}
	return ""
}

// decodeView fills v from rec, reusing v's slices. It returns an error for a record the
// strict codec refuses.
func decodeView(rec *ledger.Record, v *view) error {
	return decodeData(rec.Position, rec.Type, rec.SchemaVersion, rec.Data, v)
}

// decodeData is decodeView for the record at pos of type typ, schema version schema and
// data.
func decodeData(pos ledger.Position, typ string, schema uint16, data []byte, v *view) error {
	k, ok := evOf(typ)
	if ok && schema == 1 {
		v.reset(k)
		p := newParser(data)
		if p.canonical(v) {
			return nil
		}
		v.reset(k)
		p = newParser(data)
		if p.event(v) {
			return nil
		}
	}
	ev, err := ledger.Decode(typ, schema, data)
	if err != nil {
		return fmt.Errorf("position %d: %w", pos, err)
	}
	if err := v.from(ev); err != nil {
		return fmt.Errorf("position %d: %w", pos, err)
	}
	return nil
}

func (v *view) reset(typ uint8) {
	holders, allocs := v.holders[:0], v.allocs[:0]
	*v = view{typ: typ, holders: holders, allocs: allocs}
}

// from fills v from a strictly decoded event (the fallback path).
func (v *view) from(ev ledger.DomainEvent) error {
	var err error
	fen := func(d decimal.Decimal) int64 {
		f, ok := fenOf(d)
		if !ok && err == nil {
			err = fmt.Errorf("amount %s is not a non-negative amount in fen within the limit", d)
		}
		return f
	}
	switch e := ev.(type) {
	case *ledger.ContractRegistered:
		v.reset(evRegistered)
		v.contractID = []byte(e.ContractID)
		v.ctype, v.subtype, v.field = []byte(e.Type), []byte(e.Subtype), []byte(e.Field)
		v.amount, v.tech = fen(e.Amount), fen(e.TechAmount)
		v.registeredOn = daysOf(e.RegisteredOn)
		v.sellerKind, v.sellerReg = []byte(e.Seller.Kind), []byte(e.Seller.Region)
		v.buyerKind, v.buyerReg = []byte(e.Buyer.Kind), []byte(e.Buyer.Region)
	case *ledger.ContractAmended:
		v.reset(evAmended)
		v.contractID = []byte(e.ContractID)
		v.ctype, v.subtype, v.field = []byte(e.Type), []byte(e.Subtype), []byte(e.Field)
		v.amount, v.tech = fen(e.Amount), fen(e.TechAmount)
	case *ledger.ContractRevoked:
		v.reset(evRevoked)
		v.contractID = []byte(e.ContractID)
	case *ledger.RightsAssigned:
		v.reset(evRights)
		v.contractID = []byte(e.ContractID)
		v.right = []byte(e.Right)
		v.effectiveOn = daysOf(e.EffectiveOn)
		for _, h := range e.Holders {
			hv := holderView{kind: []byte(h.Kind)}
			if h.Share != nil {
				u, ok := unitsOf(*h.Share)
				if !ok {
					return fmt.Errorf("share %s is not in 1/10000", h.Share)
				}
				hv.share = u
			}
			v.holders = append(v.holders, hv)
		}
	case *ledger.PaymentRecorded:
		v.reset(evPayment)
		v.contractID = []byte(e.ContractID)
		v.amount, v.costs, v.net = fen(e.Amount), fen(e.Costs), fen(e.Net)
		v.paidOn = daysOf(e.PaidOn)
		for _, a := range e.Allocations {
			v.allocs = append(v.allocs, allocView{
				id: []byte(a.HolderID), name: []byte(a.Name), kind: []byte(a.Kind),
				institution: []byte(a.Institution), amount: fen(a.Amount),
			})
		}
	default:
		return fmt.Errorf("unexpected event %s", ev.EventType())
	}
	return err
}

// fenMax bounds any amount the folds read: far above commands.AmountMax (1e11 yuan), and
// small enough that sums of a billion such amounts cannot overflow int64 checks below.
const fenMax = 1e15

// fenOf returns d in fen if it is a non-negative whole number of fen up to fenMax.
func fenOf(d decimal.Decimal) (int64, bool) {
	f := d.Shift(2)
	if d.IsNegative() || !f.Equal(f.Truncate(0)) || f.GreaterThan(decimal.New(fenMax, 0)) {
		return 0, false
	}
	return f.IntPart(), true
}

// unitsOf returns a share in 1/10000 if it is one.
func unitsOf(d decimal.Decimal) (int64, bool) {
	u := d.Shift(4)
	if d.IsNegative() || !u.Equal(u.Truncate(0)) || u.GreaterThan(decimal.New(10000, 0)) {
		return 0, false
	}
	return u.IntPart(), true
}

// daysOf returns d as days since 1970-01-01. The zero Date (a date missing from an
// event's data) gives 0, as the fast path reads it.
func daysOf(d ledger.Date) int32 {
	if d.IsZero() {
		return 0
	}
	return civilDays(d.Year, int(d.Month), d.Day)
}

// civilDays returns the days from 1970-01-01 to y-m-d (proleptic Gregorian), by Howard
// Hinnant's days_from_civil.
func civilDays(y, m, d int) int32 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int32(era*146097 + doe - 719468)
}

// civilOf is the inverse of civilDays.
func civilOf(z int32) (y, m, d int) {
	zz := int(z) + 719468
	era := zz / 146097
	doe := zz - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// parser reads the JSON of one event with internal/jsonscan, adding the value forms the
// folds read (dates, fixed-point amounts) and the events' schemas. Each method returns
// false when the input is not in the form it accepts; the caller then falls back to the
// strict codec.
type parser struct {
	jsonscan.Scanner
}

func newParser(data []byte) parser { return parser{jsonscan.New(data)} }

// date reads a "YYYY-MM-DD" string of a real calendar date (years 1900..9999, as
// ledger.ParseDate).
func (p *parser) date() (int32, bool) {
	s, ok := p.Str()
	if !ok || len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1900 || m < 1 || m > 12 || d < 1 || d > monthDays(y, m) {
		return 0, false
	}
	return civilDays(y, m, d), true
}

func monthDays(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func digits(s []byte) (int, bool) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// fixed reads a decimal string "D+[.D{1,places}]" (no sign, exponent or leading zeros) as
// an integer scaled by 10^places, up to max.
func (p *parser) fixed(places int, max int64) (int64, bool) {
	s, ok := p.Str()
	if !ok || len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	var n int64
	i := 0
	for ; i < len(s) && s[i] != '.'; i++ {
		if s[i] < '0' || s[i] > '9' || (i == 1 && s[0] == '0') {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	if i == 0 {
		return 0, false
	}
	frac := 0
	if i < len(s) {
		i++ // '.'
		if i == len(s) {
			return 0, false
		}
		for ; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' || frac == places {
				return 0, false
			}
			n = n*10 + int64(s[i]-'0')
			frac++
		}
	}
	for ; frac < places; frac++ {
		n *= 10
	}
	if n > max {
		return 0, false
	}
	return n, true
}

func (p *parser) money() (int64, bool) { return p.fixed(2, fenMax) }

// strArray skips an array of strings.
func (p *parser) strArray() bool { return p.ArrayOrNull(p.SkipStr) }

// party reads a Party object; kind and region are kept when the pointers are not nil.
func (p *parser) party(kind, region *[]byte) bool {
	return p.Object(func(key []byte) bool {
		switch string(key) {
		case "id", "name":
			return p.SkipStr()
		case "kind":
			s, ok := p.Str()
			if kind != nil {
				*kind = s
			}
			return ok
		case "region":
			s, ok := p.Str()
			if region != nil {
				*region = s
			}
			return ok
		}
		return false
	})
}

// event parses the whole data of an event of type v.typ into v.
func (p *parser) event(v *view) bool {
	var ok bool
	switch v.typ {
	case evRegistered:
		ok = p.Object(func(key []byte) bool { return p.registered(key, v) })
	case evAmended:
		ok = p.Object(func(key []byte) bool { return p.amended(key, v) })
	case evRevoked:
		ok = p.Object(func(key []byte) bool {
			switch string(key) {
			case "contract_id":
				return p.contractID(v)
			case "reason":
				return p.SkipStr()
			}
			return false
		})
	case evRights:
		ok = p.Object(func(key []byte) bool { return p.rights(key, v) })
	case evPayment:
		ok = p.Object(func(key []byte) bool { return p.payment(key, v) })
	}
	return ok && p.End()
}

func (p *parser) contractID(v *view) bool {
	var ok bool
	v.contractID, ok = p.Str()
	return ok
}

func (p *parser) registered(key []byte, v *view) bool {
	var ok bool
	switch string(key) {
	case "contract_id":
		return p.contractID(v)
	case "title", "achievement_id":
		return p.SkipStr()
	case "type":
		v.ctype, ok = p.Str()
	case "subtype":
		v.subtype, ok = p.Str()
	case "field":
		v.field, ok = p.Str()
	case "signed_on":
		_, ok = p.date()
	case "registered_on":
		v.registeredOn, ok = p.date()
	case "amount":
		v.amount, ok = p.money()
	case "tech_amount":
		v.tech, ok = p.money()
	case "seller":
		ok = p.party(&v.sellerKind, &v.sellerReg)
	case "buyer":
		ok = p.party(&v.buyerKind, &v.buyerReg)
	case "intermediary":
		ok = p.Null() || p.party(nil, nil)
	case "ip_types":
		ok = p.strArray()
	}
	return ok
}

func (p *parser) amended(key []byte, v *view) bool {
	var ok bool
	switch string(key) {
	case "contract_id":
		return p.contractID(v)
	case "reason":
		return p.SkipStr()
	case "type":
		v.ctype, ok = p.Str()
	case "subtype":
		v.subtype, ok = p.Str()
	case "field":
		v.field, ok = p.Str()
	case "amount":
		v.amount, ok = p.money()
	case "tech_amount":
		v.tech, ok = p.money()
	case "changed":
		ok = p.strArray()
	}
	return ok
}

func (p *parser) rights(key []byte, v *view) bool {
	var ok bool
	switch string(key) {
	case "contract_id":
		return p.contractID(v)
	case "exclusivity", "achievement_id":
		return p.SkipStr()
	case "right":
		v.right, ok = p.Str()
	case "effective_on":
		v.effectiveOn, ok = p.date()
	case "term":
		ok = p.Null() || p.Object(func(key []byte) bool {
			switch string(key) {
			case "from", "to":
				_, ok := p.date()
				return ok
			}
			return false
		})
	case "holders":
		v.holders = v.holders[:0]
		ok = p.ArrayOrNull(func() bool {
			var h holderView
			ok := p.Object(func(key []byte) bool {
				var ok bool
				switch string(key) {
				case "id", "name", "institution":
					return p.SkipStr()
				case "kind":
					h.kind, ok = p.Str()
				case "share":
					h.share, ok = p.fixed(4, 10000)
				}
				return ok
			})
			v.holders = append(v.holders, h)
			return ok
		})
	}
	return ok
}

func (p *parser) payment(key []byte, v *view) bool {
	var ok bool
	switch string(key) {
	case "contract_id":
		return p.contractID(v)
	case "payment_id":
		return p.SkipStr()
	case "amount":
		v.amount, ok = p.money()
	case "costs":
		v.costs, ok = p.money()
	case "net":
		v.net, ok = p.money()
	case "paid_on":
		v.paidOn, ok = p.date()
	case "allocations":
		v.allocs = v.allocs[:0]
		ok = p.ArrayOrNull(func() bool {
			var a allocView
			ok := p.Object(func(key []byte) bool {
				var ok bool
				switch string(key) {
				case "holder_id":
					a.id, ok = p.Str()
				case "name":
					a.name, ok = p.Str()
				case "kind":
					a.kind, ok = p.Str()
				case "institution":
					a.institution, ok = p.Str()
				case "share":
					_, ok = p.fixed(4, 10000)
				case "amount":
					a.amount, ok = p.money()
				}
				return ok
			})
			v.allocs = append(v.allocs, a)
			return ok
		})
	}
	return ok
}
