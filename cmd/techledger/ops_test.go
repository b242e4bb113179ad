package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCLI runs a verb in this process and returns its exit code, stdout and stderr.
func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// eventsPage returns the NDJSON lines of GET /v1/events from..from+limit-1.
func eventsPage(tb testing.TB, url string, from, limit uint64) []string {
	tb.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/v1/events?from=%d&limit=%d", url, from, limit))
	require.NoError(tb, err)
	defer resp.Body.Close()
	require.Equal(tb, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// loadServe posts the sample stream to url from a few clients until stop is closed or the
// stream ends, and returns how many commands were acknowledged so far.
func loadServe(tb testing.TB, url string, stop <-chan struct{}) (acked *atomic.Int64, wait func()) {
	tb.Helper()
	queues := blackboxQueues(tb, 4, blackboxContractsMin)
	client := &http.Client{Timeout: 10 * time.Second}
	acked = &atomic.Int64{}
	var wg sync.WaitGroup
	for _, q := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, line := range q {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := postCommandLine(client, url, line); err != nil {
					tb.Error(err)
					return
				}
				acked.Add(1)
			}
		}()
	}
	return acked, wg.Wait
}

// TestOps_LiveStore runs `serve` under load and, while it appends, runs the read-only verbs
// on its directory: verify passes, stats and export see a consistent prefix of the log (the
// exported lines are the server's own, byte for byte), replay --dry-run writes nothing.
// Then a backup taken during the writes restores to a store that verifies and holds the
// source's records up to the backup's position, byte for byte; a second backup copies
// only the new part.
func TestOps_LiveStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary: skipped under -short")
	}
	bin := buildTechledger(t)
	dir := filepath.Join(t.TempDir(), "data")
	srv := startServe(t, bin, dir)
	stop := make(chan struct{})
	acked, wait := loadServe(t, srv.url, stop)
	require.Eventually(t, func() bool { return acked.Load() >= 200 }, 30*time.Second, 10*time.Millisecond)

	code, out, errs := runCLI("verify", "--data", dir, "--format", "json")
	require.Equal(t, exitOK, code, "verify of a live store: %s %s", out, errs)
	var v struct {
		OK     bool `json:"ok"`
		Report struct {
			Head uint64 `json:"head"`
		} `json:"report"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.True(t, v.OK)
	require.Greater(t, v.Report.Head, uint64(0))

	exported := filepath.Join(t.TempDir(), "export.ndjson")
	code, _, errs = runCLI("export", "--data", dir, "-o", exported)
	require.Equal(t, exitOK, code, errs)
	lines := strings.Split(strings.TrimSuffix(string(mustReadFile(t, exported)), "\n"), "\n")
	require.GreaterOrEqual(t, len(lines), int(v.Report.Head))
	assert.Equal(t, eventsPage(t, srv.url, 1, uint64(len(lines))), lines, "the export is the server's log, up to its position")

	code, out, errs = runCLI("stats", "--data", dir, "--format", "json")
	require.Equal(t, exitOK, code, errs)
	var st struct {
		AsOf uint64 `json:"as_of"`
		Rows []struct {
			Count int `json:"count"`
		} `json:"rows"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.GreaterOrEqual(t, st.AsOf, uint64(len(lines)))
	registered := 0
	for _, l := range eventsPage(t, srv.url, 1, st.AsOf) {
		if strings.Contains(l, `"type":"ContractRegistered"`) {
			registered++
		}
	}
	require.Len(t, st.Rows, 1)
	assert.LessOrEqual(t, st.Rows[0].Count, registered, "stats count contracts registered in its prefix")

	code, out, errs = runCLI("replay", "--dry-run", "--data", dir)
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, out, "no snapshot written (--dry-run)")

	var id string
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &struct {
		Stream *string `json:"stream"`
	}{&id}))
	code, _, errs = runCLI("history", "--data", dir, strings.TrimPrefix(id, "contract-"))
	require.Equal(t, exitOK, code, errs)

	// Backup during writes.
	bdir := filepath.Join(t.TempDir(), "backup")
	code, out, errs = runCLI("backup", "--data", dir, "--to", bdir, "--format", "json")
	require.Equal(t, exitOK, code, "%s %s", out, errs)
	var b1 struct {
		Position uint64 `json:"position"`
		HeadHash string `json:"head_hash"`
		Copied   int64  `json:"copied"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &b1))
	first := filepath.Join(t.TempDir(), "backup1")
	require.NoError(t, os.CopyFS(first, os.DirFS(bdir)))
	require.Eventually(t, func() bool { return acked.Load() >= int64(b1.Position)+100 }, 30*time.Second, 10*time.Millisecond)
	code, out, errs = runCLI("backup", "--data", dir, "--to", bdir, "--format", "json")
	require.Equal(t, exitOK, code, "%s %s", out, errs)
	var b2 struct {
		Position uint64 `json:"position"`
		Copied   int64  `json:"copied"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &b2))
	require.Greater(t, b2.Position, b1.Position)
	assert.Less(t, b2.Copied, b1.Copied+b2.Copied, "the second backup copies only the new part")
	close(stop)
	wait()

	restored := filepath.Join(t.TempDir(), "restored")
	code, out, errs = runCLI("restore", "--from", first, "--data", restored)
	require.Equal(t, exitOK, code, "%s %s", out, errs)
	assert.Contains(t, out, fmt.Sprintf("position %d, head hash %s", b1.Position, b1.HeadHash))
	code, out, errs = runCLI("verify", "--data", restored)
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, out, fmt.Sprintf("head position %d, head hash %s", b1.Position, b1.HeadHash))
	code, out, _ = runCLI("export", "--data", restored)
	require.Equal(t, exitOK, code)
	assert.Equal(t, strings.Join(eventsPage(t, srv.url, 1, b1.Position), "\n")+"\n", out, "the restored log is the source's up to the backup's position")
	for _, name := range segmentNames(t, restored) { // and its segments are the source's bytes
		src, got := mustReadFile(t, filepath.Join(dir, name)), mustReadFile(t, filepath.Join(restored, name))
		require.LessOrEqual(t, len(got), len(src))
		require.True(t, bytes.Equal(src[:len(got)], got), "segment %s", name)
	}
	code, _, errs = runCLI("restore", "--from", first, "--data", restored)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errs, "not empty")
}

