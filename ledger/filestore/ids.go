package filestore

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/google/uuid"

	"techledger/ledger"
)

// idIndex maps event IDs to positions. The IDs loaded from a checkpoint sit in one sorted
// array, which loads in bulk (a map of a million entries takes longer to build than the
// rest of the index together); the IDs indexed since are in a map.
//
// The array is sorted by the random bits of the ID first (a UUIDv7 starts with a
// timestamp, so its leading bits cluster), which spreads IDs evenly over the buckets of
// dir: a lookup binary-searches one bucket of a few entries.
type idIndex struct {
	base []idEntry // sorted by compareIDs; never changed once loaded
	dir  []uint32  // base[dir[b]:dir[b+1]] holds the IDs of bucket b
	more map[uuid.UUID]ledger.Position
}

type idEntry struct {
	id  uuid.UUID
	pos ledger.Position
}

const idBucketBits = 16

func newIDIndex() idIndex { return idIndex{more: make(map[uuid.UUID]ledger.Position)} }

// idRank orders IDs: the 64 low bits (for a UUIDv7 the random part, its two variant bits
// rotated to the bottom) first.
func idRank(id *uuid.UUID) uint64 { return bits.RotateLeft64(binary.BigEndian.Uint64(id[8:]), 2) }

func compareIDs(a, b *uuid.UUID) int {
	ra, rb := idRank(a), idRank(b)
	switch {
	case ra < rb:
		return -1
	case ra > rb:
		return 1
	}
	return bytes.Compare(a[:8], b[:8])
}

func idBucket(id *uuid.UUID) uint32 { return uint32(idRank(id) >> (64 - idBucketBits)) }

// setBase installs base, which must be sorted by compareIDs, and builds its directory.
func (x *idIndex) setBase(base []idEntry) {
	x.base = base
	x.dir = make([]uint32, 1<<idBucketBits+1)
	i := 0
	for b := range uint32(1 << idBucketBits) {
		x.dir[b] = uint32(i)
		for i < len(base) && idBucket(&base[i].id) == b {
			i++
		}
	}
	x.dir[1<<idBucketBits] = uint32(len(base))
}

func (x *idIndex) get(id uuid.UUID) (ledger.Position, bool) {
	if p, ok := x.more[id]; ok {
		return p, true
	}
	if len(x.base) == 0 {
		return 0, false
	}
	b := idBucket(&id)
	in := x.base[x.dir[b]:x.dir[b+1]]
	i, found := slices.BinarySearchFunc(in, id, func(e idEntry, id uuid.UUID) int { return compareIDs(&e.id, &id) })
	if !found {
		return 0, false
	}
	return in[i].pos, true
}

func (x *idIndex) put(id uuid.UUID, p ledger.Position) { x.more[id] = p }

// add puts id at p unless id is indexed already, which it reports as false (and then the
// entry may have been overwritten: the caller discards the index). One map access where
// get and put are two: this is what indexing a record at open costs most.
func (x *idIndex) add(id uuid.UUID, p ledger.Position) bool {
	if len(x.base) > 0 {
		if _, dup := x.get(id); dup {
			return false
		}
	}
	n := len(x.more)
	x.more[id] = p
	return len(x.more) > n
}

// sorted returns every entry with a position up to last, sorted by compareIDs.
func (x *idIndex) sorted(last ledger.Position) []idEntry {
	more := make([]idEntry, 0, len(x.more))
	for id, p := range x.more {
		if p <= last {
			more = append(more, idEntry{id, p})
		}
	}
	slices.SortFunc(more, func(a, b idEntry) int { return compareIDs(&a.id, &b.id) })
	out := make([]idEntry, 0, len(x.base)+len(more))
	i, j := 0, 0
	for i < len(x.base) || j < len(more) {
		if j == len(more) || (i < len(x.base) && compareIDs(&x.base[i].id, &more[j].id) < 0) {
			if x.base[i].pos <= last {
				out = append(out, x.base[i])
			}
			i++
		} else {
			out = append(out, more[j])
			j++
		}
	}
	return out
}
