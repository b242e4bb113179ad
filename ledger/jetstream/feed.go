package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"techledger/ledger"
)

// Feed relays a ledger's committed records to NATS, for downstream systems (the statistics
// office) to follow: each record, in position order, is published to
// <SubjectPrefix>.<type> (by default techledger.events.ContractRegistered, …) with its event
// ID as the message ID (Nats-Msg-Id), into a JetStream stream that captures those subjects.
//
// Delivery is at least once and in order. Records are read with Store.Subscribe from the
// checkpoint and published one at a time, each after the previous one was acknowledged;
// the checkpoint (the last acknowledged position) is saved after the publish it covers. A
// relay stopped at any point resumes after its checkpoint, so it may publish again the
// records between the checkpoint and where it stopped. Inside the stream's duplicate window
// the server drops those repeats by message ID; later, a subscriber recognises them by the
// ID (and the Techledger-Position header): a repeat never carries a new ID.
//
// The checkpoint is kept in a JetStream key-value bucket (key Name in bucket Bucket), not in
// a local file: the relay needs the NATS server anyway, the bucket is as durable and
// replicated as the feed stream itself, and the relay can move to another machine. Saves
// are compare-and-set on the key's revision, so a second relay running under the same Name
// is detected (Run returns an error) instead of both publishing.
//
// A Feed is configured by its fields and run by Run; it is not safe to Run one Feed twice
// at once.
type Feed struct {
	// Store is the ledger to relay (any backend). Required.
	Store ledger.Store
	// Conn is the connection to the NATS server the feed is published to. Required.
	Conn *nats.Conn
	// Name identifies the relay's checkpoint (default "default").
	Name string
	// Bucket is the key-value bucket holding checkpoints (default "techledger_feed").
	Bucket string
	// SubjectPrefix is the subject prefix (default "techledger.events").
	SubjectPrefix string
	// Stream is the JetStream stream capturing SubjectPrefix.> (default
	// "TECHLEDGER_EVENTS"); Run creates it, with file storage, when it does not exist.
	Stream string
	// Replicas is used when Run creates the stream or the bucket (default 1).
	Replicas int
	// CheckpointEvery saves the checkpoint after this many records (default 100).
	CheckpointEvery int
	// CheckpointInterval saves the checkpoint when a record is published this long after
	// the last save (default 1s).
	CheckpointInterval time.Duration
	// RequestTimeout bounds each publish and checkpoint save (default 10s).
	RequestTimeout time.Duration

	// afterPublish, when set (by tests), is called after each acknowledged publish.
	afterPublish func(ledger.Position)
}

// FeedEvent is the JSON body of a feed message: a committed record.
type FeedEvent struct {
	ID            uuid.UUID       `json:"id"`
	Stream        string          `json:"stream"`
	Version       ledger.Version  `json:"version"`
	Position      ledger.Position `json:"position"`
	Type          string          `json:"type"`
	SchemaVersion uint16          `json:"schema_version"`
	RecordedAt    time.Time       `json:"recorded_at"`
	Data          json.RawMessage `json:"data"`
	Metadata      ledger.Metadata `json:"metadata"`
	PrevHash      ledger.Hash     `json:"prev_hash"`
	Hash          ledger.Hash     `json:"hash"`
}

// Feed message headers besides Nats-Msg-Id.
const (
	// HeaderPosition carries the record's global position.
	HeaderPosition = "Techledger-Position"
	// HeaderStream carries the record's ledger stream.
	HeaderStream = "Techledger-Stream"
)

// ErrFeedConflict means another relay saved the same checkpoint in the meantime.
var ErrFeedConflict = errors.New("jetstream: feed checkpoint changed by another relay")

func (f *Feed) defaults() {
	if f.Name == "" {
		f.Name = "default"
	}
	if f.Bucket == "" {
		f.Bucket = "techledger_feed"
	}
	if f.SubjectPrefix == "" {
		f.SubjectPrefix = "techledger.events"
	}
	if f.Stream == "" {
		f.Stream = "TECHLEDGER_EVENTS"
	}
	if f.Replicas == 0 {
		f.Replicas = 1
	}
	if f.CheckpointEvery <= 0 {
		f.CheckpointEvery = 100
	}
	if f.CheckpointInterval <= 0 {
		f.CheckpointInterval = time.Second
	}
	if f.RequestTimeout <= 0 {
		f.RequestTimeout = requestTimeoutDefault
	}
}

// Subject returns the subject records of event type typ are published to.
func (f *Feed) Subject(typ string) string {
	prefix := f.SubjectPrefix
	if prefix == "" {
		prefix = "techledger.events"
	}
	return prefix + "." + subjectToken(typ)
}

