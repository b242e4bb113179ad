package transparency_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"techledger/ledger/jetstream"
	"techledger/transparency"
)

// TestLog_JetStream: the Log follows a JetStream store exactly as it follows the others
// (ReadAll, Subscribe, ReadStream only): it catches up, follows, signs, and a bundle from
// it audits. The nats-server runs in this process.
func TestLog_JetStream(t *testing.T) {
	opts := &server.Options{ServerName: "tlog-test", Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	ns, err := server.NewServer(opts)
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second), "nats-server did not start")
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := jetstream.Open(ctx, ns.ClientURL()+"/TLOG_TEST")
	require.NoError(t, err)
	defer s.Close()
	fill(t, s, 4, 2)
	l, err := transparency.Open(ctx, s, options(t, filepath.Join(t.TempDir(), "tlog"), testSKey))
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, int64(8), l.Size())
	go l.Run(ctx)
	fill(t, memstoreTailJS{s}, 4, 1)
	require.Eventually(t, func() bool { cp, _, _ := l.Latest(); return cp.Size == 12 }, 10*time.Second, time.Millisecond)
	b, err := l.Bundle(ctx, contractID(1))
	require.NoError(t, err)
	rep, err := transparency.Audit(b, testVKey)
	require.NoError(t, err)
	require.Equal(t, 2, rep.Events)
}
