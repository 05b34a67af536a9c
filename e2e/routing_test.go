package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// frontdoorBlock renders a frontdoor directive around journeys.
func frontdoorBlock(journeys string) string {
	return `	frontdoor {
		brand "Acme Outdoor"
		contact {
			phone "+1 800 555 0100"
			email help@acme.example
			url https://acme.example/help
		}
` + journeys + `
	}
	respond "brand home"`
}

func TestRoutingByJourneyAndFallThrough(t *testing.T) {
	t.Parallel()
	shop := startBackend(t, "shop-core", nil)
	ship := startBackend(t, "shipco", nil)
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey checkout /checkout* /cart* {
			backend shop-core {
				owner in-house
				to %s
			}
		}
		journey tracking /track* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				to %s
			}
		}`, shop.URL, ship.URL)))

	for path, want := range map[string]string{
		"/checkout":      "hello from shop-core",
		"/cart/items":    "hello from shop-core",
		"/track/1001":    "hello from shipco",
		"/":              "brand home",
		"/about":         "brand home",
		"/checkoutx/../": "brand home", // cleaned to / by the path matcher
	} {
		resp, body := do(t, "GET", gw.URL+path, nil, nil)
		if resp.StatusCode != 200 || body != want {
			t.Errorf("GET %s: %d %q, want 200 %q", path, resp.StatusCode, body, want)
		}
	}
	// A journey's request gets a reference; a fall-through one does not.
	resp, _ := do(t, "GET", gw.URL+"/", nil, nil)
	if resp.Header.Get("X-Request-Id") != "" {
		t.Errorf("fall-through response has X-Request-Id %q", resp.Header.Get("X-Request-Id"))
	}
}

func TestBrandHeadersAndSpoofedHeadersRemoved(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", nil)
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				headers all
				to %s
			}
		}`, vendor.URL))+"\n")

	spoofs := map[string]string{
		"X-Frontdoor-Brand":               "Evil Corp",
		"x-frontdoor-journey":             "checkout",
		"X_Frontdoor_Backend":             "shop-core",
		"x_frontdoor_context_tier":        "platinum",
		"X-FRONTDOOR-SESSION":             "found",
		"X-Frontdoor-Assertion":           "eyJhbGciOiJub25lIn0.e30.",
		"X-Frontdoor-Context-Customer-Id": "C-0",
		"X-Request-Id":                    "attacker-chosen",
		"X_Request_Id":                    "attacker-chosen",
	}
	resp, _ := do(t, "GET", gw.URL+"/support/chat", nil, spoofs)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := vendor.last(t)
	for name, values := range got.Header {
		for _, v := range values {
			if v == "Evil Corp" || v == "checkout" || v == "shop-core" || v == "platinum" || v == "attacker-chosen" ||
				strings.HasPrefix(v, "eyJhbGciOiJub25l") || v == "C-0" || (v == "found" && strings.Contains(strings.ToLower(name), "session")) {
				t.Errorf("spoofed header reached the backend: %s: %s", name, v)
			}
		}
		if strings.Contains(name, "_") {
			t.Errorf("underscore header reached the backend: %s", name)
		}
	}
	want := map[string]string{
		"X-Frontdoor-Brand":           "Acme Outdoor",
		"X-Frontdoor-Journey":         "support",
		"X-Frontdoor-Backend":         "nightdesk",
		"X-Frontdoor-Support-Contact": `phone="+1 800 555 0100", email="help@acme.example", url="https://acme.example/help"`,
	}
	for k, v := range want {
		if got.Header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Header.Get(k), v)
		}
	}
	id := got.Header.Get("X-Request-Id")
	if len(id) != 13 || resp.Header.Get("X-Request-Id") != id {
		t.Errorf("request id: backend got %q, customer got %q", id, resp.Header.Get("X-Request-Id"))
	}
	if n := len(got.Header.Values("X-Request-Id")); n != 1 {
		t.Errorf("backend got %d X-Request-Id values", n)
	}
	// Two requests, two references.
	resp2, _ := do(t, "GET", gw.URL+"/support/chat", nil, nil)
	if resp2.Header.Get("X-Request-Id") == id {
		t.Error("request id reused")
	}
}

