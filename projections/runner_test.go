package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/internal/sample"
	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/memstore"
)

// queries are the reports the tests compare between two States.
var queries = []StatsQuery{
	{},
	{By: []string{"type"}},
	{By: []string{"year", "flow"}},
	{By: []string{"seller_city", "field", "quarter"}},
	{By: []string{"buyer_province", "subtype"}, From: ledger.Date{Year: 2021, Month: 2, Day: 10}, To: ledger.Date{Year: 2023, Month: 5, Day: 20}},
}

// reports renders every report of st as JSON, for comparing States.
func reports(t testing.TB, st *State) string {
	t.Helper()
	var b strings.Builder
	for _, q := range queries {
		rep, err := st.Stats(q)
		require.NoError(t, err)
		out, err := json.Marshal(rep)
		require.NoError(t, err)
		b.Write(out)
		b.WriteByte('\n')
	}
	for _, q := range []RewardsQuery{{}, {Year: 2022}, {Institution: "太原理工大学"}} {
		rep, err := st.Rewards(q)
		require.NoError(t, err)
		out, err := json.Marshal(rep)
		require.NoError(t, err)
		b.Write(out)
		b.WriteByte('\n')
	}
	out, err := json.Marshal(st.Flags())
	require.NoError(t, err)
	b.Write(out)
	return b.String()
}

