package jetstream

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

// Writers take turns.
//
// Every writer on a stream publishes with Nats-Expected-Last-Sequence, one compare-and-set
// for all of them. A writer that wins applies its own message and decides its next group at
// once; a writer that loses must first read what it missed (a stream-info request and a get
// per message) before it can try again. Under load the winner's next publish therefore
// usually arrives first again, and a loser could lose for tens of seconds (measured in
// docs/reliability.md, "It failed CI, and was fixed"). So a writer that has lost
// turnAfterLosses times for one group asks the others to hold: it publishes "turn <id>" on a
// core NATS subject outside the stream (Config.TurnSubject) before it catches up, again
// after every further loss, and "done <id>" once its group is stored or answered. A writer
// that has not asked holds its next publish while another writer's request stands: until
// that writer says done, or turnHoldMax after its last request (so a writer that died
// holding the turn delays the others by at most that), and never longer than turnWaitMax in
// one wait. Writers that have all asked race one another as before, while the rest hold;
// the one that wins says done and then holds for those still asking, so the writers that
// lose take turns.
//
// The requests are advice, not a lock: core NATS may drop them (a reconnect, a slow
// consumer), and a publish already on its way when a request arrives is not recalled. The
// compare-and-set alone keeps the log correct; the requests only bound how long a writer
// waits. A connection without permission to publish or subscribe on the subject gives up the
// turns, not the appends (the server reports the permission error asynchronously).

const (
	// turnAfterLosses is how many lost compare-and-sets of one group make its writer ask
	// the others to hold.
	turnAfterLosses = 4
	// turnHoldMax is how long a request holds the other writers unless renewed or done.
	turnHoldMax = time.Second
	// turnWaitMax bounds one wait for other writers, however often they renew.
	turnWaitMax = 3 * time.Second
)

// turns is a Store's side of the turn-taking: its own requests and the other writers'.
type turns struct {
	nc      *nats.Conn
	subject string
	id      string // this writer, in the requests it publishes
	sub     *nats.Subscription

	mu      sync.Mutex
	held    map[string]time.Time // other writers asking -> when their request lapses
	changed chan struct{}        // closed and replaced when a request is withdrawn
}

// newTurns subscribes to subject for the other writers' requests, and returns once the
// server has the subscription (so that requests published after it are heard).
func newTurns(nc *nats.Conn, subject string, timeout time.Duration) (*turns, error) {
	t := &turns{nc: nc, subject: subject, id: uuid.NewString(), held: make(map[string]time.Time), changed: make(chan struct{})}
	sub, err := nc.Subscribe(subject, t.receive)
	if err == nil {
		t.sub = sub
		if err = nc.FlushTimeout(timeout); err != nil {
			t.close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("jetstream: subscribe to the turn subject %s: %w", subject, err)
	}
	return t, nil
}

// receive records another writer's request or its withdrawal; anything else is ignored.
func (t *turns) receive(m *nats.Msg) {
	kind, id, ok := strings.Cut(string(m.Data), " ")
	if !ok || id == t.id || id == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch kind {
	case "turn":
		now := time.Now()
		for other, until := range t.held { // a Store that never appends never waits
			if !until.After(now) {
				delete(t.held, other)
			}
		}
		t.held[id] = now.Add(turnHoldMax)
	case "done":
		if _, ok := t.held[id]; ok {
			delete(t.held, id)
			close(t.changed)
			t.changed = make(chan struct{})
		}
	}
}

// ask asks the other writers to hold (or renews the request).
func (t *turns) ask() { _ = t.nc.Publish(t.subject, []byte("turn "+t.id)) }

// release withdraws this writer's request.
func (t *turns) release() { _ = t.nc.Publish(t.subject, []byte("done "+t.id)) }

// wait returns once no other writer's request stands or turnWaitMax has passed. It says
// how long it waited.
func (t *turns) wait() time.Duration {
	start := time.Now()
	for {
		t.mu.Lock()
		now := time.Now()
		var next time.Time // the earliest lapse of a standing request
		for id, until := range t.held {
			if !until.After(now) {
				delete(t.held, id)
			} else if next.IsZero() || until.Before(next) {
				next = until
			}
		}
		changed := t.changed
		t.mu.Unlock()
		limit := start.Add(turnWaitMax)
		if next.IsZero() || !now.Before(limit) {
			return now.Sub(start)
		}
		if next.After(limit) {
			next = limit
		}
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-changed:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// close stops listening for requests.
func (t *turns) close() { _ = t.sub.Unsubscribe() }

// subjectMatches reports whether subject (no wildcards) is matched by filter, a JetStream
// stream subject that may hold the wildcards '*' (one token) and '>' (the rest).
func subjectMatches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}
