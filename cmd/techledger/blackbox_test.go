package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/internal/loadgen"
	"techledger/internal/sample"
)

// Limits of the black-box test.
const (
	blackboxClients = 16
	// blackboxContractsMin is the smallest sample stream; each cycle adds
	// blackboxContractsPerCycle, so the clients are still busy at every kill.
	blackboxContractsMin      = 2000
	blackboxContractsPerCycle = 400
	// blackboxKillAfter bounds how many acknowledged commands a cycle kills the server after
	// (a random count in 1..blackboxKillAfter), at the latest after blackboxKillAfterMax.
	blackboxKillAfter    = 1000
	blackboxKillAfterMax = 5 * time.Second
	blackboxStartMax     = 15 * time.Second
	// blackboxSampleMax is how many commands acknowledged in earlier cycles each restart
	// re-posts besides those of the cycle just killed; the last restart re-posts all.
	blackboxSampleMax = 200
	// blackboxCyclesDefault is the number of kill cycles in `make test`; `make crash-soak`
	// sets TECHLEDGER_CRASH_CYCLES (docs/reliability.md).
	blackboxCyclesDefault = 3
)

// blackboxCycles reads TECHLEDGER_CRASH_CYCLES (default blackboxCyclesDefault) and
// blackboxSeed TECHLEDGER_CRASH_SEED (default: the clock, logged so a run can be repeated).
func blackboxCycles(tb testing.TB) int {
	tb.Helper()
	s := os.Getenv("TECHLEDGER_CRASH_CYCLES")
	if s == "" {
		return blackboxCyclesDefault
	}
	n, err := strconv.Atoi(s)
	require.NoError(tb, err, "TECHLEDGER_CRASH_CYCLES")
	require.Positive(tb, n, "TECHLEDGER_CRASH_CYCLES")
	return n
}

func blackboxSeed(tb testing.TB) uint64 {
	tb.Helper()
	if s := os.Getenv("TECHLEDGER_CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(tb, err, "TECHLEDGER_CRASH_SEED")
		return n
	}
	return uint64(time.Now().UnixNano())
}

