package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/commands"
	"techledger/ledger/memstore"
	"techledger/server"
)

// TestCLI_ImportURL imports the file of bad commands into a running server (--url) and
// into a local store: the report, line numbers and summary are the same text (but for the
// positions quoted); importing
// again over HTTP appends nothing; the events carry the token's name; a wrong token
// stops the import (exit 3) and mixing --url with --data is a usage error.
func TestCLI_ImportURL(t *testing.T) {
	ctx := context.Background()
	const file = "../../testdata/bad_commands.ndjson"
	var local, errb bytes.Buffer
	require.Equal(t, exitRejected, run(ctx, []string{"import", "--data", t.TempDir(), file}, &local, &errb), errb.String())

	tokens, err := server.ParseTokens([]byte(`[{"token":"registrar-token-0123456789","role":"registrar","name":"导入员"}]`))
	require.NoError(t, err)
	s := memstore.New()
	srv := httptest.NewServer(server.New(server.Config{Store: s, Commands: commands.NewHandler(s), Tokens: tokens}).Handler())
	defer srv.Close()
	var remote bytes.Buffer
	errb.Reset()
	require.Equal(t, exitRejected, run(ctx, []string{"import", file, "--url", srv.URL, "--token", "registrar-token-0123456789"}, &remote, &errb), errb.String())
	// The server orders concurrent commands itself: a position quoted in an error may
	// differ from a local import's; everything else is the same text.
	positions := regexp.MustCompile(`at position \d+`)
	assert.Equal(t, positions.ReplaceAllString(local.String(), "at position N"), positions.ReplaceAllString(remote.String(), "at position N"))
	assert.Contains(t, remote.String(), "applied 5, duplicates 0, rejected")

	remote.Reset()
	require.Equal(t, exitRejected, run(ctx, []string{"import", "--url", srv.URL + "/", "--token", "registrar-token-0123456789", file}, &remote, &errb))
	assert.Contains(t, remote.String(), "applied 0, duplicates 5, rejected")
	for rec, err := range s.ReadAll(ctx, 1) {
		require.NoError(t, err)
		assert.Equal(t, "导入员", rec.Metadata.Actor)
	}

	errb.Reset()
	assert.Equal(t, exitFailure, run(ctx, []string{"import", "--url", srv.URL, "--token", "not-the-token-at-all", file}, &remote, &errb))
	assert.Contains(t, errb.String(), "401")
	for _, args := range [][]string{
		{"import", "--url", srv.URL, "--data", t.TempDir(), file},
		{"import", "--token", "registrar-token-0123456789", file},
		{"import", "--lanes", "0", file},
		{"import", "--url", "ftp://example.org", file},
	} {
		assert.Equal(t, exitUsage, run(ctx, args, &remote, &errb), "%v", args)
	}
}

// TestCLI_ImportByteOrderMark: a file saved with a UTF-8 byte-order mark imports from its
// first line.
func TestCLI_ImportByteOrderMark(t *testing.T) {
	in := filepath.Join(t.TempDir(), "bom.ndjson")
	require.NoError(t, os.WriteFile(in, []byte("\ufeff"+register+"\r\n"), 0o644))
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"import", "--data", t.TempDir(), in}, &out, &errb), out.String()+errb.String())
	assert.True(t, strings.HasPrefix(out.String(), "applied 1, duplicates 0, rejected 0"), out.String())
}
