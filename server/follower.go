package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// followerGauges are a follower's gauges in /metrics (docs/operations.md, "Following a
// primary"), sampled at each scrape.
func followerGauges(f FollowerStatus) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "techledger_follow_primary_head", Help: "The primary's head when last asked."},
			func() float64 { p, _ := f.Heads(); return float64(p) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "techledger_follow_local_head", Help: "The head of the follower's copy."},
			func() float64 { _, l := f.Heads(); return float64(l) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "techledger_follow_lag_records", Help: "Records the copy is behind the primary."},
			func() float64 { return float64(f.Records()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "techledger_follow_last_contact_seconds", Help: "Seconds since the primary last answered (-1: never)."},
			func() float64 {
				if t := f.Checked(); !t.IsZero() {
					return time.Since(t).Seconds()
				}
				return -1
			}),
	}
}
