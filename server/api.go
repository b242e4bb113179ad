package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"techledger/commands"
	"techledger/ledger"
	"techledger/projections"
)

// commandBodyMax bounds a request body: one command.
const commandBodyMax = commands.CommandBytesMax

// postCommand applies one command: 201 applied, 200 duplicate, or a problem.
func (s *Server) postCommand(w http.ResponseWriter, r *http.Request) {
	if s.follower != nil {
		w.Header().Set("Allow", "GET")
		s.problem(w, r, http.StatusMethodNotAllowed, "read-only follower", "this server keeps a copy of another ledger (techledger follow) and takes no commands; send them to the primary", nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, commandBodyMax))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.problem(w, r, http.StatusRequestEntityTooLarge, "command too large", fmt.Sprintf("a command is at most %d bytes (CommandBytesMax)", commandBodyMax), map[string]any{"rule": fmt.Sprintf("at most %d bytes", commandBodyMax)})
		return
	case err != nil: // the client went away or sent a broken body
		s.problem(w, r, http.StatusBadRequest, "unreadable body", "the request body could not be read to its end", nil)
		return
	}
	p := PrincipalOf(r.Context())
	who := commands.Actor{Name: p.Name, Role: string(p.Role), CorrelationID: r.Header.Get("X-Request-ID")}
	start := time.Now()
	out, err := s.handler.HandleJSON(r.Context(), body, who)
	if err != nil {
		var e *commands.Error
		if errors.As(err, &e) {
			s.count("rejected", 0, 0)
		} else {
			s.count("failed", 0, 0)
		}
		s.rejection(w, r, err)
		return
	}
	s.count(string(out.Status), len(out.Positions), time.Since(start))
	if s.storageFull.CompareAndSwap(true, false) {
		s.log.Info("commands accepted again: the storage has space")
	}
	status := http.StatusCreated
	if out.Status == commands.StatusDuplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, out)
}

func (s *Server) count(outcome string, events int, d time.Duration) {
	if s.metrics != nil {
		if outcome != string(commands.StatusApplied) {
			events = 0
		}
		s.metrics.commandDone(outcome, events, d)
	}
}

