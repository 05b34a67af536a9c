package caddymodule

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/session"
	fdshopper "github.com/frontdoor-dev/frontdoor/internal/shopper"
)

// The secret shopper walks each probe's steps through every backend of
// its journey, on the probe's interval, by calling the handler's own
// ServeHTTP in-process: the request gets the brand's headers, the signed
// assertion, the customer context, cookie jars, the banner, de-branding
// and brand error pages exactly as a customer's would, and nothing marks
// it for the vendor. What tells it apart is a value in its context, which
// no client can set: it makes the plan the shopped backend alone and keeps
// the request out of the customer metrics, recent errors and trails.

// shopperKey keys a *shopperVisit in a request context.
type shopperKey struct{}

// shopperVisit is one shopper request's business with ServeHTTP.
type shopperVisit struct {
	journey string
	// backend is the shopped backend as the visit sees it: the customers'
	// proxy and policy, with stats that count nothing (the shopper's
	// traffic is in no customer metric, recent error or trail; its runs
	// have metrics of their own).
	backend *backendRoute

	mu        sync.Mutex
	errorPage int // status of the brand error page shown instead, if any

	// contextUnavailable is set when the shopper's own context lookup
	// failed: the backend cannot be blamed for not knowing the customer.
	contextUnavailable atomic.Bool
}

func visitOf(ctx context.Context) *shopperVisit {
	v, _ := ctx.Value(shopperKey{}).(*shopperVisit)
	return v
}

// plan is the shopped backend alone, whatever its hours, health or an
// override: every backend is shopped.
func (v *shopperVisit) plan(j *journeyRoute, buf []candidate) []candidate {
	if j.name != v.journey {
		return buf[:0]
	}
	return append(buf[:0], candidate{backend: v.backend, reason: reasonFirst})
}

func (v *shopperVisit) sawErrorPage(status int) {
	v.mu.Lock()
	v.errorPage = status
	v.mu.Unlock()
}

func (v *shopperVisit) errorPageStatus() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.errorPage
}

// Check names; these are the check label values of
// frontdoor_probe_check_failures_total.
const (
	checkStatus       = "status"
	checkBody         = "body"
	checkForbid       = "forbid"
	checkCustomer     = "customer"
	checkWithin       = "within"
	checkServerError  = "server_error"
	checkErrorPage    = "error_page"
	checkBanner       = "banner"
	checkVendorHeader = "vendor_header"
)

var allChecks = []string{checkStatus, checkBody, checkForbid, checkCustomer, checkWithin,
	checkServerError, checkErrorPage, checkBanner, checkVendorHeader}

// ProbeRun is the outcome of one probe run against one backend, as the
// status endpoint shows it.
type ProbeRun struct {
	Probe    string    `json:"probe"`
	Time     time.Time `json:"time"`
	Result   string    `json:"result"` // pass or fail
	Open     bool      `json:"open"`   // the backend was open by its hours
	Duration float64   `json:"duration_seconds"`
	// Failed are the checks the failing step failed; the run stops there.
	Failed    []CheckFailure `json:"failed_checks,omitempty"`
	Step      string         `json:"step,omitempty"`       // the failing step, e.g. "GET /support/help"
	Status    int            `json:"status,omitempty"`     // the failing step's status
	RequestID string         `json:"request_id,omitempty"` // its X-Request-Id, as the backend got it
	RanBy     string         `json:"ran_by,omitempty"`     // the instance that ran it
}

// CheckFailure is one failed check of a step.
type CheckFailure struct {
	Check  string `json:"check"`
	Detail string `json:"detail"`
}

// probeRoute is a probe compiled for running.
type probeRoute struct {
	journey   *journeyRoute
	name      string
	every     time.Duration
	customer  map[string]string
	sessionID string      // reserved for the synthetic customer; "" without one
	writeFail atomic.Bool // the latest write of the customer failed
	steps     []*stepRoute
	targets   []*probeTarget
}

type stepRoute struct {
	cfg        *config.Step
	url        *url.URL // path and query
	expectBody []*regexp.Regexp
	forbid     []*regexp.Regexp
}

// probeTarget is a probe against one backend, with its latest outcome.
type probeTarget struct {
	probe   *probeRoute
	backend *backendRoute // the customers'
	visitor *backendRoute // the visit's copy: same proxy, uncounted stats
	within  []time.Duration
	sees    map[string]bool // context fields the backend may see
	stats   *probeStats
	running atomic.Bool
	last    atomic.Pointer[ProbeRun]
}

