package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"techledger/commands"
	"techledger/internal/sample"
	"techledger/ledger/jetstream"
	"techledger/projections"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var data storeFlag
	var addr, feed string
	var demo bool
	fs := flags("serve", "Serves the HTTP API: POST /v1/commands, GET /v1/contracts/{id}, GET /v1/contracts/{id}/history,\nGET /v1/events?from=N, GET /v1/verify, GET /healthz.", stderr, &data)
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&feed, "feed", "", "relay committed events to this NATS server (nats://host:port), subjects techledger.events.<type>")
	fs.BoolVar(&demo, "demo", false, "load the sample data (internal/sample, 2,000 contracts) first; without --data, into a fresh temporary store removed on exit")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	dataSet := false
	fs.Visit(func(f *flag.Flag) { dataSet = dataSet || f.Name == "data" || f.Name == "store" })
	logger := slog.New(slog.NewTextHandler(stderr, nil))
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
		if code := importInto(ctx, s, &buf, commands.Actor{Name: "demo", Role: "registrar"}, io.Discard, stderr); code != exitOK {
			fmt.Fprintln(stderr, "techledger: the sample data did not import cleanly")
			return code
		}
		head, _ := s.Head(ctx)
		logger.Info("sample data loaded", "events", head, "took", time.Since(start).Round(time.Millisecond))
	}
	proj := projections.NewRunner(s, projections.RunnerOptions{SnapshotDir: snapshotDir(data), Logger: logger})
	if err := proj.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "techledger: projections: %v\n", err)
		return exitFailure
	}
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
	a := &api{store: s, handler: commands.NewHandler(s), proj: proj, log: logger}
	srv := &http.Server{Addr: addr, Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "techledger: %v\n", err)
		return exitFailure
	}
	logger.Info("serving", "addr", "http://"+ln.Addr().String(), "store", data.String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "techledger: %v\n", err)
		return exitFailure
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "techledger: shutdown: %v\n", err)
	}
	logger.Info("stopped")
	return exitOK
}
