package commands

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"techledger/ledger"
)

// Command names, as the "command" field of the JSON gives them (docs/domain.md, Commands).
const (
	NameRegisterContract = "register_contract"
	NameAmendContract    = "amend_contract"
	NameRevokeContract   = "revoke_contract"
	NameAssignRights     = "assign_rights"
	NameRecordPayment    = "record_payment"
)

// Limits on command input. Inputs past a limit are rejected naming the field and the limit.
const (
	// CommandBytesMax bounds one command's JSON (and one line of an import).
	CommandBytesMax = 64 << 10
	// TitleBytesMax bounds a contract title.
	TitleBytesMax = 600
	// NameBytesMax bounds a party's or holder's name.
	NameBytesMax = 300
	// IDBytesMax bounds identifiers: command_id, payment_id, achievement_id, party and holder ids.
	IDBytesMax = 64
	// ReasonBytesMax bounds an amendment's or revocation's reason.
	ReasonBytesMax = 2000
	// HoldersMax bounds the holders of one rights assignment.
	HoldersMax = 100
	// IPTypesMax bounds the ip_types list.
	IPTypesMax = 10
)

// Command is one of the five commands. Decode returns a pointer to one of the types below.
type Command interface {
	// CommandName returns the "command" field, e.g. "register_contract".
	CommandName() string
	// Head returns the command's envelope (name and command_id).
	Head() *Header
	// Contract returns the contract_id the command is about.
	Contract() string
}

// Header is the envelope every command carries.
type Header struct {
	Command string `json:"command"`
	// CommandID is the permanent idempotency key; empty means the handler generates one
	// (and the command is then not idempotent).
	CommandID string `json:"command_id,omitempty"`
}

// Head implements Command.
func (h *Header) Head() *Header { return h }

// CommandName implements Command.
func (h *Header) CommandName() string { return h.Command }

// RegisterContract registers a technology contract (技术合同认定登记).
type RegisterContract struct {
	Header
	ContractID    string        `json:"contract_id"`
	Title         string        `json:"title"`
	Type          string        `json:"type"`
	Subtype       string        `json:"subtype"`
	SignedOn      string        `json:"signed_on"`
	RegisteredOn  string        `json:"registered_on"`
	Amount        string        `json:"amount"`
	TechAmount    string        `json:"tech_amount"`
	Field         string        `json:"field"`
	Seller        *ledger.Party `json:"seller"`
	Buyer         *ledger.Party `json:"buyer"`
	Intermediary  *ledger.Party `json:"intermediary"`
	AchievementID string        `json:"achievement_id,omitempty"`
	IPTypes       []string      `json:"ip_types"`
}

// AmendContract changes a registration's amounts or classification. Absent fields keep
// their value.
type AmendContract struct {
	Header
	ContractID string  `json:"contract_id"`
	Amount     *string `json:"amount,omitempty"`
	TechAmount *string `json:"tech_amount,omitempty"`
	Type       *string `json:"type,omitempty"`
	Subtype    *string `json:"subtype,omitempty"`
	Field      *string `json:"field,omitempty"`
	Reason     string  `json:"reason"`
}

// RevokeContract revokes a registration (terminal).
type RevokeContract struct {
	Header
	ContractID string `json:"contract_id"`
	Reason     string `json:"reason"`
}

