// Package jetstream is a ledger.Store on NATS JetStream (github.com/nats-io/nats.go, package
// jetstream): one JetStream stream holds the whole log, one subject per ledger stream.
//
// # Commits: one message per group of Appends
//
// Concurrent Appends in one process are committed together (group commit): the first
// appender to find no commit in progress becomes the committer; it takes every Append waiting,
// decides each against the index and the Appends before it in the group (expected version,
// idempotent retry), seals their records consecutively and publishes them as one JetStream
// message; Appends that arrive meanwhile wait for the next message. A message is stored whole
// or not at all, so every batch is atomic without the server's atomic batch publish (which
// nats.go v1.55 offers no client API for and which does not de-duplicate by message ID). With
// sync_interval always the server syncs once per message, so a group shares one sync as the
// filestore's group commit shares one fsync. A message whose records are all of one ledger
// stream goes to that stream's subject; one holding several streams goes to the group subject
// <prefix>.group.commit, which no ledger stream's subject (one token after the prefix) can
// equal. The price is a size limit: a batch must encode within the server's max_payload (1
// MiB by default); a larger batch is refused with ledger.ErrInvalidAppend naming the limit, and
// a group is cut where the next batch would not fit.
//
// # Positions, versions and the hash chain: one writer at a time per log
//
// Every record in a message is complete and sealed by its writer: global position, stream
// version, recorded-at and the SHA-256 link to the record before it (ledger.Seal), so
// ledger.Verify works over ReadAll as on every backend. That needs each writer to know the
// record before its first one. A writer therefore publishes with the header
// Nats-Expected-Last-Sequence set to the JetStream sequence of the last message it built on.
// The server stores the message only if nothing was stored in between; otherwise it refuses,
// the writer reads the messages it missed and decides every Append of the group again (the
// expected stream version is checked against the caught-up index, so a real conflict becomes
// a *ledger.VersionError). The index is complete up to that sequence when a group is decided,
// so this one header also guards every stream version. Writers in several processes thus take
// turns, and every message continues the one before it: positions are gapless and counted in
// records, versions are contiguous, the chain links. So that the writer nearest the stream
// leader does not win every time, a writer that keeps losing asks the others to hold for a
// moment, on a core NATS subject (Config.TurnSubject; turns.go).
//
// # Idempotency
//
// The Store keeps an index rebuilt from the stream at Open and kept current as messages are
// read: event ID -> message, stream -> messages, message -> first position. An Append whose
// IDs are stored is answered from the index (logutil.CheckRetry), so a retry is recognised
// forever, not only inside the server's duplicate window. Each message also carries
// Nats-Msg-Id (its first event ID): within the window the server refuses a re-sent message
// and the writer, seeing the duplicate ack, catches up and answers from the index. The index
// holds every event ID in memory (tens of bytes each). Duplicate means stored by an earlier
// Append: when an Append's own attempt was stored although its publish was answered
// otherwise (a stale stream leader's refusal; see request.storedBySelf), the answer is a
// first success.
//
// # Durability
//
// Append returns only after the server's publish acknowledgement: stored on the stream
// leader (R1) or on a quorum of replicas (R3). It is durable against a machine crash only
// if the server syncs every write (jetstream { sync_interval: always }); Warnings says when
// the setting cannot be confirmed. A publish that gets no answer leaves the outcome unknown:
// Append returns the error and a retry with the same event IDs learns the outcome.
//
// # Reads
//
// ReadAll and Subscribe read with ordered consumers (ephemeral, flow controlled, recreated by
// the client on a gap), so a slow reader only stops pulling and never holds up a writer.
// Reads see appends from every process: ReadStream, ReadAll and Head first catch the index up
// with the server's last sequence (one stream-info request when nothing is new). ReadStream
// then gets the stream's messages the index names one by one, or, for a long stream, reads
// them with an ordered consumer filtered on the stream's subject and the group subject.
//
// # Copies
//
// AppendRecords (ledger.RecordAppender) publishes copied records as they are, as many to a
// message as fit: a call that fits in one message (max_payload) is atomic. A longer call is
// stored message by message; if it fails part-way the stored prefix stays, and the copy resumes
// from Head.
package jetstream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"techledger/ledger"
	"techledger/ledger/internal/logutil"
)

var _ ledger.Store = (*Store)(nil)

// Config says which JetStream stream holds the log and how to reach it.
type Config struct {
	// Stream is the JetStream stream's name (required): letters, digits, '-' and '_'.
	Stream string
	// SubjectPrefix is prefixed to every ledger stream's subject token (default
	// "techledger.log.<Stream>"). The JetStream stream captures SubjectPrefix + ".>".
	SubjectPrefix string
	// Replicas is used when the Store creates the stream (default 1). An existing stream
	// is never changed; Warnings reports a mismatch.
	Replicas int
	// RequestTimeout bounds each request to the server: a publish, a stream info, a
	// message get (default 10s).
	RequestTimeout time.Duration
	// Now returns the time recorded with new records (default time.Now). Recorded times
	// never go backwards: a record gets max(Now(), the previous record's time).
	Now func() time.Time
	// TurnSubject is the core NATS subject on which the writers of this stream ask one
	// another to hold their publishes (default "techledger.turn.<Stream>"; see turns.go).
	// Every writer of the stream must use the same one, and the stream must not capture it.
	TurnSubject string
}

