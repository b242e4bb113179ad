package commands

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

var today = ledger.Date{Year: 2026, Month: 11, Day: 25}

const registerJSON = `{"command":"register_contract","command_id":"c-0001","contract_id":"2023140101000123",
 "title":"煤矸石综合利用技术转让","type":"transfer","subtype":"patent_right",
 "signed_on":"2023-03-01","registered_on":"2023-03-15",
 "amount":"1200000.00","tech_amount":"1000000.00","field":"environment",
 "seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},
 "buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},
 "intermediary":null,"achievement_id":"ACH-2022-0042","ip_types":["patent"]}`

// with returns the JSON object s with the given top-level fields replaced (nil deletes).
func with(s string, fields map[string]any) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	for k, v := range fields {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func date(s string) ledger.Date {
	v, err := ledger.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return v
}

func sharep(s string) *decimal.Decimal { v := d(s); return &v }

var (
	seller = ledger.Party{ID: "12140000405000025X", Name: "太原理工大学", Kind: "university", Region: "140100"}
	buyer  = ledger.Party{ID: "91140400234567819D", Name: "长治某能源有限公司", Kind: "enterprise", Region: "140400"}
	reg    = &ledger.ContractRegistered{
		ContractID: "2023140101000123", Title: "煤矸石综合利用技术转让", Type: "transfer", Subtype: "patent_right",
		SignedOn: date("2023-03-01"), RegisteredOn: date("2023-03-15"), Amount: d("1200000.00"), TechAmount: d("1000000.00"),
		Field: "environment", Seller: seller, Buyer: buyer, AchievementID: "ACH-2022-0042", IPTypes: []string{"patent"},
	}
	proceeds = &ledger.RightsAssigned{ContractID: "2023140101000123", Right: "proceeds", EffectiveOn: date("2023-03-15"), Holders: []ledger.Holder{
		{ID: "12140000405000025X", Name: "太原理工大学", Kind: "institution", Share: sharep("0.30")},
		{ID: "R-001", Name: "张三", Kind: "researcher", Institution: "太原理工大学", Share: sharep("0.49")},
		{ID: "R-002", Name: "李四", Kind: "researcher", Institution: "太原理工大学", Share: sharep("0.21")},
	}}
	paid600k = &ledger.PaymentRecorded{ContractID: "2023140101000123", PaymentID: "P-1", Amount: d("600000.00"), Costs: d("50000.00"),
		Net: d("550000.00"), PaidOn: date("2023-06-30")}
	revoked = &ledger.ContractRevoked{ContractID: "2023140101000123", Reason: "重复登记"}
)

func pay(id, amount string) string {
	return `{"command":"record_payment","command_id":"p-` + id + `","contract_id":"2023140101000123","payment_id":"` + id + `","amount":"` + amount + `","costs":"0.00","paid_on":"2023-06-30"}`
}

const proceedsJSON = `{"command":"assign_rights","command_id":"c-0002","contract_id":"2023140101000123","right":"proceeds",
 "effective_on":"2023-03-15","holders":[
  {"id":"12140000405000025X","name":"太原理工大学","kind":"institution","share":"0.30"},
  {"id":"R-001","name":"张三","kind":"researcher","institution":"太原理工大学","share":"0.49"},
  {"id":"R-002","name":"李四","kind":"researcher","institution":"太原理工大学","share":"0.21"}]}`

const useJSON = `{"command":"assign_rights","command_id":"c-0003","contract_id":"2023140101000123","right":"use",
 "exclusivity":"exclusive","term":{"from":"2023-03-15","to":"2033-03-14"},
 "holders":[{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise"}]}`

func holders(shares ...string) []map[string]any {
	var hs []map[string]any
	for i, s := range shares {
		h := map[string]any{"id": "H-" + string(rune('A'+i)), "name": "持有人", "kind": "researcher", "institution": "山西大学"}
		if s != "" {
			h["share"] = s
		}
		hs = append(hs, h)
	}
	return hs
}

type decideCase struct {
	name   string
	given  []ledger.DomainEvent
	grants []UseGrant
	cmd    string
	want   []ledger.DomainEvent // checked when wantCode is ""
	check  func(t *testing.T, evs []ledger.DomainEvent)
	code   Code
	field  string
	rule   string // a substring of the rule
}

// folded returns the contract the events make, in order.
func folded(t *testing.T, given []ledger.DomainEvent) Contract {
	t.Helper()
	var c Contract
	for i, ev := range given {
		var err error
		c, err = c.Apply(ledger.Version(i+1), ev)
		require.NoError(t, err)
	}
	return c
}

func runDecide(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := folded(t, tc.given)
			cmd, err := Decode([]byte(tc.cmd))
			var evs []ledger.DomainEvent
			if err == nil {
				evs, err = Decide(c, cmd, Env{Today: today, Grants: tc.grants})
			}
			if tc.code != "" {
				var e *Error
				require.ErrorAs(t, err, &e, "want a rejection")
				assert.Equal(t, tc.code, e.Code, "code (%v)", err)
				assert.Equal(t, tc.field, e.Field, "field (%v)", err)
				assert.Contains(t, e.Rule, tc.rule)
				assert.Nil(t, evs)
				return
			}
			require.NoError(t, err)
			if tc.want != nil {
				assert.Equal(t, tc.want, evs)
			}
			if tc.check != nil {
				tc.check(t, evs)
			}
		})
	}
}

