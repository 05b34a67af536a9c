package caddymodule

import (
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/banner"
	"github.com/frontdoor-dev/frontdoor/internal/feedback"
)

// responsePolicy is everything one backend's responses go through on their
// way to the customer, compiled once when the config is provisioned: the
// header steps in order, the cookie jar, the banner, and where what it
// sees is counted and logged. The response writer holds a policy, never
// the Handler: what a vendor's answer can do is decided here and nowhere
// else.
type responsePolicy struct {
	journey, backend string
	owner            config.Owner
	outsourced       bool

	// steps run in order over the headers of every response the backend
	// sends: informational (103), upgrade (101) and final alike.
	steps []headerStep

	upstreams     map[string]bool // host:port of every static upstream, for Location rewriting
	jar           *cookieJar      // nil: the backend's cookies are the brand's (in-house)
	allowRedirect []string        // nil: every redirect passes (and offsite ones are counted)
	banner        *bannerPolicy   // nil: pages pass as they are
	onOrigin      bool            // the backend's own origin: its cookies are its own, no sandbox (origin.go)

	stats  *backendStats
	trail  *trailRecorder // nil: no trail (no Redis, or the secret shopper's copy)
	logger *zap.Logger

	// Streams: how long a retired config's upgraded connections stay open,
	// and when this config was retired.
	streamCloseDelay time.Duration
	retiredAt        *atomic.Int64
}

// bannerPolicy is the brand banner a backend's pages get.
type bannerPolicy struct {
	page        *banner.Bound   // the banner with the request reference still to be put in
	styleHashes []string        // CSP hashes of the banner's style, for vendors' strict policies
	feedback    *bannerFeedback // nil: the banner carries no feedback links
	csp         bannerCSP       // the last vendor policy patched for the banner
}

// render is the banner of one page: the request's reference in it, and
// the feedback links minted for the customer.
func (b *bannerPolicy) render(requestID string, cc *customerContext) ([]byte, error) {
	if b.feedback == nil {
		return b.page.Render(requestID)
	}
	return b.feedback.render(requestID, cc)
}

// newResponsePolicy compiles a backend's response policy.
func (h *Handler) newResponsePolicy(j *config.Journey, b *config.Backend, route *backendRoute) *responsePolicy {
	p := &responsePolicy{
		journey:          j.Name,
		backend:          b.Name,
		owner:            b.Owner,
		outsourced:       b.Owner == config.Outsourced,
		upstreams:        route.upstreams,
		allowRedirect:    route.allowRedirect,
		stats:            route.stats,
		trail:            h.trailRecorder(),
		logger:           h.logger,
		streamCloseDelay: time.Duration(route.proxy.StreamCloseDelay),
		retiredAt:        h.retiredAt,
	}
	if p.outsourced {
		p.jar = newCookieJar(j, b)
	}
	if b.BannerEnabled() {
		// A vendor kept on the brand host without isolation runs as the
		// brand: its script could read the links' tokens and submit them
		// as the customer's own answer (a same-origin, user-activated
		// navigation once the customer clicks anything of its page). Its
		// banner carries the contact only; on its own origin (below) the
		// browser isolates it.
		p.banner = h.bannerFor(j, b, !p.outsourced || b.IsolateEnabled())
	}
	p.steps = append(p.steps, stepReserved)
	if p.outsourced {
		p.steps = append(p.steps, stepServiceWorker, stepVendorIdentity, stepCookieJar, stepOriginHeaders)
	}
	p.steps = append(p.steps, stepRedirects)
	if b.IsolateEnabled() {
		p.steps = append(p.steps, stepIsolate)
	}
	return p
}

// bannerFor is the banner policy of a backend's pages, with the feedback
// links or without.
func (h *Handler) bannerFor(j *config.Journey, b *config.Backend, withFeedback bool) *bannerPolicy {
	p := &bannerPolicy{page: h.bannerPage, styleHashes: h.bannerStyleHashes}
	if withFeedback {
		p.feedback = h.feedbackFor(j.Name, j.Rescue != nil && j.Rescue.Backend != b.Name, b.Name)
	}
	return p
}

// trailRecorder is the handler's writer of backend notes, for its policies.
func (h *Handler) trailRecorder() *trailRecorder {
	return &trailRecorder{trail: h.trail, sessionKey: h.sessionKey, metrics: h.metrics}
}

// forShopper is the policy of the secret shopper's copy of a backend: the
// same steps, with stats that count nothing (backendStats.uncounted) and
// written to no customer's trail.
func (p *responsePolicy) forShopper(stats *backendStats) *responsePolicy {
	c := *p
	c.stats = stats
	c.trail = nil
	if p.banner != nil && p.banner.feedback != nil {
		// The shopper's customer is nobody: no feedback links, the
		// banner it checks for.
		c.banner = &bannerPolicy{page: p.banner.page, styleHashes: p.banner.styleHashes}
	}
	return &c
}

// responseKind is which of a backend's header blocks a step looks at.
type responseKind uint8

const (
	informational responseKind = iota // 1xx other than 101: more headers follow
	upgrade                           // 101, or the 200 of an extended CONNECT: a stream follows
	final                             // the response whose body follows
)

// exchangeScope is what a header step knows of the exchange beyond the
// headers: the customer's request and what frontdoor set on it.
type exchangeScope struct {
	req       *http.Request
	requestID string
	values    *valueSlab      // the request's, for the headers a step sets
	ownServer []string        // Caddy's Server value, put back in place of a vendor's
	before    *headerSnapshot // the customer's headers before any backend answered
	jarInUse  jarUsage        // what the customer's browser holds in this backend's jar
}

// bannerFeedback is what a backend's banner needs to carry the feedback
// links: the key to mint the page's token with, what it is minted for,
// and the banner bound with both links or the rating link only.
type bannerFeedback struct {
	keys             *feedback.Keys
	journey, backend string
	escalate         *banner.Bound // nil: the journey has no one to escalate to from this backend
	rate             *banner.Bound
}

// render is the banner of a page for the customer: with the escalation
// link for a customer with a session, the rating link for anyone.
func (f *bannerFeedback) render(requestID string, cc *customerContext) ([]byte, error) {
	sessionID := ""
	if cc != nil && cc.state == sessionFound {
		sessionID = cc.sessionID
	}
	token := f.keys.Mint(sessionID, feedback.Claims{Journey: f.journey, Backend: f.backend, Ref: requestID, Minted: time.Now()})
	if f.escalate != nil && sessionID != "" {
		return f.escalate.RenderWith(requestID, token)
	}
	return f.rate.RenderWith(requestID, token)
}
