// Package replica copies a ledger from a primary techledger server, over its HTTP API
// (GET /v1/events, GET /healthz), into a local store that appends records verbatim
// (ledger.RecordAppender): the records keep their positions, IDs, times and hashes, so
// the copy is the primary's log, record for record. Every record taken is checked to
// continue the hash chain of the copy (the store refuses one that does not, naming its
// position), so a primary that serves an altered record is caught, and the copy keeps
// everything before it.
//
// Pull copies what the copy lacks, once (backup --url); Follow keeps pulling until its
// context ends (follow). See docs/operations.md.
package replica

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"techledger/ledger"
)

// Limits.
const (
	// PageRecordsMax is how many records one GET /v1/events asks for (the server's own
	// page limit).
	PageRecordsMax = 10_000
	// RecordsPerAppendMax is how many records one AppendRecords call takes (the
	// filestore's RecordsPerCallMax: one frame).
	RecordsPerAppendMax = ledger.EventsPerAppendMax
	// LineBytesMax bounds one NDJSON line of GET /v1/events: one record with its envelope.
	LineBytesMax = ledger.EventBytesMax*2 + 64<<10
	// ErrorBodyBytesMax bounds what is read of an error response.
	ErrorBodyBytesMax = 4 << 10
	// PollDefault is how long Follow waits after catching up before asking again.
	PollDefault = time.Second
)

// Target is the local copy: a store that appends records verbatim.
type Target interface {
	ledger.RecordAppender
	Head(ctx context.Context) (ledger.Position, error)
}

// Primary is a techledger server to copy from.
type Primary struct {
	// URL is the server's base URL (http://host:port).
	URL string
	// Token is the bearer token sent (a role that may read /v1/events: auditor or admin).
	Token string
	// Client makes the requests (default http.DefaultClient).
	Client *http.Client
}

