package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/assertion"
	"github.com/frontdoor-dev/frontdoor/internal/cookieline"
	"github.com/frontdoor-dev/frontdoor/internal/feedback"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/session"
	"github.com/frontdoor-dev/frontdoor/internal/shopper"
)

// SessionConfig says where the customer's context lives: the brand's
// session cookie names a Redis hash whose fields backends may be shown.
type SessionConfig struct {
	// Redis is the URL of the context store: redis://[user:pass@]host:port/db,
	// rediss:// for TLS, and the Sentinel and Cluster forms documented in
	// the README. Required.
	Redis string `json:"redis,omitempty"`

	// Cookie is the name of the brand's session cookie. Its value is the
	// session id. Outsourced backends never receive it. Required.
	Cookie string `json:"cookie,omitempty"`

	// Key is the Redis key of the session hash, with {id} standing for the
	// cookie value. Default: "session:{id}".
	Key string `json:"key,omitempty"`

	// Timeout bounds each lookup, so a slow Redis costs at most this much
	// on a request. Default: 50ms.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// Cache is how long a looked-up context is reused in-process before it
	// is read again; 0 turns the cache off. With a standalone Redis
	// (redis://, rediss://, unix://) on database 0, Redis tracks what the
	// gateway read and reports changes: a context is then kept until its
	// session changes or ends (at most a minute), and every instance sees
	// a change within milliseconds; this TTL applies only where Redis
	// cannot track (Sentinel, Cluster, another database). Default: 2s.
	Cache *caddy.Duration `json:"cache,omitempty"`

	// OnError decides what happens when the context store fails: "open"
	// forwards the request without context (X-Frontdoor-Session:
	// unavailable), "closed" answers a brand 503 page. Journeys may
	// override it. Default: open.
	OnError string `json:"on_error,omitempty"`

	// StripCookies lists further cookies outsourced backends must not
	// receive, besides the session cookie. Default: none.
	StripCookies []string `json:"strip_cookies,omitempty"`
}

// Values of X-Frontdoor-Session.
const (
	sessionFound       = "found"
	sessionNone        = "none"
	sessionUnavailable = "unavailable"
)

const (
	headerSession       = "X-Frontdoor-Session"
	headerContextPrefix = "X-Frontdoor-Context-"
)

// checkSessionRedis checks a session's redis URL: required, and one the
// client accepts.
func checkSessionRedis(url string) error {
	if url == "" {
		return errors.New("session: redis is required, e.g. redis redis://127.0.0.1:6379/0")
	}
	if err := session.ValidateURL(url); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	return nil
}

