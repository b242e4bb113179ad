package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImports lists every package of the module with its dependencies (go list -deps
// -json ./..., which reads non-test files only) and fails on any arrow the rules of
// docs/architecture.md (Import rules) forbid, naming it.
func TestImports(t *testing.T) {
	pkgs := goList(t)
	var own int
	for _, p := range pkgs {
		if _, ok := rel(p.ImportPath); ok {
			own++
		}
	}
	require.Greater(t, own, 10, "go list found the module's packages")
	for _, v := range Check(pkgs, Rules) {
		t.Error(v)
	}
}

// goList runs `go list -deps -json ./...` at the module's root.
func goList(tb testing.TB) []Package {
	tb.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(tb, err, "go list: %s", stderr.String())
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(tb, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// graph builds a fake package graph: "a: b c" means techledger/a imports techledger/b and
// techledger/c; a name with a dot is a module of its own ("github.com/x/y"); any other name
// outside the module's directories ("fmt", "crypto/sha256") is the standard library.
func graph(lines ...string) []Package {
	seen := map[string]bool{}
	var pkgs []Package
	add := func(name string) string {
		path, std, mod := Module+"/"+name, false, ""
		switch {
		case strings.Contains(name, "."):
			path, mod = name, name
		case !isModulePackage(name):
			path, std = name, true
		}
		if !seen[path] {
			seen[path] = true
			p := Package{ImportPath: path, Standard: std}
			if mod != "" {
				p.Module = &struct{ Path string }{mod}
			}
			pkgs = append(pkgs, p)
		}
		return path
	}
	for _, l := range lines {
		from, to, _ := strings.Cut(l, ":")
		fp := add(strings.TrimSpace(from))
		for _, d := range strings.Fields(to) {
			dp := add(d)
			for i := range pkgs {
				if pkgs[i].ImportPath == fp {
					pkgs[i].Imports = append(pkgs[i].Imports, dp)
				}
			}
		}
	}
	return pkgs
}

// isModulePackage tells the fake graph which names are this module's packages: those
// under one of its top-level directories.
func isModulePackage(name string) bool {
	top, _, _ := strings.Cut(name, "/")
	switch top {
	case "ledger", "commands", "projections", "server", "reports", "transparency", "internal", "cmd":
		return true
	}
	return false
}

// TestCheck runs the rules over fake graphs: each forbidden arrow is reported once with the
// rule's number, an indirect one with its chain, and a graph that keeps the rules passes.
// The wanted lines are written out by hand.
func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		graph []string
		want  []string // substrings of the violations, one each, in order
	}{
		{"today's shape passes", []string{
			"cmd/techledger: server commands projections ledger/filestore ledger/jetstream internal/loadgen fmt",
			"server: commands projections ledger net/http",
			"commands: ledger internal/jsonw github.com/google/uuid",
			"projections: ledger github.com/shopspring/decimal",
			"ledger: internal/jsonw github.com/google/uuid github.com/shopspring/decimal",
			"ledger/filestore: ledger ledger/internal/logutil os",
			"ledger/jetstream: ledger github.com/nats-io/nats.go",
			"ledger/internal/logutil: ledger",
			"ledger/storetest: ledger github.com/stretchr/testify",
			"internal/loadgen: commands internal/sample",
			"internal/sample: commands",
			"reports: projections ledger commands",
			"transparency: ledger crypto/sha256",
		}, nil},
		{"ledger imports commands", []string{"ledger: commands", "commands: ledger"},
			[]string{`techledger/ledger -> techledger/commands: breaks rule "1. ledger`}},
		{"ledger reaches commands through a helper", []string{"ledger: internal/jsonw", "internal/jsonw: commands"},
			[]string{`techledger/ledger -> techledger/commands (through techledger/internal/jsonw): breaks rule "1.`}},
		{"ledger uses another module", []string{"ledger: github.com/x/y"},
			[]string{`techledger/ledger -> github.com/x/y: breaks rule "1.`}},
		{"projections imports commands", []string{"projections: commands"},
			[]string{`techledger/projections -> techledger/commands: breaks rule "2. projections never imports commands"`}},
		{"commands imports projections", []string{"commands: projections"},
			[]string{`techledger/commands -> techledger/projections: breaks rule "2. commands never imports projections"`}},
		{"a backend imports another", []string{"ledger/jetstream: ledger/filestore"},
			[]string{`techledger/ledger/jetstream -> techledger/ledger/filestore: breaks rule "3. backends`}},
		{"a backend imports commands", []string{"ledger/kurrent: commands"},
			[]string{`techledger/ledger/kurrent -> techledger/commands: breaks rule "3. backends`}},
		{"storetest imports memstore", []string{"ledger/storetest: ledger/memstore"},
			[]string{`techledger/ledger/storetest -> techledger/ledger/memstore: breaks rule "3. ledger/storetest`}},
		{"server imports a backend", []string{"server: ledger/filestore"},
			[]string{`techledger/server -> techledger/ledger/filestore: breaks rule "4. only cmd/techledger chooses a backend"`}},
		{"the console imports a backend", []string{"server/web: ledger/memstore"},
			[]string{`techledger/server/web -> techledger/ledger/memstore: breaks rule "4.`}},
		{"reports imports server", []string{"reports: server"},
			[]string{`techledger/reports -> techledger/server: breaks rule "reports`}},
		{"transparency imports commands", []string{"transparency: commands"},
			[]string{`techledger/transparency -> techledger/commands: breaks rule "transparency imports ledger only"`}},
		{"commands imports server", []string{"commands: server"},
			[]string{`techledger/commands -> techledger/server: breaks rule "commands and projections never import`}},
		{"internal imports server", []string{"internal/loadgen: server"},
			[]string{`techledger/internal/loadgen -> techledger/server: breaks rule "internal/... never imports server"`}},
		{"server imports cmd", []string{"server: cmd/techledger"},
			[]string{`techledger/server -> techledger/cmd/techledger: breaks rule "5. nothing imports cmd/..."`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(graph(tc.graph...), Rules)
			require.Len(t, got, len(tc.want), "%q", got)
			for i, w := range tc.want {
				assert.Contains(t, got[i], w)
			}
		})
	}
}
