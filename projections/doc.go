// Package projections folds the global log into read models: registered-contract statistics and
// researcher-reward tallies (docs/domain.md, Statistics and Researcher reward tallies). Folds are
// pure and deterministic: the same log gives byte-identical results on every backend.
package projections
