package commands

import (
	"context"
	"fmt"

	"techledger/ledger"
)

// logIndex is what the handler knows of the whole log beyond single contracts: every
// command_id recorded, and the exclusive and sole use grants in force per achievement.
// It covers positions 1..checkpoint exactly. Events this handler appended itself past the
// checkpoint wait in ahead (they are known without reading them back); catching up reads
// from the log only the positions other writers appended. With a log that reports an
// append's positions before they are durable (appendDecider), ahead also holds positions
// not durable yet: only those up to durable, a position known to be durable, are indexed.
type logIndex struct {
	checkpoint ledger.Position
	durable    ledger.Position
	ahead      map[ledger.Position]entry
	commands   cmdIndex
	grants     map[string][]UseGrant // achievement_id -> exclusive/sole grants of contracts not revoked
	achieves   map[string]string     // contract_id -> achievement_id, for contracts with grants
}

// entry is what the index needs of one record.
type entry struct {
	commandID, fingerprint, contractID string
	event                              ledger.DomainEvent // only RightsAssigned and ContractRevoked; else nil
}

func newLogIndex() logIndex {
	return logIndex{ahead: map[ledger.Position]entry{}, commands: newCmdIndex(), grants: map[string][]UseGrant{}, achieves: map[string]string{}}
}

// catchUp brings the index up to the log's head as it was when catchUp was called. One
// goroutine reads at a time (catchMu); the index itself (idxMu) is locked only to apply
// what was read, never across I/O, so appended and lookups are not held up by a read.
func (h *Handler) catchUp(ctx context.Context) error {
	head, err := h.log.Head(ctx)
	if err != nil {
		return fmt.Errorf("read log head: %w", err)
	}
	h.catchMu.Lock()
	defer h.catchMu.Unlock()
	for {
		h.idxMu.Lock()
		h.idx.durable = max(h.idx.durable, head)
		h.idx.drainAhead()
		from := h.idx.checkpoint + 1
		h.idxMu.Unlock()
		if from > head {
			return nil
		}
		read, err := h.readOthers(ctx, from, head)
		if err != nil {
			return err
		}
		h.idxMu.Lock()
		for _, pe := range read {
			if pe.pos == h.idx.checkpoint+1 {
				delete(h.idx.ahead, pe.pos)
				h.idx.add(pe.pos, pe.entry)
			}
		}
		h.idx.drainAhead()
		h.idxMu.Unlock()
	}
}

// readOthers reads what others appended from position from, up to head or the next
// position this handler knows. (A function of its own: the loop's state is allocated on
// the heap, which catchUp, mostly finding nothing to read, then does not pay for.)
func (h *Handler) readOthers(ctx context.Context, from, head ledger.Position) ([]positioned, error) {
	var read []positioned
	for rec, err := range h.log.ReadAll(ctx, from) {
		if err != nil {
			return nil, fmt.Errorf("read log index: %w", err)
		}
		if rec.Position > head || h.knows(rec.Position) {
			break
		}
		e, err := entryOf(&rec)
		if err != nil {
			return nil, err
		}
		read = append(read, positioned{rec.Position, e})
	}
	return read, nil
}

type positioned struct {
	pos ledger.Position
	entry
}

// knows reports whether the handler appended position p itself and has not indexed it yet.
func (h *Handler) knows(p ledger.Position) bool {
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	_, ok := h.idx.ahead[p]
	return ok
}

// drainAhead indexes the positions right after the checkpoint that the handler appended,
// up to the durable one.
func (x *logIndex) drainAhead() {
	for e, ok := x.ahead[x.checkpoint+1]; ok && x.checkpoint < x.durable; e, ok = x.ahead[x.checkpoint+1] {
		delete(x.ahead, x.checkpoint+1)
		x.add(x.checkpoint+1, e)
	}
}

