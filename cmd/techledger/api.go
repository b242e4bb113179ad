package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"techledger/commands"
	"techledger/ledger"
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

// api serves the HTTP API of DESIGN §4 that exists so far: commands, contract state and
// history, the event log for auditors, verify, health.
type api struct {
	store   ledger.Store
	handler *commands.Handler
	log     *slog.Logger
}

func (a *api) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/commands", a.postCommand)
	mux.HandleFunc("GET /v1/contracts/{id}", a.getContract)
	mux.HandleFunc("GET /v1/contracts/{id}/history", a.getHistory)
	mux.HandleFunc("GET /v1/events", a.getEvents)
	mux.HandleFunc("GET /v1/verify", a.getVerify)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		head, err := a.store.Head(r.Context())
		if err != nil {
			a.problem(w, r, http.StatusServiceUnavailable, "store unavailable", err.Error(), nil)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "head": head})
	})
	return mux
}

// postCommand applies one command: 201 applied, 200 duplicate, or a problem.
func (a *api) postCommand(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, commandBodyMax))
	if err != nil {
		a.problem(w, r, http.StatusRequestEntityTooLarge, "command too large", fmt.Sprintf("a command is at most %d bytes (CommandBytesMax)", commandBodyMax), nil)
		return
	}
	who := commands.Actor{Name: "api:" + r.RemoteAddr, Role: "registrar", CorrelationID: r.Header.Get("X-Request-ID")}
	out, err := a.handler.HandleJSON(r.Context(), body, who)
	if err != nil {
		a.rejection(w, r, err)
		return
	}
	status := http.StatusCreated
	if out.Status == commands.StatusDuplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, out)
}

// contractView is a contract's current state.
type contractView struct {
	ContractID    string          `json:"contract_id"`
	Version       ledger.Version  `json:"version"`
	Revoked       bool            `json:"revoked"`
	Type          string          `json:"type"`
	Subtype       string          `json:"subtype"`
	Field         string          `json:"field"`
	SignedOn      ledger.Date     `json:"signed_on"`
	RegisteredOn  ledger.Date     `json:"registered_on"`
	Amount        string          `json:"amount"`
	TechAmount    string          `json:"tech_amount"`
	Paid          string          `json:"paid"`
	AchievementID string          `json:"achievement_id,omitempty"`
	Seller        ledger.Party    `json:"seller"`
	Proceeds      []ledger.Holder `json:"proceeds"`
}

func (a *api) getContract(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, err := commands.Fold(commands.Contract{}, a.store.ReadStream(r.Context(), ledger.ContractStream(id), 1))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if !c.Registered {
		a.problem(w, r, http.StatusNotFound, "contract not registered", fmt.Sprintf("contract %s is not registered", id), map[string]any{"field": "contract_id", "code": commands.CodeNotFound})
		return
	}
	writeJSON(w, http.StatusOK, contractView{
		ContractID: c.ID, Version: c.Version, Revoked: c.Revoked, Type: c.Type, Subtype: c.Subtype, Field: c.Field,
		SignedOn: c.SignedOn, RegisteredOn: c.RegisteredOn, Amount: c.Amount.StringFixed(2), TechAmount: c.TechAmount.StringFixed(2),
		Paid: c.Paid.StringFixed(2), AchievementID: c.AchievementID, Seller: c.Seller, Proceeds: c.Proceeds,
	})
}

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
	from, err := queryUint(r, "from", 1)
	if err != nil {
		a.problem(w, r, http.StatusBadRequest, "invalid query", "from: "+err.Error(), map[string]any{"field": "from"})
		return
	}
	limit, err := queryUint(r, "limit", eventsPageMax)
	if err != nil || limit == 0 || limit > eventsPageMax {
		a.problem(w, r, http.StatusBadRequest, "invalid query", fmt.Sprintf("limit: must be 1..%d", eventsPageMax), map[string]any{"field": "limit"})
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	n := uint64(0)
	for rec, err := range a.store.ReadAll(r.Context(), ledger.Position(from)) {
		if err != nil {
			a.log.Error("read events", "err", err)
			return // the client sees a truncated stream
		}
		if err := enc.Encode(viewOf(rec)); err != nil {
			return
		}
		if n++; n == limit {
			return
		}
	}
}

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
