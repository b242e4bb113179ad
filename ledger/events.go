package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/shopspring/decimal"
)

// Event types, one per fact of docs/domain.md. Each is recorded in a contract's stream
// ("contract-<contract_id>", see ContractStream).
const (
	TypeContractRegistered = "ContractRegistered"
	TypeContractAmended    = "ContractAmended"
	TypeContractRevoked    = "ContractRevoked"
	TypeRightsAssigned     = "RightsAssigned"
	TypePaymentRecorded    = "PaymentRecorded"
)

// ContractStream returns the stream name of a contract's events.
func ContractStream(contractID string) string { return "contract-" + contractID }

// DomainEvent is one of the fact types below. Stores never see it: they keep the encoded
// form (Encode); folds decode records back to it (Decode).
type DomainEvent interface {
	// EventType returns the type name recorded with the event.
	EventType() string
	// SchemaVersion returns the version of the data layout this Go type encodes.
	SchemaVersion() uint16
}

// Party is a side of a contract (seller, buyer, intermediary).
type Party struct {
	ID     string `json:"id"`     // 统一社会信用代码 for organizations; opaque for individuals
	Name   string `json:"name"`   // registered name
	Kind   string `json:"kind"`   // party kind code, docs/domain.md, Party kinds (university, …)
	Region string `json:"region"` // 6-digit GB/T 2260 code
}

// ContractRegistered records a contract's 认定登记 with its terms at registration.
type ContractRegistered struct {
	ContractID    string          `json:"contract_id"` // 技术合同登记编号
	Title         string          `json:"title"`
	Type          string          `json:"type"`
	Subtype       string          `json:"subtype"`
	SignedOn      Date            `json:"signed_on"`
	RegisteredOn  Date            `json:"registered_on"`
	Amount        decimal.Decimal `json:"amount"`      // 合同成交额, CNY
	TechAmount    decimal.Decimal `json:"tech_amount"` // 技术交易额, CNY, <= Amount
	Field         string          `json:"field"`       // 技术领域
	Seller        Party           `json:"seller"`
	Buyer         Party           `json:"buyer"`
	Intermediary  *Party          `json:"intermediary"`
	AchievementID string          `json:"achievement_id,omitempty"` // the result transacted
	IPTypes       []string        `json:"ip_types"`                 // empty: no IP involved
}

// ContractAmended records an amendment. It carries the complete terms in force after the
// amendment (not only what changed), so a fold needs no earlier state to apply it.
type ContractAmended struct {
	ContractID string          `json:"contract_id"`
	Type       string          `json:"type"`
	Subtype    string          `json:"subtype"`
	Field      string          `json:"field"`
	Amount     decimal.Decimal `json:"amount"`
	TechAmount decimal.Decimal `json:"tech_amount"`
	Changed    []string        `json:"changed"` // names of the fields the amendment changed
	Reason     string          `json:"reason"`
}

// ContractRevoked records the revocation of a registration (terminal).
type ContractRevoked struct {
	ContractID string `json:"contract_id"`
	Reason     string `json:"reason"`
}

// Rights (三权) a RightsAssigned event can assign.
const (
	RightOwnership = "ownership" // 所有权
	RightUse       = "use"       // 使用权
	RightProceeds  = "proceeds"  // 收益权
)

// Holder holds a right or is a beneficiary of proceeds.
type Holder struct {
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	Kind        string           `json:"kind"`                  // a party kind, or institution, researcher, broker
	Institution string           `json:"institution,omitempty"` // for researchers
	Share       *decimal.Decimal `json:"share,omitempty"`       // ownership and proceeds: in (0, 1], summing to 1
}

// Term is the period a use right is granted for, both ends included.
type Term struct {
	From Date `json:"from"`
	To   Date `json:"to"`
}

// RightsAssigned records who holds one of the three rights in a contract's subject from
// EffectiveOn. For Right == RightUse, Exclusivity and Term are set; AchievementID is copied
// from the contract so that overlapping exclusive grants can be found across contracts.
type RightsAssigned struct {
	ContractID    string   `json:"contract_id"`
	Right         string   `json:"right"`
	EffectiveOn   Date     `json:"effective_on"`
	Holders       []Holder `json:"holders"`
	Exclusivity   string   `json:"exclusivity,omitempty"`
	Term          *Term    `json:"term,omitempty"`
	AchievementID string   `json:"achievement_id,omitempty"`
}

