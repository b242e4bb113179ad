// Package jetstream is a ledger.Store on NATS JetStream (github.com/nats-io/nats.go, package
// jetstream): one JetStream stream holds the whole log, one subject per ledger stream.
//
// # Commits: one message per Append
//
// An Append becomes exactly one JetStream message carrying every record of the batch
// (see encodeCommit), published to the ledger stream's subject. A message is stored whole
// or not at all, so a batch is atomic without the server's atomic batch publish, which
// nats.go v1.55 offers no client API for and which does not de-duplicate by message ID.
// The price is a size limit: a batch must encode within the server's max_payload (1 MiB by
// default); a larger batch is refused with ledger.ErrInvalidAppend naming the limit.
//
// # Positions, versions and the hash chain: one writer at a time per log
//
// Every record in a message is complete and sealed by its writer: global position, stream
// version, recorded-at and the SHA-256 link to the record before it (ledger.Seal), so
// ledger.Verify works over ReadAll as on every backend. That needs each writer to know the
// record before its first one. A writer therefore publishes with the header
// Nats-Expected-Last-Sequence set to the JetStream sequence of the last message it built on
// (and Nats-Expected-Last-Subject-Sequence set to the last message of the ledger stream,
// which is what guards the stream version). The server stores the message only if nothing
// was stored in between; otherwise it refuses, the writer reads the messages it missed and
// decides again (the expected stream version is checked against the caught-up index, so a
// real conflict becomes a *ledger.VersionError). Writers in several processes thus take
// turns, and every message continues the one before it: positions are gapless and counted
// in records, versions are contiguous, the chain links. Inside one process appenders are
// serialised by a mutex, so a process has at most one publish in flight. This trades
// throughput (one server round trip and, with sync always, one fsync per Append) for a
// simple argument that the log is consistent.
//
// # Idempotency
//
// The Store keeps an index rebuilt from the stream at Open and kept current as messages are
// read: event ID -> message, stream -> messages, message -> first position. An Append whose
// IDs are stored is answered from the index (logutil.CheckRetry), so a retry is recognised
// forever, not only inside the server's duplicate window. Each message also carries
// Nats-Msg-Id (its first event ID): within the window the server refuses a re-sent message
// and the writer, seeing the duplicate ack, catches up and answers from the index. The index
// holds every event ID in memory (tens of bytes each).
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
// ReadStream, ReadAll and Subscribe read with ordered consumers (ephemeral, flow controlled,
// recreated by the client on a gap), so a slow reader only stops pulling and never holds up
// a writer. Reads see appends from every process: ReadAll and Head first catch the index up
// with the server's last sequence.
package jetstream

import (
	"context"
	"errors"
	"fmt"
	"iter"
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
}

