package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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
	// blackboxContracts is the size of the sample stream: more than the test sends before the
	// kill, so the clients are still busy when it comes.
	blackboxContracts = 2000
	// blackboxKillAfter is how many acknowledged commands the server is killed after, at the
	// latest after blackboxKillAfterMax.
	blackboxKillAfter    = 1000
	blackboxKillAfterMax = 5 * time.Second
	blackboxStartMax     = 15 * time.Second
)

// TestBlackbox_KillAndRestart proves that an acknowledged command survives SIGKILL: it
// builds the techledger binary, runs `serve` on a data directory, posts the sample stream
// from 16 clients, kills the server with SIGKILL mid-stream, restarts it on the same
// directory, and re-posts every command. Each command acknowledged before the kill must
// answer 200 duplicate with the positions it was first given; each command in flight at the
// kill must answer applied or duplicate; and `techledger verify` must pass on the directory.
func TestBlackbox_KillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary: skipped under -short")
	}
	bin := buildTechledger(t)
	dir := filepath.Join(t.TempDir(), "data")

	srv := startServe(t, bin, dir)
	queues := blackboxQueues(t, blackboxClients)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: blackboxClients}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	// Phase 1: post until the kill. A client stops at its first command without an answer
	// (it was in flight at the kill, or sent after it).
	type sent struct {
		line      []byte
		positions []uint64
	}
	var (
		mu       sync.Mutex
		acked    []sent
		inFlight [][]byte
		ackCount atomic.Int64
		killNow  = make(chan struct{})
		killOnce sync.Once
	)
	var wg sync.WaitGroup
	for _, q := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, line := range q {
				status, positions, err := postCommandLine(client, srv.url, line)
				if err != nil {
					mu.Lock()
					inFlight = append(inFlight, line)
					mu.Unlock()
					return
				}
				if status != http.StatusCreated {
					t.Errorf("before the kill: %s answered %d %v", loadgen.Clip(line), status, positions)
					return
				}
				mu.Lock()
				acked = append(acked, sent{line, positions})
				mu.Unlock()
				if ackCount.Add(1) == blackboxKillAfter {
					killOnce.Do(func() { close(killNow) })
				}
			}
		}()
	}
	select {
	case <-killNow:
	case <-time.After(blackboxKillAfterMax):
	}
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	_ = srv.wait()
	wg.Wait()
	require.False(t, t.Failed())
	t.Logf("killed after %d acknowledged commands; %d in flight", len(acked), len(inFlight))
	require.NotEmpty(t, acked)

	// Phase 2: restart on the same directory and re-post.
	srv = startServe(t, bin, dir)
	head := serveHead(t, client, srv.url)
	var ackedEvents uint64
	for _, a := range acked {
		ackedEvents += uint64(len(a.positions))
		assert.LessOrEqual(t, slices.Max(a.positions), head, "an acknowledged position is past the head after the restart")
	}
	assert.GreaterOrEqual(t, head, ackedEvents)
	parallel(t, len(acked), blackboxClients, func(i int) {
		status, positions, err := postCommandLine(client, srv.url, acked[i].line)
		if assert.NoError(t, err) {
			assert.Equal(t, http.StatusOK, status, "an acknowledged command answers duplicate: %s", loadgen.Clip(acked[i].line))
			assert.Equal(t, acked[i].positions, positions, "with the positions first acknowledged")
		}
	})
	var recovered, appliedNow atomic.Int64
	positions := make([][]uint64, len(inFlight))
	parallel(t, len(inFlight), blackboxClients, func(i int) {
		status, ps, err := postCommandLine(client, srv.url, inFlight[i])
		if assert.NoError(t, err) {
			assert.Contains(t, []int{http.StatusCreated, http.StatusOK}, status, "a command in flight at the kill is applied now or was before: %s", loadgen.Clip(inFlight[i]))
			positions[i] = ps
			if status == http.StatusOK {
				recovered.Add(1)
			} else {
				appliedNow.Add(1)
			}
		}
	})
	t.Logf("of the commands in flight, %d had been recorded before the kill and %d were applied on re-posting", recovered.Load(), appliedNow.Load())

	// Every command sent was acknowledged or in flight, so between them their answers name
	// every position in the log, each once.
	var all []uint64
	for _, a := range acked {
		all = append(all, a.positions...)
	}
	for _, ps := range positions {
		all = append(all, ps...)
	}
	slices.Sort(all)
	head = serveHead(t, client, srv.url)
	want := make([]uint64, head)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	assert.Equal(t, want, all, "the answers name positions 1..head, each once")

	// Phase 3: stop cleanly, then verify the log from disk.
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv.wait(), srv.log.String())
	out, err := exec.Command(bin, "verify", "--data", dir).CombinedOutput()
	require.NoError(t, err, "verify: %s", out)
	assert.Contains(t, string(out), "OK: ")
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
func blackboxQueues(tb testing.TB, n int) [][][]byte {
	tb.Helper()
	var buf bytes.Buffer
	_, err := sample.Write(&buf, sample.Config{Seed: 11, Contracts: blackboxContracts})
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
