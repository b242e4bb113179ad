package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"techledger/internal/loadgen"
)

func init() {
	addVerb(verb{name: "bench", usage: "bench [--url URL] [--clients N] [--duration D | --commands N] [--token TOKEN] [--seed N] [--format table|json]",
		summary: "load the HTTP API with the sample command mix (without --url: a server in this process); report commands/s and latency",
		help: "Sends the sample command mix (registrations, rights, payments, amendments, revocations, in\n" +
			"a valid order: all commands of a contract, and all contracts of an achievement, go through\n" +
			"one client) to POST /v1/commands from concurrent keep-alive clients, and reports commands/s\n" +
			"and latency. Exits 1 if any command was rejected, failed or answered inconsistently.",
		flags: benchFlags})
}

func benchFlags(fs *pflag.FlagSet) action {
	var cfg loadgen.Config
	var format, cpuProfile string
	var seed uint64
	fs.StringVar(&cfg.URL, "url", "", "base URL of a running server; without it, bench starts a server in this process on a fresh temporary store")
	fs.IntVar(&cfg.Clients, "clients", 64, fmt.Sprintf("concurrent clients, 1..%d (each with its own share of the contracts)", loadgen.ClientsMax))
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send commands (ignored with --commands)")
	fs.IntVar(&cfg.Commands, "commands", 0, "send this many commands (retries not counted), then stop")
	fs.StringVar(&cfg.Token, "token", "", "send Authorization: Bearer TOKEN with every request")
	fs.Uint64Var(&seed, "seed", 1, "seed of the sample command stream (internal/sample); every run sends a prefix of the seed's stream, so against a store that has another seed's contracts registrations conflict")
	fs.Float64Var(&cfg.Resend, "resend", 0.01, "fraction of commands sent a second time after their answer, as a client retrying would (each must answer duplicate)")
	fs.StringVar(&format, "format", "table", "output format: table or json")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process (client and in-process server) to FILE")
	return func(ctx context.Context, c *call) int {
		stdout, stderr := c.stdout, c.stderr
		commandsSet := c.changed("commands")
		if commandsSet {
			cfg.Duration = 0
		}
		cfg.Seed = seed
		switch {
		case cfg.Clients < 1 || cfg.Clients > loadgen.ClientsMax,
			commandsSet && cfg.Commands < 1,
			!commandsSet && cfg.Duration <= 0,
			cfg.Resend < 0 || cfg.Resend > 1,
			format != "table" && format != "json":
			c.usage()
			return exitUsage
		}
		if cpuProfile != "" {
			f, err := os.Create(cpuProfile)
			if err != nil {
				fmt.Fprintf(stderr, "techledger: %v\n", err)
				return exitFailure
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				fmt.Fprintf(stderr, "techledger: cpu profile: %v\n", err)
				return exitFailure
			}
			defer pprof.StopCPUProfile()
		}
		if cfg.URL == "" {
			dir, err := os.MkdirTemp("", "techledger-bench-")
			if err != nil {
				fmt.Fprintf(stderr, "techledger: %v\n", err)
				return exitFailure
			}
			defer os.RemoveAll(dir)
			// The server outlives an interrupt until the run has let its commands finish.
			srv, err := startBenchServer(context.WithoutCancel(ctx), dir)
			if err != nil {
				fmt.Fprintf(stderr, "techledger: %v\n", err)
				return exitFailure
			}
			defer srv.stop()
			cfg.URL, cfg.InProcess = srv.url, true
		}
		rep, err := loadgen.Run(ctx, cfg)
		if err != nil {
			fmt.Fprintf(stderr, "techledger: bench: %v\n", err)
			return exitFailure
		}
		if format == "json" {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(rep); err != nil {
				return exitFailure
			}
		} else {
			rep.WriteTable(stdout)
		}
		if !rep.OK() {
			return exitRejected
		}
		return exitOK
	}
}

// benchServer is `techledger serve` running in this process.
type benchServer struct {
	url  string
	stop func() // shuts the server down and waits for it
	log  *syncBuffer
}

// serverStartMax bounds how long bench waits for its in-process server to answer.
const serverStartMax = 30 * time.Second

// startBenchServer runs `techledger serve --data dir` in this process on a free loopback
// port (the real verb, so the load meets exactly what serve does) and waits until it
// answers GET /healthz.
func startBenchServer(ctx context.Context, dir string) (*benchServer, error) {
	for attempt := 0; ; attempt++ {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		srvCtx, cancel := context.WithCancel(ctx)
		logs := &syncBuffer{}
		done := make(chan int, 1)
		go func() { done <- run(srvCtx, []string{"serve", "--data", dir, "--addr", addr}, io.Discard, logs) }()
		s := &benchServer{url: "http://" + addr, log: logs, stop: func() { cancel(); <-done }}
		err = waitHealthy(ctx, s.url, done)
		if err == nil {
			return s, nil
		}
		cancel()
		if attempt == 2 || ctx.Err() != nil {
			return nil, fmt.Errorf("in-process server: %w\n%s", err, logs.String())
		}
	}
}

// freeLoopbackAddr returns a loopback address with a port that was free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHealthy polls GET url/healthz until it answers 200, the server exits (done), or
// serverStartMax passes.
func waitHealthy(ctx context.Context, url string, done <-chan int) error {
	deadline := time.Now().Add(serverStartMax)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case code := <-done:
			return fmt.Errorf("serve exited with status %d", code)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer from %s/healthz within %s", url, serverStartMax)
		}
	}
}

// syncBuffer keeps the first syncBufferBytesMax bytes written to it; it is safe for
// concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// syncBufferBytesMax bounds the in-process server's log kept for an error message.
const syncBufferBytesMax = 64 << 10

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if room := syncBufferBytesMax - s.b.Len(); room > 0 {
		s.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
