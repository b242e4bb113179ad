package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCLI_Report: report annual --format json prints the report document (as the API
// does: see server's TestAPI_Reports); csv has a row per table row; xlsx -o writes a
// workbook; a period that is not whole months is a usage error.
func TestCLI_Report(t *testing.T) {
	ctx := context.Background()
	dir := importSample(t, 800)
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(ctx, []string{"report", "annual", "--data", dir, "--year", "2019", "--format", "json"}, &out, &errb), errb.String())
	var doc struct {
		Period struct{ From, To string } `json:"period"`
		Tables []struct {
			ID   string `json:"id"`
			Rows []any  `json:"rows"`
		} `json:"tables"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	assert.Equal(t, "2019-01-01", doc.Period.From)
	require.NotEmpty(t, doc.Tables)
	assert.Equal(t, "by_type", doc.Tables[0].ID)
	rows := 0
	for _, tb := range doc.Tables {
		rows += len(tb.Rows) + 1 // and the 合计
	}

	out.Reset()
	require.Equal(t, exitOK, run(ctx, []string{"report", "annual", "--data", dir, "--year", "2019", "--format", "csv"}, &out, &errb), errb.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Len(t, lines, rows+1, "a header and a line per row")

	xlsx := filepath.Join(t.TempDir(), "r.xlsx")
	require.Equal(t, exitOK, run(ctx, []string{"report", "tax", "--data", dir, "--year", "2019", "--format", "xlsx", "-o", xlsx}, &out, &errb), errb.String())
	b, err := os.ReadFile(xlsx)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(b, []byte("PK")))

	errb.Reset()
	assert.Equal(t, exitUsage, run(ctx, []string{"report", "period", "--data", dir, "--from", "2019-01-02", "--to", "2019-03-31"}, &out, &errb))
	assert.Contains(t, errb.String(), "first day of a month")
	assert.Equal(t, exitUsage, run(ctx, []string{"report", "monthly", "--data", dir}, &out, &errb))
}
