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
		ok = p.Lit(`{"contract_id":`) && p.strTo(&v.contractID) &&
			p.Lit(`,"title":`) && p.SkipStr() &&
			p.Lit(`,"type":`) && p.strTo(&v.ctype) &&
			p.Lit(`,"subtype":`) && p.strTo(&v.subtype) &&
			p.Lit(`,"signed_on":`) && p.dateTo(nil) &&
			p.Lit(`,"registered_on":`) && p.dateTo(&v.registeredOn) &&
			p.Lit(`,"amount":`) && p.moneyTo(&v.amount) &&
			p.Lit(`,"tech_amount":`) && p.moneyTo(&v.tech) &&
			p.Lit(`,"field":`) && p.strTo(&v.field) &&
			p.Lit(`,"seller":`) && p.canonicalParty(&v.sellerKind, &v.sellerReg) &&
			p.Lit(`,"buyer":`) && p.canonicalParty(&v.buyerKind, &v.buyerReg) &&
			p.Lit(`,"intermediary":`) && (p.Lit(`null`) || p.canonicalParty(nil, nil)) &&
			(!p.Lit(`,"achievement_id":`) || p.SkipStr()) &&
			p.Lit(`,"ip_types":`) && p.strArray() &&
			p.Lit(`}`)
	case evAmended:
		ok = p.Lit(`{"contract_id":`) && p.strTo(&v.contractID) &&
			p.Lit(`,"type":`) && p.strTo(&v.ctype) &&
			p.Lit(`,"subtype":`) && p.strTo(&v.subtype) &&
			p.Lit(`,"field":`) && p.strTo(&v.field) &&
			p.Lit(`,"amount":`) && p.moneyTo(&v.amount) &&
			p.Lit(`,"tech_amount":`) && p.moneyTo(&v.tech) &&
			p.Lit(`,"changed":`) && p.strArray() &&
			p.Lit(`,"reason":`) && p.SkipStr() &&
			p.Lit(`}`)
	case evRevoked:
		ok = p.Lit(`{"contract_id":`) && p.strTo(&v.contractID) &&
			p.Lit(`,"reason":`) && p.SkipStr() &&
			p.Lit(`}`)
	case evRights:
		ok = p.Lit(`{"contract_id":`) && p.strTo(&v.contractID) &&
			p.Lit(`,"right":`) && p.strTo(&v.right) &&
			p.Lit(`,"effective_on":`) && p.dateTo(&v.effectiveOn) &&
			p.Lit(`,"holders":`) && p.ArrayOrNull(func() bool {
			var h holderView
			ok := p.Lit(`{"id":`) && p.SkipStr() &&
				p.Lit(`,"name":`) && p.SkipStr() &&
				p.Lit(`,"kind":`) && p.strTo(&h.kind) &&
				(!p.Lit(`,"institution":`) || p.SkipStr()) &&
				(!p.Lit(`,"share":`) || p.fixedTo(&h.share, 4, 10000)) &&
				p.Lit(`}`)
			v.holders = append(v.holders, h)
			return ok
		}) &&
			(!p.Lit(`,"exclusivity":`) || p.SkipStr()) &&
			(!p.Lit(`,"term":`) || p.Lit(`{"from":`) && p.dateTo(nil) && p.Lit(`,"to":`) && p.dateTo(nil) && p.Lit(`}`)) &&
			(!p.Lit(`,"achievement_id":`) || p.SkipStr()) &&
			p.Lit(`}`)
	case evPayment:
		ok = p.Lit(`{"contract_id":`) && p.strTo(&v.contractID) &&
			p.Lit(`,"payment_id":`) && p.SkipStr() &&
			p.Lit(`,"amount":`) && p.moneyTo(&v.amount) &&
			p.Lit(`,"costs":`) && p.moneyTo(&v.costs) &&
			p.Lit(`,"net":`) && p.moneyTo(&v.net) &&
			p.Lit(`,"paid_on":`) && p.dateTo(&v.paidOn) &&
			p.Lit(`,"allocations":`) && p.ArrayOrNull(func() bool {
			var a allocView
			var share int64
			ok := p.Lit(`{"holder_id":`) && p.strTo(&a.id) &&
				p.Lit(`,"name":`) && p.strTo(&a.name) &&
				p.Lit(`,"kind":`) && p.strTo(&a.kind) &&
				(!p.Lit(`,"institution":`) || p.strTo(&a.institution)) &&
				p.Lit(`,"share":`) && p.fixedTo(&share, 4, 10000) &&
				p.Lit(`,"amount":`) && p.moneyTo(&a.amount) &&
				p.Lit(`}`)
			v.allocs = append(v.allocs, a)
			return ok
		}) &&
			p.Lit(`}`)
	}
	return ok && p.End()
}

// canonicalParty reads a Party object in the canonical form; kind and region are kept
// when the pointers are not nil.
func (p *parser) canonicalParty(kind, region *[]byte) bool {
	return p.Lit(`{"id":`) && p.SkipStr() &&
		p.Lit(`,"name":`) && p.SkipStr() &&
		p.Lit(`,"kind":`) && p.strTo(kind) &&
		p.Lit(`,"region":`) && p.strTo(region) &&
		p.Lit(`}`)
}

// strTo reads a string without escapes into *dst (dst nil: checked, not kept).
func (p *parser) strTo(dst *[]byte) bool {
	s, ok := p.Str()
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
