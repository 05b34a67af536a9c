package caddymodule

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/internal/banner"
	"github.com/frontdoor-dev/frontdoor/internal/feedback"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/session"
)

// Escalation and ratings: the customer's own say. The banner on a
// backend's pages links to two brand pages, "Talk to our own team" and
// "Did this solve your problem?", each carrying a token minted for the
// page (internal/feedback): the customer's session, the journey, the
// backend and the request reference. The links are plain <a> elements, so
// they work without scripts and from an isolated (sandboxed) page. The
// brand page asks the question with a form; only the customer's own
// submission of it counts: a same-origin, user-activated navigation (the
// Fetch Metadata a browser sends and a page cannot forge) with a token of
// the customer's own session, redeemed once across the fleet. A vendor
// page cannot submit it for the customer, and a forged, replayed or
// another customer's token is refused and counted as refused, not as an
// escalation or a rating. Escalating writes the journey's rescue marker
// (cause escalated) into the customer's session and sends them to the
// journey's start, which the rescue backend then serves. In-house
// backends, whose pages are the brand's own and carry no banner by
// default, receive the rating link in X-Frontdoor-Rate on the journey's
// contact requests and on a rescued customer's requests, to show it
// their own way. With Redis down nothing is counted (skipped, and counted
// as skipped) and the customer is told how to reach the brand.

const (
	feedbackPrefix = "/.well-known/frontdoor/"
	escalatePath   = feedbackPrefix + feedback.ActionEscalate
	ratePath       = feedbackPrefix + feedback.ActionRate

	// headerRate carries the rating link to in-house backends.
	headerRate = "X-Frontdoor-Rate"

	// raterCookie identifies an anonymous rater, so that one rates a
	// backend once per window like a known customer.
	raterCookie = "frontdoor_rater"

	// causeEscalated is the rescue cause of a customer who escalated.
	causeEscalated = "escalated"

	// maxFeedbackForm bounds the body of a feedback form submission.
	maxFeedbackForm = 4096
)

// Why a submission was refused; metric label values.
const (
	refusedCrossSite      = "cross_site"     // not from the brand's own page
	refusedNotNavigation  = "not_navigation" // not the customer submitting the form
	refusedReplayed       = "replayed"       // the token was used already
	refusedRepeat         = "repeat"         // the customer rated the backend within the window
	refusedRateLimited    = "rate_limited"   // over the anonymous cap of the backend
	refusedNoRater        = "no_rater"       // an anonymous answer without a rater cookie
	refusedBadAnswer      = "bad_answer"     // neither yes nor no
	refusedUnknownBackend = "unknown_backend"
	refusedNoRescue       = "no_rescue" // the journey has no rescue backend, or the token is anonymous
	skippedUnavailable    = "unavailable"
)

// feedbackMetrics count what was refused or could not be recorded;
// escalations and ratings themselves are orphanMetrics.
type feedbackMetrics struct {
	refused *prometheus.CounterVec
	skipped *prometheus.CounterVec
}

var sharedFeedbackMetrics = sync.OnceValue(func() *feedbackMetrics {
	return &feedbackMetrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "frontdoor", Name: "feedback_refused_total",
			Help: "Escalations and ratings refused and not counted, by action and reason: forged, expired, other_customer, replayed, repeat, rate_limited, no_rater, cross_site, not_navigation, bad_answer, unknown_backend, no_rescue.",
		}, []string{"action", "reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "frontdoor", Name: "feedback_skipped_total",
			Help: "Escalations and ratings that could not be recorded, by action and reason (unavailable: Redis failed).",
		}, []string{"action", "reason"}),
	}
})

func registerFeedbackMetrics(ctx caddy.Context) (*feedbackMetrics, error) {
	m := sharedFeedbackMetrics()
	if registry := ctx.GetMetricsRegistry(); registry != nil {
		for _, c := range []prometheus.Collector{m.refused, m.skipped} {
			var already prometheus.AlreadyRegisteredError
			if err := registry.Register(c); err != nil && !errors.As(err, &already) {
				return nil, fmt.Errorf("frontdoor: registering feedback metrics: %w", err)
			}
		}
	}
	return m, nil
}

// bindFeedbackBanners binds the banner template with the feedback links.
func (h *Handler) bindFeedbackBanners(t *banner.Template) error {
	d := banner.Data{Brand: h.Brand, Phone: h.Contact.Phone, Email: h.Contact.Email, URL: h.Contact.URL,
		Rate: ratePath + "?t="}
	var err error
	if h.bannerRate, err = t.Bind(d); err != nil {
		return err
	}
	d.Escalate = escalatePath + "?t="
	h.bannerEscalate, err = t.Bind(d)
	return err
}

