package projections

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/internal/sample"
	"techledger/ledger"
	"techledger/ledger/memstore"
)

// foldSearch folds every record of s into a new Search.
func foldSearch(t testing.TB, s ledger.Store) *Search {
	t.Helper()
	sr := NewSearch()
	for _, rec := range records(t, s) {
		require.NoError(t, sr.Apply(&rec))
	}
	return sr
}

// naiveRow is a contract as naiveFind sees it.
type naiveRow struct {
	hit   SearchHit
	names []string
	pos   ledger.Position // of its registration
}

// naiveRows folds each contract's view from its stream with FoldContract: the second way
// of computing what Search keeps.
func naiveRows(t testing.TB, recs []ledger.Record) []naiveRow {
	t.Helper()
	streams := map[string][]ledger.Record{}
	var order []string
	for _, r := range recs {
		if _, ok := streams[r.Stream]; !ok {
			order = append(order, r.Stream)
		}
		streams[r.Stream] = append(streams[r.Stream], r)
	}
	var rows []naiveRow
	for _, st := range order {
		v, ok, err := FoldContract(streams[st])
		require.NoError(t, err)
		require.True(t, ok)
		hit := SearchHit{ContractID: v.ContractID, Title: v.Title, Type: v.Type, RegisteredOn: v.RegisteredOn, Amount: v.Amount,
			Seller: v.Seller.Name, Buyer: v.Buyer.Name, Status: v.Status}
		names := []string{hit.Seller, hit.Buyer}
		if v.Intermediary != nil {
			hit.Intermediary = v.Intermediary.Name
			names = append(names, hit.Intermediary)
		}
		rows = append(rows, naiveRow{hit, names, streams[st][0].Position})
	}
	return rows
}

// naiveFind answers q over rows with plain string and date comparisons and a sort by
// (registered_on, position of registration) descending.
func naiveFind(rows []naiveRow, q SearchQuery, asOf ledger.Position) SearchResult {
	var match []naiveRow
	for _, r := range rows {
		switch {
		case !strings.HasPrefix(r.hit.ContractID, q.NumberPrefix),
			q.Party != "" && !slices.ContainsFunc(r.names, func(n string) bool { return strings.Contains(n, q.Party) }),
			q.Type != "" && r.hit.Type != q.Type,
			q.Status != "" && r.hit.Status != q.Status,
			!q.From.IsZero() && r.hit.RegisteredOn.Before(q.From),
			!q.To.IsZero() && r.hit.RegisteredOn.After(q.To):
			continue
		}
		match = append(match, r)
	}
	slices.SortFunc(match, func(a, b naiveRow) int {
		if c := b.hit.RegisteredOn.Compare(a.hit.RegisteredOn); c != 0 {
			return c
		}
		return int(b.pos) - int(a.pos)
	})
	limit := q.Limit
	if limit == 0 {
		limit = 20
	}
	res := SearchResult{Total: len(match), Rows: []SearchHit{}, AsOf: asOf}
	for i := q.Offset; i < len(match) && i < q.Offset+limit; i++ {
		res.Rows = append(res.Rows, match[i].hit)
	}
	return res
}

// searchQueries returns queries over the sample log: each criterion alone and combined,
// with names and numbers taken from the log so that they match something.
func searchQueries(t testing.TB, sr *Search) []SearchQuery {
	t.Helper()
	require.Greater(t, sr.Len(), 100)
	some := sr.hit(uint32(sr.Len() / 3))
	seller := some.Seller
	buyer := []rune(some.Buyer)
	id := some.ContractID
	d := func(s string) ledger.Date { return sdate(t, s) }
	return []SearchQuery{
		{},
		{Limit: 7, Offset: 14},
		{Offset: 100000},
		{NumberPrefix: id[:4]},
		{NumberPrefix: id[:8], Limit: 50},
		{NumberPrefix: id},
		{NumberPrefix: "9999"},
		{Party: seller},
		{Party: string(buyer[len(buyer)/2 : len(buyer)/2+2]), Limit: 100},
		{Party: "大学", Status: StatusRegistered, Limit: 200},
		{Party: "不存在的单位名称"},
		{Type: "transfer", Limit: 200},
		{Type: "license", Status: StatusRevoked},
		{Type: "no_such_type"},
		{Status: StatusRevoked, Limit: 200},
		{Status: StatusRegistered, Offset: 5, Limit: 3},
		{From: d("2021-01-01"), To: d("2021-12-31"), Limit: 200},
		{From: d("2023-06-01")},
		{To: d("2020-03-31"), Type: "development"},
		{From: some.RegisteredOn, To: some.RegisteredOn, Limit: 200},
		{NumberPrefix: id[:4], Party: seller, Type: "transfer", Status: StatusRegistered, From: d("2019-01-01"), To: d("2025-12-31")},
	}
}

