package commands

import (
	"fmt"
	"maps"

	"github.com/shopspring/decimal"

	"techledger/ledger"
)

// Contract is the contract aggregate: what deciding a command about one contract needs to
// know, folded from the contract's stream. The zero value is a contract not yet registered.
// A Contract is a value: Apply returns a new one and never changes the receiver's maps, so
// a cached Contract can be shared between goroutines.
type Contract struct {
	Version    ledger.Version // stream version folded so far (0: no stream)
	Registered bool
	Revoked    bool

	ID            string
	SignedOn      ledger.Date
	RegisteredOn  ledger.Date
	Type          string
	Subtype       string
	Field         string
	Amount        decimal.Decimal // 合同成交额 in force
	TechAmount    decimal.Decimal // 技术交易额 in force
	AchievementID string
	Seller        ledger.Party

	Paid     decimal.Decimal     // sum of payments recorded
	Payments map[string]struct{} // payment_ids recorded
	Proceeds []ledger.Holder     // beneficiaries of the latest proceeds assignment; nil: the seller
}

// Apply returns the contract after ev, recorded at version v. It returns an error for an
// event that cannot follow the state (the log contradicts the rules: a bug or a damaged log).
func (c Contract) Apply(v ledger.Version, ev ledger.DomainEvent) (Contract, error) {
	if v != c.Version+1 {
		return c, fmt.Errorf("contract %s: event at version %d follows version %d", c.ID, v, c.Version)
	}
	if _, ok := ev.(*ledger.ContractRegistered); !ok && !c.Registered {
		return c, fmt.Errorf("contract stream: %s before ContractRegistered", ev.EventType())
	}
	if c.Revoked {
		return c, fmt.Errorf("contract %s: %s after ContractRevoked", c.ID, ev.EventType())
	}
	switch e := ev.(type) {
	case *ledger.ContractRegistered:
		if c.Registered {
			return c, fmt.Errorf("contract %s: registered twice", c.ID)
		}
		c = Contract{
			Registered: true, ID: e.ContractID, SignedOn: e.SignedOn, RegisteredOn: e.RegisteredOn,
			Type: e.Type, Subtype: e.Subtype, Field: e.Field, Amount: e.Amount, TechAmount: e.TechAmount,
			AchievementID: e.AchievementID, Seller: e.Seller,
		}
	case *ledger.ContractAmended:
		c.Type, c.Subtype, c.Field, c.Amount, c.TechAmount = e.Type, e.Subtype, e.Field, e.Amount, e.TechAmount
	case *ledger.ContractRevoked:
		c.Revoked = true
	case *ledger.RightsAssigned:
		if e.Right == ledger.RightProceeds {
			c.Proceeds = e.Holders
		}
	case *ledger.PaymentRecorded:
		c.Paid = c.Paid.Add(e.Amount)
		payments := make(map[string]struct{}, len(c.Payments)+1)
		maps.Copy(payments, c.Payments)
		payments[e.PaymentID] = struct{}{}
		c.Payments = payments
	default:
		return c, fmt.Errorf("contract stream: unexpected event %s", ev.EventType())
	}
	c.Version = v
	return c, nil
}

// Fold applies every record of a contract's stream, in order, to c.
func Fold(c Contract, records func(func(ledger.Record, error) bool)) (Contract, error) {
	for rec, err := range records {
		if err != nil {
			return c, err
		}
		ev, err := ledger.DecodeRecord(&rec)
		if err != nil {
			return c, err
		}
		if c, err = c.Apply(rec.Version, ev); err != nil {
			return c, fmt.Errorf("position %d: %w", rec.Position, err)
		}
	}
	return c, nil
}
