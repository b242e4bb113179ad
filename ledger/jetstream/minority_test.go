package jetstream_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/jetstream"
	"techledger/ledger/storetest"
)

// minorityEnv, set to "URL STREAM", makes TestMinorityAppender the helper process of
// TestCluster_NetworkFaults.
const minorityEnv = "TECHLEDGER_JS_MINORITY"

// TestMinorityAppender is not a test on its own: TestCluster_NetworkFaults runs this test
// binary with only this test selected inside the network namespace of the node it is about
// to cut off, connected to that node alone, so that it is a client on the minority side of
// the partition: it still reaches its node, and nothing else. It appends one event at a
// time to the ledger stream "minority" with exact expected versions, sends a failed append
// again with the same event until it succeeds (as the workload does), and writes each
// acknowledgement to stdout as "ack EVENT-ID POSITION". Once its stdin is closed it
// finishes its batch and stops.
func TestMinorityAppender(t *testing.T) {
	spec := os.Getenv(minorityEnv)
	if spec == "" {
		t.Skip("the minority-side client of TestCluster_NetworkFaults, which runs it in a network namespace")
	}
	url, stream, ok := strings.Cut(spec, " ")
	require.True(t, ok, "%s=%q: want URL STREAM", minorityEnv, spec)
	nc, err := nats.Connect(url, nats.IgnoreDiscoveredServers(), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond), nats.PingInterval(time.Second), nats.MaxPingsOutstanding(2))
	require.NoError(t, err)
	defer nc.Close()
	cfg := jetstream.Config{Stream: stream, Replicas: 3, RequestTimeout: 2 * time.Second}
	var s *jetstream.Store
	waitFor(t, 30*time.Second, "the R3 stream", func() bool {
		s, err = jetstream.New(ctx, nc, cfg)
		return err == nil
	})
	defer s.Close()
	var stop atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop.Store(true)
	}()
	out := bufio.NewWriter(os.Stdout)
	var v ledger.Version
	for i := 0; !stop.Load(); i++ {
		e := storetest.Ev("M", i)
		first := time.Now()
		for {
			res, err := s.Append(ctx, "minority", ledger.Exactly(v), e)
			if err == nil {
				v = res.Version
				fmt.Fprintf(out, "ack %s %d\n", e.ID, res.Positions[0])
				require.NoError(t, out.Flush())
				break
			}
			require.Less(t, time.Since(first), retryBound, "event %d not stored: %v", i, err)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// minorityClient is a TestMinorityAppender process and the acknowledgements it reported,
// each with the time it arrived.
type minorityClient struct {
	tb    testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu    sync.Mutex
	acked map[uuid.UUID]ledger.Position
	at    []time.Time
	other []string // its other output lines (go test's, or a failure)
}

// startMinority runs TestMinorityAppender in network namespace ns, on the node at url.
func startMinority(tb testing.TB, ns, url, stream string) *minorityClient {
	tb.Helper()
	self, err := os.Executable()
	require.NoError(tb, err)
	m := &minorityClient{tb: tb, done: make(chan struct{}), acked: map[uuid.UUID]ledger.Position{}}
	m.cmd = exec.Command("ip", "netns", "exec", ns, self, "-test.run", "^TestMinorityAppender$", "-test.count", "1", "-test.v")
	m.cmd.Env = append(os.Environ(), minorityEnv+"="+url+" "+stream)
	m.cmd.Stderr = os.Stderr
	m.stdin, err = m.cmd.StdinPipe()
	require.NoError(tb, err)
	stdout, err := m.cmd.StdoutPipe()
	require.NoError(tb, err)
	require.NoError(tb, m.cmd.Start())
	tb.Cleanup(func() { _ = m.cmd.Process.Kill() })
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			f := strings.Fields(line)
			var id uuid.UUID
			var p uint64
			var err error
			if len(f) == 3 && f[0] == "ack" {
				if id, err = uuid.Parse(f[1]); err == nil {
					p, err = strconv.ParseUint(f[2], 10, 64)
				}
			}
			m.mu.Lock()
			if len(f) == 3 && f[0] == "ack" && err == nil {
				m.acked[id] = ledger.Position(p)
				m.at = append(m.at, time.Now())
			} else {
				m.other = append(m.other, line)
			}
			m.mu.Unlock()
		}
	}()
	return m
}

// count returns how many acknowledgements arrived in [from, to).
func (m *minorityClient) count(from, to time.Time) int {
	n, _ := m.span(from, to)
	return n
}

// span returns how many acknowledgements arrived in [from, to), and how long after from the
// last of them did.
func (m *minorityClient) span(from, to time.Time) (n int, last time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.at {
		if !t.Before(from) && t.Before(to) {
			n++
			last = max(last, t.Sub(from))
		}
	}
	return n, last
}

// waitAcks waits until n acknowledgements have arrived since from.
func (m *minorityClient) waitAcks(n int, from time.Time) {
	m.tb.Helper()
	waitFor(m.tb, 2*retryBound, fmt.Sprintf("%d acknowledgements of the minority-side client", n), func() bool {
		return m.count(from, time.Now().Add(time.Hour)) >= n
	})
}

// finish stops the client (it finishes its batch) and returns what it acknowledged.
func (m *minorityClient) finish() map[uuid.UUID]ledger.Position {
	m.tb.Helper()
	require.NoError(m.tb, m.stdin.Close())
	<-m.done
	err := m.cmd.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	require.NoError(m.tb, err, "the minority-side client failed:\n%s", strings.Join(m.other, "\n"))
	return m.acked
}