// TestSearch_Find_MatchesNaive checks every query against naiveFind over a sample log of
// 400 contracts with amendments and revocations.
func TestSearch_Find_MatchesNaive(t *testing.T) {
	store := smallSample(t)
	recs := records(t, store)
	rows := naiveRows(t, recs)
	sr := foldSearch(t, store)
	require.Equal(t, 400, sr.Len())
	for _, q := range searchQueries(t, sr) {
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			got, err := sr.Find(q)
			require.NoError(t, err)
			assert.Equal(t, naiveFind(rows, q, recs[len(recs)-1].Position), got)
		})
	}
	all, err := sr.Find(SearchQuery{Limit: SearchPageMax})
	require.NoError(t, err)
	assert.Equal(t, 400, all.Total)
	revoked, err := sr.Find(SearchQuery{Status: StatusRevoked})
	require.NoError(t, err)
	assert.Positive(t, revoked.Total, "the sample revokes some contracts")
}

func TestSearch_Find_RejectsBadQueries(t *testing.T) {
	sr := foldSearch(t, smallSample(t))
	for _, tc := range []struct {
		q     SearchQuery
		field string
	}{
		{SearchQuery{Limit: SearchPageMax + 1}, "limit"},
		{SearchQuery{Limit: -1}, "limit"},
		{SearchQuery{Offset: -1}, "offset"},
		{SearchQuery{Status: "amended"}, "status"},
		{SearchQuery{From: sdate(t, "2023-02-01"), To: sdate(t, "2023-01-31")}, "to"},
	} {
		_, err := sr.Find(tc.q)
		var qe *QueryError
		require.ErrorAs(t, err, &qe, "%+v", tc.q)
		assert.Equal(t, tc.field, qe.Field)
	}
}

// TestSearch_Apply_FollowsAmendAndRevoke registers a contract through package commands,
// amends its type and amount, revokes it, and checks what Find shows after each step.
func TestSearch_Apply_FollowsAmendAndRevoke(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	h := commands.NewHandler(store)
	who := commands.Actor{Name: "t", Role: "registrar"}
	run := func(js string) {
		t.Helper()
		_, err := h.HandleJSON(ctx, []byte(js), who)
		require.NoError(t, err)
	}
	run(`{"command":"register_contract","command_id":"c-1","contract_id":"2023140101000123","title":"煤矸石综合利用技术转让","type":"transfer","subtype":"patent_right",
 "signed_on":"2023-03-01","registered_on":"2023-03-15","amount":"1200000.00","tech_amount":"1000000.00","field":"environment",
 "seller":{"id":"12140000405000025X","name":"太原理工大学","kind":"university","region":"140100"},
 "buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},
 "intermediary":{"id":"91140100MA00000003","name":"山西技术市场服务中心","kind":"enterprise","region":"140100"},"ip_types":["patent"]}`)
	find := func(q SearchQuery) SearchResult {
		t.Helper()
		sr := foldSearch(t, store)
		res, err := sr.Find(q)
		require.NoError(t, err)
		return res
	}
	got := find(SearchQuery{Party: "技术市场"})
	require.Equal(t, 1, got.Total)
	assert.Equal(t, SearchHit{ContractID: "2023140101000123", Title: "煤矸石综合利用技术转让", Type: "transfer", RegisteredOn: sdate(t, "2023-03-15"),
		Amount: "1200000.00", Seller: "太原理工大学", Buyer: "长治某能源有限公司", Intermediary: "山西技术市场服务中心", Status: StatusRegistered}, got.Rows[0])
	run(`{"command":"amend_contract","command_id":"c-2","contract_id":"2023140101000123","type":"license","subtype":"patent_license","amount":"1300000.00","reason":"补充协议"}`)
	assert.Zero(t, find(SearchQuery{Type: "transfer"}).Total)
	got = find(SearchQuery{Type: "license"})
	require.Equal(t, 1, got.Total)
	assert.Equal(t, "1300000.00", got.Rows[0].Amount)
	run(`{"command":"revoke_contract","command_id":"c-3","contract_id":"2023140101000123","reason":"重复登记"}`)
	assert.Zero(t, find(SearchQuery{Status: StatusRegistered}).Total)
	assert.Equal(t, 1, find(SearchQuery{Status: StatusRevoked, Party: "理工"}).Total)
}

