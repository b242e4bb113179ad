package filestore

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/google/uuid"

	"techledger/ledger"
)

// idIndex maps event IDs to positions: those of the checkpoint the store was opened from
// are looked up in it, where they sit sorted (diskIndex.id); the IDs indexed since are in
// a map.
//
// The checkpoint's IDs are sorted by the random bits of the ID first (a UUIDv7 starts
// with a timestamp, so its leading bits cluster), which spreads IDs evenly over the
// buckets of its directory: a lookup binary-searches one bucket of a few entries.
type idIndex struct {
	base *diskIndex // nil: none
	more map[uuid.UUID]ledger.Position
}

type idEntry struct {
	id  uuid.UUID
	pos ledger.Position
}

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

func idBucket(id *uuid.UUID) uint32 { return uint32(idRank(id) >> (64 - dirBits)) }

func (x *idIndex) get(id uuid.UUID) (ledger.Position, bool) {
	if p, ok := x.more[id]; ok {
		return p, true
	}
	return x.base.id(&id)
}

func (x *idIndex) put(id uuid.UUID, p ledger.Position) { x.more[id] = p }

// add puts id at p unless id is indexed already, which it reports as false (and then the
// entry may have been overwritten: the caller discards the index). One map access where
// get and put are two: this is what indexing a record at open costs most.
func (x *idIndex) add(id uuid.UUID, p ledger.Position) bool {
	if _, dup := x.base.id(&id); dup {
		return false
	}
	n := len(x.more)
	x.more[id] = p
	return len(x.more) > n
}

// moreSorted returns the entries indexed since the checkpoint with a position up to
// last, sorted by compareIDs.
func (x *idIndex) moreSorted(last ledger.Position) []idEntry {
	more := make([]idEntry, 0, len(x.more))
	for id, p := range x.more {
		if p <= last {
			more = append(more, idEntry{id, p})
		}
	}
	slices.SortFunc(more, func(a, b idEntry) int { return compareIDs(&a.id, &b.id) })
	return more
}