func TestDecide_Register(t *testing.T) {
	party := func(id, kind, region string) map[string]any {
		return map[string]any{"id": id, "name": "某单位", "kind": kind, "region": region}
	}
	runDecide(t, []decideCase{
		{name: "registers the docs/domain.md example", cmd: registerJSON, want: []ledger.DomainEvent{reg}},
		{name: "rejects a second registration of the contract", given: []ledger.DomainEvent{reg}, cmd: registerJSON, code: CodeConflict, field: "contract_id", rule: "already registered"},
		{name: "rejects a registration number that is not 16 digits", cmd: with(registerJSON, map[string]any{"contract_id": "2023-1401-01"}), code: CodeInvalid, field: "contract_id"},
		{name: "rejects an unknown province prefix", cmd: with(registerJSON, map[string]any{"contract_id": "2023990101000123"}), code: CodeInvalid, field: "contract_id"},
		{name: "rejects a number whose year is not the registration year", cmd: with(registerJSON, map[string]any{"contract_id": "2022140101000123"}), code: CodeInvalid, field: "contract_id", rule: "does not match registered_on"},
		{name: "requires a title", cmd: with(registerJSON, map[string]any{"title": " "}), code: CodeInvalid, field: "title", rule: "is required"},
		{name: "rejects a title over the limit", cmd: with(registerJSON, map[string]any{"title": strings.Repeat("技", TitleBytesMax)}), code: CodeInvalid, field: "title", rule: "exceed the limit"},
		{name: "rejects an unknown type", cmd: with(registerJSON, map[string]any{"type": "sale"}), code: CodeInvalid, field: "type", rule: "not a contract type"},
		{name: "rejects a subtype of another type", cmd: with(registerJSON, map[string]any{"subtype": "commissioned"}), code: CodeInvalid, field: "subtype", rule: "not a subtype of transfer"},
		{name: "rejects an unknown field", cmd: with(registerJSON, map[string]any{"field": "space"}), code: CodeInvalid, field: "field", rule: "not a technical field"},
		{name: "rejects an impossible date", cmd: with(registerJSON, map[string]any{"signed_on": "2023-02-30"}), code: CodeInvalid, field: "signed_on", rule: "not a valid calendar date"},
		{name: "rejects a date in another format", cmd: with(registerJSON, map[string]any{"registered_on": "2023/03/15"}), code: CodeInvalid, field: "registered_on", rule: "YYYY-MM-DD"},
		{name: "rejects signing after registration", cmd: with(registerJSON, map[string]any{"signed_on": "2023-03-16"}), code: CodeInvalid, field: "signed_on", rule: "after registered_on"},
		{name: "rejects a registration in the future", cmd: with(registerJSON, map[string]any{"contract_id": "2026140101000123", "signed_on": "2026-11-01", "registered_on": "2026-11-26"}), code: CodeInvalid, field: "registered_on", rule: "in the future"},
		{name: "accepts a registration today", cmd: with(registerJSON, map[string]any{"contract_id": "2026140101000123", "signed_on": "2026-11-01", "registered_on": "2026-11-25"}),
			check: func(t *testing.T, evs []ledger.DomainEvent) { assert.Len(t, evs, 1) }},
		{name: "rejects tech_amount above amount", cmd: with(registerJSON, map[string]any{"tech_amount": "1200000.01"}), code: CodeInvalid, field: "tech_amount", rule: "1200000.01 exceeds amount 1200000.00"},
		{name: "accepts tech_amount equal to amount and zero", cmd: with(registerJSON, map[string]any{"tech_amount": "0", "amount": "0.00"}),
			check: func(t *testing.T, evs []ledger.DomainEvent) {
				assert.True(t, evs[0].(*ledger.ContractRegistered).TechAmount.IsZero())
			}},
		{name: "rejects a negative amount", cmd: with(registerJSON, map[string]any{"amount": "-1.00"}), code: CodeInvalid, field: "amount", rule: "must not be negative"},
		{name: "rejects three decimal places", cmd: with(registerJSON, map[string]any{"amount": "1200000.001"}), code: CodeInvalid, field: "amount", rule: "more than 2 decimal places"},
		{name: "rejects an exponent", cmd: with(registerJSON, map[string]any{"amount": "1.2e6"}), code: CodeInvalid, field: "amount", rule: "not a decimal amount"},
		{name: "rejects an amount above the maximum", cmd: with(registerJSON, map[string]any{"amount": "100000000000.01"}), code: CodeInvalid, field: "amount", rule: "AmountMax"},
		{name: "rejects an amount as a JSON number", cmd: with(registerJSON, map[string]any{"amount": 1200000}), code: CodeMalformed, field: "amount", rule: "must be a JSON string"},
		{name: "requires a seller", cmd: with(registerJSON, map[string]any{"seller": nil}), code: CodeInvalid, field: "seller", rule: "is required"},
		{name: "rejects a USCC with a wrong check character", cmd: with(registerJSON, map[string]any{"seller": party("12140000405000025Y", "university", "140100")}), code: CodeInvalid, field: "seller.id", rule: "unified social credit code"},
		{name: "takes an individual's id as opaque", cmd: with(registerJSON, map[string]any{"seller": party("1401**********1234", "individual", "140100")}),
			check: func(t *testing.T, evs []ledger.DomainEvent) {
				assert.Equal(t, "individual", evs[0].(*ledger.ContractRegistered).Seller.Kind)
			}},
		{name: "takes a party abroad without a USCC", cmd: with(registerJSON, map[string]any{"buyer": party("DE-HRB-12345", "foreign_enterprise", "999999")}),
			check: func(t *testing.T, evs []ledger.DomainEvent) {
				assert.Equal(t, "999999", evs[0].(*ledger.ContractRegistered).Buyer.Region)
			}},
		{name: "rejects an unknown party kind", cmd: with(registerJSON, map[string]any{"buyer": party("91140400234567819D", "company", "140400")}), code: CodeInvalid, field: "buyer.kind", rule: "not a party kind"},
		{name: "rejects an unknown region", cmd: with(registerJSON, map[string]any{"buyer": party("91140400234567819D", "enterprise", "149900")}), code: CodeInvalid, field: "buyer.region"},
		{name: "rejects a retired Shanxi county code", cmd: with(registerJSON, map[string]any{"buyer": party("91140400234567819D", "enterprise", "140421")}), code: CodeInvalid, field: "buyer.region"},
		{name: "accepts another province by prefix", cmd: with(registerJSON, map[string]any{"buyer": party("91140400234567819D", "enterprise", "110108")}),
			check: func(t *testing.T, evs []ledger.DomainEvent) {
				assert.Equal(t, "110108", evs[0].(*ledger.ContractRegistered).Buyer.Region)
			}},
		{name: "rejects a contract with itself", cmd: with(registerJSON, map[string]any{"buyer": party("12140000405000025X", "university", "140100")}), code: CodeInvalid, field: "buyer.id", rule: "also the seller"},
		{name: "checks the intermediary", cmd: with(registerJSON, map[string]any{"intermediary": party("", "enterprise", "140100")}), code: CodeInvalid, field: "intermediary.id", rule: "is required"},
		{name: "rejects an unknown IP type", cmd: with(registerJSON, map[string]any{"ip_types": []string{"patent", "trademark"}}), code: CodeInvalid, field: "ip_types[1]", rule: "not an IP type"},
		{name: "rejects an IP type listed twice", cmd: with(registerJSON, map[string]any{"ip_types": []string{"patent", "patent"}}), code: CodeInvalid, field: "ip_types[1]", rule: "listed twice"},
		{name: "records no IP as an empty list", cmd: with(registerJSON, map[string]any{"ip_types": nil}),
			check: func(t *testing.T, evs []ledger.DomainEvent) {
				assert.Equal(t, []string{}, evs[0].(*ledger.ContractRegistered).IPTypes)
			}},
		{name: "rejects a command_id with spaces", cmd: with(registerJSON, map[string]any{"command_id": "c 1"}), code: CodeInvalid, field: "command_id", rule: "spaces"},
	})
}