func TestSearch_Apply_RejectsAContradictoryLog(t *testing.T) {
	sr := foldSearch(t, smallSample(t))
	recs := records(t, smallSample(t))
	again := recs[0]
	again.Position = sr.Position() + 1
	require.ErrorIs(t, sr.Apply(&again), ErrFold, "a registration twice")
	skip := recs[0]
	skip.Position = sr.Position() + 5
	require.ErrorIs(t, NewSearch().Apply(&skip), ErrFold, "a gap in positions")
}

// TestSearch_Snapshot_RoundTrip checks that a snapshot reads back into a Search that
// answers every query alike and writes the same bytes, and that damage is detected.
func TestSearch_Snapshot_RoundTrip(t *testing.T) {
	sr := foldSearch(t, smallSample(t))
	var buf bytes.Buffer
	require.NoError(t, sr.WriteSnapshot(&buf))
	back, err := ReadSearchSnapshot(bytes.Clone(buf.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, sr.Position(), back.Position())
	assert.Equal(t, sr.Hash(), back.Hash())
	for _, q := range searchQueries(t, sr) {
		want, err := sr.Find(q)
		require.NoError(t, err)
		got, err := back.Find(q)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%+v", q)
	}
	var again bytes.Buffer
	require.NoError(t, back.WriteSnapshot(&again))
	assert.Equal(t, buf.Bytes(), again.Bytes())

	b := buf.Bytes()
	for _, at := range []int{0, len(b) / 2, len(b) - 1} {
		bad := bytes.Clone(b)
		bad[at] ^= 0x20
		_, err := ReadSearchSnapshot(bad)
		assert.Error(t, err, "byte %d flipped", at)
	}
	_, err = ReadSearchSnapshot(b[:len(b)/2])
	assert.Error(t, err)
}

// TestSearchRunner_FollowsAndRestarts starts a runner over a sample log, appends a
// registration, waits for the runner to show it, then starts a second runner from the
// snapshot and checks it answers alike; a snapshot of another log is ignored.
func TestSearchRunner_FollowsAndRestarts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := sampleLog(t, sample.Config{Seed: 3, Contracts: 120})
	dir := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	r := NewSearchRunner(store, SearchRunnerOptions{SnapshotDir: dir, Logger: quiet})
	require.NoError(t, r.Start(ctx))
	before, err := r.Find(SearchQuery{})
	require.NoError(t, err)
	require.Equal(t, 120, before.Total)

	_, err = commands.NewHandler(store).HandleJSON(ctx, []byte(`{"command":"register_contract","command_id":"new-1","contract_id":"2025140101999999",
 "title":"新登记","type":"service","subtype":"general","signed_on":"2025-12-01","registered_on":"2025-12-30","amount":"10.00","tech_amount":"10.00",
 "field":"agriculture","seller":{"id":"12140000405000025X","name":"独一无二研究院","kind":"university","region":"140100"},
 "buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"intermediary":null,"ip_types":[]}`),
		commands.Actor{Name: "t", Role: "registrar"})
	require.NoError(t, err)
	head, err := store.Head(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.Position() == head }, 10*time.Second, 5*time.Millisecond)
	got, err := r.Find(SearchQuery{Party: "独一无二"})
	require.NoError(t, err)
	require.Equal(t, 1, got.Total)
	require.NoError(t, r.Snapshot())
	require.FileExists(t, filepath.Join(dir, SearchSnapshotFile))

	r2 := NewSearchRunner(store, SearchRunnerOptions{SnapshotDir: dir, Logger: quiet})
	require.NoError(t, r2.Start(ctx))
	assert.Equal(t, head, r2.Position())
	all1, err := r.Find(SearchQuery{Limit: SearchPageMax})
	require.NoError(t, err)
	all2, err := r2.Find(SearchQuery{Limit: SearchPageMax})
	require.NoError(t, err)
	assert.Equal(t, all1, all2)

	// The same snapshot over another log (a different record at its position) is ignored.
	other := sampleLog(t, sample.Config{Seed: 4, Contracts: 200})
	r3 := NewSearchRunner(other, SearchRunnerOptions{SnapshotDir: dir, Logger: quiet})
	require.NoError(t, r3.Start(ctx))
	got, err = r3.Find(SearchQuery{Party: "独一无二"})
	require.NoError(t, err)
	assert.Zero(t, got.Total)
	assert.Equal(t, 200, func() int { res, _ := r3.Find(SearchQuery{}); return res.Total }())
}

func sdate(t testing.TB, s string) ledger.Date {
	t.Helper()
	d, err := ledger.ParseDate(s)
	require.NoError(t, err)
	return d
}

