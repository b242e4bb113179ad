package commands

import (
	"unsafe"

	"techledger/ledger"
)

// ContractCacheBytesMax bounds the memory of the folded contracts the handler keeps (as
// estimated by contractBytes). The least recently used are dropped first; a miss costs
// one fold of the contract's stream.
const ContractCacheBytesMax = 64 << 20

// contractCache is a least-recently-used cache of folded contracts, bounded in bytes. It is
// not safe for concurrent use (the handler holds cacheMu).
type contractCache struct {
	max   int
	bytes int
	m     map[string]*cacheNode
	head  cacheNode // sentinel: head.next is the most recently used, head.prev the least
}

type cacheNode struct {
	c          Contract
	size       int
	prev, next *cacheNode
}

func newContractCache(max int) *contractCache {
	cc := &contractCache{max: max, m: map[string]*cacheNode{}}
	cc.head.prev, cc.head.next = &cc.head, &cc.head
	return cc
}

func (cc *contractCache) get(id string) (Contract, bool) {
	n, ok := cc.m[id]
	if !ok {
		return Contract{}, false
	}
	cc.unlink(n)
	cc.pushFront(n)
	return n.c, true
}

// put caches c unless a newer version of it is cached, dropping the least recently used
// contracts until the cache fits its bound.
func (cc *contractCache) put(c Contract) {
	if n, ok := cc.m[c.ID]; ok {
		if n.c.Version >= c.Version {
			return
		}
		cc.unlink(n)
		cc.bytes -= n.size
		delete(cc.m, c.ID)
	}
	n := &cacheNode{c: c, size: contractBytes(&c)}
	cc.m[c.ID] = n
	cc.pushFront(n)
	cc.bytes += n.size
	for cc.bytes > cc.max && cc.head.prev != n {
		old := cc.head.prev
		cc.unlink(old)
		cc.bytes -= old.size
		delete(cc.m, old.c.ID)
	}
}

func (cc *contractCache) unlink(n *cacheNode) {
	n.prev.next, n.next.prev = n.next, n.prev
}

func (cc *contractCache) pushFront(n *cacheNode) {
	n.prev, n.next = &cc.head, cc.head.next
	cc.head.next.prev = n
	cc.head.next = n
}

// decimalBytes is what a decimal.Decimal holds on the heap besides itself (a big.Int and
// its words), about.
const decimalBytes = 64

// contractBytes estimates the memory a cached contract takes: the node, the map entry,
// the strings, the decimals and the payments and proceeds it holds.
func contractBytes(c *Contract) int {
	n := int(unsafe.Sizeof(cacheNode{})) + 64 + 2*len(c.ID) // node, map entry and key
	n += len(c.Type) + len(c.Subtype) + len(c.Field) + len(c.AchievementID)
	n += len(c.Seller.ID) + len(c.Seller.Name) + len(c.Seller.Kind) + len(c.Seller.Region)
	n += 3 * decimalBytes
	for id := range c.Payments {
		n += len(id) + 48
	}
	for _, h := range c.Proceeds {
		n += int(unsafe.Sizeof(ledger.Holder{})) + len(h.ID) + len(h.Name) + len(h.Kind) + len(h.Institution) + decimalBytes
	}
	return n
}
