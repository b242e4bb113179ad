package commands

import (
	"context"
	"fmt"

	"techledger/ledger"
)

// logIndex is what the handler knows of the whole log beyond single contracts: every
// command_id recorded, and the exclusive and sole use grants in force per achievement.
type logIndex struct {
	checkpoint ledger.Position // last position read
	commands   map[string]*commandEntry
	grants     map[string][]UseGrant // achievement_id -> exclusive/sole grants of contracts not revoked
	achieves   map[string]string     // contract_id -> achievement_id, for contracts with grants
}

type commandEntry struct {
	fingerprint string
	contractID  string
	positions   []ledger.Position
}

func newLogIndex() logIndex {
	return logIndex{commands: map[string]*commandEntry{}, grants: map[string][]UseGrant{}, achieves: map[string]string{}}
}

// catchUp reads the log from the index's checkpoint to its head.
func (h *Handler) catchUp(ctx context.Context) error {
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	for rec, err := range h.log.ReadAll(ctx, h.idx.checkpoint+1) {
		if err != nil {
			return fmt.Errorf("read log index: %w", err)
		}
		if err := h.idx.add(&rec); err != nil {
			return err
		}
	}
	return nil
}

func (x *logIndex) add(rec *ledger.Record) error {
	x.checkpoint = rec.Position
	if id := rec.Metadata.CommandID; id != "" {
		e := x.commands[id]
		if e == nil {
			e = &commandEntry{fingerprint: rec.Metadata.CommandHash, contractID: contractOf(rec.Stream)}
			x.commands[id] = e
		}
		e.positions = append(e.positions, rec.Position)
	}
	switch rec.Type {
	case ledger.TypeRightsAssigned:
		ev, err := ledger.DecodeRecord(rec)
		if err != nil {
			return fmt.Errorf("read log index: %w", err)
		}
		ra := ev.(*ledger.RightsAssigned)
		if ra.Right != ledger.RightUse || ra.Exclusivity == "ordinary" || ra.Term == nil || ra.AchievementID == "" {
			return nil
		}
		x.grants[ra.AchievementID] = append(x.grants[ra.AchievementID], UseGrant{ContractID: ra.ContractID, Exclusivity: ra.Exclusivity, Term: *ra.Term})
		x.achieves[ra.ContractID] = ra.AchievementID
	case ledger.TypeContractRevoked:
		// A revoked registration's grants no longer block others.
		id := contractOf(rec.Stream)
		if a, ok := x.achieves[id]; ok {
			kept := x.grants[a][:0:0]
			for _, g := range x.grants[a] {
				if g.ContractID != id {
					kept = append(kept, g)
				}
			}
			x.grants[a] = kept
			delete(x.achieves, id)
		}
	}
	return nil
}

func contractOf(stream string) string {
	const prefix = "contract-"
	if len(stream) > len(prefix) && stream[:len(prefix)] == prefix {
		return stream[len(prefix):]
	}
	return ""
}

func (h *Handler) commandEntry(id string) (commandEntry, bool) {
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	e, ok := h.idx.commands[id]
	if !ok {
		return commandEntry{}, false
	}
	return *e, true
}

func (h *Handler) grants(achievementID string) []UseGrant {
	h.idxMu.Lock()
	defer h.idxMu.Unlock()
	return append([]UseGrant(nil), h.idx.grants[achievementID]...)
}