// appended records events this handler appended at positions, now durable.
func (h *Handler) appended(positions []ledger.Position, meta ledger.Metadata, contractID string, evs []ledger.DomainEvent) {
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	x := &h.idx
	x.durable = max(x.durable, positions[len(positions)-1])
	for i, p := range positions {
		e := entryFor(meta, contractID, evs[i])
		switch {
		case p == x.checkpoint+1:
			delete(x.ahead, p) // if decided put it there
			x.add(p, e)
		case p > x.checkpoint:
			x.ahead[p] = e
		}
	}
	x.drainAhead()
}

// decided records events this handler is appending at positions, not durable yet (see
// appendDecider): catching up then knows them without reading them back, and indexes them
// once the log's head shows them durable. If the append fails, undecided removes them.
func (h *Handler) decided(positions []ledger.Position, meta ledger.Metadata, contractID string, evs []ledger.DomainEvent) {
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	for i, p := range positions {
		if p > h.idx.checkpoint {
			h.idx.ahead[p] = entryFor(meta, contractID, evs[i])
		}
	}
	h.idx.drainAhead()
}

// undecided forgets positions decided reported for an append that then failed.
func (h *Handler) undecided(positions []ledger.Position) {
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	for _, p := range positions {
		delete(h.idx.ahead, p)
	}
}

func entryFor(meta ledger.Metadata, contractID string, ev ledger.DomainEvent) entry {
	e := entry{commandID: meta.CommandID, fingerprint: meta.CommandHash, contractID: contractID}
	switch ev.(type) {
	case *ledger.RightsAssigned, *ledger.ContractRevoked:
		e.event = ev
	}
	return e
}

func entryOf(rec *ledger.Record) (entry, error) {
	e := entry{commandID: rec.Metadata.CommandID, fingerprint: rec.Metadata.CommandHash, contractID: contractOf(rec.Stream)}
	if rec.Type == ledger.TypeRightsAssigned || rec.Type == ledger.TypeContractRevoked {
		ev, err := ledger.DecodeRecord(rec)
		if err != nil {
			return e, fmt.Errorf("read log index: %w", err)
		}
		e.event = ev
	}
	return e, nil
}

// add indexes the record at position p, which must be checkpoint+1.
func (x *logIndex) add(p ledger.Position, e entry) {
	if p != x.checkpoint+1 {
		panic(fmt.Sprintf("commands: index at %d given position %d", x.checkpoint, p))
	}
	x.checkpoint = p
	if e.commandID != "" {
		x.commands.add(e.commandID, e.fingerprint, p)
	}
	switch ev := e.event.(type) {
	case *ledger.RightsAssigned:
		if ev.Right != ledger.RightUse || ev.Exclusivity == "ordinary" || ev.Term == nil || ev.AchievementID == "" {
			return
		}
		x.grants[ev.AchievementID] = append(x.grants[ev.AchievementID], UseGrant{ContractID: ev.ContractID, Exclusivity: ev.Exclusivity, Term: *ev.Term})
		x.achieves[ev.ContractID] = ev.AchievementID
	case *ledger.ContractRevoked:
		// A revoked registration's grants no longer block others.
		if a, ok := x.achieves[ev.ContractID]; ok {
			kept := x.grants[a][:0:0]
			for _, g := range x.grants[a] {
				if g.ContractID != ev.ContractID {
					kept = append(kept, g)
				}
			}
			x.grants[a] = kept
			delete(x.achieves, ev.ContractID)
		}
	}
}

func contractOf(stream string) string {
	const prefix = "contract-"
	if len(stream) > len(prefix) && stream[:len(prefix)] == prefix {
		return stream[len(prefix):]
	}
	return ""
}

// commandEntry returns what the index holds of command_id id.
func (h *Handler) commandEntry(id string) (cmdEntry, bool) {
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	return h.idx.commands.get(id)
}

func (h *Handler) grants(achievementID string) []UseGrant {
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	return append([]UseGrant(nil), h.idx.grants[achievementID]...)
}