func TestDecide_Amend(t *testing.T) {
	const amend = `{"command":"amend_contract","command_id":"c-0005","contract_id":"2023140101000123","amount":"1300000.00","tech_amount":"1100000.00","reason":"补充协议"}`
	runDecide(t, []decideCase{
		{name: "amends amounts and records what changed", given: []ledger.DomainEvent{reg}, cmd: amend, want: []ledger.DomainEvent{&ledger.ContractAmended{
			ContractID: "2023140101000123", Type: "transfer", Subtype: "patent_right", Field: "environment",
			Amount: d("1300000.00"), TechAmount: d("1100000.00"), Changed: []string{"amount", "tech_amount"}, Reason: "补充协议"}}},
		{name: "reclassifies type and subtype", given: []ledger.DomainEvent{reg},
			cmd: with(amend, map[string]any{"amount": nil, "tech_amount": nil, "type": "license", "subtype": "patent_license"}),
			check: func(t *testing.T, evs []ledger.DomainEvent) {
				assert.Equal(t, []string{"type", "subtype"}, evs[0].(*ledger.ContractAmended).Changed)
			}},
		{name: "rejects a type change that leaves an invalid subtype", given: []ledger.DomainEvent{reg}, cmd: with(amend, map[string]any{"amount": nil, "tech_amount": nil, "type": "license"}), code: CodeInvalid, field: "subtype", rule: "not a subtype of license"},
		{name: "rejects an unregistered contract", cmd: amend, code: CodeNotFound, field: "contract_id", rule: "not registered"},
		{name: "rejects a revoked contract", given: []ledger.DomainEvent{reg, revoked}, cmd: amend, code: CodeConflict, field: "contract_id", rule: "revoked"},
		{name: "requires a reason", given: []ledger.DomainEvent{reg}, cmd: with(amend, map[string]any{"reason": ""}), code: CodeInvalid, field: "reason", rule: "is required"},
		{name: "requires a change", given: []ledger.DomainEvent{reg}, cmd: with(amend, map[string]any{"amount": nil, "tech_amount": nil}), code: CodeInvalid, field: "", rule: "at least one of"},
		{name: "rejects an amendment that changes nothing", given: []ledger.DomainEvent{reg}, cmd: with(amend, map[string]any{"amount": "1200000", "tech_amount": nil}), code: CodeInvalid, rule: "changes nothing"},
		{name: "rejects tech_amount above the amount in force", given: []ledger.DomainEvent{reg}, cmd: with(amend, map[string]any{"amount": nil, "tech_amount": "1200000.01"}), code: CodeInvalid, field: "tech_amount", rule: "exceeds amount 1200000.00"},
		{name: "rejects an amount below what was paid", given: []ledger.DomainEvent{reg, paid600k}, cmd: with(amend, map[string]any{"amount": "599999.99", "tech_amount": "500000.00"}), code: CodeInvalid, field: "amount", rule: "below the 600000.00 already paid"},
	})
}