const (
	requestTimeoutDefault = 10 * time.Second
	// appendAttemptsMax bounds how often one Append catches up and decides again after
	// another writer got in first.
	appendAttemptsMax = 100
	// refusedWaitMin and refusedWaitMax bound the wait before an Append decides again after
	// the server refused its message for another one the stream does not show yet.
	refusedWaitMin = 5 * time.Millisecond
	refusedWaitMax = 250 * time.Millisecond
	// pullMessagesMax bounds the messages an ordered consumer buffers ahead of its reader.
	pullMessagesMax = 256
	// StreamNameBytesMax bounds a JetStream stream name.
	StreamNameBytesMax = 64
)

// Store is a ledger.Store on a JetStream stream. It is safe for concurrent use, and
// several Stores (in one process or many) may append to the same stream.
type Store struct {
	nc      *nats.Conn
	ownConn bool // Close closes nc
	js      jetstream.JetStream
	stream  jetstream.Stream
	cfg     Config
	// payloadMax is the largest message the server accepts.
	payloadMax int
	// turns is how this writer takes turns with the others (turns.go).
	turns *turns
	// publishMsg publishes to the stream (js.PublishMsg; tests wrap it to answer as a stale
	// stream leader does).
	publishMsg func(context.Context, *nats.Msg, ...jetstream.PublishOpt) (*jetstream.PubAck, error)

	writeMu sync.Mutex // held by the committer of a group (and by AppendRecords, Close)
	// carry holds the Appends cut from the last group, first in the next (guarded by writeMu).
	carry   []*request
	catchMu sync.Mutex // one catch-up at a time

	// qmu guards the Appends waiting for the next group and whether a committer runs.
	qmu     sync.Mutex
	queue   []*request
	leading bool
	done    chan struct{}

	// mu guards the index below: everything read from the stream up to lastSeq.
	mu       sync.RWMutex
	closed   bool
	failed   error // set when the stream is found damaged; appends are refused
	lastSeq  uint64
	head     ledger.Position
	lastHash ledger.Hash
	lastTime time.Time
	firstPos []ledger.Position // firstPos[seq-1]: the first position in message seq
	streams  map[string]*streamIndex
	ids      map[uuid.UUID]idLoc
}

// streamIndex lists a ledger stream's messages.
type streamIndex struct {
	version ledger.Version
	msgs    []streamMsg
}

type streamMsg struct {
	seq   uint64
	first ledger.Version
}

// idLoc says where an event is: message sequence and index in the message.
type idLoc struct {
	seq uint64
	i   uint16
}

// New opens the log in the JetStream stream cfg.Stream over nc, creating the stream
// if it does not exist, and builds the index by reading the whole stream. The caller keeps
// ownership of nc. It returns a *ledger.CorruptionError if the stream does not hold a
// consistent log.
func New(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	if err := validStreamName(cfg.Stream); err != nil {
		return nil, err
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = "techledger.log." + cfg.Stream
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = requestTimeoutDefault
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TurnSubject == "" {
		cfg.TurnSubject = "techledger.turn." + cfg.Stream
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s := &Store{
		nc: nc, js: js, cfg: cfg, payloadMax: int(nc.MaxPayload()),
		done:    make(chan struct{}),
		streams: make(map[string]*streamIndex),
		ids:     make(map[uuid.UUID]idLoc),
	}
	s.publishMsg = js.PublishMsg
	rctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	defer cancel()
	s.stream, err = js.Stream(rctx, cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s.stream, err = js.CreateStream(rctx, s.streamConfig())
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another process created it
			s.stream, err = js.Stream(rctx, cfg.Stream)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: open stream %s: %w", cfg.Stream, err)
	}
	info := s.stream.CachedInfo()
	want := cfg.SubjectPrefix + ".>"
	if !contains(info.Config.Subjects, want) {
		return nil, fmt.Errorf("jetstream: stream %s captures %v, not %s: it is not this ledger's stream", cfg.Stream, info.Config.Subjects, want)
	}
	for _, f := range info.Config.Subjects {
		if subjectMatches(f, cfg.TurnSubject) {
			return nil, fmt.Errorf("jetstream: stream %s captures %s, which matches the turn subject %s: the writers' requests to hold would be stored as records; choose another TurnSubject", cfg.Stream, f, cfg.TurnSubject)
		}
	}
	if m := int(info.Config.MaxMsgSize); m > 0 && m < s.payloadMax {
		s.payloadMax = m
	}
	if err := s.catchUp(ctx); err != nil {
		return nil, fmt.Errorf("jetstream: open stream %s: %w", cfg.Stream, err)
	}
	if s.turns, err = newTurns(nc, cfg.TurnSubject, cfg.RequestTimeout); err != nil {
		return nil, err
	}
	return s, nil
}

// streamConfig is the configuration the Store creates its stream with: file storage, no
// limit that could delete or refuse records, no deletes, purges or rollups.
func (s *Store) streamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              s.cfg.Stream,
		Description:       "techledger event log: one message per committed append",
		Subjects:          []string{s.cfg.SubjectPrefix + ".>"},
		Retention:         jetstream.LimitsPolicy,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxAge:            0,
		MaxMsgsPerSubject: -1,
		// DiscardNew: should a limit ever be set, appends are refused rather than old
		// records deleted.
		Discard:     jetstream.DiscardNew,
		Storage:     jetstream.FileStorage,
		Replicas:    s.cfg.Replicas,
		DenyDelete:  true,
		DenyPurge:   true,
		AllowRollup: false,
	}
}

