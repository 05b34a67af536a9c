package caddymodule

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/frontdoor-dev/frontdoor/config"
)

// monday10 is Monday 2026-11-23 10:00 UTC.
var monday10 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// testBackend is a backend for plan tests: open during hours (always if
// empty), healthy until its breaker is opened.
type testBackend struct {
	name  string
	hours string // e.g. "Mon-Fri 08:00-20:00", in UTC
	sick  bool
}

func planJourney(t *testing.T, specs ...testBackend) *journeyRoute {
	t.Helper()
	j := &journeyRoute{name: "support"}
	for i, s := range specs {
		var hours []config.Hours
		if s.hours != "" {
			hours = []config.Hours{{When: s.hours}}
		}
		schedule, err := config.Compile(hours)
		if err != nil {
			t.Fatal(err)
		}
		// Each backend dials its own (never dialled) address so breakers
		// and Caddy's shared host state cannot leak between backends.
		proxy, br := provisionedProxy(t, fmt.Sprintf("127.0.0.1:%d", 1+i))
		br.open.Store(s.sick)
		j.backends = append(j.backends, &backendRoute{journey: j.name, name: s.name, first: i == 0, schedule: schedule, proxy: proxy})
	}
	return j
}

func describePlan(plan []candidate) string {
	var parts []string
	for _, c := range plan {
		parts = append(parts, c.backend.name+":"+c.reason)
	}
	return strings.Join(parts, " ")
}

func TestPlan(t *testing.T) {
	const closed = "Sat,Sun 08:00-20:00" // closed on monday10
	const open = "Mon-Fri 08:00-20:00"   // open on monday10
	cases := []struct {
		name     string
		backends []testBackend
		want     string
	}{
		{"first open and healthy", []testBackend{{name: "a"}, {name: "b"}},
			"a:first b:failover"},
		{"first out of hours", []testBackend{{name: "a", hours: closed}, {name: "b"}},
			"b:hours"},
		{"first open by its hours", []testBackend{{name: "a", hours: open}, {name: "b"}},
			"a:first b:failover"},
		{"first unhealthy", []testBackend{{name: "a", sick: true}, {name: "b"}, {name: "c"}},
			"b:failover c:failover"},
		{"closed then unhealthy then healthy", []testBackend{{name: "a", hours: closed}, {name: "b", sick: true}, {name: "c"}},
			"c:failover"},
		{"closed then healthy then more", []testBackend{{name: "a", hours: closed}, {name: "b"}, {name: "c"}},
			"b:hours c:failover"},
		{"unhealthy last is skipped", []testBackend{{name: "a"}, {name: "b", sick: true}},
			"a:first"},
		// Health checks can be stale: when every open backend is unhealthy
		// they are all tried, in order, rather than failing for sure.
		{"all unhealthy", []testBackend{{name: "a", sick: true}, {name: "b", sick: true}},
			"a:first b:failover"},
		{"all open ones unhealthy", []testBackend{{name: "a", hours: closed}, {name: "b", sick: true}, {name: "c", sick: true}},
			"b:hours c:failover"},
		{"closed ones stay out of the all-unhealthy plan", []testBackend{{name: "a", sick: true}, {name: "b", hours: closed}},
			"a:first"},
		{"none open", []testBackend{{name: "a", hours: closed}, {name: "b", hours: closed}},
			""},
		{"none open, unhealthy too", []testBackend{{name: "a", hours: closed, sick: true}},
			""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := planJourney(t, c.backends...)
			var buf [maxBackends]candidate
			if got := describePlan(j.plan(monday10, "", buf[:])); got != c.want {
				t.Errorf("plan = %q, want %q", got, c.want)
			}
		})
	}
}

