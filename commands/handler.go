package commands

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/google/uuid"

	"techledger/ledger"
)

// Log is what the handler needs of a ledger.Store.
type Log interface {
	Append(ctx context.Context, stream string, expected ledger.Expected, events ...ledger.Event) (ledger.AppendResult, error)
	ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error]
	ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error]
	Head(ctx context.Context) (ledger.Position, error)
}

// Actor says who sends commands; it is recorded in every event's metadata.
type Actor struct {
	Name          string
	Role          string
	CorrelationID string // optional: ties the events of one request or import together
}

// Outcome statuses.
const (
	StatusApplied   = "applied"
	StatusDuplicate = "duplicate"
)

// Outcome is the result of a command the ledger accepted.
type Outcome struct {
	Status     string            `json:"status"` // StatusApplied, or StatusDuplicate for a repeated command_id
	CommandID  string            `json:"command_id"`
	ContractID string            `json:"contract_id"`
	Positions  []ledger.Position `json:"positions"` // of the events the command recorded (the original ones for a duplicate)
}

// Limits of the handler.
const (
	// RetriesMax bounds how often a command is decided again after losing a race for its
	// contract's stream (a version conflict).
	RetriesMax = 16
)

// china is the zone business dates are in (UTC+8, no daylight saving time).
var china = time.FixedZone("CST", 8*3600)

// Handler applies commands to the ledger: it loads the contract by folding its stream,
// decides, and appends with the expected version, retrying on a version conflict. Every
// path that accepts commands (HTTP, import, CLI) goes through it, so every rule is enforced
// once. It is safe for concurrent use.
//
// command_id is a permanent idempotency key: the handler keeps an index of every
// command_id in the log (with the fingerprint of its content and its positions), built by
// reading the log and kept current by reading what is new before each command, so it
// survives restarts and sees other writers. The same key with the same content returns
// the original outcome and appends nothing; with other content it is rejected.
type Handler struct {
	log Log
	// Now gives the current time (for "today" in China); default time.Now.
	Now func() time.Time
	// NewCommandID generates a command_id for a command without one; default a UUIDv7.
	NewCommandID func() string

	inflight keyedMutex // one command per command_id at a time
	useLocks keyedMutex // use-right grants are decided one at a time per achievement (overlap checks span its contracts)

	catchMu sync.Mutex // one goroutine reads the log for the index at a time
	idxMu   sync.Mutex
	idx     logIndex

	cacheMu sync.Mutex
	cache   *contractCache // contract_id -> folded state, least recently used dropped first
}

// NewHandler returns a handler appending to log.
func NewHandler(log Log) *Handler {
	return &Handler{
		log: log, Now: time.Now,
		NewCommandID: func() string { return "gen-" + uuid.Must(uuid.NewV7()).String() },
		inflight:     keyedMutex{m: map[string]*keyedEntry{}},
		useLocks:     keyedMutex{m: map[string]*keyedEntry{}},
		idx:          newLogIndex(),
		cache:        newContractCache(ContractCacheBytesMax),
	}
}

// HandleJSON decodes one command and handles it.
func (h *Handler) HandleJSON(ctx context.Context, b []byte, who Actor) (Outcome, error) {
	cmd, err := Decode(b)
	if err != nil {
		return Outcome{}, err
	}
	return h.Handle(ctx, cmd, who)
}

