package commands

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"techledger/ledger"
)

// UseGrant is an exclusive or sole use right in force on an achievement, as the handler's
// index of the log knows it.
type UseGrant struct {
	ContractID  string
	Exclusivity string
	Term        ledger.Term
}

// Env is what deciding needs from outside the contract's own stream. It is passed in so
// that Decide stays a pure function.
type Env struct {
	// Today is the current civil date in China (UTC+8): registrations and payments may
	// not be dated after it.
	Today ledger.Date
	// Grants holds the exclusive and sole use grants in force (on contracts not revoked)
	// on the achievement of the contract an assign_rights "use" command is about.
	Grants []UseGrant
}

// Decide checks cmd against the contract c (the fold of its stream) and every rule of
// docs/domain.md, and returns the events that record it. It is a pure function: the same
// inputs always give the same events. A rejection is an *Error naming the field and the
// rule; then no event is returned.
func Decide(c Contract, cmd Command, env Env) ([]ledger.DomainEvent, error) {
	var (
		evs []ledger.DomainEvent
		err *Error
	)
	if id := cmd.Head().CommandID; id != "" {
		if err := identifier("command_id", id); err != nil {
			return nil, err
		}
	}
	switch cmd := cmd.(type) {
	case *RegisterContract:
		evs, err = decideRegister(c, cmd, env)
	case *AmendContract:
		evs, err = decideAmend(c, cmd)
	case *RevokeContract:
		evs, err = decideRevoke(c, cmd)
	case *AssignRights:
		evs, err = decideAssign(c, cmd, env)
	case *RecordPayment:
		evs, err = decidePayment(c, cmd, env)
	default:
		panic(fmt.Sprintf("commands: Decide: unknown command type %T", cmd))
	}
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// registered checks that the command's contract is registered and not revoked.
func registered(c Contract, contractID string) *Error {
	if contractID == "" {
		return invalidf("contract_id", "is required")
	}
	if !c.Registered {
		return reject(CodeNotFound, "contract_id", "contract %s is not registered", clip(contractID))
	}
	if c.Revoked {
		return reject(CodeConflict, "contract_id", "contract %s is revoked and accepts nothing further", contractID)
	}
	return nil
}

func decideRegister(c Contract, cmd *RegisterContract, env Env) ([]ledger.DomainEvent, *Error) {
	if cmd.ContractID == "" {
		return nil, invalidf("contract_id", "is required")
	}
	if err := ValidRegistrationNumber(cmd.ContractID); err != nil {
		return nil, invalidf("contract_id", "%v", err)
	}
	if c.Registered {
		return nil, reject(CodeConflict, "contract_id", "contract %s is already registered", cmd.ContractID)
	}
	if err := text("title", cmd.Title, TitleBytesMax); err != nil {
		return nil, err
	}
	if err := classification(cmd.Type, cmd.Subtype, cmd.Field); err != nil {
		return nil, err
	}
	signed, err := parseDate("signed_on", cmd.SignedOn)
	if err != nil {
		return nil, err
	}
	regOn, err := parseDate("registered_on", cmd.RegisteredOn)
	if err != nil {
		return nil, err
	}
	if signed.After(regOn) {
		return nil, invalidf("signed_on", "%s is after registered_on %s", signed, regOn)
	}
	if regOn.After(env.Today) {
		return nil, invalidf("registered_on", "%s is in the future (today is %s)", regOn, env.Today)
	}
	// The registration number starts with the year of registration (docs/domain.md,
	// Registration number format).
	if len(cmd.ContractID) == 16 && cmd.ContractID[:4] != strconv.Itoa(regOn.Year) {
		return nil, invalidf("contract_id", "year %s does not match registered_on %s", cmd.ContractID[:4], regOn)
	}
	amount, tech, err := amounts(cmd.Amount, cmd.TechAmount)
	if err != nil {
		return nil, err
	}
	if err := party("seller", cmd.Seller, true); err != nil {
		return nil, err
	}
	if err := party("buyer", cmd.Buyer, true); err != nil {
		return nil, err
	}
	if cmd.Seller.ID == cmd.Buyer.ID {
		return nil, invalidf("buyer.id", "%s is also the seller: a contract needs two parties", cmd.Buyer.ID)
	}
	if err := party("intermediary", cmd.Intermediary, false); err != nil {
		return nil, err
	}
	if cmd.AchievementID != "" {
		if err := identifier("achievement_id", cmd.AchievementID); err != nil {
			return nil, err
		}
	}
	if len(cmd.IPTypes) > IPTypesMax {
		return nil, invalidf("ip_types", "%d entries exceed IPTypesMax (%d)", len(cmd.IPTypes), IPTypesMax)
	}
	seen := map[string]bool{}
	for i, t := range cmd.IPTypes {
		if _, ok := IPTypeLabel(t); !ok {
			return nil, invalidf(index("ip_types", i), "%q is not an IP type (want one of %s)", clip(t), strings.Join(IPTypes(), ", "))
		}
		if seen[t] {
			return nil, invalidf(index("ip_types", i), "%s is listed twice", t)
		}
		seen[t] = true
	}
	ipTypes := cmd.IPTypes
	if ipTypes == nil {
		ipTypes = []string{}
	}
	return []ledger.DomainEvent{&ledger.ContractRegistered{
		ContractID: cmd.ContractID, Title: cmd.Title, Type: cmd.Type, Subtype: cmd.Subtype,
		SignedOn: signed, RegisteredOn: regOn, Amount: amount, TechAmount: tech, Field: cmd.Field,
		Seller: *cmd.Seller, Buyer: *cmd.Buyer, Intermediary: cmd.Intermediary,
		AchievementID: cmd.AchievementID, IPTypes: ipTypes,
	}}, nil
}

// classification checks type, subtype and field against the reference data (民法典 ch. 20;
// 技术合同认定规则; docs/domain.md, Contract types and subtypes).
func classification(typ, subtype, field string) *Error {
	if typ == "" {
		return invalidf("type", "is required")
	}
	if _, ok := ContractTypeLabel(typ); !ok {
		return invalidf("type", "%q is not a contract type (want one of %s)", clip(typ), strings.Join(ContractTypes(), ", "))
	}
	if subtype == "" {
		return invalidf("subtype", "is required")
	}
	if !ValidSubtype(typ, subtype) {
		return invalidf("subtype", "%q is not a subtype of %s (want one of %s)", clip(subtype), typ, strings.Join(SubtypesOf(typ), ", "))
	}
	if field == "" {
		return invalidf("field", "is required")
	}
	if _, ok := FieldLabel(field); !ok {
		return invalidf("field", "%q is not a technical field (want one of %s)", clip(field), strings.Join(Fields(), ", "))
	}
	return nil
}

// amounts parses amount and tech_amount and checks 0 <= tech_amount <= amount (技术交易额 is
// the contract amount less non-technical costs, docs/domain.md, Amounts).
func amounts(amountS, techS string) (amount, tech decimal.Decimal, err *Error) {
	if amount, err = parseAmount("amount", amountS); err != nil {
		return
	}
	if tech, err = parseAmount("tech_amount", techS); err != nil {
		return
	}
	if tech.GreaterThan(amount) {
		err = invalidf("tech_amount", "%s exceeds amount %s", tech.StringFixed(2), amount.StringFixed(2))
	}
	return
}

func decideAmend(c Contract, cmd *AmendContract) ([]ledger.DomainEvent, *Error) {
	if err := registered(c, cmd.ContractID); err != nil {
		return nil, err
	}
	if cmd.Amount == nil && cmd.TechAmount == nil && cmd.Type == nil && cmd.Subtype == nil && cmd.Field == nil {
		return nil, invalidf("", "an amendment must change at least one of amount, tech_amount, type, subtype, field")
	}
	if err := text("reason", cmd.Reason, ReasonBytesMax); err != nil {
		return nil, err
	}
	next := ledger.ContractAmended{
		ContractID: c.ID, Type: c.Type, Subtype: c.Subtype, Field: c.Field,
		Amount: c.Amount, TechAmount: c.TechAmount, Reason: cmd.Reason,
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&next.Type, cmd.Type)
	set(&next.Subtype, cmd.Subtype)
	set(&next.Field, cmd.Field)
	if err := classification(next.Type, next.Subtype, next.Field); err != nil {
		return nil, err
	}
	if cmd.Amount != nil {
		a, err := parseAmount("amount", *cmd.Amount)
		if err != nil {
			return nil, err
		}
		next.Amount = a
	}
	if cmd.TechAmount != nil {
		a, err := parseAmount("tech_amount", *cmd.TechAmount)
		if err != nil {
			return nil, err
		}
		next.TechAmount = a
	}
	if next.TechAmount.GreaterThan(next.Amount) {
		return nil, invalidf("tech_amount", "%s exceeds amount %s", next.TechAmount.StringFixed(2), next.Amount.StringFixed(2))
	}
	if next.Amount.LessThan(c.Paid) {
		return nil, invalidf("amount", "%s is below the %s already paid under the contract", next.Amount.StringFixed(2), c.Paid.StringFixed(2))
	}
	for _, f := range []struct {
		name    string
		changed bool
	}{
		{"type", next.Type != c.Type},
		{"subtype", next.Subtype != c.Subtype},
		{"field", next.Field != c.Field},
		{"amount", !next.Amount.Equal(c.Amount)},
		{"tech_amount", !next.TechAmount.Equal(c.TechAmount)},
	} {
		if f.changed {
			next.Changed = append(next.Changed, f.name)
		}
	}
	if len(next.Changed) == 0 {
		return nil, invalidf("", "the amendment changes nothing: every value given equals the one in force")
	}
	return []ledger.DomainEvent{&next}, nil
}

func decideRevoke(c Contract, cmd *RevokeContract) ([]ledger.DomainEvent, *Error) {
	if err := registered(c, cmd.ContractID); err != nil {
		return nil, err
	}
	if err := text("reason", cmd.Reason, ReasonBytesMax); err != nil {
		return nil, err
	}
	return []ledger.DomainEvent{&ledger.ContractRevoked{ContractID: c.ID, Reason: cmd.Reason}}, nil
}

var one = decimal.NewFromInt(1)

func decideAssign(c Contract, cmd *AssignRights, env Env) ([]ledger.DomainEvent, *Error) {
	if err := registered(c, cmd.ContractID); err != nil {
		return nil, err
	}
	if cmd.Right == "" {
		return nil, invalidf("right", "is required")
	}
	if _, ok := RightLabel(cmd.Right); !ok {
		return nil, invalidf("right", "%q is not a right (want one of %s)", clip(cmd.Right), strings.Join(Rights(), ", "))
	}
	useRight := cmd.Right == ledger.RightUse
	// A use right's effective_on may be left out (the example of docs/domain.md, Commands,
	// does): it then holds from the start of its term, or from registration if the term
	// began before it (docs/domain.md, Use: exclusivity and overlap).
	var effective ledger.Date
	if cmd.EffectiveOn != "" || !useRight {
		var err *Error
		if effective, err = parseDate("effective_on", cmd.EffectiveOn); err != nil {
			return nil, err
		}
		if effective.Before(c.RegisteredOn) {
			return nil, invalidf("effective_on", "%s is before the contract's registered_on %s", effective, c.RegisteredOn)
		}
	}
	if len(cmd.Holders) == 0 {
		return nil, invalidf("holders", "at least one holder is required")
	}
	if len(cmd.Holders) > HoldersMax {
		return nil, invalidf("holders", "%d holders exceed HoldersMax (%d)", len(cmd.Holders), HoldersMax)
	}
	holders := make([]ledger.Holder, len(cmd.Holders))
	ids := map[string]bool{}
	sum := decimal.Zero
	for i, h := range cmd.Holders {
		field := index("holders", i)
		if err := identifier(field+".id", h.ID); err != nil {
			return nil, err
		}
		if ids[h.ID] {
			return nil, invalidf(field+".id", "%s is listed twice", h.ID)
		}
		ids[h.ID] = true
		if err := text(field+".name", h.Name, NameBytesMax); err != nil {
			return nil, err
		}
		if h.Kind == "" {
			return nil, invalidf(field+".kind", "is required")
		}
		if !ValidHolderKind(h.Kind) {
			return nil, invalidf(field+".kind", "%q is not a holder kind (want a party kind, or institution, researcher, broker)", clip(h.Kind))
		}
		if h.Kind == "researcher" {
			if err := text(field+".institution", h.Institution, NameBytesMax); err != nil {
				return nil, err
			}
		} else if err := optionalText(field+".institution", h.Institution, NameBytesMax); err != nil {
			return nil, err
		}
		holders[i] = ledger.Holder{ID: h.ID, Name: h.Name, Kind: h.Kind, Institution: h.Institution}
		if useRight {
			if h.Share != nil {
				return nil, invalidf(field+".share", "use rights carry no shares")
			}
			continue
		}
		share, err := parseShare(field+".share", h.Share)
		if err != nil {
			return nil, err
		}
		holders[i].Share = &share
		sum = sum.Add(share)
	}
	ev := &ledger.RightsAssigned{ContractID: c.ID, Right: cmd.Right, EffectiveOn: effective, Holders: holders}
	if !useRight {
		// Ownership and proceeds are wholly held: shares sum to exactly 1 (docs/domain.md,
		// Proceeds shares).
		if !sum.Equal(one) {
			return nil, invalidf("holders", "shares sum to %s, not exactly 1", sum.String())
		}
		if cmd.Exclusivity != "" {
			return nil, invalidf("exclusivity", "applies to use rights only")
		}
		if cmd.Term != nil {
			return nil, invalidf("term", "applies to use rights only")
		}
		return []ledger.DomainEvent{ev}, nil
	}
	if cmd.Exclusivity == "" {
		return nil, invalidf("exclusivity", "is required for a use right (exclusive, sole or ordinary)")
	}
	if _, ok := ExclusivityLabel(cmd.Exclusivity); !ok {
		return nil, invalidf("exclusivity", "%q is not one of %s", clip(cmd.Exclusivity), strings.Join(Exclusivities(), ", "))
	}
	if cmd.Term == nil {
		return nil, invalidf("term", "is required for a use right")
	}
	from, err := parseDate("term.from", cmd.Term.From)
	if err != nil {
		return nil, err
	}
	to, err := parseDate("term.to", cmd.Term.To)
	if err != nil {
		return nil, err
	}
	if to.Before(from) {
		return nil, invalidf("term.to", "%s is before term.from %s", to, from)
	}
	term := ledger.Term{From: from, To: to}
	ev.Exclusivity, ev.Term, ev.AchievementID = cmd.Exclusivity, &term, c.AchievementID
	if ev.EffectiveOn.IsZero() {
		ev.EffectiveOn = from
		if from.Before(c.RegisteredOn) {
			ev.EffectiveOn = c.RegisteredOn
		}
	}
	if cmd.Exclusivity != "ordinary" {
		// Two exclusive (独占) or sole (排他) grants on one achievement may not overlap in
		// time, across contracts (docs/domain.md, Use: exclusivity and overlap; the kinds of
		// 实施许可 as 最高人民法院关于审理技术合同纠纷案件适用法律若干问题的解释 art. 25 defines them).
		if c.AchievementID == "" {
			return nil, invalidf("exclusivity", "an %s grant needs the contract to name its achievement_id, so overlaps can be checked", cmd.Exclusivity)
		}
		for _, g := range env.Grants {
			if !g.Term.To.Before(from) && !to.Before(g.Term.From) {
				return nil, reject(CodeConflict, "term", "%s to %s overlaps the %s use right on achievement %s granted under contract %s for %s to %s",
					from, to, g.Exclusivity, c.AchievementID, g.ContractID, g.Term.From, g.Term.To)
			}
		}
	}
	return []ledger.DomainEvent{ev}, nil
}

func decidePayment(c Contract, cmd *RecordPayment, env Env) ([]ledger.DomainEvent, *Error) {
	if err := registered(c, cmd.ContractID); err != nil {
		return nil, err
	}
	if err := identifier("payment_id", cmd.PaymentID); err != nil {
		return nil, err
	}
	if _, dup := c.Payments[cmd.PaymentID]; dup {
		return nil, reject(CodeConflict, "payment_id", "payment %s is already recorded under contract %s", cmd.PaymentID, c.ID)
	}
	amount, err := parseAmount("amount", cmd.Amount)
	if err != nil {
		return nil, err
	}
	if !amount.IsPositive() {
		return nil, invalidf("amount", "must be greater than 0")
	}
	costs := decimal.Zero
	if cmd.Costs != "" {
		if costs, err = parseAmount("costs", cmd.Costs); err != nil {
			return nil, err
		}
	}
	if costs.GreaterThan(amount) {
		return nil, invalidf("costs", "%s exceeds amount %s", costs.StringFixed(2), amount.StringFixed(2))
	}
	paid, err := parseDate("paid_on", cmd.PaidOn)
	if err != nil {
		return nil, err
	}
	if paid.Before(c.SignedOn) {
		return nil, invalidf("paid_on", "%s is before the contract was signed (%s)", paid, c.SignedOn)
	}
	if paid.After(env.Today) {
		return nil, invalidf("paid_on", "%s is in the future (today is %s)", paid, env.Today)
	}
	if total := c.Paid.Add(amount); total.GreaterThan(c.Amount) {
		return nil, invalidf("amount", "%s would bring payments to %s, above the contract amount %s (remaining %s)",
			amount.StringFixed(2), total.StringFixed(2), c.Amount.StringFixed(2), c.Amount.Sub(c.Paid).StringFixed(2))
	}
	net := amount.Sub(costs)
	beneficiaries := c.Proceeds
	// No proceeds assignment yet: all to the seller (docs/domain.md, Payments).
	if beneficiaries == nil {
		beneficiaries = []ledger.Holder{{ID: c.Seller.ID, Name: c.Seller.Name, Kind: c.Seller.Kind, Share: &one}}
	}
	return []ledger.DomainEvent{&ledger.PaymentRecorded{
		ContractID: c.ID, PaymentID: cmd.PaymentID, Amount: amount, Costs: costs, Net: net, PaidOn: paid,
		Allocations: Allocate(net, beneficiaries),
	}}, nil
}

// index names element i of a list field, e.g. "holders[2]".
func index(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }
