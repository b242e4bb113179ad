package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/server"
)

// TestCLI_FlagsAnywhere: flags are read before and after the positional argument, in the
// double-dash form and in the single-dash form the standard flag package accepted, with
// the same output each time.
func TestCLI_FlagsAnywhere(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	in := filepath.Join(t.TempDir(), "in.ndjson")
	require.NoError(t, os.WriteFile(in, []byte(register+"\n"), 0o644))
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(ctx, []string{"import", in, "--data", dir}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "applied 1, duplicates 0, rejected 0, last position 1")

	var outputs []string
	for _, args := range [][]string{
		{"history", "--data", dir, "--format", "json", "2023140101000123"},
		{"history", "2023140101000123", "--format", "json", "--data", dir},
		{"history", "2023140101000123", "--format=json", "--data=" + dir},
		{"history", "-format", "json", "-data", dir, "2023140101000123"},
	} {
		out.Reset()
		require.Equal(t, exitOK, run(ctx, args, &out, &errb), "%v: %s", args, errb.String())
		var hist []server.RecordView
		require.NoError(t, json.Unmarshal(out.Bytes(), &hist), "%v: %s", args, out.String())
		require.Len(t, hist, 1, "%v", args)
		assert.Equal(t, "ContractRegistered", hist[0].Type)
		outputs = append(outputs, out.String())
	}
	for _, o := range outputs[1:] {
		assert.Equal(t, outputs[0], o, "the same output wherever the flags are")
	}

	// `--` ends the flags: what follows is positional even if it starts with a dash.
	errb.Reset()
	assert.Equal(t, exitFailure, run(ctx, []string{"import", "--data", dir, "--", "-missing-file"}, &out, &errb))
	assert.Contains(t, errb.String(), "-missing-file")
}

// TestCLI_ExitCodes: usage mistakes exit 2 with the usage on stderr, help exits 0, and
// every verb has --help.
func TestCLI_ExitCodes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, exitUsage, "Available Commands"},
		{[]string{"nope"}, exitUsage, `unknown command "nope"`},
		{[]string{"help"}, exitOK, "Available Commands"},
		{[]string{"--help"}, exitOK, "Available Commands"},
		{[]string{"history"}, exitUsage, "accepts 1 arg(s), received 0"},
		{[]string{"history", "a", "b"}, exitUsage, "accepts 1 arg(s), received 2"},
		{[]string{"verify", "extra"}, exitUsage, "accepts 0 arg(s)"},
		{[]string{"stats", "--colour", "red"}, exitUsage, "unknown flag: --colour"},
		{[]string{"export", "--from", "x"}, exitUsage, `invalid argument "x"`},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		assert.Equal(t, tc.code, run(ctx, tc.args, &out, &errb), "%v", tc.args)
		assert.Contains(t, errb.String(), tc.stderr, "%v", tc.args)
	}
	for _, v := range verbs {
		var out, errb bytes.Buffer
		assert.Equal(t, exitOK, run(ctx, []string{v.name, "--help"}, &out, &errb), v.name)
		assert.Contains(t, errb.String(), "techledger "+v.name, v.name)
		assert.Contains(t, errb.String(), v.help[:20], v.name)
	}
}

// TestCLI_Completion prints a bash completion script on stdout, and answers the script's
// requests there.
func TestCLI_Completion(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"completion", "bash"}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "bash completion")
	assert.Contains(t, out.String(), "techledger")

	// What the script asks at a tab: the verbs starting with "hi", and the flags of one.
	out.Reset()
	require.Equal(t, exitOK, run(context.Background(), []string{"__complete", "hi"}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "history")
	out.Reset()
	require.Equal(t, exitOK, run(context.Background(), []string{"__complete", "history", "--for"}, &out, &errb), errb.String())
	assert.Contains(t, out.String(), "--format")
}

// TestVersionLine formats build information written out by hand.
func TestVersionLine(t *testing.T) {
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.time", Value: "2026-11-30T10:00:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			"techledger v1.2.3 (revision 0123456789abcdef0123456789abcdef01234567, 2026-11-30T10:00:00Z; go1.26.0)"},
		{"modified working tree", debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}},
			"techledger (devel) (revision abc, modified; go1.26.0)"},
		{"no VCS information", debug.BuildInfo{GoVersion: "go1.26.0"},
			"techledger (unknown version) (revision unknown; go1.26.0)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, versionLine(&tc.info))
		})
	}
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"version"}, &out, &errb), errb.String())
	assert.True(t, strings.HasPrefix(out.String(), "techledger "), out.String())
}