func TestDecide_Revoke(t *testing.T) {
	const revoke = `{"command":"revoke_contract","command_id":"c-0006","contract_id":"2023140101000123","reason":"重复登记"}`
	runDecide(t, []decideCase{
		{name: "revokes with a reason", given: []ledger.DomainEvent{reg, paid600k}, cmd: revoke, want: []ledger.DomainEvent{revoked}},
		{name: "rejects revoking twice", given: []ledger.DomainEvent{reg, revoked}, cmd: revoke, code: CodeConflict, field: "contract_id", rule: "revoked"},
		{name: "rejects an unregistered contract", cmd: revoke, code: CodeNotFound, field: "contract_id"},
		{name: "requires a reason", given: []ledger.DomainEvent{reg}, cmd: with(revoke, map[string]any{"reason": nil}), code: CodeInvalid, field: "reason", rule: "is required"},
		{name: "requires a contract_id", cmd: with(revoke, map[string]any{"contract_id": nil}), code: CodeInvalid, field: "contract_id", rule: "is required"},
	})
}

func TestDecide_AssignRights(t *testing.T) {
	grant := func(contract, excl, from, to string) UseGrant {
		return UseGrant{ContractID: contract, Exclusivity: excl, Term: ledger.Term{From: date(from), To: date(to)}}
	}
	runDecide(t, []decideCase{
		{name: "assigns proceeds", given: []ledger.DomainEvent{reg}, cmd: proceedsJSON, want: []ledger.DomainEvent{proceeds}},
		{name: "assigns ownership 0.3 / 0.7 (赋权 pilot)", given: []ledger.DomainEvent{reg},
			cmd: with(proceedsJSON, map[string]any{"right": "ownership", "holders": []map[string]any{
				{"id": "12140000405000025X", "name": "太原理工大学", "kind": "institution", "share": "0.3"},
				{"id": "TEAM-1", "name": "研究团队", "kind": "researcher", "institution": "太原理工大学", "share": "0.7"}}}),
			check: func(t *testing.T, evs []ledger.DomainEvent) {
				assert.Equal(t, "ownership", evs[0].(*ledger.RightsAssigned).Right)
			}},
		{name: "rejects shares summing below 1", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": holders("0.5", "0.4999")}), code: CodeInvalid, field: "holders", rule: "sum to 0.9999, not exactly 1"},
		{name: "rejects shares summing above 1", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": holders("0.5", "0.5001")}), code: CodeInvalid, field: "holders", rule: "not exactly 1"},
		{name: "accepts four places summing to 1", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": holders("0.3333", "0.3333", "0.3334")}),
			check: func(t *testing.T, evs []ledger.DomainEvent) {
				assert.Len(t, evs[0].(*ledger.RightsAssigned).Holders, 3)
			}},
		{name: "rejects five decimal places", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": holders("0.33333", "0.66667")}), code: CodeInvalid, field: "holders[0].share", rule: "more than 4 decimal places"},
		{name: "rejects a zero share", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": holders("0", "1")}), code: CodeInvalid, field: "holders[0].share", rule: "not in (0, 1]"},
		{name: "rejects a share above 1", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": holders("1.5")}), code: CodeInvalid, field: "holders[0].share", rule: "not in (0, 1]"},
		{name: "rejects a negative share", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": holders("-0.5", "1")}), code: CodeInvalid, field: "holders[0].share", rule: "not a decimal fraction"},
		{name: "requires a share for proceeds", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": holders("1", "")}), code: CodeInvalid, field: "holders[1].share", rule: "is required"},
		{name: "rejects a holder listed twice", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": []map[string]any{
			{"id": "R-1", "name": "张三", "kind": "researcher", "institution": "山西大学", "share": "0.5"},
			{"id": "R-1", "name": "张三", "kind": "researcher", "institution": "山西大学", "share": "0.5"}}}), code: CodeInvalid, field: "holders[1].id", rule: "listed twice"},
		{name: "requires a researcher's institution", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": []map[string]any{
			{"id": "R-1", "name": "张三", "kind": "researcher", "share": "1"}}}), code: CodeInvalid, field: "holders[0].institution", rule: "is required"},
		{name: "rejects an unknown holder kind", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": []map[string]any{
			{"id": "R-1", "name": "张三", "kind": "student", "share": "1"}}}), code: CodeInvalid, field: "holders[0].kind", rule: "not a holder kind"},
		{name: "requires holders", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"holders": []any{}}), code: CodeInvalid, field: "holders", rule: "at least one holder"},
		{name: "rejects an unknown right", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"right": "usufruct"}), code: CodeInvalid, field: "right", rule: "not a right"},
		{name: "rejects effective_on before registration", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"effective_on": "2023-03-14"}), code: CodeInvalid, field: "effective_on", rule: "before the contract's registered_on"},
		{name: "rejects exclusivity on proceeds", given: []ledger.DomainEvent{reg}, cmd: with(proceedsJSON, map[string]any{"exclusivity": "exclusive"}), code: CodeInvalid, field: "exclusivity", rule: "use rights only"},
		{name: "rejects a revoked contract", given: []ledger.DomainEvent{reg, revoked}, cmd: proceedsJSON, code: CodeConflict, field: "contract_id", rule: "revoked"},
		{name: "grants an exclusive use right", given: []ledger.DomainEvent{reg}, cmd: useJSON, want: []ledger.DomainEvent{&ledger.RightsAssigned{
			ContractID: "2023140101000123", Right: "use", EffectiveOn: date("2023-03-15"), Exclusivity: "exclusive",
			Term: &ledger.Term{From: date("2023-03-15"), To: date("2033-03-14")}, AchievementID: "ACH-2022-0042",
			Holders: []ledger.Holder{{ID: "91140400234567819D", Name: "长治某能源有限公司", Kind: "enterprise"}}}}},
		{name: "rejects an exclusive grant overlapping a sole grant on another contract", given: []ledger.DomainEvent{reg},
			grants: []UseGrant{grant("2022140101000007", "sole", "2030-01-01", "2031-12-31")}, cmd: useJSON,
			code: CodeConflict, field: "term", rule: "overlaps the sole use right on achievement ACH-2022-0042 granted under contract 2022140101000007"},
		{name: "rejects a grant touching an existing one on its last day", given: []ledger.DomainEvent{reg},
			grants: []UseGrant{grant("2022140101000007", "exclusive", "2020-01-01", "2023-03-15")}, cmd: useJSON, code: CodeConflict, field: "term"},
		{name: "accepts an exclusive grant right after an earlier one", given: []ledger.DomainEvent{reg},
			grants: []UseGrant{grant("2022140101000007", "exclusive", "2020-01-01", "2023-03-14")}, cmd: useJSON,
			check: func(t *testing.T, evs []ledger.DomainEvent) { assert.Len(t, evs, 1) }},
		{name: "accepts an ordinary grant over an exclusive one (docs/domain.md limits exclusive and sole only)", given: []ledger.DomainEvent{reg},
			grants: []UseGrant{grant("2022140101000007", "exclusive", "2020-01-01", "2040-01-01")}, cmd: with(useJSON, map[string]any{"exclusivity": "ordinary"}),
			check: func(t *testing.T, evs []ledger.DomainEvent) { assert.Len(t, evs, 1) }},
		{name: "requires exclusivity for use", given: []ledger.DomainEvent{reg}, cmd: with(useJSON, map[string]any{"exclusivity": nil}), code: CodeInvalid, field: "exclusivity", rule: "is required"},
		{name: "rejects an unknown exclusivity", given: []ledger.DomainEvent{reg}, cmd: with(useJSON, map[string]any{"exclusivity": "shared"}), code: CodeInvalid, field: "exclusivity"},
		{name: "requires a term for use", given: []ledger.DomainEvent{reg}, cmd: with(useJSON, map[string]any{"term": nil}), code: CodeInvalid, field: "term", rule: "is required"},
		{name: "rejects a term ending before it starts", given: []ledger.DomainEvent{reg}, cmd: with(useJSON, map[string]any{"term": map[string]string{"from": "2024-01-01", "to": "2023-12-31"}}), code: CodeInvalid, field: "term.to", rule: "before term.from"},
		{name: "rejects shares on use rights", given: []ledger.DomainEvent{reg}, cmd: with(useJSON, map[string]any{"holders": holders("1")}), code: CodeInvalid, field: "holders[0].share", rule: "no shares"},
		{name: "rejects an exclusive grant without an achievement", given: []ledger.DomainEvent{func() ledger.DomainEvent { r := *reg; r.AchievementID = ""; return &r }()},
			cmd: useJSON, code: CodeInvalid, field: "exclusivity", rule: "achievement_id"},
	})
}

