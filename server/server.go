package server

import (
	"context"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"techledger/commands"
	"techledger/ledger"
	"techledger/projections"
	"techledger/reports"
	"techledger/transparency"
)

// Store is the part of a ledger the server reads. Appends go through the command handler.
// A store that also implements ledger.Verifier verifies itself for GET /v1/verify.
type Store interface {
	// Head returns the position of the last durable record (0 for an empty log).
	Head(ctx context.Context) (ledger.Position, error)
	// ReadStream yields the records of one stream from version from, in order.
	ReadStream(ctx context.Context, stream string, from ledger.Version) iter.Seq2[ledger.Record, error]
	// ReadAll yields every record from position from, in order.
	ReadAll(ctx context.Context, from ledger.Position) iter.Seq2[ledger.Record, error]
}

// CommandHandler decides and durably appends one command given as JSON
// (commands.Handler). A rejection is a *commands.Error; any other error is internal.
type CommandHandler interface {
	HandleJSON(ctx context.Context, body []byte, who commands.Actor) (commands.Outcome, error)
}

// Projections are the live read models the statistics and rewards routes answer from
// (projections.Runner).
type Projections interface {
	// Read calls fn with the state at the position folded so far, under a read lock.
	Read(fn func(*projections.State) error) error
	// Position is the last position folded.
	Position() ledger.Position
	// Lag is how many records the projections are behind the head of the log.
	Lag(ctx context.Context) (uint64, error)
	// AsOf folds a new State up to pos.
	AsOf(ctx context.Context, pos ledger.Position) (*projections.State, error)
	// AsOfTime folds a new State of the records recorded up to t.
	AsOfTime(ctx context.Context, t time.Time) (*projections.State, error)
}

// Config is what a Server is made of. Store, Commands and Projections are needed by the
// routes that use them; a route whose part is nil must not be called (tests build partial
// servers).
type Config struct {
	Store       Store
	Commands    CommandHandler
	Projections Projections
	// Logger receives one line per request and the details of internal errors; nil
	// discards them.
	Logger *slog.Logger
	// Tokens are the bearer tokens and their roles. Nil: no authentication, every request
	// acts as Local (serve then listens on loopback only: see CheckListen).
	Tokens *Tokens
	// Follower is set when the server serves a follower's copy of another ledger
	// (techledger follow): POST /v1/commands then answers 405, and /metrics reports how far
	// the copy is behind.
	Follower FollowerStatus
	// Transparency is the transparency log the checkpoint, proof, tile and bundle routes
	// answer from (server/transparency.go); nil: they answer 404. PublicProofs opens its
	// checkpoints, proofs and tiles to anyone.
	Transparency *transparency.Log
	PublicProofs bool
	// Reports keeps the report documents at the projections' position (reports.go); the
	// web console's dashboard shares it, so that a page and the JSON of one position are
	// one computation. Nil: the server keeps its own.
	Reports *reports.Cache
	// Routes are further routes (the web console, reports, proofs), served beside the API's
	// own with the same authentication, metrics and request log. A pattern may not repeat
	// one of the API's.
	Routes []Route
}

// FollowerStatus says how far a follower's copy is behind its primary (replica.Lag).
type FollowerStatus interface {
	// Heads returns the primary's head as last seen and the copy's.
	Heads() (primary, local ledger.Position)
	// Records returns how many records the copy is behind.
	Records() uint64
	// Checked returns when the primary last answered (zero: never).
	Checked() time.Time
}

// Route is one route: an http.ServeMux pattern ("GET /v1/verify"), the capability a caller
// needs (the role matrix: see Role.May) and the handler. Handlers find the caller with
// PrincipalOf.
type Route struct {
	Pattern string
	Access  Capability
	Handler http.HandlerFunc
}

