package replica_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/internal/replica"
	"techledger/ledger"
	"techledger/ledger/filestore"
	"techledger/ledger/storetest"
)

var ctx = context.Background()

// primary serves GET /healthz and GET /v1/events of s in the shape of techledger serve,
// passing each record through tamper (if not nil) on its way out.
func primary(tb testing.TB, s ledger.Store, token string, tamper func(*ledger.Record)) *httptest.Server {
	tb.Helper()
	mux := http.NewServeMux()
	auth := func(w http.ResponseWriter, r *http.Request) bool {
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return false
		}
		return true
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		head, _ := s.Head(r.Context())
		fmt.Fprintf(w, `{"status":"ok","head":%d}`, head)
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		if !auth(w, r) {
			return
		}
		from, _ := strconv.ParseUint(r.URL.Query().Get("from"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		n := 0
		for rec, err := range s.ReadAll(r.Context(), ledger.Position(from)) {
			if err != nil || n == limit {
				return
			}
			if tamper != nil {
				tamper(&rec)
			}
			_ = enc.Encode(map[string]any{
				"position": rec.Position, "stream": rec.Stream, "version": rec.Version, "id": rec.ID.String(),
				"recorded_at": rec.RecordedAt, "type": rec.Type, "schema_version": rec.SchemaVersion,
				"metadata": rec.Metadata, "data": rec.Data, "prev_hash": rec.PrevHash, "hash": rec.Hash,
			})
			n++
		}
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}

func appendN(tb testing.TB, s ledger.Store, from, n int) {
	tb.Helper()
	for i := from; i < from+n; i++ {
		_, err := s.Append(ctx, fmt.Sprintf("contract-%d", i%13), ledger.Any, storetest.Ev("ContractRegistered", i))
		require.NoError(tb, err)
	}
}

func openStore(tb testing.TB) *filestore.Store {
	tb.Helper()
	s, err := filestore.Open(tb.TempDir(), filestore.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// TestFollow_EqualsPrimary follows a primary that keeps appending, and checks that once
// the follower reports no lag it holds the primary's records exactly (hashes included),
// at the same position, and verifies; Pull then finds nothing to copy.
func TestFollow_EqualsPrimary(t *testing.T) {
	p := openStore(t)
	appendN(t, p, 0, replica.RecordsPerAppendMax+10) // more than one AppendRecords call
	srv := primary(t, p, "secret", nil)
	f := openStore(t)
	src := replica.Primary{URL: srv.URL, Token: "secret"}

	cctx, cancel := context.WithCancel(ctx)
	var lag replica.Lag
	done := make(chan error, 1)
	go func() {
		done <- replica.Follow(cctx, src, f, replica.FollowOptions{Poll: 10 * time.Millisecond, Lag: &lag})
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); appendN(t, p, 1000, 300) }()
	wg.Wait()
	ph, _ := p.Head(ctx)
	require.Eventually(t, func() bool { h, _ := f.Head(ctx); return h == ph }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return lag.Records() == 0 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	want := storetest.Collect(t, p.ReadAll(ctx, 1))
	got := storetest.Collect(t, f.ReadAll(ctx, 1))
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i].Hash, got[i].Hash, "position %d", i+1)
		require.Equal(t, want[i].Stream, got[i].Stream)
	}
	_, err := f.Verify(ctx)
	require.NoError(t, err)
	head, err := replica.Pull(ctx, src, f)
	require.NoError(t, err)
	assert.Equal(t, ph, head)
}

// TestFollow_RefusesTampered serves one record altered on the primary's side (its data
// changed, its hash recomputed so that it is self-consistent) and checks that the
// follower refuses it naming its position, keeps everything before it, and stops.
func TestFollow_RefusesTampered(t *testing.T) {
	p := openStore(t)
	appendN(t, p, 0, 50)
	for _, tc := range []struct {
		name   string
		tamper func(*ledger.Record)
		at     ledger.Position // the first record that does not chain
	}{
		{"data changed, hash recomputed", func(r *ledger.Record) {
			if r.Position == 37 {
				r.Data = json.RawMessage(`{"n":37,"note":"altered"}`)
				r.Hash = r.ComputeHash()
			}
		}, 38}, // 37 is self-consistent: the next record's link to it breaks
		{"data changed, hash kept", func(r *ledger.Record) {
			if r.Position == 37 {
				r.Data = json.RawMessage(`{"n":37,"note":"altered"}`)
			}
		}, 37},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := primary(t, p, "", tc.tamper)
			f := openStore(t)
			err := replica.Follow(ctx, replica.Primary{URL: srv.URL}, f, replica.FollowOptions{Poll: time.Millisecond})
			var re *replica.RefusedError
			require.True(t, errors.As(err, &re), "got %v", err)
			require.ErrorIs(t, err, ledger.ErrCorrupt)
			assert.Equal(t, tc.at, re.Position)
			assert.Contains(t, err.Error(), fmt.Sprintf("position %d", tc.at))
			head, _ := f.Head(ctx)
			assert.Equal(t, tc.at-1, head, "everything before the refused record is kept")
			_, err = f.Verify(ctx)
			require.NoError(t, err)
		})
	}
}
