package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"techledger/internal/replica"
	"techledger/ledger/filestore"
	"techledger/projections"
	"techledger/server"
)

func init() {
	addVerb(verb{name: "follow", usage: "follow --url PRIMARY [--token T] --data DIR [--addr ADDR] [--tokens FILE]", summary: "keep a read-only copy of a primary's log current, checking the hash chain; serve reads from it", nargs: 0, flags: followFlags,
		help: "Keeps a read-only copy of a primary's log current (until stopped), from its GET /v1/events,\nchecking the hash chain of every record it takes; stops, naming the position, at a record\nthat does not chain. With --addr it also serves reads from the copy (stats, rewards,\ncontracts, history, events, verify, /metrics with the lag). See docs/operations.md for\npromoting a follower after the primary is lost."})
}

func followFlags(fs *pflag.FlagSet) action {
	var data storeFlag
	var url, token, addr, tokensFile string
	var poll time.Duration
	var pf projFlag
	data.register(fs)
	fs.StringVar(&url, "url", "", "the primary server (http://host:port)")
	fs.StringVar(&token, "token", "", "bearer token for the primary (auditor or admin)")
	fs.StringVar(&addr, "addr", "", "serve reads from the copy on this address (none: only follow)")
	fs.StringVar(&tokensFile, "tokens", "", "JSON file of bearer tokens for --addr (as serve --tokens)")
	fs.DurationVar(&poll, "poll", replica.PollDefault, "how long to wait after catching up before asking the primary again")
	pf.register(fs)
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		if url == "" || data.fileDir() == "" || poll <= 0 {
			if url == "" {
				fmt.Fprintln(stderr, "techledger follow: url: the primary's URL is required")
			}
			c.usage()
			return exitUsage
		}
		return follow(ctx, data, pf, url, token, addr, tokensFile, poll, stdout, stderr)
	}
}

// follow runs the verb follow once its flags are checked.
func follow(ctx context.Context, data storeFlag, pf projFlag, url, token, addr, tokensFile string, poll time.Duration, stdout, stderr io.Writer) int {
	opts, err := pf.options()
	if err != nil {
		fmt.Fprintf(stderr, "techledger follow: %v\n", err)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	var tokens *server.Tokens
	if tokensFile != "" {
		if tokens, err = server.LoadTokens(tokensFile); err != nil {
			fmt.Fprintf(stderr, "techledger follow: %v\n", err)
			return exitUsage
		}
	}
	if addr != "" {
		if err := server.CheckListen(addr, tokens != nil); err != nil {
			fmt.Fprintf(stderr, "techledger follow: %v\n", err)
			return exitUsage
		}
	}
	s, err := filestore.Open(data.fileDir(), filestore.Options{Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "techledger follow: %v\n", err)
		return exitFailure
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lag replica.Lag
	followed := make(chan error, 1)
	primary := replica.Primary{URL: url, Token: token, Client: &http.Client{}}
	go func() {
		followed <- replica.Follow(ctx, primary, s, replica.FollowOptions{Poll: poll, Lag: &lag, OnError: func(err error) {
			logger.Warn("follow: the primary did not answer; retrying", "err", err)
		}})
		cancel()
	}()
	logger.Info("following", "primary", url, "data", data.String())
	if addr != "" {
		proj := projections.NewRunner(s, projections.RunnerOptions{Options: opts, SnapshotDir: pf.snapshotDir(data), Logger: logger})
		if err := proj.Start(ctx); err != nil {
			fmt.Fprintf(stderr, "techledger follow: projections: %v\n", err)
			return exitFailure
		}
		defer func() {
			if err := proj.Snapshot(); err != nil {
				logger.Warn("projections snapshot on exit failed", "err", err)
			}
		}()
		srv := server.New(server.Config{Store: s, Projections: proj, Logger: logger, Tokens: tokens, Follower: &lag})
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintf(stderr, "techledger follow: %v\n", err)
			return exitFailure
		}
		logger.Info("serving reads from the copy", "addr", "http://"+ln.Addr().String())
		if err := server.Serve(ctx, ln, srv.Handler(), logger, server.ShutdownGrace); err != nil {
			fmt.Fprintf(stderr, "techledger follow: %v\n", err)
			return exitFailure
		}
	}
	err = <-followed
	var re *replica.RefusedError
	switch {
	case errors.As(err, &re):
		fmt.Fprintf(stderr, "techledger follow: %v\n", err)
		head, _ := s.Head(context.Background())
		fmt.Fprintf(stderr, "techledger follow: stopped; the copy holds positions 1..%d, which chain\n", head)
		return exitRejected
	case err != nil && !errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "techledger follow: %v\n", err)
		return exitFailure
	}
	head, _ := s.Head(context.Background())
	fmt.Fprintf(stdout, "follow stopped at position %d\n", head)
	return exitOK
}