const (
	requestTimeoutDefault = 10 * time.Second
	// appendAttemptsMax bounds how often one Append catches up and decides again after
	// another writer got in first.
	appendAttemptsMax = 100
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

	writeMu sync.Mutex // serialises this process's appenders
	catchMu sync.Mutex // one catch-up at a time
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
	if m := int(info.Config.MaxMsgSize); m > 0 && m < s.payloadMax {
		s.payloadMax = m
	}
	if err := s.catchUp(ctx); err != nil {
		return nil, fmt.Errorf("jetstream: open stream %s: %w", cfg.Stream, err)
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
// holding the batch. Besides the errors every Store returns, it returns an error wrapping
// ledger.ErrInvalidAppend when the batch does not fit in one message (the server's
// max_payload).
func (s *Store) Append(ctx context.Context, stream string, expected ledger.Expected, events ...ledger.Event) (ledger.AppendResult, error) {
	if err := ledger.ValidateAppend(stream, events); err != nil {
		return ledger.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return ledger.AppendResult{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for attempt := 0; attempt < appendAttemptsMax; attempt++ {
		res, c, err := s.decide(ctx, stream, expected, events)
		if err != nil || c == nil {
			return res, err
		}
		ack, err := s.publish(ctx, c)
		switch {
		case err == nil && !ack.Duplicate && ack.Sequence == c.seq:
			if err := s.apply(c.seq, c.subject, c.recs); err != nil {
				return ledger.AppendResult{}, err
			}
			return res, nil
		case err == nil || isWrongLastSequence(err):
			// Another writer got in first, or the server already holds a message with
			// this ID (a retry inside its duplicate window): read what was stored and
			// decide again.
		case errors.Is(err, jetstream.ErrNoStreamResponse):
			// Nobody received the message (for example while a leader is elected): it
			// was not stored. Wait a little and decide again.
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return ledger.AppendResult{}, err
			}
		default:
			return ledger.AppendResult{}, fmt.Errorf("jetstream: publish %s: outcome unknown, retry with the same event IDs: %w", c.subject, err)
		}
		if err := s.catchUp(ctx); err != nil {
			return ledger.AppendResult{}, err
		}
	}
	return ledger.AppendResult{}, fmt.Errorf("jetstream: append to %q: other writers got in first %d times (appendAttemptsMax)", stream, appendAttemptsMax)
}

// commit is a decided Append: the records and the message that carries them.
type commit struct {
	subject  string
	recs     []ledger.Record
	payload  []byte
	seq      uint64 // the sequence the message gets if nothing is stored before it
	subjLast uint64 // sequence of the stream's last message (0 for a new stream)
}

// decide checks the batch against the index and seals its records. It returns a nil
// commit when the answer needs no publish (a retry, a conflict, an invalid batch).
func (s *Store) decide(ctx context.Context, stream string, expected ledger.Expected, events []ledger.Event) (ledger.AppendResult, *commit, error) {
	// Snapshot the head first: anything the index learns later was stored after it, so
	// a publish built on the snapshot is refused by the server.
	s.mu.RLock()
	closed, failed := s.closed, s.failed
	lastSeq, head, prev, lastTime := s.lastSeq, s.head, s.lastHash, s.lastTime
	var current ledger.Version
	var subjLast uint64
	if si := s.streams[stream]; si != nil {
		current, subjLast = si.version, si.msgs[len(si.msgs)-1].seq
	}
	s.mu.RUnlock()
	switch {
	case closed:
		return ledger.AppendResult{}, nil, ledger.ErrClosed
	case failed != nil:
		return ledger.AppendResult{}, nil, failed
	}
	res, dup, err := logutil.CheckRetry(stream, expected, events, s.lookup(ctx))
	if err != nil || dup {
		return res, nil, err
	}
	if !expected.Matches(current) {
		return ledger.AppendResult{}, nil, &ledger.VersionError{Stream: stream, Expected: expected, Actual: current}
	}
	at := s.cfg.Now().UTC()
	if at.Before(lastTime) {
		at = lastTime
	}
	c := &commit{subject: s.subject(stream), recs: make([]ledger.Record, len(events)), seq: lastSeq + 1, subjLast: subjLast}
	res.Positions = make([]ledger.Position, len(events))
	for i, e := range events {
		r := &c.recs[i]
		*r = ledger.Record{
			ID: e.ID, Stream: stream, Version: current + ledger.Version(i) + 1, Position: head + ledger.Position(i) + 1,
			Type: e.Type, SchemaVersion: e.SchemaVersion, RecordedAt: at, Data: e.Data, Metadata: e.Metadata,
		}
		r.Seal(prev)
		prev = r.Hash
		res.Positions[i] = r.Position
	}
	res.Version = current + ledger.Version(len(events))
	c.payload = encodeCommit(c.recs)
	// Headers take a few hundred bytes; keep a margin for them.
	if n := len(c.payload) + len(c.subject) + headerBytesMax; n > s.payloadMax {
		return ledger.AppendResult{}, nil, fmt.Errorf("%w: batch encodes to %d bytes, more than the server's max_payload (%d bytes) for one message", ledger.ErrInvalidAppend, n, s.payloadMax)
	}
	return res, c, nil
}

// headerBytesMax bounds the headers of a commit message.
const headerBytesMax = 512

func (s *Store) publish(ctx context.Context, c *commit) (*jetstream.PubAck, error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	m := &nats.Msg{Subject: c.subject, Data: c.payload, Header: nats.Header{}}
	return s.js.PublishMsg(rctx, m,
		jetstream.WithMsgID(c.recs[0].ID.String()),
		jetstream.WithExpectLastSequence(c.seq-1),
		jetstream.WithExpectLastSequencePerSubject(c.subjLast),
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

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
	return s.scan(ctx, from, end, "", func(seq uint64, m jetstream.Msg) error {
		recs, err := decodeCommit(m.Data())
		if err != nil {
			return s.fail(&ledger.CorruptionError{Position: s.headNow() + 1, Location: s.where(seq), Reason: err.Error()})
		}
		return s.apply(seq, m.Subject(), recs)
	})
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
	if want := s.subject(first.Stream); subject != want {
		return bad(first, "record of stream %q on subject %s, want %s", first.Stream, subject, want)
	}
	si := s.streams[first.Stream]
	var version ledger.Version
	if si != nil {
		version = si.version
	}
	prev := s.lastHash
	for i := range recs {
		r := &recs[i]
		switch {
		case r.Position != s.head+ledger.Position(i)+1:
			return bad(r, "position %d follows %d", r.Position, s.head+ledger.Position(i))
		case r.Version != version+ledger.Version(i)+1:
			return bad(r, "stream %q version %d follows %d", r.Stream, r.Version, version+ledger.Version(i))
		case r.PrevHash != prev:
			return bad(r, "previous hash does not match the hash of the record before")
		case r.Hash != r.ComputeHash():
			return bad(r, "hash mismatch")
		}
		if _, dup := s.ids[r.ID]; dup {
			return bad(r, "event id %s stored twice", r.ID)
		}
		prev = r.Hash
	}
	if si == nil {
		si = &streamIndex{}
		s.streams[first.Stream] = si
	}
	si.msgs = append(si.msgs, streamMsg{seq: seq, first: first.Version})
	for i := range recs {
		s.ids[recs[i].ID] = idLoc{seq: seq, i: uint16(i)}
	}
	last := &recs[len(recs)-1]
	si.version = last.Version
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
// consumer, optionally filtered by subject, and hands each to fn until fn returns an
// error (errStop ends the scan without error).
func (s *Store) scan(ctx context.Context, start, end uint64, filter string, fn func(seq uint64, m jetstream.Msg) error) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start}
	if filter != "" {
		cfg.FilterSubjects = []string{filter}
	}
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

// ReadStream implements ledger.Store. It reads the stream's last message first, and
// when that holds version from (the usual case for short streams) needs nothing more.
func (s *Store) ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error] {
	return func(yield func(ledger.Record, error) bool) {
		from = max(from, 1)
		if ledger.ValidateStream(stream) != nil {
			return // no such stream can be stored
		}
		subj := s.subject(stream)
		rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		last, err := s.stream.GetLastMsgForSubject(rctx, subj)
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return
		}
		if err != nil {
			yield(ledger.Record{}, fmt.Errorf("jetstream: read stream %q: %w", stream, err))
			return
		}
		lastRecs, err := decodeCommit(last.Data)
		if err != nil {
			yield(ledger.Record{}, &ledger.CorruptionError{Location: s.where(last.Sequence), Reason: err.Error()})
			return
		}
		if lastRecs[0].Version <= from {
			for _, r := range lastRecs {
				if r.Version >= from && !yield(r, nil) {
					return
				}
			}
			return
		}
		s.mu.RLock()
		known := s.lastSeq
		s.mu.RUnlock()
		if known < last.Sequence {
			if err := s.catchUp(ctx); err != nil {
				yield(ledger.Record{}, err)
				return
			}
		}
		s.mu.RLock()
		var start uint64
		if si := s.streams[stream]; si != nil {
			i := sort.Search(len(si.msgs), func(i int) bool { return si.msgs[i].first > from })
			start = si.msgs[max(i, 1)-1].seq
		}
		s.mu.RUnlock()
		if start == 0 {
			yield(ledger.Record{}, fmt.Errorf("jetstream: read stream %q: stream unknown to the index after catching up", stream))
			return
		}
		next := from
		err = s.scan(ctx, start, last.Sequence, subj, func(seq uint64, m jetstream.Msg) error {
			recs, err := s.records(seq, m)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.Version < next {
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
		})
		if err != nil {
			yield(ledger.Record{}, err)
		}
	}
}

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
	err := s.scan(ctx, start, end, "", func(seq uint64, m jetstream.Msg) error {
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