func validStreamName(name string) error {
	if name == "" {
		return errors.New("jetstream: a stream name is required")
	}
	if len(name) > StreamNameBytesMax {
		return fmt.Errorf("jetstream: stream name %q: longer than StreamNameBytesMax (%d)", name, StreamNameBytesMax)
	}
	for i := 0; i < len(name); i++ {
		if !plainByte(name[i]) {
			return fmt.Errorf("jetstream: stream name %q: only letters, digits, '-' and '_' are allowed", name)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// subject returns the subject of ledger stream name.
func (s *Store) subject(name string) string {
	return s.cfg.SubjectPrefix + "." + subjectToken(name)
}

// Append implements ledger.Store. It returns after the server acknowledged the message
// holding the batch (with the batches of other Appends of this process made at the same time,
// see the package comment). Besides the errors every Store returns, it returns an error
// wrapping ledger.ErrInvalidAppend when the batch does not fit in one message (the server's
// max_payload). Once queued, an Append is decided and published even if ctx ends meanwhile:
// it waits for the outcome, bounded by Config.RequestTimeout per attempt.
func (s *Store) Append(ctx context.Context, stream string, expected ledger.Expected, events ...ledger.Event) (ledger.AppendResult, error) {
	if err := ledger.ValidateAppend(stream, events); err != nil {
		return ledger.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return ledger.AppendResult{}, err
	}
	r := &request{stream: stream, subject: s.subject(stream), expected: expected, events: events, done: make(chan struct{}), promote: make(chan struct{})}
	s.qmu.Lock()
	s.queue = append(s.queue, r)
	lead := !s.leading
	s.leading = true
	s.qmu.Unlock()
	if !lead {
		select {
		case <-r.done:
			return r.res, r.err
		case <-r.promote: // the committer handed over to this Append
		}
	}
	s.lead(r)
	<-r.done
	return r.res, r.err
}

// request is one Append waiting for its group.
type request struct {
	stream   string
	subject  string
	expected ledger.Expected
	events   []ledger.Event

	recs []ledger.Record // sealed for the group being published
	// sent holds the hash of the first record of each message published for this Append,
	// to tell its own stored attempt from events another writer stored (decideGroup).
	sent []ledger.Hash

	res     ledger.AppendResult
	err     error
	done    chan struct{}
	promote chan struct{} // closed when this Append's caller is to commit the next groups
}

func (r *request) answer(res ledger.AppendResult, err error) {
	r.res, r.err = res, err
	close(r.done)
}

// lead commits groups until own is answered, then hands the commits over to the first
// Append still waiting (or, if none is, leaves the next Append to take them up). Without the
// hand-over, the caller whose Append happened to find no commit in progress would commit for
// everyone else for as long as Appends keep arriving, its own long answered.
func (s *Store) lead(own *request) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for {
		s.qmu.Lock()
		group := append(s.carry, s.queue...)
		s.carry, s.queue = nil, nil
		if len(group) == 0 {
			s.leading = false
			s.qmu.Unlock()
			return
		}
		s.qmu.Unlock()
		s.carry = s.commitGroup(group)
		select {
		case <-own.done:
		default:
			continue
		}
		s.qmu.Lock()
		switch {
		case len(s.carry) > 0:
			close(s.carry[0].promote)
		case len(s.queue) > 0:
			close(s.queue[0].promote)
		default:
			s.leading = false
		}
		s.qmu.Unlock()
		return
	}
}

// commitGroup decides and publishes Appends in one message, retrying after another writer got
// in first, and answers each. It returns the Appends that did not fit in this message (too
// large together, or reusing an event ID of an earlier Append of the group) for the next.
func (s *Store) commitGroup(group []*request) (carry []*request) {
	ctx := context.Background()
	var lost, dups, unanswered int // attempts by why they were not stored
	var stale int                  // refusals after which catching up found nothing new
	wait := refusedWaitMin
	asked := false // this group asked the other writers to hold
	defer func() {
		if asked {
			s.turns.release()
		}
	}()
	for attempt := 0; ; attempt++ {
		if !asked {
			s.turns.wait()
		}
		if attempt == appendAttemptsMax {
			for _, r := range group {
				r.answer(ledger.AppendResult{}, fmt.Errorf("jetstream: append to %q: not stored after %d attempts (appendAttemptsMax): another writer got in first %d times (%d of them with nothing new to read), the server reported a duplicate message %d times, no server answered %d times; retry with the same event IDs", r.stream, appendAttemptsMax, lost, stale, dups, unanswered))
			}
			return carry
		}
		var c *commit
		c, group, carry = s.decideGroup(ctx, group)
		if c == nil {
			return carry
		}
		for _, r := range group {
			r.sent = append(r.sent, r.recs[0].Hash)
		}
		ack, err := s.publish(ctx, c)
		switch {
		case err == nil && !ack.Duplicate && ack.Sequence == c.seq:
			err := s.apply(c.seq, c.subject, c.recs)
			for _, r := range group {
				if err != nil {
					r.answer(ledger.AppendResult{}, err)
				} else {
					r.answer(r.res, nil)
				}
			}
			return carry
		case err == nil || isWrongLastSequence(err):
			// Another writer got in first, or the server already holds a message with this
			// ID (a retry inside its duplicate window): read what was stored and decide
			// every Append of the group again.
			if err == nil {
				dups++
			} else {
				lost++
				if lost >= turnAfterLosses {
					// Ask the others to hold before catching up, so that the catch-up
					// sees everything stored before this writer's turn.
					asked = true
					s.turns.ask()
				}
			}
		case errors.Is(err, jetstream.ErrNoStreamResponse):
			// Nobody received the message (for example while a leader is elected): it was
			// not stored. Wait a little and decide again.
			unanswered++
			time.Sleep(100 * time.Millisecond)
		case isStorageFull(err):
			// The server refused the message for want of space: it was not stored, and
			// the same Appends succeed once space is freed.
			for _, r := range group {
				r.answer(ledger.AppendResult{}, fmt.Errorf("jetstream: publish %s: refused, nothing stored; send it again unchanged once space has been freed: %w: %w", c.subject, ledger.ErrStorageFull, err))
			}
			return carry
		default:
			for _, r := range group {
				r.answer(ledger.AppendResult{}, fmt.Errorf("jetstream: publish %s: outcome unknown, retry with the same event IDs: %w", c.subject, err))
			}
			return carry
		}
		if err := s.catchUp(ctx); err != nil {
			for _, r := range group {
				r.answer(ledger.AppendResult{}, err)
			}
			return carry
		}
		if isWrongLastSequence(err) && s.lastSeqNow() == c.seq-1 {
			// The server refused the message for one stored after c.seq-1, but the stream
			// does not show it yet: on a cluster the leader counts a message from when it
			// proposes it, the stream from when a quorum stored it. Deciding again at once
			// would be refused again (and spend every attempt in a few milliseconds while
			// the quorum is slow, as after an election): wait for it.
			stale++
			time.Sleep(wait)
			wait = min(2*wait, refusedWaitMax)
		}
		group = append(group, carry...)
		carry = nil
	}
}

// commit is a decided group: the records and the message that carries them.
type commit struct {
	subject string
	recs    []ledger.Record
	payload []byte
	seq     uint64 // the sequence the message gets if nothing is stored before it
}

// decideGroup decides each Append of group in order against the index and the Appends
// before it, answering those that need no publish (a retry, a conflict, a closed store). It
// returns the message for the rest (nil if none), the Appends in it, and those left for the
// next message.
func (s *Store) decideGroup(ctx context.Context, group []*request) (*commit, []*request, []*request) {
	// Snapshot the head first: anything the index learns later was stored after it, so a
	// publish built on the snapshot is refused by the server.
	s.mu.RLock()
	closed, failed := s.closed, s.failed
	lastSeq, head, prev, lastTime := s.lastSeq, s.head, s.lastHash, s.lastTime
	versions := make(map[string]ledger.Version, len(group))
	for _, r := range group {
		if si := s.streams[r.stream]; si != nil {
			versions[r.stream] = si.version
		}
	}
	s.mu.RUnlock()
	at := s.cfg.Now().UTC()
	if at.Before(lastTime) {
		at = lastTime
	}
	var in, carry []*request
	var recs []ledger.Record
	ids := make(map[uuid.UUID]struct{})
	lookup := s.lookup(ctx)
	size := 1 + binary.MaxVarintLen32 + headerBytesMax + len(s.groupSubject())
	for _, r := range group {
		switch {
		case closed:
			r.answer(ledger.AppendResult{}, ledger.ErrClosed)
			continue
		case failed != nil:
			r.answer(ledger.AppendResult{}, failed)
			continue
		case len(in) > 0 && (len(recs)+len(r.events) > messageRecordsMax || reuses(ids, r.events)):
			carry = append(carry, r)
			continue
		}
		res, dup, err := logutil.CheckRetry(r.stream, r.expected, r.events, lookup)
		if err != nil || dup {
			if dup && r.storedBySelf(lookup) {
				// An attempt of this Append was stored although its publish was answered
				// otherwise (see storedBySelf): to its caller, this is its first success.
				res.Duplicate = false
			}
			r.answer(res, err)
			continue
		}
		current := versions[r.stream]
		if !r.expected.Matches(current) {
			r.answer(ledger.AppendResult{}, &ledger.VersionError{Stream: r.stream, Expected: r.expected, Actual: current})
			continue
		}
		r.recs = make([]ledger.Record, len(r.events))
		r.res = ledger.AppendResult{Positions: make([]ledger.Position, len(r.events)), Version: current + ledger.Version(len(r.events))}
		n := 0
		p := prev
		for i, e := range r.events {
			rec := &r.recs[i]
			*rec = ledger.Record{
				ID: e.ID, Stream: r.stream, Version: current + ledger.Version(i) + 1, Position: head + ledger.Position(len(recs)+i) + 1,
				Type: e.Type, SchemaVersion: e.SchemaVersion, RecordedAt: at, Data: e.Data, Metadata: e.Metadata,
			}
			rec.Seal(p)
			p = rec.Hash
			r.res.Positions[i] = rec.Position
			n += binary.MaxVarintLen32 + recordOverheadBytes + len(rec.Stream) + len(rec.Type) + len(rec.Data) + rec.Metadata.Size()
		}
		if n+size > s.payloadMax {
			if len(in) == 0 {
				r.answer(ledger.AppendResult{}, fmt.Errorf("%w: batch encodes to %d bytes, more than the server's max_payload (%d bytes) for one message", ledger.ErrInvalidAppend, n+size, s.payloadMax))
			} else {
				carry = append(carry, r)
			}
			continue
		}
		size += n
		prev = p
		versions[r.stream] = r.res.Version
		for _, e := range r.events {
			ids[e.ID] = struct{}{}
		}
		recs = append(recs, r.recs...)
		in = append(in, r)
	}
	if len(in) == 0 {
		return nil, nil, carry
	}
	c := &commit{recs: recs, payload: encodeCommit(recs), seq: lastSeq + 1}
	c.subject = s.messageSubject(recs)
	return c, in, carry
}

// storedBySelf reports whether r's events are stored by a message this Store published for
// r. That happens when the answer to a publish was not the stream leader's acknowledgement:
// a stream leader cut off from the others goes on answering for a few seconds after a new
// one is elected, and the client takes the first answer. So the old leader, its own log
// behind, refuses a message (wrong last sequence) that the new leader stores, and the
// Store, deciding again, finds the Append's events stored, by its own earlier attempt
// (docs/reliability.md, "It failed CI again"). The stored record must be the very one the
// Store sealed: same position, time, content and chain link. Any other copy of the events
// was stored by another Append, and this one is the retry Duplicate reports.
func (r *request) storedBySelf(lookup logutil.Lookup) bool {
	if len(r.sent) == 0 {
		return false
	}
	rec, ok, err := lookup(r.events[0].ID)
	return err == nil && ok && slices.Contains(r.sent, rec.Hash)
}

// reuses reports whether events reuse an ID in ids.
func reuses(ids map[uuid.UUID]struct{}, events []ledger.Event) bool {
	for _, e := range events {
		if _, ok := ids[e.ID]; ok {
			return true
		}
	}
	return false
}

// headerBytesMax bounds the headers of a commit message.
const headerBytesMax = 512

// groupSubject is the subject of messages holding records of several ledger streams.
func (s *Store) groupSubject() string { return s.cfg.SubjectPrefix + ".group.commit" }

// messageSubject is the subject of a message holding recs.
func (s *Store) messageSubject(recs []ledger.Record) string {
	if oneStream(recs) {
		return s.subject(recs[0].Stream)
	}
	return s.groupSubject()
}

func (s *Store) publish(ctx context.Context, c *commit) (*jetstream.PubAck, error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	m := &nats.Msg{Subject: c.subject, Data: c.payload, Header: nats.Header{}}
	return s.publishMsg(rctx, m,
		jetstream.WithMsgID(c.recs[0].ID.String()),
		jetstream.WithExpectLastSequence(c.seq-1),
	)
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// Error codes of nats-server (server/jetstream_errors_generated.go) that the client
// package does not name.
const (
	errCodeInsufficientResources    jetstream.ErrorCode = 10023 // the server's JetStream storage limit (max_file_store) is reached
	errCodeStorageResourcesExceeded jetstream.ErrorCode = 10047 // "insufficient storage resources available"
	errCodeStreamStoreFailed        jetstream.ErrorCode = 10077 // storing failed; its description says why
)

// isStorageFull reports whether the server refused a message for want of space, before
// storing it: its JetStream storage limit is reached (max_file_store or the account's),
// or a limit set on the stream refuses new messages (the Store sets none, with
// DiscardNew, so an operator's MaxBytes or MaxMsgs refuses rather than deletes). A disk
// that fails under nats-server is not among these: the server then answers nothing, and
// the outcome is unknown.
func isStorageFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case errCodeInsufficientResources, errCodeStorageResourcesExceeded:
		return true
	case errCodeStreamStoreFailed:
		return apiErr.Description == "maximum bytes exceeded" || apiErr.Description == "maximum messages exceeded"
	}
	return false
}

// lookup returns a logutil.Lookup that finds stored events through the index and reads
// their messages from the server (each message once per call of lookup).
func (s *Store) lookup(ctx context.Context) logutil.Lookup {
	cache := make(map[uint64][]ledger.Record)
	return func(id uuid.UUID) (ledger.Record, bool, error) {
		s.mu.RLock()
		l, ok := s.ids[id]
		s.mu.RUnlock()
		if !ok {
			return ledger.Record{}, false, nil
		}
		recs, ok := cache[l.seq]
		if !ok {
			var err error
			if recs, err = s.getCommit(ctx, l.seq); err != nil {
				return ledger.Record{}, false, err
			}
			cache[l.seq] = recs
		}
		if int(l.i) >= len(recs) || recs[l.i].ID != id {
			return ledger.Record{}, false, &ledger.CorruptionError{Location: s.where(l.seq), Reason: fmt.Sprintf("event %s is not where the index says", id)}
		}
		return recs[l.i], true, nil
	}
}

// getCommit reads and decodes message seq.
func (s *Store) getCommit(ctx context.Context, seq uint64) ([]ledger.Record, error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	m, err := s.stream.GetMsg(rctx, seq)
	if err != nil {
		return nil, fmt.Errorf("jetstream: get %s: %w", s.where(seq), err)
	}
	recs, err := decodeCommit(m.Data)
	if err != nil {
		return nil, &ledger.CorruptionError{Location: s.where(seq), Reason: err.Error()}
	}
	return recs, nil
}

func (s *Store) where(seq uint64) string {
	return fmt.Sprintf("stream %s message %d", s.cfg.Stream, seq)
}

// catchUp reads every message stored after the index's last one, up to the server's last
// sequence now, and adds it to the index.
func (s *Store) catchUp(ctx context.Context) error {
	s.catchMu.Lock()
	defer s.catchMu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	info, err := s.stream.Info(rctx)
	cancel()
	if err != nil {
		return fmt.Errorf("jetstream: stream %s info: %w", s.cfg.Stream, err)
	}
	s.mu.RLock()
	from := s.lastSeq + 1
	s.mu.RUnlock()
	end := info.State.LastSeq
	if end < from {
		return nil
	}
	if info.State.FirstSeq > from {
		return s.fail(&ledger.CorruptionError{Position: s.headNow() + 1, Location: s.where(from), Reason: fmt.Sprintf("the stream starts at message %d: messages were deleted", info.State.FirstSeq)})
	}
	if end-from < readStreamGetsMax {
		// A few messages (another writer's, or the outcome of a publish that failed): get
		// them one by one rather than create a consumer for each catch-up. Under a leader
		// election every appender catches up after every failed publish, and consumers
		// created that fast outlive their scan (an ordered consumer is removed only once
		// inactive) until the stream's consumer limit refuses every read.
		for seq := from; seq <= end; seq++ {
			rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
			m, err := s.stream.GetMsg(rctx, seq)
			cancel()
			if err != nil {
				return fmt.Errorf("jetstream: get %s: %w", s.where(seq), err)
			}
			recs, err := decodeCommit(m.Data)
			if err != nil {
				return s.fail(&ledger.CorruptionError{Position: s.headNow() + 1, Location: s.where(seq), Reason: err.Error()})
			}
			if err := s.apply(seq, m.Subject, recs); err != nil {
				return err
			}
		}
		return nil
	}
	return s.scan(ctx, from, end, nil, func(seq uint64, m jetstream.Msg) error {
		recs, err := decodeCommit(m.Data())
		if err != nil {
			return s.fail(&ledger.CorruptionError{Position: s.headNow() + 1, Location: s.where(seq), Reason: err.Error()})
		}
		return s.apply(seq, m.Subject(), recs)
	})
}

func (s *Store) lastSeqNow() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastSeq
}

