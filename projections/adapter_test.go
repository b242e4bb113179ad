package projections_test

import (
	"context"
	"encoding/json"
	"testing"

	"techledger/ledger"
	"techledger/projections"
)

// replayTo folds store up to asOf (0: the head) into a new State.
func replayTo(t testing.TB, store ledger.Store, asOf ledger.Position) *projections.State {
	t.Helper()
	st := projections.NewState(projections.Options{})
	if err := projections.Replay(context.Background(), store, st, asOf); err != nil {
		t.Fatal(err)
	}
	return st
}

func date(t testing.TB, s string) ledger.Date {
	t.Helper()
	if s == "" {
		return ledger.Date{}
	}
	d, err := ledger.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// projectStatsJSON replays store up to asOf (0: the head) and returns the stats document of
// docs/domain.md (Statistics) for the query (by: dimension names; from, to: "YYYY-MM-DD" or "" for
// open).
func projectStatsJSON(t testing.TB, store ledger.Store, by []string, from, to string, asOf ledger.Position) []byte {
	t.Helper()
	rep, err := replayTo(t, store, asOf).Stats(projections.StatsQuery{By: by, From: date(t, from), To: date(t, to)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// projectRewardsJSON replays store up to asOf (0: the head) and returns the rewards document of
// docs/domain.md (Researcher reward tallies) (year 0: every year; institution "": every
// institution).
func projectRewardsJSON(t testing.TB, store ledger.Store, year int, institution string, asOf ledger.Position) []byte {
	t.Helper()
	rep, err := replayTo(t, store, asOf).Rewards(projections.RewardsQuery{Year: year, Institution: institution})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
