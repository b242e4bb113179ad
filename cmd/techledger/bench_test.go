package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/internal/loadgen"
	"techledger/internal/sample"
	"techledger/ledger"
	"techledger/ledger/filestore"
)

// benchAnswer is one answer a bench run saw.
type benchAnswer struct {
	commandID, contractID, name string
	resend                      bool
	status                      int
	positions                   []uint64
}

// recordAnswers sets cfg.OnAnswer to collect every answer.
func recordAnswers(tb testing.TB, cfg *loadgen.Config) func() []benchAnswer {
	tb.Helper()
	var mu sync.Mutex
	var got []benchAnswer
	cfg.OnAnswer = func(line []byte, resend bool, status int, positions []uint64) {
		var h struct {
			Command    string `json:"command"`
			CommandID  string `json:"command_id"`
			ContractID string `json:"contract_id"`
		}
		if err := json.Unmarshal(line, &h); err != nil {
			panic(err)
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, benchAnswer{h.CommandID, h.ContractID, h.Command, resend, status, positions})
	}
	return func() []benchAnswer {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// sampleLines returns the first n lines of the sample stream of seed, decoded.
func sampleLines(tb testing.TB, seed uint64, contracts, n int) []benchAnswer {
	tb.Helper()
	pr, pw := io.Pipe()
	defer pr.Close() // stops the generator
	go func() {
		_, err := sample.Write(pw, sample.Config{Seed: seed, Contracts: contracts})
		pw.CloseWithError(err)
	}()
	var out []benchAnswer
	sc := bufio.NewScanner(pr)
	sc.Buffer(nil, 1<<20)
	for len(out) < n && sc.Scan() {
		var h struct {
			Command    string `json:"command"`
			CommandID  string `json:"command_id"`
			ContractID string `json:"contract_id"`
		}
		require.NoError(tb, json.Unmarshal(sc.Bytes(), &h))
		out = append(out, benchAnswer{commandID: h.CommandID, contractID: h.ContractID, name: h.Command})
	}
	require.NoError(tb, sc.Err())
	return out
}

// TestBench_InProcess runs a small load against `serve` in this process and then reads the
// store it wrote: every command of the stream's first N is applied exactly once, the counts
// add up, resends answer duplicate with the first positions, and the log holds exactly the
// events the answers name — one per command, of the command's type, with its command_id,
// and in stream order within each contract.
func TestBench_InProcess(t *testing.T) {
	const n = 600
	dir := t.TempDir()
	srv, err := startBenchServer(context.Background(), dir)
	require.NoError(t, err)
	cfg := loadgen.Config{URL: srv.url, Clients: 8, Commands: n, Seed: 7, Resend: 0.05, InProcess: true}
	answers := recordAnswers(t, &cfg)
	rep, err := loadgen.Run(context.Background(), cfg)
	srv.stop()
	require.NoError(t, err)

	assert.True(t, rep.OK(), "problems %v, errors %v", rep.Problems, rep.Errors)
	assert.Equal(t, n, rep.Generated)
	assert.Equal(t, n, rep.Applied)
	assert.Equal(t, rep.Resent, rep.Duplicates, "every resend, and nothing else, answers duplicate")
	assert.Positive(t, rep.Resent, "a 5%% resend rate over %d commands resends some", n)
	assert.Equal(t, rep.Sent, rep.Applied+rep.Duplicates+rep.Rejected+rep.Failed)
	assert.Zero(t, rep.Rejected+rep.Failed+rep.Mismatched)
	assert.Equal(t, uint64(n), rep.Head)
	assert.Equal(t, n, rep.Events)
	mix := 0
	for _, v := range rep.Mix {
		mix += v
	}
	assert.Equal(t, n, mix)
	assert.Positive(t, rep.PerSecond)
	assert.LessOrEqual(t, rep.LatencyMs.P50, rep.LatencyMs.P99)
	assert.LessOrEqual(t, rep.LatencyMs.P99, rep.LatencyMs.Max)
	assert.Contains(t, rep.ByCommand, "register_contract")
	assert.Contains(t, rep.ByCommand, "assign_rights/proceeds", "an assignment's latency is kept by right")
	assert.NotContains(t, rep.ByCommand, "assign_rights")
	for k, l := range rep.ByCommand {
		assert.LessOrEqual(t, l.Max, rep.LatencyMs.Max, k)
	}

	// What was sent is exactly the first n lines of the stream.
	want := sampleLines(t, cfg.Seed, rep.Contracts, n)
	got := answers()
	var firsts []string
	byPosition := map[uint64]benchAnswer{}
	applied := map[string][]uint64{}
	for _, a := range got {
		if a.resend {
			continue
		}
		firsts = append(firsts, a.commandID)
		require.Equal(t, http.StatusCreated, a.status, a.commandID)
		require.Len(t, a.positions, 1, "each sample command records one event")
		applied[a.commandID] = a.positions
		_, dup := byPosition[a.positions[0]]
		require.False(t, dup, "position %d answered twice", a.positions[0])
		byPosition[a.positions[0]] = a
	}
	for _, a := range got {
		if a.resend {
			assert.Equal(t, http.StatusOK, a.status)
			assert.Equal(t, applied[a.commandID], a.positions, "a resend answers the first positions")
		}
	}
	var wantIDs []string
	for _, w := range want {
		wantIDs = append(wantIDs, w.commandID)
	}
	assert.ElementsMatch(t, wantIDs, firsts)

	// The log holds exactly the answered events, nothing else.
	s, err := filestore.Open(dir, filestore.Options{})
	require.NoError(t, err)
	defer s.Close()
	eventType := map[string]string{
		"register_contract": ledger.TypeContractRegistered, "amend_contract": ledger.TypeContractAmended,
		"revoke_contract": ledger.TypeContractRevoked, "assign_rights": ledger.TypeRightsAssigned,
		"record_payment": ledger.TypePaymentRecorded,
	}
	streams := map[string][]string{} // stream -> command ids in log order
	var count uint64
	for rec, err := range s.ReadAll(context.Background(), 1) {
		require.NoError(t, err)
		count++
		a, ok := byPosition[uint64(rec.Position)]
		require.True(t, ok, "position %d is in the log but no answer named it", rec.Position)
		assert.Equal(t, a.commandID, rec.Metadata.CommandID, "position %d", rec.Position)
		assert.Equal(t, eventType[a.name], rec.Type, "position %d", rec.Position)
		assert.Equal(t, ledger.ContractStream(a.contractID), rec.Stream)
		streams[rec.Stream] = append(streams[rec.Stream], rec.Metadata.CommandID)
	}
	assert.Equal(t, uint64(n), count)
	wantStreams := map[string][]string{}
	for _, w := range want {
		st := ledger.ContractStream(w.contractID)
		wantStreams[st] = append(wantStreams[st], w.commandID)
	}
	assert.Equal(t, wantStreams, streams, "each contract's commands are recorded in stream order")
}

// TestBench_Rerun sends the same stream twice to one store: every run sends a prefix of the
// seed's stream, so a longer second run answers duplicate for what the first sent and
// applies the rest; a run with another seed, whose registration numbers are already taken,
// is rejected with 409s, and the verb exits 1.
func TestBench_Rerun(t *testing.T) {
	srv, err := startBenchServer(context.Background(), t.TempDir())
	require.NoError(t, err)
	defer srv.stop()
	cfg := loadgen.Config{URL: srv.url, Clients: 4, Commands: 100, Seed: 3}
	first, err := loadgen.Run(context.Background(), cfg)
	require.NoError(t, err)
	require.True(t, first.OK(), "%v", first.Problems)

	cfg.Commands = 150
	again, err := loadgen.Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.True(t, again.OK(), "%v", again.Problems)
	assert.Equal(t, 50, again.Applied)
	assert.Equal(t, 100, again.Duplicates)
	assert.Equal(t, first.Head+50, again.Head)

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--url", srv.url, "--clients", "4", "--commands", "100", "--seed", "4", "--format", "json"}, &stdout, &stderr)
	assert.Equal(t, exitRejected, code, stderr.String())
	var other loadgen.Report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &other), stdout.String())
	assert.Positive(t, other.Rejected)
	assert.Positive(t, other.Statuses["409"])
	assert.NotEmpty(t, other.Problems)
	assert.Equal(t, other.Sent, other.Applied+other.Duplicates+other.Rejected+other.Failed)
}