func (s *Store) headNow() ledger.Position {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.head
}

func (s *Store) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == nil {
		s.failed = fmt.Errorf("jetstream: appends refused: %w", err)
	}
	return err
}

// apply adds message seq to the index after checking that it continues the log. A message
// the index already holds is skipped (an appender and a reader's catch-up may both see it).
func (s *Store) apply(seq uint64, subject string, recs []ledger.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq <= s.lastSeq {
		return nil
	}
	bad := func(r *ledger.Record, format string, args ...any) error {
		err := &ledger.CorruptionError{Position: r.Position, Location: s.where(seq), Reason: fmt.Sprintf(format, args...)}
		if s.failed == nil {
			s.failed = fmt.Errorf("jetstream: appends refused: %w", err)
		}
		return err
	}
	first := &recs[0]
	if seq != s.lastSeq+1 {
		return bad(first, "message %d follows message %d: messages are missing", seq, s.lastSeq)
	}
	if want := s.messageSubject(recs); subject != want {
		return bad(first, "record of stream %q on subject %s, want %s", first.Stream, subject, want)
	}
	versions := make(map[string]ledger.Version)
	prev := s.lastHash
	for i := range recs {
		r := &recs[i]
		v, ok := versions[r.Stream]
		if !ok {
			if si := s.streams[r.Stream]; si != nil {
				v = si.version
			}
		}
		switch {
		case r.Position != s.head+ledger.Position(i)+1:
			return bad(r, "position %d follows %d", r.Position, s.head+ledger.Position(i))
		case r.Version != v+1:
			return bad(r, "stream %q version %d follows %d", r.Stream, r.Version, v)
		case r.PrevHash != prev:
			return bad(r, "previous hash does not match the hash of the record before")
		case r.Hash != r.ComputeHash():
			return bad(r, "hash mismatch")
		}
		if _, dup := s.ids[r.ID]; dup {
			return bad(r, "event id %s stored twice", r.ID)
		}
		versions[r.Stream] = r.Version
		prev = r.Hash
	}
	for i := range recs {
		r := &recs[i]
		si := s.streams[r.Stream]
		if si == nil {
			si = &streamIndex{}
			s.streams[r.Stream] = si
		}
		if n := len(si.msgs); n == 0 || si.msgs[n-1].seq != seq {
			si.msgs = append(si.msgs, streamMsg{seq: seq, first: r.Version})
		}
		si.version = r.Version
		s.ids[r.ID] = idLoc{seq: seq, i: uint16(i)}
	}
	last := &recs[len(recs)-1]
	s.firstPos = append(s.firstPos, first.Position)
	s.lastSeq, s.head, s.lastHash = seq, last.Position, last.Hash
	if last.RecordedAt.After(s.lastTime) {
		s.lastTime = last.RecordedAt
	}
	return nil
}

