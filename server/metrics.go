package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// metrics counts what the server does, for GET /metrics in the Prometheus text format
// (version 0.0.4). It is written by hand: a handful of counters and histograms do not
// justify the Prometheus client library and its dependencies.
type metrics struct {
	mu       sync.Mutex
	requests map[requestKey]uint64 // by route and status
	latency  map[string]*histogram // request latency by route
	commands map[string]uint64     // by outcome: applied, duplicate, rejected, failed
	events   uint64                // events appended by applied commands
	command  histogram             // latency of deciding and durably appending one command
}

type requestKey struct {
	route string
	code  int
}

func newMetrics() *metrics {
	return &metrics{requests: map[requestKey]uint64{}, latency: map[string]*histogram{}, commands: map[string]uint64{}}
}

// latencyBuckets are the histogram bounds in seconds.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// histogram is a cumulative Prometheus histogram.
type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func (h *histogram) observe(d time.Duration) {
	if h.counts == nil {
		h.counts = make([]uint64, len(latencyBuckets)+1)
	}
	s := d.Seconds()
	i, _ := slices.BinarySearch(latencyBuckets, s)
	h.counts[i]++
	h.sum += s
	h.n++
}

func (h *histogram) write(w io.Writer, name, labels string) {
	sep := ""
	if labels != "" {
		sep = ","
	}
	var cum uint64
	for i, b := range latencyBuckets {
		if h.counts != nil {
			cum += h.counts[i]
		}
		fmt.Fprintf(w, "%s_bucket{%s%sle=\"%g\"} %d\n", name, labels, sep, b, cum)
	}
	fmt.Fprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, h.n)
	if labels != "" {
		labels = "{" + labels + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %g\n%s_count%s %d\n", name, labels, h.sum, name, labels, h.n)
}

func (m *metrics) request(route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{route, code}]++
	h := m.latency[route]
	if h == nil {
		h = &histogram{}
		m.latency[route] = h
	}
	h.observe(d)
}

// commandDone counts one command's outcome, the events it appended and, for applied
// and duplicate commands, its latency.
func (m *metrics) commandDone(outcome string, events int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.commands[outcome]++
	m.events += uint64(events)
	if outcome == "applied" || outcome == "duplicate" {
		m.command.observe(d)
	}
}

// gauges are sampled when /metrics is scraped.
type gauges struct {
	head, projected, lag uint64
	ok                   bool
}

func (m *metrics) write(w io.Writer, g gauges) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP techledger_http_requests_total HTTP requests by route and status code.")
	fmt.Fprintln(w, "# TYPE techledger_http_requests_total counter")
	keys := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b requestKey) int {
		if c := strings.Compare(a.route, b.route); c != 0 {
			return c
		}
		return a.code - b.code
	})
	for _, k := range keys {
		fmt.Fprintf(w, "techledger_http_requests_total{route=%q,code=\"%d\"} %d\n", k.route, k.code, m.requests[k])
	}
	fmt.Fprintln(w, "# HELP techledger_http_request_duration_seconds HTTP request latency by route.")
	fmt.Fprintln(w, "# TYPE techledger_http_request_duration_seconds histogram")
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		m.latency[r].write(w, "techledger_http_request_duration_seconds", fmt.Sprintf("route=%q", r))
	}
	fmt.Fprintln(w, "# HELP techledger_commands_total Commands by outcome (applied, duplicate, rejected, failed).")
	fmt.Fprintln(w, "# TYPE techledger_commands_total counter")
	for _, o := range []string{"applied", "duplicate", "rejected", "failed"} {
		fmt.Fprintf(w, "techledger_commands_total{outcome=%q} %d\n", o, m.commands[o])
	}
	fmt.Fprintln(w, "# HELP techledger_appended_events_total Events appended by commands posted to this server.")
	fmt.Fprintln(w, "# TYPE techledger_appended_events_total counter")
	fmt.Fprintf(w, "techledger_appended_events_total %d\n", m.events)
	fmt.Fprintln(w, "# HELP techledger_command_duration_seconds Time to decide and durably append a command (applied or duplicate).")
	fmt.Fprintln(w, "# TYPE techledger_command_duration_seconds histogram")
	m.command.write(w, "techledger_command_duration_seconds", "")
	if !g.ok {
		return
	}
	fmt.Fprintln(w, "# HELP techledger_ledger_head_position Position of the last durable event in the log.")
	fmt.Fprintln(w, "# TYPE techledger_ledger_head_position gauge")
	fmt.Fprintf(w, "techledger_ledger_head_position %d\n", g.head)
	fmt.Fprintln(w, "# HELP techledger_projection_position Position the live projections have folded.")
	fmt.Fprintln(w, "# TYPE techledger_projection_position gauge")
	fmt.Fprintf(w, "techledger_projection_position %d\n", g.projected)
	fmt.Fprintln(w, "# HELP techledger_projection_lag_events Events the live projections are behind the head of the log.")
	fmt.Fprintln(w, "# TYPE techledger_projection_lag_events gauge")
	fmt.Fprintf(w, "techledger_projection_lag_events %d\n", g.lag)
}

// statusWriter remembers the status and size of a response, and who asked.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	who    Principal
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe wraps the API: it counts and times every request by route (the mux pattern,
// so that IDs in paths do not make new series) and writes one structured log line per
// request.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.metrics.request(route, sw.status, d)
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes), slog.Duration("took", d),
			slog.String("actor", sw.who.Name), slog.String("role", string(sw.who.Role)),
			slog.String("remote", r.RemoteAddr), slog.String("request_id", r.Header.Get("X-Request-ID")))
	})
}
