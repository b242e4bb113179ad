// Package loadgen is the load generator behind `techledger bench`: it sends the sample
// command stream (internal/sample) to POST /v1/commands from concurrent keep-alive clients,
// each owning its contracts (all commands of a contract, and all contracts of an
// achievement, go through one client, in stream order), and reports commands/s, latency and
// every answer that was not what a correct server gives.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"techledger/commands"
	"techledger/internal/sample"
)

// Limits and defaults of a run.
const (
	// ClientsMax bounds Config.Clients.
	ClientsMax = 4096
	// queueMax is how many commands wait for each client. The dispatcher blocks on a
	// full queue, so a slow client holds up the others only after this many.
	queueMax = 256
	// streamContracts is the size of the sample stream every run sends a prefix of: about 30
	// million commands, so one seed always gives the same stream whatever the run's length
	// (a second run against the same store answers duplicate) and a run at 10,000 commands/s
	// has commands for most of an hour. The stream is generated as it is sent, in bounded
	// memory, and its prefixes have a realistic mix (a third registrations, nearly half
	// payments).
	streamContracts = sample.ContractsMax
	// problemsMax bounds the rejections quoted in a report.
	problemsMax = 10
	// requestTimeout bounds one request: a command not answered by then counts as failed.
	requestTimeout = 30 * time.Second
)

// processCPU returns the CPU time (user and system) this process has used so far, or 0 if
// it cannot be read. (Getrusage is Unix-only, as is the filestore's lock.)
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Config is what one run does.
type Config struct {
	URL      string        // base URL of the server
	Clients  int           // concurrent clients
	Duration time.Duration // stop sending after this long; 0: run until Commands are sent
	Commands int           // stop after this many commands (resends not counted); 0: no limit
	Token    string        // bearer token, if any
	Seed     uint64        // sample.Config.Seed
	Resend   float64       // fraction of commands sent twice

	InProcess bool // the server runs in this process (for the report)
	// OnAnswer, if set, is called (from the clients' goroutines, concurrently) with every
	// command sent and its answer: the HTTP status (0 if there was none) and the positions
	// of a 2xx answer.
	OnAnswer func(line []byte, resend bool, status int, positions []uint64)
}

