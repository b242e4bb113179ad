package commands

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies a rejection so that callers can branch on it (cmd/techledger maps codes
// to exit statuses and HTTP problem details).
type Code string

// Rejection codes.
const (
	// CodeMalformed: the input is not a well-formed command (bad JSON, unknown command or
	// field, wrong JSON type, a size limit). HTTP 400.
	CodeMalformed Code = "malformed"
	// CodeInvalid: a field breaks a rule (format, range, reference data, amounts). HTTP 422.
	CodeInvalid Code = "invalid"
	// CodeNotFound: the contract the command refers to is not registered. HTTP 404.
	CodeNotFound Code = "not_found"
	// CodeConflict: the command contradicts the ledger's state (already registered,
	// revoked, duplicate payment_id, overlapping exclusive grant, command_id reused with
	// other content). HTTP 409.
	CodeConflict Code = "conflict"
)

// Error is a rejected command: which fields broke which rules. Nothing was appended.
//
// A command with invalid fields (CodeInvalid) is checked field by field and Errors names
// every field at fault, in the order the fields are checked; Field and Rule repeat the first
// of them, for callers that show one. A rule that relates two fields (tech_amount ≤ amount,
// signed_on ≤ registered_on) is checked only when both fields are valid on their own. Other
// codes (a malformed command, a contract not found, a conflict with the ledger's state) come
// alone: Errors then holds that one entry.
type Error struct {
	Code  Code
	Field string // JSON path of the (first) field at fault, e.g. "seller.region" or "holders[2].share"
	Rule  string // the rule, in words, with the offending value where it helps
	// Errors lists every field at fault with its rule, the first being Field and Rule. It
	// may be empty in an Error built by hand; FieldErrors then gives Field and Rule.
	Errors []FieldError
}

// FieldError is one field at fault and the rule it breaks.
type FieldError struct {
	Field string `json:"field"` // JSON path; "" when the rule concerns the command as a whole
	Rule  string `json:"rule"`
}

func (f FieldError) String() string {
	if f.Field == "" {
		return f.Rule
	}
	return f.Field + ": " + f.Rule
}

// FieldErrors returns every field at fault with its rule: Errors, or Field and Rule alone
// when Errors is empty.
func (e *Error) FieldErrors() []FieldError {
	if len(e.Errors) > 0 {
		return e.Errors
	}
	return []FieldError{{Field: e.Field, Rule: e.Rule}}
}

// Error returns "field: rule", or for several fields each of them joined by "; ".
func (e *Error) Error() string {
	if len(e.Errors) <= 1 {
		return FieldError{Field: e.Field, Rule: e.Rule}.String()
	}
	var b strings.Builder
	for i, f := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	return b.String()
}

// Is lets errors.Is(err, &Error{Code: CodeConflict}) match any error with that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Field == "" && t.Rule == "" && t.Code == e.Code
}

// CodeOf returns the Code of a rejection, or "" for any other error (an internal failure).
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func reject(code Code, field, format string, args ...any) *Error {
	rule := fmt.Sprintf(format, args...)
	return &Error{Code: code, Field: field, Rule: rule, Errors: []FieldError{{Field: field, Rule: rule}}}
}

func invalidf(field, format string, args ...any) *Error {
	return reject(CodeInvalid, field, format, args...)
}

// problems collects the invalid fields of one command, so that a rejection names them all.
type problems struct{ list []FieldError }

// ok records err's fields, if err is not nil, and reports whether err was nil.
func (p *problems) ok(err *Error) bool {
	if err == nil {
		return true
	}
	p.list = append(p.list, err.FieldErrors()...)
	return false
}

// add records one invalid field.
func (p *problems) add(field, format string, args ...any) {
	p.list = append(p.list, FieldError{Field: field, Rule: fmt.Sprintf(format, args...)})
}

// err returns the rejection naming every field recorded (CodeInvalid), or nil if none was.
func (p *problems) err() *Error {
	if len(p.list) == 0 {
		return nil
	}
	return &Error{Code: CodeInvalid, Field: p.list[0].Field, Rule: p.list[0].Rule, Errors: p.list}
}
