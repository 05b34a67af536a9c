package caddymodule

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/accept"
	"github.com/frontdoor-dev/frontdoor/internal/handoff"
	"github.com/frontdoor-dev/frontdoor/internal/session"
	"github.com/frontdoor-dev/frontdoor/internal/shopper"
)

// Vendor origins.
//
// A backend with an origin gets a brand subdomain of its own, served by
// this handler: the browser's same-origin policy then keeps the vendor's
// scripts away from the brand's cookies and pages, so its app can run
// unsandboxed with cookies and storage of its own. Navigations on the
// brand host that route to it are sent there; on the origin every request
// goes to it, and when routing no longer picks it navigations go back to
// the brand host. The customer's context follows through a handoff
// (handoff.go): the origin never sees the brand's session cookie.

// originRoute is a vendor origin compiled for serving.
type originRoute struct {
	host    string        // normalized host name
	journey *journeyRoute // the journey of its backend
	backend *backendRoute // the backend as routing knows it
	served  *backendRoute // its copy that serves the origin: cookies its own, no sandbox
}

// provisionOrigins compiles the backends' origins, checking each against
// the hosts the enclosing site serves, which also names the brand host
// customers are sent back to.
func (h *Handler) provisionOrigins(ctx caddy.Context) error {
	origins := map[string]*originRoute{}
	for i, j := range h.Journeys {
		route := h.routes[i]
		for k, b := range j.Backends {
			if b.Origin == "" {
				continue
			}
			br := route.backends[k]
			br.origin = config.NormalizeHost(b.Origin)
			served := *br
			served.onOrigin = true
			served.isolate = false // the browser isolates the origin
			policy := *br.response
			policy.onOrigin = true
			policy.jar = br.response.jar.forOrigin()
			if policy.banner != nil && policy.banner.feedback == nil {
				// Isolated by the browser here, the vendor gets the
				// feedback links its brand-host pages may lack.
				policy.banner = h.bannerFor(j, b, true)
			}
			served.response = &policy
			origins[br.origin] = &originRoute{host: br.origin, journey: route, backend: br, served: &served}
		}
	}
	if len(origins) == 0 {
		return nil
	}
	hosts, err := siteHosts(ctx, h.Journeys)
	if err != nil {
		return err
	}
	for _, j := range h.Journeys {
		for _, b := range j.Backends {
			if b.Origin == "" {
				continue
			}
			if !hostAllowed(config.NormalizeHost(b.Origin), hosts) {
				return fmt.Errorf("journey %q, backend %q: origin %q is not an address of this site (it serves %s): add it to the site's addresses, e.g. %s, %s {",
					j.Name, b.Name, b.Origin, strings.Join(hosts, ", "), firstOr(hosts, "shop.example.com"), b.Origin)
			}
		}
	}
	for _, host := range hosts {
		if origins[host] == nil && !strings.Contains(host, "*") {
			h.brandHost = host
			break
		}
	}
	if h.brandHost == "" {
		return fmt.Errorf("a site with vendor origins needs an address that is the brand host, besides the origins (it serves %s)", strings.Join(hosts, ", "))
	}
	h.origins = origins
	if h.Session != nil && tossableSession(h.Session.Cookie) {
		// Not refused: a __Host- cookie needs HTTPS, which a test site
		// or a site behind a TLS-terminating proxy may not see.
		h.logger.Warn("scripts on a vendor origin can plant a cookie named like the brand's session cookie for the brand host, and log a customer who is not logged in into the session they chose; name the brand's session cookie with the __Host- prefix (HTTPS) so that only the brand host can set it",
			zap.String("cookie", h.Session.Cookie), zap.String("origin", firstOrigin(origins)))
	}
	if h.redis != nil {
		// Resolving an origin session is on the path of every request on
		// the origin: it fails fast, as context lookups do, while Redis
		// does not answer.
		h.handoffs = handoff.NewGuardedStore(h.redis, "", h.breaker)
	} else {
		h.logger.Warn("vendor origins without a session store: customers reach them as anonymous")
	}
	return nil
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// siteHosts returns the host names the site around this handler serves,
// normalized as normalizeRedirectHosts writes them. Caddy gives a handler
// no view of the route it is in, but while a handler is provisioned the
// http app's routes have their matchers loaded and the route being
// provisioned (and only those after it) still has its handlers as JSON:
// the site is the route whose JSON holds a frontdoor handler with the
// same origins. Should two such routes be waiting (one config in two
// sites), only the hosts both serve count.
func siteHosts(ctx caddy.Context, journeys []*config.Journey) ([]string, error) {
	appIface, err := ctx.AppIfConfigured("http")
	if err != nil {
		return nil, fmt.Errorf("vendor origins need the site's addresses: %w", err)
	}
	app, ok := appIface.(*caddyhttp.App)
	if !ok {
		return nil, fmt.Errorf("vendor origins need the site's addresses: http app is %T", appIface)
	}
	want := originsFingerprint(journeys)
	var hosts []string
	found := false
	for _, srv := range app.Servers {
		for _, route := range srv.Routes {
			if route.HandlersRaw == nil || !rawHoldsOrigins(route.HandlersRaw, want) {
				continue
			}
			routeHosts := matcherHosts(route.MatcherSets)
			if len(routeHosts) == 0 {
				return nil, fmt.Errorf("vendor origins need a site with host names (e.g. shop.example.com, help.shop.example.com {), not one that serves any host")
			}
			if !found {
				hosts, found = routeHosts, true
				continue
			}
			hosts = slices.DeleteFunc(hosts, func(h string) bool { return !slices.Contains(routeHosts, h) })
		}
	}
	if !found {
		return nil, fmt.Errorf("vendor origins need the site's addresses: the route of this frontdoor handler was not found")
	}
	return hosts, nil
}

// matcherHosts collects the host names of a route's host matchers.
func matcherHosts(sets caddyhttp.MatcherSets) []string {
	var hosts []string
	for _, set := range sets {
		for _, m := range set {
			switch mh := m.(type) {
			case caddyhttp.MatchHost:
				hosts = append(hosts, mh...)
			case *caddyhttp.MatchHost:
				hosts = append(hosts, (*mh)...)
			}
		}
	}
	return normalizeRedirectHosts(hosts)
}

// originsFingerprint names a handler's origins: journey, backend and host
// of each, in order.
func originsFingerprint(journeys []*config.Journey) string {
	var b strings.Builder
	for _, j := range journeys {
		for _, be := range j.Backends {
			if be.Origin != "" {
				fmt.Fprintf(&b, "%s/%s=%s;", j.Name, be.Name, config.NormalizeHost(be.Origin))
			}
		}
	}
	return b.String()
}

// rawHoldsOrigins reports whether handler JSON holds, at any depth, a
// frontdoor handler with the given origins fingerprint.
func rawHoldsOrigins(raws []json.RawMessage, want string) bool {
	for _, raw := range raws {
		var v any
		if json.Unmarshal(raw, &v) == nil && holdsOrigins(v, want) {
			return true
		}
	}
	return false
}

func holdsOrigins(v any, want string) bool {
	switch v := v.(type) {
	case map[string]any:
		if v["handler"] == "frontdoor" {
			raw, _ := json.Marshal(v)
			var h struct {
				Journeys []*config.Journey `json:"journeys"`
			}
			if json.Unmarshal(raw, &h) == nil && originsFingerprint(h.Journeys) == want {
				return true
			}
		}
		for _, e := range v {
			if holdsOrigins(e, want) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if holdsOrigins(e, want) {
				return true
			}
		}
	}
	return false
}

// originOf returns the vendor origin a request is for, or nil.
func (h *Handler) originOf(r *http.Request) *originRoute {
	if h.origins == nil {
		return nil
	}
	host := r.Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	return h.origins[config.NormalizeHost(host)]
}

// isNavigation reports whether a request loads a document the customer
// will see: a GET or HEAD whose Sec-Fetch-Mode is navigate or, from a
// client that sends no fetch metadata, that accepts HTML.
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	if r.Header.Get("Sec-Fetch-Dest") != "" || r.Header.Get("Sec-Fetch-Site") != "" {
		return false
	}
	for _, v := range r.Header["Accept"] {
		for part := range strings.SplitSeq(v, ",") {
			mediaRange, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if strings.EqualFold(strings.TrimSpace(mediaRange), "text/html") {
				q, ok := accept.Quality(params)
				return ok && q > 0
			}
		}
	}
	return false
}

