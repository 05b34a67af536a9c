package caddymodule

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/shopper"
)

// probeMetrics are the secret shopper's collectors. Runs, check failures
// and durations are counted by the instance that ran them, so a sum across
// the fleet counts each run once. frontdoor_probe_success (the app's
// probeSuccessCollector) is the latest run of each probe and backend the
// instance knows of, its own or, with Redis, the fleet's; it is read from
// the config's handlers, so a probe or a backend a reload removes
// disappears with it.
type probeMetrics struct {
	runs     *prometheus.CounterVec
	checks   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newProbeMetrics(ns string) probeMetrics {
	labels := []string{"journey", "backend", "owner", "vendor", "probe"}
	return probeMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "probe_runs_total",
			Help: "Secret shopper runs through each backend, by result: pass or fail.",
		}, append(labels, "result")),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "probe_check_failures_total",
			Help: "Checks secret shopper runs failed: status, body, forbid, customer, within, server_error, error_page, banner, vendor_header, cors.",
		}, append(labels, "check")),
		duration: prometheus.NewHistogramVec(nativeHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "probe_duration_seconds",
			Help:    "Time a secret shopper run took, all its steps included.",
			Buckets: config.LatencyBuckets,
		}), labels),
	}
}

func (p probeMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{p.runs, p.checks, p.duration}
}

// probeStats are one probe's series for one backend, resolved once.
type probeStats struct {
	pass, fail prometheus.Counter
	checks     map[string]prometheus.Counter
	duration   prometheus.Observer
}

// forProbe resolves the series of a probe against a backend. Every check
// starts at zero, so that the first failure shows in increase().
func (m *metrics) forProbe(journey string, b *config.Backend, probe string) *probeStats {
	l := []string{journey, b.Name, string(b.Owner), b.Vendor, probe}
	s := &probeStats{
		pass:     m.probes.runs.WithLabelValues(append(l[:5:5], shopper.ResultPass)...),
		fail:     m.probes.runs.WithLabelValues(append(l[:5:5], shopper.ResultFail)...),
		duration: m.probes.duration.WithLabelValues(l...),
		checks:   map[string]prometheus.Counter{},
	}
	for _, c := range shopper.Checks {
		s.checks[c] = m.probes.checks.WithLabelValues(append(l[:5:5], c)...)
	}
	return s
}

func (s *probeStats) observe(run *ProbeRun) {
	s.duration.Observe(run.Duration)
	if run.Result == shopper.ResultPass {
		s.pass.Inc()
		return
	}
	s.fail.Inc()
	seen := map[string]bool{}
	for _, f := range run.Failed {
		if !seen[f.Check] {
			seen[f.Check] = true
			s.checks[f.Check].Inc()
		}
	}
}

// probeSink counts the runs of a handler's shopper.
type probeSink struct {
	stats map[string]*probeStats // by probeKey
}

func probeKey(journey, probe, backend string) string {
	return journey + "\x00" + probe + "\x00" + backend
}

func (s *probeSink) Ran(t *shopper.Target, run *shopper.Run) {
	if st := s.stats[probeKey(t.Journey(), t.Probe(), t.Backend().Name)]; st != nil {
		st.observe(run)
	}
}

// probeSuccessCollector exports frontdoor_probe_success from the latest
// runs of its config's handlers.
type probeSuccessCollector struct {
	app *App
}

var probeSuccessDesc = prometheus.NewDesc("frontdoor_probe_success",
	"1 if the latest secret shopper run through the backend passed every check, 0 if it failed.",
	[]string{"journey", "backend", "owner", "vendor", "probe"}, nil)

func (c *probeSuccessCollector) Describe(ch chan<- *prometheus.Desc) { ch <- probeSuccessDesc }

func (c *probeSuccessCollector) Collect(ch chan<- prometheus.Metric) {
	seen := map[[5]string]bool{}
	for _, h := range c.app.Handlers() {
		if h.shopper == nil {
			continue
		}
		for _, t := range h.shopper.Targets() {
			run := t.Last()
			b := t.Backend()
			labels := [5]string{t.Journey(), b.Name, string(b.Owner), b.Vendor, t.Probe()}
			if run == nil || seen[labels] {
				continue
			}
			seen[labels] = true
			v := 0.0
			if run.Result == shopper.ResultPass {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(probeSuccessDesc, prometheus.GaugeValue, v, labels[:]...)
		}
	}
}