func segmentNames(tb testing.TB, dir string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(tb, err)
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func mustReadFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	require.NoError(tb, err)
	return b
}

// TestOps_Follow runs `serve` under load and `follow` on it: once the follower reports no
// lag in its /metrics, its /v1/events are the primary's, byte for byte, at the same
// position; it refuses commands; stopping it exits 0.
func TestOps_Follow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary: skipped under -short")
	}
	bin := buildTechledger(t)
	srv := startServe(t, bin, filepath.Join(t.TempDir(), "data"))
	stop := make(chan struct{})
	acked, wait := loadServe(t, srv.url, stop)
	require.Eventually(t, func() bool { return acked.Load() >= 100 }, 30*time.Second, 10*time.Millisecond)

	addr, err := freeLoopbackAddr()
	require.NoError(t, err)
	fdir := filepath.Join(t.TempDir(), "replica")
	ctx, cancel := context.WithCancel(context.Background())
	var fout, ferr bytes.Buffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"follow", "--url", srv.url, "--data", fdir, "--addr", addr, "--poll", "20ms"}, &fout, &ferr)
	}()
	furl := "http://" + addr
	require.NoError(t, waitHealthy(context.Background(), furl, exited))
	time.Sleep(200 * time.Millisecond) // some following while the primary appends
	close(stop)
	wait()
	head := serveHead(t, http.DefaultClient, srv.url)
	require.Eventually(t, func() bool {
		m := followMetrics(t, furl)
		return m["techledger_follow_lag_records"] == 0 && m["techledger_follow_local_head"] == float64(head)
	}, 30*time.Second, 20*time.Millisecond, "%s", ferr.String())
	assert.Equal(t, eventsPage(t, srv.url, 1, head), eventsPage(t, furl, 1, head), "the follower holds the primary's log")
	assert.Equal(t, head, serveHead(t, http.DefaultClient, furl))

	resp, err := http.Post(furl+"/v1/commands", "application/json", strings.NewReader(register))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	cancel()
	assert.Equal(t, exitOK, <-exited, ferr.String())
	assert.Contains(t, fout.String(), fmt.Sprintf("follow stopped at position %d", head))
	code, out, errs := runCLI("verify", "--data", fdir)
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, out, fmt.Sprintf("head position %d", head))
}

func followMetrics(tb testing.TB, url string) map[string]float64 {
	tb.Helper()
	resp, err := http.Get(url + "/metrics")
	require.NoError(tb, err)
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.HasPrefix(f[0], "techledger_follow_") {
			m[f[0]], _ = strconv.ParseFloat(f[1], 64)
		}
	}
	return m
}

// TestOps_FollowRefusesTampered follows a primary that serves one record altered (its data
// changed): follow stops with exit 1 naming the position, and the copy holds only what
// chains before it.
func TestOps_FollowRefusesTampered(t *testing.T) {
	dir := importSample(t, 30)
	code, out, _ := runCLI("export", "--data", dir)
	require.Equal(t, exitOK, code)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	const bad = 17
	lines[bad-1] = strings.Replace(lines[bad-1], `"data":{`, `"data":{"altered":true,`, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":"ok","head":%d}`, len(lines))
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		from, _ := strconv.Atoi(r.URL.Query().Get("from"))
		for _, l := range lines[from-1:] {
			fmt.Fprintln(w, l)
		}
	})
	fake := httptest.NewServer(mux)
	defer fake.Close()
	fdir := filepath.Join(t.TempDir(), "replica")
	code, _, errs := runCLI("follow", "--url", fake.URL, "--data", fdir, "--poll", "10ms")
	require.Equal(t, exitRejected, code, errs)
	assert.Contains(t, errs, fmt.Sprintf("position %d", bad))
	code, out, _ = runCLI("verify", "--data", fdir)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, fmt.Sprintf("head position %d,", bad-1), "the copy keeps what chains before the bad record")
}