func (s *Server) getContract(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	recs, err := streamRecords(r.Context(), s.store, id)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	v, ok, err := projections.FoldContract(recs)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !ok {
		s.problem(w, r, http.StatusNotFound, "contract not registered", fmt.Sprintf("contract %s is not registered", id), map[string]any{"field": "contract_id", "code": commands.CodeNotFound})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// streamRecords reads every record of a contract's stream.
func streamRecords(ctx context.Context, s Store, contractID string) ([]ledger.Record, error) {
	var out []ledger.Record
	for rec, err := range s.ReadStream(ctx, ledger.ContractStream(contractID), 1) {
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// getStats answers GET /v1/stats/contracts?by=&from=&to=&as_of=.
func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	if !s.knownParams(w, r, "by", "from", "to", "as_of") {
		return
	}
	q, err := ParseStatsQuery(qs.Get("by"), qs.Get("from"), qs.Get("to"))
	if err != nil {
		s.badQuery(w, r, err)
		return
	}
	at, err := ParseAsOf(qs.Get("as_of"))
	if err != nil {
		s.badQuery(w, r, err)
		return
	}
	var rep projections.StatsReport
	err = StateAt(r.Context(), s.proj, at, func(st *projections.State) (err error) {
		rep, err = st.Stats(q)
		return err
	})
	s.answer(w, r, rep, err)
}

// getRewards answers GET /v1/rewards/researchers?year=&institution=&as_of=.
func (s *Server) getRewards(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	if !s.knownParams(w, r, "year", "institution", "as_of") {
		return
	}
	year, err := queryUint(r, "year", 0)
	if err != nil || year > 9999 || (r.URL.Query().Has("year") && year == 0) {
		s.badQuery(w, r, fmt.Errorf("year: want a year such as 2023"))
		return
	}
	at, err := ParseAsOf(qs.Get("as_of"))
	if err != nil {
		s.badQuery(w, r, err)
		return
	}
	var rep projections.RewardsReport
	err = StateAt(r.Context(), s.proj, at, func(st *projections.State) (err error) {
		rep, err = st.Rewards(projections.RewardsQuery{Year: int(year), Institution: qs.Get("institution")})
		return err
	})
	s.answer(w, r, rep, err)
}

// getFlags answers GET /v1/rewards/flags?as_of=: proceeds assignments below the floors.
func (s *Server) getFlags(w http.ResponseWriter, r *http.Request) {
	if !s.knownParams(w, r, "as_of") {
		return
	}
	at, err := ParseAsOf(r.URL.Query().Get("as_of"))
	if err != nil {
		s.badQuery(w, r, err)
		return
	}
	var out struct {
		AsOf  ledger.Position          `json:"as_of"`
		Rules []projections.RewardRule `json:"rules"`
		Flags []projections.Flag       `json:"flags"`
	}
	err = StateAt(r.Context(), s.proj, at, func(st *projections.State) error {
		out.AsOf, out.Flags = st.Position(), st.Flags()
		return nil
	})
	out.Rules = projections.RewardRules
	s.answer(w, r, out, err)
}

// answer writes v, or the error of a query as a problem (a refused query: 400).
func (s *Server) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	var qe *projections.QueryError
	switch {
	case errors.As(err, &qe):
		s.problem(w, r, http.StatusBadRequest, "bad query", qe.Error(), map[string]any{"field": qe.Field, "rule": qe.Rule})
	case err != nil:
		s.internal(w, r, err)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

// badQuery answers 400 for a query parameter that does not parse; err names it.
func (s *Server) badQuery(w http.ResponseWriter, r *http.Request, err error) {
	field, _, _ := strings.Cut(err.Error(), ":")
	s.problem(w, r, http.StatusBadRequest, "bad query", err.Error(), map[string]any{"field": field})
}

// knownParams refuses query parameters a route does not take (a typo must not be
// silently ignored) and oversized queries.
func (s *Server) knownParams(w http.ResponseWriter, r *http.Request, names ...string) bool {
	if len(r.URL.RawQuery) > queryBytesMax {
		s.problem(w, r, http.StatusBadRequest, "bad query", fmt.Sprintf("the query string is at most %d bytes", queryBytesMax), nil)
		return false
	}
	for k := range r.URL.Query() {
		if !slices.Contains(names, k) {
			s.problem(w, r, http.StatusBadRequest, "bad query", fmt.Sprintf("unknown parameter %q (this route takes %s)", k, strings.Join(names, ", ")), map[string]any{"field": k})
			return false
		}
	}
	return true
}

// queryBytesMax bounds a request's query string.
const queryBytesMax = 4096

func (s *Server) getHistory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	hist, err := History(r.Context(), s.store, id)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if len(hist) == 0 {
		s.problem(w, r, http.StatusNotFound, "contract not registered", fmt.Sprintf("contract %s is not registered", id), map[string]any{"field": "contract_id", "code": commands.CodeNotFound})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"contract_id": id, "events": hist})
}

// getEvents streams the log from ?from= (default 1) as NDJSON, up to ?limit= records
// (default and maximum eventsPageMax); the next page starts after the last position.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	if !s.knownParams(w, r, "from", "limit") {
		return
	}
	from, err := queryUint(r, "from", 1)
	if err != nil || from == 0 {
		s.problem(w, r, http.StatusBadRequest, "bad query", "from: want a log position (1 or more)", map[string]any{"field": "from", "rule": "a log position, 1 or more"})
		return
	}
	limit, err := queryUint(r, "limit", eventsPageMax)
	if err != nil || limit == 0 || limit > eventsPageMax {
		s.problem(w, r, http.StatusBadRequest, "bad query", fmt.Sprintf("limit: must be 1..%d", eventsPageMax), map[string]any{"field": "limit", "rule": fmt.Sprintf("1..%d", eventsPageMax)})
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	// A read that fails after the first record cannot change the status any more: the
	// page ends there and the trailer says so (records are consecutive, so a client can
	// also tell from the positions).
	w.Header().Set("Trailer", eventsErrorTrailer)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := uint64(0)
	for rec, err := range s.store.ReadAll(r.Context(), ledger.Position(from)) {
		if err != nil {
			if n == 0 {
				w.Header().Del("Trailer")
				s.internal(w, r, fmt.Errorf("read events: %w", err))
				return
			}
			s.log.Error("read events", "err", err, "after", n)
			w.Header().Set(eventsErrorTrailer, fmt.Sprintf("the log could not be read after %d records; this page is incomplete", n))
			return
		}
		if err := enc.Encode(ViewOf(rec)); err != nil {
			return
		}
		if n++; n == limit {
			return
		}
	}
}

// eventsErrorTrailer is the HTTP trailer GET /v1/events sets when a page ends early
// because the log could not be read.
const eventsErrorTrailer = "Techledger-Error"

// eventsPageMax bounds one page of GET /v1/events.
const eventsPageMax = 10_000

func (s *Server) getVerify(w http.ResponseWriter, r *http.Request) {
	var rep ledger.VerifyReport
	var err error
	if v, ok := s.store.(ledger.Verifier); ok {
		rep, err = v.Verify(r.Context())
	} else {
		rep, err = ledger.Verify(r.Context(), s.store.ReadAll(r.Context(), 1))
	}
	var ce *ledger.CorruptionError
	if errors.As(err, &ce) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "position": ce.Position, "location": ce.Location, "reason": ce.Reason})
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "report": rep})
}

