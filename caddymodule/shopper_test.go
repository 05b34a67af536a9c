package caddymodule

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
	"github.com/frontdoor-dev/frontdoor/internal/shopper"
)

// Misbehaviours the test vendor can be switched to.
const (
	behave int32 = iota
	ownBranding
	noContext
	ownLogin
	slow
	failing
	leaksServer
)

// shopVendor is a vendor help desk that greets the customer by the name
// frontdoor hands it, unless told to misbehave.
func shopVendor(t *testing.T, mode *atomic.Int32) *recordingBackend {
	return newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		name := assertedField(r.Header, "first_name")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch mode.Load() {
		case ownBranding:
			fmt.Fprintf(w, "<html><body><h1>Hi %s, NightDesk BPO is here to help</h1></body></html>", name)
		case noContext:
			fmt.Fprint(w, "<html><body><h1>Hi there, how can we help?</h1></body></html>")
		case ownLogin:
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `<html><body><form action="/login"><h1>Sign in</h1></form></body></html>`)
		case slow:
			select { // a vendor that takes its time, until the shopper gives up
			case <-time.After(300 * time.Millisecond):
			case <-r.Context().Done():
			}
			fmt.Fprintf(w, "<html><body><h1>Hi %s, how can we help?</h1></body></html>", name)
		case failing:
			w.WriteHeader(http.StatusInternalServerError)
		case leaksServer:
			w.Header().Set("X-AspNet-Version", "4.0")
			fmt.Fprintf(w, "<html><body><h1>Hi %s, how can we help?</h1></body></html>", name)
		default:
			fmt.Fprintf(w, "<html><body><h1>Hi %s, how can we help?</h1></body></html>", name)
		}
	})
}

func shopperHandler(t *testing.T, redisURL, vendor, care string) *Handler {
	t.Helper()
	return provisionHandler(t, shopperHandlerConfig(redisURL, vendor, care), monday10)
}

// shopperHandlerConfig is shopperHandler's frontdoor block.
func shopperHandlerConfig(redisURL, vendor, care string) string {
	return `
		brand "Acme Outdoor"
		contact {
			phone "+1 800 555 0100"
		}
		session {
			redis ` + redisURL + `
			cookie acme_session
		}
		journey shopsupport /support* {
			probe help-page {
				every 1h
				customer {
					customer_id P-0001
					first_name Quinn
				}
				step GET /support/help
				expect status 200
				expect customer first_name
				forbid "(?i)nightdesk|powered by"
				within 200ms
			}
			backend care-team {
				owner in-house
				to ` + care + `
				hours "Sat 08:00-09:00" UTC
				context customer_id first_name
			}
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to ` + vendor + `
				context customer_id first_name
			}
		}`
}

func targetsByBackend(h *Handler) map[string]*shopper.Target {
	out := map[string]*shopper.Target{}
	for _, t := range h.shopper.Targets() {
		out[t.Backend().Name] = t
	}
	return out
}

func failedChecks(run *ProbeRun) []string {
	var checks []string
	for _, f := range run.Failed {
		checks = append(checks, f.Check)
	}
	return checks
}