// provisionSession connects the context store. It does not ping Redis: the
// gateway must start and serve while Redis is down.
func (h *Handler) provisionSession() error {
	s := h.Session
	if err := checkSessionRedis(s.Redis); err != nil {
		return err
	}
	if s.Cookie == "" {
		return fmt.Errorf("session: cookie is required: the name of the brand's session cookie")
	}
	val, _, err := processPool.LoadOrNew(redisPoolKey(s.Redis), func() (caddy.Destructor, error) {
		tracker := session.NewTracker()
		c, err := session.NewClientWithOptions(s.Redis, session.ClientOptions{Tracker: tracker})
		if err != nil {
			return nil, err
		}
		logger := caddy.Log().Named("frontdoor.fleet")
		trail := fleet.NewTrail(c, fleet.TrailOptions{}, logger)
		return &sharedRedis{client: c, tracker: tracker, breaker: session.NewBreaker(), board: fleet.NewBoard(c, logger), trail: trail,
			contacts: fleet.NewContacts(c, logger), orphans: fleet.NewOrphans(c, trail, fleet.OrphanOptions{}, logger),
			keys:     assertion.NewFleet(c, publishedKeys(), caddy.Log().Named("frontdoor.assertion")),
			feedback: feedback.NewKeys(c, logger)}, nil
	})
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	h.shared = append(h.shared, redisPoolKey(s.Redis))
	shared := val.(*sharedRedis)
	h.board, h.trail, h.contacts, h.redis = shared.board, shared.trail, shared.contacts, shared.client
	h.orphans = shared.orphans
	h.breaker = shared.breaker
	h.feedbackKeys, h.feedbackLedger = shared.feedback, feedback.NewLedger(shared.client)
	h.fleet = shared.keys
	h.fleet.Publish() // this config's keys reach the fleet before vendors ask
	if h.ring != nil && h.jwksMaxAge < jwksMaxAge {
		h.fleet.AskMaxAge(h.jwksMaxAge)
	}
	h.sessionKey = s.Key
	if h.sessionKey == "" {
		h.sessionKey = session.DefaultKeyTemplate
	}
	opts := session.Options{
		KeyTemplate: s.Key,
		Timeout:     time.Duration(s.Timeout),
		CacheTTL:    session.DefaultCacheTTL,
		Tracker:     shared.tracker,
		Breaker:     shared.breaker,
	}
	if s.Cache != nil {
		opts.CacheTTL = time.Duration(*s.Cache)
	}
	h.store, err = session.NewStore(shared.client, opts)
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	h.lookupLog = lookupFailureLogger(h.logger)
	h.logger.Info("customer context store configured", zap.String("redis", session.Redact(s.Redis)),
		zap.Duration("timeout", time.Duration(s.Timeout)), zap.Duration("cache", opts.CacheTTL),
		zap.Bool("tracking", h.store.Tracking()))
	return nil
}

// contextField is a session field a backend may see: where it is stored,
// and its header and assertion claim names, computed once.
type contextField struct {
	name   string // field of the session hash
	claim  string // name in the assertion's ctx
	header string
}

func newContextFields(fields []string) []contextField {
	var out []contextField
	for _, f := range fields {
		name := f
		if f == trailField {
			name = fleet.SessionTrailField
		}
		out = append(out, contextField{name: name, claim: f, header: contextHeader(f)})
	}
	return out
}

// trailField in a backend's context adds the customer's latest trail
// entry, which the trail writer keeps in the session hash.
const trailField = "trail"

// customerIDField keys the customer's trail; it is fetched whenever a
// session is configured, even when no backend may see it.
const customerIDField = "customer_id"

// contextHeader maps a field name to its header: customer_id becomes
// X-Frontdoor-Context-Customer-Id.
func contextHeader(field string) string {
	return textproto.CanonicalMIMEHeaderKey(headerContextPrefix + strings.ReplaceAll(field, "_", "-"))
}

// journeyFields is the union of the fields the journey's backends may see
// (and the customer id, which keys the trail): the one lookup per request
// fetches exactly these.
func journeyFields(j *config.Journey, withSession bool) *session.FieldSet {
	var names []string
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			names = append(names, f)
		}
	}
	if withSession {
		add(customerIDField)
	}
	for _, b := range j.Backends {
		for _, f := range newContextFields(b.Context) {
			add(f.name)
		}
	}
	if withSession {
		for _, f := range rescueFields(j) {
			add(f)
		}
	}
	return session.NewFieldSet(names)
}

// customerContext is the outcome of the request's one context lookup.
type customerContext struct {
	state     string // found, none, unavailable
	ctx       *session.Context
	sessionID string
}

// lookupContext reads the customer's context for the journey: at most one
// Redis round trip, none on a cache hit.
func (h *Handler) lookupContext(r *http.Request, j *journeyRoute) customerContext {
	if h.store == nil {
		return customerContext{state: sessionNone}
	}
	return h.lookupSession(r, j, sessionCookie(r, h.Session.Cookie))
}