// HolderInput is a holder as a command gives it; Share is a decimal string.
type HolderInput struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`
	Institution string  `json:"institution,omitempty"`
	Share       *string `json:"share,omitempty"`
}

// TermInput is a use right's term as a command gives it.
type TermInput struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// AssignRights records who holds one of the three rights (三权).
type AssignRights struct {
	Header
	ContractID  string        `json:"contract_id"`
	Right       string        `json:"right"`
	EffectiveOn string        `json:"effective_on"`
	Holders     []HolderInput `json:"holders"`
	Exclusivity string        `json:"exclusivity,omitempty"`
	Term        *TermInput    `json:"term,omitempty"`
}

// RecordPayment records a payment under a contract. Costs (deductible costs) may be
// omitted, meaning "0.00".
type RecordPayment struct {
	Header
	ContractID string `json:"contract_id"`
	PaymentID  string `json:"payment_id"`
	Amount     string `json:"amount"`
	Costs      string `json:"costs,omitempty"`
	PaidOn     string `json:"paid_on"`
}

// Contract implements Command.
func (c *RegisterContract) Contract() string { return c.ContractID }

// Contract implements Command.
func (c *AmendContract) Contract() string { return c.ContractID }

// Contract implements Command.
func (c *RevokeContract) Contract() string { return c.ContractID }

// Contract implements Command.
func (c *AssignRights) Contract() string { return c.ContractID }

// Contract implements Command.
func (c *RecordPayment) Contract() string { return c.ContractID }

var constructors = map[string]func() Command{
	NameRegisterContract: func() Command { return new(RegisterContract) },
	NameAmendContract:    func() Command { return new(AmendContract) },
	NameRevokeContract:   func() Command { return new(RevokeContract) },
	NameAssignRights:     func() Command { return new(AssignRights) },
	NameRecordPayment:    func() Command { return new(RecordPayment) },
}

// Names lists the command names in a stable order.
var Names = []string{NameRegisterContract, NameAmendContract, NameRevokeContract, NameAssignRights, NameRecordPayment}

// Decode parses one command. It rejects, with an *Error of code CodeMalformed naming the
// field: input over CommandBytesMax, anything but one JSON object, a missing or unknown
// "command", an unknown field (a typo must never silently drop data), a key repeated in
// one object (Field names it, e.g. "seller.name": last-one-wins would silently drop the
// first), a field of the wrong JSON type. It does not check the rules; Decide does.
func Decode(b []byte) (Command, error) {
	if len(b) > CommandBytesMax {
		return nil, reject(CodeMalformed, "", "command of %d bytes exceeds CommandBytesMax (%d)", len(b), CommandBytesMax)
	}
	if cmd, ok := decodeFast(b); ok {
		return cmd, nil
	}
	return decodeJSON(b)
}

// decodeJSON is Decode with encoding/json (and duplicateKey): the reference for
// decodeFast, and the decoder of whatever decodeFast leaves to it.
func decodeJSON(b []byte) (Command, error) {
	// Fast path: commands as clients usually write them carry `"command":"<name>"` near
	// the start; guess the type from it and decode once. The guess is checked: the strict
	// decode must succeed and yield that very name, and the input must end after the
	// object; otherwise the slow path below decides.
	if name := sniffName(b); name != "" {
		if mk, ok := constructors[name]; ok {
			cmd := mk()
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if dec.Decode(cmd) == nil && cmd.CommandName() == name && onlySpace(b[dec.InputOffset():]) {
				return unique(cmd, b)
			}
		}
	}
	var head struct {
		Command *string `json:"command"`
	}
	// json.Unmarshal checks the whole input first: anything after the object is refused.
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, jsonError(err)
	}
	if head.Command == nil {
		return nil, reject(CodeMalformed, "command", "is required")
	}
	mk, ok := constructors[*head.Command]
	if !ok {
		return nil, reject(CodeMalformed, "command", "unknown command %q (want one of %s)", clip(*head.Command), strings.Join(Names, ", "))
	}
	cmd := mk()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cmd); err != nil {
		return nil, jsonError(err)
	}
	return unique(cmd, b)
}

// unique returns cmd, decoded from b, unless a key repeats in b (see duplicateKey).
func unique(cmd Command, b []byte) (Command, error) {
	if err := duplicateKey(b); err != nil {
		return nil, err
	}
	return cmd, nil
}

// sniffName returns the value of the first `"command":"` in b, or "".
func sniffName(b []byte) string {
	const key = `"command":"`
	i := bytes.Index(b, []byte(key))
	if i < 0 || i > 64 {
		return ""
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || j > 32 {
		return ""
	}
	return string(rest[:j])
}

func onlySpace(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// jsonError turns an encoding/json error into an *Error naming the field.
func jsonError(err error) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return reject(CodeMalformed, "", "invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return reject(CodeMalformed, "", "a command must be a JSON object")
		}
		return reject(CodeMalformed, typ.Field, "must be a JSON %s, not %s", jsonKind(typ.Type), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return reject(CodeMalformed, name, "unknown field")
	default:
		return reject(CodeMalformed, "", "invalid JSON: %v", err)
	}
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Slice:
		return "array"
	case reflect.Struct:
		return "object"
	default:
		return t.Kind().String()
	}
}

// Fingerprint returns the SHA-256 (hex) of the command's canonical content: its JSON as
// this package encodes it, without command_id. Two commands with the same fingerprint say
// the same thing, whatever their whitespace or key order.
func Fingerprint(cmd Command) string {
	var scratch [1024]byte
	b, ok := appendCanonical(scratch[:0], cmd)
	if !ok {
		h := cmd.Head()
		id := h.CommandID
		h.CommandID = ""
		var err error
		b, err = json.Marshal(cmd)
		h.CommandID = id
		if err != nil {
			panic(fmt.Sprintf("commands: marshal %T: %v", cmd, err)) // only strings, slices and structs: cannot fail
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// clip shortens s for an error message.
func clip(s string) string { return clipRunes(s, 40) }