// The shopper walks the probe through each backend, in-house and closed
// included, sees what a customer sees and fails a vendor for each
// misbehaviour with the check that names it, while the in-house team,
// closed at this hour, keeps passing.
func TestShopperChecksEveryBackend(t *testing.T) {
	srv := redistest.Start(t)
	var mode, careMode atomic.Int32
	vendor := shopVendor(t, &mode)
	care := shopVendor(t, &careMode)
	h := shopperHandler(t, srv.URL(), vendor.addr(), care.addr())
	targets := targetsByBackend(h)
	ctx := context.Background()

	m := testMetrics()
	customerRequests := func() float64 {
		return value(t, m.requests.WithLabelValues("shopsupport", "nightdesk", "outsourced", "NightDesk BPO", "200")) +
			value(t, m.requests.WithLabelValues("shopsupport", "care-team", "in-house", "", "200")) +
			value(t, m.routing.WithLabelValues("shopsupport", "nightdesk", "first")) +
			value(t, m.routing.WithLabelValues("shopsupport", "care-team", "first")) +
			value(t, m.contextLookups.WithLabelValues("hit")) + value(t, m.contextLookups.WithLabelValues("cached")) +
			value(t, m.bannerInjections.WithLabelValues("shopsupport", "nightdesk", "injected")) +
			value(t, m.errorPages.WithLabelValues("shopsupport", "nightdesk", "500")) +
			value(t, m.upstreamErrors.WithLabelValues("shopsupport", "nightdesk", "outsourced", "NightDesk BPO", "status_5xx"))
	}
	before := customerRequests()

	for _, c := range []struct {
		mode int32
		want []string
	}{
		{behave, nil},
		{ownBranding, []string{shopper.CheckForbid}},
		{noContext, []string{shopper.CheckCustomer}},
		{ownLogin, []string{shopper.CheckStatus, shopper.CheckCustomer}}, // a login page knows nobody
		{slow, []string{shopper.CheckWithin}},
		{failing, []string{shopper.CheckErrorPage}},
	} {
		mode.Store(c.mode)
		run := h.shopper.Shop(ctx, targets["nightdesk"])
		if got := failedChecks(run); !slices.Equal(got, c.want) {
			t.Errorf("vendor mode %d: failed %v (%+v), want %v", c.mode, got, run.Failed, c.want)
		}
		if c.want == nil {
			if run.Result != shopper.ResultPass || run.RequestID != "" {
				t.Errorf("vendor behaving: %+v", run)
			}
		} else if run.Result != shopper.ResultFail || run.Step != "GET /support/help" || len(run.RequestID) != 13 {
			t.Errorf("vendor mode %d: %+v", c.mode, run)
		}
		inHouse := h.shopper.Shop(ctx, targets["care-team"])
		if inHouse.Result != shopper.ResultPass || inHouse.Open {
			t.Errorf("in-house, closed now, is shopped and passes: %+v", inHouse)
		}
	}

	// What the vendor got is a customer's request: the synthetic
	// customer's context, a signed assertion, no brand session cookie and
	// no mark of the shopper.
	got := vendor.requests()[0]
	claims := assertionClaims(got.Header)
	for name, want := range map[string]string{
		"session":     "found",
		"first_name":  "Quinn",
		"customer_id": "P-0001",
		"aud":         "nightdesk",
	} {
		v, _ := claims[name].(string)
		if name == "first_name" || name == "customer_id" {
			v = assertedField(got.Header, name)
		}
		if v != want {
			t.Errorf("vendor's assertion says %s %q, want %q", name, v, want)
		}
	}
	for name, want := range map[string]string{
		"X-Frontdoor-Context-First-Name": "", // outsourced: the assertion only
		"User-Agent":                     shopper.UserAgent,
		"Cookie":                         "",
	} {
		if v := got.Header.Get(name); v != want {
			t.Errorf("vendor got %s %q, want %q", name, v, want)
		}
	}
	if got.Header.Get("X-Frontdoor-Assertion") == "" || got.Header.Get("X-Request-Id") == "" {
		t.Errorf("vendor got no assertion or reference: %v", got.Header)
	}
	for name, values := range got.Header {
		if strings.Contains(strings.ToLower(name+strings.Join(values, " ")), "shopper") {
			t.Errorf("the vendor can tell a shopper: %s: %v", name, values)
		}
	}
	// The in-house team is the brand: it gets the brand session cookie.
	if c := care.requests()[0].Header.Get("Cookie"); c != "acme_session="+shopper.SessionID("shopsupport", "help-page") {
		t.Errorf("in-house got Cookie %q", c)
	}

	if after := customerRequests(); after != before {
		t.Errorf("shopper traffic counted in customer metrics: %v before, %v after", before, after)
	}
	for _, b := range h.routes[0].backends {
		if n := b.counts.requests.Load() + b.counts.errors.Load(); n != 0 {
			t.Errorf("backend %s counts %d shopper requests for the status endpoint", b.name, n)
		}
	}
	if errs := h.errors.list(); len(errs) != 0 {
		t.Errorf("shopper failures among the customers' recent errors: %+v", errs)
	}
	// The synthetic customer is in the session store, expiring.
	rc := srv.Client(t)
	key := "session:" + shopper.SessionID("shopsupport", "help-page")
	if v, _ := rc.HGetAll(ctx, key).Result(); v["first_name"] != "Quinn" || v["customer_id"] != "P-0001" {
		t.Errorf("session hash %v", v)
	}
	if ttl, _ := rc.PTTL(ctx, key).Result(); ttl <= 0 {
		t.Errorf("synthetic customer does not expire: %s", ttl)
	}
}

