package projections

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
)

// genContract is a contract as the generated log leaves it, kept by the test alone: the
// second way of computing what Search answers.
type genContract struct {
	id, title, typ string
	day            ledger.Date
	amountFen      int64
	names          [3]string // seller, buyer, intermediary ("": none)
	revoked        bool
}

// genLog makes up events over a few hundred names and a few dozen days, with the cases
// Search treats apart: 16- and 14-digit numbers, numbers with a leading zero, ids that
// are not numbers (and 17-digit ones, which numberKey leaves to strings), days before
// 1970, days registered out of order, a name twice in one contract, amendments of type
// and amount, and revocations.
type genLog struct {
	rng       *rand.Rand
	contracts []*genContract // in order of registration
	names     []string
}

func newGenLog(seed uint64) *genLog {
	g := &genLog{rng: rand.New(rand.NewPCG(seed, 99))}
	words := []string{"太原", "大同", "理工", "大学", "能源", "煤化工", "研究院", "有限公司", "科技", "晋", "山西", "技术市场", "A", "b1"}
	for i := range 300 {
		n := 1 + g.rng.IntN(4)
		var sb strings.Builder
		for range n {
			sb.WriteString(words[g.rng.IntN(len(words))])
		}
		if i%3 == 0 {
			fmt.Fprintf(&sb, "%d", i)
		}
		g.names = append(g.names, sb.String())
	}
	return g
}

var genTypes = []string{"development", "transfer", "license", "consulting", "service"}

// next appends events to s and to g's own model: a registration mostly, else an
// amendment or a revocation of a contract in force.
func (g *genLog) next(t testing.TB, s *Search) {
	t.Helper()
	rng := g.rng
	live := func() *genContract {
		for range 10 {
			c := g.contracts[rng.IntN(len(g.contracts))]
			if !c.revoked {
				return c
			}
		}
		return nil
	}
	switch k := rng.IntN(10); {
	case k == 0 && len(g.contracts) > 0:
		if c := live(); c != nil {
			c.typ, c.amountFen = genTypes[rng.IntN(len(genTypes))], int64(rng.IntN(1_000_000))
			require.NoError(t, s.apply(&ledger.ContractAmended{ContractID: c.id, Type: c.typ, Amount: decimal.New(c.amountFen, -2)}))
		}
	case k == 1 && len(g.contracts) > 0:
		if c := live(); c != nil {
			c.revoked = true
			require.NoError(t, s.apply(&ledger.ContractRevoked{ContractID: c.id}))
		}
	default:
		n := len(g.contracts)
		var id string
		switch rng.IntN(20) {
		case 0:
			id = fmt.Sprintf("X-%d", n)
		case 1:
			id = fmt.Sprintf("2023140101%07d", n) // 17 digits
		case 2:
			id = fmt.Sprintf("%02d140101%06d", rng.IntN(100), n) // 14 digits, maybe a leading 0
		default:
			id = fmt.Sprintf("%04d14%02d01%06d", 2020+rng.IntN(4), 1+rng.IntN(3), n)
		}
		first := ledger.Date{Year: 1969, Month: 12, Day: 20}.Time()
		c := &genContract{id: id, title: fmt.Sprint("项目", n), typ: genTypes[rng.IntN(len(genTypes))],
			day: ledger.DateOf(first.AddDate(0, 0, rng.IntN(40))), amountFen: int64(rng.IntN(1_000_000))}
		if rng.IntN(3) > 0 { // most in a later, busier range
			c.day = ledger.DateOf(ledger.Date{Year: 2022, Month: 1, Day: 1}.Time().AddDate(0, 0, rng.IntN(60)))
		}
		c.names[0] = g.names[rng.IntN(40)] // few sellers
		c.names[1] = g.names[rng.IntN(len(g.names))]
		switch rng.IntN(8) {
		case 0:
			c.names[2] = c.names[0]
		case 1, 2:
			c.names[2] = g.names[rng.IntN(len(g.names))]
		}
		if rng.IntN(15) == 0 {
			c.names[1] = c.names[0]
		}
		e := &ledger.ContractRegistered{ContractID: c.id, Title: c.title, Type: c.typ, RegisteredOn: c.day,
			Amount: decimal.New(c.amountFen, -2), Seller: ledger.Party{Name: c.names[0]}, Buyer: ledger.Party{Name: c.names[1]}}
		if c.names[2] != "" {
			e.Intermediary = &ledger.Party{Name: c.names[2]}
		}
		require.NoError(t, s.apply(e))
		g.contracts = append(g.contracts, c)
	}
	s.pos++
}