// Run relays records from the position after the checkpoint until ctx is done (it then
// saves the checkpoint and returns ctx.Err()) or an error stops it: a failed publish (its
// outcome unknown; the next Run publishes that record again), a failed checkpoint save,
// ErrFeedConflict, or an error reading the store.
func (f *Feed) Run(ctx context.Context) error {
	if f.Store == nil || f.Conn == nil {
		return errors.New("jetstream: feed: Store and Conn are required")
	}
	f.defaults()
	if err := validStreamName(f.Stream); err != nil {
		return fmt.Errorf("jetstream: feed: %w", err)
	}
	js, err := jetstream.New(f.Conn)
	if err != nil {
		return fmt.Errorf("jetstream: feed: %w", err)
	}
	kv, err := f.setup(ctx, js)
	if err != nil {
		return err
	}
	cp, err := f.loadCheckpoint(ctx, kv)
	if err != nil {
		return err
	}
	lastSave := time.Now()
	// save runs to completion (bounded by RequestTimeout) even when ctx is done meanwhile:
	// what was acknowledged is worth keeping.
	save := func() error {
		if cp.published == cp.saved {
			return nil
		}
		if err := f.saveCheckpoint(context.WithoutCancel(ctx), kv, &cp); err != nil {
			return err
		}
		lastSave = time.Now()
		return nil
	}
	stopped := func() error {
		if err := save(); err != nil {
			return errors.Join(ctx.Err(), err)
		}
		return ctx.Err()
	}
	for rec, err := range f.Store.Subscribe(ctx, cp.saved+1) {
		if err != nil {
			if ctx.Err() != nil {
				return stopped()
			}
			return fmt.Errorf("jetstream: feed: read the ledger after position %d: %w", cp.published, err)
		}
		if rec.Position != cp.published+1 {
			return fmt.Errorf("jetstream: feed: the ledger yielded position %d after %d", rec.Position, cp.published)
		}
		// A publish under way finishes (bounded by RequestTimeout) even if ctx is done
		// meanwhile, so that a clean stop knows its outcome and checkpoints it.
		if err := f.publish(context.WithoutCancel(ctx), js, &rec); err != nil {
			return err
		}
		cp.published = rec.Position
		if f.afterPublish != nil {
			f.afterPublish(rec.Position)
		}
		if int(cp.published-cp.saved) >= f.CheckpointEvery || time.Since(lastSave) >= f.CheckpointInterval {
			if err := save(); err != nil {
				return err
			}
		}
	}
	return nil
}

// setup makes sure the feed stream and the checkpoint bucket exist.
func (f *Feed) setup(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	rctx, cancel := context.WithTimeout(ctx, f.RequestTimeout)
	defer cancel()
	_, err := js.Stream(rctx, f.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(rctx, jetstream.StreamConfig{
			Name: f.Stream, Description: "techledger feed: committed ledger records",
			Subjects: []string{f.SubjectPrefix + ".>"}, Storage: jetstream.FileStorage, Replicas: f.Replicas,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: feed: stream %s: %w", f.Stream, err)
	}
	kv, err := js.KeyValue(rctx, f.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(rctx, jetstream.KeyValueConfig{
			Bucket: f.Bucket, Description: "techledger feed checkpoints", Storage: jetstream.FileStorage, Replicas: f.Replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(rctx, f.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: feed: checkpoint bucket %s: %w", f.Bucket, err)
	}
	return kv, nil
}

type checkpoint struct {
	saved     ledger.Position // position in the bucket
	revision  uint64          // the key's revision (0: no key yet)
	published ledger.Position // last acknowledged publish
}

func (f *Feed) loadCheckpoint(ctx context.Context, kv jetstream.KeyValue) (checkpoint, error) {
	rctx, cancel := context.WithTimeout(ctx, f.RequestTimeout)
	defer cancel()
	e, err := kv.Get(rctx, f.Name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return checkpoint{}, nil
	}
	if err != nil {
		return checkpoint{}, fmt.Errorf("jetstream: feed: load checkpoint %s: %w", f.Name, err)
	}
	p, err := strconv.ParseUint(string(e.Value()), 10, 64)
	if err != nil {
		return checkpoint{}, fmt.Errorf("jetstream: feed: checkpoint %s holds %q, not a position", f.Name, e.Value())
	}
	return checkpoint{saved: ledger.Position(p), revision: e.Revision(), published: ledger.Position(p)}, nil
}

func (f *Feed) saveCheckpoint(ctx context.Context, kv jetstream.KeyValue, cp *checkpoint) error {
	rctx, cancel := context.WithTimeout(ctx, f.RequestTimeout)
	defer cancel()
	val := []byte(strconv.FormatUint(uint64(cp.published), 10))
	var rev uint64
	var err error
	if cp.revision == 0 {
		rev, err = kv.Create(rctx, f.Name, val)
	} else {
		rev, err = kv.Update(rctx, f.Name, val, cp.revision)
	}
	if isWrongLastSequence(err) || errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("%w: %s (saving position %d)", ErrFeedConflict, f.Name, cp.published)
	}
	if err != nil {
		return fmt.Errorf("jetstream: feed: save checkpoint %s at position %d: %w", f.Name, cp.published, err)
	}
	cp.saved, cp.revision = cp.published, rev
	return nil
}

func (f *Feed) publish(ctx context.Context, js jetstream.JetStream, rec *ledger.Record) error {
	body, err := json.Marshal(FeedEvent{
		ID: rec.ID, Stream: rec.Stream, Version: rec.Version, Position: rec.Position, Type: rec.Type,
		SchemaVersion: rec.SchemaVersion, RecordedAt: rec.RecordedAt, Data: rec.Data, Metadata: rec.Metadata,
		PrevHash: rec.PrevHash, Hash: rec.Hash,
	})
	if err != nil {
		return fmt.Errorf("jetstream: feed: encode position %d: %w", rec.Position, err)
	}
	m := &nats.Msg{Subject: f.Subject(rec.Type), Data: body, Header: nats.Header{}}
	m.Header.Set(HeaderPosition, strconv.FormatUint(uint64(rec.Position), 10))
	m.Header.Set(HeaderStream, rec.Stream)
	rctx, cancel := context.WithTimeout(ctx, f.RequestTimeout)
	defer cancel()
	if _, err := js.PublishMsg(rctx, m, jetstream.WithMsgID(rec.ID.String())); err != nil {
		return fmt.Errorf("jetstream: feed: publish position %d: %w", rec.Position, err)
	}
	return nil
}
