package commands

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// TestDecide_ReportsEveryInvalidField checks that a rejection for invalid input names every
// field at fault, in the order the fields are checked, and that Field and Rule repeat the
// first of them (what callers that show one error used to get).
func TestDecide_ReportsEveryInvalidField(t *testing.T) {
	party := func(id, kind, region string) map[string]any {
		return map[string]any{"id": id, "name": "某单位", "kind": kind, "region": region}
	}
	cases := []struct {
		name   string
		given  []ledger.DomainEvent
		cmd    string
		code   Code
		fields []string
	}{
		{name: "missing title and a bad amount: both", cmd: with(registerJSON, map[string]any{"title": "", "amount": "12,00"}),
			code: CodeInvalid, fields: []string{"title", "amount"}},
		{name: "every field of a registration at once", cmd: `{"command":"register_contract","command_id":"c-1","seller":{},"buyer":{"id":"x y","name":"","kind":"company","region":"999"},"ip_types":["tm"]}`,
			code: CodeInvalid, fields: []string{"contract_id", "title", "type", "subtype", "field", "signed_on", "registered_on", "amount", "tech_amount",
				"seller.name", "seller.kind", "seller.region", "seller.id", "buyer.name", "buyer.kind", "buyer.region", "buyer.id", "ip_types[0]"}},
		{name: "a wrong check character in both parties and a subtype of another type", cmd: with(registerJSON, map[string]any{
			"subtype": "commissioned", "seller": party("12140000405000025Y", "university", "140100"), "buyer": party("91140400234567819E", "enterprise", "140400")}),
			code: CodeInvalid, fields: []string{"subtype", "seller.id", "buyer.id"}},
		{name: "relations between fields are checked when both are valid", cmd: with(registerJSON, map[string]any{"signed_on": "2023-03-16", "tech_amount": "1200000.01"}),
			code: CodeInvalid, fields: []string{"signed_on", "tech_amount"}},
		{name: "a relation is not checked when one side is invalid", cmd: with(registerJSON, map[string]any{"signed_on": "2023-03-16", "registered_on": "2023-13-01", "amount": "x"}),
			code: CodeInvalid, fields: []string{"registered_on", "amount"}},
		{name: "a bad command_id joins the other fields", cmd: with(registerJSON, map[string]any{"command_id": "a b", "title": ""}),
			code: CodeInvalid, fields: []string{"command_id", "title"}},
		{name: "a conflict comes alone", given: []ledger.DomainEvent{reg}, cmd: with(registerJSON, map[string]any{"title": ""}),
			code: CodeConflict, fields: []string{"contract_id"}},
		{name: "an amendment with a bad type, a bad amount and no reason", given: []ledger.DomainEvent{reg},
			cmd:  `{"command":"amend_contract","command_id":"a-1","contract_id":"2023140101000123","type":"sale","amount":"-1"}`,
			code: CodeInvalid, fields: []string{"reason", "type", "amount"}},
		{name: "every bad holder of an assignment", given: []ledger.DomainEvent{reg},
			cmd: with(proceedsJSON, map[string]any{"effective_on": "2023-03-01", "holders": []map[string]any{
				{"id": "", "name": "甲", "kind": "researcher", "institution": "山西大学", "share": "0.5"},
				{"id": "R-2", "name": "", "kind": "robot", "share": "1.5"}}}),
			code: CodeInvalid, fields: []string{"effective_on", "holders[0].id", "holders[1].name", "holders[1].kind", "holders[1].share"}},
		{name: "a use grant without exclusivity and with a reversed term", given: []ledger.DomainEvent{reg},
			cmd: with(useJSON, map[string]any{"exclusivity": nil, "term": map[string]any{"from": "2031-01-01", "to": "2030-12-31"},
				"holders": []map[string]any{{"id": "H", "name": "乙", "kind": "enterprise", "share": "0.5"}}}),
			code: CodeInvalid, fields: []string{"holders[0].share", "exclusivity", "term.to"}},
		{name: "a payment with a bad amount and a bad date", given: []ledger.DomainEvent{reg},
			cmd:  `{"command":"record_payment","command_id":"p-1","contract_id":"2023140101000123","payment_id":"P-1","amount":"0","costs":"1.001","paid_on":"2023-02-28"}`,
			code: CodeInvalid, fields: []string{"amount", "costs", "paid_on"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := folded(t, tc.given)
			cmd, err := Decode([]byte(tc.cmd))
			require.NoError(t, err)
			evs, err := Decide(c, cmd, Env{Today: today})
			assert.Nil(t, evs)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.code, e.Code, "%v", err)
			var got []string
			for _, f := range e.FieldErrors() {
				got = append(got, f.Field)
				assert.NotEmpty(t, f.Rule, "rule of %s", f.Field)
			}
			assert.Equal(t, tc.fields, got, "%v", err)
			assert.Equal(t, e.FieldErrors()[0], FieldError{Field: e.Field, Rule: e.Rule}, "Field and Rule are the first")
		})
	}
}

func TestError_Error(t *testing.T) {
	one := invalidf("title", "is required")
	assert.Equal(t, "title: is required", one.Error())
	var p problems
	p.add("title", "is required")
	p.add("", "the command as a whole")
	p.add("amount", "%q is not a decimal amount", "x")
	assert.Equal(t, `title: is required; the command as a whole; amount: "x" is not a decimal amount`, p.err().Error())
	var none problems
	assert.Nil(t, none.err())
	byHand := &Error{Code: CodeConflict, Field: "contract_id", Rule: "taken"}
	assert.Equal(t, []FieldError{{Field: "contract_id", Rule: "taken"}}, byHand.FieldErrors())
	assert.ErrorIs(t, p.err(), &Error{Code: CodeInvalid})
}
