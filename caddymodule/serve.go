package caddymodule

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/frontdoor-dev/frontdoor/internal/accept"
	"github.com/frontdoor-dev/frontdoor/internal/assertion"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
)

// ServeHTTP routes a request claimed by a journey to its backend, and
// passes any other request to the next handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	scrubReserved(r.Header)
	guardTrailers(r)
	if r.URL.Path == assertion.JWKSPath {
		h.serveJWKS(w, r)
		return nil
	}
	origin := h.originOf(r)
	if h.origins != nil && h.serveHandoff(w, r, origin) {
		return nil
	}
	if origin == nil && h.feedbackKeys != nil && h.serveFeedback(w, r) {
		return nil
	}
	var journey *journeyRoute
	if origin != nil {
		journey = origin.journey // every path of an origin is its backend's
	} else {
		var err error
		if journey, err = h.match(r); err != nil {
			return caddyhttp.Error(http.StatusBadRequest, err)
		}
	}
	expireStrayJars(w.Header(), r.Header["Cookie"], h.jars, r.URL.Path)
	if journey == nil {
		return next.ServeHTTP(w, r)
	}

	x := newExchange()
	requestID := newRequestID()
	caddyhttp.SetVar(r.Context(), "frontdoor.request_id", requestID)
	caddyhttp.SetVar(r.Context(), "frontdoor.journey", journey.nameVar)
	x.values.set(w.Header(), headerRequest, requestID)

	now := h.now()
	override := ""
	if o, ok := h.board.Get(journey.name, now); ok {
		override = o.Backend
	}
	var buf [maxBackends]candidate
	plan := journey.plan(now, override, buf[:])
	if v := visitOf(r.Context()); v != nil {
		plan = shopperPlan(v, journey, buf[:])
	}
	if h.origins != nil {
		var answered bool
		if plan, answered = h.routeOrigins(w, r, origin, plan, requestID); answered {
			return nil
		}
	}
	if len(plan) == 0 {
		h.brandError(w, r, journey.name, "", http.StatusServiceUnavailable, requestID,
			fmt.Errorf("journey %q: no backend is open at this hour", journey.name))
		return nil
	}

	if origin != nil {
		var answered bool
		if x.customer, answered = h.originCustomer(w, r, journey, origin); answered {
			return nil
		}
	} else {
		x.customer = h.lookupContext(r, journey)
	}
	cc := &x.customer
	if cc.state == sessionUnavailable && journey.failClosed {
		h.brandError(w, r, journey.name, "", http.StatusServiceUnavailable, requestID,
			fmt.Errorf("journey %q: customer context store unavailable and on_error is closed", journey.name))
		return nil
	}
	rescue := ""
	if override == "" && journey.rescue != nil && visitOf(r.Context()) == nil {
		if v, ok := journey.rescued(cc, now); ok {
			plan, rescue = journey.rescuePlan(plan), v
		}
	}

	keepReservedHeaders(r.Header)
	x.values.set(r.Header, headerRequest, requestID)
	ownServer := w.Header()["Server"]
	canReplay := replayable(r)
	clientEncoding, hadEncoding := r.Header["Accept-Encoding"]
	clientCookies := r.Header["Cookie"]
	x.before.take(w.Header())

	for i, c := range plan {
		b := c.backend
		if i > 0 && !plan[i-1].backend.wrapped {
			x.upstream.removeFrom(r.Header)
		}
		x.upstream.reset()
		if !b.assertionOnly {
			h.addPlainHeaders(&x.upstream, journey.name, b, cc)
		}
		setRescueHeader(r.Header, &x.values, c, rescue)
		if !b.outsourced && h.feedbackKeys != nil && visitOf(r.Context()) == nil && (rescue != "" || journey.isContact(r)) {
			// The brand's own page offers "did this solve your problem?"
			// its own way after a contact or a rescue.
			x.upstream.add(headerRate, h.rateLink(journey, b, cc, requestID))
		}
		setUpstreamEncoding(r.Header, &x.values, b.banner, clientEncoding, hadEncoding)
		cookies, jarInUse := h.cookiesFor(clientCookies, b)
		if cookies != nil {
			r.Header["Cookie"] = cookies
		} else {
			delete(r.Header, "Cookie")
		}
		token, signErr := h.sign(b, journey.name, *cc, x.fields[:0])
		if signErr != nil {
			return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("signing assertion: %w", signErr))
		}
		x.upstream.add(assertion.Header, token)
		if !b.wrapped {
			x.upstream.applyTo(r.Header)
		}
		h.metrics.routed(b, c.reason)

		aw, hold, watch := &x.attempt, &x.hold, &x.watch
		if i > 0 {
			// The first attempt's proxy may still hold the first ones.
			aw, hold, watch = new(attemptWriter), new(headHold), new(bodyWatch)
		}
		scope := &x.scope
		if i > 0 {
			scope = new(exchangeScope)
		}
		*scope = exchangeScope{req: r, requestID: requestID, values: &x.values, ownServer: ownServer, before: &x.before, jarInUse: jarInUse}
		hold.reset(w)
		*aw = attemptWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: hold},
			policy: b.response, scope: scope, customer: cc}
		start := time.Now()
		aborted, err, stalled := watchAttempt(aw, watch, hold, b, r, &x.upstream, next)
		elapsed := time.Since(start)

		b.counts.requests.Add(1)
		if aw.stream != notStream {
			closedBy := aw.streamClosedBy(aborted != nil)
			h.metrics.streamEnded(b, closedBy, elapsed)
			if closedBy == closedByBackend {
				h.orphaned(r, journey, handlerOf(b), cc, fleet.CauseHungUp, requestID)
			}
		}
		var status int
		var kind string
		switch {
		case aborted != nil:
			// The proxy gave up on an answer under way (the backend hung
			// up mid-body, its body bound tripped, or the customer left)
			// and aborts with a panic.
			status, kind = classifyAbort(stalled, hold.lost || r.Context().Err() != nil)
			b.stats.upstreamError(kind)
			b.stats.observe(status, elapsed)
			if kind != "" {
				h.noteError(journey.name, b, status, kind, requestID)
			}
			if hold.passed || kind == "" {
				panic(aborted) // part of it reached the customer, or nobody is there: the server cuts the connection
			}
			// Nothing of it reached the customer: they get the brand
			// page, or the next backend, as for a backend that never
			// answered.
			hold.discard()
			aw.swallow(status)
			err = fmt.Errorf("backend %q: answer %s before any of it reached the customer", b.name, abortedHow(kind))
		case err == nil:
			if !aw.wroteHeader {
				// The proxy passed nothing on: an answer it would not carry
				// (a protocol switch nobody asked for) is the backend's failure.
				aw.swallow(http.StatusBadGateway)
				b.stats.upstreamError(errAborted)
			}
			if relErr := hold.release(); relErr != nil {
				return nil // the customer left: nothing to send them
			}
			status := aw.statusOrOK()
			b.stats.observe(status, elapsed)
			if status >= 500 {
				h.noteError(journey.name, b, status, errStatus5xx, requestID)
			}
			if aw.swallowed {
				h.brandError(w, r, journey.name, b.name, status, requestID, nil)
				h.orphaned(r, journey, handlerOf(b), cc, fleet.CauseErrorPage, requestID)
			} else if status < 500 && len(journey.contacts) > 0 {
				h.countContact(r, journey, b, cc)
			}
			return nil
		default:
			status, kind = classify(err)
			b.stats.upstreamError(kind)
			b.stats.observe(status, elapsed)
			if kind != "" {
				h.noteError(journey.name, b, status, kind, requestID)
			}
			if kind == "" && !aw.wroteHeader {
				return err // not the backend's fault (the client went away)
			}
			if aw.wroteHeader && !aw.swallowed {
				hold.release() //nolint:errcheck // the response is under way: nothing better can be sent
				return err
			}
		}
		if !canReplay || i == len(plan)-1 {
			h.brandError(w, r, journey.name, b.name, status, requestID, err)
			h.orphaned(r, journey, handlerOf(b), cc, fleet.CauseErrorPage, requestID)
			return nil
		}
		if c := h.logger.Check(zapcore.DebugLevel, "failing over"); c != nil {
			c.Write(zap.String("journey", journey.name), zap.String("from", b.name),
				zap.String("request_id", requestID), zap.Error(err))
		}
	}
	return nil
}