func TestShopperProvisionRefusesStepsOutsideTheJourney(t *testing.T) {
	h := mustParse(t, `frontdoor {
		brand Acme
		journey support /support* {
			probe p {
				step GET /checkout
			}
			backend b {
				owner in-house
				to 127.0.0.1:1
			}
		}
		journey checkout /checkout* {
			backend c {
				owner in-house
				to 127.0.0.1:1
			}
		}
	}`)
	err := h.Provision(testContext(t))
	if want := `journey "support", probe "p": step 1: path /checkout is not claimed by journey "support" (paths /support*): a probe shops its own journey`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %s", err, want)
	}
}

// The app starts the shoppers when its config starts to run (the run of
// the interval under way at once) and Stop stops them and waits for their
// runs. The scheduler's intervals are tested with a fake clock in
// internal/shopper.
func TestShopperLifecycle(t *testing.T) {
	visits := make(chan struct{}, 10)
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>hello</body></html>")
		visits <- struct{}{}
	})
	h := provisionHandler(t, `
		brand Acme
		journey j /j* {
			probe p {
				every 1h
				step GET /j
			}
			backend b {
				owner outsourced
				vendor V
				to `+vendor.addr()+`
			}
		}`, monday10)
	if stacks := goroutines(); strings.Contains(stacks, "internal/shopper.Schedule") {
		t.Fatalf("a provisioned config that is not running has a scheduler:\n%s", stacks)
	}

	app := &App{ctx: testContext(t)}
	app.add(h)
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	target := targetsByBackend(h)["b"]
	waitFor(t, 10*time.Second, func() error {
		if target.Last() == nil {
			return fmt.Errorf("no run of the interval under way when the config started to run")
		}
		return nil
	})
	if err := app.Stop(); err != nil {
		t.Fatal(err)
	}
	if run := target.Last(); run.Result != shopper.ResultPass || len(visits) != 1 {
		t.Errorf("latest run %+v after %d visits", run, len(visits))
	}
	if stacks := goroutines(); strings.Contains(stacks, "(*Shopper)") || strings.Contains(stacks, "internal/shopper.Schedule") {
		t.Errorf("a shopper goroutine outlived Stop:\n%s", stacks)
	}
}

func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func TestHostsTo(t *testing.T) {
	h := &Handler{}
	other := &Handler{}
	routes := caddyhttp.RouteList{
		{MatcherSets: caddyhttp.MatcherSets{{caddyhttp.MatchHost{"other.example"}}}, Handlers: []caddyhttp.MiddlewareHandler{other}},
		{MatcherSets: caddyhttp.MatcherSets{{caddyhttp.MatchHost{"shop.example.com"}}}, Handlers: []caddyhttp.MiddlewareHandler{
			&caddyhttp.Subroute{Routes: caddyhttp.RouteList{{Handlers: []caddyhttp.MiddlewareHandler{h}}}},
		}},
	}
	hosts, ok := hostsTo(routes, h)
	if !ok || !slices.Equal(hosts, []string{"shop.example.com"}) {
		t.Errorf("hosts %v %v", hosts, ok)
	}
	gw := &shopperGateway{h: h, server: &caddyhttp.Server{Listen: []string{":8443"}, Routes: routes}}
	if host, https := gw.Site(); host != "shop.example.com:8443" || https {
		t.Errorf("site host %q https %v", host, https)
	}
}

