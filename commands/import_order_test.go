package commands_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/memstore"
)

// registerAch is a compact registration of contract id for achievement ach ("" for none).
func registerAch(id, commandID, ach string) string {
	achJSON := "null"
	if ach != "" {
		achJSON = fmt.Sprintf("%q", ach)
	}
	return fmt.Sprintf(`{"command":"register_contract","command_id":%q,"contract_id":%q,"title":"高效节能锅炉控制系统开发","type":"license","subtype":"patent_license","signed_on":"2023-03-01","registered_on":"2023-03-15","amount":"1200000.00","tech_amount":"1000000.00","field":"new_energy","seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},"buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"intermediary":null,"achievement_id":%s,"ip_types":["patent"]}`, commandID, id, achJSON)
}

// orderFile is an import whose outcome depends on the order of its lines in every way
// the pipeline must keep, with filler contracts between them so that the lanes are busy.
// want maps each line that must be rejected to the start of its error, worked out by hand:
//
//   - exclusive use grants on one achievement from contracts 1 and 2, and from contract 9,
//     registered before the import: the later overlapping grant is the one rejected;
//   - a payment before its contract's registration is rejected; the registration then
//     moves contract 3 to its achievement, whose grants it must meet in file order;
//   - a command_id reused with other content: the later line is the conflict, and the
//     same line again is a duplicate.
func orderFile(tb testing.TB) (lines []string, want map[int]string) {
	want = map[int]string{}
	add := func(l string) int { lines = append(lines, l); return len(lines) }
	filler := func(n int) {
		for range n {
			id := fmt.Sprintf("2023140101%06d", 500000+len(lines))
			add(registerAch(id, "fill-"+id, "ACH-F-"+id))
			add(payment(id, "P-1", "10.00"))
		}
	}
	const ach = "ACH-ORDER"
	filler(40)
	add(registerAch("2023140101000001", "r-1", ach))
	add(registerAch("2023140101000002", "r-2", ach))
	filler(40)
	add(compact(tb, useGrant("2023140101000001", "u-1", "exclusive", "2023-04-01", "2025-03-31")))
	filler(40)
	want[add(compact(tb, useGrant("2023140101000002", "u-2", "exclusive", "2024-01-01", "2026-12-31")))] = "term: 2024-01-01 to 2026-12-31 overlaps the exclusive use right on achievement ACH-ORDER granted under contract 2023140101000001"
	want[add(compact(tb, useGrant("2023140101000009", "u-9", "sole", "2025-01-01", "2025-02-01")))] = "term: 2025-01-01 to 2025-02-01 overlaps the exclusive use right on achievement ACH-ORDER granted under contract 2023140101000001"
	want[add(payment("2023140101000003", "P-1", "10.00"))] = "contract_id: contract 2023140101000003 is not registered"
	add(registerAch("2023140101000003", "r-3", ach))
	add(compact(tb, useGrant("2023140101000003", "u-3", "exclusive", "2025-04-01", "2025-12-31")))
	want[add(compact(tb, useGrant("2023140101000001", "u-1b", "sole", "2025-06-01", "2025-07-01")))] = "term: 2025-06-01 to 2025-07-01 overlaps the exclusive use right on achievement ACH-ORDER granted under contract 2023140101000003"
	filler(40)
	dup := add(registerAch("2023140101000004", "dup", ""))
	filler(40)
	want[add(registerAch("2023140101000005", "dup", ""))] = "command_id: "
	add(lines[dup-1])
	filler(40)
	return lines, want
}

// TestImport_KeepsFileOrder imports orderFile through 64 lanes into a store where contract
// 9 (achievement ACH-ORDER) is already registered, and checks the rejected lines and the
// counts against the ones worked out by hand. It repeats the import to give a wrong
// interleaving many chances.
func TestImport_KeepsFileOrder(t *testing.T) {
	lines, want := orderFile(t)
	input := strings.Join(lines, "\n") + "\n"
	for round := range 8 {
		s := memstore.New()
		h := newHandler(s)
		handle(t, h, registerAch("2023140101000009", "r-9", "ACH-ORDER"))
		sum, err := commands.Import(ctx, strings.NewReader(input), h, registrar, nil)
		require.NoError(t, err)
		got := map[int]string{}
		for _, e := range sum.Errors {
			got[e.Line] = e.Err.Error()
		}
		require.Len(t, got, len(want), "round %d: %v", round, got)
		for line, prefix := range want {
			assert.True(t, strings.HasPrefix(got[line], prefix), "round %d line %d: got %q, want %q…", round, line, got[line], prefix)
		}
		assert.Equal(t, len(want), sum.Rejected)
		assert.Equal(t, 1, sum.Duplicates, "the repeated line")
		assert.Equal(t, len(lines)-len(want)-1, sum.Applied)
		assert.Equal(t, head(t, s), sum.LastPosition, "round %d", round)
	}
}

// TestImport_LanesAgree imports the committed sample through 64 lanes and through one,
// and compares what they did: the summaries and every contract's stream (types and
// command IDs in order).
func TestImport_LanesAgree(t *testing.T) {
	in, err := os.ReadFile("../testdata/sample.ndjson")
	require.NoError(t, err)
	streams := func(lanes int) (commands.Summary, map[string][]string) {
		s := memstore.New()
		sum, err := commands.ImportTo(ctx, bytes.NewReader(in), commands.HandlerApplier{Handler: newHandler(s), Who: registrar}, commands.ImportOptions{Lanes: lanes})
		require.NoError(t, err)
		out := map[string][]string{}
		for rec, err := range s.ReadAll(ctx, 1) {
			require.NoError(t, err)
			out[rec.Stream] = append(out[rec.Stream], rec.Type+" "+rec.Metadata.CommandID)
		}
		return sum, out
	}
	sum1, one := streams(1)
	sum64, many := streams(64)
	assert.Equal(t, sum1, sum64)
	assert.Equal(t, one, many)
	assert.Zero(t, sum64.Rejected)
}