// Report is the outcome of a run. Every command sent is counted once in
// Applied, Duplicates, Rejected or Failed.
type Report struct {
	URL       string  `json:"url"`
	InProcess bool    `json:"in_process"` // the server ran in the bench process, on a fresh temporary store
	Clients   int     `json:"clients"`
	Seed      uint64  `json:"seed"`
	Seconds   float64 `json:"seconds"` // from the first request to the last answer
	// Exhausted is true if a --duration run ran out of generated commands before the time
	// was up.
	Exhausted bool `json:"exhausted,omitempty"`
	// Interrupted is true if the run was stopped early (SIGINT, SIGTERM): the commands in
	// flight were let finish and nothing new was sent.
	Interrupted bool `json:"interrupted,omitempty"`

	Sent       int            `json:"sent"`       // requests, resends included
	Resent     int            `json:"resent"`     // of Sent: second sends of a command
	Mix        map[string]int `json:"mix"`        // first sends by command name
	Applied    int            `json:"applied"`    // 201 applied
	Duplicates int            `json:"duplicates"` // 200 duplicate
	Rejected   int            `json:"rejected"`   // any other status
	Failed     int            `json:"failed"`     // no answer (transport error, timeout)
	Statuses   map[string]int `json:"statuses"`   // of the rejected: "409": 3
	Mismatched int            `json:"mismatched"` // duplicate answers to a resend whose positions differ from the first answer
	Problems   []string       `json:"problems"`   // the first few rejections and failures, quoted
	PerSecond  float64        `json:"per_second"` // Sent / Seconds
	LatencyMs  Latency        `json:"latency_ms"` // of every answered request
	// ByCommand is the latency of the answered requests of each command name (a right's
	// assignment by right: assign_rights/use), which shows where a slow tail comes from.
	ByCommand  map[string]Latency `json:"by_command"`
	Head       uint64             `json:"head"`       // the server's head position afterwards (GET /healthz)
	Events     int                `json:"events"`     // positions in applied answers: events appended by this run
	Unexpected int                `json:"unexpected"` // Rejected + Failed + Mismatched; non-zero means exit 1
	Errors     []string           `json:"errors"`     // other problems, e.g. the head could not be read
	Generated  int                `json:"generated"`  // lines taken from the stream (when the time is up, some are left unsent in the queues)
	Contracts  int                `json:"contracts"`  // contracts in the generated stream's config
	Mode       string             `json:"mode"`       // "duration 10s" or "commands 1000"
	GoMaxProcs int                `json:"gomaxprocs"` // of the bench process
	// CPUSeconds is the CPU time the bench process used during the run: the clients' and,
	// with an in-process server, the server's. On a shared machine it tells how much of the
	// machine the run had.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// Latency holds latency percentiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func (r *Report) OK() bool { return r.Unexpected == 0 && len(r.Errors) == 0 }

// command is one command to send: the raw line and its name.
type command struct {
	line []byte
	name string
	kind string // name, and for assign_rights the right: "assign_rights/use"
	seq  int    // 1-based position in the stream; decides deterministically whether it is resent
}

// bench runs the load against cfg.URL and returns the report. It returns an error only if
// the run could not be made at all (no server, or the stream could not be generated);
// rejections are in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	tr := &http.Transport{
		Proxy:               nil, // loopback: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Clients,
		MaxIdleConnsPerHost: cfg.Clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: requestTimeout}
	head, err := ServerHead(ctx, client, cfg)
	if err != nil {
		return nil, err
	}

	contracts := streamContracts
	mode := fmt.Sprintf("commands %d", cfg.Commands)
	if cfg.Duration > 0 {
		mode = "duration " + cfg.Duration.String()
	}
	rep := &Report{
		URL: cfg.URL, InProcess: cfg.InProcess, Clients: cfg.Clients, Seed: cfg.Seed,
		Mix: map[string]int{}, Statuses: map[string]int{}, Problems: []string{}, Errors: []string{},
		Contracts: contracts, Mode: mode, GoMaxProcs: runtime.GOMAXPROCS(0),
	}

	// The stream is generated as it is sent: a generator goroutine writes NDJSON into a pipe
	// and the dispatcher hands each line to the client that owns its contract.
	// Requests are not cancelled by ctx: an interrupt stops the run as the end of its time
	// does, letting the commands in flight finish (within requestTimeout).
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	pr, pw := io.Pipe()
	genDone := make(chan error, 1)
	go func() {
		_, err := sample.Write(pw, sample.Config{Seed: cfg.Seed, Contracts: contracts})
		pw.CloseWithError(err)
		genDone <- err
	}()
	defer func() {
		pr.CloseWithError(errors.New("bench: stopped reading"))
		<-genDone
	}()

	queues := make([]chan command, cfg.Clients)
	for i := range queues {
		queues[i] = make(chan command, queueMax)
	}
	// stop is closed when the duration is up or ctx is done: nothing new is sent.
	stopCtx, stopNow := context.WithCancel(ctx)
	defer stopNow()
	stop := stopCtx.Done()
	dispatchErr := make(chan error, 1)
	ready := make(chan struct{})
	var generated int
	var exhausted bool
	go func() {
		defer func() {
			for _, q := range queues {
				close(q)
			}
		}()
		n, ex, err := dispatch(runCtx, pr, queues, cfg.Commands, stop, func() { close(ready) })
		generated, exhausted = n, ex
		dispatchErr <- err
	}()

	results := make([]clientResult, cfg.Clients)
	var wg sync.WaitGroup
	<-ready
	start, cpu0 := time.Now(), processCPU()
	if cfg.Duration > 0 {
		timer := time.AfterFunc(cfg.Duration, stopNow)
		defer timer.Stop()
	}
	for i := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runClient(runCtx, client, cfg, queues[i], stop)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	rep.CPUSeconds = (processCPU() - cpu0).Seconds()
	if err := <-dispatchErr; err != nil {
		return nil, err
	}
	rep.Generated, rep.Exhausted = generated, exhausted && cfg.Duration > 0
	rep.Interrupted = ctx.Err() != nil

	var lat []time.Duration
	byCommand := map[string][]time.Duration{}
	for _, r := range results {
		rep.Sent += r.sent
		rep.Resent += r.resent
		rep.Applied += r.applied
		rep.Duplicates += r.duplicates
		rep.Rejected += r.rejected
		rep.Failed += r.failed
		rep.Mismatched += r.mismatched
		rep.Events += r.events
		for k, v := range r.statuses {
			rep.Statuses[strconv.Itoa(k)] += v
		}
		for k, v := range r.mix {
			rep.Mix[k] += v
		}
		for _, p := range r.problems {
			if len(rep.Problems) < problemsMax {
				rep.Problems = append(rep.Problems, p)
			}
		}
		for k, v := range r.latencies {
			lat = append(lat, v...)
			byCommand[k] = append(byCommand[k], v...)
		}
	}
	rep.Unexpected = rep.Rejected + rep.Failed + rep.Mismatched
	rep.Seconds = elapsed.Seconds()
	if rep.Seconds > 0 {
		rep.PerSecond = float64(rep.Sent) / rep.Seconds
	}
	rep.LatencyMs = percentiles(lat)
	rep.ByCommand = map[string]Latency{}
	for k, v := range byCommand {
		rep.ByCommand[k] = percentiles(v)
	}
	if rep.Interrupted {
		return rep, nil
	}
	if after, err := ServerHead(ctx, client, cfg); err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	} else {
		rep.Head = after
		if cfg.InProcess && after != head+uint64(rep.Events) {
			// A fresh store holds exactly what this run appended.
			rep.Errors = append(rep.Errors, fmt.Sprintf("the store's head is %d, but the applied answers name %d positions", after, rep.Events))
		}
	}
	return rep, nil
}

