package commands_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"techledger/commands"
	"techledger/ledger/filestore"
)

// TestBuildScaleStore builds a store for the measurements of restart and memory at scale
// (docs/operations.md): TECHLEDGER_SCALE_CONTRACTS contracts (default 1,000,000), each a
// registration and two payments (three events), handled by 64 callers, in the directory
// TECHLEDGER_SCALE_DIR. It is skipped unless that variable is set: it takes minutes.
func TestBuildScaleStore(t *testing.T) {
	dir := os.Getenv("TECHLEDGER_SCALE_DIR")
	if dir == "" {
		t.Skip("TECHLEDGER_SCALE_DIR not set: builds a store of a million contracts for a manual measurement")
	}
	n := 1_000_000
	if v := os.Getenv("TECHLEDGER_SCALE_CONTRACTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	s, err := filestore.Open(dir, filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := commands.NewHandler(s)
	who := commands.Actor{Name: "scale", Role: "registrar"}
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := w; c < n; c += callers {
				id := fmt.Sprintf("2024%04d%02d%06d", 1401+c%11, 1+c/1_000_000%99, c%1_000_000)
				cmds := []string{compactRegister(id, c)}
				for p := range 2 {
					cmds = append(cmds, fmt.Sprintf(`{"command":"record_payment","command_id":"b-%d-p%d","contract_id":%q,"payment_id":"P-%d","amount":"1000.00","costs":"120.00","paid_on":"2024-06-30"}`, c, p, id, p))
				}
				for _, cmd := range cmds {
					if _, err := h.HandleJSON(ctx, []byte(cmd), who); err != nil {
						t.Error(err)
						return
					}
				}
				if c%100_000 == 0 {
					t.Logf("contract %d after %s", c, time.Since(start).Round(time.Second))
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d contracts in %s", n, time.Since(start).Round(time.Second))
}
