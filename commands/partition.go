package commands

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
)

// LineHead is what routing a command needs of its JSON line: the command, its
// idempotency key, its contract and, for a registration, its achievement.
type LineHead struct {
	Command       string `json:"command"`
	CommandID     string `json:"command_id"`
	ContractID    string `json:"contract_id"`
	AchievementID string `json:"achievement_id"`
	Right         string `json:"right"`
}

// HeadOf returns the head of a JSON command line. Lines in the compact form the sample
// generator and most exporters write (no space after a colon, no escape in these fields)
// are read by finding the keys, which costs a fifth of decoding the line; any other
// shape is decoded. An error means the line is not a JSON object; the command itself is
// not checked (the handler does that).
func HeadOf(line []byte) (LineHead, error) {
	field := func(key string) (string, bool) {
		name := key[:len(key)-2] // `"command"` of `"command":"`
		i := bytes.Index(line, []byte(key))
		if i < 0 {
			// Absent, or present in another shape (a space, null, a number): decode.
			return "", !bytes.Contains(line, []byte(name))
		}
		v := line[i+len(key):]
		j := bytes.IndexByte(v, '"')
		if j < 0 || bytes.IndexByte(v[:j], '\\') >= 0 || bytes.Count(line, []byte(name)) > 1 {
			return "", false
		}
		return string(v[:j]), true
	}
	cmd, ok1 := field(`"command":"`)
	id, ok2 := field(`"command_id":"`)
	contract, ok3 := field(`"contract_id":"`)
	ach, ok4 := field(`"achievement_id":"`)
	right, ok5 := field(`"right":"`)
	if ok1 && ok2 && ok3 && ok4 && ok5 && cmd != "" && contract != "" {
		return LineHead{cmd, id, contract, ach, right}, nil
	}
	var h LineHead
	err := json.Unmarshal(line, &h)
	return h, err
}

// Partition deals the commands of a stream to n lanes so that running each lane's
// commands in order, the lanes concurrently, decides every command as running the
// whole stream in order would:
//
//   - all commands of a contract go to one lane;
//   - a contract's lane is the one its achievement hashes to (so that the use grants on
//     one achievement, checked against each other, keep their order), or, for a contract
//     without one, the one its registration number hashes to.
//
// A contract whose first command is not its registration (it was registered before the
// stream, or its registration comes later) takes its achievement from lookup; nil lookup
// treats it as having none. When a registration later moves its contract to another
// lane, Lane says so: that command must wait until every earlier command is applied. A
// Partition is not safe for concurrent use.
type Partition struct {
	n      int
	owner  map[string]int // contract_id -> lane
	lookup func(contractID string) string
}

// NewPartition returns a partition over n lanes (n ≥ 1).
func NewPartition(n int, lookup func(contractID string) string) *Partition {
	return &Partition{n: n, owner: map[string]int{}, lookup: lookup}
}

// Lane returns the lane of a command, and whether it must wait for every earlier command
// of the stream to be applied before it starts.
func (p *Partition) Lane(h LineHead) (lane int, wait bool) {
	c, known := p.owner[h.ContractID]
	registration := h.Command == "register_contract"
	if known && !registration {
		return c, false
	}
	key := h.AchievementID
	if !registration && p.lookup != nil {
		key = p.lookup(h.ContractID)
	}
	if key == "" {
		key = h.ContractID
	}
	lane = laneOf(key, p.n)
	p.owner[h.ContractID] = lane
	return lane, known && lane != c
}

// laneOf hashes key to one of n lanes.
func laneOf(key string, n int) int {
	f := fnv.New32a()
	f.Write([]byte(key))
	return int(f.Sum32() % uint32(n))
}
