package caddymodule

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/session"
)

// journeyRoute is a journey compiled for serving.
type journeyRoute struct {
	name       string
	nameVar    any // name, boxed once for caddyhttp.SetVar
	paths      []string
	match      caddyhttp.MatchPath
	backends   []*backendRoute
	fields     *session.FieldSet // what the journey's one context lookup fetches
	failClosed bool              // a context-store failure gets a brand 503

	contacts     []contactRoute // requests that are a customer contact
	repeatWindow time.Duration
	orphanWindow time.Duration  // each orphaning is recorded once in it
	rescue       *journeyRescue // nil: orphans are routed as anyone else
}

// contactRoute matches the requests of one contact rule.
type contactRoute struct {
	method string
	paths  caddyhttp.MatchPath
}

// isContact reports whether a request is a customer contact on the journey.
func (j *journeyRoute) isContact(r *http.Request) bool {
	for _, c := range j.contacts {
		if r.Method == c.method && c.paths.Match(r) {
			return true
		}
	}
	return false
}

// backendRoute is a backend compiled for serving.
type backendRoute struct {
	journey, name string
	owner         config.Owner
	vendor        string
	first         bool // written first in its journey
	outsourced    bool
	response      *responsePolicy // what its responses go through on the way to the customer
	banner        bool            // HTML responses carry the brand banner
	assertionOnly bool            // the context travels in the signed assertion only (headers assertion)
	wrapped       bool            // its transport adds frontdoor's headers (upstreamTransport)
	isolate       bool            // responses carry the sandbox policy
	allowRedirect []string        // allow_redirect hosts, normalized; nil: every redirect passes
	context       []contextField  // session fields this backend may see
	counts        *backendCounts  // for the status endpoint
	schedule      config.Schedule
	proxy         *reverseproxy.Handler
	upstreams     map[string]bool // host:port of every static upstream, for Location rewriting
	bodyTimeout   time.Duration   // response_body_timeout; 0: none
	stats         *backendStats
	closures      *config.Closures // closed dates and holidays; nil: none
	origin        string           // its vendor origin's host; "": served on the brand host only
	onOrigin      bool             // the copy that serves its vendor origin: cookies its own, no sandbox
	visitor       *backendRoute    // the secret shopper's copy: same proxy, counts nothing; nil without probes
}

// Why a backend was chosen; these are metric label values.
const (
	reasonFirst    = "first"
	reasonHours    = "hours"
	reasonClosed   = "closed"
	reasonFailover = "failover"
	reasonOverride = "override"
)

// healthy reports whether Caddy considers at least one of the backend's
// upstreams healthy. Dynamic upstreams are not known until a request
// resolves them, so such backends count as healthy.
func (b *backendRoute) healthy() bool {
	if b.proxy.DynamicUpstreams != nil || len(b.proxy.Upstreams) == 0 {
		return true
	}
	for _, u := range b.proxy.Upstreams {
		if u.Healthy() {
			return true
		}
	}
	return false
}

// maxBackends bounds the candidate list kept on the stack; journeys with
// more backends than this still work, the list just escapes to the heap.
const maxBackends = 8

// candidate is a backend in the order it should be tried, with the reason
// it would be chosen if it serves the request.
type candidate struct {
	backend *backendRoute
	reason  string
}

// plan lists the backends to try, in order: those open (neither closed by
// a closure nor outside their hours) and healthy, as written; if every open backend is unhealthy they are all
// tried anyway, because health checks can be stale and a chance to serve
// beats a certain error. An empty plan means no backend is open now.
//
// An override puts its backend first whatever its closures, hours and health (taking
// a journey back in-house at night is what overrides are for); the normal
// plan follows it as failover.
func (j *journeyRoute) plan(now time.Time, override string, buf []candidate) []candidate {
	plan := buf[:0]
	var forced *backendRoute
	for _, b := range j.backends {
		if override != "" && b.name == override {
			forced = b
			plan = append(plan, candidate{backend: b, reason: reasonOverride})
		}
	}
	before := len(plan)
	plan, skippedUnhealthy := j.appendOpen(plan, now, forced, true)
	if len(plan) == before && skippedUnhealthy {
		plan, _ = j.appendOpen(plan, now, forced, false)
	}
	return plan
}