// seqOf returns the sequence of the message holding position p, or the sequence after
// the last message when p is past the head. s.mu is held.
func (s *Store) seqOf(p ledger.Position) uint64 {
	if p > s.head {
		return s.lastSeq + 1
	}
	// The last message whose first position is <= p.
	i := sort.Search(len(s.firstPos), func(i int) bool { return s.firstPos[i] > p })
	return uint64(max(i, 1))
}

// scan reads messages from sequence start to end (0: forever) through an ordered
// consumer, optionally filtered by subjects, and hands each to fn until fn returns an
// error (errStop ends the scan without error).
func (s *Store) scan(ctx context.Context, start, end uint64, filter []string, fn func(seq uint64, m jetstream.Msg) error) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start, FilterSubjects: filter}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	cons, err := s.stream.OrderedConsumer(rctx, cfg)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("jetstream: read stream %s from message %d: %w", s.cfg.Stream, start, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(pullMessagesMax))
	if err != nil {
		return fmt.Errorf("jetstream: read stream %s from message %d: %w", s.cfg.Stream, start, err)
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("jetstream: read stream %s: %w", s.cfg.Stream, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("jetstream: read stream %s: %w", s.cfg.Stream, err)
		}
		seq := md.Sequence.Stream
		if err := fn(seq, m); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
		if end != 0 && seq >= end {
			return nil
		}
	}
}

