package commands

import (
	"errors"
	"fmt"
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

// Error is a rejected command: which field broke which rule. Nothing was appended.
type Error struct {
	Code  Code
	Field string // JSON path of the field at fault, e.g. "seller.region" or "holders[2].share"
	Rule  string // the rule, in words, with the offending value where it helps
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Rule
	}
	return e.Field + ": " + e.Rule
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
	return &Error{Code: code, Field: field, Rule: fmt.Sprintf(format, args...)}
}

func invalidf(field, format string, args ...any) *Error {
	return reject(CodeInvalid, field, format, args...)
}
