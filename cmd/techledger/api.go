package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"techledger/commands"
	"techledger/ledger"
	"techledger/projections"
	"techledger/transparency"
)

// recordView is a record as the CLI and the API show it.
type recordView struct {
	Position      ledger.Position `json:"position"`
	Stream        string          `json:"stream"`
	Version       ledger.Version  `json:"version"`
	ID            string          `json:"id"`
	RecordedAt    time.Time       `json:"recorded_at"`
	Type          string          `json:"type"`
	SchemaVersion uint16          `json:"schema_version"`
	Metadata      ledger.Metadata `json:"metadata"`
	Data          json.RawMessage `json:"data"`
	PrevHash      ledger.Hash     `json:"prev_hash"`
	Hash          ledger.Hash     `json:"hash"`
}

func viewOf(r ledger.Record) recordView {
	return recordView{
		Position: r.Position, Stream: r.Stream, Version: r.Version, ID: r.ID.String(), RecordedAt: r.RecordedAt,
		Type: r.Type, SchemaVersion: r.SchemaVersion, Metadata: r.Metadata, Data: r.Data, PrevHash: r.PrevHash, Hash: r.Hash,
	}
}

// commandBodyMax bounds a request body: one command.
const commandBodyMax = commands.CommandBytesMax

// api serves the HTTP API of DESIGN §4 (documented in openapi.json next to this file).
type api struct {
	store   ledger.Store
	handler *commands.Handler
	proj    *projections.Runner // kept live from the log
	log     *slog.Logger
	tokens  *tokenSet // nil: no authentication, every request acts as localPrincipal
	metrics *metrics  // nil: a fresh set is made by httpHandler
	// tlog is the transparency log (nil without serve --signing-key); publicProofs opens
	// its checkpoints, proofs and tiles to anyone.
	tlog         *transparency.Log
	publicProofs bool
}

// route is one route of the API and the roles it admits (admin is always admitted).
type route struct {
	pattern string
	serve   http.HandlerFunc
	roles   []string // nil: open to anyone, without a token
}

// routeTable lists every route; the OpenAPI document and the role tests follow it.
func (a *api) routeTable() []route {
	readers := []string{roleRegistrar, roleAuditor}
	figures := []string{roleRegistrar, roleAuditor, roleStatistician}
	return append([]route{
		{"POST /v1/commands", a.postCommand, []string{roleRegistrar}},
		{"GET /v1/contracts/{id}", a.getContract, readers},
		{"GET /v1/contracts/{id}/history", a.getHistory, readers},
		{"GET /v1/stats/contracts", a.getStats, figures},
		{"GET /v1/rewards/researchers", a.getRewards, figures},
		{"GET /v1/rewards/flags", a.getFlags, figures},
		{"GET /v1/events", a.getEvents, []string{roleAuditor}},
		{"GET /v1/verify", a.getVerify, []string{roleAuditor}},
		{"GET /metrics", a.getMetrics, []string{roleAuditor}},
		{"GET /healthz", a.getHealth, nil},
		{"GET /openapi.json", a.getOpenAPI, nil},
	}, a.transparencyRoutes()...)
}

// routes returns the API's mux, without the request logging and counting of httpHandler.
func (a *api) routes() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range a.routeTable() {
		h := rt.serve
		if rt.roles != nil {
			h = a.allow(h, rt.roles...)
		}
		mux.HandleFunc(rt.pattern, h)
	}
	return mux
}

// unmatched answers requests no route takes with problem details rather than the mux's
// plain text: 405 with Allow when the path exists for other methods, else 404.
func (a *api) unmatched(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			a.problem(w, r, http.StatusMethodNotAllowed, "method not allowed", fmt.Sprintf("%s takes %s", r.URL.Path, strings.Join(allow, ", ")), nil)
			return
		}
		a.problem(w, r, http.StatusNotFound, "not found", "no such route; see cmd/techledger/openapi.json", nil)
	})
}

// httpHandler returns the whole API: the routes, counted, timed and logged.
func (a *api) httpHandler() http.Handler {
	if a.metrics == nil {
		a.metrics = newMetrics()
	}
	return a.observe(a.unmatched(a.routes()))
}

// getHealth answers GET /healthz, open to anyone: 200 with the head of the log when the
// store answers, else 503.
func (a *api) getHealth(w http.ResponseWriter, r *http.Request) {
	head, err := a.store.Head(r.Context())
	if err != nil {
		a.log.Error("health check", "err", err)
		a.problem(w, r, http.StatusServiceUnavailable, "store unavailable", "the store does not answer; see the server log", nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "head": head})
}