// dispatch reads the NDJSON stream and sends each line to the queue of the client that owns
// it (see commands.Partition), until max lines (0: no limit), the end of the stream, stop, or
// the end of ctx. It calls ready once, when the queues hold a quarter of their room, or one
// is full, or it returns: the clients start, and the clock with them, after the generator
// has set up and got ahead. It returns the lines dispatched and whether the stream ended.
func dispatch(ctx context.Context, r io.Reader, queues []chan command, max int, stop <-chan struct{}, ready func()) (int, bool, error) {
	var once sync.Once
	defer once.Do(ready)
	prefill := len(queues) * queueMax / 4
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), commands.CommandBytesMax+1)
	part := commands.NewPartition(len(queues), nil)
	n := 0
	for sc.Scan() {
		if closed(stop) || ctx.Err() != nil {
			return n, false, nil
		}
		line := bytes.Clone(sc.Bytes())
		h, err := commands.HeadOf(line)
		if err != nil {
			return n, false, fmt.Errorf("sample line %d: %w", n+1, err)
		}
		client, _ := part.Lane(h) // a sample registers each contract first: nothing to wait for
		n++
		c := command{line: line, name: h.Command, kind: h.Command, seq: n}
		if h.Right != "" {
			c.kind += "/" + h.Right
		}
		select {
		case queues[client] <- c:
		default:
			once.Do(ready) // the queue is full: the clients must start
			select {
			case queues[client] <- c:
			case <-stop:
				return n - 1, false, nil
			case <-ctx.Done():
				return n - 1, false, nil
			}
		}
		if n == prefill {
			once.Do(ready)
		}
		if n == max {
			return n, false, nil
		}
	}
	if err := sc.Err(); err != nil {
		return n, false, fmt.Errorf("generate sample: %w", err)
	}
	return n, true, nil
}

// clientResult is what one client saw.
type clientResult struct {
	sent, resent, applied, duplicates, rejected, failed, mismatched, events int
	statuses                                                                map[int]int
	mix                                                                     map[string]int
	problems                                                                []string
	latencies                                                               map[string][]time.Duration // by command.kind
}