// redirectTo sends the customer to the same path and query on host.
func redirectTo(w http.ResponseWriter, r *http.Request, host string) {
	target := hostURL(r, host) + safePath(r.URL.RequestURI())
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// routeOrigins applies the origins to a request's plan: on the brand host
// a navigation that routes to a backend with an origin goes there; on an
// origin only its backend serves (as its served copy), and when routing
// does not pick it a navigation goes back to the brand host and anything
// else gets a brand 503. It reports true when it answered the request.
func (h *Handler) routeOrigins(w http.ResponseWriter, r *http.Request, origin *originRoute, plan []candidate, requestID string) ([]candidate, bool) {
	if origin == nil {
		if len(plan) > 0 && plan[0].backend.origin != "" && isNavigation(r) && shopper.VisitOf(r.Context()) == nil {
			redirectTo(w, r, plan[0].backend.origin)
			return nil, true
		}
		return plan, false
	}
	if r.URL.Path == escalatePath || r.URL.Path == ratePath {
		// The banner's feedback links lead here too, relative as they
		// are: the pages are the brand's, and the token is bound to the
		// brand session only the brand host receives. The vendor never
		// sees it.
		redirectTo(w, r, h.brandHost)
		return nil, true
	}
	if len(plan) > 0 && plan[0].backend == origin.backend {
		return append(plan[:0], candidate{backend: origin.served, reason: plan[0].reason}), false
	}
	h.leaveOrigin(w, r, origin, requestID)
	return nil, true
}

// leaveOrigin answers a request on an origin whose backend routing does
// not pick now (an override, its hours, a rescue): a navigation goes back
// to the brand host, anything else gets the brand 503 page. No other
// backend answers on the vendor's origin, where the vendor's scripts would
// read it.
func (h *Handler) leaveOrigin(w http.ResponseWriter, r *http.Request, origin *originRoute, requestID string) {
	if isNavigation(r) {
		redirectTo(w, r, h.brandHost)
		return
	}
	if c := h.logger.Check(zapcore.DebugLevel, "vendor origin not routed to its backend now"); c != nil {
		c.Write(zap.String("journey", origin.journey.name), zap.String("backend", origin.backend.name),
			zap.String("request_id", requestID))
	}
	h.brandError(w, r, origin.journey.name, origin.backend.name, http.StatusServiceUnavailable, requestID, nil)
}

// originCustomer finds the customer of a request on an origin through its
// origin session, and starts a handoff for a navigation that has none (or
// whose brand session ended). It reports true when it answered.
func (h *Handler) originCustomer(w http.ResponseWriter, r *http.Request, j *journeyRoute, origin *originRoute) (customerContext, bool) {
	if h.handoffs == nil {
		return customerContext{state: sessionNone}, false
	}
	id := ""
	if c, err := r.Cookie(originCookieName(r, originSessionCookie)); err == nil {
		id = c.Value
	}
	brandSession, found := "", false
	if id != "" {
		ctx, cancel := context.WithTimeout(r.Context(), h.lookupTimeout())
		var err error
		brandSession, found, err = h.handoffs.Resolve(ctx, origin.host, id)
		cancel()
		if err != nil {
			if c := h.logger.Check(zapcore.DebugLevel, "origin session lookup failed"); c != nil {
				c.Write(zap.String("journey", j.name), zap.Error(err))
			}
			return customerContext{state: sessionUnavailable}, false
		}
	}
	if !found {
		if isNavigation(r) {
			h.startHandoff(w, r, origin)
			return customerContext{}, true
		}
		return customerContext{state: sessionNone}, false
	}
	if brandSession == "" {
		return customerContext{state: sessionNone}, false
	}
	cc := h.lookupSession(r, j, brandSession)
	if cc.state == sessionNone && isNavigation(r) {
		// The brand session ended (logout): ask the brand again, who may
		// know the customer under a new session or as anonymous.
		h.startHandoff(w, r, origin)
		return customerContext{}, true
	}
	return cc, false
}

// lookupTimeout bounds resolving an origin session, like a context lookup.
func (h *Handler) lookupTimeout() time.Duration {
	if t := time.Duration(h.Session.Timeout); t > 0 {
		return t
	}
	return session.DefaultTimeout
}

// startHandoff sends a navigation on the origin to the brand host for the
// customer's context.
func (h *Handler) startHandoff(w http.ResponseWriter, r *http.Request, origin *originRoute) {
	state := handoff.NewSecret()
	back := base64.RawURLEncoding.EncodeToString([]byte(safePath(r.URL.RequestURI())))
	originCookie(w, r, originStateCookie, state+"."+back, stateMaxAge)
	noStore(w)
	target := hostURL(r, h.brandHost) + handoffPath + "?origin=" + origin.host + "&state=" + state
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// firstOrigin names one of the origins, for a log line.
func firstOrigin(origins map[string]*originRoute) string {
	first := ""
	for host := range origins {
		if first == "" || host < first {
			first = host
		}
	}
	return first
}
