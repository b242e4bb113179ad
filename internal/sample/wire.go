package sample

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The command names of docs/domain.md, Commands.
const (
	cmdRegister = "register_contract"
	cmdAmend    = "amend_contract"
	cmdRevoke   = "revoke_contract"
	cmdAssign   = "assign_rights"
	cmdPayment  = "record_payment"
)

// The wire form of the commands, field for field as docs/domain.md (Commands) shows them. Structs
// (not maps) keep the key order fixed, so the output is byte-for-byte reproducible.

// party is a seller, buyer or intermediary.
type party struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Region string `json:"region"`
}

// holder holds a right; Share is empty for use rights.
type holder struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Institution string `json:"institution,omitempty"`
	Share       string `json:"share,omitempty"`
}

// term is the period of a use right, both ends included.
type term struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// head opens every command.
type head struct {
	Command    string `json:"command"`
	CommandID  string `json:"command_id"`
	ContractID string `json:"contract_id"`
}

func (h *head) header() *head { return h }

// command is any of the five wire commands.
type command interface{ header() *head }

type registerContract struct {
	head
	Title         string   `json:"title"`
	Type          string   `json:"type"`
	Subtype       string   `json:"subtype"`
	SignedOn      string   `json:"signed_on"`
	RegisteredOn  string   `json:"registered_on"`
	Amount        string   `json:"amount"`
	TechAmount    string   `json:"tech_amount"`
	Field         string   `json:"field"`
	Seller        party    `json:"seller"`
	Buyer         party    `json:"buyer"`
	Intermediary  *party   `json:"intermediary"`
	AchievementID string   `json:"achievement_id,omitempty"`
	IPTypes       []string `json:"ip_types"`
}

// amendContract carries only the fields that change.
type amendContract struct {
	head
	Type       string `json:"type,omitempty"`
	Subtype    string `json:"subtype,omitempty"`
	Field      string `json:"field,omitempty"`
	Amount     string `json:"amount,omitempty"`
	TechAmount string `json:"tech_amount,omitempty"`
	Reason     string `json:"reason"`
}

type revokeContract struct {
	head
	Reason string `json:"reason"`
}

type assignRights struct {
	head
	Right       string   `json:"right"`
	EffectiveOn string   `json:"effective_on"`
	Exclusivity string   `json:"exclusivity,omitempty"`
	Term        *term    `json:"term,omitempty"`
	Holders     []holder `json:"holders"`
}

type recordPayment struct {
	head
	PaymentID string `json:"payment_id"`
	Amount    string `json:"amount"`
	Costs     string `json:"costs"`
	PaidOn    string `json:"paid_on"`
}

// fen is an amount of money in fen (0.01 yuan). The generator computes in fen, never in
// floating point, so amounts are exact and identical on every platform.
type fen int64

// yuan is one yuan in fen.
const yuan fen = 100

// String formats f with exactly two decimal places: 1200000.00.
func (f fen) String() string {
	if f < 0 {
		panic(fmt.Sprintf("sample: negative amount %d fen", int64(f)))
	}
	return fmt.Sprintf("%d.%02d", f/100, f%100)
}

// shareOne is a share of 1 in basis points (0.0001).
const shareOne = 10000

// formatShare formats a share given in basis points, in (0, 1], with two to four decimal
// places: 3000 → "0.30", 2125 → "0.2125", 10000 → "1.00".
func formatShare(bp int) string {
	if bp <= 0 || bp > shareOne {
		panic(fmt.Sprintf("sample: share %d bp outside (0, 1]", bp))
	}
	frac := fmt.Sprintf("%04d", bp%shareOne)
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return strconv.Itoa(bp/shareOne) + "." + frac
}

// day is a civil date as a count of days since 1970-01-01.
type day int

// dayOf returns the day of a calendar date.
func dayOf(y int, m time.Month, d int) day {
	return day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// time returns midnight UTC at the start of d.
func (d day) time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String formats d as YYYY-MM-DD.
func (d day) String() string { return d.time().Format(time.DateOnly) }

// year returns the calendar year of d.
func (d day) year() int { return d.time().Year() }

// addYears returns the day y years after d (29 February moves to 1 March).
func (d day) addYears(y int) day {
	t := d.time().AddDate(y, 0, 0)
	return day(t.Unix() / 86400)
}
