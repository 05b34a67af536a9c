package caddymodule

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/frontdoor-dev/frontdoor/internal/assertion"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/shopper"
)

// ServeHTTP routes a request claimed by a journey to its backend, and
// passes any other request to the next handler.
//
// It orchestrates; the stages live in files a reader meets in this order
// (TestRequestPathGoesForward holds the package to it): headers.go and
// requestbytes.go (what the customer may not send), the gateway's own
// answers (assertion.go's key set, origin.go and handoff.go for vendor
// origins, escalate.go's question pages), route.go (the journey and its
// plan), session.go and rescue.go (the customer), clientbody.go (the
// customer's request body), snapshot.go (the brand's own response
// headers), upstream.go (the request the backend gets), cookiejar.go,
// assertion.go (the signed context), then one attempt: hold.go and
// waits.go (the writers around the proxy), transport.go, response.go (the
// backend's answer under its policy: headersteps.go, streams.go, trail.go,
// body.go), and outcome.go (what the attempt counts as).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	guardTrailers(r)
	if err := screenClientHeaders(r.Header); err != nil {
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	escapeQuery(r.URL)
	defuseTossedCookie(w.Header(), r, h.tossableCookie)
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
	expireStrayJars(w.Header(), r.Header["Cookie"], h.jars, r.URL)
	if journey == nil {
		return next.ServeHTTP(w, r)
	}

	// The config's shared state (its Redis, the orphan and trail queues)
	// stays until the last request it serves has recorded its outcome: a
	// request under way at a reload may still open a stream, or end in an
	// orphan, long after (see liveStreams).
	h.live.begin()
	defer h.live.end()
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
	contact := journey.isContact(r)
	visit := shopper.VisitOf(r.Context())
	if visit != nil {
		plan = shopperPlan(visit, journey, buf[:])
	}

	// On the brand host the customer comes before the plan is final: a
	// rescued customer goes to the rescue backend whatever the hours (even
	// when no backend is open), and is served there, not sent to a vendor's
	// origin. On an origin the customer comes through its origin session,
	// and a rescued one leaves: the rescue backend never answers there.
	cc := &x.customer
	rescue := ""
	if origin == nil {
		x.customer = h.lookupContext(r, journey)
		var rescued bool
		if rescue, rescued = journey.rescueFor(cc, now, override, visit); rescued {
			plan = journey.rescuePlan(plan)
		}
	}
	if h.origins != nil {
		var answered bool
		if plan, answered = h.routeOrigins(w, r, origin, plan, requestID); answered {
			return nil
		}
	}
	if origin != nil {
		var answered bool
		if x.customer, answered = h.originCustomer(w, r, journey, origin); answered {
			return nil
		}
		if _, rescued := journey.rescueFor(cc, now, override, visit); rescued {
			h.leaveOrigin(w, r, origin, requestID)
			return nil
		}
	}
	if len(plan) == 0 {
		h.brandError(w, r, journey.name, "", http.StatusServiceUnavailable, requestID,
			fmt.Errorf("journey %q: no backend is open at this hour", journey.name))
		return nil
	}
	if cc.state == sessionUnavailable && journey.failClosed {
		h.brandError(w, r, journey.name, "", http.StatusServiceUnavailable, requestID,
			fmt.Errorf("journey %q: customer context store unavailable and on_error is closed", journey.name))
		return nil
	}

	x.body.wrap(r)
	x.before.take(w.Header())
	ownServer := w.Header()["Server"]
	keepReservedHeaders(r.Header)
	x.values.set(r.Header, headerRequest, requestID)
	canReplay := replayable(r)
	clientEncoding, hadEncoding := r.Header["Accept-Encoding"]
	clientRange, clientIfRange := r.Header["Range"], r.Header["If-Range"]
	clientCookies := r.Header["Cookie"]

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
		if !b.outsourced && h.feedbackKeys != nil && visit == nil && (rescue != "" || contact) {
			// The brand's own page offers "did this solve your problem?"
			// its own way after a contact or a rescue.
			x.upstream.add(headerRate, h.rateLink(journey, b, cc, requestID))
		}
		setUpstreamEncoding(r.Header, &x.values, b.banner, clientEncoding, hadEncoding)
		setUpstreamRange(r, b.banner, clientRange, clientIfRange)
		cookies, jarInUse := h.cookiesFor(clientCookies, b)
		if cookies != nil {
			r.Header["Cookie"] = cookies
		} else {
			delete(r.Header, "Cookie")
		}
		token, signErr := h.sign(b, journey.name, *cc)
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
		stream := aw.stream
		if aw.swallowed {
			// The head was refused (a vendor's 5xx, a step's refusal, a
			// switch nobody asked for): the customer gets a brand page,
			// and no stream opened.
			stream = notStream
		}
		if stream != notStream {
			if aw.endStream(h.metrics, b, aborted != nil, elapsed) == closedByBackend {
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
			b.stats.observe(status, elapsed, stream)
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
		case err != nil:
			status, kind = classify(err)
			b.stats.upstreamError(kind)
			b.stats.observe(status, elapsed, stream)
			if kind != "" {
				h.noteError(journey.name, b, status, kind, requestID)
			}
			if kind == "" && !aw.wroteHeader {
				// Not the backend's fault (the client went away, or failed
				// to send its request): Caddy answers with status.
				return caddyhttp.Error(status, err)
			}
			if aw.wroteHeader && !aw.swallowed {
				hold.release() //nolint:errcheck // the response is under way: nothing better can be sent
				return err
			}
		default: // the proxy finished without an error
			if !aw.wroteHeader {
				// The proxy passed nothing on: an answer it would not carry
				// (a protocol switch nobody asked for) is the backend's failure.
				aw.swallow(http.StatusBadGateway)
				b.stats.upstreamError(errAborted)
			}
			if relErr := hold.end(); relErr != nil {
				b.stats.observe(499, elapsed, stream) // the customer left: nothing to send them
				return nil
			}
			status := aw.statusOrOK()
			b.stats.observe(status, elapsed, stream)
			if status >= 500 {
				h.noteError(journey.name, b, status, errStatus5xx, requestID)
			}
			if aw.swallowed {
				h.brandError(w, r, journey.name, b.name, status, requestID, nil)
				h.orphaned(r, journey, handlerOf(b), cc, fleet.CauseErrorPage, requestID)
			} else if len(journey.contacts) > 0 {
				h.countContact(r, journey, b, cc, status)
			}
			return nil
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

// exchange holds what a proxied request needs beyond the stack, in one
// allocation instead of one each: its customer context and first response
// writer (the proxy holds the writer, the writer the context), the headers
// sent to the backend and the values of the headers frontdoor sets (the
// header maps keep them). Buffers it needs only for a while (the hold's)
// come from pools instead: what every request allocates is what GC scans.
type exchange struct {
	customer customerContext
	attempt  attemptWriter
	hold     headHold
	watch    bodyWatch
	body     requestBody
	scope    exchangeScope
	before   headerSnapshot
	upstream upstreamHeaders
	slab     [slabSize]string
	values   valueSlab
}

func newExchange() *exchange {
	x := new(exchange)
	x.values.free = x.slab[:]
	return x
}

// Upstream error kinds; these are metric label values.
const (
	errDial      = "dial"
	errTimeout   = "timeout"
	errStatus5xx = "status_5xx"
	errAborted   = "aborted"
)
