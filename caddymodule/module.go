// Package caddymodule is the frontdoor Caddy HTTP handler: it claims the
// request paths of each customer journey, picks the backend that should
// serve it (by order, business hours, health and failover), hands the
// request to that backend's Caddy reverse proxy with the brand's headers,
// and keeps vendor branding out of the customer's response.
package caddymodule

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/assertion"
	"github.com/frontdoor-dev/frontdoor/internal/banner"
	"github.com/frontdoor-dev/frontdoor/internal/errorpage"
	"github.com/frontdoor-dev/frontdoor/internal/feedback"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/handoff"
	"github.com/frontdoor-dev/frontdoor/internal/session"
	"github.com/frontdoor-dev/frontdoor/internal/shopper"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler routes customer journeys to in-house and outsourced backends
// under one brand. Requests whose path no journey claims pass to the next
// handler untouched (except that client-sent X-Frontdoor-* headers are
// always removed).
type Handler struct {
	// Brand is the name customers know, sent to every backend as
	// X-Frontdoor-Brand and shown on banners and error pages. Required.
	Brand string `json:"brand"`

	// Contact is the brand's single support contact, sent to every backend
	// as X-Frontdoor-Support-Contact and shown to customers. Default: none.
	Contact config.Contact `json:"contact,omitempty"`

	// Journeys are the parts of the customer journey this handler routes,
	// matched in the order written; the first whose paths match the
	// request claims it. Required.
	Journeys []*config.Journey `json:"journeys"`

	// Session configures the customer-context lookup. Default: no context;
	// backends receive X-Frontdoor-Session: none.
	Session *SessionConfig `json:"session,omitempty"`

	// Assertion configures the signed X-Frontdoor-Assertion every backend
	// receives. Default: signed with an ES256 key frontdoor makes at first
	// start and keeps in Caddy's storage (published to the fleet through the
	// session Redis), valid for 2m, one token reused for the same claims
	// for 30s.
	Assertion *AssertionConfig `json:"assertion,omitempty"`

	// BannerTemplate is a file holding the html/template of the brand banner
	// shown on HTML pages of backends with the banner on. It may use
	// {{.Brand}}, {{.Phone}}, {{.Email}}, {{.URL}} and {{.Reference}}; its
	// <style> text must not depend on them, so that a vendor's strict
	// Content-Security-Policy can allow it by hash. Default: a built-in
	// accessible banner fixed to the bottom of the page.
	BannerTemplate string `json:"banner_template,omitempty"`

	// ErrorTemplate is a file holding the html/template of the brand error
	// page shown instead of a vendor's 5xx, a refused connection (502) or
	// a timeout (504). It may use the banner's fields plus {{.Status}},
	// {{.Message}} and {{.Journey}}. Default: a built-in page.
	ErrorTemplate string `json:"error_template,omitempty"`

	compiledConfig   // what Provision compiles from the config
	sharedHandles    // what the handler holds of state that outlives its config
	handlerLifecycle // where the handler is in its config's life

	// Test hooks.

	// now is the clock used for business hours; tests replace it.
	now func() time.Time
}

// compiledConfig is what Provision makes of the handler's config, read
// only once provisioned, and the config's own state (recent errors):
// dropped with the config.
type compiledConfig struct {
	routes            []*journeyRoute
	journeyDefs       map[string][]byte // each journey as configured, by name: one name is one journey (journeynames.go)
	contactHeader     string
	sessionKey        string                  // key template of the session hash
	tossableCookie    string                  // the session cookie, if another host may write it (see cookietoss.go)
	vendorCookies     brandCookies            // never sent to outsourced backends; canonical names (brandCookieNames)
	jars              map[string]bool         // the ids of this config's vendor cookie jars
	ttl               time.Duration           // of assertions
	jwksMaxAge        time.Duration           // asked of vendors caching the keys
	tokens            *tokenCache             // nil unless assertions are reused
	bannerPage        *banner.Bound           // the banner with the request reference still to be put in
	bannerRate        *banner.Bound           // the banner with the rating link, its token still to be put in
	bannerEscalate    *banner.Bound           // the banner with the escalation and rating links
	bannerStyleHashes []string                // for vendors' Content-Security-Policy
	errorTemplate     *errorpage.Template     // the brand error page
	origins           map[string]*originRoute // vendor origins by host; nil: none
	brandHost         string                  // where an origin sends customers back
	handoffs          *handoff.Store          // nil without a session store
	shopper           *shopper.Shopper        // nil without probes
	errors            *recentErrors           // for the status endpoint
	logger            *zap.Logger
	lookupLog         *zap.Logger // the logger, at most one line per failure kind per interval
}