func TestVendorDebranding(t *testing.T) {
	t.Parallel()
	var vendor *backend
	vendor = startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "VendorPortal/3.1")
		w.Header().Set("X-Powered-By", "PHP/7.4")
		w.Header().Set("X-Request-Id", "vendor-own-id")
		w.Header().Set("X-Frontdoor-Internal", "leak")
		w.Header().Add("Set-Cookie", "vsid=1; Domain=vendor.example; Path=/; HttpOnly")
		w.Header().Add("Set-Cookie", "pref=a; path=/; domain=.shipco.example")
		switch r.URL.Path {
		case "/track/login":
			w.Header().Set("Location", vendor.URL+"/track/welcome?x=1")
			w.WriteHeader(http.StatusFound)
		case "/track/away":
			w.Header().Set("Location", "https://elsewhere.example/x")
			w.WriteHeader(http.StatusFound)
		default:
			fmt.Fprint(w, "vendor page")
		}
	})
	inhouse := startBackend(t, "inhouse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Powered-By", "our-own-stack")
		w.Header().Add("Set-Cookie", "cart=1; Domain=acme.example")
		fmt.Fprint(w, "in-house page")
	})
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey tracking /track* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				to %s
			}
		}
		journey checkout /checkout* {
			backend shop {
				owner in-house
				to %s
			}
		}`, vendor.URL, inhouse.URL)))

	resp, _ := do(t, "GET", gw.URL+"/track/login", nil, nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != gw.URL+"/track/welcome?x=1" {
		t.Errorf("Location %q, want it on the brand host %s", loc, gw.URL)
	}
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.Contains(strings.ToLower(c), "domain") {
			t.Errorf("vendor cookie keeps a domain: %q", c)
		}
	}
	if len(resp.Header.Values("Set-Cookie")) != 2 {
		t.Errorf("cookies lost: %q", resp.Header.Values("Set-Cookie"))
	}
	for _, s := range resp.Header.Values("Server") {
		if strings.Contains(s, "Vendor") {
			t.Errorf("vendor Server header leaked: %q", s)
		}
	}
	if v := resp.Header.Get("X-Powered-By"); v != "" {
		t.Errorf("X-Powered-By leaked: %q", v)
	}
	if ids := resp.Header.Values("X-Request-Id"); len(ids) != 1 || ids[0] == "vendor-own-id" {
		t.Errorf("X-Request-Id %q, want only frontdoor's", ids)
	}
	if v := resp.Header.Get("X-Frontdoor-Internal"); v != "" {
		t.Errorf("backend X-Frontdoor-* header reached the customer: %q", v)
	}

	resp, _ = do(t, "GET", gw.URL+"/track/away", nil, nil)
	if loc := resp.Header.Get("Location"); loc != "https://elsewhere.example/x" {
		t.Errorf("foreign Location rewritten to %q", loc)
	}

	// In-house responses are the brand's own: left alone.
	resp, _ = do(t, "GET", gw.URL+"/checkout", nil, nil)
	if resp.Header.Get("X-Powered-By") != "our-own-stack" || !strings.Contains(resp.Header.Get("Set-Cookie"), "Domain=acme.example") {
		t.Errorf("in-house response altered: %v", resp.Header)
	}
}

// window returns an hours spec in UTC that contains now (open) or is
// twelve hours away from it (closed), avoiding the edges of the day.
func window(open bool) string {
	now := time.Now().UTC()
	start := now.Add(-30 * time.Minute)
	if !open {
		start = now.Add(12 * time.Hour)
	}
	end := start.Add(time.Hour)
	return fmt.Sprintf(`"daily %s-%s" UTC`, start.Format("15:04"), end.Format("15:04"))
}

func TestHoursRouting(t *testing.T) {
	t.Parallel()
	care := startBackend(t, "care-team", nil)
	night := startBackend(t, "nightdesk", nil)
	site := func(open bool) string {
		return frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend care-team {
				owner in-house
				to %s
				hours %s
				hours "Mon 00:00-00:01" Pacific/Kiritimati
			}
			backend nightdesk {
				owner outsourced
				vendor NightDesk
				to %s
			}
		}`, care.URL, window(open), night.URL))
	}

	gw := startGateway(t, site(true))
	if _, body := do(t, "GET", gw.URL+"/support", nil, nil); body != "hello from care-team" {
		t.Errorf("in hours: %q, want care-team", body)
	}

	gw.reload(t, site(false))
	if _, body := do(t, "GET", gw.URL+"/support", nil, nil); body != "hello from nightdesk" {
		t.Errorf("after hours: %q, want nightdesk", body)
	}
	m := gw.metrics(t)
	if v, _ := metricValue(m, `frontdoor_routing_decisions_total{backend="nightdesk",journey="support",reason="hours"}`); v != 1 {
		t.Errorf("routing reason hours = %v, want 1\n%s", v, grep(m, "routing_decisions"))
	}
	if v, _ := metricValue(m, `frontdoor_routing_decisions_total{backend="care-team",journey="support",reason="first"}`); v != 1 {
		t.Errorf("routing reason first = %v, want 1 (counted before the reload)", v)
	}
}

