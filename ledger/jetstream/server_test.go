package jetstream_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
)

// runServer starts a nats-server in this process with JetStream on file storage in a
// temporary directory, syncing every write (sync_interval: always), and stops it when the
// test ends. Each of with changes the options first.
func runServer(tb testing.TB, with ...func(*server.Options)) *server.Server {
	tb.Helper()
	opts := &server.Options{
		ServerName: "tl-test",
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   tb.TempDir(),
		SyncAlways: true,
		NoLog:      true,
		NoSigs:     true,
	}
	for _, f := range with {
		f(opts)
	}
	s, err := server.NewServer(opts)
	require.NoError(tb, err)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats-server did not start")
	}
	require.True(tb, s.JetStreamConfig().SyncAlways, "the server must sync every write")
	tb.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

func connect(tb testing.TB, url string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
	require.NoError(tb, err)
	tb.Cleanup(nc.Close)
	return nc
}

var streamN atomic.Int64

// raiseTo sets m to d if d is larger, atomically (a maximum kept by several goroutines).
func raiseTo(m *atomic.Int64, d time.Duration) {
	for {
		old := m.Load()
		if int64(d) <= old || m.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// newStreamName returns a stream name not used before in this test binary.
func newStreamName() string { return fmt.Sprintf("LEDGER_%d", streamN.Add(1)) }
