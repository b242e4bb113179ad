package commands

import (
	"techledger/internal/jsonscan"
	"techledger/ledger"
)

// decodeFast decodes the commands clients usually write without encoding/json's
// reflection, which cost a seventh of a command's CPU. It covers one JSON object whose
// first member is "command", with keys spelled exactly as the struct tags, each at most
// once, and strings without escapes (internal/jsonscan reads the text). For anything else
// it reports false and Decode's encoding/json path decides, so every error and every
// unusual input (case-folded keys, duplicate keys, escapes, invalid UTF-8, wrong types,
// trailing data) is handled in one place. What it accepts must decode to what
// decodeJSON gives: TestDecodeFast_MatchesEncodingJSON and FuzzDecodeFast check that.
func decodeFast(b []byte) (Command, bool) {
	s := jsonscan.New(b)
	if !s.Eat('{') {
		return nil, false
	}
	if k, ok := s.Key(); !ok || string(k) != "command" {
		return nil, false
	}
	name, ok := s.Str()
	if !ok {
		return nil, false
	}
	var cmd interface {
		Command
		objectReader
	}
	switch string(name) {
	case NameRecordPayment:
		cmd = &RecordPayment{Header: Header{Command: NameRecordPayment}}
	case NameRegisterContract:
		cmd = &RegisterContract{Header: Header{Command: NameRegisterContract}}
	case NameAssignRights:
		cmd = &AssignRights{Header: Header{Command: NameAssignRights}}
	case NameAmendContract:
		cmd = &AmendContract{Header: Header{Command: NameAmendContract}}
	case NameRevokeContract:
		cmd = &RevokeContract{Header: Header{Command: NameRevokeContract}}
	default:
		return nil, false
	}
	p := &parser{Scanner: s, seen: 1} // bit 0: "command"
	if !p.Rest(func(key []byte) bool { return cmd.member(p, key) }) || !p.End() {
		return nil, false
	}
	return cmd, true
}

// parser is the scanner with the members of the object being read, by bit. Its methods
// read one member's value, reporting false for input they do not cover (a repeated key
// among it); they never judge input invalid (decodeJSON does that).
type parser struct {
	jsonscan.Scanner
	seen jsonscan.Seen
}

// objectReader reads the value of one member of an object, reporting false for a key it
// does not know.
type objectReader interface {
	member(p *parser, key []byte) bool
}

// object reads an object member with the given member reader, saving and restoring the
// outer object's seen bits.
func (p *parser) object(r objectReader) bool {
	outer := p.seen
	p.seen = 0
	ok := p.Object(func(key []byte) bool { return r.member(p, key) })
	p.seen = outer
	return ok
}

// str reads a string member into dst. null leaves dst as it is, as encoding/json does.
func (p *parser) str(bit uint, dst *string) bool {
	if !p.seen.First(bit) {
		return false
	}
	if p.Null() {
		return true
	}
	s, ok := p.Str()
	if ok {
		*dst = string(s)
	}
	return ok
}

// optStr reads a *string member: null sets nil.
func (p *parser) optStr(bit uint, dst **string) bool {
	if !p.seen.First(bit) {
		return false
	}
	if p.Null() {
		*dst = nil
		return true
	}
	s, ok := p.Str()
	if ok {
		v := string(s)
		*dst = &v
	}
	return ok
}

func (p *parser) party(bit uint, dst **ledger.Party) bool {
	if !p.seen.First(bit) {
		return false
	}
	if p.Null() {
		*dst = nil
		return true
	}
	*dst = new(ledger.Party)
	return p.object(partyReader{*dst})
}

type partyReader struct{ v *ledger.Party }

func (r partyReader) member(p *parser, key []byte) bool {
	switch string(key) {
	case "id":
		return p.str(0, &r.v.ID)
	case "name":
		return p.str(1, &r.v.Name)
	case "kind":
		return p.str(2, &r.v.Kind)
	case "region":
		return p.str(3, &r.v.Region)
	}
	return false
}

type holderReader struct{ h *HolderInput }

func (r holderReader) member(p *parser, key []byte) bool {
	switch string(key) {
	case "id":
		return p.str(0, &r.h.ID)
	case "name":
		return p.str(1, &r.h.Name)
	case "kind":
		return p.str(2, &r.h.Kind)
	case "institution":
		return p.str(3, &r.h.Institution)
	case "share":
		return p.optStr(4, &r.h.Share)
	}
	return false
}

