package main

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"

	"techledger/ledger"
	"techledger/transparency"
)

// The transparency routes (docs/transparency.md): the signed checkpoints, proofs against
// signed sizes, tiles, and a contract's proof bundle. Checkpoints, proofs and tiles reach
// auditors, or anyone with serve --public-proofs; bundles carry records' content and reach
// registrars and auditors only.

// inclusionResponse answers GET /v1/proof/inclusion.
type inclusionResponse struct {
	Position ledger.Position  `json:"position"`
	Size     int64            `json:"size"`
	LeafHash tlog.Hash        `json:"leaf_hash"`
	Proof    tlog.RecordProof `json:"proof"`
}

// consistencyResponse answers GET /v1/proof/consistency.
type consistencyResponse struct {
	From  int64          `json:"from"`
	To    int64          `json:"to"`
	Proof tlog.TreeProof `json:"proof"`
}

func (a *api) transparencyRoutes() []route {
	proofs := []string{roleAuditor}
	if a.publicProofs {
		proofs = nil
	}
	return []route{
		{"GET /v1/checkpoint", a.getCheckpoint, proofs},
		{"GET /v1/checkpoints/{size}", a.getCheckpointAt, proofs},
		{"GET /v1/proof/inclusion", a.getInclusionProof, proofs},
		{"GET /v1/proof/consistency", a.getConsistencyProof, proofs},
		{"GET /v1/tile/{path...}", a.getTile, proofs},
		{"GET /v1/contracts/{id}/bundle", a.getBundle, []string{roleRegistrar, roleAuditor}},
	}
}

// tlogProblem answers an error of the transparency log.
func (a *api) tlogProblem(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case a.tlog == nil:
		a.problem(w, r, http.StatusNotFound, "no transparency log", "this server was started without --signing-key", nil)
	case errors.Is(err, transparency.ErrNoCheckpoint):
		a.problem(w, r, http.StatusNotFound, "no checkpoint yet", "the log has signed no checkpoint yet", nil)
	case errors.Is(err, transparency.ErrNotSigned):
		a.problem(w, r, http.StatusNotFound, "size not signed", err.Error()+": proofs are built against signed checkpoint sizes only (GET /v1/checkpoint)", nil)
	case errors.Is(err, transparency.ErrOutOfRange):
		a.problem(w, r, http.StatusBadRequest, "out of range", err.Error(), nil)
	case errors.Is(err, transparency.ErrNotFound):
		a.problem(w, r, http.StatusNotFound, "contract not in the signed log", err.Error(), nil)
	default:
		a.log.Error("transparency", "err", err, "path", r.URL.Path)
		a.problem(w, r, http.StatusInternalServerError, "internal error", "see the server log", nil)
	}
}

func writeNote(w http.ResponseWriter, msg []byte) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(msg)
}

// getCheckpoint answers GET /v1/checkpoint: the latest signed checkpoint (a signed note).
func (a *api) getCheckpoint(w http.ResponseWriter, r *http.Request) {
	if a.tlog == nil {
		a.tlogProblem(w, r, nil)
		return
	}
	_, msg, err := a.tlog.Latest()
	if err != nil {
		a.tlogProblem(w, r, err)
		return
	}
	writeNote(w, msg)
}

// getCheckpointAt answers GET /v1/checkpoints/{size}: the checkpoint signed at that size.
func (a *api) getCheckpointAt(w http.ResponseWriter, r *http.Request) {
	n, ok := a.sizeParam(w, r, "size", r.PathValue("size"))
	if !ok {
		return
	}
	msg, err := a.tlog.CheckpointAt(n)
	if err != nil {
		a.tlogProblem(w, r, err)
		return
	}
	writeNote(w, msg)
}

// sizeParam parses a tree size or position parameter (>= 1); false when it answered.
func (a *api) sizeParam(w http.ResponseWriter, r *http.Request, name, s string) (int64, bool) {
	if a.tlog == nil {
		a.tlogProblem(w, r, nil)
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		a.problem(w, r, http.StatusBadRequest, "bad query", fmt.Sprintf("%s: %q is not a positive integer", name, s), map[string]any{"field": name})
		return 0, false
	}
	return n, true
}

// getInclusionProof answers GET /v1/proof/inclusion?position=P&size=N.
func (a *api) getInclusionProof(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pos, ok := a.sizeParam(w, r, "position", q.Get("position"))
	if !ok {
		return
	}
	n, ok := a.sizeParam(w, r, "size", q.Get("size"))
	if !ok {
		return
	}
	leaf, p, err := a.tlog.InclusionProof(ledger.Position(pos), n)
	if err != nil {
		a.tlogProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inclusionResponse{Position: ledger.Position(pos), Size: n, LeafHash: leaf, Proof: p})
}

// getConsistencyProof answers GET /v1/proof/consistency?from=M&to=N.
func (a *api) getConsistencyProof(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m, ok := a.sizeParam(w, r, "from", q.Get("from"))
	if !ok {
		return
	}
	n, ok := a.sizeParam(w, r, "to", q.Get("to"))
	if !ok {
		return
	}
	if m > n {
		a.problem(w, r, http.StatusBadRequest, "bad query", fmt.Sprintf("from %d is after to %d", m, n), map[string]any{"field": "from"})
		return
	}
	p, err := a.tlog.ConsistencyProof(m, n)
	if err != nil {
		a.tlogProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, consistencyResponse{From: m, To: n, Proof: p})
}

// getTile answers GET /v1/tile/{path...} in the tlog-tiles layout, within the latest
// signed tree.
func (a *api) getTile(w http.ResponseWriter, r *http.Request) {
	if a.tlog == nil {
		a.tlogProblem(w, r, nil)
		return
	}
	b, err := a.tlog.Tile(r.Context(), "tile/"+r.PathValue("path"))
	if err != nil {
		a.tlogProblem(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(b)
}

// getBundle answers GET /v1/contracts/{id}/bundle: the contract's proof bundle at the
// latest signed checkpoint.
func (a *api) getBundle(w http.ResponseWriter, r *http.Request) {
	if a.tlog == nil {
		a.tlogProblem(w, r, nil)
		return
	}
	b, err := a.tlog.Bundle(r.Context(), r.PathValue("id"))
	if err != nil {
		a.tlogProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}
