package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
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

// TestScale_Components measures what each component of a serving process holds on the heap
// for the store in TECHLEDGER_SCALE_DIR (built by commands' TestBuildScaleStore, then
// served once so that the projections snapshot and the command index are saved), and how
// long each takes to load: the filestore index, the command index, the projections. It is
// skipped unless that variable is set. Figures in docs/operations.md.
func TestScale_Components(t *testing.T) {
	dir := os.Getenv("TECHLEDGER_SCALE_DIR")
	if dir == "" {
		t.Skip("TECHLEDGER_SCALE_DIR not set: measures a store of a million contracts by hand")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	base := heapNow()
	start := time.Now()
	s, err := filestore.OpenReadOnly(dir, filestore.Options{Logger: quiet})
	require.NoError(t, err)
	defer s.Close()
	head, _ := s.Head(ctx)
	afterStore := heapNow()
	t.Logf("filestore index: %d records, %.1f MiB, opened in %s", head, mib(afterStore-base), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	h := commands.NewHandler(s)
	f, err := os.Open(filepath.Join(dir, "projections", commandIndexFile))
	require.NoError(t, err)
	pos, err := h.LoadIndex(ctx, f)
	f.Close()
	require.NoError(t, err)
	require.NoError(t, h.CatchUp(ctx))
	afterIndex := heapNow()
	t.Logf("command index: saved at %d, %.1f MiB, loaded and caught up in %s", pos, mib(afterIndex-afterStore), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	r := projections.NewRunner(s, projections.RunnerOptions{Options: projections.Options{HomeProvince: projections.DefaultHomeProvince}, SnapshotDir: filepath.Join(dir, "projections"), SnapshotReadOnly: true, Logger: quiet})
	require.NoError(t, r.Start(ctx))
	afterProj := heapNow()
	t.Logf("projections: %.1f MiB, started in %s", mib(afterProj-afterIndex), time.Since(start).Round(time.Millisecond))
	t.Logf("contract cache: bounded by ContractCacheBytesMax = %.0f MiB", mib(commands.ContractCacheBytesMax))
	runtime.KeepAlive(h)
	runtime.KeepAlive(r)
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
