package reports

import (
	"sync"

	"techledger/ledger"
	"techledger/projections"
)

// CacheEntriesMax bounds the documents a Cache keeps for one position.
const CacheEntriesMax = 64

// Cache keeps the documents computed at the projections' current position, so that asking
// again while nothing was appended costs a lookup. It is keyed on the position and head
// hash of the State: any record folded since makes every entry stale, and they are
// dropped. A Cache is safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	pos     ledger.Position
	hash    ledger.Hash
	entries map[string]any
}

// Get returns what was computed for key at st's position, or computes it with build,
// keeps it and returns it. Errors are not kept.
func (c *Cache) Get(st *projections.State, key string, build func() (any, error)) (any, error) {
	c.mu.Lock()
	if c.pos != st.Position() || c.hash != st.Hash() || c.entries == nil {
		c.pos, c.hash, c.entries = st.Position(), st.Hash(), map[string]any{}
	}
	if v, ok := c.entries[key]; ok {
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	v, err := build()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pos == st.Position() && c.hash == st.Hash() {
		if len(c.entries) >= CacheEntriesMax {
			clear(c.entries)
		}
		c.entries[key] = v
	}
	return v, nil
}