// The plan reads health at call time: a backend that recovers is back in
// the next plan, with no state kept in the route.
func TestPlanFollowsHealth(t *testing.T) {
	j := planJourney(t, testBackend{name: "a"}, testBackend{name: "b"})
	first := j.backends[0].proxy.CB.(*switchBreaker)
	var buf [maxBackends]candidate

	first.open.Store(true)
	if got := describePlan(j.plan(monday10, "", buf[:])); got != "b:failover" {
		t.Errorf("with a unhealthy: %q", got)
	}
	first.open.Store(false)
	if got := describePlan(j.plan(monday10, "", buf[:])); got != "a:first b:failover" {
		t.Errorf("with a recovered: %q", got)
	}
}

// An override puts its backend first whatever its hours and health; the
// normal plan follows as failover, without the forced backend twice.
func TestPlanOverride(t *testing.T) {
	const closed = "Sat,Sun 08:00-20:00"
	cases := []struct {
		name     string
		backends []testBackend
		override string
		want     string
	}{
		{"override a later backend", []testBackend{{name: "a"}, {name: "b"}, {name: "c"}}, "c",
			"c:override a:failover b:failover"},
		{"override the first", []testBackend{{name: "a"}, {name: "b"}}, "a",
			"a:override b:failover"},
		{"override out of hours", []testBackend{{name: "a"}, {name: "b", hours: closed}}, "b",
			"b:override a:failover"},
		{"override unhealthy", []testBackend{{name: "a"}, {name: "b", sick: true}}, "b",
			"b:override a:failover"},
		// Regression: the forced backend must not hide that every other
		// open backend is unhealthy, which is when all are tried anyway.
		{"override with the others unhealthy", []testBackend{{name: "a", sick: true}, {name: "b"}}, "b",
			"b:override a:failover"},
		{"override when nothing else is open", []testBackend{{name: "a", hours: closed}, {name: "b", hours: closed}}, "b",
			"b:override"},
		{"unknown override ignored", []testBackend{{name: "a"}, {name: "b"}}, "gone",
			"a:first b:failover"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := planJourney(t, c.backends...)
			var buf [maxBackends]candidate
			if got := describePlan(j.plan(monday10, c.override, buf[:])); got != c.want {
				t.Errorf("plan = %q, want %q", got, c.want)
			}
		})
	}
}

// More backends than the stack buffer holds still all get planned.
func TestPlanMoreBackendsThanBuffer(t *testing.T) {
	j := &journeyRoute{name: "big"}
	for i := range maxBackends + 3 {
		j.backends = append(j.backends, &backendRoute{name: fmt.Sprint(i), first: i == 0, proxy: &reverseproxy.Handler{}})
	}
	var buf [2]candidate
	if got := j.plan(monday10, "", buf[:]); len(got) != maxBackends+3 {
		t.Errorf("planned %d backends, want %d", len(got), maxBackends+3)
	}
}

func TestHealthy(t *testing.T) {
	// No static upstream (dynamic upstreams, or none known yet): healthy,
	// because health is only known once a request resolves them.
	if !(&backendRoute{proxy: &reverseproxy.Handler{}}).healthy() {
		t.Error("backend without static upstreams is unhealthy")
	}

	// Several upstreams: healthy while any one is.
	proxy, br := provisionedProxy(t, "127.0.0.1:21", "127.0.0.1:22")
	b := &backendRoute{proxy: proxy}
	if !b.healthy() {
		t.Error("backend with healthy upstreams is unhealthy")
	}
	br.open.Store(true)
	if b.healthy() {
		t.Error("backend whose upstreams all have an open breaker is healthy")
	}
}

func TestReasonFor(t *testing.T) {
	first := &backendRoute{first: true}
	other := &backendRoute{}
	cases := []struct {
		b                                       *backendRoute
		skippedHours, skippedClosed, failedOver bool
		want                                    string
	}{
		{first, false, false, false, reasonFirst},
		// The first backend, tried only after an overridden one failed,
		// is a failover like any other.
		{first, true, false, true, reasonFailover},
		{other, true, false, false, reasonHours},
		{other, false, true, false, reasonClosed},
		// A closure is the better reason: it is evaluated before hours.
		{other, true, true, false, reasonClosed},
		{other, false, false, true, reasonFailover},
		// Failing over beats hours and closures: it would only serve after another failed.
		{other, true, false, true, reasonFailover},
		{other, false, true, true, reasonFailover},
	}
	for _, c := range cases {
		if got := reasonFor(c.b, c.skippedHours, c.skippedClosed, c.failedOver); got != c.want {
			t.Errorf("reasonFor(first=%v, hours=%v, closed=%v, failover=%v) = %q, want %q", c.b.first, c.skippedHours, c.skippedClosed, c.failedOver, got, c.want)
		}
	}
}

