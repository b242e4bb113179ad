package commands

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		field string
		rule  string
	}{
		{"not JSON", `{"command":`, "", "invalid JSON"},
		{"not an object", `[1,2]`, "", "must be a JSON object"},
		{"missing command", `{"command_id":"x"}`, "command", "is required"},
		{"unknown command", `{"command":"delete_contract"}`, "command", `unknown command "delete_contract"`},
		{"unknown field (a typo)", `{"command":"revoke_contract","contract_id":"2023140101000123","reasn":"x"}`, "reasn", "unknown field"},
		{"wrong type", `{"command":"revoke_contract","contract_id":2023140101000123}`, "contract_id", "must be a JSON string"},
		{"wrong nested type", `{"command":"assign_rights","holders":[{"id":1}]}`, "holders.id", "must be a JSON string"},
		{"object expected", `{"command":"assign_rights","holders":{"id":"x"}}`, "holders", "must be a JSON array"},
		{"trailing data", `{"command":"revoke_contract"} {"command":"revoke_contract"}`, "", "after top-level value"},
		{"too large", `{"command":"revoke_contract","reason":"` + strings.Repeat("x", CommandBytesMax) + `"}`, "", "CommandBytesMax"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, CodeMalformed, e.Code)
			assert.Equal(t, tc.field, e.Field)
			assert.Contains(t, e.Rule, tc.rule)
		})
	}
	cmd, err := Decode([]byte(registerJSON))
	require.NoError(t, err)
	r := cmd.(*RegisterContract)
	assert.Equal(t, "2023140101000123", r.Contract())
	assert.Equal(t, "c-0001", r.Head().CommandID)
	assert.Equal(t, NameRegisterContract, r.CommandName())
	assert.Equal(t, "太原理工大学", r.Seller.Name)
	assert.Nil(t, r.Intermediary)
}

func TestFingerprint(t *testing.T) {
	a, err := Decode([]byte(`{"command":"revoke_contract","command_id":"c-1","contract_id":"2023140101000123","reason":"重复登记"}`))
	require.NoError(t, err)
	b, err := Decode([]byte(`{ "reason":"重复登记", "contract_id":"2023140101000123","command":"revoke_contract","command_id":"c-2" }`))
	require.NoError(t, err)
	c, err := Decode([]byte(`{"command":"revoke_contract","command_id":"c-1","contract_id":"2023140101000123","reason":"重复"}`))
	require.NoError(t, err)
	assert.Equal(t, Fingerprint(a), Fingerprint(b), "key order, spacing and command_id do not change the content")
	assert.NotEqual(t, Fingerprint(a), Fingerprint(c))
	assert.Equal(t, "c-1", a.Head().CommandID, "Fingerprint leaves the command as it was")
}

func TestError(t *testing.T) {
	err := error(invalidf("tech_amount", "1200.00 exceeds amount 1000.00"))
	assert.Equal(t, "tech_amount: 1200.00 exceeds amount 1000.00", err.Error())
	assert.True(t, errors.Is(err, &Error{Code: CodeInvalid}))
	assert.False(t, errors.Is(err, &Error{Code: CodeConflict}))
	assert.Equal(t, CodeInvalid, CodeOf(err))
	assert.Equal(t, Code(""), CodeOf(errors.New("disk full")))
}

// FuzzDecode checks the decoder never panics and every failure is a typed *Error, and that
// whatever decodes can also be decided without panicking.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{registerJSON, proceedsJSON, useJSON, pay("P-1", "10.00"),
		`{"command":"amend_contract","contract_id":"2023140101000123","amount":"1.00","reason":"r"}`,
		`{"command":"revoke_contract","contract_id":"x","reason":"r"}`, `{}`, `[]`, `null`, `{"command":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := Decode(b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		var c Contract
		c, err = c.Apply(1, reg)
		require.NoError(t, err)
		for _, state := range []Contract{{}, c} {
			if _, err := Decide(state, cmd, Env{Today: today}); err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("untyped decide error %T: %v", err, err)
				}
			}
		}
	})
}
