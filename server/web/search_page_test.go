package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/projections"
)

// pagedSearch answers every query with total results, 20 rows of the asked page, capped
// or not, and records the query.
type pagedSearch struct {
	total  int
	capped bool
	got    projections.SearchQuery
}

func (p *pagedSearch) Find(q projections.SearchQuery) (projections.SearchResult, error) {
	p.got = q
	res := projections.SearchResult{Total: p.total, Capped: p.capped}
	for i := q.Offset; i < q.Offset+q.Limit && i < p.total; i++ {
		res.Rows = append(res.Rows, projections.SearchHit{ContractID: fmt.Sprintf("%016d", i), Type: "service", Status: projections.StatusRegistered})
	}
	return res, nil
}

// TestConsole_SearchCountAndPager: an exact count shows the number of pages; a capped one
// (projections.SearchCountMax) says "at least" and still offers the next page.
func TestConsole_SearchCountAndPager(t *testing.T) {
	for _, tc := range []struct {
		name        string
		search      pagedSearch
		page        string
		count, pger string
		next        bool
	}{
		{"exact", pagedSearch{total: 45}, "2", "共 45 份合同", "第 2 / 3 页", true},
		{"exact, last page", pagedSearch{total: 45}, "3", "共 45 份合同", "第 3 / 3 页", false},
		{"capped", pagedSearch{total: 1000, capped: true}, "1", "至少 1000 份合同", "第 1 页", true},
		{"capped, deep page", pagedSearch{total: 1201, capped: true}, "60", "至少 1201 份合同", "第 60 页", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{Log: memstoreNew(), Commands: nopCommands{}, Search: &tc.search, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			c.ServeHTTP(rec, httptest.NewRequest("GET", "/contracts?party=%E5%A4%A7%E5%AD%A6&page="+tc.page, nil))
			require.Equal(t, http.StatusOK, rec.Code)
			body := rec.Body.String()
			assert.Contains(t, body, tc.count)
			assert.Contains(t, body, tc.pger)
			assert.Equal(t, tc.next, strings.Contains(body, `rel="next"`), "a link to the next page")
			assert.Equal(t, "大学", tc.search.got.Party)
		})
	}
}

// TestConsole_SearchPageTooLarge: a page number past searchPagesMax (or past the int
// range) is refused with 400 and a message naming the page, instead of a search with a
// negative offset refused for a field the page does not show (found by FuzzConsoleQuery).
func TestConsole_SearchPageTooLarge(t *testing.T) {
	for _, page := range []string{"1000001", "9223372036854775807", "99999999999999999999999"} {
		t.Run(page, func(t *testing.T) {
			search := pagedSearch{total: 45}
			c, err := New(Config{Log: memstoreNew(), Commands: nopCommands{}, Search: &search, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			c.ServeHTTP(rec, httptest.NewRequest("GET", "/contracts?page="+page, nil))
			require.Equal(t, http.StatusBadRequest, rec.Code)
			assert.Contains(t, rec.Body.String(), `id="error-message">页码应为 1 至 1000000（page must be at most 1000000）。`)
		})
	}
	search := pagedSearch{total: 45}
	c, err := New(Config{Log: memstoreNew(), Commands: nopCommands{}, Search: &search, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/contracts?page=1000000", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, (searchPagesMax-1)*searchPageSize, search.got.Offset)
}