// TestImport_FileOrderPositions imports the committed sample through 64 lanes with
// FileOrder and through one lane, and checks that the log holds the same events at the same
// positions (type and command ID at each position); without FileOrder, the same events.
func TestImport_FileOrderPositions(t *testing.T) {
	in, err := os.ReadFile("../testdata/sample.ndjson")
	require.NoError(t, err)
	logOf := func(opt commands.ImportOptions) []string {
		s := memstore.New()
		sum, err := commands.ImportTo(ctx, bytes.NewReader(in), commands.HandlerApplier{Handler: newHandler(s), Who: registrar}, opt)
		require.NoError(t, err)
		require.Zero(t, sum.Rejected)
		var out []string
		for rec, err := range s.ReadAll(ctx, 1) {
			require.NoError(t, err)
			out = append(out, fmt.Sprintf("%d %s %s", rec.Position, rec.Type, rec.Metadata.CommandID))
		}
		return out
	}
	one := logOf(commands.ImportOptions{Lanes: 1})
	require.NotEmpty(t, one)
	assert.Equal(t, one, logOf(commands.ImportOptions{Lanes: 64, FileOrder: true}), "positions as a one-at-a-time import's")
	events := func(log []string) []string {
		out := make([]string, len(log))
		for i, l := range log {
			out[i] = l[strings.IndexByte(l, ' ')+1:]
		}
		slices.Sort(out)
		return out
	}
	assert.Equal(t, events(one), events(logOf(commands.ImportOptions{Lanes: 64})), "the same events, in any interleaving")
}

// failingApplier applies lines after a delay, rejecting none, and fails the line failAt.
type failingApplier struct {
	failAt  int
	applied atomic.Int64
	mu      sync.Mutex
	lines   map[string]bool // lines applied
}

func (f *failingApplier) Apply(ctx context.Context, line []byte) (commands.Outcome, error) {
	h, _ := commands.HeadOf(line)
	if h.CommandID == fmt.Sprintf("line-%d", f.failAt) {
		return commands.Outcome{}, errors.New("disk on fire")
	}
	time.Sleep(100 * time.Microsecond)
	n := f.applied.Add(1)
	f.mu.Lock()
	f.lines[h.CommandID] = true
	f.mu.Unlock()
	return commands.Outcome{Status: commands.StatusApplied, Positions: []ledger.Position{ledger.Position(n)}}, nil
}

func (f *failingApplier) AchievementOf(context.Context, string) (string, error) { return "", nil }

// numbered returns n lines, line i for contract i with command_id "line-i".
func numbered(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"command":"revoke_contract","command_id":"line-%d","contract_id":"2023140101%06d","reason":"x"}`+"\n", i, i)
	}
	return b.String()
}

// TestImport_StopsAtFailure: a failure that is not a rejection stops the import with an
// error naming its line; every line before it is applied, and the summary counts exactly
// the lines applied (some after the failed one may have been under way).
func TestImport_StopsAtFailure(t *testing.T) {
	for _, lanes := range []int{1, 8} {
		f := &failingApplier{failAt: 300, lines: map[string]bool{}}
		sum, err := commands.ImportTo(ctx, strings.NewReader(numbered(2000)), f, commands.ImportOptions{Lanes: lanes})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "import: line 300: disk on fire")
		for i := 1; i < 300; i++ {
			require.True(t, f.lines[fmt.Sprintf("line-%d", i)], "lanes %d: line %d before the failure is applied", lanes, i)
		}
		assert.Equal(t, int(f.applied.Load()), sum.Applied, "lanes %d", lanes)
		assert.Less(t, sum.Applied, 2000-1, "lanes %d: the import stopped", lanes)
		if lanes == 1 {
			assert.Equal(t, 299, sum.Applied, "one lane starts nothing after the failed line")
		}
	}
}

// blockingApplier holds line 1 until released and applies the others at once.
type blockingApplier struct {
	release chan struct{}
	started atomic.Int64
}

func (b *blockingApplier) Apply(ctx context.Context, line []byte) (commands.Outcome, error) {
	b.started.Add(1)
	if h, _ := commands.HeadOf(line); h.CommandID == "line-1" {
		<-b.release
	}
	return commands.Outcome{Status: commands.StatusApplied, Positions: []ledger.Position{1}}, nil
}

func (b *blockingApplier) AchievementOf(context.Context, string) (string, error) { return "", nil }

// TestImport_BoundedWindow: while the first line is held, the import reads no further
// than a bounded window ahead (lanes × 64 lines), so its memory does not grow with the
// file; released, it completes.
func TestImport_BoundedWindow(t *testing.T) {
	const lanes = 4
	b := &blockingApplier{release: make(chan struct{})}
	done := make(chan commands.Summary, 1)
	go func() {
		sum, err := commands.ImportTo(ctx, strings.NewReader(numbered(20_000)), b, commands.ImportOptions{Lanes: lanes})
		assert.NoError(t, err)
		done <- sum
	}()
	// Wait until the lanes have taken what the window lets them, then give a broken
	// window time to let more through.
	require.Eventually(t, func() bool { return b.started.Load() >= lanes*64/2 }, time.Minute, time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	assert.LessOrEqual(t, b.started.Load(), int64(lanes*64), "lines started while line 1 is held")
	close(b.release)
	sum := <-done
	assert.Equal(t, 20_000, sum.Applied)
}
