package server

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
// auditors (Audit), or anyone with Config.PublicProofs (Open); bundles carry records'
// content and need ReadContracts. Without Config.Transparency they answer 404.

// InclusionResponse answers GET /v1/proof/inclusion (clients decode it too).
type InclusionResponse struct {
	Position ledger.Position  `json:"position"`
	Size     int64            `json:"size"`
	LeafHash tlog.Hash        `json:"leaf_hash"`
	Proof    tlog.RecordProof `json:"proof"`
}

// ConsistencyResponse answers GET /v1/proof/consistency (clients decode it too).
type ConsistencyResponse struct {
	From  int64          `json:"from"`
	To    int64          `json:"to"`
	Proof tlog.TreeProof `json:"proof"`
}

// transparencyRoutes are the routes of the transparency log (Config.Transparency).
func (s *Server) transparencyRoutes() []Route {
	proofs := Audit
	if s.publicProofs {
		proofs = Open
	}
	return []Route{
		{"GET /v1/checkpoint", proofs, s.getCheckpoint},
		{"GET /v1/checkpoints/{size}", proofs, s.getCheckpointAt},
		{"GET /v1/proof/inclusion", proofs, s.getInclusionProof},
		{"GET /v1/proof/consistency", proofs, s.getConsistencyProof},
		{"GET /v1/tile/{path...}", proofs, s.getTile},
		{"GET /v1/contracts/{id}/bundle", ReadContracts, s.getBundle},
	}
}

// tlogProblem answers an error of the transparency log.
func (s *Server) tlogProblem(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case s.tlog == nil:
		s.problem(w, r, http.StatusNotFound, "no transparency log", "this server keeps no transparency log (serve --signing-key)", nil)
	case errors.Is(err, transparency.ErrNoCheckpoint):
		s.problem(w, r, http.StatusNotFound, "no checkpoint yet", "the log has signed no checkpoint yet", nil)
	case errors.Is(err, transparency.ErrNotSigned):
		s.problem(w, r, http.StatusNotFound, "size not signed", err.Error()+": proofs are built against signed checkpoint sizes only (GET /v1/checkpoint)", nil)
	case errors.Is(err, transparency.ErrOutOfRange):
		s.problem(w, r, http.StatusBadRequest, "out of range", err.Error(), nil)
	case errors.Is(err, transparency.ErrNotFound):
		s.problem(w, r, http.StatusNotFound, "contract not in the signed log", err.Error(), nil)
	default:
		s.log.Error("transparency", "err", err, "path", r.URL.Path)
		s.problem(w, r, http.StatusInternalServerError, "internal error", "see the server log", nil)
	}
}

func writeNote(w http.ResponseWriter, msg []byte) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(msg)
}

// getCheckpoint answers GET /v1/checkpoint: the latest signed checkpoint (a signed note).
func (s *Server) getCheckpoint(w http.ResponseWriter, r *http.Request) {
	if s.tlog == nil {
		s.tlogProblem(w, r, nil)
		return
	}
	_, msg, err := s.tlog.Latest()
	if err != nil {
		s.tlogProblem(w, r, err)
		return
	}
	writeNote(w, msg)
}

// getCheckpointAt answers GET /v1/checkpoints/{size}: the checkpoint signed at that size.
func (s *Server) getCheckpointAt(w http.ResponseWriter, r *http.Request) {
	n, ok := s.sizeParam(w, r, "size", r.PathValue("size"))
	if !ok {
		return
	}
	msg, err := s.tlog.CheckpointAt(n)
	if err != nil {
		s.tlogProblem(w, r, err)
		return
	}
	writeNote(w, msg)
}

// sizeParam parses a tree size or position parameter (>= 1); false when it answered.
func (s *Server) sizeParam(w http.ResponseWriter, r *http.Request, name, text string) (int64, bool) {
	if s.tlog == nil {
		s.tlogProblem(w, r, nil)
		return 0, false
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 1 {
		s.problem(w, r, http.StatusBadRequest, "bad query", fmt.Sprintf("%s: %q is not a positive integer", name, text), map[string]any{"field": name})
		return 0, false
	}
	return n, true
}

// getInclusionProof answers GET /v1/proof/inclusion?position=P&size=N.
func (s *Server) getInclusionProof(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pos, ok := s.sizeParam(w, r, "position", q.Get("position"))
	if !ok {
		return
	}
	n, ok := s.sizeParam(w, r, "size", q.Get("size"))
	if !ok {
		return
	}
	leaf, p, err := s.tlog.InclusionProof(ledger.Position(pos), n)
	if err != nil {
		s.tlogProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, InclusionResponse{Position: ledger.Position(pos), Size: n, LeafHash: leaf, Proof: p})
}

// getConsistencyProof answers GET /v1/proof/consistency?from=M&to=N.
func (s *Server) getConsistencyProof(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m, ok := s.sizeParam(w, r, "from", q.Get("from"))
	if !ok {
		return
	}
	n, ok := s.sizeParam(w, r, "to", q.Get("to"))
	if !ok {
		return
	}
	if m > n {
		s.problem(w, r, http.StatusBadRequest, "bad query", fmt.Sprintf("from %d is after to %d", m, n), map[string]any{"field": "from"})
		return
	}
	p, err := s.tlog.ConsistencyProof(m, n)
	if err != nil {
		s.tlogProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ConsistencyResponse{From: m, To: n, Proof: p})
}

// getTile answers GET /v1/tile/{path...} in the tlog-tiles layout, within the latest
// signed tree.
func (s *Server) getTile(w http.ResponseWriter, r *http.Request) {
	if s.tlog == nil {
		s.tlogProblem(w, r, nil)
		return
	}
	b, err := s.tlog.Tile(r.Context(), "tile/"+r.PathValue("path"))
	if err != nil {
		s.tlogProblem(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(b)
}

// getBundle answers GET /v1/contracts/{id}/bundle: the contract's proof bundle at the
// latest signed checkpoint.
func (s *Server) getBundle(w http.ResponseWriter, r *http.Request) {
	if s.tlog == nil {
		s.tlogProblem(w, r, nil)
		return
	}
	b, err := s.tlog.Bundle(r.Context(), r.PathValue("id"))
	if err != nil {
		s.tlogProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}