// feedbackFor is the feedback part of a backend's banner policy, or nil
// when feedback needs what the handler lacks (a Redis).
func (h *Handler) feedbackFor(journey string, escalates bool, backend string) *bannerFeedback {
	if h.feedbackKeys == nil {
		return nil
	}
	f := &bannerFeedback{keys: h.feedbackKeys, journey: journey, backend: backend, rate: h.bannerRate}
	if escalates {
		f.escalate = h.bannerEscalate
	}
	return f
}

// serveFeedback answers the brand's feedback pages; it reports false for
// a request that is not for them.
func (h *Handler) serveFeedback(w http.ResponseWriter, r *http.Request) bool {
	var action string
	switch r.URL.Path {
	case escalatePath:
		action = feedback.ActionEscalate
	case ratePath:
		action = feedback.ActionRate
	default:
		return false
	}
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Content-Security-Policy", feedbackPagePolicy)
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Content-Type-Options", "nosniff")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.askFeedback(w, r, action)
	case http.MethodPost:
		h.takeFeedback(w, r, action)
	default:
		hdr.Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
	return true
}

// feedbackTarget is what a verified token names, compiled.
type feedbackTarget struct {
	claims  feedback.Claims
	journey *journeyRoute
	backend *backendRoute
}

// verifyFeedback checks a token for the requester and finds what it names.
func (h *Handler) verifyFeedback(r *http.Request, action, token string) (feedbackTarget, string) {
	claims, err := h.feedbackKeys.Verify(token, sessionCookie(r, h.Session.Cookie), h.now())
	if err != nil {
		return feedbackTarget{}, feedback.Reason(err)
	}
	t := feedbackTarget{claims: claims}
	for _, j := range h.routes {
		if j.name != claims.Journey {
			continue
		}
		for _, b := range j.backends {
			if b.name == claims.Backend {
				t.journey, t.backend = j, b
			}
		}
	}
	if t.backend == nil {
		return t, refusedUnknownBackend
	}
	if action == feedback.ActionEscalate && (claims.Anonymous || t.journey.rescue == nil || t.journey.rescue.backend == t.backend) {
		return t, refusedNoRescue
	}
	return t, ""
}

