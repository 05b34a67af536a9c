package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/frontdoor-dev/frontdoor/internal/fleet"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI serves frontdoor's live control on Caddy's admin endpoint:
// status, overrides and customer trails. Caddy loads every admin.api
// module with the admin endpoint; it needs no configuration.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "admin.api.frontdoor", New: func() caddy.Module { return new(adminAPI) }}
}

// Routes returns the admin routes.
func (a adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/frontdoor/status", Handler: caddy.AdminHandlerFunc(a.status)},
		{Pattern: "/frontdoor/overrides", Handler: caddy.AdminHandlerFunc(a.listOverrides)},
		{Pattern: "/frontdoor/overrides/", Handler: caddy.AdminHandlerFunc(a.override)},
		{Pattern: "/frontdoor/trail/", Handler: caddy.AdminHandlerFunc(a.trail)},
	}
}

// Bounds of an override's ttl: long enough for a night's vendor outage,
// short enough that a forgotten override does not become the new normal.
const (
	minOverrideTTL = 10 * time.Second
	maxOverrideTTL = 7 * 24 * time.Hour
)

func apiError(status int, format string, args ...any) error {
	return caddy.APIError{HTTPStatus: status, Err: fmt.Errorf(format, args...)}
}

// onlyGET refuses every method but GET on a read-only route.
func onlyGET(r *http.Request) error {
	if r.Method != http.MethodGet {
		return apiError(http.StatusMethodNotAllowed, "method %s not allowed: use GET", r.Method)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Status is the answer of GET /frontdoor/status.
type Status struct {
	Time         time.Time       `json:"time"`
	Journeys     []JourneyStatus `json:"journeys"`
	RecentErrors []recentError   `json:"recent_errors"`
}

// JourneyStatus describes one journey now.
type JourneyStatus struct {
	Name     string          `json:"name"`
	Paths    []string        `json:"paths"`
	Override *fleet.Override `json:"override,omitempty"`
	Backends []BackendStatus `json:"backends"`
}

// BackendStatus describes one backend now.
type BackendStatus struct {
	Name      string           `json:"name"`
	Owner     string           `json:"owner"`
	Vendor    string           `json:"vendor,omitempty"`
	OpenNow   bool             `json:"open_now"`
	Healthy   bool             `json:"healthy"`
	Requests  uint64           `json:"requests"`
	Errors    uint64           `json:"errors"`
	Upstreams []UpstreamStatus `json:"upstreams"`

	// ClosedReason says why a closed date or a holiday shuts the backend
	// now, e.g. "Christmas Day"; empty when none does.
	ClosedReason string `json:"closed_reason,omitempty"`

	// Probes are the latest secret shopper run of each probe of the
	// journey through this backend (result "pending" before the first).
	Probes []ProbeRun `json:"probes,omitempty"`
}

// UpstreamStatus is Caddy's view of one upstream address.
type UpstreamStatus struct {
	Address     string `json:"address"`
	Healthy     bool   `json:"healthy"`
	NumRequests int    `json:"num_requests"`
	Fails       int    `json:"fails"`
}

func (adminAPI) status(w http.ResponseWriter, r *http.Request) error {
	if err := onlyGET(r); err != nil {
		return err
	}
	now := time.Now()
	st := Status{Time: now, Journeys: []JourneyStatus{}, RecentErrors: []recentError{}}
	shown := map[*Handler]bool{}
	for _, hj := range currentJourneys() {
		h, j := hj.handler, hj.journey
		js := JourneyStatus{Name: j.name, Paths: j.paths}
		if o, ok := h.board.Get(j.name, now); ok {
			js.Override = &o
		}
		for _, b := range j.backends {
			open, closedReason := b.openAt(h.now())
			bs := BackendStatus{Name: b.name, Owner: string(b.owner), Vendor: b.vendor,
				OpenNow: open, Healthy: b.healthy(), ClosedReason: closedReason,
				Requests: b.counts.requests.Load(), Errors: b.counts.errors.Load(), Upstreams: []UpstreamStatus{}}
			for _, u := range b.proxy.Upstreams {
				us := UpstreamStatus{Address: u.Dial}
				if u.Host != nil {
					us.Healthy, us.NumRequests, us.Fails = u.Healthy(), u.NumRequests(), u.Fails()
				}
				bs.Upstreams = append(bs.Upstreams, us)
			}
			bs.Probes = h.probeRuns(j.name, b.name)
			js.Backends = append(js.Backends, bs)
		}
		st.Journeys = append(st.Journeys, js)
		if !shown[h] {
			shown[h] = true
			st.RecentErrors = append(st.RecentErrors, h.errors.list()...)
		}
	}
	return writeJSON(w, http.StatusOK, st)
}

// currentHandlers returns the frontdoor handlers of the config that runs
// now, in the order provisioned: one per frontdoor directive of each
// server of the config.
func currentHandlers() []*Handler {
	return runningApp().Handlers()
}

type handlerJourney struct {
	handler *Handler
	journey *journeyRoute
}

// currentJourneys returns each journey once, from the first handler that
// routes it: a site served on two addresses has a handler in each server.
func currentJourneys() []handlerJourney {
	seen := map[string]bool{}
	var out []handlerJourney
	for _, h := range currentHandlers() {
		for _, j := range h.routes {
			if !seen[j.name] {
				seen[j.name] = true
				out = append(out, handlerJourney{h, j})
			}
		}
	}
	return out
}

// overrideRequest is the body of PUT /frontdoor/overrides/{journey}.
type overrideRequest struct {
	Backend string `json:"backend"`
	TTL     string `json:"ttl"`
	Reason  string `json:"reason"`
	By      string `json:"by"`
}

func (adminAPI) listOverrides(w http.ResponseWriter, r *http.Request) error {
	if err := onlyGET(r); err != nil {
		return err
	}
	out := struct {
		Overrides []fleet.Override `json:"overrides"`
		Audit     []map[string]any `json:"audit"`
	}{Overrides: []fleet.Override{}, Audit: []map[string]any{}}
	for _, b := range boards(currentHandlers()) {
		out.Overrides = append(out.Overrides, b.All(time.Now())...)
		audit, err := b.Audit(r.Context(), 50)
		if err != nil {
			return apiError(http.StatusBadGateway, "%v", err)
		}
		out.Audit = append(out.Audit, audit...)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (adminAPI) override(w http.ResponseWriter, r *http.Request) error {
	return changeOverride(w, r, currentHandlers())
}

// changeOverride sets or clears the override of a journey of the handlers.
func changeOverride(w http.ResponseWriter, r *http.Request, all []*Handler) error {
	journey := strings.TrimPrefix(r.URL.Path, "/frontdoor/overrides/")
	if journey == "" || strings.Contains(journey, "/") {
		return apiError(http.StatusNotFound, "no journey in the path: use /frontdoor/overrides/{journey}")
	}
	handlers := handlersWithJourney(all, journey)
	if r.Method == http.MethodDelete {
		// A reload that removes a journey leaves its override on the
		// board, listed and in force again if the journey comes back:
		// it is cleared wherever it is listed.
		handlers = append(handlers, handlersListing(all, journey, time.Now())...)
	}
	if len(handlers) == 0 {
		return apiError(http.StatusNotFound, "unknown journey %q", journey)
	}
	by, signed := certificateName(r)
	if !signed {
		by = r.RemoteAddr
	}
	switch r.Method {
	case http.MethodPut:
		var req overrideRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return apiError(http.StatusBadRequest, "decoding override: %v; want {\"backend\": NAME, \"ttl\": \"2h\", \"reason\": TEXT}", err)
		}
		if err := dec.Decode(&struct{}{}); err != io.EOF {
			return apiError(http.StatusBadRequest, "decoding override: data after the JSON object; want one {\"backend\": NAME, \"ttl\": \"2h\", \"reason\": TEXT}")
		}
		if !journeyHasBackend(handlers, journey, req.Backend) {
			return apiError(http.StatusBadRequest, "journey %q has no backend %q", journey, req.Backend)
		}
		ttl, err := time.ParseDuration(req.TTL)
		if err != nil || ttl < minOverrideTTL || ttl > maxOverrideTTL {
			return apiError(http.StatusBadRequest, "ttl %q: want a duration between %s and %s, e.g. \"2h\"", req.TTL, minOverrideTTL, maxOverrideTTL)
		}
		if len(req.Reason) > 500 || len(req.By) > 100 {
			return apiError(http.StatusBadRequest, "reason (500 bytes) or by (100 bytes) too long")
		}
		req.Reason = fleet.CleanText(req.Reason)
		if req.By != "" && !signed {
			by = fleet.CleanText(req.By) + " (" + r.RemoteAddr + ")"
		}
		now := time.Now()
		o := fleet.Override{Journey: journey, Backend: req.Backend, Reason: req.Reason, By: by, SetAt: now, ExpiresAt: now.Add(ttl)}
		pending, local := false, false
		for _, b := range boards(handlers) {
			p, err := b.Set(r.Context(), o)
			if err != nil {
				return apiError(http.StatusBadGateway, "%v", err)
			}
			pending, local = pending || p, local || b.Local()
		}
		note := pendingNote(pending)
		if note == "" && local {
			note = localNote
		}
		return writeJSON(w, changeStatus(pending), overrideAnswer{Override: o, FleetWide: !pending && !local, Note: note})
	case http.MethodDelete:
		pending := false
		for _, b := range boards(handlers) {
			p, err := b.Clear(r.Context(), journey, by)
			if err != nil {
				return apiError(http.StatusBadGateway, "%v", err)
			}
			pending = pending || p
		}
		if pending {
			return writeJSON(w, http.StatusAccepted, overrideAnswer{Override: fleet.Override{Journey: journey, By: by}, Note: pendingNote(true)})
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return apiError(http.StatusMethodNotAllowed, "method %s not allowed: use PUT or DELETE", r.Method)
}

// certificateName names who made a request on Caddy's remote admin
// endpoint: the common name of the client certificate the TLS handshake
// verified (its whole subject if it has none), with the address it came
// from. It reports false for a request without a verified certificate,
// as on the local endpoint, where the body's by is all there is.
func certificateName(r *http.Request) (string, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return "", false
	}
	subject := r.TLS.PeerCertificates[0].Subject
	name := subject.CommonName
	if name == "" {
		name = subject.String()
	}
	return fleet.CleanText(name) + " (client certificate, " + r.RemoteAddr + ")", true
}

// overrideAnswer is the answer to a change of override: the override and
// whether every instance follows it: not yet while Redis is unreachable,
// never without a session Redis.
type overrideAnswer struct {
	fleet.Override
	FleetWide bool   `json:"fleet_wide"`
	Note      string `json:"note,omitempty"`
}

// changeStatus is 200 for a change the fleet has, 202 for one that
// applies on this instance and waits for Redis to reach the others.
func changeStatus(pending bool) int {
	if pending {
		return http.StatusAccepted
	}
	return http.StatusOK
}

// localNote says an override holds where it was set: without a session
// Redis each instance keeps its own.
const localNote = "no session redis: the change applies on this instance only"

func pendingNote(pending bool) string {
	if !pending {
		return ""
	}
	return "redis is unreachable: the change applies on this instance now and reaches every instance when redis is back"
}

func (adminAPI) trail(w http.ResponseWriter, r *http.Request) error {
	if err := onlyGET(r); err != nil {
		return err
	}
	customer := strings.TrimPrefix(r.URL.Path, "/frontdoor/trail/")
	if customer == "" || strings.ContainsAny(customer, "/ \t\r\n") || len(customer) > 256 {
		return apiError(http.StatusBadRequest, "want /frontdoor/trail/{customer_id}")
	}
	entries, err := readTrail(r.Context(), currentHandlers(), customer)
	switch {
	case errors.Is(err, errNoRedis):
		return apiError(http.StatusNotFound, "%v", errors.New("no session store configured: trails need session { redis ... }"))
	case err != nil:
		return apiError(http.StatusBadGateway, "%v", err)
	}
	return writeJSON(w, http.StatusOK, struct {
		Customer string        `json:"customer_id"`
		Entries  []fleet.Entry `json:"entries"`
	}{customer, entries})
}

// trailListed is how many of a customer's trail entries the admin API
// lists.
const trailListed = 100

// readTrail reads the customer's trail in every Redis the handlers' sites
// use (two sites may each have their own), newest first.
func readTrail(ctx context.Context, handlers []*Handler, customer string) ([]fleet.Entry, error) {
	return readEverySite(handlers, trailListed,
		func(c redis.UniversalClient) ([]fleet.Entry, error) { return fleet.Read(ctx, c, customer, trailListed) },
		func(e fleet.Entry) time.Time { return e.Time })
}

// readEverySite reads records from every Redis the handlers' sites use,
// each once, and merges them newest first, at most n.
func readEverySite[T any](handlers []*Handler, n int, read func(redis.UniversalClient) ([]T, error), at func(T) time.Time) ([]T, error) {
	clients := siteRedis(handlers)
	if len(clients) == 0 {
		return nil, errNoRedis
	}
	var all []T
	for _, c := range clients {
		records, err := read(c)
		if err != nil {
			return nil, err
		}
		all = append(all, records...)
	}
	slices.SortStableFunc(all, func(a, b T) int { return at(b).Compare(at(a)) })
	return all[:min(len(all), n)], nil
}

// errNoRedis: no site of the gateway has a session Redis.
var errNoRedis = errors.New("no session redis")

// siteRedis lists the Redis clients of the handlers, each once.
func siteRedis(handlers []*Handler) []redis.UniversalClient {
	var clients []redis.UniversalClient
	for _, h := range handlers {
		if h.redis != nil && !slices.Contains(clients, h.redis) {
			clients = append(clients, h.redis)
		}
	}
	return clients
}

func handlersWithJourney(all []*Handler, journey string) []*Handler {
	var out []*Handler
	for _, h := range all {
		for _, j := range h.routes {
			if j.name == journey {
				out = append(out, h)
				break
			}
		}
	}
	return out
}

// handlersListing returns the handlers whose board has an override of the
// journey in force at now.
func handlersListing(all []*Handler, journey string, now time.Time) []*Handler {
	var out []*Handler
	for _, h := range all {
		if _, ok := h.board.Get(journey, now); ok {
			out = append(out, h)
		}
	}
	return out
}

func journeyHasBackend(handlers []*Handler, journey, backend string) bool {
	for _, h := range handlers {
		for _, j := range h.routes {
			if j.name != journey {
				continue
			}
			for _, b := range j.backends {
				if b.name == backend {
					return true
				}
			}
		}
	}
	return false
}

// boards returns the distinct override boards of the handlers: handlers
// sharing one Redis share one board.
func boards(handlers []*Handler) []*fleet.Board {
	var out []*fleet.Board
	seen := map[*fleet.Board]bool{}
	for _, h := range handlers {
		if !seen[h.board] {
			seen[h.board] = true
			out = append(out, h.board)
		}
	}
	return out
}

// Interface guard
var _ caddy.AdminRouter = adminAPI{}