func (t *probeTarget) key() string {
	return t.probe.journey.name + ":" + t.probe.name + ":" + t.backend.name
}

// shopper runs a handler's probes until the handler is cleaned up.
type shopper struct {
	h        *Handler
	probes   []*probeRoute
	server   *caddyhttp.Server
	instance string
	clock    fdshopper.Clock

	hostOnce sync.Once
	host     string
	https    bool

	mu     sync.Mutex // over start and stop: the app and Cleanup may both stop
	cancel context.CancelFunc
	done   chan struct{}
	runs   sync.WaitGroup
}

// Names of the shopper's Redis keys.
const (
	probeLockPrefix   = "frontdoor:probe:"
	probeResultPrefix = "frontdoor:probe-result:"
)

// shopperSessionPrefix starts the session ids reserved for probes.
const shopperSessionPrefix = "frontdoor-shopper+"

// shopperSessionID is the session id of a probe's synthetic customer:
// '+' cannot be in a name and '_' cannot be in a session id, so
// different probes never share one.
func shopperSessionID(journey, probe string) string {
	return shopperSessionPrefix + strings.ReplaceAll(journey, "_", "~") + "+" + strings.ReplaceAll(probe, "_", "~")
}

// provisionShopper compiles the journeys' probes. It starts nothing.
func (h *Handler) provisionShopper(ctx caddy.Context) error {
	var probes []*probeRoute
	for i, j := range h.Journeys {
		route := h.routes[i]
		for _, p := range j.Probes {
			pr, err := h.compileProbe(route, j, p)
			if err != nil {
				return fmt.Errorf("journey %q, probe %q: %w", j.Name, p.Name, err)
			}
			probes = append(probes, pr)
		}
	}
	if len(probes) == 0 {
		return nil
	}
	if err := checkProbeSessions(h); err != nil {
		return err
	}
	host, _ := os.Hostname()
	s := &shopper{h: h, probes: probes, instance: host + ":" + strconv.Itoa(os.Getpid())}
	s.server, _ = ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	s.clock = fdshopper.SystemClock{}
	h.shopper = s
	return nil
}

func (h *Handler) compileProbe(route *journeyRoute, j *config.Journey, p *config.Probe) (*probeRoute, error) {
	pr := &probeRoute{journey: route, name: p.Name, every: p.Interval(), customer: p.Customer}
	if len(p.Customer) > 0 {
		pr.sessionID = shopperSessionID(j.Name, p.Name)
		if !session.ValidID(pr.sessionID) {
			return nil, fmt.Errorf("journey and probe names too long for a session id (%d bytes, at most 256)", len(pr.sessionID))
		}
	}
	for i, s := range p.Steps {
		st := &stepRoute{cfg: s}
		u, err := url.ParseRequestURI(s.Path)
		if err != nil {
			return nil, fmt.Errorf("step %d: path %q: %v", i+1, s.Path, err)
		}
		st.url = u
		req := (&http.Request{Method: s.Method, URL: u, Header: http.Header{}}).
			WithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		claimed, err := h.match(req)
		if err != nil {
			return nil, fmt.Errorf("step %d: %v", i+1, err)
		}
		if claimed != route {
			return nil, fmt.Errorf("step %d: path %s is not claimed by journey %q (paths %s): a probe shops its own journey",
				i+1, u.Path, j.Name, strings.Join(j.Paths, " "))
		}
		for _, re := range s.ExpectBody {
			st.expectBody = append(st.expectBody, regexp.MustCompile(re)) // validated
		}
		for _, re := range s.Forbid {
			st.forbid = append(st.forbid, regexp.MustCompile(re))
		}
		pr.steps = append(pr.steps, st)
	}
	for i, b := range route.backends {
		cfg := j.Backends[i]
		visitor := *b
		visitor.stats = b.stats.uncounted()
		visitor.counts = new(backendCounts)
		visitor.response = b.response.forShopper(visitor.stats)
		t := &probeTarget{probe: pr, backend: b, visitor: &visitor, sees: map[string]bool{},
			stats: h.metrics.forProbe(j.Name, cfg, p.Name)}
		for _, f := range b.context {
			t.sees[f.claim] = true
		}
		for _, s := range p.Steps {
			t.within = append(t.within, s.WithinFor(cfg))
		}
		pr.targets = append(pr.targets, t)
	}
	return pr, nil
}