func fold(t testing.TB, log Reader, to ledger.Position) *State {
	t.Helper()
	st := NewState(Options{})
	require.NoError(t, Replay(context.Background(), log, st, to))
	return st
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestSnapshot_RoundTrip: a State read back from its snapshot answers every query as the
// original, and folding the rest of the log onto it gives what a fold from nothing gives.
func TestSnapshot_RoundTrip(t *testing.T) {
	log := smallSample(t)
	head, err := log.Head(context.Background())
	require.NoError(t, err)
	mid := head / 2
	st := fold(t, log, mid)
	var buf bytes.Buffer
	require.NoError(t, st.WriteSnapshot(&buf))
	back, err := ReadSnapshot(buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, st.Position(), back.Position())
	assert.Equal(t, st.Hash(), back.Hash())
	assert.True(t, st.RecordedAt().Equal(back.RecordedAt()))
	assert.Equal(t, reports(t, st), reports(t, back))

	require.NoError(t, Replay(context.Background(), log, back, 0))
	assert.Equal(t, reports(t, fold(t, log, 0)), reports(t, back))
}

// TestSnapshot_Damaged: every flipped byte and every truncation is refused, never read as
// a wrong State.
func TestSnapshot_Damaged(t *testing.T) {
	st := fold(t, smallSample(t), 300)
	var buf bytes.Buffer
	require.NoError(t, st.WriteSnapshot(&buf))
	good := buf.Bytes()
	for i := 0; i < len(good); i += 1 + len(good)/500 {
		bad := bytes.Clone(good)
		bad[i] ^= 0x40
		_, err := ReadSnapshot(bad)
		require.ErrorIs(t, err, ErrSnapshotCorrupt, "byte %d flipped", i)
		_, err = ReadSnapshot(good[:i])
		require.ErrorIs(t, err, ErrSnapshotCorrupt, "cut at %d", i)
	}
}

// TestRunner_SnapshotMustMatchLog: a snapshot taken from another log (same positions,
// other records) is ignored with a log line; the Runner then replays from nothing.
func TestRunner_SnapshotMustMatchLog(t *testing.T) {
	dir := t.TempDir()
	other := sampleLog(t, sample.Config{Seed: 99, Contracts: 150})
	r := NewRunner(other, RunnerOptions{SnapshotDir: dir, Logger: quiet()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, r.Start(ctx))
	require.NoError(t, r.Snapshot())

	log := smallSample(t)
	var logged bytes.Buffer
	r2 := NewRunner(log, RunnerOptions{SnapshotDir: dir, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	require.NoError(t, r2.Start(ctx))
	assert.Contains(t, logged.String(), "projections snapshot ignored: the log's record at its position has another hash")
	var got string
	require.NoError(t, r2.Read(func(st *State) error { got = reports(t, st); return nil }))
	assert.Equal(t, reports(t, fold(t, log, 0)), got)
}

// TestRunner_RestartFromSnapshot: a restart loads the snapshot (and says so), replays only
// what follows it, and ends where a fold from nothing ends.
func TestRunner_RestartFromSnapshot(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf bytes.Buffer
	_, err := sample.Write(&buf, sample.Config{Seed: 3, Contracts: 200})
	require.NoError(t, err)
	lines := strings.SplitAfter(buf.String(), "\n")
	half := strings.Join(lines[:len(lines)/2], "")
	rest := strings.Join(lines[len(lines)/2:], "")

	dir := t.TempDir()
	fs, err := filestore.Open(filepath.Join(dir, "log"), filestore.Options{})
	require.NoError(t, err)
	h := commands.NewHandler(fs)
	who := commands.Actor{Name: "test", Role: "registrar"}
	_, err = commands.Import(ctx, strings.NewReader(half), h, who, nil)
	require.NoError(t, err)
	r := NewRunner(fs, RunnerOptions{SnapshotDir: dir, Logger: quiet()})
	require.NoError(t, r.Start(ctx))
	require.NoError(t, r.Snapshot())
	snapAt := r.Position()
	_, err = commands.Import(ctx, strings.NewReader(rest), h, who, nil)
	require.NoError(t, err)
	require.NoError(t, fs.Close())

	fs, err = filestore.Open(filepath.Join(dir, "log"), filestore.Options{})
	require.NoError(t, err)
	defer fs.Close()
	var logged bytes.Buffer
	r2 := NewRunner(fs, RunnerOptions{SnapshotDir: dir, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	require.NoError(t, r2.Start(ctx))
	assert.Contains(t, logged.String(), "projections snapshot loaded")
	assert.Contains(t, logged.String(), "position="+itoa(snapAt))
	head, err := fs.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, head, r2.Position())
	var got string
	require.NoError(t, r2.Read(func(st *State) error { got = reports(t, st); return nil }))
	assert.Equal(t, reports(t, fold(t, fs, 0)), got)

	// A snapshot is written only when the State moved past the one on disk.
	logged.Reset()
	require.NoError(t, r2.Snapshot())
	assert.Contains(t, logged.String(), "projections snapshot written")
	logged.Reset()
	require.NoError(t, r2.Snapshot())
	assert.NotContains(t, logged.String(), "projections snapshot written")
}

func itoa(p ledger.Position) string { return strconv.FormatUint(uint64(p), 10) }

// TestRunner_FollowsAppends: records appended after Start reach the live State, and as-of
// queries answer for past positions and times as a fold of that prefix does.
func TestRunner_FollowsAppends(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf bytes.Buffer
	_, err := sample.Write(&buf, sample.Config{Seed: 5, Contracts: 150})
	require.NoError(t, err)
	lines := strings.SplitAfter(buf.String(), "\n")
	s := memstore.New()
	h := commands.NewHandler(s)
	who := commands.Actor{Name: "test", Role: "registrar"}
	_, err = commands.Import(ctx, strings.NewReader(strings.Join(lines[:100], "")), h, who, nil)
	require.NoError(t, err)

	r := NewRunner(s, RunnerOptions{Logger: quiet()})
	require.NoError(t, r.Start(ctx))
	assert.Equal(t, ledger.Position(100), r.Position())
	// Query now, so that the aggregates exist and the fold must keep them current through
	// the registrations, amendments, payments and revocations that follow.
	require.NoError(t, r.Read(func(st *State) error { reports(t, st); return nil }))
	_, err = commands.Import(ctx, strings.NewReader(strings.Join(lines[100:], "")), h, who, nil)
	require.NoError(t, err)
	head, err := s.Head(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.Position() == head }, 10*time.Second, time.Millisecond)
	lag, err := r.Lag(ctx)
	require.NoError(t, err)
	assert.Zero(t, lag)
	var got string
	require.NoError(t, r.Read(func(st *State) error { got = reports(t, st); return nil }))
	assert.Equal(t, reports(t, fold(t, s, 0)), got)

	for _, pos := range []ledger.Position{1, 57, 100, head - 1, head} {
		st, err := r.AsOf(ctx, pos)
		require.NoError(t, err)
		assert.Equal(t, pos, st.Position())
		assert.Equal(t, reports(t, fold(t, s, pos)), reports(t, st), "as of %d", pos)
	}
	_, err = r.AsOf(ctx, head+1)
	assert.ErrorContains(t, err, "the log ends at")

	var at []time.Time
	for rec, err := range s.ReadAll(ctx, 1) {
		require.NoError(t, err)
		at = append(at, rec.RecordedAt)
	}
	st, err := r.AsOfTime(ctx, at[79])
	require.NoError(t, err)
	want := ledger.Position(80)
	for want < head && !at[want].After(at[79]) { // records recorded in the same instant
		want++
	}
	assert.Equal(t, want, st.Position())
	st, err = r.AsOfTime(ctx, at[0].Add(-time.Second))
	require.NoError(t, err)
	assert.Zero(t, st.Position())
}

// TestFold_SameOnEveryBackend: the same commands imported into the memstore and the
// filestore give byte-identical reports.
func TestFold_SameOnEveryBackend(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	_, err := sample.Write(&buf, sample.Config{Seed: 11, Contracts: 200})
	require.NoError(t, err)
	fs, err := filestore.Open(t.TempDir(), filestore.Options{SegmentBytes: 64 << 10})
	require.NoError(t, err)
	defer fs.Close()
	ms := memstore.New()
	for _, s := range []commands.Log{fs, ms} {
		_, err := commands.Import(ctx, bytes.NewReader(buf.Bytes()), commands.NewHandler(s), commands.Actor{Name: "test", Role: "registrar"}, nil)
		require.NoError(t, err)
	}
	assert.Equal(t, reports(t, fold(t, ms, 0)), reports(t, fold(t, fs, 0)))
}

// TestRunner_SnapshotReadOnly checks that a runner with SnapshotReadOnly loads the
// snapshot but writes none, even when it folded past it (SnapshotEvery included).
func TestRunner_SnapshotReadOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf bytes.Buffer
	_, err := sample.Write(&buf, sample.Config{Seed: 4, Contracts: 40})
	require.NoError(t, err)
	lines := strings.SplitAfter(buf.String(), "\n")
	dir := t.TempDir()
	fs, err := filestore.Open(filepath.Join(dir, "log"), filestore.Options{})
	require.NoError(t, err)
	defer fs.Close()
	h := commands.NewHandler(fs)
	who := commands.Actor{Name: "test", Role: "registrar"}
	_, err = commands.Import(ctx, strings.NewReader(strings.Join(lines[:len(lines)/2], "")), h, who, nil)
	require.NoError(t, err)
	r := NewRunner(fs, RunnerOptions{SnapshotDir: dir, Logger: quiet()})
	require.NoError(t, r.Start(ctx))
	require.NoError(t, r.Snapshot())
	before := mustReadFile(t, filepath.Join(dir, SnapshotFile))
	_, err = commands.Import(ctx, strings.NewReader(strings.Join(lines[len(lines)/2:], "")), h, who, nil)
	require.NoError(t, err)

	var logged bytes.Buffer
	ro := NewRunner(fs, RunnerOptions{SnapshotDir: dir, SnapshotReadOnly: true, SnapshotEvery: 1, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	require.NoError(t, ro.Start(ctx))
	assert.Contains(t, logged.String(), "projections snapshot loaded")
	require.NoError(t, ro.Snapshot())
	head, _ := fs.Head(ctx)
	assert.Equal(t, head, ro.Position())
	assert.Equal(t, before, mustReadFile(t, filepath.Join(dir, SnapshotFile)), "no snapshot written")
}

func mustReadFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return b
}