func TestPrintProbes(t *testing.T) {
	at := time.Date(2026, 11, 23, 2, 14, 9, 0, time.Local)
	st := Status{Journeys: []JourneyStatus{{Name: "support", Backends: []BackendStatus{
		{Name: "care-team", Owner: "in-house", Probes: []ProbeRun{{Probe: "help-page", Time: at, Result: "pass", Duration: 0.0123}}},
		{Name: "nightdesk", Owner: "outsourced", Vendor: "NightDesk BPO", Probes: []ProbeRun{{Probe: "help-page", Time: at, Result: "fail",
			Open: true, Duration: 0.9, Step: "GET /support/help", RequestID: "2XPXZ1WQ5F70W",
			Failed: []CheckFailure{{Check: "forbid", Detail: "the page shows \"NightDesk\x1b[2J\""}, {Check: "within", Detail: "answered in 900ms, want within 800ms"}}}}},
		{Name: "shipco", Owner: "outsourced", Vendor: "ShipCo", Probes: []ProbeRun{{Probe: "help-page", Result: "pending"}}},
	}}}}
	var out strings.Builder
	printProbes(&out, st)
	got := out.String()
	for _, want := range []string{
		"support  care-team  in-house    -              help-page  no    pass     2026-11-23 02:14:09  12ms   -              -                  -",
		"support  nightdesk  outsourced  NightDesk BPO  help-page  yes   fail     2026-11-23 02:14:09  900ms  forbid,within  GET /support/help  2XPXZ1WQ5F70W",
		"support  shipco     outsourced  ShipCo         help-page  -     pending  -",
		"support/nightdesk/help-page forbid: the page shows \"NightDesk\\x1b[2J\"",
		"support/nightdesk/help-page within: answered in 900ms, want within 800ms",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\x1b") {
		t.Error("a control character reached the terminal")
	}
	out.Reset()
	printProbes(&out, Status{})
	if !strings.Contains(out.String(), "no probe configured") {
		t.Errorf("no probes: %q", out.String())
	}
}

// With the session store down, a backend is not blamed for not knowing a
// customer frontdoor could not look up. (That an instance then shops
// without the fleet's lock is tested in internal/shopper.)
func TestShopperWithRedisDown(t *testing.T) {
	var mode atomic.Int32
	vendor := shopVendor(t, &mode)
	care := shopVendor(t, &mode)
	h := shopperHandler(t, "redis://"+refusedAddr(t)+"/0", vendor.addr(), care.addr())
	run := h.shopper.Shop(context.Background(), targetsByBackend(h)["nightdesk"])
	if run.Result != shopper.ResultPass {
		t.Fatalf("run with Redis down: %+v", run)
	}
	if got := assertionClaims(vendor.requests()[0].Header)["session"]; got != "unavailable" {
		t.Errorf("vendor's assertion says session %q", got)
	}
}

// TestOutsiderCannotBeTheShoppersCustomer: the shopper's session id is
// spelled from the journey and probe names; a client that sent it was
// that synthetic customer to the vendor (a signed assertion with its
// context), and its contacts and ratings counted as that customer's.
func TestOutsiderCannotBeTheShoppersCustomer(t *testing.T) {
	srv := redistest.Start(t)
	var mode, careMode atomic.Int32
	vendor := shopVendor(t, &mode)
	care := shopVendor(t, &careMode)
	h := shopperHandler(t, srv.URL(), vendor.addr(), care.addr())
	if run := h.shopper.Shop(context.Background(), targetsByBackend(h)["nightdesk"]); run.Result != shopper.ResultPass {
		t.Fatalf("shopper run: %+v", run)
	}
	shopped := len(vendor.requests())
	r := httptest.NewRequest(http.MethodGet, "http://shop.example.com/support/help", nil)
	r.Header.Set("Cookie", "acme_session="+shopper.SessionID("shopsupport", "help-page"))
	if w := serve(t, h, r, nil); w.Code != http.StatusOK || len(vendor.requests()) != shopped+1 {
		t.Fatalf("outsider's request: %d, vendor got %d requests", w.Code, len(vendor.requests()))
	}
	got := vendor.requests()[shopped].Header
	if s, _ := assertionClaims(got)["session"].(string); s != "none" || assertedField(got, "customer_id") != "" {
		t.Errorf("an outsider with the shopper's session id is asserted to the vendor as session %q, customer_id %q", s, assertedField(got, "customer_id"))
	}
}