// keepResults carries the latest runs over from the handlers of the config
// this one replaces, so a reload neither forgets them nor blanks the gauge.
func (s *shopper) keepResults(previous []*Handler) {
	runs := map[string]*ProbeRun{}
	for _, h := range previous {
		if h.shopper == nil {
			continue
		}
		for _, p := range h.shopper.probes {
			for _, t := range p.targets {
				if r := t.last.Load(); r != nil {
					runs[t.key()] = r
				}
			}
		}
	}
	for _, p := range s.probes {
		for _, t := range p.targets {
			if r := runs[t.key()]; r != nil {
				t.last.Store(r)
			}
		}
	}
}

// start runs the scheduler until stop, on the context of the app's config:
// it is called when that config starts to run, and Caddy cancels that
// context if it never gets to stop.
func (s *shopper) start(parent context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return // running
	}
	ctx, cancel := context.WithCancel(parent)
	s.cancel = cancel
	s.done = make(chan struct{})
	probes := make([]fdshopper.Probe, len(s.probes))
	for i, p := range s.probes {
		probes[i] = fdshopper.Probe{Every: p.every, Launch: func(ctx context.Context, slot int64) {
			for _, t := range p.targets {
				s.launch(ctx, t, slot)
			}
		}}
	}
	go func() {
		defer close(s.done)
		fdshopper.Run(ctx, s.clock, probes)
	}()
}

// stop ends the scheduler and waits for the runs under way, which the
// cancelled context cuts short: nothing of the shopper outlives its
// config's Stop, which Caddy calls before it cleans up the config's
// modules (the reverse proxies the runs go through among them).
func (s *shopper) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.runs.Wait()
	s.cancel = nil
}

// launch runs a probe against one backend for an interval, unless its
// previous run is still under way or, with Redis, another instance has
// taken this interval.
func (s *shopper) launch(ctx context.Context, t *probeTarget, slot int64) {
	if !t.running.CompareAndSwap(false, true) {
		s.h.logger.Debug("secret shopper: previous run still under way, interval skipped",
			zap.String("journey", t.probe.journey.name), zap.String("probe", t.probe.name), zap.String("backend", t.backend.name))
		return
	}
	s.runs.Add(1)
	go func() {
		defer s.runs.Done()
		defer t.running.Store(false)
		if s.h.redis != nil {
			s.adopt(ctx, t)
			if !s.claim(ctx, t, slot) {
				return
			}
		}
		run := s.shop(ctx, t)
		if ctx.Err() != nil {
			return // cut short by a reload or shutdown: not the backend's doing
		}
		s.record(ctx, t, run)
	}()
}

// claim takes the interval's lock: one instance of the fleet shops each
// backend once per interval. If Redis cannot say, this instance shops.
func (s *shopper) claim(ctx context.Context, t *probeTarget, slot int64) bool {
	key := probeLockPrefix + t.key() + ":" + strconv.FormatInt(slot, 10)
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	won, err := s.h.redis.SetNX(cctx, key, s.instance, 2*t.probe.every).Result()
	if err != nil {
		s.h.logger.Debug("secret shopper: interval lock unavailable, shopping anyway", zap.String("key", key), zap.Error(err))
		return true
	}
	return won
}

// adopt takes the fleet's latest run of the target, which another
// instance may have made, if it is newer than this instance's.
func (s *shopper) adopt(ctx context.Context, t *probeTarget) {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	raw, err := s.h.redis.Get(cctx, probeResultPrefix+t.key()).Bytes()
	if err != nil {
		return
	}
	var run ProbeRun
	if err := json.Unmarshal(raw, &run); err != nil || run.Probe != t.probe.name {
		return
	}
	if last := t.last.Load(); last == nil || run.Time.After(last.Time) {
		t.last.Store(&run)
	}
}