func TestReplayable(t *testing.T) {
	cases := []struct {
		method   string
		length   int64
		encoding []string
		want     bool
	}{
		{http.MethodGet, 0, nil, true},
		{http.MethodHead, 0, nil, true},
		{http.MethodOptions, 0, nil, true},
		{http.MethodPut, 0, nil, true},
		{http.MethodDelete, 0, nil, true},
		// A checkout must never be placed twice.
		{http.MethodPost, 0, nil, false},
		{http.MethodPatch, 0, nil, false},
		{http.MethodConnect, 0, nil, false},
		{"PROPFIND", 0, nil, false},
		// A body the first attempt may have consumed cannot be sent again.
		{http.MethodGet, 12, nil, false},
		{http.MethodPut, 12, nil, false},
		{http.MethodGet, -1, nil, false},
		{http.MethodPut, 0, []string{"chunked"}, false},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "/support", nil)
		r.ContentLength = c.length
		r.TransferEncoding = c.encoding
		if got := replayable(r); got != c.want {
			t.Errorf("replayable(%s, length %d, encoding %v) = %v, want %v", c.method, c.length, c.encoding, got, c.want)
		}
	}
}

func TestReplayableParsedRequests(t *testing.T) {
	// What Go's server makes of real request framing.
	get := httptest.NewRequest(http.MethodGet, "/support", nil)
	if !replayable(get) {
		t.Error("bodyless GET is not replayable")
	}
	put := httptest.NewRequest(http.MethodPut, "/support", strings.NewReader("x=1"))
	if replayable(put) {
		t.Error("PUT with a body is replayable")
	}
}

func TestUpstreamAuthorities(t *testing.T) {
	p := &reverseproxy.Handler{Upstreams: reverseproxy.UpstreamPool{
		{Dial: "127.0.0.1:9003"},
		{Dial: "vendor.example:443"},
		{Dial: "[::1]:9005"},
		{Dial: "unix//run/vendor.sock"}, // no host:port: nothing to rewrite from
		{Dial: "{http.request.host}"},   // a placeholder is not an address
	}}
	want := map[string]bool{"127.0.0.1:9003": true, "vendor.example:443": true, "[::1]:9005": true}
	if got := upstreamAuthorities(p); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestHidesDotSegment(t *testing.T) {
	for _, c := range []struct {
		target string
		hides  bool
	}{
		{"/checkout/..%2fsupport/x", true},
		{"/checkout/..%2Fsupport/x", true},
		{"/checkout/%2e%2e%2fsupport/x", true},
		{"/checkout/.%2f..%2fsupport/x", true},
		{"/checkout/..%5csupport/x", true},
		{"/checkout/..%5Csupport/x", true},
		{"/checkout/x%2f..", true},
		{"/support/orders/A%2F1", false},   // an encoded slash without a dot segment
		{"/support/..%252fx", false},       // %25 decodes to "%", no slash
		{"/support/a..%2fb", false},        // "a.." is no dot segment
		{"/checkout/../support/x", false},  // the browser resolves it as Caddy does
		{"/support/%2e%2e/x?q=%2f", false}, // the query does not count
		{"/support/file.%2fx", false},
	} {
		r := httptest.NewRequest(http.MethodGet, c.target, nil)
		if got := hidesDotSegment(r.URL); got != c.hides {
			t.Errorf("hidesDotSegment(%q) = %v, want %v", c.target, got, c.hides)
		}
	}
}
