package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"techledger/commands"
	"techledger/internal/sample"
	"techledger/ledger/jetstream"
	"techledger/projections"
	"techledger/reports"
	"techledger/server"
	"techledger/server/web"
)

func init() {
	addVerb(verb{name: "serve", usage: "serve [--data DIR] [--addr ADDR] [--tokens FILE] [--demo]", summary: "serve the HTTP API (with --demo: a fresh store loaded with the sample data)", nargs: 0, flags: serveFlags,
		help: "Serves the HTTP API (server/openapi.json, also at GET /openapi.json; docs/architecture.md, HTTP API): POST /v1/commands,\nGET /v1/contracts/{id}[/history], /v1/stats/contracts, /v1/rewards/researchers, /v1/rewards/flags,\n/v1/events, /v1/verify, /metrics, /healthz. With --tokens, requests need a bearer token whose role\nadmits the route; without, serve listens on loopback only and every request acts as admin \"local\".\nSIGTERM or SIGINT stops accepting, finishes the requests in flight and exits 0."})
}

func serveFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var addr, feed, tokensFile, logFormat, logLevel, tlsCert, tlsKey string
	var demo bool
	data.register(fs)
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&tokensFile, "tokens", "", "JSON file of bearer tokens: [{\"token\": \"...\", \"role\": \"registrar|auditor|statistician|admin\", \"name\": \"...\"}]")
	fs.StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain); needs --tls-key")
	fs.StringVar(&tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&logLevel, "log-level", "info", "least level logged: debug, info (one line per request), warn or error")
	var pf projFlag
	pf.register(fs)
	var tf tlogFlag
	tf.register(fs, true)
	fs.StringVar(&feed, "feed", "", "relay committed events to this NATS server (nats://host:port), subjects techledger.events.<type>")
	fs.BoolVar(&demo, "demo", false, "load the sample data (internal/sample, 2,000 contracts) first; without --data, into a fresh temporary store removed on exit")
	return func(ctx context.Context, c *call) int {
		stderr := c.stderr
		dataSet := c.changed("data") || c.changed("store")
		logger, err := newLogger(stderr, logFormat, logLevel)
		if err != nil {
			fmt.Fprintf(stderr, "techledger serve: %v\n", err)
			return exitUsage
		}
		var tokens *server.Tokens
		if tokensFile != "" {
			if tokens, err = server.LoadTokens(tokensFile); err != nil {
				fmt.Fprintf(stderr, "techledger serve: %v\n", err)
				return exitUsage
			}
		}
		opts, err := pf.options()
		if err != nil {
			fmt.Fprintf(stderr, "techledger serve: %v\n", err)
			return exitUsage
		}
		if err := server.CheckListen(addr, tokens != nil); err != nil {
			fmt.Fprintf(stderr, "techledger serve: %v\n", err)
			return exitUsage
		}
		tlsConfig, err := loadTLS(tlsCert, tlsKey)
		if err != nil {
			fmt.Fprintf(stderr, "techledger serve: %v\n", err)
			return exitUsage
		}
		if demo && !dataSet {
			dir, err := os.MkdirTemp("", "techledger-demo-")
			if err != nil {
				fmt.Fprintf(stderr, "techledger: %v\n", err)
				return exitFailure
			}
			defer os.RemoveAll(dir)
			data = storeFlag{dir: dir}
		}
		s, code := openStore(ctx, data, stderr)
		if s == nil {
			return code
		}
		defer s.Close()
		head, err := s.Head(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			return exitFailure
		}
		if demo && head != 0 {
			logger.Info("the store is not empty: the sample data is not loaded", "head", head)
		}
		if demo && head == 0 {
			var buf bytes.Buffer
			if _, err := sample.Write(&buf, sample.DefaultConfig); err != nil {
				fmt.Fprintf(stderr, "techledger: generate sample: %v\n", err)
				return exitFailure
			}
			start := time.Now()
			logger.Info("loading sample data", "store", data.String())
			// In the file's order: every demo holds the same events at the same positions.
			loader := commands.HandlerApplier{Handler: commands.NewHandler(s), Who: commands.Actor{Name: "demo", Role: "registrar"}}
			if code := importInto(ctx, loader, &buf, int64(buf.Len()), commands.ImportOptions{FileOrder: true}, "table", io.Discard, stderr); code != exitOK {
				fmt.Fprintln(stderr, "techledger: the sample data did not import cleanly")
				return code
			}
			head, _ := s.Head(ctx)
			logger.Info("sample data loaded", "events", head, "took", time.Since(start).Round(time.Millisecond))
		}
		// The projections load behind the listener (started below, once everything the
		// first command needs is ready): commands do not need them, and reads that do wait
		// for them, or answer 503 (docs/operations.md, restart at scale).
		proj := projections.NewRunner(s, projections.RunnerOptions{Options: opts, SnapshotDir: pf.snapshotDir(data), Logger: logger})
		defer func() {
			if err := proj.Snapshot(); err != nil {
				logger.Warn("projections snapshot on exit failed", "err", err)
			}
		}()
		if feed != "" {
			nc, err := nats.Connect(feed, nats.Name("techledger-feed"), nats.MaxReconnects(-1))
			if err != nil {
				fmt.Fprintf(stderr, "techledger: feed: %v\n", err)
				return exitFailure
			}
			defer nc.Close()
			f := &jetstream.Feed{Store: s, Conn: nc}
			go func() {
				if err := f.Run(ctx); err != nil && ctx.Err() == nil {
					logger.Error("feed stopped", "err", err)
				}
			}()
			logger.Info("relaying committed events", "feed", feed, "subjects", f.Subject("<type>"))
		}
		cmdHandler := commands.NewHandler(s) // the API's and the console's: one handler, one index of command_ids
		mapped, err := warmHandler(ctx, cmdHandler, pf.snapshotDir(data), logger)
		if err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			return exitFailure
		}
		if dir := pf.snapshotDir(data); dir != "" {
			defer keepCommandIndex(ctx, cmdHandler, dir, mapped, logger)()
		}
		figures := &web.Figures{Projections: proj, Reports: &reports.Cache{}} // one cache: the API's report routes and the console's dashboard
		cfg := server.Config{Store: s, Commands: cmdHandler, Projections: proj, Logger: logger, Tokens: tokens, PublicProofs: tf.public, Reports: figures.Reports}
		var proofs *web.Proofs // the console's certificate page, with a transparency log
		if tf.signingKey != "" {
			l, vkey, err := tf.openSigning(ctx, s, data, logger)
			if err != nil {
				fmt.Fprintf(stderr, "techledger: transparency log: %v\n", err)
				return exitFailure
			}
			defer l.Close()
			runCtx, stopLog := context.WithCancel(ctx)
			logDone := make(chan struct{})
			defer func() { stopLog(); <-logDone }()
			go func() {
				defer close(logDone)
				if err := l.Run(runCtx); err != nil {
					logger.Error("transparency log stopped", "err", err)
				}
			}()
			cfg.Transparency = l
			proofs = &web.Proofs{Log: l, VerifierKey: vkey}
			logger.Info("transparency log", "records", l.Size(), "verifier_key", vkey, "public_proofs", tf.public)
		}
		srv := server.New(cfg)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			return exitFailure
		}
		scheme := "http"
		if tlsConfig != nil {
			ln, scheme = tls.NewListener(ln, tlsConfig), "https"
		}
		switch {
		case tokens == nil:
			logger.Warn("no --tokens: listening on loopback only; every request acts as admin \"local\"")
		case tlsConfig == nil && server.CheckListen(addr, false) != nil:
			logger.Warn("bearer tokens travel in clear text: give --tls-cert and --tls-key, or put a TLS proxy in front", "tokens", tokens.Len())
		default:
			logger.Info("bearer tokens required", "tokens", tokens.Len())
		}
		handler, startSearch, snapshotSearch, err := withConsole(ctx, srv.Handler(), s, cmdHandler, figures, proofs, tokens, tlsConfig != nil, pf.snapshotDir(data), logger)
		if err != nil {
			fmt.Fprintf(stderr, "techledger: console: %v\n", err)
			return exitFailure
		}
		defer snapshotSearch()
		proj.StartBackground(ctx)
		startSearch()
		logger.Info("serving", "addr", scheme+"://"+ln.Addr().String(), "console", scheme+"://"+ln.Addr().String()+"/", "store", data.String())
		if err := server.Serve(ctx, ln, handler, logger, server.ShutdownGrace); err != nil {
			fmt.Fprintf(stderr, "techledger: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
}

// loadTLS returns the TLS configuration of --tls-cert and --tls-key (nil without them).
func loadTLS(cert, key string) (*tls.Config, error) {
	switch {
	case cert == "" && key == "":
		return nil, nil
	case cert == "" || key == "":
		return nil, errors.New("tls-cert, tls-key: give both or neither")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("tls-cert, tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// newLogger returns the server's structured logger.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log-level: want debug, info, warn or error, got %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log-format: want text or json, got %q", format)
}
