package projections

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"techledger/ledger"
)

// ContractView is a contract's current state, folded from its stream: terms in force, parties, the
// rights in force, every payment with its allocations, and the flags of its proceeds assignment
// (docs/domain.md, Researcher reward floors). Amounts are strings with two decimals.
type ContractView struct {
	ContractID    string          `json:"contract_id"`
	Version       ledger.Version  `json:"version"`
	Status        string          `json:"status"` // "registered" or "revoked"
	RevokedReason string          `json:"revoked_reason,omitempty"`
	Title         string          `json:"title"`
	Type          string          `json:"type"`
	Subtype       string          `json:"subtype"`
	Field         string          `json:"field"`
	SignedOn      ledger.Date     `json:"signed_on"`
	RegisteredOn  ledger.Date     `json:"registered_on"`
	Amount        string          `json:"amount"`
	TechAmount    string          `json:"tech_amount"`
	Paid          string          `json:"paid"`
	Seller        ledger.Party    `json:"seller"`
	Buyer         ledger.Party    `json:"buyer"`
	Intermediary  *ledger.Party   `json:"intermediary"`
	AchievementID string          `json:"achievement_id,omitempty"`
	IPTypes       []string        `json:"ip_types"`
	Amendments    int             `json:"amendments"`
	Rights        RightsInForce   `json:"rights"`
	Payments      []PaymentView   `json:"payments"`
	Flags         []Flag          `json:"flags"`
	UpdatedAt     time.Time       `json:"updated_at"` // recorded-at of the last event
	LastPosition  ledger.Position `json:"last_position"`
}

// RightsInForce are the latest ownership and proceeds assignments and every use grant.
type RightsInForce struct {
	Ownership *ledger.RightsAssigned  `json:"ownership"`
	Proceeds  *ledger.RightsAssigned  `json:"proceeds"` // nil: all proceeds to the seller
	Use       []ledger.RightsAssigned `json:"use"`
}

// PaymentView is a payment and how its net income was allocated.
type PaymentView struct {
	PaymentID   string           `json:"payment_id"`
	PaidOn      ledger.Date      `json:"paid_on"`
	Amount      string           `json:"amount"`
	Costs       string           `json:"costs"`
	Net         string           `json:"net"`
	Position    ledger.Position  `json:"position"`
	Allocations []AllocationView `json:"allocations"`
}

