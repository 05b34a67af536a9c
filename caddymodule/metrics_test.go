package caddymodule

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/session"
)

// testMetrics returns the process's shared collectors without a registry.
func testMetrics() *metrics {
	buildMetricsOnce.Do(func() { sharedMetrics = buildMetrics() })
	return sharedMetrics
}

func strconvFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// value reads a counter's current value. (client_golang's testutil would
// need a module this one does not require.)
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// seriesCount is the number of series of the named metric a registry exposes.
func seriesCount(t *testing.T, g prometheus.Gatherer, name string) int {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

// Caddy builds a registry per config; frontdoor registers the same
// collectors in each, so a reload keeps counting and a second handler in
// one config is no error.
func TestRegisterMetricsAcrossConfigs(t *testing.T) {
	ctxA := testContext(t)
	ctxB := testContext(t)

	m1, err := registerMetrics(ctxA)
	if err != nil {
		t.Fatalf("first registration: %v", err)
	}
	m2, err := registerMetrics(ctxA)
	if err != nil {
		t.Fatalf("second handler in the same config: %v", err)
	}
	m3, err := registerMetrics(ctxB)
	if err != nil {
		t.Fatalf("registration in the next config's registry: %v", err)
	}
	if m1 != m2 || m2 != m3 {
		t.Fatal("each registration built its own collectors: counters would restart on reload")
	}

	m1.contextLookup(session.ResultHit, time.Now().Add(-time.Millisecond))
	before := value(t, m1.contextLookups.WithLabelValues("hit"))
	m3.contextLookup(session.ResultHit, time.Now().Add(-time.Millisecond))
	for name, ctx := range map[string]caddy.Context{"old config": ctxA, "new config": ctxB} {
		families, err := ctx.GetMetricsRegistry().Gather()
		if err != nil {
			t.Fatalf("%s: gather: %v", name, err)
		}
		var got float64
		for _, f := range families {
			if f.GetName() != "frontdoor_context_lookups_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				if m.GetLabel()[0].GetValue() == "hit" {
					got = m.GetCounter().GetValue()
				}
			}
		}
		if got != before+1 {
			t.Errorf("%s registry: hit count %v, want %v", name, got, before+1)
		}
	}

	// A context without a registry (as in caddy adapt) is no error either.
	if m, err := registerMetrics(caddy.Context{Context: context.Background()}); err != nil || m != m1 {
		t.Errorf("without a registry: %v, %v", m, err)
	}
}

func TestMetricsLintClean(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	for _, c := range testMetrics().collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatalf("registering: %v", err)
		}
	}
	// Give every vector a series so the linter sees it.
	m := testMetrics()
	b := m.forBackend("lint", &config.Backend{Name: "lint", Owner: config.InHouse})
	b.observe(200, time.Millisecond, notStream)
	m.contextLookup(session.ResultHit, time.Now().Add(-time.Millisecond))
	m.errorPage("lint", "lint", 503)
	b.banner("injected")
	m.vendorCookiesDropped.WithLabelValues("lint", "lint", dropCount).Inc()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func sloHandler(journey, backend, vendor string, slo *config.SLO) *Handler {
	owner := config.InHouse
	if vendor != "" {
		owner = config.Outsourced
	}
	return &Handler{Journeys: []*config.Journey{{Name: journey, Backends: []*config.Backend{
		{Name: backend, Owner: owner, Vendor: vendor, SLO: slo},
		{Name: backend + "-no-slo", Owner: config.InHouse},
	}}}}
}