// runClient sends the commands of its queue one at a time, in order, until the queue
// is closed or stop is; a command chosen for a resend is sent again at once after its
// answer, and must answer duplicate with the same positions.
func runClient(ctx context.Context, client *http.Client, cfg Config, queue <-chan command, stop <-chan struct{}) clientResult {
	res := clientResult{statuses: map[int]int{}, mix: map[string]int{}, latencies: map[string][]time.Duration{}}
	var buf bytes.Buffer
	p := newPoster(cfg.URL, cfg.Token, client)
	defer p.close()
	send := func(c command, resend bool) (int, []uint64) {
		res.sent++
		if resend {
			res.resent++
		}
		t0 := time.Now()
		status, positions, problem := postCommand(ctx, p, c.line, &buf)
		if status != 0 {
			res.latencies[c.kind] = append(res.latencies[c.kind], time.Since(t0))
		}
		switch {
		case problem == "" && status == http.StatusCreated:
			res.applied++
			res.events += len(positions)
		case problem == "" && status == http.StatusOK:
			res.duplicates++
		case status == 0:
			res.failed++
		default:
			res.rejected++
			res.statuses[status]++
		}
		if problem != "" && len(res.problems) < problemsMax {
			res.problems = append(res.problems, fmt.Sprintf("%s (stream line %d): %s", c.name, c.seq, problem))
		}
		if cfg.OnAnswer != nil {
			cfg.OnAnswer(c.line, resend, status, positions)
		}
		if problem != "" {
			return 0, nil
		}
		return status, positions
	}
	for {
		var c command
		var ok bool
		select {
		case c, ok = <-queue:
		case <-stop:
		case <-ctx.Done():
		}
		if !ok || closed(stop) || ctx.Err() != nil {
			return res
		}
		res.mix[c.name]++
		status, first := send(c, false)
		if (status == http.StatusCreated || status == http.StatusOK) && resendChosen(cfg.Seed, c.seq, cfg.Resend) {
			status, again := send(c, true)
			if status == http.StatusCreated || (status == http.StatusOK && !slices.Equal(first, again)) {
				res.mismatched++
				if len(res.problems) < problemsMax {
					res.problems = append(res.problems, fmt.Sprintf("%s (stream line %d): resent, answered %d with positions %v; first answer %v", c.name, c.seq, status, again, first))
				}
			}
		}
	}
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// resendChosen decides, from the seed and the command's place in the stream alone, whether
// a command is sent twice, so that a run is reproducible.
func resendChosen(seed uint64, seq int, fraction float64) bool {
	if fraction <= 0 {
		return false
	}
	// splitmix64 of (seed, seq): a well-mixed 64-bit value.
	z := seed*0x9e3779b97f4a7c15 + uint64(seq)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11)/(1<<53) < fraction
}

// postCommand posts one command and reads the whole answer (so the connection is
// reused). It returns the status (0: no answer), the positions of an applied or duplicate
// answer, and for anything else a one-line description of what went wrong.
func postCommand(ctx context.Context, p poster, line []byte, buf *bytes.Buffer) (int, []uint64, string) {
	status, err := p.post(ctx, line, buf)
	if err != nil {
		return 0, nil, err.Error()
	}
	var out struct {
		Status    string   `json:"status"`
		Positions []uint64 `json:"positions"`
		Detail    string   `json:"detail"`
	}
	_ = json.Unmarshal(buf.Bytes(), &out)
	switch {
	case status == http.StatusCreated && out.Status == commands.StatusApplied && len(out.Positions) > 0,
		status == http.StatusOK && out.Status == commands.StatusDuplicate && len(out.Positions) > 0:
		return status, out.Positions, ""
	case status == http.StatusCreated || status == http.StatusOK:
		// A success that does not say what it did is not one: rejected.
		return status, nil, fmt.Sprintf("%d with an unexpected body: %s", status, Clip(buf.Bytes()))
	case out.Detail != "":
		return status, nil, fmt.Sprintf("%d %s", status, out.Detail)
	}
	return status, nil, fmt.Sprintf("%d %s", status, Clip(buf.Bytes()))
}