// find answers q from the model with plain string and date comparisons and a sort by
// (registered_on, order of registration), newest first.
func (g *genLog) find(q SearchQuery, asOf ledger.Position) SearchResult {
	var match []int
	for i, c := range g.contracts {
		status := StatusRegistered
		if c.revoked {
			status = StatusRevoked
		}
		switch {
		case !strings.HasPrefix(c.id, q.NumberPrefix),
			q.Party != "" && !slices.ContainsFunc(c.names[:], func(n string) bool { return n != "" && strings.Contains(n, q.Party) }),
			q.Type != "" && c.typ != q.Type,
			q.Status != "" && status != q.Status,
			!q.From.IsZero() && c.day.Before(q.From),
			!q.To.IsZero() && c.day.After(q.To):
			continue
		}
		match = append(match, i)
	}
	slices.SortFunc(match, func(a, b int) int {
		if c := g.contracts[b].day.Compare(g.contracts[a].day); c != 0 {
			return c
		}
		return b - a
	})
	limit := cmpOr(q.Limit, 20)
	res := SearchResult{Total: len(match), Rows: []SearchHit{}, AsOf: asOf}
	for _, i := range match[min(q.Offset, len(match)):min(q.Offset+limit, len(match))] {
		c := g.contracts[i]
		h := SearchHit{ContractID: c.id, Title: c.title, Type: c.typ, RegisteredOn: c.day, Amount: Fen(c.amountFen).String(),
			Seller: c.names[0], Buyer: c.names[1], Intermediary: c.names[2], Status: StatusRegistered}
		if c.revoked {
			h.Status = StatusRevoked
		}
		res.Rows = append(res.Rows, h)
	}
	return res
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// query makes up a query: each criterion present or not, values taken from the log so
// that most match something, some that match nothing, and a page anywhere.
func (g *genLog) query() SearchQuery {
	rng := g.rng
	var q SearchQuery
	c := g.contracts[rng.IntN(len(g.contracts))]
	if rng.IntN(3) == 0 {
		q.NumberPrefix = []string{c.id[:1+rng.IntN(len(c.id))], "2022", "0", "X", "9999", "20231401010000"}[rng.IntN(6)]
	}
	if rng.IntN(2) == 0 {
		name := []rune(c.names[rng.IntN(2)])
		at := rng.IntN(len(name))
		q.Party = string(name[at : at+1+rng.IntN(min(4, len(name)-at))])
		switch rng.IntN(12) {
		case 0:
			q.Party = "不存在"
		case 1:
			q.Party = string([]byte(c.names[0])[:1]) // a broken character: matched as bytes
		}
	}
	if rng.IntN(3) == 0 {
		q.Type = genTypes[rng.IntN(len(genTypes))]
	}
	if rng.IntN(4) == 0 {
		q.Status = []string{StatusRegistered, StatusRevoked}[rng.IntN(2)]
	}
	if rng.IntN(3) == 0 {
		q.From = ledger.DateOf(c.day.Time().AddDate(0, 0, -rng.IntN(20)))
	}
	if rng.IntN(3) == 0 {
		q.To = ledger.DateOf(c.day.Time().AddDate(0, 0, rng.IntN(20)))
		if !q.From.IsZero() && q.To.Before(q.From) {
			q.From, q.To = q.To, q.From
		}
	}
	q.Limit = []int{0, 1, 7, 20, 200}[rng.IntN(5)]
	q.Offset = []int{0, 0, 0, 0, 1, 3, 20, 45, rng.IntN(500)}[rng.IntN(9)]
	return q
}

// checkFind compares got with the model's answer; a capped count must be where Find stops
// counting, below the true count, with the same rows.
func checkFind(t *testing.T, s *Search, want, got SearchResult, q SearchQuery) {
	t.Helper()
	if got.Capped {
		assert.Equal(t, max(s.countMax, q.Offset+cmpOr(q.Limit, 20)+1), got.Total, "%+v: capped where", q)
		assert.Less(t, got.Total, want.Total+1, "%+v: capped above the count", q)
		got.Total, got.Capped = want.Total, false
	}
	assert.Equal(t, want, got, "%+v", q)
}

// TestSearch_Find_MatchesModel checks Find against the test's own model over a generated
// log of about 3,000 contracts, for 2,400 random queries combining every criterion with
// paging: on the Search that folded the log, on one loaded from its snapshot, and on that
// one after more records. Each runs with the limits as shipped and with limits lowered so
// that every way of answering a party query, and the capped count, are taken.
func TestSearch_Find_MatchesModel(t *testing.T) {
	for _, limits := range []struct{ countMax, candidatesMax, namesMax int }{{SearchCountMax, searchCandidatesMax, searchNamesMax}, {40, 400, 40}} {
		t.Run(fmt.Sprintf("count%d-candidates%d-names%d", limits.countMax, limits.candidatesMax, limits.namesMax), func(t *testing.T) {
			g := newGenLog(uint64(limits.countMax))
			folded := NewSearch()
			for range 3000 {
				g.next(t, folded)
			}
			var buf bytes.Buffer
			require.NoError(t, folded.WriteSnapshot(&buf))
			loaded, err := ReadSearchSnapshot(buf.Bytes())
			require.NoError(t, err)
			capped, among, unlisted := 0, 0, 0
			check := func(name string, s *Search) {
				s.countMax, s.candidatesMax, s.namesMax = limits.countMax, limits.candidatesMax, limits.namesMax
				for range 800 {
					q := g.query()
					got, err := s.Find(q)
					require.NoError(t, err)
					checkFind(t, s, g.find(q, s.Position()), got, q)
					if got.Capped {
						capped++
					}
					if q.Party != "" {
						switch names, _, ok := s.matchNames(q.Party); {
						case names != nil && s.hitsOf(names) <= s.candidatesMax:
							among++
						case names == nil && ok:
							unlisted++
						}
					}
				}
			}
			check("folded", folded)
			check("loaded", loaded)
			for range 600 { // new days, names, amendments of loaded contracts
				g.next(t, loaded)
			}
			check("loaded and followed", loaded)
			if limits.countMax < SearchCountMax {
				assert.Greater(t, capped, 100, "queries with a capped count")
				assert.Greater(t, among, 100, "party queries answered from their contracts")
				assert.Greater(t, unlisted, 100, "party queries checking names as contracts are read")
			}
		})
	}
}

// TestSearch_Snapshot_AfterFollowing: a Search loaded from a snapshot, then folding more
// records, writes the snapshot a Search folding the same records from the start writes.
func TestSearch_Snapshot_AfterFollowing(t *testing.T) {
	g := newGenLog(5)
	s := NewSearch()
	for range 1500 {
		g.next(t, s)
	}
	var buf bytes.Buffer
	require.NoError(t, s.WriteSnapshot(&buf))
	loaded, err := ReadSearchSnapshot(buf.Bytes())
	require.NoError(t, err)
	g2 := &genLog{rng: rand.New(rand.NewPCG(6, 6)), names: g.names}
	for _, c := range g.contracts {
		copied := *c
		g2.contracts = append(g2.contracts, &copied)
	}
	g.rng = rand.New(rand.NewPCG(6, 6))
	for range 500 {
		g.next(t, s)
		g2.next(t, loaded)
	}
	var a, b bytes.Buffer
	require.NoError(t, s.WriteSnapshot(&a))
	require.NoError(t, loaded.WriteSnapshot(&b))
	assert.True(t, bytes.Equal(a.Bytes(), b.Bytes()), "snapshots differ")
}

// FuzzReadSearchSnapshot: ReadSearchSnapshot never panics, and a Search it accepts answers
// queries without panicking and writes a snapshot that reads back to the same bytes. The
// input is a snapshot without its checksum, which the target appends, so the fuzzer
// reaches the columns behind the checksum.
func FuzzReadSearchSnapshot(f *testing.F) {
	for _, n := range []int{0, 3, 40} {
		g := newGenLog(uint64(n))
		s := NewSearch()
		for range n {
			g.next(f, s)
		}
		var buf bytes.Buffer
		require.NoError(f, s.WriteSnapshot(&buf))
		f.Add(buf.Bytes()[:buf.Len()-4])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = ReadSearchSnapshot(body)
		b := binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, searchCRC))
		s, err := ReadSearchSnapshot(b)
		if err != nil {
			require.ErrorIs(t, err, errSearchSnapshot)
			require.Nil(t, s)
			return
		}
		for _, q := range []SearchQuery{{}, {Party: "大"}, {Party: "A"}, {NumberPrefix: "2"}, {Type: "service", Status: StatusRevoked}, {NumberPrefix: "X", Party: "b", Offset: 1}} {
			_, err := s.Find(q)
			require.NoError(t, err)
		}
		var first, second bytes.Buffer
		require.NoError(t, s.WriteSnapshot(&first))
		back, err := ReadSearchSnapshot(first.Bytes())
		require.NoError(t, err, "a Search read from a snapshot writes one it refuses")
		require.NoError(t, back.WriteSnapshot(&second))
		require.Equal(t, first.Bytes(), second.Bytes())
	})
}
