package caddymodule

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/session"
)

// metrics are frontdoor's collectors. They are built once per process and
// registered in the registry of every config Caddy loads, so counters keep
// counting across reloads and several frontdoor handlers share them.
type metrics struct {
	requests             *prometheus.CounterVec
	duration             *prometheus.HistogramVec
	upstreamErrors       *prometheus.CounterVec
	routing              *prometheus.CounterVec
	contextLookups       *prometheus.CounterVec
	contextDuration      prometheus.Histogram
	contextErrors        *prometheus.CounterVec
	contacts             *prometheus.CounterVec
	repeatContacts       *prometheus.CounterVec
	streams              *prometheus.CounterVec
	streamDuration       *prometheus.HistogramVec
	bannerInjections     *prometheus.CounterVec
	errorPages           *prometheus.CounterVec
	offsiteRedirects     *prometheus.CounterVec
	vendorCookiesDropped *prometheus.CounterVec
	trailWrites          *prometheus.CounterVec
	probes               probeMetrics

	// lookupResults holds contextLookups resolved for each result, so a
	// request's lookup does no label hashing.
	lookupResults map[session.Result]prometheus.Counter
}

var (
	buildMetricsOnce sync.Once
	sharedMetrics    *metrics
)

func buildMetrics() *metrics {
	m := newCollectors()
	m.lookupResults = map[session.Result]prometheus.Counter{}
	for _, result := range []session.Result{session.ResultHit, session.ResultMiss, session.ResultCached, session.ResultError, session.ResultNoCookie} {
		m.lookupResults[result] = m.contextLookups.WithLabelValues(string(result))
	}
	return m
}

func newCollectors() *metrics {
	const ns = "frontdoor"
	backendLabels := []string{"journey", "backend", "owner", "vendor"}
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "requests_total",
			Help: "Requests sent to each backend, by outcome: the status the customer got; 502 (or 504) for an answer the backend cut off (or stalled) mid-body, 499 when the customer left first.",
		}, append(backendLabels, "code")),
		duration: prometheus.NewHistogramVec(nativeHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "request_duration_seconds",
			Help:    "Time each backend took to answer, body included; WebSocket chats and event streams are timed in frontdoor_stream_duration_seconds instead.",
			Buckets: config.LatencyBuckets,
		}), backendLabels),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "upstream_errors_total",
			Help: "Backend failures: dial (refused or no upstream available), timeout (no first byte, or no progress sending the request or reading the answer), status_5xx, aborted (the backend cut its answer off).",
		}, append(backendLabels, "kind")),
		routing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "routing_decisions_total",
			Help: "Why each backend was chosen: first, hours, closed, failover, override or rescue.",
		}, []string{"journey", "backend", "reason"}),
		contextLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "context_lookups_total",
			Help: "Customer-context lookups by result: hit, miss, cached, error, no_cookie.",
		}, []string{"result"}),
		contextDuration: prometheus.NewHistogram(nativeHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "context_lookup_duration_seconds",
			Help:    "Time of the customer-context lookups not answered locally (results hit, miss and error): the session store's round trip, a wait on another lookup's, or a refusal while Redis is backed off. Lookups served from the cache or made without a cookie are counted in frontdoor_context_lookups_total only.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		})),
		bannerInjections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "banner_injections_total",
			Help: "Brand banners on HTML pages: injected before </body>, appended, or skipped.",
		}, []string{"journey", "backend", "result"}),
		contacts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "contacts_total",
			Help: "Known customers' contacts (the journey's contact requests) each backend took.",
		}, backendLabels),
		repeatContacts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "repeat_contacts_total",
			Help: "Contacts that came back within the journey's repeat window, counted against the backend that handled the previous contact.",
		}, backendLabels),
		streams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "streams_total",
			Help: "WebSocket connections and event streams through each backend, by who ended them: client, backend or gateway.",
		}, append(backendLabels, "closed_by")),
		streamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "stream_duration_seconds",
			Help:    "How long WebSocket connections and event streams through each backend lasted.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
		}, backendLabels),
		contextErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "context_lookup_errors_total",
			Help: "Why context lookups counted as errors failed: timeout, breaker_open (Redis just failed and is left alone for a moment), canceled (the customer's request ended first), wrong_type or redis.",
		}, []string{"reason"}),
		trailWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "trail_entries_total",
			Help: "Backend notes for the customer trail: queued, dropped (queue full) or no_customer (no customer id known).",
		}, []string{"result"}),
		errorPages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "error_pages_total",
			Help: "Brand error pages shown to customers instead of a backend's answer.",
		}, []string{"journey", "backend", "code"}),
		offsiteRedirects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "offsite_redirects_total",
			Help: "Backend redirects (Location, Refresh) to a host other than the brand's: allowed (passed on) or not (replaced by a brand error page under allow_redirect).",
		}, append(backendLabels, "allowed")),
		vendorCookiesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "vendor_cookies_dropped_total",
			Help: "Cookies a vendor set that its jar did not keep: invalid (no name a browser and the jar both keep), count or bytes (over the jar's budget), path (set on a path the browser does not send the jar on).",
		}, []string{"journey", "backend", "reason"}),
		probes: newProbeMetrics(ns),
	}
}