// TestVendorsCannotTellTheShopperByAddress: a vendor sees where each
// customer comes from (X-Forwarded-For, from Caddy's client IP). The
// shopper came from the gateway's loopback address, which no customer
// has, so a vendor could serve it apart. With from, each run comes from an
// address of the probe's ranges, the same for every step of the run.
func TestVendorsCannotTellTheShopperByAddress(t *testing.T) {
	var mode atomic.Int32
	vendor := shopVendor(t, &mode)
	care := shopVendor(t, &mode)
	h := provisionHandler(t, strings.Replace(shopperHandlerConfig("redis://"+refusedAddr(t)+"/0", vendor.addr(), care.addr()),
		"every 1h", "every 1h\n\t\t\t\tfrom 203.0.113.0/24 2001:db8:77::/48", 1), monday10)
	ranges := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:77::/48")}
	seen := map[netip.Addr]bool{}
	for range 8 {
		before := len(vendor.requests())
		if run := h.shopper.Shop(context.Background(), targetsByBackend(h)["nightdesk"]); run.Result != shopper.ResultPass {
			t.Fatalf("shopper run: %+v", run)
		}
		for _, r := range vendor.requests()[before:] {
			xff := r.Header.Values("X-Forwarded-For")
			addr, err := netip.ParseAddr(strings.Join(xff, ","))
			if err != nil || !slices.ContainsFunc(ranges, func(p netip.Prefix) bool { return p.Contains(addr) }) {
				t.Fatalf("the vendor saw the shopper come from X-Forwarded-For %q, want one address of %v", xff, ranges)
			}
			seen[addr] = true
		}
	}
	if len(seen) < 2 {
		t.Errorf("8 runs all came from %v: each run takes an address at random", seen)
	}
}

