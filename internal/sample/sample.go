package sample

import (
	"bufio"
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Config says what to generate.
type Config struct {
	// Seed selects the stream. The same Seed and Contracts always give byte-identical output;
	// a different Seed gives a different stream (and different command ids).
	Seed uint64
	// Contracts is the number of contracts registered, 0 … ContractsMax.
	Contracts int
}

// DefaultConfig is what testdata/sample.ndjson is generated from.
var DefaultConfig = Config{Seed: 1, Contracts: 2000}

// ContractsMax bounds Config.Contracts. Registration serials have six digits per registry
// point and year; at this many contracts the busiest registry point (太原, point 01) uses
// about a fifth of them.
const ContractsMax = 10_000_000

// Limits of the generator's state, which keep memory bounded for any number of contracts.
const (
	// pendingContractsMax bounds the contracts whose later commands are held waiting for
	// their date. Past it, the earliest waiting commands are written at once: the file is
	// then only roughly in date order, but never out of order within a contract.
	pendingContractsMax = 1 << 14
	// achievementsRecentMax and licensedRecentMax bound the achievements remembered for
	// licensing again (recent ones, and recently licensed ones). An achievement forgotten is
	// never licensed again, so the exclusive terms it was granted need not be remembered.
	achievementsRecentMax = 1024
	licensedRecentMax     = 256
	// expiriesMax bounds the achievements with exclusive or sole grants remembered until
	// their grants end, to be licensed exclusively again.
	expiriesMax = 4096
	// grantWaitMax is how many days after registration a licence's use right may start at
	// the latest, when it waits for an earlier grant on the achievement to end.
	grantWaitMax = 120
	// serialMax is the largest registration serial (NNNNNN).
	serialMax = 999_999
)

// pcgStream is the second PCG parameter ("techledg"); the seed is the first.
const pcgStream = 0x7465_6368_6c65_6467

// The period covered: registrations fall on working days in it, and nothing dated after
// lastDay is recorded.
var (
	firstDay = dayOf(2019, time.January, 1)
	lastDay  = dayOf(2025, time.December, 31)
)

// Write writes the command stream cfg describes to w as NDJSON: one JSON command per line,
// each line ending in '\n'. It returns the number of commands written per command name
// (register_contract, …). It returns an error, with the counts so far, if cfg is out of range
// or writing to w fails; w is written through a buffer, so it may have received part of the
// stream.
func Write(w io.Writer, cfg Config) (map[string]int, error) {
	if cfg.Contracts < 0 || cfg.Contracts > ContractsMax {
		return nil, fmt.Errorf("sample: contracts %d outside 0..%d", cfg.Contracts, ContractsMax)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, pcgStream))
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	g := &generator{
		cfg:     cfg,
		rng:     rng,
		bw:      bw,
		enc:     enc,
		counts:  map[string]int{},
		pools:   newPools(rng, cfg.Contracts),
		serials: map[string]int{},
	}
	g.run()
	if g.err == nil {
		if err := bw.Flush(); err != nil {
			g.err = fmt.Errorf("sample: write: %w", err)
		}
	}
	return g.counts, g.err
}

// generator holds the state of one Write.
type generator struct {
	cfg    Config
	rng    *rand.Rand
	bw     *bufio.Writer
	enc    *json.Encoder
	err    error // first error; once set, nothing more is written
	seq    int   // commands written
	counts map[string]int
	*pools

	registered int            // contracts registered so far
	serials    map[string]int // last serial per YYYYPPCCRR
	achSeq     int            // achievements created so far

	recent, licensed       []*achievement // rings of achievements that may be licensed again
	recentNext, licensNext int
	expiries               expiryQueue // achievements by the end of their exclusive grants

	pending pendingQueue
}

