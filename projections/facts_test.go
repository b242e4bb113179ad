package projections

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// TestFacts_MatchEvents: the report facts of every contract equal what its events say,
// decoded by the strict codec (ledger.DecodeRecord), which shares nothing with the
// scanner of facts.go; the record-by-record fold (Apply) and the batched replay agree.
func TestFacts_MatchEvents(t *testing.T) {
	log := smallSample(t)
	recs := records(t, log)
	st := fold(t, log, 0)
	one := NewState(Options{})
	for i := range recs {
		require.NoError(t, one.Apply(&recs[i]))
	}
	require.True(t, reflect.DeepEqual(st.rd, one.rd), "Apply and Replay give other report facts")

	type want struct {
		reg     *ledger.ContractRegistered
		revoked bool
		owner   *ledger.RightsAssigned
		uses    []*ledger.RightsAssigned
	}
	byID := map[string]*want{}
	for i := range recs {
		ev, err := ledger.DecodeRecord(&recs[i])
		require.NoError(t, err)
		switch e := ev.(type) {
		case *ledger.ContractRegistered:
			byID[e.ContractID] = &want{reg: e}
		case *ledger.ContractRevoked:
			byID[e.ContractID].revoked = true
		case *ledger.RightsAssigned:
			switch e.Right {
			case ledger.RightOwnership:
				byID[e.ContractID].owner = e
			case ledger.RightUse:
				byID[e.ContractID].uses = append(byID[e.ContractID].uses, e)
			}
		}
	}
	ips := st.IPTypes()
	seen := 0
	st.EachContract(ledger.Date{}, ledger.Date{}, func(f *Facts) {
		seen++
		w := byID[st.ContractID(f.Index)]
		require.NotNil(t, w)
		require.False(t, w.revoked)
		r := w.reg
		require.Equal(t, r.Seller.Region, st.Code(f.SellerRegion))
		require.Equal(t, r.Buyer.Region, st.Code(f.BuyerRegion))
		id, name := st.Party(f.Seller)
		require.Equal(t, r.Seller.ID+"|"+r.Seller.Name, id+"|"+name)
		if r.Intermediary == nil {
			require.Zero(t, f.Intermediary)
		} else {
			id, name := st.Party(f.Intermediary)
			require.Equal(t, r.Intermediary.ID+"|"+r.Intermediary.Name+"|"+r.Intermediary.Kind, id+"|"+name+"|"+st.Code(f.IntermediaryKind))
		}
		var got []string
		for b := range ips {
			if f.IPTypes&(1<<b) != 0 {
				got = append(got, ips[b])
			}
		}
		wantIP := slices.Clone(r.IPTypes)
		slices.Sort(wantIP)
		slices.Sort(got)
		if len(wantIP) == 0 {
			wantIP = nil
		}
		require.Equal(t, wantIP, got)

		rf, ok := st.Rights(f.Index)
		require.Equal(t, w.owner != nil || len(w.uses) > 0, ok)
		if w.owner != nil {
			share := 0.0 // only to compare with the decimal below, never money
			for _, h := range w.owner.Holders {
				if h.Kind == KindResearcher {
					share += h.Share.InexactFloat64()
				}
			}
			require.True(t, rf.Ownership)
			require.InDelta(t, share, rf.ResearchersOwnership.InexactFloat64(), 1e-9)
			require.Equal(t, w.owner.EffectiveOn, rf.OwnershipOn)
		}
		var longest *Term
		for _, u := range w.uses {
			if longest == nil || DayOf(u.Term.To)-DayOf(u.Term.From) > DayOf(longest.To)-DayOf(longest.From) {
				longest = &Term{From: u.Term.From, To: u.Term.To}
			}
		}
		require.Equal(t, longest, rf.Use)
	})
	live := 0
	for _, w := range byID {
		if !w.revoked {
			live++
		}
	}
	require.Equal(t, live, seen)
}

// TestSnapshot_RoundTripFacts: the report facts survive a snapshot, and folding the rest
// of the log onto the State read back gives the facts a fold from nothing gives.
func TestSnapshot_RoundTripFacts(t *testing.T) {
	log := smallSample(t)
	recs := records(t, log)
	mid := ledger.Position(len(recs) / 2)
	st := fold(t, log, mid)
	var buf bytes.Buffer
	require.NoError(t, st.WriteSnapshot(&buf))
	back, err := ReadSnapshot(buf.Bytes())
	require.NoError(t, err)
	require.True(t, reflect.DeepEqual(st.rd, back.rd), "report facts differ after a snapshot")
	require.NoError(t, Replay(t.Context(), log, back, 0))
	require.True(t, reflect.DeepEqual(fold(t, log, 0).rd, back.rd), "report facts differ after folding onto a snapshot")
}

func TestTerm_Years(t *testing.T) {
	date := func(y, m, d int) ledger.Date { return ledger.Date{Year: y, Month: time.Month(m), Day: d} }
	for _, c := range []struct {
		from, to ledger.Date
		years    int
		want     bool
	}{
		{date(2020, 1, 1), date(2024, 12, 31), 5, true},
		{date(2020, 1, 1), date(2024, 12, 30), 5, false},
		{date(2020, 3, 1), date(2025, 2, 28), 5, true},
		{date(2020, 2, 29), date(2025, 2, 28), 5, true}, // five years after a 29 February end on the 28th
		{date(2020, 2, 29), date(2025, 2, 27), 5, false},
	} {
		if got := (Term{From: c.from, To: c.to}).Years(c.years); got != c.want {
			t.Errorf("Term{%v, %v}.Years(%d) = %v, want %v", c.from, c.to, c.years, got, c.want)
		}
	}
}
