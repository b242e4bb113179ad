package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBench_RejectedStatuses counts the statuses of rejections (a server that answers 401
// to commands but not to /healthz).
func TestBench_RejectedStatuses(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte(`{"status":"ok","head":0}`))
			return
		}
		if n.Add(1)%2 == 0 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"status":403,"detail":"role statistician may not send commands"}`))
			return
		}
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"status":"applied","positions":[1]}`))
	}))
	defer srv.Close()
	rep, err := Run(context.Background(), Config{URL: srv.URL, Clients: 1, Commands: 20, Seed: 1})
	require.NoError(t, err)
	assert.False(t, rep.OK())
	assert.Equal(t, 10, rep.Rejected)
	assert.Equal(t, map[string]int{"403": 10}, rep.Statuses)
	assert.Equal(t, 10, rep.Applied)
	require.NotEmpty(t, rep.Problems)
	assert.Contains(t, rep.Problems[0], "403 role statistician may not send commands")
}

// TestBench_Duration stops sending when the time is up, and on an interrupt lets the
// commands in flight finish.
func TestBench_Duration(t *testing.T) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte(`{"status":"ok","head":0}`))
			return
		}
		posts.Add(1)
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"status":"applied","positions":[1]}`))
	}))
	defer srv.Close()
	// No wall-clock upper bound here (the machine may be loaded): that sending stops when the
	// time is up is shown by the server receiving nothing more once Run has returned.
	rep, err := Run(context.Background(), Config{URL: srv.URL, Clients: 4, Duration: 300 * time.Millisecond, Seed: 1})
	require.NoError(t, err)
	assert.True(t, rep.OK())
	assert.Positive(t, rep.Applied)
	assert.False(t, rep.Exhausted)
	assert.GreaterOrEqual(t, rep.Seconds, 0.3)
	assert.False(t, rep.Interrupted)
	sent := posts.Load()
	assert.Equal(t, int64(rep.Applied), sent, "every command sent was answered and counted")
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, sent, posts.Load(), "sending stops when the time is up")

	// Interrupt after the fifth answer, while the other clients wait for theirs.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var answers atomic.Int64
	cfg := Config{URL: srv.URL, Clients: 4, Duration: time.Minute, Seed: 1, OnAnswer: func([]byte, bool, int, []uint64) {
		if answers.Add(1) == 5 {
			cancel()
		}
	}}
	rep, err = Run(ctx, cfg)
	require.NoError(t, err)
	assert.True(t, rep.Interrupted)
	assert.True(t, rep.OK(), "the commands in flight at the interrupt were answered: %v", rep.Problems)
	assert.GreaterOrEqual(t, rep.Applied, 5)
	assert.LessOrEqual(t, rep.Applied, 5+4, "nothing new is sent after the interrupt")
	assert.Zero(t, rep.Failed)
}

func TestPercentiles(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- { // 1 ms … 100 ms, unsorted
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	got := percentiles(lat)
	assert.Equal(t, Latency{P50: 50, P90: 90, P99: 99, Max: 100}, got)
	assert.Equal(t, Latency{}, percentiles(nil))
	assert.Equal(t, Latency{P50: 2, P90: 2, P99: 2, Max: 2}, percentiles([]time.Duration{2 * time.Millisecond}))
}

// TestBench_UnexpectedSuccess counts a 2xx answer that names no positions as rejected: a
// success that does not say what it did is not one.
func TestBench_UnexpectedSuccess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte(`{"status":"ok","head":0}`))
			return
		}
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"status":"applied"}`))
	}))
	defer srv.Close()
	rep, err := Run(context.Background(), Config{URL: srv.URL, Clients: 2, Commands: 10, Seed: 1, Resend: 1})
	require.NoError(t, err)
	assert.False(t, rep.OK())
	assert.Zero(t, rep.Applied)
	assert.Equal(t, 10, rep.Rejected)
	assert.Zero(t, rep.Resent, "only a command applied or duplicate is resent")
	assert.Equal(t, map[string]int{"201": 10}, rep.Statuses)
	require.NotEmpty(t, rep.Problems)
	assert.Contains(t, rep.Problems[0], "unexpected body")
}
