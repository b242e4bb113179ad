package commands

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"

	"techledger/internal/jsonscan"
	"techledger/ledger"
)

// decodeFast decodes the commands clients usually write without encoding/json's
// reflection, which cost a seventh of a command's CPU. It covers one JSON object whose
// first member is "command", with keys spelled exactly as the struct tags, each at most
// once, and strings without escapes (internal/jsonscan reads the text). For anything else
// it reports false and decodeJSON decides, so every error and every unusual input
// (case-folded keys, a repeated key, escapes, invalid UTF-8, wrong types, trailing data)
// is handled in one place. What it accepts must decode to what decodeJSON gives:
// TestDecodeFast_MatchesEncodingJSON and FuzzDecodeFast check that.
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

// duplicateKey returns a rejection naming the first member, anywhere in b, whose key
// repeats a key of the same object, or nil. encoding/json lets the last of two such
// members win silently (and for an object value such as "seller", merges the two), so a
// client's mistake would be registered as something it did not mean; decodeJSON refuses
// it instead. Keys are compared as encoding/json matches them to fields: unescaped and
// under simple case folding (bytes.EqualFold), so "amount" and "Amount" set one field and
// are one key twice. b must hold valid JSON (decodeJSON calls it on what encoding/json
// decoded); it reads the first JSON value only. This is the strict path's check, written
// on encoding/json's tokenizer rather than on internal/jsonscan, so that the fast path is
// tested against an independent decoder.
func duplicateKey(b []byte) *Error {
	type frame struct {
		path    string
		keys    map[string]bool // folded keys of an object; nil for an array
		key     string          // an object's current member
		wantKey bool            // an object's next token is a key (or its end)
		index   int             // an array's next element
	}
	var stack []frame
	child := func() string { // the path of the value about to be read
		if len(stack) == 0 {
			return ""
		}
		top := &stack[len(stack)-1]
		if top.keys == nil {
			return top.path + "[" + strconv.Itoa(top.index) + "]"
		}
		if top.path == "" {
			return top.key
		}
		return top.path + "." + top.key
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // not valid JSON: encoding/json's to report
		}
		if n := len(stack); n > 0 && stack[n-1].keys != nil && stack[n-1].wantKey {
			if k, ok := tok.(string); ok {
				top := &stack[n-1]
				f := foldKey(k)
				if top.keys[f] {
					top.key = k
					return reject(CodeMalformed, child(), "duplicate key")
				}
				top.keys[f] = true
				top.key, top.wantKey = k, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{path: child(), keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{path: child()})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value has been read whole.
		if len(stack) == 0 {
			return nil
		}
		if top := &stack[len(stack)-1]; top.keys != nil {
			top.wantKey = true
		} else {
			top.index++
		}
	}
}

// foldKey returns a key that two keys share exactly when bytes.EqualFold holds between
// them: each rune replaced by the least rune of its simple case-folding orbit.
func foldKey(k string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, k)
}
