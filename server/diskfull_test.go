package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger/filestore"
	"techledger/ledger/filestore/faultfs"
	"techledger/projections"
)

// diskFullServer serves the API (no authentication) over a filestore on fsys.
func diskFullServer(t *testing.T, dir string, fsys filestore.FS, logs *testBuffer) (*httptest.Server, *filestore.Store) {
	t.Helper()
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	s, err := filestore.Open(dir, filestore.Options{FS: fsys, Logger: logger, NoSpaceRetry: time.Nanosecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	proj := projections.NewRunner(s, projections.RunnerOptions{Logger: logger})
	require.NoError(t, proj.Start(ctx))
	a := New(Config{Store: s, Commands: commands.NewHandler(s), Projections: proj, Logger: logger})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv, s
}

func payment(n int) string {
	return fmt.Sprintf(`{"command":"record_payment","command_id":"pay-%d","contract_id":"2023140101000123","payment_id":"P-%d","amount":"1.00","paid_on":"2023-06-30"}`, n, n)
}

// countLines counts the log lines whose message is msg.
func countLines(logs *testBuffer, msg string) int {
	return strings.Count(logs.String(), `"msg":"`+msg+`"`)
}

// TestAPI_DiskFull runs the server end to end over the fault-injecting file system: with
// the disk full, commands answer 507 naming the cause and append nothing, reads go on,
// the incident is logged once; once space is freed the same commands are applied (not
// duplicates: nothing of them was written), and the log verifies, also after a crash.
func TestAPI_DiskFull(t *testing.T) {
	fsys := faultfs.New(faultfs.Config{})
	logs := &testBuffer{}
	srv, store := diskFullServer(t, "/data", fsys.Proc(), logs)
	status, _ := post(t, srv, register)
	require.Equal(t, http.StatusCreated, status)
	status, _ = post(t, srv, payment(1))
	require.Equal(t, http.StatusCreated, status)

	fsys.SetCapacity(fsys.Used() + 100) // less than a payment's frame
	for n := 2; n <= 4; n++ {
		status, body := post(t, srv, payment(n))
		require.Equal(t, http.StatusInsufficientStorage, status, "%v", body)
		require.Equal(t, "storage full", body["title"])
		require.Contains(t, body["detail"], "storage full")
		require.Contains(t, body["detail"], "not recorded")
	}
	require.Equal(t, 1, countLines(logs, "commands refused: the storage is full"), logs.String())
	require.Equal(t, 1, countLines(logs, "filestore: storage full, appends are refused until space is freed"))

	resp, err := http.Get(srv.URL + "/v1/contracts/2023140101000123")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "reads go on")
	requireVerified(t, srv, 2)

	fsys.SetCapacity(0) // space is freed
	for n := 2; n <= 4; n++ {
		status, body := post(t, srv, payment(n))
		require.Equal(t, http.StatusCreated, status, "%v", body)
		require.Equal(t, "applied", body["status"])
	}
	status, body := post(t, srv, payment(2))
	require.Equal(t, http.StatusOK, status, "a retry now is a duplicate: %v", body)
	require.Equal(t, 1, countLines(logs, "commands accepted again: the storage has space"))
	require.Equal(t, 1, countLines(logs, "filestore: appends resumed after the storage was full"))
	requireVerified(t, srv, 5)

	require.NoError(t, store.Close())
	fsys.Crash()
	s, err := filestore.Open("/data", filestore.Options{FS: fsys.Proc()})
	require.NoError(t, err)
	defer s.Close()
	rep, err := s.Verify(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(5), rep.Records)
}

// requireVerified checks GET /v1/verify: ok, with records records.
func requireVerified(t *testing.T, srv *httptest.Server, records int) {
	t.Helper()
	resp, err := http.Get(srv.URL + "/v1/verify")
	require.NoError(t, err)
	defer resp.Body.Close()
	var v struct {
		OK     bool `json:"ok"`
		Report struct {
			Records int `json:"records"`
		} `json:"report"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	require.True(t, v.OK)
	require.Equal(t, records, v.Report.Records)
}

// TestAPI_DiskFullOnTmpfs is TestAPI_DiskFull on a real, small file system: a tmpfs of
// 1 MiB mounted for the test (which needs root; otherwise it skips), filled with commands
// until the kernel answers ENOSPC, then grown (remount) to free space.
func TestAPI_DiskFullOnTmpfs(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a file system")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	require.NoError(t, os.Mkdir(mnt, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a 1 MiB tmpfs (needs root): %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	logs := &testBuffer{}
	srv, store := diskFullServer(t, filepath.Join(mnt, "data"), filestore.OSFS{}, logs)
	status, _ := post(t, srv, register)
	require.Equal(t, http.StatusCreated, status)
	applied := 0
	var refused []int
	for n := 1; n < 20000 && len(refused) < 3; n++ {
		status, body := post(t, srv, payment(n))
		switch status {
		case http.StatusCreated:
			applied++
		case http.StatusInsufficientStorage:
			refused = append(refused, n)
		default:
			t.Fatalf("payment %d: %d %v", n, status, body)
		}
	}
	require.Len(t, refused, 3, "the disk never filled")
	require.Equal(t, 1, countLines(logs, "commands refused: the storage is full"))
	requireVerified(t, srv, 1+applied)

	out, err := exec.Command("mount", "-o", "remount,size=4m", mnt).CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, n := range refused {
		status, body := post(t, srv, payment(n))
		require.Equal(t, http.StatusCreated, status, "%v", body)
	}
	requireVerified(t, srv, 1+applied+len(refused))
	require.NoError(t, store.Close())
	t.Logf("%d payments applied before the 1 MiB tmpfs filled, %d refused with 507 and applied once it was grown", applied, len(refused))
}
