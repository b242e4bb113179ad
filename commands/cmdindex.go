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
// Append), so the first and the count say them all.
//
// The entries of a saved index are answered from it in place (base: its sorted records,
// cmdEntryBytes each, as the file holds them; a lookup binary-searches them), which a
// server maps from the file rather than reading into memory; those indexed since are in
// a map.
type cmdIndex struct {
	base []byte // sorted by key; never changed
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

// cmdEntryBytes is what one entry takes in a saved index (and in base).
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
	lo, hi := 0, len(x.base)/cmdEntryBytes
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		r := x.base[m*cmdEntryBytes : (m+1)*cmdEntryBytes]
		switch c := bytes.Compare(r[:16], k[:]); {
		case c == 0:
			return decodeCmdRecord(r).cmdEntry, true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return cmdEntry{}, false
}

// decodeCmdRecord decodes a record of a saved index.
func decodeCmdRecord(b []byte) cmdRecord {
	var r cmdRecord
	copy(r.key[:], b)
	copy(r.fp[:], b[16:])
	r.first = ledger.Position(binary.BigEndian.Uint64(b[32:]))
	r.n = binary.BigEndian.Uint32(b[40:])
	return r
}

func appendCmdRecord(b []byte, r cmdRecord) []byte {
	b = append(b, r.key[:]...)
	b = append(b, r.fp[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.first))
	return binary.BigEndian.AppendUint32(b, r.n)
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

// moreSorted returns the entries indexed since the base, sorted by key.
func (x *cmdIndex) moreSorted() []cmdRecord {
	more := make([]cmdRecord, 0, len(x.more))
	for k, e := range x.more {
		more = append(more, cmdRecord{k, e})
	}
	slices.SortFunc(more, func(a, b cmdRecord) int { return bytes.Compare(a.key[:], b.key[:]) })
	return more
}

// mergeBase calls fn with every entry of base and more (sorted by key, as moreSorted
// returns them) in key order, more's shadowing base's.
func mergeBase(base []byte, more []cmdRecord, fn func(r cmdRecord) error) error {
	i, j, n := 0, 0, len(base)/cmdEntryBytes
	for i < n || j < len(more) {
		var r cmdRecord
		switch {
		case j == len(more):
			r = decodeCmdRecord(base[i*cmdEntryBytes:])
			i++
		case i == n:
			r = more[j]
			j++
		default:
			b := base[i*cmdEntryBytes:]
			c := bytes.Compare(b[:16], more[j].key[:])
			if c < 0 {
				r = decodeCmdRecord(b)
				i++
				break
			}
			if c == 0 {
				i++ // the map's entry shadows the base's
			}
			r = more[j]
			j++
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