// sharedHandles are the handler's handles to state that outlives its
// config (process.go lists it), taken in Provision and let go by release,
// in Cleanup.
type sharedHandles struct {
	shared          []string // keys of what the handler holds in processPool
	store           *session.Store
	breaker         *session.Breaker // of the session Redis, shared by every handler using it; nil without
	redis           redis.UniversalClient
	board           *fleet.Board               // live overrides: fleet-wide with Redis, else this process's
	trail           *fleet.Trail               // nil without Redis
	contacts        *fleet.Contacts            // nil without Redis
	orphans         *fleet.Orphans             // nil without Redis
	fleet           *assertion.Fleet           // the fleet's keys, when a Redis is configured
	signer          *assertion.Signer          // from key files, in publishedKeys; nil when ring signs
	ring            *assertion.Ring            // keys made by frontdoor; nil with key files
	ringKey         string                     // in rings
	ringSigner      *atomic.Pointer[ttlSigner] // the ring's signer with this handler's ttl
	metrics         *metrics                   // process-wide collectors
	orphanMetrics   *orphanMetrics
	feedbackMetrics *feedbackMetrics
	feedbackKeys    *feedback.Keys // nil without Redis: no feedback links
	feedbackLedger  *feedback.Ledger
	released        bool // by release
}

// handlerLifecycle is where the handler is in its config's life.
type handlerLifecycle struct {
	app       *App          // of the handler's config
	retiredAt *atomic.Int64 // unix ns when Caddy unloaded this handler's config; 0 while live
	live      *liveStreams  // keeps the shared state while a retired config's requests and streams go on
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.frontdoor",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision validates the configuration, loads each backend's reverse
// proxy as a sub-module and compiles journeys into routes.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.retiredAt = new(atomic.Int64)
	h.live = &liveStreams{release: h.sharedHandles.release}
	h.errors = new(recentErrors)
	if h.now == nil {
		h.now = time.Now
	}
	onError := ""
	if h.Session != nil {
		onError = h.Session.OnError
	}
	if err := config.Validate(h.Brand, h.Contact, onError, h.Journeys); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	// Before provisioning, which fills in the reverse proxies' defaults.
	h.journeyDefs = journeyDefinitions(h.Journeys)
	app, err := appOf(ctx)
	if err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	if err := app.checkJourneyNames(h); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	contactHeader, err := h.Contact.HeaderValue()
	if err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	h.contactHeader = contactHeader
	if err := h.provisionBrandPages(); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	if err := h.provisionAssertion(ctx); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	if h.Session == nil {
		if h.board, err = acquireLocalBoard(); err != nil {
			return fmt.Errorf("frontdoor: %w", err)
		}
		h.shared = append(h.shared, localBoardKey)
	}
	if h.Session != nil {
		if err := h.provisionSession(); err != nil {
			return fmt.Errorf("frontdoor: %w", err)
		}
		if tossableSession(h.Session.Cookie) {
			h.tossableCookie = h.Session.Cookie
		}
		h.vendorCookies = brandCookieNames(append([]string{h.Session.Cookie}, h.Session.StripCookies...)...)
	}

	m, err := registerMetrics(ctx)
	if err != nil {
		return err
	}
	h.metrics = m
	if h.orphanMetrics, err = registerOrphanMetrics(ctx); err != nil {
		return err
	}
	if h.feedbackMetrics, err = registerFeedbackMetrics(ctx); err != nil {
		return err
	}

	h.jars = map[string]bool{}
	for _, j := range h.Journeys {
		route, err := h.provisionJourney(ctx, j)
		if err != nil {
			return fmt.Errorf("frontdoor: journey %q: %w", j.Name, err)
		}
		h.routes = append(h.routes, route)
	}
	if err := h.provisionOrigins(ctx); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	if err := h.provisionShopper(ctx); err != nil {
		return fmt.Errorf("frontdoor: %w", err)
	}
	h.app = app
	app.add(h)
	return nil
}