// getMetrics answers GET /metrics in the Prometheus text format.
func (a *api) getMetrics(w http.ResponseWriter, r *http.Request) {
	var g gauges
	if head, err := a.store.Head(r.Context()); err == nil {
		if lag, err := a.proj.Lag(r.Context()); err == nil {
			g = gauges{head: uint64(head), projected: uint64(a.proj.Position()), lag: lag, ok: true}
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if a.metrics == nil {
		a.metrics = newMetrics()
	}
	a.metrics.write(w, g)
}

// postCommand applies one command: 201 applied, 200 duplicate, or a problem.
func (a *api) postCommand(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, commandBodyMax))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		a.problem(w, r, http.StatusRequestEntityTooLarge, "command too large", fmt.Sprintf("a command is at most %d bytes (CommandBytesMax)", commandBodyMax), map[string]any{"rule": fmt.Sprintf("at most %d bytes", commandBodyMax)})
		return
	case err != nil: // the client went away or sent a broken body
		a.problem(w, r, http.StatusBadRequest, "unreadable body", "the request body could not be read to its end", nil)
		return
	}
	p := principalOf(r.Context())
	who := commands.Actor{Name: p.Name, Role: p.Role, CorrelationID: r.Header.Get("X-Request-ID")}
	start := time.Now()
	out, err := a.handler.HandleJSON(r.Context(), body, who)
	if err != nil {
		var e *commands.Error
		if errors.As(err, &e) {
			a.count("rejected", 0, 0)
		} else {
			a.count("failed", 0, 0)
		}
		a.rejection(w, r, err)
		return
	}
	a.count(string(out.Status), len(out.Positions), time.Since(start))
	status := http.StatusCreated
	if out.Status == commands.StatusDuplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, out)
}

func (a *api) count(outcome string, events int, d time.Duration) {
	if a.metrics != nil {
		if outcome != string(commands.StatusApplied) {
			events = 0
		}
		a.metrics.commandDone(outcome, events, d)
	}
}

