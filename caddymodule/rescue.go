package caddymodule

import (
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dunglas/httpsfv"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/shopper"
)

// Rescue. A journey with `rescue BACKEND [WINDOW]` sends its orphaned
// customers to that backend for the window, whatever hours and order say
// (a live override still wins), and tells the backend why in
// X-Frontdoor-Rescue. The marker lives in a field of the customer's
// session hash, written with the orphan off the request path, so the
// request's one context lookup reads it: rescuing costs no Redis round
// trip.

const (
	headerRescue = "X-Frontdoor-Rescue"
	reasonRescue = "rescue"

	// rescueFieldPrefix + journey is the session field holding the
	// journey's rescue marker: "<expiry unix ms> <X-Frontdoor-Rescue value>".
	rescueFieldPrefix = "frontdoor_rescue:"
)

// journeyRescue is a journey's compiled rescue line.
type journeyRescue struct {
	backend *backendRoute
	window  time.Duration
	field   string // of the session hash
}

// parseRescue parses `rescue BACKEND [WINDOW]`.
func (p *parser) parseRescue(d *caddyfile.Dispenser) (*config.Rescue, error) {
	args := d.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return nil, d.Err("rescue needs a backend of the journey and an optional window, e.g. rescue care-team 24h")
	}
	r := &config.Rescue{Backend: args[0]}
	p.positions[r] = d.Token()
	if len(args) == 2 {
		w, err := caddy.ParseDuration(args[1])
		if err != nil {
			return nil, d.Errf("rescue window %q: %v", args[1], err)
		}
		r.Window = config.Duration(w)
	}
	return r, nil
}

// provisionRescue compiles the journey's rescue line, after its backends.
func (j *journeyRoute) provisionRescue(r *config.Rescue) {
	j.orphanWindow = r.WindowOrDefault()
	if r == nil {
		return
	}
	for _, b := range j.backends {
		if b.name == r.Backend {
			j.rescue = &journeyRescue{backend: b, window: j.orphanWindow, field: rescueFieldPrefix + j.name}
		}
	}
}

// rescueFields returns the session field the journey's lookup must fetch
// for its rescue marker, if it has one.
func rescueFields(j *config.Journey) []string {
	if j.Rescue == nil {
		return nil
	}
	return []string{rescueFieldPrefix + j.Name}
}

// rescueMarker is the session field that rescues the customer orphaned by
// orphan, or nil when the journey rescues no one.
func (j *journeyRoute) rescueMarker(sessionKey string, orphan fleet.Orphan) *fleet.SessionMarker {
	if j.rescue == nil || sessionKey == "" || orphan.Backend == j.rescue.backend.name {
		return nil // the rescue backend cannot rescue from itself
	}
	dict := httpsfv.NewDictionary()
	dict.Add("cause", httpsfv.NewItem(httpsfv.Token(orphan.Cause)))
	dict.Add("backend", httpsfv.NewItem(orphan.Backend))
	dict.Add("ref", httpsfv.NewItem(orphan.RequestID))
	dict.Add("at", httpsfv.NewItem(orphan.Time.Unix()))
	value, err := httpsfv.Marshal(dict)
	if err != nil {
		return nil // config names are strings httpsfv takes; nothing else gets here
	}
	expiry := orphan.Time.Add(j.rescue.window).UnixMilli()
	return &fleet.SessionMarker{Key: sessionKey, Field: j.rescue.field, Value: strconv.FormatInt(expiry, 10) + " " + value,
		Live: func(raw string) bool {
			_, ok := liveMarker(raw, orphan.Time)
			return ok
		}}
}

// rescueFor returns the X-Frontdoor-Rescue value if the customer's request
// goes to the rescue backend: the customer is being rescued on the journey
// now, no live override says otherwise, and it is no shopper's visit.
func (j *journeyRoute) rescueFor(cc *customerContext, now time.Time, override string, visit *shopper.Visit) (string, bool) {
	if override != "" || j.rescue == nil || visit != nil {
		return "", false
	}
	return j.rescued(cc, now)
}

// rescued returns the X-Frontdoor-Rescue value if the customer is being
// rescued on the journey now.
func (j *journeyRoute) rescued(cc *customerContext, now time.Time) (string, bool) {
	if j.rescue == nil {
		return "", false
	}
	raw, ok := cc.ctx.Get(j.rescue.field)
	if !ok {
		return "", false
	}
	return liveMarker(raw, now)
}

// liveMarker returns the X-Frontdoor-Rescue value of a rescue marker that
// has not expired at now.
func liveMarker(raw string, now time.Time) (string, bool) {
	exp, value, ok := strings.Cut(raw, " ")
	ms, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || now.UnixMilli() >= ms {
		return "", false
	}
	if _, err := httpsfv.UnmarshalDictionary([]string{value}); err != nil {
		return "", false // not a marker frontdoor wrote: pass nothing on
	}
	return value, true
}

// rescuePlan puts the rescue backend first; the rest of the plan stays as
// failovers for a request that may be retried.
func (j *journeyRoute) rescuePlan(plan []candidate) []candidate {
	rb := j.rescue.backend
	out := plan[:0]
	rest := make([]candidate, 0, len(plan))
	for _, c := range plan {
		if c.backend != rb {
			rest = append(rest, candidate{backend: c.backend, reason: reasonFailover})
		}
	}
	out = append(out, candidate{backend: rb, reason: reasonRescue})
	return append(out, rest...)
}

// handlerOf names a backend as the fleet records it.
func handlerOf(b *backendRoute) fleet.Handler {
	return fleet.Handler{Backend: b.name, Owner: string(b.owner), Vendor: b.vendor}
}
