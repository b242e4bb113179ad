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
	if id := cmd.Head().CommandID; id != "" {
		if idErr := identifier("command_id", id); idErr != nil {
			// The envelope comes first; it joins the other invalid fields, and stands
			// alone before a rejection of another kind.
			if err != nil && err.Code == CodeInvalid {
				var p problems
				p.ok(idErr)
				p.ok(err)
				return nil, p.err()
			}
			return nil, idErr
		}
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
	var p problems
	idOK := false
	if cmd.ContractID == "" {
		p.add("contract_id", "is required")
	} else if err := ValidRegistrationNumber(cmd.ContractID); err != nil {
		p.add("contract_id", "%v", err)
	} else if c.Registered {
		return nil, reject(CodeConflict, "contract_id", "contract %s is already registered", cmd.ContractID)
	} else {
		idOK = true
	}
	p.ok(text("title", cmd.Title, TitleBytesMax))
	classification(&p, cmd.Type, cmd.Subtype, cmd.Field)
	signed, errS := parseDate("signed_on", cmd.SignedOn)
	regOn, errR := parseDate("registered_on", cmd.RegisteredOn)
	p.ok(errS)
	p.ok(errR)
	if errS == nil && errR == nil && signed.After(regOn) {
		p.add("signed_on", "%s is after registered_on %s", signed, regOn)
	}
	if errR == nil && regOn.After(env.Today) {
		p.add("registered_on", "%s is in the future (today is %s)", regOn, env.Today)
	}
	// The registration number starts with the year of registration (docs/domain.md,
	// Registration number format).
	if idOK && errR == nil && len(cmd.ContractID) == 16 && cmd.ContractID[:4] != strconv.Itoa(regOn.Year) {
		p.add("contract_id", "year %s does not match registered_on %s", cmd.ContractID[:4], regOn)
	}
	amount, tech := amounts(&p, cmd.Amount, cmd.TechAmount)
	party(&p, "seller", cmd.Seller, true)
	party(&p, "buyer", cmd.Buyer, true)
	if cmd.Seller != nil && cmd.Buyer != nil && cmd.Buyer.ID != "" && cmd.Seller.ID == cmd.Buyer.ID {
		p.add("buyer.id", "%s is also the seller: a contract needs two parties", clip(cmd.Buyer.ID))
	}
	party(&p, "intermediary", cmd.Intermediary, false)
	if cmd.AchievementID != "" {
		p.ok(identifier("achievement_id", cmd.AchievementID))
	}
	if len(cmd.IPTypes) > IPTypesMax {
		p.add("ip_types", "%d entries exceed IPTypesMax (%d)", len(cmd.IPTypes), IPTypesMax)
	} else {
		seen := map[string]bool{}
		for i, t := range cmd.IPTypes {
			if _, ok := IPTypeLabel(t); !ok {
				p.add(index("ip_types", i), "%q is not an IP type (want one of %s)", clip(t), strings.Join(IPTypes(), ", "))
			} else if seen[t] {
				p.add(index("ip_types", i), "%s is listed twice", t)
			}
			seen[t] = true
		}
	}
	if err := p.err(); err != nil {
		return nil, err
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
// 技术合同认定规则; docs/domain.md, Contract types and subtypes) and records what is at fault in p. The subtype is checked
// against the type only when the type is valid.
func classification(p *problems, typ, subtype, field string) {
	typeOK := false
	if typ == "" {
		p.add("type", "is required")
	} else if _, ok := ContractTypeLabel(typ); !ok {
		p.add("type", "%q is not a contract type (want one of %s)", clip(typ), strings.Join(ContractTypes(), ", "))
	} else {
		typeOK = true
	}
	if subtype == "" {
		p.add("subtype", "is required")
	} else if typeOK && !ValidSubtype(typ, subtype) {
		p.add("subtype", "%q is not a subtype of %s (want one of %s)", clip(subtype), typ, strings.Join(SubtypesOf(typ), ", "))
	}
	if field == "" {
		p.add("field", "is required")
	} else if _, ok := FieldLabel(field); !ok {
		p.add("field", "%q is not a technical field (want one of %s)", clip(field), strings.Join(Fields(), ", "))
	}
}

// amounts parses amount and tech_amount and checks 0 <= tech_amount <= amount (技术交易额 is
// the contract amount less non-technical costs, docs/domain.md, Amounts), recording what
// is at fault in p.
func amounts(p *problems, amountS, techS string) (amount, tech decimal.Decimal) {
	amount, errA := parseAmount("amount", amountS)
	tech, errT := parseAmount("tech_amount", techS)
	p.ok(errA)
	p.ok(errT)
	if errA == nil && errT == nil && tech.GreaterThan(amount) {
		p.add("tech_amount", "%s exceeds amount %s", tech.StringFixed(2), amount.StringFixed(2))
	}
	return amount, tech
}

func decideAmend(c Contract, cmd *AmendContract) ([]ledger.DomainEvent, *Error) {
	if err := registered(c, cmd.ContractID); err != nil {
		return nil, err
	}
	if cmd.Amount == nil && cmd.TechAmount == nil && cmd.Type == nil && cmd.Subtype == nil && cmd.Field == nil {
		return nil, invalidf("", "an amendment must change at least one of amount, tech_amount, type, subtype, field")
	}
	var p problems
	p.ok(text("reason", cmd.Reason, ReasonBytesMax))
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
	classification(&p, next.Type, next.Subtype, next.Field)
	amountOK, techOK := true, true
	if cmd.Amount != nil {
		a, err := parseAmount("amount", *cmd.Amount)
		amountOK = p.ok(err)
		next.Amount = a
	}
	if cmd.TechAmount != nil {
		a, err := parseAmount("tech_amount", *cmd.TechAmount)
		techOK = p.ok(err)
		next.TechAmount = a
	}
	if amountOK && techOK && next.TechAmount.GreaterThan(next.Amount) {
		p.add("tech_amount", "%s exceeds amount %s", next.TechAmount.StringFixed(2), next.Amount.StringFixed(2))
	}
	if amountOK && next.Amount.LessThan(c.Paid) {
		p.add("amount", "%s is below the %s already paid under the contract", next.Amount.StringFixed(2), c.Paid.StringFixed(2))
	}
	if err := p.err(); err != nil {
		return nil, err
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
	var p problems
	rightOK := false
	if cmd.Right == "" {
		p.add("right", "is required")
	} else if _, ok := RightLabel(cmd.Right); !ok {
		p.add("right", "%q is not a right (want one of %s)", clip(cmd.Right), strings.Join(Rights(), ", "))
	} else {
		rightOK = true
	}
	useRight := cmd.Right == ledger.RightUse
	// A use right's effective_on may be left out (the example of docs/domain.md, Commands,
	// does): it then holds from the start of its term, or from registration if the term
	// began before it (docs/domain.md, Use: exclusivity and overlap).
	var effective ledger.Date
	if cmd.EffectiveOn != "" || !useRight {
		var err *Error
		if effective, err = parseDate("effective_on", cmd.EffectiveOn); p.ok(err) && effective.Before(c.RegisteredOn) {
			p.add("effective_on", "%s is before the contract's registered_on %s", effective, c.RegisteredOn)
		}
	}
	holders := make([]ledger.Holder, len(cmd.Holders))
	sum, sharesOK := decimal.Zero, true
	switch {
	case len(cmd.Holders) == 0:
		p.add("holders", "at least one holder is required")
	case len(cmd.Holders) > HoldersMax:
		p.add("holders", "%d holders exceed HoldersMax (%d)", len(cmd.Holders), HoldersMax)
	default:
		ids := map[string]bool{}
		for i, h := range cmd.Holders {
			field := index("holders", i)
			if p.ok(identifier(field+".id", h.ID)) {
				if ids[h.ID] {
					p.add(field+".id", "%s is listed twice", h.ID)
				}
				ids[h.ID] = true
			}
			p.ok(text(field+".name", h.Name, NameBytesMax))
			if h.Kind == "" {
				p.add(field+".kind", "is required")
			} else if !ValidHolderKind(h.Kind) {
				p.add(field+".kind", "%q is not a holder kind (want a party kind, or institution, researcher, broker)", clip(h.Kind))
			}
			if h.Kind == "researcher" {
				p.ok(text(field+".institution", h.Institution, NameBytesMax))
			} else {
				p.ok(optionalText(field+".institution", h.Institution, NameBytesMax))
			}
			holders[i] = ledger.Holder{ID: h.ID, Name: h.Name, Kind: h.Kind, Institution: h.Institution}
			if !rightOK {
				continue // whether a share belongs here depends on the right
			}
			if useRight {
				if h.Share != nil {
					p.add(field+".share", "use rights carry no shares")
				}
				continue
			}
			share, err := parseShare(field+".share", h.Share)
			if !p.ok(err) {
				sharesOK = false
				continue
			}
			holders[i].Share = &share
			sum = sum.Add(share)
		}
	}
	ev := &ledger.RightsAssigned{ContractID: c.ID, Right: cmd.Right, EffectiveOn: effective, Holders: holders}
	if rightOK && !useRight {
		// Ownership and proceeds are wholly held: shares sum to exactly 1 (docs/domain.md,
		// Proceeds shares).
		if sharesOK && len(cmd.Holders) > 0 && len(cmd.Holders) <= HoldersMax && !sum.Equal(one) {
			p.add("holders", "shares sum to %s, not exactly 1", sum.String())
		}
		if cmd.Exclusivity != "" {
			p.add("exclusivity", "applies to use rights only")
		}
		if cmd.Term != nil {
			p.add("term", "applies to use rights only")
		}
		if err := p.err(); err != nil {
			return nil, err
		}
		return []ledger.DomainEvent{ev}, nil
	}
	if !rightOK {
		return nil, p.err()
	}
	if cmd.Exclusivity == "" {
		p.add("exclusivity", "is required for a use right (exclusive, sole or ordinary)")
	} else if _, ok := ExclusivityLabel(cmd.Exclusivity); !ok {
		p.add("exclusivity", "%q is not one of %s", clip(cmd.Exclusivity), strings.Join(Exclusivities(), ", "))
	} else if cmd.Exclusivity != "ordinary" && c.AchievementID == "" {
		p.add("exclusivity", "an %s grant needs the contract to name its achievement_id, so overlaps can be checked", cmd.Exclusivity)
	}
	var from, to ledger.Date
	termOK := false
	if cmd.Term == nil {
		p.add("term", "is required for a use right")
	} else {
		var errF, errT *Error
		from, errF = parseDate("term.from", cmd.Term.From)
		to, errT = parseDate("term.to", cmd.Term.To)
		p.ok(errF)
		p.ok(errT)
		if errF == nil && errT == nil {
			if to.Before(from) {
				p.add("term.to", "%s is before term.from %s", to, from)
			} else {
				termOK = true
			}
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	if !termOK {
		panic("commands: decideAssign: a use term neither valid nor reported") // every path above records its fault
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
	var p problems
	if p.ok(identifier("payment_id", cmd.PaymentID)) {
		if _, dup := c.Payments[cmd.PaymentID]; dup {
			return nil, reject(CodeConflict, "payment_id", "payment %s is already recorded under contract %s", cmd.PaymentID, c.ID)
		}
	}
	amount, errA := parseAmount("amount", cmd.Amount)
	amountOK := p.ok(errA)
	if amountOK && !amount.IsPositive() {
		p.add("amount", "must be greater than 0")
		amountOK = false
	}
	costs := decimal.Zero
	var errC *Error
	if cmd.Costs != "" {
		costs, errC = parseAmount("costs", cmd.Costs)
		p.ok(errC)
	}
	if amountOK && errC == nil && costs.GreaterThan(amount) {
		p.add("costs", "%s exceeds amount %s", costs.StringFixed(2), amount.StringFixed(2))
	}
	paid, errP := parseDate("paid_on", cmd.PaidOn)
	if p.ok(errP) {
		if paid.Before(c.SignedOn) {
			p.add("paid_on", "%s is before the contract was signed (%s)", paid, c.SignedOn)
		}
		if paid.After(env.Today) {
			p.add("paid_on", "%s is in the future (today is %s)", paid, env.Today)
		}
	}
	if amountOK {
		if total := c.Paid.Add(amount); total.GreaterThan(c.Amount) {
			p.add("amount", "%s would bring payments to %s, above the contract amount %s (remaining %s)",
				amount.StringFixed(2), total.StringFixed(2), c.Amount.StringFixed(2), c.Amount.Sub(c.Paid).StringFixed(2))
		}
	}
	if err := p.err(); err != nil {
		return nil, err
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
