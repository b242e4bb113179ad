package commands_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/internal/sample"
)

// TestHeadOf compares the quick reading of a command's head with decoding it, on every
// line of the default sample and on lines of other shapes (escapes, spaces, null, a key's
// name inside a value), which must fall back to decoding.
func TestHeadOf(t *testing.T) {
	var buf bytes.Buffer
	_, err := sample.Write(&buf, sample.DefaultConfig)
	require.NoError(t, err)
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	lines = append(lines,
		[]byte(`{"contract_id":"2023140101000123","command":"revoke_contract","reason":"a \"quoted\" reason"}`),
		[]byte(`{"command":"register_contract","contract_id":"20231401\u00301000123","achievement_id":"ACH-1"}`),
		[]byte(`{"command":"register_contract","contract_id":"2023140101000123", "achievement_id": "ACH-2"}`),
		[]byte(`{"command":"register_contract","contract_id":"2023140101000123","achievement_id":null}`),
		[]byte(`{"command":"revoke_contract","contract_id":"2023140101000123","reason":"\"achievement_id\":\"X\""}`),
		[]byte(`{"command":"assign_rights","command_id":"c-9","contract_id":"2023140101000123","right":"use","holders":[{"name":"right"}]}`),
	)
	for i, line := range lines {
		var want commands.LineHead
		require.NoError(t, json.Unmarshal(line, &want))
		got, err := commands.HeadOf(line)
		require.NoError(t, err)
		require.Equal(t, want, got, "line %d: %s", i+1, line)
	}
	_, err = commands.HeadOf([]byte(`not json`))
	assert.Error(t, err)
}

// TestPartition: the contracts of one achievement share a lane, whatever their numbers;
// a contract keeps its lane; a contract first seen after the stream began takes its
// achievement from the lookup; a registration that moves its contract says to wait.
func TestPartition(t *testing.T) {
	lookup := map[string]string{"2023140101000009": "ACH-A"}
	p := commands.NewPartition(64, func(id string) string { return lookup[id] })
	lane := func(h commands.LineHead) (int, bool) { return p.Lane(h) }
	a1, w := lane(commands.LineHead{Command: "register_contract", ContractID: "2023140101000001", AchievementID: "ACH-A"})
	assert.False(t, w)
	for _, id := range []string{"2023140101000002", "2023140101000003", "2023140101000004"} {
		l, _ := lane(commands.LineHead{Command: "register_contract", ContractID: id, AchievementID: "ACH-A"})
		assert.Equal(t, a1, l, "one achievement, one lane")
	}
	l, w := lane(commands.LineHead{Command: "record_payment", ContractID: "2023140101000001"})
	assert.Equal(t, a1, l, "a contract keeps its lane")
	assert.False(t, w)
	l, _ = lane(commands.LineHead{Command: "assign_rights", ContractID: "2023140101000009"})
	assert.Equal(t, a1, l, "a contract registered before the stream: its achievement is looked up")

	// Contract 5's payment comes before its registration: the registration moves it.
	before, _ := lane(commands.LineHead{Command: "record_payment", ContractID: "2023140101000005"})
	after, w := lane(commands.LineHead{Command: "register_contract", ContractID: "2023140101000005", AchievementID: "ACH-A"})
	assert.Equal(t, a1, after)
	assert.Equal(t, before != after, w, "a move waits for the lines before it")

	// Without a lookup (bench), a contract first seen by another command keeps to its number.
	q := commands.NewPartition(64, nil)
	x, _ := q.Lane(commands.LineHead{Command: "record_payment", ContractID: "2023140101000009"})
	y, _ := q.Lane(commands.LineHead{Command: "record_payment", ContractID: "2023140101000009"})
	assert.Equal(t, x, y)
}
