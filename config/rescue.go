package config

import "time"

// Rescue sends a journey's orphaned customers (a backend hung up their
// chat, showed them a brand error page or took a contact they had to
// repeat) to one backend for a while, whatever hours and order say; a live
// override still wins.
type Rescue struct {
	// Backend is the journey's backend that takes orphaned customers,
	// normally the in-house team. Required.
	Backend string `json:"backend"`

	// Window is how long after being orphaned a customer is rescued; it
	// is also the window in which each orphaning is recorded once.
	// Default: 24h.
	Window Duration `json:"window,omitempty"`
}

// DefaultRescueWindow is the rescue window of a journey that sets none.
const DefaultRescueWindow = 24 * time.Hour

// maxRescueWindow bounds the rescue window: the marker lives that long in
// the customer's session.
const maxRescueWindow = 30 * 24 * time.Hour

// WindowOrDefault returns the rescue window in force.
func (r *Rescue) WindowOrDefault() time.Duration {
	if r == nil || r.Window == 0 {
		return DefaultRescueWindow
	}
	return time.Duration(r.Window)
}

// checkRescue checks a journey's rescue line: the backend is one of the
// journey's and the window is sensible.
func checkRescue(j *Journey) error {
	r := j.Rescue
	if r == nil {
		return nil
	}
	if r.Backend == "" {
		return errorf(r, "journey %q: rescue needs a backend, e.g. rescue care-team 24h", j.Name)
	}
	found := false
	for _, b := range j.Backends {
		found = found || b.Name == r.Backend
	}
	if !found {
		return errorf(r, "journey %q: rescue backend %q is not a backend of this journey", j.Name, r.Backend)
	}
	if w := time.Duration(r.Window); w < 0 || w > maxRescueWindow || (w > 0 && w < time.Second) {
		return errorf(r, "journey %q: rescue window %v: want a duration between 1s and %v, e.g. 24h", j.Name, w, maxRescueWindow)
	}
	return nil
}
