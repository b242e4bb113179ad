package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runNATS starts a JetStream server in-process (file storage, sync on every write) and
// returns its client URL.
func runNATS(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		SyncAlways: true, NoLog: true, NoSigs: true,
	})
	require.NoError(t, err)
	go s.Start()
	require.True(t, s.ReadyForConnections(10*time.Second), "nats-server did not start")
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s.ClientURL()
}

// TestCLI_SameNumbersOnJetStream imports the same commands into the filestore and into
// JetStream, and checks that stats and rewards print byte-identical JSON from both, and
// that verify passes on both.
func TestCLI_SameNumbersOnJetStream(t *testing.T) {
	ctx := context.Background()
	raw, err := os.ReadFile("../../testdata/sample.ndjson")
	require.NoError(t, err)
	lines := strings.SplitAfter(string(raw), "\n")
	in := filepath.Join(t.TempDir(), "in.ndjson")
	require.NoError(t, os.WriteFile(in, []byte(strings.Join(lines[:1500], "")), 0o644))

	file := []string{"--data", t.TempDir()}
	nats := []string{"--store", runNATS(t) + "/LEDGER"}
	var out, errb bytes.Buffer
	// --file-order: the same events at the same positions on both, so as-of figures agree.
	for _, where := range [][]string{file, nats} {
		out.Reset()
		require.Equal(t, exitOK, run(ctx, append([]string{"import", "--file-order"}, append(where, in)...), &out, &errb), errb.String())
		assert.Contains(t, out.String(), "applied 1500, duplicates 0, rejected 0, last position 1500")
	}
	for _, args := range [][]string{
		{"stats", "--format", "json"},
		{"stats", "--by", "year,type,seller_city", "--format", "json"},
		{"stats", "--by", "flow", "--as-of", "700", "--format", "json"},
		{"rewards", "--format", "json"},
		{"rewards", "--year", "2020", "--format", "json"},
		{"verify"},
	} {
		var got [2]string
		for i, where := range [][]string{file, nats} {
			out.Reset()
			errb.Reset()
			require.Equal(t, exitOK, run(ctx, append(append([]string{}, args...), where...), &out, &errb), "%v %v: %s", args, where, errb.String())
			got[i] = out.String()
		}
		if args[0] == "verify" {
			for _, g := range got {
				assert.Contains(t, g, "OK: 1500 records")
			}
			continue
		}
		assert.Equal(t, got[0], got[1], "%v", args)
		assert.Contains(t, got[0], `"rows":[{`, "%v: a report with rows", args)
	}

	// Snapshots for a store other than the embedded one are kept only with --snapshots.
	out.Reset()
	require.Equal(t, exitOK, run(ctx, append([]string{"replay"}, nats...), &out, &errb), errb.String())
	assert.Contains(t, out.String(), "no snapshot written (give --snapshots DIR)")
	snaps := t.TempDir()
	out.Reset()
	require.Equal(t, exitOK, run(ctx, append([]string{"replay", "--snapshots", snaps}, nats...), &out, &errb), errb.String())
	assert.Contains(t, out.String(), "snapshot written to "+snaps)
	fi, err := os.Stat(filepath.Join(snaps, "projections.snap"))
	require.NoError(t, err)
	assert.Positive(t, fi.Size())
	var fromSnap [2]string
	for i, where := range [][]string{file, append([]string{"--snapshots", snaps}, nats...)} {
		out.Reset()
		require.Equal(t, exitOK, run(ctx, append([]string{"stats", "--by", "quarter,field", "--format", "json"}, where...), &out, &errb), errb.String())
		fromSnap[i] = out.String()
	}
	assert.Equal(t, fromSnap[0], fromSnap[1], "the same numbers from JetStream started from its snapshot")
}