// askFeedback shows the question: a form the customer submits.
func (h *Handler) askFeedback(w http.ResponseWriter, r *http.Request, action string) {
	token := r.URL.Query().Get("t")
	t, refused := h.verifyFeedback(r, action, token)
	page := h.feedbackPage(action, t)
	if refused != "" {
		page.Title, page.Text = "This link does not work any more", "It may have expired, or belong to another visit. You can still reach us directly."
		h.writeFeedbackPage(w, http.StatusBadRequest, page)
		return
	}
	page.Token = token
	if t.claims.Anonymous && action == feedback.ActionRate && validRater(raterOf(r)) == "" {
		http.SetCookie(w, &http.Cookie{Name: raterCookie, Value: newRaterID(), Path: feedbackPrefix,
			MaxAge: int(t.journey.repeatWindow / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	}
	h.writeFeedbackPage(w, http.StatusOK, page)
}

// takeFeedback records the customer's submission, or refuses it.
func (h *Handler) takeFeedback(w http.ResponseWriter, r *http.Request, action string) {
	refuse := func(reason string, t feedbackTarget) {
		h.feedbackMetrics.refused.WithLabelValues(action, reason).Inc()
		page := h.feedbackPage(action, t)
		page.Title, page.Text = "We could not take this", "Please use the link on the page again, or reach us directly."
		h.writeFeedbackPage(w, http.StatusForbidden, page)
	}
	if reason := fetchRefusal(r); reason != "" {
		refuse(reason, feedbackTarget{})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFeedbackForm)
	if err := r.ParseForm(); err != nil {
		refuse(feedback.ReasonForged, feedbackTarget{})
		return
	}
	t, reason := h.verifyFeedback(r, action, r.PostForm.Get("t"))
	if reason != "" {
		refuse(reason, t)
		return
	}
	answer := r.PostForm.Get("answer")
	if action == feedback.ActionRate && answer != answerYes && answer != answerNo {
		refuse(refusedBadAnswer, t)
		return
	}
	skip := func(err error) {
		h.feedbackMetrics.skipped.WithLabelValues(action, skippedUnavailable).Inc()
		h.logger.Warn("feedback not recorded", zap.String("action", action), zap.String("journey", t.journey.name),
			zap.String("backend", t.backend.name), zap.String("request_id", t.claims.Ref), zap.Error(err))
		page := h.feedbackPage(action, t)
		page.Title, page.Text = "Sorry, we could not do that just now", "Please reach us directly, quoting your reference."
		h.writeFeedbackPage(w, http.StatusServiceUnavailable, page)
	}
	// Known customers are who their session says; the lookup also tells
	// a session that ended since the page.
	var cc customerContext
	if !t.claims.Anonymous {
		cc = h.lookupSession(r, t.journey, sessionCookie(r, h.Session.Cookie))
		switch cc.state {
		case sessionUnavailable:
			skip(errors.New("customer context store unavailable"))
			return
		case sessionNone:
			refuse(feedback.ReasonOtherCustomer, t)
			return
		}
	}
	first, err := h.feedbackLedger.Redeem(r.Context(), action, t.claims)
	switch {
	case err != nil:
		skip(err)
		return
	case !first:
		refuse(refusedReplayed, t)
		return
	}
	if action == feedback.ActionEscalate {
		h.escalate(w, r, t, &cc, skip)
		return
	}
	h.rate(w, r, t, &cc, answer, refuse, skip)
}

// escalate sends the customer to the journey's rescue backend.
func (h *Handler) escalate(w http.ResponseWriter, r *http.Request, t feedbackTarget, cc *customerContext, skip func(error)) {
	j, b, now := t.journey, t.backend, h.now()
	sessionKey := session.ExpandKey(h.sessionKey, cc.sessionID)
	marker := j.rescueMarker(sessionKey, fleet.Orphan{Time: now, Journey: j.name, Backend: b.name, Cause: causeEscalated, RequestID: t.claims.Ref})
	if marker == nil {
		skip(errors.New("no rescue marker for the journey"))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Second)
	defer cancel()
	switch wrote, err := fleet.SetSessionField(ctx, h.redis, marker.Key, marker.Field, marker.Value); {
	case err != nil:
		skip(fmt.Errorf("writing the rescue marker: %w", err))
		return
	case !wrote:
		skip(errors.New("writing the rescue marker: the session ended"))
		return
	}
	// This instance's next lookup must see the marker, whatever its cache.
	h.store.Forget(j.fields, cc.sessionID)
	who := handlerOf(b)
	customerID, _ := cc.ctx.Get(customerIDField)
	escalator := customerID
	if escalator == "" {
		escalator = sessionRater(cc.sessionID)
	}
	// Each page mints a token: count the customer, not their pages.
	switch first, err := h.feedbackLedger.FirstEscalation(r.Context(), j.name, b.name, escalator, j.rescue.window); {
	case err != nil:
		// The customer is rescued (the marker is written); only the
		// count is lost.
		h.feedbackMetrics.skipped.WithLabelValues(feedback.ActionEscalate, skippedUnavailable).Inc()
		h.logger.Warn("escalation not counted", zap.String("journey", j.name), zap.String("backend", b.name),
			zap.String("request_id", t.claims.Ref), zap.Error(err))
	case first:
		h.orphanMetrics.escalations.WithLabelValues(j.name, who.Backend, who.Owner, who.Vendor).Inc()
	}
	if customerID != "" && h.trail != nil {
		h.trail.Record(customerID, sessionKey, fleet.Entry{Time: now, Journey: j.name, Backend: b.name, Owner: who.Owner,
			RequestID: t.claims.Ref, Note: "escalated to the brand's own team from " + b.name})
	}
	w.Header().Set("Location", journeyStart(j))
	w.WriteHeader(http.StatusSeeOther)
}

// rate counts the customer's answer once per customer, backend and the
// journey's repeat window.
func (h *Handler) rate(w http.ResponseWriter, r *http.Request, t feedbackTarget, cc *customerContext, answer string,
	refuse func(string, feedbackTarget), skip func(error)) {
	j, b := t.journey, t.backend
	customer, rater := customerKnown, ""
	if !t.claims.Anonymous {
		rater, _ = cc.ctx.Get(customerIDField)
	}
	if rater == "" {
		// Whoever frontdoor cannot name is anonymous, a session without a
		// customer id included: brands hand any visitor one (a guest's
		// cart), so such answers are capped like any anonymous ones.
		customer = customerAnonymous
		if t.claims.Anonymous {
			rater = validRater(raterOf(r))
		} else {
			rater = sessionRater(cc.sessionID) // once per session
		}
		if rater == "" {
			refuse(refusedNoRater, t)
			return
		}
		allowed, err := h.feedbackLedger.AnonymousAllowed(r.Context(), j.name, b.name, h.now())
		switch {
		case err != nil:
			skip(err)
			return
		case !allowed:
			refuse(refusedRateLimited, t)
			return
		}
	}
	first, err := h.feedbackLedger.FirstRating(r.Context(), j.name, b.name, rater, customer == customerAnonymous, j.repeatWindow)
	switch {
	case err != nil:
		skip(err)
		return
	case !first:
		refuse(refusedRepeat, t)
		return
	}
	who := handlerOf(b)
	h.orphanMetrics.ratings.WithLabelValues(j.name, who.Backend, who.Owner, who.Vendor, answer, customer).Inc()
	page := h.feedbackPage(feedback.ActionRate, t)
	page.Title, page.Text = "Thank you", "Your answer helps us look after you better."
	if answer == answerNo {
		page.Text = "We are sorry it did not. You can reach us directly, quoting your reference."
	}
	page.Done = true
	h.writeFeedbackPage(w, http.StatusOK, page)
}

// fetchRefusal says why a submission is not the customer's own submission
// of the brand's form, from the Fetch Metadata browsers send (and pages
// cannot set): it must be a same-origin, user-activated navigation to a
// document, and Origin, if any, the brand's.
func fetchRefusal(r *http.Request) string {
	if r.Header.Get("Sec-Fetch-Site") != "same-origin" {
		return refusedCrossSite
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" && origin != requestOrigin(r) {
		return refusedCrossSite
	}
	if r.Header.Get("Sec-Fetch-Mode") != "navigate" || r.Header.Get("Sec-Fetch-User") != "?1" || r.Header.Get("Sec-Fetch-Dest") != "document" {
		return refusedNotNavigation
	}
	return ""
}

// requestOrigin is the origin the request was made to.
func requestOrigin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// journeyStart is where an escalated customer goes: the start of the
// journey's first path.
func journeyStart(j *journeyRoute) string {
	if len(j.paths) == 0 {
		return "/"
	}
	p := strings.TrimRight(j.paths[0], "*")
	if !strings.HasPrefix(p, "/") {
		return "/"
	}
	return p
}

func raterOf(r *http.Request) string { return sessionCookie(r, raterCookie) }

// sessionRater names a session without a customer id in the feedback
// ledger, by a hash: Redis keeps no session id.
func sessionRater(sessionID string) string {
	sum := sha256.Sum256([]byte(sessionID))
	return "session-" + hex.EncodeToString(sum[:12])
}

// validRater returns a rater id frontdoor could have made, or "".
func validRater(id string) string {
	if len(id) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(id); err != nil {
		return ""
	}
	return id
}

func newRaterID() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b)
}

// feedbackPageData is what the brand's feedback pages show.
type feedbackPageData struct {
	Brand, Phone, Email, URL string
	Action                   string // escalate or rate
	Path                     string // where the form posts
	Title, Text              string
	Token                    string // empty: no form
	Reference                string
	Backend                  string
	Done                     bool
}

func (h *Handler) feedbackPage(action string, t feedbackTarget) feedbackPageData {
	p := feedbackPageData{Brand: h.Brand, Phone: h.Contact.Phone, Email: h.Contact.Email, URL: h.Contact.URL,
		Action: action, Path: feedbackPrefix + action, Reference: t.claims.Ref}
	if action == feedback.ActionEscalate {
		p.Title, p.Text = "Talk to our own team", "We will take you to "+h.Brand+"'s own team, who can see what happened so far."
	} else {
		p.Title, p.Text = "Did this solve your problem?", "Your answer goes to "+h.Brand+" directly."
	}
	return p
}

func (h *Handler) writeFeedbackPage(w http.ResponseWriter, status int, p feedbackPageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := feedbackTemplate.Execute(w, p); err != nil {
		h.logger.Error("rendering feedback page", zap.Error(err))
	}
}

// feedbackStyle is the pages' only style; its hash is in their policy.
const feedbackStyle = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}main{max-width:32em;margin:3em auto;padding:1.5em;background:#fff;border-top:4px solid #ffd166}button{font:inherit;padding:.5em 1.25em;margin-right:.5em;border:2px solid #1b1f24;background:#1b1f24;color:#fff;cursor:pointer}button[value=no]{background:#fff;color:#1b1f24}code{font-weight:700}`

var feedbackTemplate = template.Must(template.New("feedback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}} - {{.Brand}}</title><style>` + feedbackStyle + `</style></head>
<body><main id="frontdoor-feedback" data-action="{{.Action}}">
<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
{{if .Token}}<form method="post" action="{{.Path}}"><input type="hidden" name="t" value="{{.Token}}">
{{if eq .Action "rate"}}<button type="submit" name="answer" value="yes" id="frontdoor-yes">Yes</button><button type="submit" name="answer" value="no" id="frontdoor-no">No</button>
{{else}}<button type="submit" id="frontdoor-continue">Continue to {{.Brand}}</button>
{{end}}</form>{{end}}
<p>{{with .Phone}}Call <a href="tel:{{.}}">{{.}}</a> {{end}}{{with .Email}}Email <a href="mailto:{{.}}">{{.}}</a> {{end}}{{with .URL}}<a href="{{.}}">Help center</a>{{end}}</p>
{{with .Reference}}<p>Reference <code>{{.}}</code></p>{{end}}
</main></body></html>
`))

// feedbackPagePolicy lets the pages do nothing but show themselves and
// post their form to the brand, and never be framed.
var feedbackPagePolicy = "default-src 'none'; style-src " + strings.Join(banner.HashStyles([]byte("<style>"+feedbackStyle+"</style>")), " ") +
	"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