// appendOpen appends the backends open at now, in order, except skip, and
// only healthy ones if onlyHealthy; it reports whether any open backend
// was left out as unhealthy.
func (j *journeyRoute) appendOpen(plan []candidate, now time.Time, skip *backendRoute, onlyHealthy bool) ([]candidate, bool) {
	skippedHours, skippedClosed, skippedUnhealthy := false, false, false
	for _, b := range j.backends {
		if b == skip {
			continue
		}
		// Closures first: a holiday closes a backend whatever its hours.
		if _, closed := b.closures.At(now); closed {
			skippedClosed = true
			continue
		}
		if !b.schedule.Open(now) {
			skippedHours = true
			continue
		}
		if onlyHealthy && !b.healthy() {
			skippedUnhealthy = true
			continue
		}
		plan = append(plan, candidate{backend: b, reason: reasonFor(b, skippedHours, skippedClosed, skippedUnhealthy || len(plan) > 0)})
	}
	return plan, skippedUnhealthy
}

// reasonFor names why b is tried: failover when a backend before it was
// skipped as unhealthy or tried and failed (an overridden one included),
// first when it is the journey's first, closed when a backend before it
// was skipped for a closure, hours when only backends outside their hours
// were skipped before it.
func reasonFor(b *backendRoute, skippedHours, skippedClosed, failedOver bool) string {
	switch {
	case failedOver:
		return reasonFailover
	case b.first:
		return reasonFirst
	case skippedClosed:
		return reasonClosed
	case skippedHours:
		return reasonHours
	}
	return reasonFirst
}

// openAt reports whether b takes traffic at now by its closures and hours
// (an override aside) and, when a closure shuts it, why.
func (b *backendRoute) openAt(now time.Time) (open bool, closedReason string) {
	if reason, closed := b.closures.At(now); closed {
		return false, reason
	}
	return b.schedule.Open(now), ""
}

// upstreamAuthorities collects host:port of the proxy's static upstreams.
func upstreamAuthorities(p *reverseproxy.Handler) map[string]bool {
	set := make(map[string]bool, len(p.Upstreams))
	for _, u := range p.Upstreams {
		host, port, err := net.SplitHostPort(u.Dial)
		if err != nil {
			continue
		}
		set[net.JoinHostPort(canonicalHost(host), port)] = true
	}
	return set
}

// match returns the journey claiming the request, or nil. A path that
// hides a dot segment behind an encoded slash is refused first.
func (h *Handler) match(r *http.Request) (*journeyRoute, error) {
	if hidesDotSegment(r.URL) {
		return nil, fmt.Errorf("path %q hides a dot segment behind an encoded slash", r.URL.EscapedPath())
	}
	for _, j := range h.routes {
		ok, err := j.match.MatchWithError(r)
		if err != nil {
			return nil, fmt.Errorf("matching journey %q: %w", j.name, err)
		}
		if ok {
			return j, nil
		}
	}
	return nil, nil
}

// hidesDotSegment reports whether a request path has a dot segment ("."
// or "..") once decoded, while it holds an encoded slash or backslash
// (%2F, %5C, any case). Journeys are matched on Caddy's view, the decoded
// path cleaned: /checkout/..%2fsupport/x is /support/x. The browser's view
// is the path as written with its dot segments resolved, and it does not
// decode %2F: "..%2fsupport" is one segment, the page is under /checkout,
// and it sends that journey's path-scoped cookies, which a journey of
// another owner would receive. Browsers resolve every dot segment they see
// (%2E ones too) before sending, so the two views can only part where
// decoding an encoded slash makes a dot segment; a backslash counts as a
// slash because browsers and many servers read one so. No browser sends
// such a path from a link it resolved: refusing every one is sound and
// needs no second match.
func hidesDotSegment(u *url.URL) bool {
	if !hasEncodedSlash(u.EscapedPath()) {
		return false
	}
	for seg := range strings.FieldsFuncSeq(u.Path, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// hasEncodedSlash reports whether an escaped path holds %2F or %5C, in
// any case.
func hasEncodedSlash(escaped string) bool {
	for i := 0; i+2 < len(escaped); i++ {
		if escaped[i] != '%' {
			continue
		}
		if a, b := escaped[i+1], escaped[i+2]|0x20; a == '2' && b == 'f' || a == '5' && b == 'c' {
			return true
		}
	}
	return false
}