// Handle decides cmd and appends its events. It returns an *Error for a rejected command
// (nothing appended) and a wrapped error for a failure of the log.
func (h *Handler) Handle(ctx context.Context, cmd Command, who Actor) (Outcome, error) {
	head := cmd.Head()
	if head.CommandID == "" {
		head.CommandID = h.NewCommandID()
	} else if err := identifier("command_id", head.CommandID); err != nil {
		return Outcome{}, err
	}
	fingerprint := Fingerprint(cmd)
	e := h.inflight.lock(head.CommandID)
	defer h.inflight.unlock(head.CommandID, e)
	stream := ledger.ContractStream(cmd.Contract())
	var useKey string
	var useEntry *keyedEntry
	if a, ok := cmd.(*AssignRights); ok && a.Right == ledger.RightUse {
		// Overlap checks span the contracts of one achievement only, so use grants on one
		// achievement are decided one at a time, and the lock is held until the append is
		// durable (the index shows a grant only then). A contract's achievement is fixed
		// at registration; "" is the key of contracts without one or not registered yet.
		c, err := h.load(ctx, cmd.Contract(), stream, true)
		if err != nil {
			return Outcome{}, err
		}
		useKey = c.AchievementID
		useEntry = h.useLocks.lock(useKey)
		defer func() { h.useLocks.unlock(useKey, useEntry) }()
	}
	if err := h.catchUp(ctx); err != nil {
		return Outcome{}, err
	}
	if prior, ok := h.commandEntry(head.CommandID); ok {
		if prior.fp != fingerprintKey(fingerprint) {
			return Outcome{}, reject(CodeConflict, "command_id", "%s was already used for another command (at position %d); a command_id is a permanent idempotency key", head.CommandID, prior.first)
		}
		// The same content names the same contract: the fingerprint covers contract_id.
		return Outcome{Status: StatusDuplicate, CommandID: head.CommandID, ContractID: cmd.Contract(), Positions: prior.positions()}, nil
	}
	// The first attempt decides on the cached contract without asking the log whether its
	// stream moved on: if it did, the append's expected version does not match and the
	// next attempt reads what is new. A rejection, though, is only given on the contract
	// as the log has it (a cached contract behind the log could refuse what the log allows).
	fresh := false
	for range RetriesMax {
		c, err := h.load(ctx, cmd.Contract(), stream, fresh)
		if err != nil {
			return Outcome{}, err
		}
		if useEntry != nil && c.AchievementID != useKey {
			// Registered since the lock was taken: hold its achievement's lock instead.
			h.useLocks.unlock(useKey, useEntry)
			useKey = c.AchievementID
			useEntry = h.useLocks.lock(useKey)
			fresh = true
			continue
		}
		env := Env{Today: ledger.DateOf(h.Now().In(china))}
		if _, ok := cmd.(*AssignRights); ok && c.AchievementID != "" {
			env.Grants = h.grants(c.AchievementID)
		}
		evs, err := Decide(c, cmd, env)
		if err != nil && !fresh {
			fresh = true
			continue
		}
		if err != nil {
			return Outcome{}, err
		}
		meta := ledger.Metadata{Actor: who.Name, Role: who.Role, CommandID: head.CommandID, CommandHash: fingerprint, CorrelationID: who.CorrelationID}
		switch cmd := cmd.(type) {
		case *AmendContract:
			meta.Reason = cmd.Reason
		case *RevokeContract:
			meta.Reason = cmd.Reason
		}
		events := make([]ledger.Event, len(evs))
		for i, ev := range evs {
			if events[i], err = ledger.Encode(ev, meta); err != nil {
				return Outcome{}, err
			}
		}
		res, err := h.append(ctx, stream, ledger.Exactly(c.Version), events, meta, cmd.Contract(), evs)
		if errors.Is(err, ledger.ErrWrongVersion) {
			fresh = true
			continue // another command got there first: reload and decide again
		}
		if err != nil {
			return Outcome{}, fmt.Errorf("append %s: %w", stream, err)
		}
		if !res.Duplicate {
			h.appended(res.Positions, meta, cmd.Contract(), evs)
		}
		h.remember(c, res, evs)
		return Outcome{Status: StatusApplied, CommandID: head.CommandID, ContractID: cmd.Contract(), Positions: res.Positions}, nil
	}
	return Outcome{}, reject(CodeConflict, "contract_id", "contract %s is changing too fast: %d attempts lost to concurrent commands; retry", cmd.Contract(), RetriesMax)
}

// appendDecider is an optional capability of a Log (filestore.Store has it): Append that
// also reports the positions as soon as they are decided, before they are durable. The
// log must make positions durable in order: once an append has returned, every position
// before its own is durable too (the index relies on it to index early reports).
type appendDecider interface {
	AppendDecided(ctx context.Context, stream string, expected ledger.Expected, decided func(ledger.AppendResult), events ...ledger.Event) (ledger.AppendResult, error)
}