func TestSLOCollector(t *testing.T) {
	app := new(App)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&sloCollector{app: app})
	const name = "frontdoor_backend_slo_objective"
	series := func() []string {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		var out []string
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
			for _, m := range f.GetMetric() {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				out = append(out, strings.Join(labels, ",")+" "+strconvFloat(m.GetGauge().GetValue()))
			}
		}
		slices.Sort(out)
		return out
	}

	night := sloHandler("support", "nightdesk", "NightDesk BPO", &config.SLO{
		Availability: 0.995, LatencyTarget: 0.95, LatencyThreshold: config.Duration(800 * time.Millisecond)})
	shop := sloHandler("tracking", "shipco", "ShipCo", &config.SLO{Availability: 0.99, OrphanRate: 0.02})

	if got := series(); len(got) != 0 {
		t.Fatalf("before any handler: %q", got)
	}
	app.add(night)
	app.add(shop)
	want := []string{
		"backend=nightdesk,journey=support,owner=outsourced,slo=availability,threshold=,vendor=NightDesk BPO 0.995",
		"backend=nightdesk,journey=support,owner=outsourced,slo=latency,threshold=0.8,vendor=NightDesk BPO 0.95",
		"backend=shipco,journey=tracking,owner=outsourced,slo=availability,threshold=,vendor=ShipCo 0.99",
		"backend=shipco,journey=tracking,owner=outsourced,slo=orphans,threshold=,vendor=ShipCo 0.02",
	}
	if got := series(); !slices.Equal(got, want) {
		t.Errorf("objectives:\n got %q\nwant %q", got, want)
	}

	// A site on two servers has a handler in each: a backend is exported
	// once (the pedantic registry fails a gather with duplicate series).
	second := sloHandler("support", "nightdesk", "NightDesk BPO", &config.SLO{
		Availability: 0.995, LatencyTarget: 0.95, LatencyThreshold: config.Duration(800 * time.Millisecond)})
	app.add(second)
	if got := series(); !slices.Equal(got, want) {
		t.Errorf("with the second server's handler too:\n got %q\nwant %q", got, want)
	}

	// A handler cleaned up takes its backends with it.
	app.remove(night)
	app.remove(shop)
	if got := series(); !slices.Equal(got, want[:2]) {
		t.Errorf("after the first handlers' cleanup:\n got %q\nwant %q", got, want[:2])
	}
	app.remove(second)
	if got := series(); len(got) != 0 {
		t.Errorf("after every handler is gone: %q", got)
	}
}

func TestBackendStats(t *testing.T) {
	m := testMetrics()
	b := &config.Backend{Name: "stats-test", Owner: config.Outsourced, Vendor: "V"}
	s := m.forBackend("stats-journey", b)
	requests := func(code string) float64 {
		return value(t, m.requests.WithLabelValues("stats-journey", "stats-test", "outsourced", "V", code))
	}
	errorsOf := func(kind string) float64 {
		return value(t, m.upstreamErrors.WithLabelValues("stats-journey", "stats-test", "outsourced", "V", kind))
	}
	ok0, gone0, odd0, high0 := requests("200"), requests("499"), requests("42"), requests("600")

	s.observe(200, time.Millisecond, notStream)
	s.observe(200, time.Millisecond, notStream) // the cached counter this time
	s.observe(499, time.Millisecond, notStream)
	s.observe(42, time.Millisecond, notStream) // out of the cached range: still counted
	s.observe(600, time.Millisecond, notStream)
	if got := requests("200") - ok0; got != 2 {
		t.Errorf("200s counted %v times, want 2", got)
	}
	for code, before := range map[string]float64{"499": gone0, "42": odd0, "600": high0} {
		if got := requests(code) - before; got != 1 {
			t.Errorf("%s counted %v times, want 1", code, got)
		}
	}

	for _, kind := range []string{errDial, errTimeout, errStatus5xx} {
		before := errorsOf(kind)
		s.upstreamError(kind)
		if got := errorsOf(kind) - before; got != 1 {
			t.Errorf("%s errors counted %v times, want 1", kind, got)
		}
	}
	s.upstreamError("") // not the backend's fault: nothing counted, no panic

	route := &backendRoute{journey: "stats-journey", name: "stats-test", stats: s}
	for _, reason := range []string{reasonFirst, reasonHours, reasonFailover, reasonOverride} {
		c := m.routing.WithLabelValues("stats-journey", "stats-test", reason)
		before := value(t, c)
		m.routed(route, reason)
		if got := value(t, c) - before; got != 1 {
			t.Errorf("routing reason %s counted %v times, want 1", reason, got)
		}
	}
}

// TestEveryCookieDropIsCounted: a cookie the jar drops is counted under
// its reason, whichever; reason path, added with the jar's path rule, was
// dropped without a count (forBackend made counters for the reasons it
// listed itself).
func TestEveryCookieDropIsCounted(t *testing.T) {
	m := testMetrics()
	s := m.forBackend("drops", &config.Backend{Name: "nightdesk", Owner: config.Outsourced, Vendor: "NightDesk BPO"})
	for _, reason := range dropReasons {
		c := m.vendorCookiesDropped.WithLabelValues("drops", "nightdesk", reason)
		before := value(t, c)
		s.cookieDropped(reason)
		if got := value(t, c) - before; got != 1 {
			t.Errorf("reason %s: +%v, want +1", reason, got)
		}
	}
	c := m.vendorCookiesDropped.WithLabelValues("drops", "nightdesk", dropPath)
	before := value(t, c)
	h := http.Header{"Set-Cookie": {"nd_chat=abc; Path=/"}}
	testJar("drops", "nightdesk").store(h, 0, jarUsage{unseen: true}, s)
	if len(h["Set-Cookie"]) != 0 || value(t, c)-before != 1 {
		t.Errorf("a cookie set where the browser does not send the jar: kept %q, counted +%v", h["Set-Cookie"], value(t, c)-before)
	}
}
