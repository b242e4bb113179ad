package projections

// The canonical path. ledger.Encode writes the fields of each event in one order, with no
// whitespace; canonical reads exactly that form, matching each key as a literal where the
// general fast path (parser.event) reads every key as a string and looks it up, which was
// most of the decoding's cost. It accepts a subset of what parser.event accepts (the same
// fields, with the same value readers, in one order) and so fills the same view; on
// anything else the caller resets the view and runs parser.event, then the strict codec.

// canonical parses the whole data of an event of type v.typ into v, in the canonical form.
func (p *parser) canonical(v *view) bool {
	var ok bool
	switch v.typ {
	case evRegistered:
		ok = p.lit(`{"contract_id":`) && p.strTo(&v.contractID) &&
			p.lit(`,"title":`) && p.anyStr() &&
			p.lit(`,"type":`) && p.strTo(&v.ctype) &&
			p.lit(`,"subtype":`) && p.strTo(&v.subtype) &&
			p.lit(`,"signed_on":`) && p.dateTo(nil) &&
			p.lit(`,"registered_on":`) && p.dateTo(&v.registeredOn) &&
			p.lit(`,"amount":`) && p.moneyTo(&v.amount) &&
			p.lit(`,"tech_amount":`) && p.moneyTo(&v.tech) &&
			p.lit(`,"field":`) && p.strTo(&v.field) &&
			p.lit(`,"seller":`) && p.canonicalParty(&v.sellerKind, &v.sellerReg) &&
			p.lit(`,"buyer":`) && p.canonicalParty(&v.buyerKind, &v.buyerReg) &&
			p.lit(`,"intermediary":`) && (p.lit(`null`) || p.canonicalParty(nil, nil)) &&
			(!p.lit(`,"achievement_id":`) || p.anyStr()) &&
			p.lit(`,"ip_types":`) && p.strArray() &&
			p.lit(`}`)
	case evAmended:
		ok = p.lit(`{"contract_id":`) && p.strTo(&v.contractID) &&
			p.lit(`,"type":`) && p.strTo(&v.ctype) &&
			p.lit(`,"subtype":`) && p.strTo(&v.subtype) &&
			p.lit(`,"field":`) && p.strTo(&v.field) &&
			p.lit(`,"amount":`) && p.moneyTo(&v.amount) &&
			p.lit(`,"tech_amount":`) && p.moneyTo(&v.tech) &&
			p.lit(`,"changed":`) && p.strArray() &&
			p.lit(`,"reason":`) && p.anyStr() &&
			p.lit(`}`)
	case evRevoked:
		ok = p.lit(`{"contract_id":`) && p.strTo(&v.contractID) &&
			p.lit(`,"reason":`) && p.anyStr() &&
			p.lit(`}`)
	case evRights:
		ok = p.lit(`{"contract_id":`) && p.strTo(&v.contractID) &&
			p.lit(`,"right":`) && p.strTo(&v.right) &&
			p.lit(`,"effective_on":`) && p.dateTo(&v.effectiveOn) &&
			p.lit(`,"holders":`) && p.array(func() bool {
			var h holderView
			ok := p.lit(`{"id":`) && p.anyStr() &&
				p.lit(`,"name":`) && p.anyStr() &&
				p.lit(`,"kind":`) && p.strTo(&h.kind) &&
				(!p.lit(`,"institution":`) || p.anyStr()) &&
				(!p.lit(`,"share":`) || p.fixedTo(&h.share, 4, 10000)) &&
				p.lit(`}`)
			v.holders = append(v.holders, h)
			return ok
		}) &&
			(!p.lit(`,"exclusivity":`) || p.anyStr()) &&
			(!p.lit(`,"term":`) || p.lit(`{"from":`) && p.dateTo(nil) && p.lit(`,"to":`) && p.dateTo(nil) && p.lit(`}`)) &&
			(!p.lit(`,"achievement_id":`) || p.anyStr()) &&
			p.lit(`}`)
	case evPayment:
		ok = p.lit(`{"contract_id":`) && p.strTo(&v.contractID) &&
			p.lit(`,"payment_id":`) && p.anyStr() &&
			p.lit(`,"amount":`) && p.moneyTo(&v.amount) &&
			p.lit(`,"costs":`) && p.moneyTo(&v.costs) &&
			p.lit(`,"net":`) && p.moneyTo(&v.net) &&
			p.lit(`,"paid_on":`) && p.dateTo(&v.paidOn) &&
			p.lit(`,"allocations":`) && p.array(func() bool {
			var a allocView
			var share int64
			ok := p.lit(`{"holder_id":`) && p.strTo(&a.id) &&
				p.lit(`,"name":`) && p.strTo(&a.name) &&
				p.lit(`,"kind":`) && p.strTo(&a.kind) &&
				(!p.lit(`,"institution":`) || p.strTo(&a.institution)) &&
				p.lit(`,"share":`) && p.fixedTo(&share, 4, 10000) &&
				p.lit(`,"amount":`) && p.moneyTo(&a.amount) &&
				p.lit(`}`)
			v.allocs = append(v.allocs, a)
			return ok
		}) &&
			p.lit(`}`)
	}
	return ok && p.i == len(p.b)
}

// canonicalParty reads a Party object in the canonical form; kind and region are kept
// when the pointers are not nil.
func (p *parser) canonicalParty(kind, region *[]byte) bool {
	return p.lit(`{"id":`) && p.anyStr() &&
		p.lit(`,"name":`) && p.anyStr() &&
		p.lit(`,"kind":`) && p.strTo(kind) &&
		p.lit(`,"region":`) && p.strTo(region) &&
		p.lit(`}`)
}

// lit consumes s if the input continues with it.
func (p *parser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// strTo reads a string without escapes into *dst (dst nil: checked, not kept).
func (p *parser) strTo(dst *[]byte) bool {
	s, ok := p.str()
	if dst != nil {
		*dst = s
	}
	return ok
}

// dateTo reads a date into *dst (dst nil: checked, not kept).
func (p *parser) dateTo(dst *int32) bool {
	d, ok := p.date()
	if dst != nil {
		*dst = d
	}
	return ok
}

func (p *parser) moneyTo(dst *int64) bool {
	n, ok := p.money()
	*dst = n
	return ok
}

func (p *parser) fixedTo(dst *int64, places int, max int64) bool {
	n, ok := p.fixed(places, max)
	*dst = n
	return ok
}
