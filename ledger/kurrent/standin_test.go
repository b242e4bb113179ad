package kurrent

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
)

// standInServer is an in-memory stand-in for a KurrentDB server behind the client interface.
// It is not a KurrentDB server: it mimics the three behaviours the Store's mapping relies on,
// as the server's documentation and code describe them, so that the tests check the mapping
// (and nothing about the server):
//   - revision compare-and-set: an append expecting the stream's last revision (or no stream)
//     is stored atomically; any other expectation is refused with a wrong-revision error;
//   - exact-revision idempotency: an append at an exact revision the stream has moved past
//     succeeds without writing when the events after that revision have exactly its IDs;
//   - dropped subscriptions: with dropEvery > 0, a subscription ends with an error after
//     delivering that many events, as when a connection is lost.
//
// It also enforces a maximum append size and can lose the answer to an append (stored or
// not), as a deadline or a lost connection does.
type standInServer struct {
	mu        sync.Mutex
	changed   chan struct{}
	streams   map[string][]wireEvent
	settings  map[string]streamSettings
	maxAppend int
	dropEvery int
	// loseAnswer, when set, is asked before each append: stored says whether the append
	// is stored before the answer is lost; lose says whether it is lost.
	loseAnswer func() (lose, stored bool)
}

func newStandIn() *standInServer {
	return &standInServer{changed: make(chan struct{}), streams: map[string][]wireEvent{}, settings: map[string]streamSettings{}, maxAppend: AppendBytesMax}
}

// conn returns a client on the stand-in, as a new connection would be.
func (srv *standInServer) conn() client { return &standInClient{srv: srv} }

type standInClient struct {
	srv    *standInServer
	closed bool
}

func (c *standInClient) Append(ctx context.Context, stream string, expectedLast int64, events []wireEvent) (uint64, error) {
	srv := c.srv
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", errUnknownOutcome, err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	size := 0
	for i := range events {
		size += wireBytes(&events[i])
	}
	if size > srv.maxAppend {
		return 0, fmt.Errorf("%w: stand-in: %d bytes", errTooLarge, size)
	}
	lose, storeFirst := false, false
	if srv.loseAnswer != nil {
		lose, storeFirst = srv.loseAnswer()
	}
	if lose && !storeFirst {
		return 0, fmt.Errorf("%w: stand-in lost the request", errUnknownOutcome)
	}
	cur := srv.streams[stream]
	last := int64(len(cur)) - 1
	if expectedLast != last {
		// Exact-revision idempotency: the events after expectedLast are these IDs.
		if expectedLast < last && int(expectedLast+1)+len(events) <= len(cur) {
			same := true
			for i, e := range events {
				if cur[int(expectedLast)+1+i].ID != e.ID {
					same = false
					break
				}
			}
			if same {
				return uint64(expectedLast) + uint64(len(events)), nil
			}
		}
		return 0, &revisionError{Actual: last}
	}
	for _, e := range events {
		e.Revision = uint64(len(cur))
		e.Data = append([]byte(nil), e.Data...)
		e.Metadata = append([]byte(nil), e.Metadata...)
		cur = append(cur, e)
	}
	srv.streams[stream] = cur
	close(srv.changed)
	srv.changed = make(chan struct{})
	if lose {
		return 0, fmt.Errorf("%w: stand-in lost the answer", errUnknownOutcome)
	}
	return uint64(len(cur) - 1), nil
}

func (c *standInClient) Read(ctx context.Context, stream string, from, count uint64) ([]wireEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	cur := c.srv.streams[stream]
	if from >= uint64(len(cur)) {
		return nil, nil
	}
	end := min(uint64(len(cur)), from+count)
	return append([]wireEvent(nil), cur[from:end]...), nil
}

func (c *standInClient) Subscribe(ctx context.Context, stream string, from uint64) (subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	return &standInSub{srv: c.srv, stream: stream, next: from, ctx: sctx, cancel: cancel}, nil
}

type standInSub struct {
	srv       *standInServer
	stream    string
	next      uint64
	delivered int
	ctx       context.Context
	cancel    context.CancelFunc
}

var errDropped = errors.New("stand-in: subscription dropped")

func (s *standInSub) Recv() (wireEvent, error) {
	for {
		if d := s.srv.dropEvery; d > 0 && s.delivered >= d {
			return wireEvent{}, fmt.Errorf("%w: %w", errUnknownOutcome, errDropped)
		}
		s.srv.mu.Lock()
		cur := s.srv.streams[s.stream]
		changed := s.srv.changed
		if s.next < uint64(len(cur)) {
			e := cur[s.next]
			s.srv.mu.Unlock()
			s.next++
			s.delivered++
			return e, nil
		}
		s.srv.mu.Unlock()
		select {
		case <-changed:
		case <-s.ctx.Done():
			return wireEvent{}, s.ctx.Err()
		}
	}
}

func (s *standInSub) Close() error { s.cancel(); return nil }

func (c *standInClient) Settings(ctx context.Context, stream string) (streamSettings, error) {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	return c.srv.settings[stream], nil
}

func (c *standInClient) Close() error { c.closed = true; return nil }

// ids returns the IDs stored in stream, for tests.
func (srv *standInServer) ids(stream string) []uuid.UUID {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var out []uuid.UUID
	for _, e := range srv.streams[stream] {
		out = append(out, e.ID)
	}
	return out
}