// record keeps a run for the status endpoint and the fleet, and counts it.
func (s *shopper) record(ctx context.Context, t *probeTarget, run *ProbeRun) {
	previous := t.last.Swap(run)
	t.stats.observe(run)
	if s.h.redis != nil {
		if raw, err := json.Marshal(run); err == nil {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			s.h.redis.Set(cctx, probeResultPrefix+t.key(), raw, 3*t.probe.every+time.Minute) //nolint:errcheck // the fleet's view is best effort
			cancel()
		}
	}
	fields := []zap.Field{zap.String("journey", t.probe.journey.name), zap.String("probe", t.probe.name),
		zap.String("backend", t.backend.name), zap.String("result", run.Result)}
	switch {
	case run.Result == resultFail:
		checks := make([]string, len(run.Failed))
		for i, f := range run.Failed {
			checks[i] = f.Check + ": " + f.Detail
		}
		fields = append(fields, zap.String("step", run.Step), zap.Strings("failed_checks", checks), zap.String("request_id", run.RequestID))
		if previous == nil || previous.Result != resultFail {
			s.h.logger.Warn("secret shopper: backend fails", fields...)
		} else {
			s.h.logger.Debug("secret shopper: backend still fails", fields...)
		}
	case previous != nil && previous.Result == resultFail:
		s.h.logger.Info("secret shopper: backend passes again", fields...)
	}
}

// Run results; the result label values of frontdoor_probe_runs_total.
const (
	resultPass = "pass"
	resultFail = "fail"
)

// runTimeout bounds a whole run: its interval, at least 10s, at most a
// minute.
func runTimeout(every time.Duration) time.Duration {
	return min(max(every, 10*time.Second), time.Minute)
}

// shop walks the probe's steps through the target backend, with a cookie
// jar of its own, and stops at the first step that fails a check.
func (s *shopper) shop(ctx context.Context, t *probeTarget) *ProbeRun {
	h, p := s.h, t.probe
	start := time.Now()
	run := &ProbeRun{Probe: p.name, Time: start, Open: t.backend.schedule.Open(h.now()), RanBy: s.instance}
	ctx, cancel := context.WithTimeout(ctx, runTimeout(p.every))
	defer cancel()

	host, https := s.siteHost()
	base := &url.URL{Scheme: "http", Host: host}
	if https {
		base.Scheme = "https"
	}
	jar, _ := cookiejar.New(nil)
	if p.sessionID != "" && h.Session != nil {
		if err := s.writeCustomer(ctx, p); err != nil {
			if !p.writeFail.Swap(true) {
				h.logger.Warn("secret shopper: writing the synthetic customer failed; shopping without it",
					zap.String("journey", p.journey.name), zap.String("probe", p.name), zap.Error(err))
			}
		} else {
			p.writeFail.Store(false)
		}
		jar.SetCookies(base, []*http.Cookie{{Name: h.Session.Cookie, Value: p.sessionID, Path: "/"}})
	}
	run.Result = resultPass
	for i, st := range p.steps {
		out := s.visit(ctx, t, st, base, https, jar)
		if failed := t.evaluate(i, st, out, h); len(failed) > 0 {
			run.Result = resultFail
			run.Failed = failed
			run.Step = st.cfg.Method + " " + st.cfg.Path
			run.Status = out.status
			run.RequestID = out.requestID
			break
		}
	}
	run.Duration = time.Since(start).Seconds()
	return run
}

