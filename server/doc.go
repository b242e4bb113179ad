// Package server is techledger's HTTP API: the routes of docs/architecture.md (HTTP API),
// bearer-token authentication on one role matrix, Prometheus metrics and one structured log
// line per request. It reads the log and the projections and hands commands to a command
// handler; it never chooses a backend (cmd/techledger wires one in through Config).
//
//	srv := server.New(server.Config{Store: s, Commands: commands.NewHandler(s), Projections: runner, Logger: logger, Tokens: tokens})
//	err := server.Serve(ctx, ln, srv.Handler(), logger, server.ShutdownGrace)
//
// Growing the server: a route of the API is one entry of Server.Routes (with the Capability
// it needs: the role matrix); other packages (the web console, reports, proofs) pass theirs in
// Config.Routes, and a page that shows or hides what a role may do asks Role.May. Every route
// is authenticated, counted and logged the same way.
package server