func (a *api) getContract(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	recs, err := streamRecords(r.Context(), a.store, id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	v, ok, err := projections.FoldContract(recs)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if !ok {
		a.problem(w, r, http.StatusNotFound, "contract not registered", fmt.Sprintf("contract %s is not registered", id), map[string]any{"field": "contract_id", "code": commands.CodeNotFound})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// streamRecords reads every record of a contract's stream.
func streamRecords(ctx context.Context, s ledger.Store, contractID string) ([]ledger.Record, error) {
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
func (a *api) getStats(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	if !a.knownParams(w, r, "by", "from", "to", "as_of") {
		return
	}
	q, err := parseStatsQuery(qs.Get("by"), qs.Get("from"), qs.Get("to"))
	if err != nil {
		a.badQuery(w, r, err)
		return
	}
	at, err := parseAsOf(qs.Get("as_of"))
	if err != nil {
		a.badQuery(w, r, err)
		return
	}
	var rep projections.StatsReport
	err = stateAt(r.Context(), a.proj, at, func(st *projections.State) (err error) {
		rep, err = st.Stats(q)
		return err
	})
	a.answer(w, r, rep, err)
}

// getRewards answers GET /v1/rewards/researchers?year=&institution=&as_of=.
func (a *api) getRewards(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	if !a.knownParams(w, r, "year", "institution", "as_of") {
		return
	}
	year, err := queryUint(r, "year", 0)
	if err != nil || year > 9999 || (r.URL.Query().Has("year") && year == 0) {
		a.badQuery(w, r, fmt.Errorf("year: want a year such as 2023"))
		return
	}
	at, err := parseAsOf(qs.Get("as_of"))
	if err != nil {
		a.badQuery(w, r, err)
		return
	}
	var rep projections.RewardsReport
	err = stateAt(r.Context(), a.proj, at, func(st *projections.State) (err error) {
		rep, err = st.Rewards(projections.RewardsQuery{Year: int(year), Institution: qs.Get("institution")})
		return err
	})
	a.answer(w, r, rep, err)
}

// getFlags answers GET /v1/rewards/flags?as_of=: proceeds assignments below the floors.
func (a *api) getFlags(w http.ResponseWriter, r *http.Request) {
	if !a.knownParams(w, r, "as_of") {
		return
	}
	at, err := parseAsOf(r.URL.Query().Get("as_of"))
	if err != nil {
		a.badQuery(w, r, err)
		return
	}
	var out struct {
		AsOf  ledger.Position          `json:"as_of"`
		Rules []projections.RewardRule `json:"rules"`
		Flags []projections.Flag       `json:"flags"`
	}
	err = stateAt(r.Context(), a.proj, at, func(st *projections.State) error {
		out.AsOf, out.Flags = st.Position(), st.Flags()
		return nil
	})
	out.Rules = projections.RewardRules
	a.answer(w, r, out, err)
}

// answer writes v, or the error of a query as a problem (a refused query: 400).
func (a *api) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	var qe *projections.QueryError
	switch {
	case errors.As(err, &qe):
		a.problem(w, r, http.StatusBadRequest, "bad query", qe.Error(), map[string]any{"field": qe.Field, "rule": qe.Rule})
	case err != nil:
		a.internal(w, r, err)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

// badQuery answers 400 for a query parameter that does not parse; err names it.
func (a *api) badQuery(w http.ResponseWriter, r *http.Request, err error) {
	field, _, _ := strings.Cut(err.Error(), ":")
	a.problem(w, r, http.StatusBadRequest, "bad query", err.Error(), map[string]any{"field": field})
}

// knownParams refuses query parameters a route does not take (a typo must not be
// silently ignored) and oversized queries.
func (a *api) knownParams(w http.ResponseWriter, r *http.Request, names ...string) bool {
	if len(r.URL.RawQuery) > queryBytesMax {
		a.problem(w, r, http.StatusBadRequest, "bad query", fmt.Sprintf("the query string is at most %d bytes", queryBytesMax), nil)
		return false
	}
	for k := range r.URL.Query() {
		if !slices.Contains(names, k) {
			a.problem(w, r, http.StatusBadRequest, "bad query", fmt.Sprintf("unknown parameter %q (this route takes %s)", k, strings.Join(names, ", ")), map[string]any{"field": k})
			return false
		}
	}
	return true
}

// queryBytesMax bounds a request's query string.
const queryBytesMax = 4096

func (a *api) getHistory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	hist, err := history(r.Context(), a.store, id)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if len(hist) == 0 {
		a.problem(w, r, http.StatusNotFound, "contract not registered", fmt.Sprintf("contract %s is not registered", id), map[string]any{"field": "contract_id", "code": commands.CodeNotFound})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"contract_id": id, "events": hist})
}

// getEvents streams the log from ?from= (default 1) as NDJSON, up to ?limit= records
// (default and maximum eventsPageMax); the next page starts after the last position.
func (a *api) getEvents(w http.ResponseWriter, r *http.Request) {
	if !a.knownParams(w, r, "from", "limit") {
		return
	}
	from, err := queryUint(r, "from", 1)
	if err != nil || from == 0 {
		a.problem(w, r, http.StatusBadRequest, "bad query", "from: want a log position (1 or more)", map[string]any{"field": "from", "rule": "a log position, 1 or more"})
		return
	}
	limit, err := queryUint(r, "limit", eventsPageMax)
	if err != nil || limit == 0 || limit > eventsPageMax {
		a.problem(w, r, http.StatusBadRequest, "bad query", fmt.Sprintf("limit: must be 1..%d", eventsPageMax), map[string]any{"field": "limit", "rule": fmt.Sprintf("1..%d", eventsPageMax)})
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
	for rec, err := range a.store.ReadAll(r.Context(), ledger.Position(from)) {
		if err != nil {
			if n == 0 {
				w.Header().Del("Trailer")
				a.internal(w, r, fmt.Errorf("read events: %w", err))
				return
			}
			a.log.Error("read events", "err", err, "after", n)
			w.Header().Set(eventsErrorTrailer, fmt.Sprintf("the log could not be read after %d records; this page is incomplete", n))
			return
		}
		if err := enc.Encode(viewOf(rec)); err != nil {
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

func (a *api) getVerify(w http.ResponseWriter, r *http.Request) {
	var rep ledger.VerifyReport
	var err error
	if v, ok := a.store.(ledger.Verifier); ok {
		rep, err = v.Verify(r.Context())
	} else {
		rep, err = ledger.Verify(r.Context(), a.store.ReadAll(r.Context(), 1))
	}
	var ce *ledger.CorruptionError
	if errors.As(err, &ce) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "position": ce.Position, "location": ce.Location, "reason": ce.Reason})
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "report": rep})
}

// rejection maps a command error to problem details: the code decides the status; an
// error that is not a rejection is internal and its details go only to the log.
func (a *api) rejection(w http.ResponseWriter, r *http.Request, err error) {
	var e *commands.Error
	if !errors.As(err, &e) {
		a.internal(w, r, err)
		return
	}
	status := map[commands.Code]int{
		commands.CodeMalformed: http.StatusBadRequest,
		commands.CodeInvalid:   http.StatusUnprocessableEntity,
		commands.CodeNotFound:  http.StatusNotFound,
		commands.CodeConflict:  http.StatusConflict,
	}[e.Code]
	a.problem(w, r, status, "command rejected: "+string(e.Code), e.Error(), map[string]any{"code": e.Code, "field": e.Field, "rule": e.Rule})
}

func (a *api) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	a.problem(w, r, http.StatusInternalServerError, "internal error", "the server could not complete the request; it has been logged", nil)
}

// problem writes an RFC 9457 problem details response.
func (a *api) problem(w http.ResponseWriter, r *http.Request, status int, title, detail string, ext map[string]any) {
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