// Allocation is the part of a payment's net income allocated to one proceeds beneficiary.
type Allocation struct {
	HolderID    string          `json:"holder_id"`
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Institution string          `json:"institution,omitempty"`
	Share       decimal.Decimal `json:"share"`
	Amount      decimal.Decimal `json:"amount"`
}

// PaymentRecorded records a payment under a contract and fixes, at that moment, how its
// net income (Amount - Costs) is allocated to the proceeds beneficiaries in force. The
// allocations always sum to Net exactly.
type PaymentRecorded struct {
	ContractID  string          `json:"contract_id"`
	PaymentID   string          `json:"payment_id"`
	Amount      decimal.Decimal `json:"amount"`
	Costs       decimal.Decimal `json:"costs"`
	Net         decimal.Decimal `json:"net"`
	PaidOn      Date            `json:"paid_on"`
	Allocations []Allocation    `json:"allocations"`
}

// EventType implements DomainEvent.
func (ContractRegistered) EventType() string { return TypeContractRegistered }

// EventType implements DomainEvent.
func (ContractAmended) EventType() string { return TypeContractAmended }

// EventType implements DomainEvent.
func (ContractRevoked) EventType() string { return TypeContractRevoked }

// EventType implements DomainEvent.
func (RightsAssigned) EventType() string { return TypeRightsAssigned }

// EventType implements DomainEvent.
func (PaymentRecorded) EventType() string { return TypePaymentRecorded }

// SchemaVersion implements DomainEvent.
func (ContractRegistered) SchemaVersion() uint16 { return 1 }

// SchemaVersion implements DomainEvent.
func (ContractAmended) SchemaVersion() uint16 { return 1 }

// SchemaVersion implements DomainEvent.
func (ContractRevoked) SchemaVersion() uint16 { return 1 }

// SchemaVersion implements DomainEvent.
func (RightsAssigned) SchemaVersion() uint16 { return 1 }

// SchemaVersion implements DomainEvent.
func (PaymentRecorded) SchemaVersion() uint16 { return 1 }

// decoders maps type and schema version to a constructor of the Go value it decodes into.
var decoders = map[string]map[uint16]func() DomainEvent{
	TypeContractRegistered: {1: func() DomainEvent { return new(ContractRegistered) }},
	TypeContractAmended:    {1: func() DomainEvent { return new(ContractAmended) }},
	TypeContractRevoked:    {1: func() DomainEvent { return new(ContractRevoked) }},
	TypeRightsAssigned:     {1: func() DomainEvent { return new(RightsAssigned) }},
	TypePaymentRecorded:    {1: func() DomainEvent { return new(PaymentRecorded) }},
}

// Encode returns a new Event (with a new UUIDv7 ID) holding e and meta. The data encoding
// is deterministic: the same value always gives the same bytes.
func Encode(e DomainEvent, meta Metadata) (Event, error) {
	data, err := encodeData(e)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	return Event{ID: NewEventID(), Type: e.EventType(), SchemaVersion: e.SchemaVersion(), Data: data, Metadata: meta}, nil
}

// Decode returns the domain event a record holds, as a pointer to its Go type
// (*ContractRegistered, …). It returns an error wrapping ErrUnknownEvent for a type or
// schema version this build does not know, and a decoding error naming the type for data
// that does not match the schema (unknown fields included).
func Decode(typ string, schema uint16, data []byte) (DomainEvent, error) {
	versions, ok := decoders[typ]
	if !ok {
		return nil, fmt.Errorf("%w: type %q", ErrUnknownEvent, typ)
	}
	mk, ok := versions[schema]
	if !ok {
		return nil, fmt.Errorf("%w: %s schema version %d", ErrUnknownEvent, typ, schema)
	}
	v := mk()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", typ, schema, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode %s v%d: trailing data", typ, schema)
	}
	return v, nil
}

// DecodeRecord decodes the domain event held by r (see Decode).
func DecodeRecord(r *Record) (DomainEvent, error) {
	ev, err := Decode(r.Type, r.SchemaVersion, r.Data)
	if err != nil {
		return nil, fmt.Errorf("position %d: %w", r.Position, err)
	}
	return ev, nil
}