// run registers the contracts day by day, writing each day's due follow-up commands first.
func (g *generator) run() {
	days := int(lastDay-firstDay) + 1
	weights := make([]int64, days)
	var total int64
	for i := range weights {
		d := firstDay + day(i)
		jitter := int64(50 + g.rng.IntN(101))
		if workday(d) {
			t := d.time()
			weights[i] = yearWeight[t.Year()] * monthWeight[t.Month()-1] * jitter
			total += weights[i]
		}
	}
	// Contract k (0-based) is registered on the first day whose cumulative weight reaches
	// k+1 contracts' worth: exactly cfg.Contracts in all, in date order.
	n := int64(g.cfg.Contracts)
	var cum, done int64
	for i, w := range weights {
		if w == 0 {
			continue
		}
		cum += w
		d := firstDay + day(i)
		for target := n * cum / total; done < target; done++ {
			g.flush(d)
			g.register(d)
			if g.err != nil {
				return
			}
		}
	}
	for g.pending.Len() > 0 && g.err == nil {
		g.emitNext()
	}
}

// Registration volume grows year on year (with a dip in 2020) and peaks in December, when
// contracts are registered before the year's statistics close. Weights are relative.
var (
	yearWeight = map[int]int64{2019: 100, 2020: 85, 2021: 115, 2022: 135, 2023: 160, 2024: 185, 2025: 210}
	// monthWeight is indexed by month-1.
	monthWeight = [12]int64{80, 60, 100, 100, 100, 110, 95, 90, 105, 85, 115, 170}
	// springFestival is 春节 (正月初一) of each year; the registry closes the day before and
	// five days after.
	springFestival = map[int]day{
		2019: dayOf(2019, time.February, 5), 2020: dayOf(2020, time.January, 25),
		2021: dayOf(2021, time.February, 12), 2022: dayOf(2022, time.February, 1),
		2023: dayOf(2023, time.January, 22), 2024: dayOf(2024, time.February, 10),
		2025: dayOf(2025, time.January, 29),
	}
)

// workday reports whether the registry is open on d: not at weekends, New Year's Day,
// the May Day and National Day holidays or the Spring Festival. (Swapped working weekends
// are ignored.)
func workday(d day) bool {
	t := d.time()
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	m, dd := t.Month(), t.Day()
	if m == time.January && dd == 1 || m == time.May && dd <= 5 || m == time.October && dd <= 7 {
		return false
	}
	if sf, ok := springFestival[t.Year()]; ok && d >= sf-1 && d <= sf+5 {
		return false
	}
	return true
}

// emit writes one command with the next command id.
func (g *generator) emit(cmd command) {
	if g.err != nil {
		return
	}
	g.seq++
	h := cmd.header()
	h.CommandID = fmt.Sprintf("s%d-%06d", g.cfg.Seed, g.seq)
	if err := g.enc.Encode(cmd); err != nil {
		g.err = fmt.Errorf("sample: write: %w", err)
		return
	}
	g.counts[h.Command]++
}

// planned is a follow-up command and the day it is recorded.
type planned struct {
	on  day
	cmd command
}

// pendingContract is a contract's follow-up commands still to be written, in order.
type pendingContract struct {
	order  int // registration order; breaks ties between contracts
	events []planned
}

// pendingQueue is a min-heap of contracts by the day of their next follow-up command.
type pendingQueue []*pendingContract

func (q pendingQueue) Len() int { return len(q) }
func (q pendingQueue) Less(i, j int) bool {
	a, b := q[i].events[0].on, q[j].events[0].on
	return a < b || a == b && q[i].order < q[j].order
}
func (q pendingQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pendingQueue) Push(x any)   { *q = append(*q, x.(*pendingContract)) }
func (q *pendingQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return x
}

// schedule queues a contract's follow-up commands, writing the earliest waiting ones at once
// if too many contracts wait.
func (g *generator) schedule(order int, events []planned) {
	if len(events) == 0 {
		return
	}
	heap.Push(&g.pending, &pendingContract{order: order, events: events})
	for g.pending.Len() > pendingContractsMax && g.err == nil {
		g.emitNext()
	}
}

// flush writes every waiting command recorded on or before d.
func (g *generator) flush(d day) {
	for g.pending.Len() > 0 && g.pending[0].events[0].on <= d && g.err == nil {
		g.emitNext()
	}
}

// emitNext writes the earliest waiting command.
func (g *generator) emitNext() {
	pc := g.pending[0]
	g.emit(pc.events[0].cmd)
	pc.events[0] = planned{}
	pc.events = pc.events[1:]
	if len(pc.events) == 0 {
		heap.Pop(&g.pending)
	} else {
		heap.Fix(&g.pending, 0)
	}
}