// lookupSession is lookupContext for a known session id: the brand
// cookie's, or on a vendor origin the one its origin session points at.
func (h *Handler) lookupSession(r *http.Request, j *journeyRoute, id string) customerContext {
	start := time.Now()
	ctx, result, err := h.store.Lookup(r.Context(), j.fields, id)
	visit := shopper.VisitOf(r.Context())
	if visit == nil {
		h.metrics.contextLookup(result, start)
	}
	switch {
	case err != nil:
		reason := session.ErrorReason(err)
		if visit == nil {
			h.metrics.contextLookupError(reason)
		} else {
			visit.LookupFailed()
		}
		h.noteLookupFailure(j, reason, err)
		return customerContext{state: sessionUnavailable}
	case ctx == nil:
		return customerContext{state: sessionNone}
	}
	return customerContext{state: sessionFound, ctx: ctx, sessionID: id}
}

// lookupFailureLogEvery is how often, at most, each kind of failing
// context lookup is logged at info level: an outage is one line per
// interval, not one per request.
const lookupFailureLogEvery = 10 * time.Second

// lookupFailureMessages are the info-level lines for the failures an
// operator must hear of; a sampler keyed by message rate-limits each.
var lookupFailureMessages = map[string]string{
	session.ReasonTimeout:     "customer context lookups failing: redis did not answer within the session timeout",
	session.ReasonBreakerOpen: "customer context lookups failing at once: redis failed just before and a probe lookup must succeed first",
	session.ReasonRedis:       "customer context lookups failing: redis answered with an error or the connection failed",
}

// lookupFailureLogger is logger keeping one line per message per
// lookupFailureLogEvery.
func lookupFailureLogger(logger *zap.Logger) *zap.Logger {
	return logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, lookupFailureLogEvery, 1, 0)
	}))
}

// noteLookupFailure tells the operator why lookups fail: at info level,
// rate-limited, for a timeout, an open breaker or a Redis error (what
// turns fail-closed journeys into brand 503 pages), and at debug level
// for each one.
func (h *Handler) noteLookupFailure(j *journeyRoute, reason string, err error) {
	if msg, ok := lookupFailureMessages[reason]; ok {
		if c := h.lookupLog.Check(zapcore.InfoLevel, msg); c != nil {
			timeout := time.Duration(h.Session.Timeout)
			if timeout == 0 {
				timeout = session.DefaultTimeout
			}
			c.Write(zap.String("journey", j.name), zap.Bool("fail_closed", j.failClosed),
				zap.Duration("timeout", timeout), zap.Error(err))
		}
	}
	if c := h.logger.Check(zapcore.DebugLevel, "customer context lookup failed"); c != nil {
		c.Write(zap.String("journey", j.name), zap.String("reason", reason), zap.Error(err))
	}
}

// sessionCookie returns the value of the named cookie, or "" if absent.
// It reads the Cookie header directly to avoid parsing every cookie. A
// cookie sent more than once with different values (one of them may have
// been planted on a path of the brand host) names no session: frontdoor
// cannot tell which is the customer's. Nor does an id reserved for the
// secret shopper's customer outside the shopper's own visits: anyone could
// spell it, and be that customer to a vendor, in contacts and ratings.
func sessionCookie(r *http.Request, name string) string {
	found, conflict := cookieline.Value(r.Header["Cookie"], name)
	if conflict {
		return ""
	}
	if strings.HasPrefix(found, shopper.SessionPrefix) && shopper.VisitOf(r.Context()) == nil {
		return ""
	}
	return found
}

// contextLookup counts a lookup that began at start by its result, and
// times it if it was not answered locally: the histogram shows what the
// session store costs (the dashboard sets it beside the session timeout),
// which lookups served from memory in nanoseconds would hide behind the
// cache's hit rate. Their share is in the counter.
func (m *metrics) contextLookup(result session.Result, start time.Time) {
	if c, ok := m.lookupResults[result]; ok {
		c.Inc()
	} else {
		m.contextLookups.WithLabelValues(string(result)).Inc()
	}
	if !result.Local() {
		m.contextDuration.Observe(time.Since(start).Seconds())
	}
}

func (m *metrics) contextLookupError(reason string) { m.contextErrors.WithLabelValues(reason).Inc() }
