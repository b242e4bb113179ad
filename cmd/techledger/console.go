package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"techledger/commands"
	"techledger/ledger"
	"techledger/projections"
	"techledger/server"
	"techledger/server/web"
)

// withConsole returns h with the web console (server/web, docs/console.md) mounted at "/":
// the API keeps /v1/, /healthz, /metrics and /openapi.json. The console posts through the
// API's own command handler, signs in with the same tokens and admits the same roles. Its
// search read model follows the log from a snapshot in snapDir ("" : replayed at start)
// once start is called, in the background (until it has caught up, the search page waits
// for it, then answers 503); snapshot writes that snapshot (call it on exit). figures (nil: none) are the
// projections and report cache of the API's report routes, for the statistics dashboard;
// proofs (nil: none) the transparency log, for the registration certificate page.
func withConsole(ctx context.Context, h http.Handler, s ledger.Store, handler *commands.Handler, figures *web.Figures, proofs *web.Proofs, tokens *server.Tokens, tls bool, snapDir string, logger *slog.Logger) (_ http.Handler, start, snapshot func(), err error) {
	search := projections.NewSearchRunner(s, projections.SearchRunnerOptions{SnapshotDir: snapDir, Logger: logger})
	cfg := web.Config{Log: s, Commands: handler, Search: search, Figures: figures, Proofs: proofs, TLS: tls, Logger: logger}
	if v, ok := s.(ledger.Verifier); ok {
		cfg.Verify = v.Verify
	}
	if tokens != nil {
		cfg.Authenticate = tokens.Lookup
	}
	console, err := web.New(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/v1/") || p == "/healthz" || p == "/metrics" || p == "/openapi.json" {
			h.ServeHTTP(w, r)
			return
		}
		console.ServeHTTP(w, r)
	})
	snapshot = func() {
		if err := search.Snapshot(); err != nil {
			logger.Warn("search snapshot on exit failed", "err", err)
		}
	}
	return mux, func() { search.StartBackground(ctx) }, snapshot, nil
}