// TestShopperSendsWhatABrowserSends: every browser of the last years
// sends fetch metadata (Sec-Fetch-*) with each request; a shopper without
// it was one a vendor could tell apart. A run's first page is opened from
// outside the site, a form is submitted from the backend's page and a
// JSON body is a script's fetch() on it; from an isolated backend's page,
// both are cross-site, from Origin null. (e2e
// TestShopperSendsWhatChromiumSends holds these to what Chromium sends.)
func TestShopperSendsWhatABrowserSends(t *testing.T) {
	var mode atomic.Int32
	var preflightOK, answerOK atomic.Bool
	preflightOK.Store(true)
	answerOK.Store(true)
	vendor := corsVendor(t, &preflightOK, &answerOK)
	care := shopVendor(t, &mode)
	cfg := strings.Replace(shopperHandlerConfig("redis://"+refusedAddr(t)+"/0", vendor.addr(), care.addr()),
		"within 200ms", "within 200ms\n\t\t\t\tstep POST /support/chat body \"message=hello\"\n\t\t\t\tstep POST /support/api body `{\"q\":1}`", 1)
	h := provisionHandler(t, cfg, monday10)
	if run := h.shopper.Shop(context.Background(), targetsByBackend(h)["nightdesk"]); run.Result != shopper.ResultPass {
		t.Fatalf("shopper run: %+v", run)
	}
	var got []*http.Request
	for _, r := range vendor.requests() {
		if r.Method != http.MethodOptions { // the fetch()'s preflight: TestShopperHoldsIsolatedFetchToCORS
			got = append(got, r)
		}
	}
	if len(got) != 3 {
		t.Fatalf("the vendor got %d requests, want 3", len(got))
	}
	for i, want := range []map[string]string{
		{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1", "Upgrade-Insecure-Requests": "1", "Origin": ""},
		// NightDesk is isolated: its page is in an opaque origin.
		{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1", "Origin": "null"},
		{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Sec-Fetch-User": "", "Accept": "*/*", "Origin": "null"},
	} {
		for name, value := range want {
			if v := got[i].Header.Get(name); v != value {
				t.Errorf("step %d (%s %s): %s %q, want %q", i+1, got[i].Method, got[i].URL.Path, name, v, value)
			}
		}
	}
}

// corsVendor is shopVendor answering its page's cross-origin fetch() as a
// vendor that works isolated does: the preflight allowed while
// preflightOK, the answer readable by the page's opaque origin while
// answerOK.
func corsVendor(t *testing.T, preflightOK, answerOK *atomic.Bool) *recordingBackend {
	var behaves atomic.Int32
	page := shopVendor(t, &behaves)
	return newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodOptions && preflightOK.Load():
			w.Header().Set("Access-Control-Allow-Origin", "null")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		case r.Method == http.MethodOptions:
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		case r.Method == http.MethodPost && answerOK.Load():
			w.Header().Set("Access-Control-Allow-Origin", "*")
		}
		res, err := http.Get(page.URL + r.URL.Path)
		if err != nil {
			t.Error(err)
			return
		}
		defer res.Body.Close()
		w.Header().Set("Content-Type", res.Header.Get("Content-Type"))
		io.Copy(w, res.Body) //nolint:errcheck
	})
}

// TestShopperHoldsIsolatedFetchToCORS: a script's fetch() on an isolated
// vendor page is a cross-origin request from the opaque origin null. A
// vendor that does not answer its preflight, or whose answer the page may
// not read, has a widget broken for every customer; the shopper passed
// it. It now fails the step with the cors check, sends the step the way
// the browser does (after the preflight, without the site's cookies), and
// passes a vendor that allows it.
func TestShopperHoldsIsolatedFetchToCORS(t *testing.T) {
	var mode atomic.Int32
	var preflightOK, answerOK atomic.Bool
	vendor := corsVendor(t, &preflightOK, &answerOK)
	care := shopVendor(t, &mode)
	cfg := strings.Replace(shopperHandlerConfig("redis://"+refusedAddr(t)+"/0", vendor.addr(), care.addr()),
		"within 200ms", "within 200ms\n\t\t\t\tstep POST /support/api body `{\"q\":1}`", 1)
	h := provisionHandler(t, cfg, monday10)
	shop := func() *ProbeRun { return h.shopper.Shop(context.Background(), targetsByBackend(h)["nightdesk"]) }

	for _, tc := range []struct {
		name                  string
		preflight, answer     bool
		wantFailed, wantPosts []string
	}{
		{"no preflight answered", false, false, []string{shopper.CheckCORS}, nil},
		{"the answer not readable", true, false, []string{shopper.CheckCORS}, []string{"/support/api"}},
		{"both allowed", true, true, nil, []string{"/support/api"}},
	} {
		preflightOK.Store(tc.preflight)
		answerOK.Store(tc.answer)
		before := len(vendor.requests())
		run := shop()
		if got := failedChecks(run); !slices.Equal(got, tc.wantFailed) {
			t.Errorf("%s: failed checks %v, want %v (%+v)", tc.name, got, tc.wantFailed, run.Failed)
		}
		var posts []string
		for _, r := range vendor.requests()[before:] {
			switch r.Method {
			case http.MethodPost:
				posts = append(posts, r.URL.Path)
				if c := r.Header.Get("Cookie"); c != "" {
					t.Errorf("%s: the cross-origin fetch() carried the site's cookies: %q", tc.name, c)
				}
			case http.MethodOptions:
				if r.Header.Get("Origin") != "null" || r.Header.Get("Access-Control-Request-Method") != "POST" ||
					r.Header.Get("Access-Control-Request-Headers") != "content-type" {
					t.Errorf("%s: preflight %v", tc.name, r.Header)
				}
			}
		}
		if !slices.Equal(posts, tc.wantPosts) {
			t.Errorf("%s: the vendor got POSTs %v, want %v", tc.name, posts, tc.wantPosts)
		}
	}
}