// Clip returns an answer's body as one trimmed string of at most 200 bytes, for a message.
func Clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// benchHead reads the server's head position from GET /healthz, which also checks that the
// server is there before the run.
func ServerHead(ctx context.Context, client *http.Client, cfg Config) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.URL+"/healthz", nil)
	if err != nil {
		return 0, err
	}
	if cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("server: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Head uint64 `json:"head"`
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("server: GET /healthz answered %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("server: GET /healthz: %w", err)
	}
	return out.Head, nil
}

// percentiles returns the p50, p90, p99 and maximum of lat (nearest rank), sorting it.
func percentiles(lat []time.Duration) Latency {
	if len(lat) == 0 {
		return Latency{}
	}
	slices.Sort(lat)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		return lat[max(i, 0)]
	}
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return Latency{P50: ms(rank(0.50)), P90: ms(rank(0.90)), P99: ms(rank(0.99)), Max: ms(lat[len(lat)-1])}
}

// writeTable prints the report for a person.
func (r *Report) WriteTable(w io.Writer) {
	where := r.URL
	if r.InProcess {
		where += " (server in this process, fresh temporary filestore)"
	}
	fmt.Fprintf(w, "techledger bench: %s, %d clients, seed %d, %s\n", r.Mode, r.Clients, r.Seed, where)
	if r.Exhausted {
		fmt.Fprintf(w, "note: the generated stream (%d contracts) ran out before the time was up\n", r.Contracts)
	}
	if r.Interrupted {
		fmt.Fprintln(w, "note: interrupted; the commands in flight were let finish")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "commands sent\t%d\t(%d of them resends)\n", r.Sent, r.Resent)
	fmt.Fprintf(tw, "  applied\t%d\t(%d events)\n", r.Applied, r.Events)
	fmt.Fprintf(tw, "  duplicates\t%d\t\n", r.Duplicates)
	fmt.Fprintf(tw, "  rejected\t%d\t%s\n", r.Rejected, statusCounts(r.Statuses))
	fmt.Fprintf(tw, "  failed (no answer)\t%d\t\n", r.Failed)
	if r.Mismatched > 0 {
		fmt.Fprintf(tw, "  resends answered inconsistently\t%d\t\n", r.Mismatched)
	}
	fmt.Fprintf(tw, "time\t%.2f s\t\n", r.Seconds)
	fmt.Fprintf(tw, "commands/s\t%.0f\t\n", r.PerSecond)
	fmt.Fprintf(tw, "latency\tp50 %.2f ms\tp90 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.LatencyMs.P50, r.LatencyMs.P90, r.LatencyMs.P99, r.LatencyMs.Max)
	kinds := make([]string, 0, len(r.ByCommand))
	for k := range r.ByCommand {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		l := r.ByCommand[k]
		fmt.Fprintf(tw, "  %s\tp50 %.2f ms\tp90 %.2f ms  p99 %.2f ms  max %.2f ms\n", k, l.P50, l.P90, l.P99, l.Max)
	}
	if !r.Interrupted {
		fmt.Fprintf(tw, "server head\t%d\t\n", r.Head)
	}
	if r.CPUSeconds > 0 && r.Seconds > 0 {
		whose := "the clients"
		if r.InProcess {
			whose = "clients and server"
		}
		fmt.Fprintf(tw, "bench process CPU\t%.1f s\t(%.2f of %d cores, %s; %.0f µs a command)\n", r.CPUSeconds, r.CPUSeconds/r.Seconds, r.GoMaxProcs, whose, 1e6*r.CPUSeconds/float64(max(r.Sent, 1)))
	}
	tw.Flush()
	names := make([]string, 0, len(r.Mix))
	for k := range r.Mix {
		names = append(names, k)
	}
	slices.Sort(names)
	var mix []string
	for _, k := range names {
		mix = append(mix, fmt.Sprintf("%s %d", k, r.Mix[k]))
	}
	fmt.Fprintf(w, "mix: %s\n", strings.Join(mix, ", "))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "rejected: %s\n", p)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
}

// statusCounts formats {"409": 3, "422": 1} as "409×3 422×1".
func statusCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