type termReader struct{ t *TermInput }

func (r termReader) member(p *parser, key []byte) bool {
	switch string(key) {
	case "from":
		return p.str(0, &r.t.From)
	case "to":
		return p.str(1, &r.t.To)
	}
	return false
}

func (c *RecordPayment) member(p *parser, key []byte) bool {
	switch string(key) {
	case "command_id":
		return p.str(1, &c.CommandID)
	case "contract_id":
		return p.str(2, &c.ContractID)
	case "payment_id":
		return p.str(3, &c.PaymentID)
	case "amount":
		return p.str(4, &c.Amount)
	case "costs":
		return p.str(5, &c.Costs)
	case "paid_on":
		return p.str(6, &c.PaidOn)
	}
	return false
}

func (c *RegisterContract) member(p *parser, key []byte) bool {
	switch string(key) {
	case "command_id":
		return p.str(1, &c.CommandID)
	case "contract_id":
		return p.str(2, &c.ContractID)
	case "title":
		return p.str(3, &c.Title)
	case "type":
		return p.str(4, &c.Type)
	case "subtype":
		return p.str(5, &c.Subtype)
	case "signed_on":
		return p.str(6, &c.SignedOn)
	case "registered_on":
		return p.str(7, &c.RegisteredOn)
	case "amount":
		return p.str(8, &c.Amount)
	case "tech_amount":
		return p.str(9, &c.TechAmount)
	case "field":
		return p.str(10, &c.Field)
	case "seller":
		return p.party(11, &c.Seller)
	case "buyer":
		return p.party(12, &c.Buyer)
	case "intermediary":
		return p.party(13, &c.Intermediary)
	case "achievement_id":
		return p.str(14, &c.AchievementID)
	case "ip_types":
		if !p.seen.First(15) {
			return false
		}
		if p.Null() {
			c.IPTypes = nil
			return true
		}
		c.IPTypes = []string{} // [] decodes to an empty list, not nil
		return p.Array(func() bool {
			s, ok := p.Str() // null elements: left to encoding/json
			if ok {
				c.IPTypes = append(c.IPTypes, string(s))
			}
			return ok
		})
	}
	return false
}

func (c *AmendContract) member(p *parser, key []byte) bool {
	switch string(key) {
	case "command_id":
		return p.str(1, &c.CommandID)
	case "contract_id":
		return p.str(2, &c.ContractID)
	case "amount":
		return p.optStr(3, &c.Amount)
	case "tech_amount":
		return p.optStr(4, &c.TechAmount)
	case "type":
		return p.optStr(5, &c.Type)
	case "subtype":
		return p.optStr(6, &c.Subtype)
	case "field":
		return p.optStr(7, &c.Field)
	case "reason":
		return p.str(8, &c.Reason)
	}
	return false
}

func (c *RevokeContract) member(p *parser, key []byte) bool {
	switch string(key) {
	case "command_id":
		return p.str(1, &c.CommandID)
	case "contract_id":
		return p.str(2, &c.ContractID)
	case "reason":
		return p.str(3, &c.Reason)
	}
	return false
}

func (c *AssignRights) member(p *parser, key []byte) bool {
	switch string(key) {
	case "command_id":
		return p.str(1, &c.CommandID)
	case "contract_id":
		return p.str(2, &c.ContractID)
	case "right":
		return p.str(3, &c.Right)
	case "effective_on":
		return p.str(4, &c.EffectiveOn)
	case "exclusivity":
		return p.str(5, &c.Exclusivity)
	case "holders":
		if !p.seen.First(6) {
			return false
		}
		if p.Null() {
			c.Holders = nil
			return true
		}
		c.Holders = []HolderInput{}
		return p.Array(func() bool {
			c.Holders = append(c.Holders, HolderInput{})
			return p.object(holderReader{&c.Holders[len(c.Holders)-1]})
		})
	case "term":
		if !p.seen.First(7) {
			return false
		}
		if p.Null() {
			c.Term = nil
			return true
		}
		c.Term = new(TermInput)
		return p.object(termReader{c.Term})
	}
	return false
}
