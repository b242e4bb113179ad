package filestore

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"techledger/ledger"
)

// index is the index of the log: where each position is, each stream's positions, each
// event ID's position, and the head of the hash chain. What the checkpoint the store was
// opened from holds is answered from it in place (base, a mapped file: see diskindex.go);
// what was indexed since is held here, in memory. Streams with positions since the
// checkpoint are numbered in the order they first appear, so that indexing a record of a
// known stream looks its name up without allocating.
type index struct {
	base      *diskIndex        // nil: none
	baseN     ledger.Position   // positions base holds (0 without one)
	locs      []loc             // locs[p-baseN-1] for position p past base
	streamIDs map[string]uint32 // stream name -> number, for streams with positions past base
	streams   []streamTail      // by number
	ids       idIndex
	last      ledger.Position // last position indexed
	lastHash  ledger.Hash     // hash of the record at last
	lastTime  time.Time       // recorded-at of the record at last
}

// streamTail is a stream that has positions past the checkpoint: how many it has in the
// checkpoint (and where they are there), and the positions since.
type streamTail struct {
	name      string
	baseFirst uint64 // index of its first position in base.positions
	baseCount uint32 // 0: the stream is new since the checkpoint
	more      []ledger.Position
}

func newIndex() index {
	return index{streamIDs: make(map[string]uint32), ids: newIDIndex()}
}

// setBase makes x answer from the checkpoint d, which covers up to d.n.
func (x *index) setBase(d *diskIndex) {
	x.base, x.ids.base, x.baseN = d, d, d.n
}

// loc returns the location of position p (1 <= p <= last).
func (x *index) loc(p ledger.Position) loc {
	if p <= x.baseN {
		return x.base.loc(p)
	}
	return x.locs[p-x.baseN-1]
}

// streamLen returns the number of records of a stream: its version.
func (x *index) streamLen(name string) ledger.Version {
	if i, ok := x.streamIDs[name]; ok {
		t := &x.streams[i]
		return ledger.Version(t.baseCount) + ledger.Version(len(t.more))
	}
	_, n := x.base.stream(name)
	return ledger.Version(n)
}

// streamAt returns the position of version v (>= 1) of a stream, if it has one.
func (x *index) streamAt(name string, v ledger.Version) (ledger.Position, bool) {
	first, n := uint64(0), uint32(0)
	var more []ledger.Position
	if i, ok := x.streamIDs[name]; ok {
		t := &x.streams[i]
		first, n, more = t.baseFirst, t.baseCount, t.more
	} else {
		first, n = x.base.stream(name)
	}
	switch {
	case v <= ledger.Version(n):
		p := x.base.position(first + uint64(v) - 1)
		return p, p > 0
	case v <= ledger.Version(n)+ledger.Version(len(more)):
		return more[v-ledger.Version(n)-1], true
	}
	return 0, false
}

// streamNumber returns the number of a stream, adding it to the streams with positions
// past the checkpoint if it is not one yet.
func (x *index) streamNumber(name string) uint32 {
	if i, ok := x.streamIDs[name]; ok {
		return i
	}
	i := uint32(len(x.streams))
	first, n := x.base.stream(name)
	x.streamIDs[name] = i
	x.streams = append(x.streams, streamTail{name: name, baseFirst: first, baseCount: n})
	return i
}

// appendStream records position p as the next of stream number i.
func (x *index) appendStream(i uint32, p ledger.Position) {
	x.streams[i].more = append(x.streams[i].more, p)
}

// add indexes a record read from the log after checking that it continues the log: its
// position, its stream version and its link to the previous hash.
func (x *index) add(k *ledger.RecordKey, l loc) error {
	si, ok := x.streamIDs[string(k.Stream)] // no allocation for a lookup
	if !ok {
		si = x.streamNumber(string(k.Stream))
	}
	t := &x.streams[si]
	want := ledger.Version(t.baseCount) + ledger.Version(len(t.more)) + 1
	switch {
	case k.Position != x.last+1:
		return &ledger.CorruptionError{Position: x.last + 1, Reason: fmt.Sprintf("record has position %d, want %d", k.Position, x.last+1)}
	case k.Version != want:
		return &ledger.CorruptionError{Position: k.Position, Reason: fmt.Sprintf("stream %q version %d, want %d", k.Stream, k.Version, want)}
	case k.PrevHash != x.lastHash:
		return &ledger.CorruptionError{Position: k.Position, Reason: "previous hash does not match the hash of the record before"}
	}
	if !x.ids.add(k.ID, k.Position) {
		return &ledger.CorruptionError{Position: k.Position, Reason: fmt.Sprintf("event id %s stored twice", uuid.UUID(k.ID))}
	}
	x.locs = append(x.locs, l)
	t.more = append(t.more, k.Position)
	x.last = k.Position
	x.lastHash = k.Hash
	x.lastTime = time.Unix(0, k.RecordedAt).UTC()
	return nil
}

// rebase makes x answer from d, a checkpoint of the same log written while x was in use
// (d.n at or past x's base, at or before x.last), and drops from memory what d holds: the
// locations, stream positions and event IDs up to d.n. It checks first that d agrees with x
// on every stream x holds in memory, and changes nothing if it does not.
func (x *index) rebase(d *diskIndex) error {
	c := d.n
	if c < x.baseN || c > x.last {
		return fmt.Errorf("checkpoint at position %d, the index holds %d..%d", c, x.baseN, x.last)
	}
	type kept struct {
		t    *streamTail
		k    int // positions of t.more in d
		base uint64
		n    uint32
	}
	keep := make([]kept, 0, len(x.streams))
	for i := range x.streams {
		t := &x.streams[i]
		k := sortSearch(len(t.more), func(j int) bool { return t.more[j] > c })
		first, n := d.stream(t.name)
		if uint64(n) != uint64(t.baseCount)+uint64(k) {
			return fmt.Errorf("checkpoint holds %d positions of stream %q, the index %d", n, t.name, uint64(t.baseCount)+uint64(k))
		}
		if k < len(t.more) {
			keep = append(keep, kept{t, k, first, n})
		}
	}
	locs := append(make([]loc, 0, int(x.last-c)), x.locs[c-x.baseN:]...)
	streamIDs := make(map[string]uint32, len(keep))
	streams := make([]streamTail, len(keep))
	for i, e := range keep {
		streams[i] = streamTail{name: e.t.name, baseFirst: e.base, baseCount: e.n, more: append([]ledger.Position(nil), e.t.more[e.k:]...)}
		streamIDs[e.t.name] = uint32(i)
	}
	for id, p := range x.ids.more {
		if p <= c {
			delete(x.ids.more, id)
		}
	}
	x.locs, x.streamIDs, x.streams = locs, streamIDs, streams
	x.setBase(d)
	return nil
}