func (h *Handler) provisionJourney(ctx caddy.Context, j *config.Journey) (*journeyRoute, error) {
	match := caddyhttp.MatchPath(j.Paths)
	if err := match.Provision(ctx); err != nil {
		return nil, fmt.Errorf("paths: %w", err)
	}
	route := &journeyRoute{name: j.Name, nameVar: j.Name, paths: j.Paths, match: match, fields: journeyFields(j, h.Session != nil),
		failClosed: j.OnError == "closed" || (j.OnError == "" && h.Session != nil && h.Session.OnError == "closed")}
	route.repeatWindow = time.Duration(j.RepeatWindow)
	if route.repeatWindow == 0 {
		route.repeatWindow = config.DefaultRepeatWindow
	}
	for _, c := range j.Contacts {
		paths := caddyhttp.MatchPath(c.Paths)
		if err := paths.Provision(ctx); err != nil {
			return nil, fmt.Errorf("contact paths: %w", err)
		}
		route.contacts = append(route.contacts, contactRoute{method: c.Method, paths: paths})
	}
	if len(j.Contacts) > 0 && h.Session == nil {
		h.logger.Warn("journey counts contacts but no session store is configured: contacts need the customer_id of a session; none are counted",
			zap.String("journey", j.Name))
	}
	for i, b := range j.Backends {
		schedule, err := config.Compile(b.Hours)
		if err != nil {
			return nil, fmt.Errorf("backend %q: %w", b.Name, err)
		}
		closures, err := config.CompileClosures(b.Hours, b.Closed, b.Holidays)
		if err != nil {
			return nil, fmt.Errorf("backend %q: %w", b.Name, err)
		}
		raw, err := proxyDefaults(b.ProxyRaw, len(j.Backends) > 1)
		if err != nil {
			return nil, fmt.Errorf("backend %q: %w", b.Name, err)
		}
		raw, wrapped, err := withUpstreamTransport(raw)
		if err != nil {
			return nil, fmt.Errorf("backend %q: %w", b.Name, err)
		}
		if !wrapped {
			h.logger.Warn("backend transport is not Caddy's http transport: frontdoor adds its headers, the customer's context and the assertion included, "+
				"to the request the proxy logs at debug level", zap.String("journey", j.Name), zap.String("backend", b.Name))
		}
		b.ProxyRaw = raw
		mod, err := ctx.LoadModule(b, "ProxyRaw")
		if err != nil {
			return nil, fmt.Errorf("backend %q: loading reverse proxy: %w", b.Name, err)
		}
		proxy, ok := mod.(*reverseproxy.Handler)
		if !ok {
			return nil, fmt.Errorf("backend %q: proxy handler must be reverse_proxy, not %T", b.Name, mod)
		}
		var allowRedirect []string
		if len(b.AllowRedirect) > 0 {
			allowRedirect = normalizeRedirectHosts(b.AllowRedirect)
		}
		br := &backendRoute{
			journey:       j.Name,
			name:          b.Name,
			owner:         b.Owner,
			vendor:        b.Vendor,
			first:         i == 0,
			outsourced:    b.Owner == config.Outsourced,
			banner:        b.BannerEnabled(),
			assertionOnly: b.AssertionOnly(),
			wrapped:       wrapped,
			isolate:       b.IsolateEnabled(),
			allowRedirect: allowRedirect,
			context:       newContextFields(b.Context),
			counts:        new(backendCounts),
			schedule:      schedule,
			proxy:         proxy,
			upstreams:     upstreamAuthorities(proxy),
			bodyTimeout:   b.BodyTimeout(),
			stats:         h.metrics.forBackend(j.Name, b),
			closures:      closures,
		}
		br.response = h.newResponsePolicy(j, b, br)
		h.orphanMetrics.exportAtZero(j.Name, b)
		if jar := br.response.jar; jar != nil {
			h.jars[jar.id] = true
		}
		route.backends = append(route.backends, br)
	}
	route.provisionRescue(j.Rescue)
	return route, nil
}

// Validate is called by Caddy after Provision; everything is checked there
// already, where the errors can name the journey.
func (h *Handler) Validate() error { return nil }

// Cleanup takes the handler out of its app (the app's Stop has stopped
// its secret shopper already when the config ran) and lets go of the
// shared resources it holds, once its streams still under way have ended
// (Caddy closes them after the proxy's stream_close_delay): a vendor that
// hangs up on a chat of a retired config still leaves an orphan in that
// config's Redis. The reverse proxies are sub-modules: Caddy cleans them
// up with the context.
func (h *Handler) Cleanup() error {
	if h.retiredAt != nil {
		h.retiredAt.Store(time.Now().UnixNano())
	}
	if h.app != nil {
		h.app.remove(h)
	}
	if h.live != nil {
		h.live.retire()
	} else {
		h.sharedHandles.release()
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
