package web

import (
	"context"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger"
	"techledger/ledger/memstore"
)

// fullLog is a memstore whose appends fail with ledger.ErrStorageFull while full is set,
// appending nothing, as the filestore does on a full disk (docs/reliability.md).
type fullLog struct {
	s    *memstore.Store
	full atomic.Bool
}

func (l *fullLog) Append(ctx context.Context, stream string, expected ledger.Expected, events ...ledger.Event) (ledger.AppendResult, error) {
	if l.full.Load() {
		return ledger.AppendResult{}, ledger.ErrStorageFull
	}
	return l.s.Append(ctx, stream, expected, events...)
}

func (l *fullLog) ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error] {
	return l.s.ReadStream(ctx, stream, from)
}

func (l *fullLog) ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return l.s.ReadAll(ctx, from)
}

func (l *fullLog) Head(ctx context.Context) (ledger.Position, error) { return l.s.Head(ctx) }

// syncBuffer collects a server's log lines.
type syncBuffer struct {
	mu    chan struct{}
	lines []string
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	b.lines = append(b.lines, string(p))
	return len(p), nil
}

func (b *syncBuffer) count(s string) int {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	n := 0
	for _, l := range b.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// TestConsole_DiskFull: a registration posted while the storage is full answers 507 with
// the form again (everything typed, the same command_id) and the cause; nothing is appended
// and the incident is logged once. Sent again once space is back, it is recorded once.
func TestConsole_DiskFull(t *testing.T) {
	store := memstore.New()
	log := &fullLog{s: store}
	h := commands.NewHandler(log)
	now := func() time.Time { return time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC) }
	h.Now = now
	logs := &syncBuffer{mu: make(chan struct{}, 1)}
	c, err := New(Config{Log: store, Commands: h, Search: nopSearch{}, Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: now,
		Authenticate: func(tok string) (Principal, bool) { p, ok := testTokens[tok]; return p, ok }})
	require.NoError(t, err)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	ts := &testServer{Server: srv}
	cl := ts.client(t, tokRegistrar)

	form := url.Values{"command_id": {"web-full-1"}, "contract_id": {"2023140101000123"}, "title": {"煤矸石综合利用技术转让"},
		"type": {"transfer"}, "subtype": {"patent_right"}, "field": {"environment"}, "signed_on": {"2023-03-01"}, "registered_on": {"2023-03-15"},
		"amount": {"1200000.00"}, "tech_amount": {"1000000.00"},
		"seller.id": {"12140000405000025X"}, "seller.name": {"太原理工大学"}, "seller.kind": {"university"}, "seller.region": {"140100"},
		"buyer.id": {"91140400234567819D"}, "buyer.name": {"长治某能源有限公司"}, "buyer.kind": {"enterprise"}, "buyer.region": {"140400"},
		"achievement_id": {"ACH-2022-0042"}, "ip_types": {"patent"}}

	log.full.Store(true)
	for range 2 {
		code, _, body := postForm(t, cl, srv.URL, "/contracts/new", form)
		require.Equal(t, http.StatusInsufficientStorage, code, body)
		assert.Contains(t, body, "存储空间已满")
		assert.Contains(t, body, `value="web-full-1"`, "the same command_id, so sending it again is one command")
		assert.Contains(t, body, `value="煤矸石综合利用技术转让"`, "everything typed is kept")
	}
	head, err := store.Head(context.Background())
	require.NoError(t, err)
	assert.Equal(t, ledger.Position(0), head, "nothing appended")
	assert.Equal(t, 1, logs.count("commands refused: the storage is full"), "logged once per incident")
	code, _ := get(t, cl, srv.URL+"/contracts")
	assert.Equal(t, http.StatusOK, code, "reads go on")

	log.full.Store(false)
	code, loc, body := postForm(t, cl, srv.URL, "/contracts/new", form)
	require.Equal(t, http.StatusSeeOther, code, body)
	assert.Contains(t, loc, "done=applied")
	code, loc, _ = postForm(t, cl, srv.URL, "/contracts/new", form)
	require.Equal(t, http.StatusSeeOther, code)
	assert.Contains(t, loc, "done=duplicate", "sent again: a duplicate, not a second contract")
	head, err = store.Head(context.Background())
	require.NoError(t, err)
	assert.Equal(t, ledger.Position(1), head)
	assert.Equal(t, 1, logs.count("commands accepted again"))
}
