package caddymodule

import (
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/config"
)

// headerStep is one rule of a backend's response policy. It may change the
// headers, and returns a status to refuse the response with (the customer
// then gets a brand error page with that status; an informational response
// is dropped), or 0 to pass it on. Steps run alike over informational,
// upgrade and final responses: whatever a final response may not carry, a
// 103 or a 101 may not carry either.
type headerStep func(p *responsePolicy, x *exchangeScope, hdr http.Header, kind responseKind) (refuse int)

// applySteps runs the policy's steps in order and stops at the first that
// refuses the response.
func (p *responsePolicy) applySteps(x *exchangeScope, hdr http.Header, kind responseKind) (refuse int) {
	for _, step := range p.steps {
		if refuse = step(p, x, hdr, kind); refuse != 0 {
			return refuse
		}
	}
	return 0
}

// stepReserved removes every header frontdoor owns (a backend cannot speak
// for frontdoor, nor declare trailers that would), and sets the customer's
// reference.
func stepReserved(p *responsePolicy, x *exchangeScope, hdr http.Header, _ responseKind) int {
	scrubReserved(hdr)
	p.dropForbiddenTrailers(hdr)
	x.values.set(hdr, headerRequest, x.requestID)
	return 0
}

// stepServiceWorker refuses a vendor's service worker script: the worker
// would outlive the vendor's page and could take over every page of the
// brand's origin.
func stepServiceWorker(p *responsePolicy, x *exchangeScope, _ http.Header, _ responseKind) int {
	if sw := x.req.Header["Service-Worker"]; len(sw) == 0 || sw[0] != "script" {
		return 0
	}
	p.logger.Warn("refused a vendor's service worker", zap.String("journey", p.journey),
		zap.String("backend", p.backend), zap.String("request_id", x.requestID))
	return http.StatusForbidden
}

// stepVendorIdentity removes the vendor's Server and X-Powered-By and
// points a Location at the vendor's own address back at the brand host.
func stepVendorIdentity(p *responsePolicy, x *exchangeScope, hdr http.Header, _ responseKind) int {
	debrand(hdr, x.req, p.upstreams, x.ownServer)
	return 0
}

// stepCookieJar moves the vendor's cookies into its jar (on its origin,
// the origin's jar), within the jar's budget, counted from what the
// request shows the browser holds: on a path the browser does not send the
// jar on, it shows nothing, and nothing new is stored. The lines the
// response had before the vendor answered are the brand's and pass. Only
// a final or upgrade response sets cookies:
// browsers ignore Set-Cookie on other 1xx responses, and other clients
// must not store it (the proxy puts the brand's lines back after one).
func stepCookieJar(p *responsePolicy, x *exchangeScope, hdr http.Header, kind responseKind) int {
	if kind == informational {
		delete(hdr, "Set-Cookie")
		return 0
	}
	brandLines, _ := x.before.values("Set-Cookie")
	inUse := x.jarInUse
	if len(hdr["Set-Cookie"]) > brandLines {
		inUse.unseen = !p.jar.sentOn(x.req.URL.EscapedPath())
	}
	p.jar.store(hdr, brandLines, inUse, p.stats)
	return 0
}

// originHeaders are response headers that act on the whole origin, not
// on the response they come with: a vendor sending them would act as the
// brand. Clear-Site-Data wipes every cookie and storage of the origin
// (logging the customer out of the brand); Service-Worker-Allowed widens
// a worker's scope beyond the vendor's paths; Strict-Transport-Security
// and Alt-Svc change how the browser reaches the brand host; NEL and
// Report-To would have the browser report the brand's requests to the
// vendor for as long as the vendor asks.
var originHeaders = []string{"Clear-Site-Data", "Service-Worker-Allowed", "Strict-Transport-Security", "Alt-Svc", "Nel", "Report-To"}