// TestBlackbox_KillAndRestart proves that an acknowledged command survives SIGKILL, again
// and again on one data directory (docs/reliability.md, crash soak). It builds the
// techledger binary and runs cycles of: start `serve` on the directory; re-post the commands
// that were in flight at the last kill (each must answer applied or duplicate); check that
// the answers so far name positions 1..head each once, that every command acknowledged in
// the cycle just killed (and a random sample of earlier ones) answers 200 duplicate with the
// positions it was first given, and that GET /v1/verify passes; then post the sample stream
// from 16 clients and kill the server with SIGKILL after a random number of acknowledged
// commands. The last restart re-posts every acknowledged command; then the server stops
// cleanly and `techledger verify` must pass on the directory.
func TestBlackbox_KillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary: skipped under -short")
	}
	cycles, seed := blackboxCycles(t), blackboxSeed(t)
	t.Logf("%d cycles, TECHLEDGER_CRASH_SEED=%d", cycles, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	bin := buildTechledger(t)
	dir := filepath.Join(t.TempDir(), "data")

	queues := blackboxQueues(t, blackboxClients, blackboxContractsMin+cycles*blackboxContractsPerCycle)
	next := make([]int, len(queues))      // each client's next command in its queue
	inFlight := make([]bool, len(queues)) // whether that command was in flight at the last kill
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: blackboxClients}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	type sent struct {
		line      []byte
		positions []uint64
	}
	var (
		acked     []sent // every command acknowledged, in no particular order
		lastCycle int    // acked[lastCycle:] were acknowledged in the cycle just killed
		seen      []bool // seen[p-1]: some answer named position p
		named     int    // how many positions the answers named
		totals    struct{ recovered, appliedNow int }
	)
	// name records the positions of an answer; a position named twice is a lost write
	// reported as someone else's.
	name := func(line []byte, ps []uint64) {
		for _, p := range ps {
			for uint64(len(seen)) < p {
				seen = append(seen, false)
			}
			if !assert.False(t, seen[p-1], "position %d named twice, again by %s", p, loadgen.Clip(line)) {
				continue
			}
			seen[p-1] = true
			named++
		}
	}

	var srv *serveProcess
	for cycle := 1; cycle <= cycles+1; cycle++ {
		srv = startServe(t, bin, dir)

		// The commands in flight at the last kill: applied now, or recorded before it.
		var clients []int
		for c := range queues {
			if inFlight[c] {
				clients = append(clients, c)
			}
		}
		answers := make([]sent, len(clients))
		var recovered, appliedNow atomic.Int64
		parallel(t, len(clients), blackboxClients, func(i int) {
			c := clients[i]
			line := queues[c][next[c]]
			status, ps, err := postCommandLine(client, srv.url, line)
			if assert.NoError(t, err) {
				assert.Contains(t, []int{http.StatusCreated, http.StatusOK}, status, "a command in flight at the kill is applied now or was before: %s", loadgen.Clip(line))
				answers[i] = sent{line, ps}
				if status == http.StatusOK {
					recovered.Add(1)
				} else {
					appliedNow.Add(1)
				}
			}
		})
		for i, c := range clients {
			inFlight[c] = false
			next[c]++
			name(answers[i].line, answers[i].positions)
			acked = append(acked, answers[i])
		}
		totals.recovered += int(recovered.Load())
		totals.appliedNow += int(appliedNow.Load())

		// Every command sent was acknowledged or in flight, so between them their answers
		// name every position in the log, each once.
		head := serveHead(t, client, srv.url)
		require.Equal(t, head, uint64(len(seen)), "cycle %d: the answers name positions up to the head and no further", cycle)
		require.Equal(t, len(seen), named, "cycle %d: the answers name positions 1..head, each once", cycle)

		// The commands acknowledged before the kill answer duplicate with their positions.
		check := slices.Clone(acked[lastCycle : len(acked)-len(clients)])
		if cycle == cycles+1 {
			check = acked
		} else {
			for range min(blackboxSampleMax, lastCycle) {
				check = append(check, acked[rng.IntN(lastCycle)])
			}
		}
		parallel(t, len(check), blackboxClients, func(i int) {
			status, positions, err := postCommandLine(client, srv.url, check[i].line)
			if assert.NoError(t, err) {
				assert.Equal(t, http.StatusOK, status, "an acknowledged command answers duplicate: %s", loadgen.Clip(check[i].line))
				assert.Equal(t, check[i].positions, positions, "with the positions first acknowledged")
			}
		})
		serveVerify(t, client, srv.url)
		require.False(t, t.Failed(), "cycle %d", cycle)
		if cycle == cycles+1 {
			break
		}
		lastCycle = len(acked)

		// Post until the kill. A client stops at its first command without an answer (it
		// was in flight at the kill, or sent after it).
		var (
			mu       sync.Mutex
			ackCount atomic.Int64
			killAt   = int64(rng.IntN(blackboxKillAfter) + 1)
			killNow  = make(chan struct{})
			killOnce sync.Once
			wg       sync.WaitGroup
		)
		for c, q := range queues {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ; next[c] < len(q); next[c]++ {
					line := q[next[c]]
					status, positions, err := postCommandLine(client, srv.url, line)
					if err != nil {
						inFlight[c] = true
						return
					}
					if status != http.StatusCreated {
						t.Errorf("before the kill: %s answered %d %v", loadgen.Clip(line), status, positions)
						return
					}
					mu.Lock()
					acked = append(acked, sent{line, positions})
					mu.Unlock()
					if ackCount.Add(1) == killAt {
						killOnce.Do(func() { close(killNow) })
					}
				}
			}()
		}
		allDone := make(chan struct{})
		go func() { wg.Wait(); close(allDone) }()
		select {
		case <-killNow:
		case <-allDone:
		case <-time.After(blackboxKillAfterMax):
		}
		require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
		_ = srv.wait()
		wg.Wait()
		require.False(t, t.Failed())
		for i := lastCycle; i < len(acked); i++ {
			name(acked[i].line, acked[i].positions)
		}
		n := 0
		for _, f := range inFlight {
			if f {
				n++
			}
		}
		t.Logf("cycle %d: killed after %d acknowledged commands; %d in flight", cycle, len(acked)-lastCycle, n)
	}
	t.Logf("%d cycles: %d commands acknowledged, %d events; of the commands in flight at a kill, %d had been recorded before it and %d were applied on re-posting",
		cycles, len(acked), named, totals.recovered, totals.appliedNow)
	require.NotEmpty(t, acked)

	// Stop cleanly, then verify the log from disk.
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv.wait(), srv.log.String())
	out, err := exec.Command(bin, "verify", "--data", dir).CombinedOutput()
	require.NoError(t, err, "verify: %s", out)
	assert.Contains(t, string(out), "OK: ")
}