// AllocationView is one beneficiary's part of a payment's net income: the amount with
// two decimals like every amount of the view, the share as recorded.
type AllocationView struct {
	HolderID    string `json:"holder_id"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Institution string `json:"institution,omitempty"`
	Share       string `json:"share"`
	Amount      string `json:"amount"`
}

func allocationViews(as []ledger.Allocation) []AllocationView {
	out := make([]AllocationView, len(as))
	for i, a := range as {
		out[i] = AllocationView{HolderID: a.HolderID, Name: a.Name, Kind: a.Kind, Institution: a.Institution, Share: a.Share.String(), Amount: a.Amount.StringFixed(2)}
	}
	return out
}

// HistoryEntry is one event of a contract's history, with who recorded it, when and why.
type HistoryEntry struct {
	Position   ledger.Position `json:"position"`
	Version    ledger.Version  `json:"version"`
	RecordedAt time.Time       `json:"recorded_at"`
	Type       string          `json:"type"`
	Actor      string          `json:"actor"`
	Role       string          `json:"role"`
	CommandID  string          `json:"command_id"`
	Reason     string          `json:"reason,omitempty"`
	EventID    string          `json:"event_id"`
	Hash       ledger.Hash     `json:"hash"`
	Data       json.RawMessage `json:"data"`
}

// History returns the history entries of a contract's records.
func History(recs []ledger.Record) []HistoryEntry {
	out := make([]HistoryEntry, len(recs))
	for i, r := range recs {
		out[i] = HistoryEntry{
			Position: r.Position, Version: r.Version, RecordedAt: r.RecordedAt, Type: r.Type,
			Actor: r.Metadata.Actor, Role: r.Metadata.Role, CommandID: r.Metadata.CommandID,
			Reason: r.Metadata.Reason, EventID: r.ID.String(), Hash: r.Hash, Data: r.Data,
		}
	}
	return out
}

// FoldContract returns the view of a contract from the records of its stream, in version
// order. It returns ok false for a stream with no records.
func FoldContract(recs []ledger.Record) (v ContractView, ok bool, err error) {
	if len(recs) == 0 {
		return ContractView{}, false, nil
	}
	var amount, tech, paid decimal.Decimal
	for i := range recs {
		rec := &recs[i]
		if rec.Version != ledger.Version(i+1) {
			return v, false, fmt.Errorf("%w: position %d has version %d, want %d", ErrFold, rec.Position, rec.Version, i+1)
		}
		ev, err := ledger.DecodeRecord(rec)
		if err != nil {
			return v, false, err
		}
		if i == 0 {
			if _, ok := ev.(*ledger.ContractRegistered); !ok {
				return v, false, fmt.Errorf("%w: position %d: stream starts with %s", ErrFold, rec.Position, rec.Type)
			}
		} else if v.Status == "revoked" {
			return v, false, fmt.Errorf("%w: position %d: %s after the revocation", ErrFold, rec.Position, rec.Type)
		}
		switch e := ev.(type) {
		case *ledger.ContractRegistered:
			if i != 0 {
				return v, false, fmt.Errorf("%w: position %d: registered twice", ErrFold, rec.Position)
			}
			v = ContractView{
				ContractID: e.ContractID, Status: "registered", Title: e.Title, Type: e.Type, Subtype: e.Subtype,
				Field: e.Field, SignedOn: e.SignedOn, RegisteredOn: e.RegisteredOn, Seller: e.Seller, Buyer: e.Buyer,
				Intermediary: e.Intermediary, AchievementID: e.AchievementID, IPTypes: e.IPTypes,
				Payments: []PaymentView{}, Flags: []Flag{}, Rights: RightsInForce{Use: []ledger.RightsAssigned{}},
			}
			amount, tech = e.Amount, e.TechAmount
		case *ledger.ContractAmended:
			v.Type, v.Subtype, v.Field = e.Type, e.Subtype, e.Field
			amount, tech = e.Amount, e.TechAmount
			v.Amendments++
		case *ledger.ContractRevoked:
			v.Status, v.RevokedReason = "revoked", e.Reason
		case *ledger.RightsAssigned:
			switch e.Right {
			case ledger.RightOwnership:
				v.Rights.Ownership = e
			case ledger.RightProceeds:
				v.Rights.Proceeds = e
				v.Flags = flagsOf(v.ContractID, v.Type, rec.Position, e)
			case ledger.RightUse:
				v.Rights.Use = append(v.Rights.Use, *e)
			}
		case *ledger.PaymentRecorded:
			paid = paid.Add(e.Amount)
			v.Payments = append(v.Payments, PaymentView{
				PaymentID: e.PaymentID, PaidOn: e.PaidOn, Amount: e.Amount.StringFixed(2), Costs: e.Costs.StringFixed(2),
				Net: e.Net.StringFixed(2), Position: rec.Position, Allocations: allocationViews(e.Allocations),
			})
		}
		v.Version, v.UpdatedAt, v.LastPosition = rec.Version, rec.RecordedAt, rec.Position
	}
	v.Amount, v.TechAmount, v.Paid = amount.StringFixed(2), tech.StringFixed(2), paid.StringFixed(2)
	return v, true, nil
}

// flagsOf returns the flags of a proceeds assignment under a contract of type typ.
func flagsOf(contractID, typ string, pos ledger.Position, e *ledger.RightsAssigned) []Flag {
	share := decimal.Zero
	for _, h := range e.Holders {
		if h.Kind == KindResearcher && h.Share != nil {
			share = share.Add(*h.Share)
		}
	}
	return ruleFlags(contractID, typ, pos, e.EffectiveOn, share)
}

// ruleFlags returns a Flag for each rule in force on effective that a researchers' share
// falls below (none for contract types the rules do not cover).
func ruleFlags(contractID, typ string, pos ledger.Position, effective ledger.Date, share decimal.Decimal) []Flag {
	out := []Flag{}
	if !slices.Contains(FlaggedTypes, typ) {
		return out
	}
	for _, r := range RulesInForce(effective) {
		if share.LessThan(r.MinShare) {
			out = append(out, Flag{
				ContractID: contractID, Position: pos, EffectiveOn: effective,
				ResearchersShare: share, Rule: r.Name, Level: r.Level, MinShare: r.MinShare,
			})
		}
	}
	return out
}
