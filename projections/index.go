package projections

// contractIndex finds a contract's index in State.contracts by its key (see contractKey).
// It is an open-addressing hash table with linear probing, at most half full, of 8-byte
// slots: the contract's index + 1 (0: empty) and 32 other bits of the key's hash, so that a probe
// reads the contract only when the hash bits match. A replay looks a contract up for almost
// every event; with a Go map over a million contracts each lookup cost two or three cache
// misses (control word, slot, table directory), here it costs one slot, and the contract,
// which the fold reads next anyway. It takes 8 to 16 bytes per contract.
type contractIndex struct {
	slots []uint64
	n     int // contracts entered
	shift uint8
}

// contractIndexSlotsMin is the size of a new table.
const contractIndexSlotsMin = 1 << 10

// hashKey mixes a contract key (Fibonacci hashing: the product's high bits).
func hashKey(key uint64) uint64 { return key * 0x9e3779b97f4a7c15 }

// find returns the index of the contract with key.
func (x *contractIndex) find(cs []contract, key uint64) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	h := hashKey(key)
	tag := h << 32 // the low bits: the slot's position comes from the high ones
	mask := uint64(len(x.slots) - 1)
	for j := h >> x.shift; ; j = (j + 1) & mask {
		s := x.slots[j]
		if s == 0 {
			return 0, false
		}
		if s&^(1<<32-1) == tag && cs[uint32(s)-1].key == key {
			return uint32(s) - 1, true
		}
	}
}

// add enters contract i, whose key is cs[i].key. If a contract with that key is already
// entered it enters nothing and returns that contract's index and false.
func (x *contractIndex) add(cs []contract, i uint32) (uint32, bool) {
	if (x.n+1)*2 > len(x.slots) {
		x.grow(cs)
	}
	key := cs[i].key
	h := hashKey(key)
	tag := h << 32 // the low bits: the slot's position comes from the high ones
	mask := uint64(len(x.slots) - 1)
	for j := h >> x.shift; ; j = (j + 1) & mask {
		s := x.slots[j]
		if s == 0 {
			x.slots[j] = tag | uint64(i+1)
			x.n++
			return i, true
		}
		if s&^(1<<32-1) == tag && cs[uint32(s)-1].key == key {
			return uint32(s) - 1, false
		}
	}
}

// reserve makes room for n contracts without growing.
func (x *contractIndex) reserve(cs []contract, n int) {
	for 2*n > len(x.slots) {
		x.grow(cs)
	}
}

// grow doubles the table and enters every contract again.
func (x *contractIndex) grow(cs []contract) {
	old := x.slots
	size := max(2*len(old), contractIndexSlotsMin)
	x.slots = make([]uint64, size)
	x.shift = uint8(64 - bitsOf(size))
	mask := uint64(size - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		h := hashKey(cs[uint32(s)-1].key)
		j := h >> x.shift
		for x.slots[j] != 0 {
			j = (j + 1) & mask
		}
		x.slots[j] = s
	}
}

// bitsOf returns log2 of the power of two n.
func bitsOf(n int) int {
	b := 0
	for n > 1 {
		n >>= 1
		b++
	}
	return b
}
