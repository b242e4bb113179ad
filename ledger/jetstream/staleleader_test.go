package jetstream_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"techledger/ledger"
	"techledger/ledger/jetstream"
	"techledger/ledger/storetest"
)

// staleLeaderRefusal is what a stream leader cut off from the others answers, its own log
// behind the new leader's, to a message built on the new leader's last sequence.
var staleLeaderRefusal = fmt.Errorf("nats: %w", &natsjs.APIError{Code: 400, ErrorCode: natsjs.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence: 0"})

// answerFirstWith makes s's first publish run before (nil: not at all) and then answer err
// in place of the server's acknowledgement, as when the client takes a stale stream
// leader's answer and the new leader stores the message. It counts the publishes.
func answerFirstWith(s *jetstream.Store, before func(next jetstream.PublishFunc, m *nats.Msg, opts ...natsjs.PublishOpt), err error) *atomic.Int32 {
	var n atomic.Int32
	jetstream.WrapPublish(s, func(next jetstream.PublishFunc) jetstream.PublishFunc {
		return func(ctx context.Context, m *nats.Msg, opts ...natsjs.PublishOpt) (*natsjs.PubAck, error) {
			if n.Add(1) > 1 {
				return next(ctx, m, opts...)
			}
			if before != nil {
				before(next, m, opts...)
			}
			return nil, err
		}
	})
	return &n
}

// storeIt publishes the message for real (the new leader storing it).
func storeIt(tb testing.TB) func(jetstream.PublishFunc, *nats.Msg, ...natsjs.PublishOpt) {
	return func(next jetstream.PublishFunc, m *nats.Msg, opts ...natsjs.PublishOpt) {
		ack, err := next(ctx, m, opts...)
		require.NoError(tb, err)
		require.False(tb, ack.Duplicate)
	}
}

// TestStore_AnswerNotFromTheLeader covers an Append whose publish is answered by something
// other than the stream leader's acknowledgement while the message was stored (a stale
// leader's refusal, as in CI; no answer at all) and, for contrast, one whose events another
// writer stored first. Only the last is a Duplicate: to the caller of the first two, it is
// the first time its events were appended.
func TestStore_AnswerNotFromTheLeader(t *testing.T) {
	srv := runServer(t)
	nc := connect(t, srv.ClientURL())
	tests := []struct {
		name      string
		answer    error
		other     bool // another writer stores the same events before the real publish
		duplicate bool
		publishes int32
	}{
		// The Store catches up, finds the events in its own message, and publishes no more.
		{name: "stale leader refuses what the new leader stored", answer: staleLeaderRefusal, publishes: 1},
		{name: "no answer although stored", answer: natsjs.ErrNoStreamResponse, publishes: 1},
		// The server refuses the Store's message for real; the events are the other writer's.
		{name: "another writer stored the events first", answer: staleLeaderRefusal, other: true, duplicate: true, publishes: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := newStreamName()
			s := openStore(t, nc, name)
			_, err := s.Append(ctx, "contract-0", ledger.NoStream, storetest.Ev("Z", 0))
			require.NoError(t, err)
			batch := []ledger.Event{storetest.Ev("A", 1), storetest.Ev("A", 2)}
			before := storeIt(t)
			var theirs ledger.AppendResult
			if tt.other {
				other, err := jetstream.New(ctx, nc, jetstream.Config{Stream: name, Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
				require.NoError(t, err)
				t.Cleanup(func() { _ = other.Close() })
				before = func(next jetstream.PublishFunc, m *nats.Msg, opts ...natsjs.PublishOpt) {
					theirs, err = other.Append(ctx, "contract-1", ledger.NoStream, batch...)
					require.NoError(t, err)
					_, err := next(ctx, m, opts...)
					require.Error(t, err, "the server refuses a message built on an old last sequence")
				}
			}
			publishes := answerFirstWith(s, before, tt.answer)

			res, err := s.Append(ctx, "contract-1", ledger.NoStream, batch...)
			require.NoError(t, err)
			assert.Equal(t, tt.duplicate, res.Duplicate)
			assert.Equal(t, []ledger.Position{2, 3}, res.Positions)
			assert.Equal(t, ledger.Version(2), res.Version)
			assert.Equal(t, tt.publishes, publishes.Load())
			if tt.other {
				assert.Equal(t, theirs.Positions, res.Positions)
			}

			// A retry by the caller is a Duplicate, at the same positions.
			again, err := s.Append(ctx, "contract-1", ledger.NoStream, batch...)
			require.NoError(t, err)
			assert.True(t, again.Duplicate)
			assert.Equal(t, res.Positions, again.Positions)
			// The log holds each event once, at those positions, and verifies.
			all := storetest.Collect(t, openStore(t, nc, name).ReadAll(ctx, 1))
			require.Len(t, all, 3)
			for i, e := range batch {
				assert.Equal(t, e.ID, all[i+1].ID)
			}
			_, err = ledger.Verify(ctx, s.ReadAll(ctx, 1))
			require.NoError(t, err)
		})
	}
}

// TestStore_AppendRecordsAnswerNotFromTheLeader copies records into a Store whose first
// publish is refused by a stale leader after the new one stored it: the copy goes on, each
// record once, instead of reporting that another writer appended.
func TestStore_AppendRecordsAnswerNotFromTheLeader(t *testing.T) {
	srv := runServer(t)
	nc := connect(t, srv.ClientURL())
	src := openStore(t, nc, newStreamName())
	for i := range 3 {
		_, err := src.Append(ctx, fmt.Sprintf("contract-%d", i), ledger.NoStream, storetest.Ev("A", i), storetest.Ev("B", i))
		require.NoError(t, err)
	}
	recs := storetest.Collect(t, src.ReadAll(ctx, 1))
	name := newStreamName()
	dst := openStore(t, nc, name)
	publishes := answerFirstWith(dst, storeIt(t), staleLeaderRefusal)
	require.NoError(t, dst.AppendRecords(ctx, recs))
	assert.Equal(t, int32(1), publishes.Load(), "the records all fit in one message, stored once")
	got := storetest.Collect(t, openStore(t, nc, name).ReadAll(ctx, 1))
	assert.Equal(t, recs, got)
}
