package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"techledger/ledger"
	"techledger/projections"
)

// AsOf is a parsed as_of (HTTP) or --as-of (CLI): a position, a time, or neither (the head
// of the log).
type AsOf struct {
	Pos ledger.Position // the state after this position; 0: not by position
	At  time.Time       // the state of the records recorded up to this time; zero: not by time
}

// ParseAsOf reads "" (the head), a position, or an RFC 3339 time. Its error names as_of.
func ParseAsOf(s string) (AsOf, error) {
	if s == "" {
		return AsOf{}, nil
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		if n == 0 {
			return AsOf{}, errors.New("as_of: a position starts at 1 (or give an RFC 3339 time)")
		}
		return AsOf{Pos: ledger.Position(n)}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return AsOf{}, fmt.Errorf("as_of: want a log position or an RFC 3339 time (2024-01-31T16:00:00Z), got %q", s)
	}
	return AsOf{At: t}, nil
}

// StateAt calls fn with the projections as of a: a new State folded for a past position or
// time, the live one for the head. A position past the head is a *projections.QueryError.
func StateAt(ctx context.Context, p Projections, a AsOf, fn func(*projections.State) error) error {
	switch {
	case a.Pos != 0:
		lag, err := p.Lag(ctx)
		if err != nil {
			return err
		}
		if head := p.Position() + ledger.Position(lag); a.Pos > head {
			return &projections.QueryError{Field: "as_of", Rule: fmt.Sprintf("position %d is past the head of the log (%d)", a.Pos, head)}
		}
		st, err := p.AsOf(ctx, a.Pos)
		if err != nil {
			return err
		}
		return fn(st)
	case !a.At.IsZero():
		st, err := p.AsOfTime(ctx, a.At)
		if err != nil {
			return err
		}
		return fn(st)
	}
	return p.Read(fn)
}

// ParseStatsQuery reads the parameters of the statistics (CLI flags and HTTP query alike);
// its error names the parameter at fault.
func ParseStatsQuery(by, from, to string) (projections.StatsQuery, error) {
	q := projections.StatsQuery{By: projections.ParseDimensions(by)}
	for _, d := range []struct {
		name, s string
		dst     *ledger.Date
	}{{"from", from, &q.From}, {"to", to, &q.To}} {
		if d.s == "" {
			continue
		}
		v, err := ledger.ParseDate(d.s)
		if err != nil {
			return q, fmt.Errorf("%s: %v", d.name, err)
		}
		*d.dst = v
	}
	return q, nil
}