// nativeHistogram adds native buckets to a histogram's classic ones: a
// Prometheus that scrapes them gets exact quantiles at any threshold, one
// that does not still has the classic buckets. One hour between resets
// bounds the number of buckets a long-lived series grows to.
func nativeHistogram(opts prometheus.HistogramOpts) prometheus.HistogramOpts {
	opts.NativeHistogramBucketFactor = 1.1
	opts.NativeHistogramMaxBucketNumber = 160
	opts.NativeHistogramMinResetDuration = time.Hour
	return opts
}

func (m *metrics) collectors() []prometheus.Collector {
	return append([]prometheus.Collector{m.requests, m.duration, m.upstreamErrors, m.routing,
		m.contextLookups, m.contextDuration, m.contextErrors, m.contacts, m.repeatContacts, m.streams, m.streamDuration,
		m.bannerInjections, m.errorPages, m.offsiteRedirects, m.vendorCookiesDropped, m.trailWrites},
		m.probes.collectors()...)
}

// registerMetrics registers the shared collectors in the registry of the
// config being provisioned. A collector already registered there (a second
// frontdoor handler in the same config) is not an error.
func registerMetrics(ctx caddy.Context) (*metrics, error) {
	buildMetricsOnce.Do(func() { sharedMetrics = buildMetrics() })
	registry := ctx.GetMetricsRegistry()
	if registry == nil {
		return sharedMetrics, nil
	}
	for _, c := range sharedMetrics.collectors() {
		if err := registry.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return nil, fmt.Errorf("frontdoor: registering metrics: %w", err)
			}
		}
	}
	return sharedMetrics, nil
}

// backendStats holds a backend's series, resolved once at provision so the
// hot path does no label hashing.
type backendStats struct {
	// counted is false for the stats of a secret shopper's visit, which
	// count in no customer metric: the visit's stats have only labels.
	counted bool
	// cookieDrops counts a vendor's cookies its jar did not keep, by
	// reason; nil for in-house backends, which have no jar.
	cookieDrops map[string]prometheus.Counter
	labels      [4]string // journey, backend, owner, vendor
	requests    *prometheus.CounterVec
	byCode      [600]atomic.Pointer[prometheus.Counter]
	duration    prometheus.Observer
	dial        prometheus.Counter
	timeout     prometheus.Counter
	status5x    prometheus.Counter
	aborted     prometheus.Counter
	reasons     map[string]prometheus.Counter
	banners     map[string]prometheus.Counter // by result: injected, appended, skipped
	offsite     [2]prometheus.Counter         // offsite redirects refused, allowed
}

func (m *metrics) forBackend(journey string, b *config.Backend) *backendStats {
	s := &backendStats{counted: true, labels: [4]string{journey, b.Name, string(b.Owner), b.Vendor}, requests: m.requests}
	l := s.labels[:]
	s.duration = m.duration.WithLabelValues(l...)
	if b.Owner == config.Outsourced {
		s.cookieDrops = map[string]prometheus.Counter{}
		for _, reason := range dropReasons {
			s.cookieDrops[reason] = m.vendorCookiesDropped.WithLabelValues(journey, b.Name, reason)
		}
	}
	s.dial = m.upstreamErrors.WithLabelValues(append(l[:4:4], errDial)...)
	s.timeout = m.upstreamErrors.WithLabelValues(append(l[:4:4], errTimeout)...)
	s.status5x = m.upstreamErrors.WithLabelValues(append(l[:4:4], errStatus5xx)...)
	s.aborted = m.upstreamErrors.WithLabelValues(append(l[:4:4], errAborted)...)
	s.reasons = map[string]prometheus.Counter{}
	for _, r := range []string{reasonFirst, reasonHours, reasonClosed, reasonFailover, reasonOverride, reasonRescue} {
		s.reasons[r] = m.routing.WithLabelValues(journey, b.Name, r)
	}
	// Series that start rare are exported at zero from the start, so that
	// increase() sees their first event.
	m.contacts.WithLabelValues(l...)
	m.repeatContacts.WithLabelValues(l...)
	for _, by := range []string{closedByClient, closedByBackend, closedByGateway} {
		m.streams.WithLabelValues(append(l[:4:4], by)...)
	}
	s.banners = map[string]prometheus.Counter{}
	for _, r := range []string{"injected", "appended", "skipped"} {
		s.banners[r] = m.bannerInjections.WithLabelValues(journey, b.Name, r)
	}
	s.offsite[0] = m.offsiteRedirects.WithLabelValues(append(l[:4:4], "false")...)
	s.offsite[1] = m.offsiteRedirects.WithLabelValues(append(l[:4:4], "true")...)
	return s
}