// serveVerify asserts that GET /v1/verify answers ok.
func serveVerify(tb testing.TB, client *http.Client, url string) {
	tb.Helper()
	resp, err := client.Get(url + "/v1/verify")
	require.NoError(tb, err)
	defer resp.Body.Close()
	var out struct {
		OK bool `json:"ok"`
	}
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	require.NoError(tb, json.Unmarshal(b, &out), "verify: %s", b)
	require.True(tb, out.OK, "verify: %s", b)
}

// raceBuild is set (in race_test.go) when the test binary has the race detector.
var raceBuild bool

// buildTechledger builds this command's binary into a temporary directory with the go
// command of the toolchain running the test, with the race detector if the test has it.
func buildTechledger(tb testing.TB) string {
	tb.Helper()
	// The test binary was built by this toolchain, so its GOROOT is the right one even when
	// another go comes first on PATH.
	//lint:ignore SA1019 runtime.GOROOT is the toolchain that built this test binary
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	bin := filepath.Join(tb.TempDir(), "techledger")
	args := []string{"build", "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	cmd := exec.Command(goBin, append(args, ".")...)
	out, err := cmd.CombinedOutput()
	require.NoError(tb, err, "go build: %s", out)
	return bin
}

// serveProcess is a `techledger serve` process.
type serveProcess struct {
	cmd  *exec.Cmd
	url  string
	log  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // of cmd.Wait, once done
}

// wait waits for the process to exit and returns its error (nil for exit status 0).
func (p *serveProcess) wait() error {
	<-p.done
	return p.err
}

// startServe runs `techledger serve --data dir` on a free loopback port and waits for
// GET /healthz. The process is killed at the end of the test if it still runs.
func startServe(tb testing.TB, bin, dir string) *serveProcess {
	tb.Helper()
	addr, err := freeLoopbackAddr()
	require.NoError(tb, err)
	p := &serveProcess{url: "http://" + addr, log: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--data", dir, "--addr", addr)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	require.NoError(tb, p.cmd.Start())
	exited := make(chan int, 1)
	go func() {
		p.err = p.cmd.Wait()
		exited <- p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	tb.Cleanup(func() {
		_ = p.cmd.Process.Kill() // an error means it has already exited
		<-p.done
	})
	ctx, cancel := context.WithTimeout(context.Background(), blackboxStartMax)
	defer cancel()
	require.NoError(tb, waitHealthy(ctx, p.url, exited), "serve: %s", p.log.String())
	return p
}

// serveHead returns the head position from GET /healthz.
func serveHead(tb testing.TB, client *http.Client, url string) uint64 {
	tb.Helper()
	head, err := loadgen.ServerHead(context.Background(), client, loadgen.Config{URL: url})
	require.NoError(tb, err)
	return head
}

// postCommandLine posts one command and returns the status and positions of the answer, or
// an error if there was no complete answer.
func postCommandLine(client *http.Client, url string, line []byte) (int, []uint64, error) {
	resp, err := client.Post(url+"/v1/commands", "application/json", bytes.NewReader(line))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out struct {
		Status    string   `json:"status"`
		Positions []uint64 `json:"positions"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return 0, nil, fmt.Errorf("answer %d %q: %w", resp.StatusCode, b, err)
	}
	switch {
	case resp.StatusCode == http.StatusCreated && out.Status != "applied",
		resp.StatusCode == http.StatusOK && out.Status != "duplicate":
		return 0, nil, fmt.Errorf("answer %d with status %q", resp.StatusCode, out.Status)
	}
	return resp.StatusCode, out.Positions, nil
}

// blackboxQueues splits the sample stream between n clients as bench does: all commands of
// a contract, and all contracts of an achievement, to one client, in stream order.
func blackboxQueues(tb testing.TB, n, contracts int) [][][]byte {
	tb.Helper()
	var buf bytes.Buffer
	_, err := sample.Write(&buf, sample.Config{Seed: 11, Contracts: contracts})
	require.NoError(tb, err)
	queues := make([][][]byte, n)
	part := commands.NewPartition(n, nil)
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.Clone(sc.Bytes())
		h, err := commands.HeadOf(line)
		require.NoError(tb, err)
		c, _ := part.Lane(h)
		queues[c] = append(queues[c], line)
	}
	require.NoError(tb, sc.Err())
	return queues
}

// parallel calls f(0) … f(n-1) from workers goroutines.
func parallel(tb testing.TB, n, workers int, f func(i int)) {
	tb.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		}()
	}
	wg.Wait()
}
