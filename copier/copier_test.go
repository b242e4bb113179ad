package copier_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/copier"
	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/jetstream"
	"techledger/ledger/memstore"
	"techledger/ledger/storetest"
	"techledger/projections"
)

var ctx = context.Background()

// sampleLog returns a filestore holding the first n commands of testdata/sample.ndjson.
func sampleLog(t *testing.T, n int) *filestore.Store {
	t.Helper()
	fs, err := filestore.Open(t.TempDir(), filestore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { fs.Close() })
	f, err := os.Open("../testdata/sample.ndjson")
	require.NoError(t, err)
	defer f.Close()
	var b bytes.Buffer
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for i := 0; i < n && sc.Scan(); i++ {
		b.Write(sc.Bytes())
		b.WriteByte('\n')
	}
	require.NoError(t, sc.Err())
	sum, err := commands.Import(ctx, &b, commands.NewHandler(fs), commands.Actor{Name: "importer", Role: "registrar"}, nil)
	require.NoError(t, err)
	require.Zero(t, sum.Rejected)
	return fs
}

// runNATS starts an embedded nats-server (file storage, sync always) and returns a connection.
func runNATS(t *testing.T) *nats.Conn {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), SyncAlways: true, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go srv.Start()
	require.True(t, srv.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// built returns what the projections make of a log: the snapshot of their whole state and
// the rewards report, as bytes.
func built(t *testing.T, s ledger.Store) []byte {
	t.Helper()
	st := projections.NewState(projections.Options{})
	head, err := s.Head(ctx)
	require.NoError(t, err)
	require.NoError(t, projections.Replay(ctx, s, st, head))
	var b bytes.Buffer
	require.NoError(t, st.WriteSnapshot(&b))
	rep, err := st.Rewards(projections.RewardsQuery{})
	require.NoError(t, err)
	j, err := json.Marshal(rep)
	require.NoError(t, err)
	return append(b.Bytes(), j...)
}

// TestCopy_Chain moves a ledger filestore -> JetStream -> memstore and JetStream -> filestore,
// interrupting the first copy in the middle and resuming it. Every
// store ends with the source's records, head and head hash, and the projections built on each
// are byte-identical to the source's.
func TestCopy_Chain(t *testing.T) {
	src := sampleLog(t, 300)
	srcHead, err := src.Head(ctx)
	require.NoError(t, err)
	require.Greater(t, srcHead, ledger.Position(200))
	want := built(t, src)

	js, err := jetstream.New(ctx, runNATS(t), jetstream.Config{Stream: "COPY"})
	require.NoError(t, err)
	defer js.Close()

	// Interrupted: cancel after the second batch.
	cctx, cancel := context.WithCancel(ctx)
	batches := 0
	_, err = copier.Copy(cctx, src, js, copier.Options{BatchRecords: 64, Progress: func(done, total ledger.Position) {
		if batches++; batches == 2 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	mid, err := js.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, ledger.Position(128), mid, "two batches were copied before the interruption")

	rep, err := copier.Copy(ctx, src, js, copier.Options{BatchRecords: 64})
	require.NoError(t, err)
	assert.Equal(t, mid, rep.Resumed)
	assert.Equal(t, uint64(srcHead-mid), rep.Copied)
	assert.Equal(t, srcHead, rep.Target.Head)
	assert.Equal(t, rep.Source.HeadHash, rep.Target.HeadHash)
	assert.Equal(t, want, built(t, js))

	mem := memstore.New()
	rep, err = copier.Copy(ctx, js, mem, copier.Options{})
	require.NoError(t, err)
	assert.Equal(t, rep.Source, rep.Target)
	assert.Equal(t, want, built(t, mem))
	requireSameLog(t, src, mem)

	// A second run on a complete copy copies nothing and verifies again.
	rep, err = copier.Copy(ctx, js, mem, copier.Options{})
	require.NoError(t, err)
	assert.Zero(t, rep.Copied)

	back, err := filestore.Open(t.TempDir(), filestore.Options{})
	require.NoError(t, err)
	defer back.Close()
	rep, err = copier.Copy(ctx, js, back, copier.Options{})
	require.NoError(t, err)
	assert.Equal(t, rep.Source, rep.Target)
	assert.Equal(t, want, built(t, back))
	requireSameLog(t, src, back)
}

func requireSameLog(t *testing.T, a, b ledger.Store) {
	t.Helper()
	x, y := storetest.Collect(t, a.ReadAll(ctx, 1)), storetest.Collect(t, b.ReadAll(ctx, 1))
	require.Equal(t, len(x), len(y))
	for i := range x {
		require.Equal(t, x[i].Hash, y[i].Hash)
		require.Equal(t, x[i].RecordedAt.UnixNano(), y[i].RecordedAt.UnixNano())
		require.Equal(t, x[i].Metadata, y[i].Metadata)
	}
}

// TestCopy_Refuses: a target holding another ledger, or more than the source, or unable to
// append copied records, is refused and left as it was.
func TestCopy_Refuses(t *testing.T) {
	src := memstore.New()
	require.NoError(t, src.AppendRecords(ctx, storetest.SealedLog(10)))

	other := memstore.New()
	require.NoError(t, other.AppendRecords(ctx, storetest.SealedLog(3)))
	_, err := copier.Copy(ctx, src, other, copier.Options{})
	require.ErrorIs(t, err, copier.ErrMismatch)
	h, _ := other.Head(ctx)
	assert.Equal(t, ledger.Position(3), h, "nothing copied")

	ahead := memstore.New()
	require.NoError(t, ahead.AppendRecords(ctx, storetest.SealedLog(11)))
	_, err = copier.Copy(ctx, src, ahead, copier.Options{})
	require.ErrorIs(t, err, copier.ErrMismatch)

	_, err = copier.Copy(ctx, src, readOnly{memstore.New()}, copier.Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot append copied records")

	_, err = copier.Copy(ctx, src, memstore.New(), copier.Options{BatchRecords: copier.BatchRecordsMax + 1})
	require.Error(t, err)

	// A source whose log does not verify is not copied past the bad record.
	bad := memstore.New()
	require.NoError(t, bad.AppendRecords(ctx, storetest.SealedLog(10)))
	bad.Tamper(5, []byte(`{"n":-1}`))
	dst := memstore.New()
	_, err = copier.Copy(ctx, bad, dst, copier.Options{BatchRecords: 2})
	require.True(t, errors.Is(err, ledger.ErrCorrupt), "got %v", err)
	h, _ = dst.Head(ctx)
	assert.Equal(t, ledger.Position(4), h, "the records before the bad one were copied")
}

// readOnly hides a store's AppendRecords.
type readOnly struct{ ledger.Store }