// writeCustomer writes the probe's synthetic customer to the session
// store, replacing what was there, to expire some intervals after the
// probe last ran.
func (s *shopper) writeCustomer(ctx context.Context, p *probeRoute) error {
	key := session.ExpandKey(s.h.sessionKey, p.sessionID)
	values := make([]any, 0, 2*len(p.customer))
	for f, v := range p.customer {
		values = append(values, f, v)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := s.h.redis.TxPipelined(cctx, func(pipe redis.Pipeliner) error {
		pipe.Del(cctx, key)
		pipe.HSet(cctx, key, values...)
		pipe.PExpire(cctx, key, 2*p.every+time.Minute)
		return nil
	})
	return err
}

// siteHost is the host customers reach the handler's site by, from the
// host matchers of the routes leading to the handler, and whether the
// site is served over TLS.
func (s *shopper) siteHost() (string, bool) {
	s.hostOnce.Do(func() {
		s.host = "localhost"
		srv := s.server
		if srv == nil {
			return
		}
		s.https = len(srv.TLSConnPolicies) > 0
		if hosts, ok := hostsTo(srv.Routes, s.h); ok {
			for _, host := range hosts {
				if !strings.ContainsAny(host, "*{") {
					s.host = host
					break
				}
			}
		}
		if len(srv.Listen) > 0 {
			if addr, err := caddy.ParseNetworkAddress(srv.Listen[0]); err == nil && addr.StartPort != 0 {
				defaultPort := uint(80)
				if s.https {
					defaultPort = 443
				}
				if addr.StartPort != defaultPort {
					s.host += ":" + strconv.FormatUint(uint64(addr.StartPort), 10)
				}
			}
		}
	})
	return s.host, s.https
}

// hostsTo finds h in the routes, subroutes included, and returns the
// hosts of the host matchers on the way to it.
func hostsTo(routes caddyhttp.RouteList, h *Handler) ([]string, bool) {
	for _, r := range routes {
		var hosts []string
		for _, set := range r.MatcherSets {
			for _, m := range set {
				if mh, ok := m.(caddyhttp.MatchHost); ok {
					hosts = append(hosts, mh...)
				}
			}
		}
		for _, handler := range r.Handlers {
			switch x := handler.(type) {
			case *Handler:
				if x == h {
					return hosts, true
				}
			case *caddyhttp.Subroute:
				if inner, ok := hostsTo(x.Routes, h); ok {
					return append(inner, hosts...), true
				}
			}
		}
	}
	return nil, false
}

// stepOutcome is what one step got.
type stepOutcome struct {
	status    int
	header    http.Header
	body      []byte // decoded, bounded
	elapsed   time.Duration
	requestID string
	errorPage int    // status of a brand error page shown instead
	failure   string // the request did not complete: why
	timedOut  bool
	noContext bool // the session store failed the shopper's lookup
}

// Browser-like request headers: a shopper looks like a customer.
const (
	shopperUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
	shopperAccept    = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

// stepBody is what a step's body sends, and its Content-Type: JSON as
// written; otherwise a form written as it reads ("message=Where is my
// order?"), each name and value form-encoded as a browser submits them,
// in the order written.
func stepBody(written string) (body, contentType string) {
	if b := strings.TrimSpace(written); strings.HasPrefix(b, "{") || strings.HasPrefix(b, "[") {
		return written, "application/json"
	}
	fields := strings.Split(written, "&")
	for i, f := range fields {
		name, value, ok := strings.Cut(f, "=")
		fields[i] = url.QueryEscape(name)
		if ok {
			fields[i] += "=" + url.QueryEscape(value)
		}
	}
	return strings.Join(fields, "&"), "application/x-www-form-urlencoded"
}

// visit sends one step through the handler, as Caddy's server would.
func (s *shopper) visit(ctx context.Context, t *probeTarget, st *stepRoute, base *url.URL, https bool, jar http.CookieJar) (out stepOutcome) {
	u := base.ResolveReference(st.url)
	var body io.Reader
	var contentType string
	if st.cfg.Body != "" {
		var sent string
		sent, contentType = stepBody(st.cfg.Body)
		body = strings.NewReader(sent)
	}
	r, err := http.NewRequestWithContext(ctx, st.cfg.Method, u.String(), body)
	if err != nil {
		out.failure = err.Error()
		return out
	}
	if body == nil {
		r.Body = http.NoBody // as a server request has
	} else {
		r.Header.Set("Content-Type", contentType)
	}
	r.RequestURI = st.url.RequestURI()
	r.RemoteAddr = "127.0.0.1:1"
	if https {
		r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, ServerName: u.Hostname()}
	}
	r.Header.Set("User-Agent", shopperUserAgent)
	r.Header.Set("Accept", shopperAccept)
	r.Header.Set("Accept-Language", "en-US,en;q=0.5")
	r.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	for _, c := range jar.Cookies(u) {
		r.AddCookie(c)
	}
	visit := &shopperVisit{journey: t.probe.journey.name, backend: t.visitor}
	r = r.WithContext(context.WithValue(r.Context(), shopperKey{}, visit))
	w := newShopRecorder()
	srv := s.server
	if srv == nil {
		srv = &caddyhttp.Server{}
	}
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, srv)

	start := time.Now()
	err = serveShopper(s.h, w, r)
	out.elapsed = time.Since(start)
	out.status, out.header = w.result()
	out.requestID = out.header.Get(headerRequest)
	out.errorPage = visit.errorPageStatus()
	out.noContext = visit.contextUnavailable.Load()
	out.body = w.decodedBody()
	if c := (&http.Response{Header: out.header}).Cookies(); len(c) > 0 {
		jar.SetCookies(u, c)
	}
	switch {
	case ctx.Err() != nil:
		out.timedOut = true
		out.failure = "no complete answer before the run's deadline"
	case err != nil:
		// Caddy's server would answer with the error's status.
		out.failure = err.Error()
		status := http.StatusInternalServerError
		var herr caddyhttp.HandlerError
		if errors.As(err, &herr) && herr.StatusCode != 0 {
			status = herr.StatusCode
		}
		if !w.wroteHeader() {
			out.status = status
		}
	}
	return out
}

