// Package archtest holds the import rules of docs/architecture.md (Import rules) as data and
// checks a package graph against them. Its test runs the check over this module's graph as
// `go list -deps -json ./...` reports it (non-test files only), so a forbidden arrow fails
// `go test ./...` naming the packages and the rule.
package archtest

import (
	"fmt"
	"slices"
	"strings"
)

// Module is the import path of this module; rules name packages relative to it.
const Module = "techledger"

// Package is one node of the graph: what `go list -json` says of a package.
type Package struct {
	ImportPath string
	Standard   bool     // in the standard library
	Imports    []string // direct imports
	Module     *struct{ Path string }
}

// Rule is one rule of docs/architecture.md (Import rules). Patterns are relative to
// Module; "x/..." is x and every package below it.
type Rule struct {
	Name string   // the rule as the document states it, cited in a failure
	From []string // the packages the rule applies to
	// Allow, if not nil, lists the only module packages From may depend on (besides the
	// standard library).
	Allow []string
	// Deny lists module packages From may never depend on.
	Deny []string
	// Except lists packages of From the rule does not apply to.
	Except []string
	// Modules, if not nil, lists the only modules outside this one and the standard
	// library that From may depend on.
	Modules []string
}

var backends = []string{"ledger/memstore", "ledger/filestore", "ledger/jetstream", "ledger/kurrent"}

// Rules are the import rules of docs/architecture.md, Import rules (and the rows of its
// package table). Packages that do not exist yet match nothing.
var Rules = []Rule{
	{
		Name:    "1. ledger knows no business rule: ledger and ledger/internal/... import the standard library, uuid, decimal and leaf helpers under internal/ only",
		From:    []string{"ledger", "ledger/internal/..."},
		Allow:   []string{"ledger", "ledger/internal/...", "internal/..."},
		Modules: []string{"github.com/google/uuid", "github.com/shopspring/decimal"},
	},
	{
		Name: "2. projections never imports commands",
		From: []string{"projections/..."},
		Deny: []string{"commands/..."},
	},
	{
		Name: "2. commands never imports projections",
		From: []string{"commands/..."},
		Deny: []string{"projections/..."},
	},
	{
		Name:  "3. backends import ledger, ledger/internal/... and leaf helpers under internal/ only: never each other, commands, projections, reports, transparency or server",
		From:  backends,
		Allow: []string{"ledger", "ledger/internal/...", "internal/..."},
	},
	{
		Name:  "3. ledger/storetest imports ledger only (and what ledger itself imports)",
		From:  []string{"ledger/storetest"},
		Allow: []string{"ledger", "ledger/internal/...", "internal/..."},
	},
	{
		Name: "4. only cmd/techledger chooses a backend",
		From: []string{"..."},
		Deny: backends,
		// The backends themselves and cmd are ruled above and below.
		Except: append([]string{"cmd/...", "ledger/storetest", "ledger/filestore/faultfs"}, backends...),
	},
	{
		Name:  "4. ledger/filestore/faultfs (the filestore's fault-injecting file system, for tests) imports ledger/filestore, whose FS it implements, and ledger only",
		From:  []string{"ledger/filestore/faultfs"},
		Allow: []string{"ledger", "ledger/filestore", "ledger/internal/...", "internal/..."},
	},
	{
		Name: "commands and projections never import server, reports or transparency",
		From: []string{"commands/...", "projections/..."},
		Deny: []string{"server/...", "reports/...", "transparency/..."},
	},
	{
		Name: "reports reads projections and ledger: never server",
		From: []string{"reports/..."},
		Deny: []string{"server/...", "transparency/..."},
	},
	{
		Name:  "transparency imports ledger only",
		From:  []string{"transparency/..."},
		Allow: []string{"ledger", "ledger/internal/...", "transparency/...", "internal/..."},
	},
	{
		Name: "internal/... never imports server",
		From: []string{"internal/..."},
		Deny: []string{"server/..."},
	},
	{
		Name: "5. nothing imports cmd/...",
		From: []string{"..."},
		Deny: []string{"cmd/..."},
	},
}

// match reports whether the module-relative path rel matches pattern.
func match(pattern, rel string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

func matchAny(patterns []string, rel string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, rel) })
}

// rel returns the path of a module package relative to Module ("" for the root), and
// false for a package of another module.
func rel(importPath string) (string, bool) {
	if importPath == Module {
		return "", true
	}
	r, ok := strings.CutPrefix(importPath, Module+"/")
	return r, ok
}

// Check returns one line per forbidden arrow in pkgs, sorted: the importing package, the
// package it depends on (with the chain of imports when the dependency is indirect) and the
// rule. pkgs must hold every dependency of the module's packages (go list -deps).
func Check(pkgs []Package, rules []Rule) []string {
	byPath := make(map[string]Package, len(pkgs))
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	var out []string
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		for dep, chain := range reach(byPath, p.ImportPath) {
			d, known := byPath[dep]
			if !known || d.Standard { // not known: "C", cgo's pseudo-package
				continue
			}
			to, inModule := rel(dep)
			for _, r := range rules {
				if !matchAny(r.From, from) || matchAny(r.Except, from) {
					continue
				}
				var broken bool
				switch {
				case inModule:
					broken = matchAny(r.Deny, to) || (r.Allow != nil && !matchAny(r.Allow, to))
				case r.Modules != nil:
					broken = d.Module == nil || !slices.Contains(r.Modules, d.Module.Path)
				}
				if broken {
					out = append(out, fmt.Sprintf("%s -> %s%s: breaks rule %q (docs/architecture.md, Import rules)", p.ImportPath, dep, via(chain), r.Name))
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// via describes an indirect dependency's chain of imports.
func via(chain []string) string {
	if len(chain) <= 2 {
		return ""
	}
	return " (through " + strings.Join(chain[1:len(chain)-1], " -> ") + ")"
}

// reach returns every package from depends on, each with one shortest chain of imports
// from `from` to it.
func reach(byPath map[string]Package, from string) map[string][]string {
	chains := map[string][]string{from: {from}}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, imp := range byPath[cur].Imports {
			if _, seen := chains[imp]; seen {
				continue
			}
			chains[imp] = append(slices.Clone(chains[cur]), imp)
			queue = append(queue, imp)
		}
	}
	delete(chains, from)
	return chains
}