// addPlainHeaders adds the headers that say in plain text what the
// assertion says signed: the brand, its contact, the journey and backend,
// the session state and the context fields the backend may see.
func (h *Handler) addPlainHeaders(up *upstreamHeaders, journey string, b *backendRoute, cc *customerContext) {
	up.add(headerBrand, h.Brand)
	if h.contactHeader != "" {
		up.add(headerContact, h.contactHeader)
	}
	up.add(headerJourney, journey)
	up.add(headerBackend, b.name)
	addContextHeaders(up, b, cc)
}

// exchange holds what a proxied request needs beyond the stack, in one
// allocation instead of one each: its customer context and first response
// writer (the proxy holds the writer, the writer the context), the
// assertion's claim buffer (it escapes into the signer), the headers sent
// to the backend and the values of the headers frontdoor sets (the header
// maps keep them).
type exchange struct {
	customer customerContext
	attempt  attemptWriter
	hold     headHold
	watch    bodyWatch
	scope    exchangeScope
	before   headerSnapshot
	fields   [8]assertion.Field
	upstream upstreamHeaders
	slab     [slabSize]string
	values   valueSlab
}

func newExchange() *exchange {
	x := new(exchange)
	x.values.free = x.slab[:]
	return x
}

// noteError keeps a failure for the status endpoint.
func (h *Handler) noteError(journey string, b *backendRoute, status int, kind, requestID string) {
	if !b.stats.counted {
		return // the shopper reports its own
	}
	b.counts.errors.Add(1)
	h.errors.add(recentError{Time: time.Now(), Journey: journey, Backend: b.name, Status: status, Kind: kind, RequestID: requestID})
}