func TestDecide_RecordPayment(t *testing.T) {
	const payment = `{"command":"record_payment","command_id":"c-0004","contract_id":"2023140101000123","payment_id":"P-1","amount":"600000.00","costs":"50000.00","paid_on":"2023-06-30"}`
	amended := &ledger.ContractAmended{ContractID: "2023140101000123", Type: "transfer", Subtype: "patent_right", Field: "environment",
		Amount: d("700000.00"), TechAmount: d("600000.00"), Changed: []string{"amount", "tech_amount"}, Reason: "补充协议"}
	runDecide(t, []decideCase{
		{name: "allocates net income to the proceeds beneficiaries in force", given: []ledger.DomainEvent{reg, proceeds}, cmd: payment,
			want: []ledger.DomainEvent{&ledger.PaymentRecorded{ContractID: "2023140101000123", PaymentID: "P-1", Amount: d("600000.00"), Costs: d("50000.00"),
				Net: d("550000.00"), PaidOn: date("2023-06-30"), Allocations: []ledger.Allocation{
					{HolderID: "12140000405000025X", Name: "太原理工大学", Kind: "institution", Share: d("0.30"), Amount: d("165000.00")},
					{HolderID: "R-001", Name: "张三", Kind: "researcher", Institution: "太原理工大学", Share: d("0.49"), Amount: d("269500.00")},
					{HolderID: "R-002", Name: "李四", Kind: "researcher", Institution: "太原理工大学", Share: d("0.21"), Amount: d("115500.00")},
				}}}},
		{name: "allocates everything to the seller before any proceeds assignment", given: []ledger.DomainEvent{reg}, cmd: payment,
			check: func(t *testing.T, evs []ledger.DomainEvent) {
				p := evs[0].(*ledger.PaymentRecorded)
				require.Len(t, p.Allocations, 1)
				assert.Equal(t, seller.ID, p.Allocations[0].HolderID)
				assert.Equal(t, "550000", p.Allocations[0].Amount.String())
			}},
		{name: "accepts a payment up to the exact remaining amount", given: []ledger.DomainEvent{reg, paid600k}, cmd: pay("P-2", "600000.00"),
			check: func(t *testing.T, evs []ledger.DomainEvent) { assert.Len(t, evs, 1) }},
		{name: "rejects a payment above the remaining contract amount", given: []ledger.DomainEvent{reg, paid600k}, cmd: pay("P-2", "600000.01"),
			code: CodeInvalid, field: "amount", rule: "above the contract amount 1200000.00 (remaining 600000.00)"},
		{name: "uses the amended amount in force", given: []ledger.DomainEvent{reg, paid600k, amended}, cmd: pay("P-2", "100000.01"),
			code: CodeInvalid, field: "amount", rule: "remaining 100000.00"},
		{name: "rejects a payment_id used before", given: []ledger.DomainEvent{reg, paid600k}, cmd: payment, code: CodeConflict, field: "payment_id", rule: "already recorded"},
		{name: "rejects costs above the amount", given: []ledger.DomainEvent{reg}, cmd: with(payment, map[string]any{"costs": "600000.01"}), code: CodeInvalid, field: "costs", rule: "exceeds amount 600000.00"},
		{name: "takes missing costs as zero", given: []ledger.DomainEvent{reg}, cmd: with(payment, map[string]any{"costs": nil}),
			check: func(t *testing.T, evs []ledger.DomainEvent) {
				assert.True(t, evs[0].(*ledger.PaymentRecorded).Costs.IsZero())
			}},
		{name: "rejects a zero payment", given: []ledger.DomainEvent{reg}, cmd: with(payment, map[string]any{"amount": "0.00", "costs": "0.00"}), code: CodeInvalid, field: "amount", rule: "greater than 0"},
		{name: "rejects a payment before signing", given: []ledger.DomainEvent{reg}, cmd: with(payment, map[string]any{"paid_on": "2023-02-28"}), code: CodeInvalid, field: "paid_on", rule: "before the contract was signed"},
		{name: "rejects a payment in the future", given: []ledger.DomainEvent{reg}, cmd: with(payment, map[string]any{"paid_on": "2026-11-26"}), code: CodeInvalid, field: "paid_on", rule: "in the future"},
		{name: "rejects a payment on a revoked contract", given: []ledger.DomainEvent{reg, revoked}, cmd: payment, code: CodeConflict, field: "contract_id", rule: "revoked"},
		{name: "rejects a payment on an unregistered contract", cmd: payment, code: CodeNotFound, field: "contract_id"},
		{name: "requires a payment_id", given: []ledger.DomainEvent{reg}, cmd: with(payment, map[string]any{"payment_id": ""}), code: CodeInvalid, field: "payment_id", rule: "is required"},
	})
}

// TestContract_Apply checks the fold refuses event sequences the rules forbid (a damaged
// or forged log), so a bad log is never silently folded.
func TestContract_Apply(t *testing.T) {
	tests := []struct {
		name   string
		events []ledger.DomainEvent
		want   string
	}{
		{"payment before registration", []ledger.DomainEvent{paid600k}, "before ContractRegistered"},
		{"registered twice", []ledger.DomainEvent{reg, reg}, "registered twice"},
		{"payment after revocation", []ledger.DomainEvent{reg, revoked, paid600k}, "after ContractRevoked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Contract
			var err error
			for i, ev := range tc.events {
				if c, err = c.Apply(ledger.Version(i+1), ev); err != nil {
					break
				}
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
	c, err := Contract{}.Apply(2, reg)
	require.ErrorContains(t, err, "version 2 follows version 0")
	assert.False(t, c.Registered)
}
