package jetstream

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"techledger/ledger"
)

// SetAfterPublish lets tests act right after the feed's publish of a record is
// acknowledged, before its checkpoint is saved.
func SetAfterPublish(f *Feed, fn func(ledger.Position)) { f.afterPublish = fn }

// TurnsHeld returns how many other writers' requests to hold s has recorded (lapsed ones
// included until s next waits).
func TurnsHeld(s *Store) int {
	s.turns.mu.Lock()
	defer s.turns.mu.Unlock()
	return len(s.turns.held)
}

// SubjectMatches exposes subjectMatches.
var SubjectMatches = subjectMatches

// PublishFunc is how a Store publishes a message to its stream.
type PublishFunc = func(context.Context, *nats.Msg, ...jetstream.PublishOpt) (*jetstream.PubAck, error)

// WrapPublish replaces s's publish by wrap of it. Call it before s is used.
func WrapPublish(s *Store, wrap func(next PublishFunc) PublishFunc) {
	s.publishMsg = wrap(s.publishMsg)
}