// TestBench_Token checks that --token is sent with every request, and that the statuses of
// refused commands are counted: a stand-in server accepts one token only.
func TestBench_Token(t *testing.T) {
	var authorized atomic.Int64
	var pos atomic.Uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, `{"status":401,"detail":"unknown or missing token"}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/healthz" {
			w.Write([]byte(`{"status":"ok","head":0}`))
			return
		}
		authorized.Add(1)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"status": "applied", "positions": []uint64{pos.Add(1)}})
	}))
	defer srv.Close()

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--url", srv.URL, "--token", "s3cret", "--clients", "3", "--commands", "50", "--resend", "0", "--format", "json"}, &stdout, &stderr)
	assert.Equal(t, exitOK, code, stdout.String()+stderr.String())
	assert.Equal(t, int64(50), authorized.Load())
	var rep loadgen.Report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep))
	assert.Equal(t, 50, rep.Applied)

	// Wrong token: the health check already fails, and bench says so.
	stdout.Reset()
	stderr.Reset()
	code = run(context.Background(), []string{"bench", "--url", srv.URL, "--token", "wrong", "--commands", "5"}, &stdout, &stderr)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, stderr.String(), "401")
}

func TestBench_Usage(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--clients", "0"},
		{"bench", "--commands", "0"},
		{"bench", "--duration", "0s"},
		{"bench", "--format", "csv"},
		{"bench", "--resend", "2"},
		{"bench", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, exitUsage, run(context.Background(), args, &stdout, &stderr), strings.Join(args, " "))
	}
}
