package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/redistest"
	fdshopper "github.com/frontdoor-dev/frontdoor/internal/shopper"
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
		name := r.Header.Get("X-Frontdoor-Context-First-Name")
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
	return provisionHandler(t, `
		brand "Acme Outdoor"
		contact {
			phone "+1 800 555 0100"
		}
		session {
			redis `+redisURL+`
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
				to `+care+`
				hours "Sat 08:00-09:00" UTC
				context customer_id first_name
			}
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to `+vendor+`
				context customer_id first_name
			}
		}`, monday10)
}

func targetsByBackend(h *Handler) map[string]*probeTarget {
	out := map[string]*probeTarget{}
	for _, p := range h.shopper.probes {
		for _, t := range p.targets {
			out[t.backend.name] = t
		}
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
		{ownBranding, []string{checkForbid}},
		{noContext, []string{checkCustomer}},
		{ownLogin, []string{checkStatus, checkCustomer}}, // a login page knows nobody
		{slow, []string{checkWithin}},
		{failing, []string{checkErrorPage}},
	} {
		mode.Store(c.mode)
		run := h.shopper.shop(ctx, targets["nightdesk"])
		if got := failedChecks(run); !slices.Equal(got, c.want) {
			t.Errorf("vendor mode %d: failed %v (%+v), want %v", c.mode, got, run.Failed, c.want)
		}
		if c.want == nil {
			if run.Result != resultPass || run.RequestID != "" {
				t.Errorf("vendor behaving: %+v", run)
			}
		} else if run.Result != resultFail || run.Step != "GET /support/help" || len(run.RequestID) != 13 {
			t.Errorf("vendor mode %d: %+v", c.mode, run)
		}
		inHouse := h.shopper.shop(ctx, targets["care-team"])
		if inHouse.Result != resultPass || inHouse.Open {
			t.Errorf("in-house, closed now, is shopped and passes: %+v", inHouse)
		}
	}

	// What the vendor got is a customer's request: the synthetic
	// customer's context, a signed assertion, no brand session cookie and
	// no mark of the shopper.
	got := vendor.requests()[0]
	for name, want := range map[string]string{
		"X-Frontdoor-Session":             "found",
		"X-Frontdoor-Context-First-Name":  "Quinn",
		"X-Frontdoor-Context-Customer-Id": "P-0001",
		"X-Frontdoor-Backend":             "nightdesk",
		"User-Agent":                      shopperUserAgent,
		"Cookie":                          "",
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
	if c := care.requests()[0].Header.Get("Cookie"); c != "acme_session="+shopperSessionID("shopsupport", "help-page") {
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
	key := "session:" + shopperSessionID("shopsupport", "help-page")
	if v, _ := rc.HGetAll(ctx, key).Result(); v["first_name"] != "Quinn" || v["customer_id"] != "P-0001" {
		t.Errorf("session hash %v", v)
	}
	if ttl, _ := rc.PTTL(ctx, key).Result(); ttl <= 0 {
		t.Errorf("synthetic customer does not expire: %s", ttl)
	}
}

func TestShopperAlwaysOnChecks(t *testing.T) {
	st := &stepRoute{cfg: &config.Step{Method: "GET", Path: "/support"}}
	vendor := &probeTarget{probe: &probeRoute{customer: map[string]string{"first_name": "Zoë & Co"}},
		backend: &backendRoute{outsourced: true, banner: true}, within: []time.Duration{0}, sees: map[string]bool{"first_name": true}}
	inHouse := &probeTarget{probe: vendor.probe, backend: &backendRoute{}, within: []time.Duration{0}, sees: map[string]bool{}}
	h := provisionHandler(t, `
		brand Acme
		journey j /support* {
			backend b {
				owner in-house
				to 127.0.0.1:1
			}
		}`, monday10)
	banner, _ := h.bannerPage.Render("REF0000000001")
	html := http.Header{"Content-Type": {"text/html"}}
	page := func(body string) []byte { return []byte("<html><body>" + body + string(banner) + "</body></html>") }

	cases := []struct {
		name   string
		target *probeTarget
		step   *config.Step
		out    stepOutcome
		want   []string
	}{
		{"good page", vendor, nil, stepOutcome{status: 200, header: html, body: page("Hi Zoë &amp; Co")}, nil},
		{"no banner", vendor, nil, stepOutcome{status: 200, header: html, body: []byte("<html><body>Hi Zoë &amp; Co</body></html>")}, []string{checkBanner}},
		{"banner not needed in-house", inHouse, nil, stepOutcome{status: 200, header: html, body: []byte("<p>x</p>")}, nil},
		{"banner not checked on JSON", vendor, nil, stepOutcome{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(`{"name":"Zoë &amp; Co"}`)}, nil},
		{"vendor headers", vendor, nil, stepOutcome{status: 200, header: http.Header{"Content-Type": {"text/html"}, "Server": {"nginx"}, "X-Powered-By": {"PHP"}}, body: page("Zoë & Co")}, []string{checkVendorHeader, checkVendorHeader}},
		{"in-house server header is the brand's", inHouse, nil, stepOutcome{status: 200, header: http.Header{"Server": {"nginx"}}}, nil},
		{"5xx", inHouse, nil, stepOutcome{status: 503}, []string{checkServerError}},
		{"brand error page", vendor, nil, stepOutcome{status: 502, errorPage: 502, header: html, body: []byte("Something went wrong")}, []string{checkErrorPage}},
		{"4xx fails by default", inHouse, nil, stepOutcome{status: 404}, []string{checkStatus}},
		{"3xx passes by default", inHouse, nil, stepOutcome{status: 302}, nil},
		{"expected status", inHouse, &config.Step{ExpectStatus: []int{302}}, stepOutcome{status: 200}, []string{checkStatus}},
		{"timed out", vendor, nil, stepOutcome{timedOut: true, failure: "no complete answer"}, []string{checkWithin}},
		{"customer not shown", vendor, &config.Step{ExpectCustomer: []string{"first_name"}}, stepOutcome{status: 200, header: html, body: page("Hi")}, []string{checkCustomer}},
		{"customer shown escaped", vendor, &config.Step{ExpectCustomer: []string{"first_name"}}, stepOutcome{status: 200, header: html, body: page("Hi Zoë &amp; Co")}, nil},
		{"customer not told", inHouse, &config.Step{ExpectCustomer: []string{"first_name"}}, stepOutcome{status: 200, body: []byte("Hi")}, nil},
		{"customer unknown to the session store", vendor, &config.Step{ExpectCustomer: []string{"first_name"}}, stepOutcome{status: 200, header: html, body: page("Hi"), noContext: true}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := st
			if c.step != nil {
				c.step.Method, c.step.Path = "GET", "/support"
				s = &stepRoute{cfg: c.step}
			}
			if c.out.header == nil {
				c.out.header = http.Header{}
			}
			c.out.requestID = "REF0000000001"
			var got []string
			for _, f := range c.target.evaluate(0, s, c.out, h) {
				got = append(got, f.Check)
				if strings.ContainsAny(f.Detail, "\r\n") {
					t.Errorf("detail with a line break: %q", f.Detail)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("failed %v, want %v", got, c.want)
			}
		})
	}

	within := &probeTarget{probe: vendor.probe, backend: &backendRoute{}, within: []time.Duration{100 * time.Millisecond}}
	slowOut := stepOutcome{status: 200, header: http.Header{}, elapsed: 150 * time.Millisecond}
	if f := within.evaluate(0, st, slowOut, h); len(f) != 1 || f[0].Check != checkWithin || f[0].Detail != "answered in 150ms, want within 100ms" {
		t.Errorf("within: %+v", f)
	}
	re := &stepRoute{cfg: &config.Step{Method: "GET", Path: "/"}, expectBody: []*regexp.Regexp{regexp.MustCompile("help")},
		forbid: []*regexp.Regexp{regexp.MustCompile("(?i)nightdesk")}}
	f := inHouse.evaluate(0, re, stepOutcome{status: 200, header: http.Header{}, body: []byte("NightDesk\r\n")}, h)
	if len(f) != 2 || f[0].Check != checkBody || f[1].Check != checkForbid || f[1].Detail != `the page shows "NightDesk" (forbid "(?i)nightdesk")` {
		t.Errorf("body and forbid: %+v", f)
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

// The app starts the shoppers when its config starts to run, each probe
// runs once per interval, and Stop stops them and waits for their runs.
// The scheduler's clock is a fake one: the test waits for events only.
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
				every 1s
				step GET /j
			}
			backend b {
				owner outsourced
				vendor V
				to `+vendor.addr()+`
			}
		}`, monday10)
	clock := fdshopper.NewFakeClock(monday10.Add(400 * time.Millisecond))
	h.shopper.clock = clock
	if stacks := goroutines(); strings.Contains(stacks, "internal/shopper.Run") {
		t.Fatalf("a provisioned config that is not running has a scheduler:\n%s", stacks)
	}

	app := &App{ctx: testContext(t)}
	app.add(h)
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	target := targetsByBackend(h)["b"]
	timeout := time.After(10 * time.Second)
	visited := func(what string) {
		t.Helper()
		select {
		case <-visits:
		case <-timeout:
			t.Fatalf("no visit: %s", what)
		}
		waitFor(t, 10*time.Second, func() error {
			if target.running.Load() {
				return fmt.Errorf("the run of %s is still under way", what)
			}
			return nil
		})
	}
	visited("the interval under way when the config starts to run")
	clock.WaitForTimers(1, nil)
	clock.Advance(600 * time.Millisecond)
	visited("the next interval")
	clock.WaitForTimers(1, nil)
	clock.Advance(time.Second)
	visited("the interval after")
	if err := app.Stop(); err != nil {
		t.Fatal(err)
	}
	if run := target.last.Load(); run == nil || run.Result != resultPass {
		t.Errorf("latest run %+v", run)
	}
	clock.Advance(time.Hour)
	if stacks := goroutines(); strings.Contains(stacks, "(*shopper)") || strings.Contains(stacks, "internal/shopper.Run") {
		t.Errorf("a shopper goroutine outlived Stop:\n%s", stacks)
	}
	select {
	case <-visits:
		t.Errorf("shopped after Stop")
	default:
	}
}

func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// With Redis, each backend is shopped once per interval however many
// instances (here: handlers) run the probe.
func TestShopperOncePerIntervalAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	var mode atomic.Int32
	vendor := shopVendor(t, &mode)
	site := `
		brand Acme
		session {
			redis ` + srv.URL() + `
			cookie s
		}
		journey fleet /j* {
			probe p {
				every 1s
				step GET /j
			}
			backend b {
				owner outsourced
				vendor V
				to ` + vendor.addr() + `
			}
		}`
	a := provisionHandler(t, site, monday10)
	b := provisionHandler(t, site, monday10)
	a.shopper.stop()
	b.shopper.stop()
	ctx := context.Background()
	slot := time.Now().UnixNano() / int64(time.Second)
	ta, tb := targetsByBackend(a)["b"], targetsByBackend(b)["b"]
	a.shopper.instance, b.shopper.instance = "gw-a", "gw-b"
	for i := int64(0); i < 5; i++ {
		a.shopper.launch(ctx, ta, slot+i)
		b.shopper.launch(ctx, tb, slot+i)
		a.shopper.runs.Wait()
		b.shopper.runs.Wait()
	}
	if n := len(vendor.requests()); n != 5 {
		t.Errorf("5 intervals, 2 instances: the vendor was shopped %d times", n)
	}
	// Each instance knows the fleet's latest run, whoever made it.
	a.shopper.adopt(ctx, ta)
	b.shopper.adopt(ctx, tb)
	ra, rb := ta.last.Load(), tb.last.Load()
	if ra == nil || rb == nil || !ra.Time.Equal(rb.Time) || ra.RanBy != rb.RanBy {
		t.Errorf("instances disagree on the latest run: %+v and %+v", ra, rb)
	}
}

func TestShopRecorderKeepsHeadAndTail(t *testing.T) {
	w := newShopRecorder()
	w.WriteHeader(http.StatusEarlyHints)
	chunk := strings.Repeat("x", 64<<10)
	for i := 0; i < 40; i++ {
		w.Write([]byte(chunk))
	}
	w.Write([]byte("<footer>end</footer>"))
	status, _ := w.result()
	body := w.decodedBody()
	if status != 200 {
		t.Errorf("status %d: a 103 is not the answer", status)
	}
	if len(body) > shopBodyHead+shopBodyTail+3 || !strings.HasSuffix(string(body), "<footer>end</footer>") {
		t.Errorf("kept %d bytes, ending %q", len(body), body[len(body)-30:])
	}
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
	s := &shopper{h: h, server: &caddyhttp.Server{Listen: []string{":8443"}, Routes: routes}}
	if host, https := s.siteHost(); host != "shop.example.com:8443" || https {
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

// With the session store down, each instance shops on its own, and a
// backend is not blamed for not knowing a customer frontdoor could not
// look up.
func TestShopperWithRedisDown(t *testing.T) {
	var mode atomic.Int32
	vendor := shopVendor(t, &mode)
	care := shopVendor(t, &mode)
	h := shopperHandler(t, "redis://"+refusedAddr(t)+"/0", vendor.addr(), care.addr())
	h.shopper.stop()
	target := targetsByBackend(h)["nightdesk"]
	h.shopper.launch(context.Background(), target, time.Now().UnixNano()/int64(time.Hour))
	h.shopper.runs.Wait()
	run := target.last.Load()
	if run == nil || run.Result != resultPass {
		t.Fatalf("run with Redis down: %+v", run)
	}
	if got := vendor.requests()[0].Header.Get("X-Frontdoor-Session"); got != "unavailable" {
		t.Errorf("vendor got X-Frontdoor-Session %q", got)
	}
}

// TestStepFormBodyIsEncoded: a step's form body is written as it reads
// ("message=Where is my order?") and sent form-encoded, as a browser
// submits the form; a JSON body is sent as written.
func TestStepFormBodyIsEncoded(t *testing.T) {
	for _, c := range []struct{ written, sent, contentType string }{
		{"message=Where is my order?&order=A&B", "message=Where+is+my+order%3F&order=A&B", "application/x-www-form-urlencoded"},
		{"name=Zoë & Co", "name=Zo%C3%AB+&+Co", "application/x-www-form-urlencoded"},
		{"q=50%", "q=50%25", "application/x-www-form-urlencoded"},
		{`{"message":"a b"}`, `{"message":"a b"}`, "application/json"},
	} {
		sent, contentType := stepBody(c.written)
		if sent != c.sent || contentType != c.contentType {
			t.Errorf("stepBody(%q) = %q, %s; want %q, %s", c.written, sent, contentType, c.sent, c.contentType)
		}
	}
}