func TestNoBackendOpen(t *testing.T) {
	t.Parallel()
	care := startBackend(t, "care-team", nil)
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend care-team {
				owner in-house
				to %s
				hours %s
			}
		}`, care.URL, window(false))))
	resp, _ := do(t, "GET", gw.URL+"/support", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || care.count() != 0 {
		t.Errorf("closed journey: status %d, backend hit %d times", resp.StatusCode, care.count())
	}
}

func TestFailoverOnDialErrorButNeverReplayPOST(t *testing.T) {
	t.Parallel()
	second := startBackend(t, "second", nil)
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey checkout /checkout* {
			backend primary {
				owner in-house
				to %s
			}
			backend reseller {
				owner outsourced
				vendor Resell
				headers all
				to %s
			}
		}`, deadAddr(t), second.URL)))

	resp, body := do(t, "GET", gw.URL+"/checkout/cart", nil, nil)
	if resp.StatusCode != 200 || body != "hello from second" {
		t.Fatalf("GET with first backend down: %d %q, want failover to second", resp.StatusCode, body)
	}
	if got := second.last(t).Header.Get("X-Frontdoor-Backend"); got != "reseller" {
		t.Errorf("second backend was told it is %q", got)
	}

	before := second.count()
	resp, _ = do(t, "POST", gw.URL+"/checkout/place-order", strings.NewReader(`{"order":1}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("POST with first backend down: status %d, want 502", resp.StatusCode)
	}
	if second.count() != before {
		t.Error("a POST was replayed to the second backend")
	}
	m := gw.metrics(t)
	if v, _ := metricValue(m, `frontdoor_routing_decisions_total{backend="reseller",journey="checkout",reason="failover"}`); v != 1 {
		t.Errorf("failover decisions = %v, want 1\n%s", v, grep(m, "routing_decisions"))
	}
	if v, _ := metricValue(m, `frontdoor_upstream_errors_total{backend="primary",journey="checkout",kind="dial",owner="in-house",vendor=""}`); v != 2 {
		t.Errorf("dial errors = %v, want 2\n%s", v, grep(m, "upstream_errors"))
	}
}

func TestFailoverOnTimeout(t *testing.T) {
	slow := startBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		hold(r, 2*time.Second)
		fmt.Fprint(w, "too late")
	})
	fast := startBackend(t, "fast", nil)
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend slowdesk {
				owner outsourced
				vendor Slow
				to %s
				transport http {
					response_header_timeout 300ms
				}
			}
			backend care {
				owner in-house
				to %s
			}
		}`, slow.URL, fast.URL)))
	start := time.Now()
	resp, body := do(t, "GET", gw.URL+"/support", nil, nil)
	if resp.StatusCode != 200 || body != "hello from fast" {
		t.Errorf("GET with stalled first backend: %d %q", resp.StatusCode, body)
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("failover took %s", el)
	}
	if v, _ := metricValue(gw.metrics(t), `frontdoor_upstream_errors_total{backend="slowdesk",journey="support",kind="timeout",owner="outsourced",vendor="Slow"}`); v != 1 {
		t.Errorf("timeout errors = %v, want 1", v)
	}
}

func TestUnhealthyBackendSkipped(t *testing.T) {
	t.Parallel()
	sick := startBackend(t, "sick", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "hello from sick")
	})
	well := startBackend(t, "well", nil)
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend first {
				owner in-house
				to %s
				health_uri /health
				health_interval 100ms
			}
			backend second {
				owner outsourced
				vendor V
				to %s
			}
		}`, sick.URL, well.URL)))
	waitFor(t, 5*time.Second, func() error {
		_, body := do(t, "POST", gw.URL+"/support/ticket", strings.NewReader("x"), nil)
		if body != "hello from well" {
			return fmt.Errorf("got %q", body)
		}
		return nil
	})
	if v, _ := metricValue(gw.metrics(t), `frontdoor_routing_decisions_total{backend="second",journey="support",reason="failover"}`); v < 1 {
		t.Errorf("failover decisions = %v", v)
	}
}

func TestMetricsExportedWithContractLabels(t *testing.T) {
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	site := frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				slo availability 99.5%%
				slo latency 95%% 800ms
			}
		}`, vendor.URL))
	gw := startGateway(t, site)
	do(t, "GET", gw.URL+"/support", nil, nil)
	do(t, "GET", gw.URL+"/support/fail", nil, nil)
	m := gw.metrics(t)
	for series, want := range map[string]float64{
		`frontdoor_requests_total{backend="nightdesk",code="200",journey="support",owner="outsourced",vendor="NightDesk BPO"}`:                             1,
		`frontdoor_requests_total{backend="nightdesk",code="500",journey="support",owner="outsourced",vendor="NightDesk BPO"}`:                             1,
		`frontdoor_upstream_errors_total{backend="nightdesk",journey="support",kind="status_5xx",owner="outsourced",vendor="NightDesk BPO"}`:               1,
		`frontdoor_request_duration_seconds_count{backend="nightdesk",journey="support",owner="outsourced",vendor="NightDesk BPO"}`:                        2,
		`frontdoor_backend_slo_objective{backend="nightdesk",journey="support",owner="outsourced",slo="availability",threshold="",vendor="NightDesk BPO"}`: 0.995,
		`frontdoor_backend_slo_objective{backend="nightdesk",journey="support",owner="outsourced",slo="latency",threshold="0.8",vendor="NightDesk BPO"}`:   0.95,
	} {
		if v, ok := metricValue(m, series); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}

	// After a reload the same collectors keep counting.
	gw.reload(t, site+"\n")
	do(t, "GET", gw.URL+"/support", nil, nil)
	m = gw.metrics(t)
	if v, _ := metricValue(m, `frontdoor_requests_total{backend="nightdesk",code="200",journey="support",owner="outsourced",vendor="NightDesk BPO"}`); v != 2 {
		t.Errorf("after reload requests_total = %v, want 2", v)
	}
}

func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