// errStop ends a scan early without error.
var errStop = errors.New("stop")

// records decodes a message read by scan for a reader (the index is not touched).
func (s *Store) records(seq uint64, m jetstream.Msg) ([]ledger.Record, error) {
	recs, err := decodeCommit(m.Data())
	if err != nil {
		return nil, &ledger.CorruptionError{Location: s.where(seq), Reason: err.Error()}
	}
	return recs, nil
}

// ReadStream implements ledger.Store. It catches the index up with the server, then reads
// the messages the index names for the stream from version from: one by one when they are
// few, else with an ordered consumer filtered on the stream's subject and the group subject.
func (s *Store) ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		from = max(from, 1)
		if ledger.ValidateStream(stream) != nil {
			return // no such stream can be stored
		}
		if err := s.catchUp(ctx); err != nil {
			yield(ledger.Record{}, err)
			return
		}
		s.mu.RLock()
		var seqs []uint64
		var version ledger.Version
		if si := s.streams[stream]; si != nil && si.version >= from {
			i := sort.Search(len(si.msgs), func(i int) bool { return si.msgs[i].first > from })
			for _, m := range si.msgs[max(i, 1)-1:] {
				seqs = append(seqs, m.seq)
			}
			version = si.version
		}
		s.mu.RUnlock()
		if len(seqs) == 0 {
			return
		}
		next := from
		each := func(seq uint64, recs []ledger.Record) error {
			for _, r := range recs {
				if r.Stream != stream || r.Version < next {
					continue
				}
				if r.Version != next {
					return &ledger.CorruptionError{Position: r.Position, Location: s.where(seq), Reason: fmt.Sprintf("stream %q version %d, want %d", stream, r.Version, next)}
				}
				if !yield(r, nil) {
					return errStop
				}
				next++
			}
			return nil
		}
		var err error
		if len(seqs) <= readStreamGetsMax {
			for _, seq := range seqs {
				var recs []ledger.Record
				if recs, err = s.getCommit(ctx, seq); err == nil {
					err = each(seq, recs)
				}
				if err != nil {
					break
				}
			}
		} else {
			err = s.scan(ctx, seqs[0], seqs[len(seqs)-1], []string{s.subject(stream), s.groupSubject()}, func(seq uint64, m jetstream.Msg) error {
				recs, err := s.records(seq, m)
				if err != nil {
					return err
				}
				return each(seq, recs)
			})
		}
		switch {
		case errors.Is(err, errStop):
		case err != nil:
			yield(ledger.Record{}, err)
		case next <= version:
			yield(ledger.Record{}, &ledger.CorruptionError{Location: s.where(seqs[len(seqs)-1]), Reason: fmt.Sprintf("stream %q ends at version %d, the index says %d", stream, next-1, version)})
		}
	}
}