// Server serves the HTTP API. Its handler is safe for concurrent requests.
type Server struct {
	store       Store
	handler     CommandHandler
	proj        Projections
	log         *slog.Logger
	tokens      *Tokens
	follower    FollowerStatus
	extra       []Route
	metrics     *metrics
	metricsHTTP http.Handler
	rootHTTP    http.Handler
	// storageFull is set while commands are refused for want of space (api.go).
	storageFull atomic.Bool
	// tlog and publicProofs: Config.Transparency and Config.PublicProofs.
	tlog         *transparency.Log
	publicProofs bool
	reports      *reports.Cache // the report documents at the projections' position (reports.go)
}

// New returns a server over cfg.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{store: cfg.Store, handler: cfg.Commands, proj: cfg.Projections, log: log, tokens: cfg.Tokens, follower: cfg.Follower, extra: cfg.Routes,
		tlog: cfg.Transparency, publicProofs: cfg.PublicProofs, reports: cfg.Reports}
	if s.reports == nil {
		s.reports = &reports.Cache{}
	}
	s.metrics = newMetrics(s)
	s.metricsHTTP = s.metrics.handler(log)
	s.rootHTTP = s.observe(s.unmatched(s.mux()))
	return s
}

// Handler returns the whole server: every route, authenticated, counted, timed and logged;
// problem details for paths no route takes.
func (s *Server) Handler() http.Handler { return s.rootHTTP }

// Routes lists the API's own routes; the OpenAPI document and the role tests follow it.
// Routes given in Config.Routes come after them.
func (s *Server) Routes() []Route {
	return append([]Route{
		{"POST /v1/commands", Submit, s.postCommand},
		{"GET /v1/contracts/{id}", ReadContracts, s.getContract},
		{"GET /v1/contracts/{id}/history", ReadContracts, s.getHistory},
		{"GET /v1/stats/contracts", ReadFigures, s.getStats},
		{"GET /v1/rewards/researchers", ReadFigures, s.getRewards},
		{"GET /v1/rewards/flags", ReadFigures, s.getFlags},
		{"GET /v1/events", Audit, s.getEvents},
		{"GET /v1/verify", Audit, s.getVerify},
		{"GET /metrics", Audit, s.getMetrics},
		{"GET /healthz", Open, s.getHealth},
		{"GET /openapi.json", Open, s.getOpenAPI},
	}, append(append(s.reportRoutes(), s.transparencyRoutes()...), s.extra...)...)
}

// mux returns the routes, each behind its capability, without the request logging and
// counting of Handler.
func (s *Server) mux() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range s.Routes() {
		h := rt.Handler
		if rt.Access != Open {
			h = s.allow(h, rt.Access)
		}
		mux.HandleFunc(rt.Pattern, h)
	}
	return mux
}

// unmatched answers requests no route takes with problem details rather than the mux's
// plain text: 405 with Allow when the path exists for other methods, else 404.
func (s *Server) unmatched(mux *http.ServeMux) http.Handler {
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
			s.problem(w, r, http.StatusMethodNotAllowed, "method not allowed", fmt.Sprintf("%s takes %s", r.URL.Path, strings.Join(allow, ", ")), nil)
			return
		}
		s.problem(w, r, http.StatusNotFound, "not found", "no such route; see GET /openapi.json", nil)
	})
}

// getHealth answers GET /healthz, open to anyone: 200 with the head of the log when the
// store answers, else 503.
func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) {
	head, err := s.store.Head(r.Context())
	if err != nil {
		s.log.Error("health check", "err", err)
		s.problem(w, r, http.StatusServiceUnavailable, "store unavailable", "the store does not answer; see the server log", nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "head": head})
}

// getMetrics answers GET /metrics in the Prometheus exposition format: the server's
// counters and histograms, the head of the log and the projections' lag sampled now, and
// the Go runtime and process collectors.
func (s *Server) getMetrics(w http.ResponseWriter, r *http.Request) {
	s.metricsHTTP.ServeHTTP(w, r)
}
