package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger/filestore"
	"techledger/projections"
)

// heapNow returns the live heap after a full collection.
func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// rssNow returns the process's resident set (VmRSS), in bytes: it counts the pages of
// mapped files that were read, which the heap does not.
func rssNow(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func fileSize(t *testing.T, name string) float64 {
	fi, err := os.Stat(name)
	require.NoError(t, err)
	return mib(uint64(fi.Size()))
}

// TestScale_Components measures what each component of a serving process holds on the heap
// and in its resident set for the store in TECHLEDGER_SCALE_DIR (built by commands'
// TestBuildScaleStore, then served once so that the index checkpoint, the command index
// and the snapshots are saved), and how long each takes to load, as serve loads them: the
// filestore index (mapped), the command index (mapped), the projections and the search.
// It is skipped unless that variable is set. Figures in docs/operations.md.
func TestScale_Components(t *testing.T) {
	dir := os.Getenv("TECHLEDGER_SCALE_DIR")
	if dir == "" {
		t.Skip("TECHLEDGER_SCALE_DIR not set: measures a store of a million contracts by hand")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	snap := filepath.Join(dir, "projections")
	step := func(what string, start time.Time, heap0, rss0 uint64, file string) (uint64, uint64) {
		heap, rss := heapNow(), rssNow(t)
		size := ""
		if file != "" {
			size = fmt.Sprintf(", file %.1f MiB", fileSize(t, file))
		}
		t.Logf("%s: heap %+.1f MiB, resident %+.1f MiB%s, loaded in %s", what, mib(heap)-mib(heap0), mib(rss)-mib(rss0), size, time.Since(start).Round(time.Millisecond))
		return heap, rss
	}
	heap, rss := heapNow(), rssNow(t)
	start := time.Now()
	s, err := filestore.OpenReadOnly(dir, filestore.Options{Logger: quiet})
	require.NoError(t, err)
	defer s.Close()
	head, _ := s.Head(ctx)
	t.Logf("%d records", head)
	heap, rss = step("filestore index", start, heap, rss, filepath.Join(dir, "INDEX"))

	start = time.Now()
	h := commands.NewHandler(s)
	var logs strings.Builder
	_, err = warmHandler(ctx, h, snap, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	require.Contains(t, logs.String(), "command index loaded")
	heap, rss = step("command index", start, heap, rss, filepath.Join(snap, commandIndexFile))

	start = time.Now()
	r := projections.NewRunner(s, projections.RunnerOptions{Options: projections.Options{HomeProvince: projections.DefaultHomeProvince}, SnapshotDir: snap, SnapshotReadOnly: true, Logger: quiet})
	require.NoError(t, r.Start(ctx))
	heap, rss = step("projections", start, heap, rss, filepath.Join(snap, projections.SnapshotFile))

	start = time.Now()
	search := projections.NewSearchRunner(s, projections.SearchRunnerOptions{SnapshotDir: snap, Logger: quiet})
	require.NoError(t, search.Start(ctx))
	step("search", start, heap, rss, filepath.Join(snap, projections.SearchSnapshotFile))
	t.Logf("contract cache: bounded by ContractCacheBytesMax = %.0f MiB", mib(commands.ContractCacheBytesMax))
	runtime.KeepAlive(h)
	runtime.KeepAlive(r)
	runtime.KeepAlive(search)
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
