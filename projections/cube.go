package projections

import (
	"slices"
)

// Aggregates. A statistics query groups by period dimensions (from registered_on) and
// base dimensions (the contract's codes). For each set of base dimensions a query has used
// (up to cubeDimsMax of them), the State keeps an aggregate: per month, one cell per
// combination of values, plus the same cells summed over all months. It is built from the
// contracts the first time a query needs it (a scan of every contract) and from then on
// kept up to date by the fold, so later queries read a few cells per month instead of
// every contract. At most cubesMax aggregates are kept; the least recently used is dropped.

const (
	// cubeDimsMax is the most base dimensions an aggregate covers; a query grouping by
	// more scans the contracts instead.
	cubeDimsMax = 4
	// cubesMax bounds the aggregates kept (each costs memory and a little fold time).
	cubesMax = 16
)

// Flow codes (indexes into flows).
const (
	flowWithin uint16 = iota
	flowOutflow
	flowInflow
	flowExternal
)

// cubes are the aggregates of a State.
type cubes struct {
	list []*cube
	tick uint64
}

// cube aggregates the live contracts by month and by the values of dims.
type cube struct {
	dims   []int // base dimensions, in query order
	months map[int32]*cells
	all    cells // over every month
	used   uint64
}

// cells sum contracts by packed value key (16 bits per dimension).
type cells struct {
	idx  map[uint64]int32
	list []cellSum
}

type cellSum struct {
	key uint64
	sum group
}

// group sums the contracts of a cell or of a result row.
type group struct {
	count              int64
	amount, tech, paid Money
}

func (g *group) addContract(c *contract, sign int64) {
	g.count += sign
	g.amount.add(sign * c.amount)
	g.tech.add(sign * c.tech)
	g.paid.add(sign * c.paid)
}

func (g *group) addGroup(h *group) {
	g.count += h.count
	g.amount.addMoney(h.amount)
	g.tech.addMoney(h.tech)
	g.paid.addMoney(h.paid)
}

func (cs *cells) at(key uint64) *group {
	i, ok := cs.idx[key]
	if !ok {
		if cs.idx == nil {
			cs.idx = map[uint64]int32{}
		}
		i = int32(len(cs.list))
		cs.idx[key] = i
		cs.list = append(cs.list, cellSum{key: key})
	}
	return &cs.list[i].sum
}

// packKey packs the codes of dims of c.
func packKey(c *contract, dims []int) uint64 {
	var k uint64
	for _, d := range dims {
		k = k<<16 | uint64(c.codes[d])
	}
	return k
}

// add adds (sign 1) or removes (sign -1) a live contract's sums in every aggregate.
func (cs *cubes) add(c *contract, sign int64) {
	if c.revoked {
		return
	}
	for _, cb := range cs.list {
		cb.add(c, sign)
	}
}

// addPaid adds a payment of fen to a live contract's cells in every aggregate.
func (cs *cubes) addPaid(c *contract, fen int64) {
	if c.revoked {
		return
	}
	for _, cb := range cs.list {
		key := packKey(c, cb.dims)
		cb.cells(monthOf(c.day)).at(key).paid.add(fen)
		cb.all.at(key).paid.add(fen)
	}
}

// cells returns the cells of month mn, created if needed.
func (cb *cube) cells(mn int32) *cells {
	m := cb.months[mn]
	if m == nil {
		m = &cells{}
		cb.months[mn] = m
	}
	return m
}

func (cb *cube) add(c *contract, sign int64) {
	key := packKey(c, cb.dims)
	cb.cells(monthOf(c.day)).at(key).addContract(c, sign)
	cb.all.at(key).addContract(c, sign)
}

// cube returns the aggregate over dims, building it from the contracts if needed.
func (s *State) cube(dims []int) *cube {
	cs := &s.cubes
	cs.tick++
	for _, cb := range cs.list {
		if slices.Equal(cb.dims, dims) {
			cb.used = cs.tick
			return cb
		}
	}
	cb := &cube{dims: slices.Clone(dims), months: map[int32]*cells{}, used: cs.tick}
	for i := range s.contracts {
		if c := &s.contracts[i]; !c.revoked {
			cb.add(c, 1)
		}
	}
	if len(cs.list) >= cubesMax {
		oldest := 0
		for i, x := range cs.list {
			if x.used < cs.list[oldest].used {
				oldest = i
			}
		}
		cs.list = slices.Delete(cs.list, oldest, oldest+1)
	}
	cs.list = append(cs.list, cb)
	return cb
}