// setUpstreamEncoding keeps a banner backend from answering in an encoding
// the injector cannot read: it may compress with gzip if the customer
// accepts gzip, and otherwise must not compress. Other backends get the
// customer's Accept-Encoding untouched.
func setUpstreamEncoding(h http.Header, values *valueSlab, bannerBackend bool, client []string, had bool) {
	switch {
	case !bannerBackend && had:
		h["Accept-Encoding"] = client
	case !bannerBackend:
		delete(h, "Accept-Encoding")
	case acceptsGzip(client):
		values.set(h, "Accept-Encoding", "gzip")
	default:
		values.set(h, "Accept-Encoding", "identity")
	}
}

func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.TrimSpace(coding)
			if strings.EqualFold(coding, "gzip") || coding == "*" {
				q, ok := accept.Quality(params)
				if !ok {
					continue // an element with a malformed q means nothing
				}
				return q > 0
			}
		}
	}
	return false
}

// match returns the journey claiming the request, or nil.
func (h *Handler) match(r *http.Request) (*journeyRoute, error) {
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

// Upstream error kinds; these are metric label values.
const (
	errDial      = "dial"
	errTimeout   = "timeout"
	errStatus5xx = "status_5xx"
	errAborted   = "aborted"
)

// classify maps a reverse proxy error to the status the customer gets and
// the kind of upstream failure, or "" when the error is not the upstream's
// fault (e.g. the client went away) and so no reason to fail over.
func classify(err error) (status int, kind string) {
	status = http.StatusBadGateway
	var herr caddyhttp.HandlerError
	if errors.As(err, &herr) && herr.StatusCode != 0 {
		status = herr.StatusCode
	}
	var dialErr reverseproxy.DialError
	var netErr net.Error
	switch {
	case status == 499:
		return status, ""
	case errors.As(err, &dialErr):
		return status, errDial
	case status == http.StatusGatewayTimeout || errors.As(err, &netErr) && netErr.Timeout():
		return status, errTimeout
	case status == http.StatusServiceUnavailable, status == http.StatusBadGateway:
		// No available upstream, or the connection failed before a
		// response: for the customer as good as a refused dial.
		return status, errDial
	}
	return status, ""
}