// readStreamGetsMax is how many messages ReadStream gets one by one before it reads them
// with a consumer instead.
const readStreamGetsMax = 16

// ReadAll implements ledger.Store. It first catches the index up with the server, so it
// reads up to the last message stored by any writer when it starts.
func (s *Store) ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		if err := s.catchUp(ctx); err != nil {
			yield(ledger.Record{}, err)
			return
		}
		from = max(from, 1)
		s.mu.RLock()
		head, end, start := s.head, s.lastSeq, s.seqOf(from)
		s.mu.RUnlock()
		if from > head {
			return
		}
		s.follow(ctx, from, start, end, yield)
	}
}

// follow yields the records from position from, reading messages start..end (end 0:
// forever) and checking that positions run on without gap.
func (s *Store) follow(ctx context.Context, from ledger.Position, start, end uint64, yield func(ledger.Record, error) bool) {
	next := from
	err := s.scan(ctx, start, end, nil, func(seq uint64, m jetstream.Msg) error {
		recs, err := s.records(seq, m)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Position < next {
				continue
			}
			if r.Position != next {
				return &ledger.CorruptionError{Position: next, Location: s.where(seq), Reason: fmt.Sprintf("position %d follows %d", r.Position, next-1)}
			}
			if !yield(r, nil) {
				return errStop
			}
			next++
		}
		return nil
	})
	if err != nil {
		yield(ledger.Record{}, err)
	}
}