// append appends events, and when the log can tell the positions before they are durable
// (appendDecider), enters them in the index at once: concurrent commands catching up then
// do not read back what this handler appended while it waits for the fsync.
//
// Within an import, the append waits for its line's turn (see turnOf), so that positions
// follow the file's order; the turn passes on as soon as the positions are decided.
func (h *Handler) append(ctx context.Context, stream string, expected ledger.Expected, events []ledger.Event, meta ledger.Metadata, contractID string, evs []ledger.DomainEvent) (ledger.AppendResult, error) {
	turn := turnOf(ctx)
	if err := turn.wait(ctx); err != nil {
		return ledger.AppendResult{}, err
	}
	defer turn.pass()
	d, ok := h.log.(appendDecider)
	if !ok {
		return h.log.Append(ctx, stream, expected, events...)
	}
	var early []ledger.Position
	res, err := d.AppendDecided(ctx, stream, expected, func(r ledger.AppendResult) {
		early = r.Positions
		h.decided(r.Positions, meta, contractID, evs)
		turn.pass()
	}, events...)
	if err != nil && early != nil {
		h.undecided(early)
	}
	return res, err
}

// load returns the contract: the cached state as it is, or with fresh set, folded up to
// the end of its stream, starting from the cached state and reading only what is newer.
func (h *Handler) load(ctx context.Context, contractID, stream string, fresh bool) (Contract, error) {
	h.cacheMu.Lock()
	c, cached := h.cache.get(contractID)
	h.cacheMu.Unlock()
	if cached && (!fresh || !h.newer(ctx, stream, c.Version)) {
		return c, nil
	}
	c, err := Fold(c, h.log.ReadStream(ctx, stream, c.Version+1))
	if err != nil {
		return Contract{}, fmt.Errorf("load contract %s: %w", clip(contractID), err)
	}
	if c.Registered {
		h.store(c)
	}
	return c, nil
}

// newer reports whether stream has a record (or an error to report) past version v. It
// spares folding into a copy of an up-to-date cached contract, which Fold's loop would
// move to the heap for nothing; in the rare case that there is more, Fold reads it again.
func (h *Handler) newer(ctx context.Context, stream string, v ledger.Version) bool {
	for range h.log.ReadStream(ctx, stream, v+1) {
		return true
	}
	return false
}

// remember caches the contract as it stands after an append.
func (h *Handler) remember(c Contract, res ledger.AppendResult, evs []ledger.DomainEvent) {
	v := res.Version - ledger.Version(len(evs))
	for _, ev := range evs {
		v++
		var err error
		if c, err = c.Apply(v, ev); err != nil {
			panic(fmt.Sprintf("commands: event just decided does not apply: %v", err)) // Decide and Apply disagree: a bug
		}
	}
	h.store(c)
}

func (h *Handler) store(c Contract) {
	h.cacheMu.Lock()
	defer h.cacheMu.Unlock()
	h.cache.put(c)
}

// keyedMutex serialises work per key.
type keyedMutex struct {
	mu   sync.Mutex
	m    map[string]*keyedEntry
	free []*keyedEntry // entries no key uses, for reuse (at most keyedFreeMax)
}

// keyedFreeMax bounds the unused entries a keyedMutex keeps.
const keyedFreeMax = 1024

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its entry, to be passed to unlock.
func (k *keyedMutex) lock(key string) *keyedEntry {
	k.mu.Lock()
	e := k.m[key]
	if e == nil {
		if n := len(k.free); n > 0 {
			e, k.free = k.free[n-1], k.free[:n-1]
		} else {
			e = &keyedEntry{}
		}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return e
}

// unlock unlocks key, which lock returned e for.
func (k *keyedMutex) unlock(key string, e *keyedEntry) {
	e.mu.Unlock()
	k.mu.Lock()
	if e.refs--; e.refs == 0 {
		delete(k.m, key)
		if len(k.free) < keyedFreeMax {
			k.free = append(k.free, e)
		}
	}
	k.mu.Unlock()
}