// TestSearch_Find_NumberPrefix checks the prefix criterion on 16-digit numbers, the older
// 14-digit ones and ids that are not registration numbers (which a log written by other
// means may hold), and that a loaded snapshot finds them alike.
func TestSearch_Find_NumberPrefix(t *testing.T) {
	s := NewSearch()
	for i, id := range []string{"2023140101000123", "23140101000124", "X-1", "202314", "2023140101000999"} {
		require.NoError(t, s.apply(&ledger.ContractRegistered{ContractID: id, Type: "service", RegisteredOn: sdate(t, "2023-03-15"),
			Seller: ledger.Party{Name: "甲"}, Buyer: ledger.Party{Name: fmt.Sprint("乙", i)}}))
		s.pos++
	}
	// A day of its own for one number: the day's range of keys is that key alone.
	require.NoError(t, s.apply(&ledger.ContractRegistered{ContractID: "2024140101000001", Type: "service", RegisteredOn: sdate(t, "2024-01-02"),
		Seller: ledger.Party{Name: "甲"}, Buyer: ledger.Party{Name: "丙"}}))
	s.pos++
	var buf bytes.Buffer
	require.NoError(t, s.WriteSnapshot(&buf))
	loaded, err := ReadSearchSnapshot(buf.Bytes())
	require.NoError(t, err)
	for prefix, want := range map[string][]string{
		"2024140101000001":  {"2024140101000001"},
		"202414010100000":   {"2024140101000001"},
		"2":                 {"2024140101000001", "2023140101000999", "202314", "23140101000124", "2023140101000123"},
		"2023":              {"2023140101000999", "202314", "2023140101000123"},
		"23":                {"23140101000124"},
		"2023140101000123":  {"2023140101000123"},
		"20231401010001234": nil,
		"X":                 {"X-1"},
		"x":                 nil,
	} {
		for _, sr := range []*Search{s, loaded} {
			res, err := sr.Find(SearchQuery{NumberPrefix: prefix})
			require.NoError(t, err)
			var got []string
			for _, h := range res.Rows {
				got = append(got, h.ContractID)
			}
			assert.Equal(t, want, got, "prefix %q", prefix)
		}
	}
	// Applying after a load builds the id maps: a second registration is still refused.
	require.ErrorIs(t, loaded.apply(&ledger.ContractRegistered{ContractID: "23140101000124", Type: "service", RegisteredOn: sdate(t, "2023-03-15")}), ErrFold)
	require.NoError(t, loaded.apply(&ledger.ContractRevoked{ContractID: "X-1"}))
	res, err := loaded.Find(SearchQuery{Status: StatusRevoked, Party: "乙2"})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Total)
}

// TestSearchRunner_LongReplayTakesDayLayout: a start that replays at least SnapshotEvery
// records lays the contracts out by day, as a snapshot does, writes the snapshot, and
// answers as the Search folded record by record.
func TestSearchRunner_LongReplayTakesDayLayout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := sampleLog(t, sample.Config{Seed: 3, Contracts: 300})
	h := commands.NewHandler(store)
	for i := range 40 { // registered out of day order, as a bulk import of old contracts
		_, err := h.HandleJSON(ctx, []byte(fmt.Sprintf(`{"command":"register_contract","command_id":"old-%d","contract_id":"20201401019%05d",
 "title":"补录","type":"service","subtype":"general","signed_on":"2020-01-01","registered_on":"2020-%02d-%02d","amount":"10.00","tech_amount":"10.00",
 "field":"agriculture","seller":{"id":"12140000405000025X","name":"补录研究院","kind":"university","region":"140100"},
 "buyer":{"id":"91140400234567819D","name":"长治某能源有限公司","kind":"enterprise","region":"140400"},"intermediary":null,"ip_types":[]}`, i, i, 1+i%12, 1+i%28)),
			commands.Actor{Name: "t", Role: "registrar"})
		require.NoError(t, err)
	}
	folded := foldSearch(t, store)
	require.False(t, slices.IsSorted(folded.days), "registered out of day order")
	dir := t.TempDir()
	r := NewSearchRunner(store, SearchRunnerOptions{SnapshotDir: dir, SnapshotEvery: 50, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, r.Start(ctx))
	assert.True(t, slices.IsSorted(r.s.days), "contracts by day")
	require.FileExists(t, filepath.Join(dir, SearchSnapshotFile))
	for _, q := range searchQueries(t, folded) {
		want, err := folded.Find(q)
		require.NoError(t, err)
		got, err := r.Find(q)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%+v", q)
	}
}