// Subscribe implements ledger.Store with one ordered consumer per subscription: it reads
// from the message holding from and follows the stream, appends from any process
// included. Close ends it with ledger.ErrClosed.
func (s *Store) Subscribe(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		if err := s.catchUp(ctx); err != nil {
			yield(ledger.Record{}, err)
			return
		}
		from = max(from, 1)
		s.mu.RLock()
		start := s.seqOf(from)
		s.mu.RUnlock()
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-sctx.Done():
			}
		}()
		s.follow(sctx, from, start, 0, func(r ledger.Record, err error) bool {
			if err != nil && ctx.Err() == nil && sctx.Err() != nil {
				err = ledger.ErrClosed
			}
			return yield(r, err)
		})
	}
}

// Head implements ledger.Store: the last position stored by any writer, read from the
// server.
func (s *Store) Head(ctx context.Context) (ledger.Position, error) {
	if err := s.catchUp(ctx); err != nil {
		return 0, err
	}
	return s.headNow(), nil
}

// Close implements ledger.Store: it waits for an append in flight, ends subscriptions and,
// for a Store made by Open, closes the connection. Closing twice is harmless.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	s.turns.close()
	if s.ownConn {
		s.nc.Close()
	}
	return nil
}

// Conn returns the Store's connection.
func (s *Store) Conn() *nats.Conn { return s.nc }

// StreamName returns the JetStream stream holding the log.
func (s *Store) StreamName() string { return s.cfg.Stream }

// SubjectOf returns the subject the records of ledger stream name are published to.
func (s *Store) SubjectOf(name string) string { return s.subject(name) }

var _ ledger.RecordAppender = (*Store)(nil)

// AppendRecords implements ledger.RecordAppender. It catches the index up, checks that recs
// continue the log (an error wrapping ledger.ErrCorrupt names the first record that does not,
// and nothing is appended), and publishes them as they are, as many to a message as fit. A
// call that fits in one message is atomic; a longer one is stored message by message, and if
// it fails part-way (an unknown publish outcome, or another writer appending in between,
// reported as the next record no longer continuing the log) the messages already stored stay:
// Head tells where to resume.
func (s *Store) AppendRecords(ctx context.Context, recs []ledger.Record) error {
	if len(recs) == 0 {
		return ctx.Err()
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.catchUp(ctx); err != nil {
		return err
	}
	if err := s.checkCopy(recs); err != nil {
		return err
	}
	for len(recs) > 0 {
		n, size := 0, 1+binary.MaxVarintLen32+headerBytesMax+len(s.groupSubject())
		for n < len(recs) && n < messageRecordsMax {
			r := &recs[n]
			size += binary.MaxVarintLen32 + recordOverheadBytes + len(r.Stream) + len(r.Type) + len(r.Data) + r.Metadata.Size()
			if size > s.payloadMax && n > 0 {
				break
			}
			n++
		}
		s.mu.RLock()
		seq := s.lastSeq + 1
		s.mu.RUnlock()
		c := &commit{recs: recs[:n], payload: encodeCommit(recs[:n]), seq: seq, subject: s.messageSubject(recs[:n])}
		if len(c.payload)+len(c.subject)+headerBytesMax > s.payloadMax {
			return fmt.Errorf("%w: record at position %d encodes to more than the server's max_payload (%d bytes)", ledger.ErrInvalidAppend, recs[0].Position, s.payloadMax)
		}
		ack, err := s.publish(ctx, c)
		switch {
		case err == nil && !ack.Duplicate && ack.Sequence == c.seq:
			if err := s.apply(c.seq, c.subject, c.recs); err != nil {
				return err
			}
			recs = recs[n:]
			continue
		case err == nil || isWrongLastSequence(err):
			// Another writer appended, and the records no longer continue the log; or
			// the answer came from a stream leader that no longer is one, and the new
			// leader stored the message (storedBySelf).
			if err := s.catchUp(ctx); err != nil {
				return err
			}
			if stored, err := s.holds(ctx, c); err != nil {
				return err
			} else if stored {
				recs = recs[n:]
				continue
			}
			if err := s.checkCopy(recs); err != nil {
				return fmt.Errorf("jetstream: copy: another writer appended meanwhile: %w", err)
			}
			continue
		default:
			return fmt.Errorf("jetstream: publish %s: outcome unknown, read Head to resume the copy: %w", c.subject, err)
		}
	}
	return nil
}

// holds reports whether the stream holds c's records exactly, as the message the index
// places the first of them in.
func (s *Store) holds(ctx context.Context, c *commit) (bool, error) {
	s.mu.RLock()
	l, ok := s.ids[c.recs[0].ID]
	s.mu.RUnlock()
	if !ok || l.i != 0 {
		return false, nil
	}
	stored, err := s.getCommit(ctx, l.seq)
	if err != nil {
		return false, err
	}
	return slices.EqualFunc(stored, c.recs, func(a, b ledger.Record) bool { return a.Hash == b.Hash }), nil
}

// checkCopy checks that recs continue the log the index holds.
func (s *Store) checkCopy(recs []ledger.Record) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case s.closed:
		return ledger.ErrClosed
	case s.failed != nil:
		return s.failed
	}
	return logutil.CheckCopy(recs, logutil.Tip{
		Head: s.head, HeadHash: s.lastHash,
		Version: func(stream string) ledger.Version {
			if si := s.streams[stream]; si != nil {
				return si.version
			}
			return 0
		},
		Stored: func(id uuid.UUID) bool { _, ok := s.ids[id]; return ok },
	})
}