// serveShopper runs ServeHTTP, turning the panic with which a proxy aborts
// a response it cannot complete into an error.
func serveShopper(h *Handler, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = caddyhttp.Error(http.StatusBadGateway, fmt.Errorf("response aborted: %v", p))
		}
	}()
	return h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNotFound) // no journey claims the path
		return nil
	}))
}

// evaluate runs the always-on and the configured checks of step i on its
// outcome.
func (t *probeTarget) evaluate(i int, st *stepRoute, out stepOutcome, h *Handler) []CheckFailure {
	var failed []CheckFailure
	fail := func(check, format string, args ...any) {
		failed = append(failed, CheckFailure{Check: check, Detail: fmt.Sprintf(format, args...)})
	}
	within := t.within[i]
	b := t.backend
	switch {
	case out.timedOut:
		if within > 0 {
			fail(checkWithin, "no answer within %s", within)
		} else {
			fail(checkWithin, "%s", out.failure)
		}
		return failed
	case out.errorPage != 0:
		fail(checkErrorPage, "brand error page %d instead of the backend's answer", out.errorPage)
	case out.status >= 500:
		fail(checkServerError, "status %d", out.status)
	}
	if within > 0 && out.elapsed > within {
		fail(checkWithin, "answered in %s, want within %s", out.elapsed.Round(time.Millisecond), within)
	}
	if b.outsourced {
		for _, name := range []string{"Server", "X-Powered-By"} {
			if v := out.header.Get(name); v != "" {
				fail(checkVendorHeader, "%s: %q", name, truncate(v, 100))
			}
		}
	}
	if out.errorPage != 0 || out.status >= 500 {
		return failed // the page is not the backend's: nothing more to check on it
	}
	if len(st.cfg.ExpectStatus) > 0 || out.status >= 400 {
		if !st.cfg.ExpectsStatus(out.status) {
			want := "below 400"
			if len(st.cfg.ExpectStatus) > 0 {
				want = strings.Trim(fmt.Sprint(st.cfg.ExpectStatus), "[]")
			}
			fail(checkStatus, "status %d, want %s", out.status, want)
		}
	}
	for _, re := range st.expectBody {
		if !re.Match(out.body) {
			fail(checkBody, "the page does not match %q", re.String())
		}
	}
	for _, re := range st.forbid {
		if m := re.Find(out.body); m != nil {
			fail(checkForbid, "the page shows %q (forbid %q)", truncate(string(m), 100), re.String())
		}
	}
	for _, f := range st.cfg.ExpectCustomer {
		if !t.sees[f] || out.noContext {
			continue // the backend is not told it
		}
		v := t.probe.customer[f]
		if !containsText(out.body, v) {
			fail(checkCustomer, "the page does not show the customer's %s %q", f, v)
		}
	}
	if b.banner && st.cfg.Method != http.MethodHead && out.status >= 200 && out.status < 300 &&
		out.status != http.StatusNoContent && isHTML(out.header.Get("Content-Type")) {
		page, err := h.bannerPage.Render(out.requestID)
		if err == nil && !strings.Contains(string(out.body), string(page)) {
			fail(checkBanner, "the page has no brand banner")
		}
	}
	return failed
}

// containsText reports whether a page shows v, as written or HTML-escaped.
func containsText(page []byte, v string) bool {
	if v == "" {
		return true
	}
	s := string(page)
	if strings.Contains(s, v) {
		return true
	}
	return strings.Contains(s, htmlEscaper.Replace(v)) || strings.Contains(s, htmlEscaperNumeric.Replace(v))
}

var (
	htmlEscaper        = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")
	htmlEscaperNumeric = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")
)
