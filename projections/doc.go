// Package projections folds the global log into read models: registered-contract statistics
// and researcher-reward tallies (DESIGN §3, §4). Folds are pure and deterministic: the same
// log gives byte-identical results on every backend.
package projections
