package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics counts what the server does, for GET /metrics: the server's own series and the
// Go runtime and process collectors operators expect. Each Server has a registry of its
// own, so that servers in one process (tests, bench) do not share counters.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec   // by route and status code
	latency  *prometheus.HistogramVec // request latency by route
	commands *prometheus.CounterVec   // by outcome: applied, duplicate, rejected, failed
	events   prometheus.Counter       // events appended by applied commands
	command  prometheus.Histogram     // latency of deciding and durably appending one command
}

// latencyBuckets are the histogram bounds in seconds.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// commandOutcomes are the outcomes a command is counted under, each shown from the start.
var commandOutcomes = []string{"applied", "duplicate", "rejected", "failed"}

// scrapeTimeout bounds reading the gauges of one scrape from the store.
const scrapeTimeout = 5 * time.Second

func newMetrics(s *Server) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "techledger_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "techledger_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: latencyBuckets,
		}, []string{"route"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "techledger_commands_total", Help: "Commands by outcome (applied, duplicate, rejected, failed).",
		}, []string{"outcome"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "techledger_appended_events_total", Help: "Events appended by commands posted to this server.",
		}),
		command: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "techledger_command_duration_seconds", Help: "Time to decide and durably append a command (applied or duplicate).", Buckets: latencyBuckets,
		}),
	}
	for _, o := range commandOutcomes {
		m.commands.WithLabelValues(o)
	}
	m.registry.MustRegister(m.requests, m.latency, m.commands, m.events, m.command,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&logGauges{s: s})
	if s.follower != nil {
		m.registry.MustRegister(followerGauges(s.follower)...)
	}
	return m
}

// handler serves the registry in the Prometheus exposition format the scraper asks for
// (the text format by default).
func (m *metrics) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)})
}

func (m *metrics) request(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// commandDone counts one command's outcome, the events it appended and, for applied
// and duplicate commands, its latency.
func (m *metrics) commandDone(outcome string, events int, d time.Duration) {
	m.commands.WithLabelValues(outcome).Inc()
	m.events.Add(float64(events))
	if outcome == "applied" || outcome == "duplicate" {
		m.command.Observe(d.Seconds())
	}
}

// logGauges samples the head of the log and the projections' position and lag at each
// scrape. When the store or the projections do not answer, the gauges are left out of
// that scrape rather than reported as zero.
type logGauges struct{ s *Server }

var (
	headDesc      = prometheus.NewDesc("techledger_ledger_head_position", "Position of the last durable event in the log.", nil, nil)
	projectedDesc = prometheus.NewDesc("techledger_projection_position", "Position the live projections have folded.", nil, nil)
	lagDesc       = prometheus.NewDesc("techledger_projection_lag_events", "Events the live projections are behind the head of the log.", nil, nil)
)

func (g *logGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- headDesc
	ch <- projectedDesc
	ch <- lagDesc
}

func (g *logGauges) Collect(ch chan<- prometheus.Metric) {
	if g.s.store == nil || g.s.proj == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	head, err := g.s.store.Head(ctx)
	if err != nil {
		g.s.log.Warn("metrics: head of the log", "err", err)
		return
	}
	lag, err := g.s.proj.Lag(ctx)
	if err != nil {
		g.s.log.Warn("metrics: projections lag", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(headDesc, prometheus.GaugeValue, float64(head))
	ch <- prometheus.MustNewConstMetric(projectedDesc, prometheus.GaugeValue, float64(g.s.proj.Position()))
	ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(lag))
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