// uncounted returns the stats of a secret shopper's visit to the backend.
func (s *backendStats) uncounted() *backendStats {
	return &backendStats{labels: s.labels}
}

// cookieDropped counts a vendor cookie the backend's jar did not keep.
func (s *backendStats) cookieDropped(reason string) {
	if s == nil || !s.counted {
		return
	}
	if c, ok := s.cookieDrops[reason]; ok {
		c.Inc()
	}
}

// offsiteRedirect counts a redirect to a host other than the brand's.
func (s *backendStats) offsiteRedirect(allowed bool) {
	if !s.counted {
		return
	}
	if allowed {
		s.offsite[1].Inc()
	} else {
		s.offsite[0].Inc()
	}
}

func (s *backendStats) upstreamError(kind string) {
	if !s.counted {
		return
	}
	switch kind {
	case errDial:
		s.dial.Inc()
	case errTimeout:
		s.timeout.Inc()
	case errStatus5xx:
		s.status5x.Inc()
	case errAborted:
		s.aborted.Inc()
	}
}

// collectors are the collectors of the config's own state, registered in
// its registry by Provision.
func (a *App) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		&sloCollector{app: a},
		&probeSuccessCollector{app: a},
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "frontdoor", Name: "context_values_dropped_total",
			Help: "Customer-context values refused (control characters, invalid UTF-8, over 1 KiB) instead of being forwarded. Resets when a config reload replaces the store.",
		}, a.droppedContextValues),
	}
}

// droppedContextValues sums what the config's context stores refused.
func (a *App) droppedContextValues() float64 {
	var total uint64
	for _, h := range a.Handlers() {
		if h.store != nil {
			total += h.store.DroppedValues()
		}
	}
	return float64(total)
}

func (m *metrics) routed(b *backendRoute, reason string) {
	if !b.stats.counted {
		return
	}
	b.stats.reasons[reason].Inc()
}

// sloCollector exports frontdoor_backend_slo_objective from the handlers
// of its config, so a reload that removes a backend or changes its
// contract shows at once, and two handlers never clobber each other.
type sloCollector struct {
	app *App
}

var sloObjectiveDesc = prometheus.NewDesc("frontdoor_backend_slo_objective",
	"Each backend's contractual objective: availability (fraction of non-5xx requests), latency (fraction of requests faster than threshold seconds) or orphans (most orphans per contact).",
	[]string{"journey", "backend", "owner", "vendor", "slo", "threshold"}, nil)

func (c *sloCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sloObjectiveDesc }

func (c *sloCollector) Collect(ch chan<- prometheus.Metric) {
	seen := map[[6]string]bool{}
	emit := func(v float64, labels [6]string) {
		if seen[labels] {
			return // two handlers of the config (a site on two servers) have it
		}
		seen[labels] = true
		ch <- prometheus.MustNewConstMetric(sloObjectiveDesc, prometheus.GaugeValue, v, labels[:]...)
	}
	for _, h := range c.app.Handlers() {
		for _, j := range h.Journeys {
			for _, b := range j.Backends {
				if b.SLO == nil {
					continue
				}
				if b.SLO.Availability > 0 {
					emit(b.SLO.Availability, [6]string{j.Name, b.Name, string(b.Owner), b.Vendor, "availability", ""})
				}
				if b.SLO.LatencyTarget > 0 {
					emit(b.SLO.LatencyTarget, [6]string{j.Name, b.Name, string(b.Owner), b.Vendor, "latency", config.SLOThresholdLabel(b.SLO.LatencyThreshold)})
				}
				if b.SLO.OrphanRate > 0 {
					emit(b.SLO.OrphanRate, [6]string{j.Name, b.Name, string(b.Owner), b.Vendor, "orphans", ""})
				}
			}
		}
	}
}