// rejection maps a command error to problem details: the code decides the status; an
// error that is not a rejection is internal and its details go only to the log.
func (s *Server) rejection(w http.ResponseWriter, r *http.Request, err error) {
	var e *commands.Error
	if errors.Is(err, ledger.ErrStorageFull) {
		s.refuseFull(w, r, err)
		return
	}
	if !errors.As(err, &e) {
		s.internal(w, r, err)
		return
	}
	status := map[commands.Code]int{
		commands.CodeMalformed: http.StatusBadRequest,
		commands.CodeInvalid:   http.StatusUnprocessableEntity,
		commands.CodeNotFound:  http.StatusNotFound,
		commands.CodeConflict:  http.StatusConflict,
	}[e.Code]
	s.problem(w, r, status, "command rejected: "+string(e.Code), e.Error(), map[string]any{"code": e.Code, "field": e.Field, "rule": e.Rule, "errors": e.FieldErrors()})
}

// refuseFull answers a command the store could not record for want of space: 507, naming
// the cause. The first refusal of an incident is logged, the next ones are not, until a
// command is accepted again (which is logged too).
func (s *Server) refuseFull(w http.ResponseWriter, r *http.Request, err error) {
	if s.storageFull.CompareAndSwap(false, true) {
		s.log.Error("commands refused: the storage is full", "err", err.Error())
	}
	s.problem(w, r, http.StatusInsufficientStorage, "storage full",
		"the ledger's storage has no space left ("+ledger.ErrStorageFull.Error()+"): the command was not recorded; send it again unchanged once space has been freed", nil)
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	if errors.Is(err, projections.ErrCatchingUp) {
		// A restarted server takes commands at once and loads its read models behind;
		// a read that waited for them in vain is asked to come back.
		w.Header().Set("Retry-After", strconv.Itoa(CatchUpRetryAfter))
		s.problem(w, r, http.StatusServiceUnavailable, "catching up", err.Error(), nil)
		return
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	s.problem(w, r, http.StatusInternalServerError, "internal error", "the server could not complete the request; it has been logged", nil)
}

// CatchUpRetryAfter is the Retry-After, in seconds, of a read answered 503 because the
// projections are still catching up with the log after a start.
const CatchUpRetryAfter = 2

// problem writes an RFC 9457 problem details response.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, status int, title, detail string, ext map[string]any) {
	p := map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": r.URL.Path}
	for k, v := range ext {
		p[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func queryUint(r *http.Request, name string, def uint64) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return v, nil
}
