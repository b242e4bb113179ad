package sample

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"time"

	"techledger/commands"
	"techledger/ledger"
)

// Registrations generates cfg's command stream and passes the record of each registration
// (and nothing else) to apply, at positions 1, 2, …: each command decided by package
// commands and encoded as the handler does, recorded at recordedAt. It is how benchmarks
// build a State of many contracts without a store. It stops at the first error of apply.
func Registrations(cfg Config, recordedAt time.Time, apply func(*ledger.Record) error) error {
	pr, pw := io.Pipe()
	go func() {
		_, err := Write(pw, cfg)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	sc := bufio.NewScanner(pr)
	sc.Buffer(nil, 1<<20)
	env := commands.Env{Today: ledger.Date{Year: 2100, Month: 1, Day: 1}}
	var pos ledger.Position
	for sc.Scan() {
		if !bytes.HasPrefix(sc.Bytes(), []byte(`{"command":"register_contract"`)) {
			continue
		}
		cmd, err := commands.Decode(sc.Bytes())
		if err != nil {
			return fmt.Errorf("sample registration %d: %w", pos+1, err)
		}
		evs, err := commands.Decide(commands.Contract{}, cmd, env)
		if err != nil {
			return fmt.Errorf("sample registration %d: %w", pos+1, err)
		}
		ev, err := ledger.Encode(evs[0], ledger.Metadata{})
		if err != nil {
			return fmt.Errorf("sample registration %d: %w", pos+1, err)
		}
		pos++
		rec := ledger.Record{Position: pos, Type: ev.Type, SchemaVersion: ev.SchemaVersion, Data: ev.Data, RecordedAt: recordedAt}
		if err := apply(&rec); err != nil {
			return err
		}
	}
	return sc.Err()
}