// RefusedError says the primary served a record that the copy refused: it does not
// continue the hash chain, or is not the next position. Nothing from it on was taken.
type RefusedError struct {
	Position ledger.Position
	Err      error // the store's reason, wrapping ledger.ErrCorrupt
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("replica: record at position %d from the primary refused: %v", e.Position, e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// Head asks the primary for the head of its log (GET /healthz).
func (p Primary) Head(ctx context.Context) (ledger.Position, error) {
	resp, err := p.get(ctx, "/healthz")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var h struct {
		Head *ledger.Position `json:"head"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, ErrorBodyBytesMax)).Decode(&h); err != nil || h.Head == nil {
		return 0, fmt.Errorf("replica: %s/healthz: no head in the answer (%v)", p.URL, err)
	}
	return *h.Head, nil
}

// Page returns up to limit records of the primary's log from position from on, in order
// (GET /v1/events). It checks that they are consecutive from from; the hash chain is the
// target's to check.
func (p Primary) Page(ctx context.Context, from ledger.Position, limit int) ([]ledger.Record, error) {
	resp, err := p.get(ctx, "/v1/events?from="+strconv.FormatUint(uint64(from), 10)+"&limit="+strconv.Itoa(limit))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), LineBytesMax)
	var recs []ledger.Record
	for sc.Scan() {
		want := from + ledger.Position(len(recs))
		rec, err := decodeRecord(sc.Bytes())
		if err != nil {
			return recs, fmt.Errorf("replica: record at position %d from the primary: %w", want, err)
		}
		if rec.Position != want {
			return recs, &RefusedError{Position: want, Err: &ledger.CorruptionError{Position: want, Reason: fmt.Sprintf("the primary sent position %d", rec.Position)}}
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return recs, fmt.Errorf("replica: read %s/v1/events: %w", p.URL, err)
	}
	if t := resp.Trailer.Get("Techledger-Error"); t != "" {
		return recs, fmt.Errorf("replica: %s/v1/events: page incomplete: %s", p.URL, t)
	}
	return recs, nil
}

func (p Primary) get(ctx context.Context, path string) (*http.Response, error) {
	u, err := url.Parse(strings.TrimRight(p.URL, "/") + path)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("replica: url %q: want http://host:port or https://host:port", p.URL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("replica: %w", err)
	}
	if p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("replica: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, ErrorBodyBytesMax))
		return nil, fmt.Errorf("replica: GET %s%s: %s: %s", p.URL, strings.SplitN(path, "?", 2)[0], resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

func decodeRecord(line []byte) (ledger.Record, error) {
	var v ledger.RecordView
	if err := json.Unmarshal(line, &v); err != nil {
		return ledger.Record{}, fmt.Errorf("decode: %w", err)
	}
	return v.Record()
}

// Pull copies into t every record of the primary past t's head, up to the primary's head
// when Pull started or a little later, and returns t's new head. A record that does not
// chain is refused with a *RefusedError naming its position; the records before it are
// kept.
func Pull(ctx context.Context, p Primary, t Target) (ledger.Position, error) {
	target, err := p.Head(ctx)
	if err != nil {
		return 0, err
	}
	for {
		head, err := t.Head(ctx)
		if err != nil {
			return 0, fmt.Errorf("replica: local head: %w", err)
		}
		if head >= target {
			return head, nil
		}
		n, err := pullPage(ctx, p, t, head+1)
		if err != nil {
			return head, err
		}
		if n == 0 {
			return head, fmt.Errorf("replica: the primary reports head %d but sends nothing after %d", target, head)
		}
	}
}

// pullPage copies one page of records from position from on, and returns how many.
func pullPage(ctx context.Context, p Primary, t Target, from ledger.Position) (int, error) {
	recs, perr := p.Page(ctx, from, PageRecordsMax)
	for len(recs) > 0 {
		n := min(len(recs), RecordsPerAppendMax)
		if err := t.AppendRecords(ctx, recs[:n]); err != nil {
			var ce *ledger.CorruptionError
			if errors.As(err, &ce) {
				// Keep what chains before the refused record: the call is atomic, so
				// append that part again on its own.
				if k := int(ce.Position - recs[0].Position); k > 0 && k < n {
					if err := t.AppendRecords(ctx, recs[:k]); err != nil {
						return 0, fmt.Errorf("replica: append records before position %d: %w", ce.Position, err)
					}
				}
				return 0, &RefusedError{Position: ce.Position, Err: err}
			}
			return 0, fmt.Errorf("replica: append records from position %d: %w", recs[0].Position, err)
		}
		recs = recs[n:]
	}
	if perr != nil {
		return 0, perr
	}
	head, err := t.Head(ctx)
	if err != nil {
		return 0, err
	}
	return int(head - from + 1), nil
}

// Lag is what Follow reports of how far the copy is behind.
type Lag struct {
	primary, local atomic.Uint64
	checked        atomic.Int64 // Unix nanoseconds of the last successful exchange with the primary
}

// Records returns how many records the copy is behind the primary as last seen.
func (l *Lag) Records() uint64 {
	p, c := l.primary.Load(), l.local.Load()
	if p < c {
		return 0
	}
	return p - c
}

// Heads returns the primary's head as last seen and the copy's.
func (l *Lag) Heads() (primary, local ledger.Position) {
	return ledger.Position(l.primary.Load()), ledger.Position(l.local.Load())
}

// Checked returns when the primary last answered (zero: never).
func (l *Lag) Checked() time.Time {
	if n := l.checked.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// FollowOptions tune Follow.
type FollowOptions struct {
	// Poll is how long to wait after catching up before asking again (default PollDefault).
	Poll time.Duration
	// Lag, if not nil, is kept current.
	Lag *Lag
	// OnError, if not nil, is told of each failure to reach the primary; Follow retries
	// after Poll. A refused record is not retried: Follow returns it.
	OnError func(error)
}

// Follow keeps t current with the primary until ctx ends (it then returns ctx's error)
// or the primary serves a record that does not chain (a *RefusedError). Failures to reach
// the primary are reported to OnError and retried.
func Follow(ctx context.Context, p Primary, t Target, opts FollowOptions) error {
	if opts.Poll <= 0 {
		opts.Poll = PollDefault
	}
	lag := opts.Lag
	if lag == nil {
		lag = &Lag{}
	}
	for {
		err := followOnce(ctx, p, t, lag)
		var re *RefusedError
		if errors.As(err, &re) {
			return err
		}
		if err != nil && ctx.Err() == nil && opts.OnError != nil {
			opts.OnError(err)
		}
		select { // caught up, or the primary did not answer: wait before asking again
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(opts.Poll):
		}
	}
}

// followOnce pulls up to the primary's head, keeping lag current.
func followOnce(ctx context.Context, p Primary, t Target, lag *Lag) error {
	target, err := p.Head(ctx)
	if err != nil {
		return err
	}
	lag.primary.Store(uint64(target))
	lag.checked.Store(time.Now().UnixNano())
	for {
		head, err := t.Head(ctx)
		if err != nil {
			return fmt.Errorf("replica: local head: %w", err)
		}
		lag.local.Store(uint64(head))
		if head >= target {
			return nil
		}
		n, err := pullPage(ctx, p, t, head+1)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}