// stepOriginHeaders removes the values of originHeaders a vendor added,
// keeping those the brand's response had before (Caddy's own Alt-Svc, the
// brand's HSTS).
func stepOriginHeaders(_ *responsePolicy, x *exchangeScope, hdr http.Header, _ responseKind) int {
	for _, name := range originHeaders {
		values, ok := hdr[name]
		if !ok {
			continue
		}
		n, _ := x.before.values(name)
		if n == 0 {
			delete(hdr, name)
		} else if len(values) > n {
			hdr[name] = values[:n:n]
		}
	}
	return 0
}

// stepRedirects refuses a response whose Location or Refresh would send
// the customer to a host allow_redirect does not list, and counts every
// offsite one. A Location is judged on every final response, not only on
// a redirect. On a 1xx neither means anything to a browser, and other
// clients would follow them unchecked: they are removed.
func stepRedirects(p *responsePolicy, x *exchangeScope, hdr http.Header, kind responseKind) int {
	if len(hdr["Location"]) == 0 && len(hdr["Refresh"]) == 0 {
		return 0
	}
	if kind == informational {
		delete(hdr, "Location")
		delete(hdr, "Refresh")
		return 0
	}
	if !p.redirectsAllowed(x, hdr) {
		return http.StatusBadGateway
	}
	return 0
}

// stepIsolate adds the sandbox policy to every response of an isolated
// backend, not only to HTML: SVG, XML and any type a browser may render
// as a document would otherwise run the backend's scripts in the brand's
// origin. A policy does nothing to responses that are not documents. It
// comes in addition to the backend's own policies, which cannot loosen it.
func stepIsolate(p *responsePolicy, x *exchangeScope, hdr http.Header, _ responseKind) int {
	if p.onOrigin {
		return 0 // the browser isolates the vendor's own origin
	}
	const name = "Content-Security-Policy"
	if existing := hdr[name]; len(existing) > 0 {
		hdr[name] = append(existing, config.IsolationPolicy)
		return 0
	}
	x.values.set(hdr, name, config.IsolationPolicy)
	return 0
}

// trailerForbidden reports whether a vendor may not send a field as a
// trailer: whatever a step polices in headers (frontdoor's own fields,
// cookies, the vendor's identity, redirects, origin-wide fields and the
// policies isolation relies on) is never let in after the body, where no
// step would see it.
func (p *responsePolicy) trailerForbidden(name string) bool {
	if isReservedHeader(name) {
		return true
	}
	if !p.outsourced {
		return false
	}
	name = http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
	switch name {
	case "Set-Cookie", "Server", "X-Powered-By", "Location", "Refresh", "Content-Security-Policy", "Content-Type", "Content-Encoding":
		return true
	}
	for _, o := range originHeaders {
		if name == o {
			return true
		}
	}
	return false
}

// dropForbiddenTrailers keeps a backend from declaring trailers the policy
// forbids: only declared trailers are sent after the body.
func (p *responsePolicy) dropForbiddenTrailers(h http.Header) {
	declared := h["Trailer"]
	if len(declared) == 0 {
		return
	}
	var kept []string
	for _, line := range declared {
		for name := range strings.SplitSeq(line, ",") {
			if name = strings.TrimSpace(name); name != "" && !p.trailerForbidden(name) {
				kept = append(kept, name)
			}
		}
	}
	if len(kept) == 0 {
		delete(h, "Trailer")
		return
	}
	h["Trailer"] = []string{strings.Join(kept, ", ")}
}

// scrubTrailers removes the forbidden trailers the proxy added after the
// body under http.TrailerPrefix, which no declaration covers.
func (p *responsePolicy) scrubTrailers(h http.Header) {
	for key := range h {
		if name, ok := strings.CutPrefix(key, http.TrailerPrefix); ok && p.trailerForbidden(name) {
			delete(h, key)
		}
	}
}

// informational passes on a 1xx response (103 Early Hints) under the same
// steps as a final one, or drops it if a step refuses it: more headers
// follow, and the final response's stand.
func (aw *attemptWriter) informational(status int) {
	hdr := aw.ResponseWriter.Header()
	if aw.policy.applySteps(aw.scope, hdr, informational) == 0 {
		aw.ResponseWriter.WriteHeader(status)
	}
}
