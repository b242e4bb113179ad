package commands

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"

	"techledger/ledger"
)

// cmdIndex maps every command_id in the log to the fingerprint of its content and its
// positions, in compact form: a command_id is known by the first 16 bytes of its SHA-256,
// its fingerprint by its first 16 bytes (128 bits each: a collision between two of a
// billion keys has a chance below 10^-20), and a command's positions are consecutive (one
// Append), so the first and the count say them all. An entry takes 40 bytes.
//
// As the filestore's event-ID index, the entries loaded from a saved index sit in one
// sorted array, which loads without building a map; those indexed since are in a map.
type cmdIndex struct {
	base []cmdRecord // sorted by key; never changed once loaded
	dir  []uint32    // base[dir[b]:dir[b+1]] holds the keys whose first two bytes are b
	more map[cmdKey]cmdEntry
}

type (
	cmdKey   [16]byte
	fpKey    [16]byte
	cmdEntry struct {
		fp    fpKey
		first ledger.Position
		n     uint32
	}
	cmdRecord struct {
		key cmdKey
		cmdEntry
	}
)

// cmdEntryBytes is what one entry takes in a saved index (and about what it takes in the
// base array).
const cmdEntryBytes = 16 + 16 + 8 + 4

func newCmdIndex() cmdIndex { return cmdIndex{more: map[cmdKey]cmdEntry{}} }

func commandKey(id string) cmdKey {
	sum := sha256.Sum256([]byte(id))
	return cmdKey(sum[:16])
}

// fingerprintKey is the compact form of a fingerprint (Fingerprint's hex SHA-256; any
// other string recorded by another writer is hashed).
func fingerprintKey(fp string) fpKey {
	var k fpKey
	if len(fp) == 64 {
		if _, err := hex.Decode(k[:], []byte(fp[:32])); err == nil {
			return k
		}
	}
	sum := sha256.Sum256([]byte(fp))
	return fpKey(sum[:16])
}

// positions returns the positions of the command's events.
func (e cmdEntry) positions() []ledger.Position {
	ps := make([]ledger.Position, e.n)
	for i := range ps {
		ps[i] = e.first + ledger.Position(i)
	}
	return ps
}

func (x *cmdIndex) get(id string) (cmdEntry, bool) {
	return x.getKey(commandKey(id))
}

func (x *cmdIndex) getKey(k cmdKey) (cmdEntry, bool) {
	if e, ok := x.more[k]; ok {
		return e, true
	}
	if len(x.base) == 0 {
		return cmdEntry{}, false
	}
	b := binary.BigEndian.Uint16(k[:2])
	in := x.base[x.dir[b]:x.dir[int(b)+1]]
	i, found := slices.BinarySearchFunc(in, k, func(r cmdRecord, k cmdKey) int { return bytes.Compare(r.key[:], k[:]) })
	if !found {
		return cmdEntry{}, false
	}
	return in[i].cmdEntry, true
}

// add indexes an event of command id at position p. The events of one command are
// consecutive; an event of an indexed command_id elsewhere (another writer reusing it) is
// not added: the command's first outcome is the one kept.
func (x *cmdIndex) add(id, fingerprint string, p ledger.Position) {
	k := commandKey(id)
	e, ok := x.getKey(k)
	switch {
	case !ok:
		x.more[k] = cmdEntry{fp: fingerprintKey(fingerprint), first: p, n: 1}
	case e.first+ledger.Position(e.n) == p:
		e.n++
		x.more[k] = e // shadows a base entry
	}
}

// sorted returns every entry, sorted by key.
func (x *cmdIndex) sorted() []cmdRecord {
	more := make([]cmdRecord, 0, len(x.more))
	for k, e := range x.more {
		more = append(more, cmdRecord{k, e})
	}
	slices.SortFunc(more, func(a, b cmdRecord) int { return bytes.Compare(a.key[:], b.key[:]) })
	out := make([]cmdRecord, 0, len(x.base)+len(more))
	i, j := 0, 0
	for i < len(x.base) || j < len(more) {
		switch {
		case j == len(more):
			out = append(out, x.base[i])
			i++
		case i == len(x.base):
			out = append(out, more[j])
			j++
		default:
			c := bytes.Compare(x.base[i].key[:], more[j].key[:])
			if c < 0 {
				out = append(out, x.base[i])
				i++
				continue
			}
			if c == 0 {
				i++ // the map's entry shadows the base's
			}
			out = append(out, more[j])
			j++
		}
	}
	return out
}

// setBase installs base, sorted by key without duplicates, and builds its directory.
func (x *cmdIndex) setBase(base []cmdRecord) {
	x.base = base
	x.dir = make([]uint32, 1<<16+1)
	i := 0
	for b := range 1 << 16 {
		x.dir[b] = uint32(i)
		for i < len(base) && int(binary.BigEndian.Uint16(base[i].key[:2])) == b {
			i++
		}
	}
	x.dir[1<<16] = uint32(len(base))
	x.more = map[cmdKey]cmdEntry{}
}
