// Package config is the front-door model: brand, contact, journeys and their
// backends, as platform teams write them in a Caddyfile or in Caddy's JSON.
// It knows nothing of HTTP serving; it parses the small languages the model
// uses (business hours, SLOs) and validates a whole configuration so that
// every entry point (caddy adapt, caddy validate, provisioning) rejects the
// same mistakes with the same words.
package config

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/dunglas/httpsfv"
)

// Owner says who runs a backend.
type Owner string

// The two owners a backend can have.
const (
	InHouse    Owner = "in-house"
	Outsourced Owner = "outsourced"
)

// Contact is the brand's single support contact, shown to customers on
// vendor pages and error pages and sent to every backend in the
// X-Frontdoor-Support-Contact header, an RFC 9651 structured-field
// dictionary of strings. Such strings hold printable ASCII only (space to
// '~'), so each field must too: a non-ASCII character, a tab or another
// control character is refused at validation (see CheckContact). Display
// Strings could carry non-ASCII text, but most structured-field parsers
// vendors use do not read them.
type Contact struct {
	// Phone is the support phone number as customers should dial it, e.g.
	// "+1 800 555 0100", in printable ASCII. Optional (default: none); at
	// least one contact field is expected.
	Phone string `json:"phone,omitempty"`

	// Email is the support email address in printable ASCII, e.g.
	// "help@acme.example"; an internationalized domain is written in
	// punycode ("xn--..."). Optional (default: none).
	Email string `json:"email,omitempty"`

	// URL is the brand's help page in printable ASCII: non-ASCII path or
	// query characters are percent-encoded ("%C3%A4" for "ä") and an
	// internationalized host is written in punycode. Optional (default:
	// none).
	URL string `json:"url,omitempty"`
}

// IsZero reports whether no contact field is set.
func (c Contact) IsZero() bool { return c.Phone == "" && c.Email == "" && c.URL == "" }

// HeaderValue renders the contact as the value of
// X-Frontdoor-Support-Contact: an RFC 9651 structured-field dictionary,
// serialized by httpsfv, whose members are the fields that are set, e.g.
// `phone="+1 800 555 0100", email="help@acme.example", url="https://acme.example/help"`.
// It fails for a value that CheckContact refuses.
func (c Contact) HeaderValue() (string, error) {
	d := httpsfv.NewDictionary()
	for _, f := range c.fields() {
		if f[1] != "" {
			d.Add(f[0], httpsfv.NewItem(f[1]))
		}
	}
	if len(d.Names()) == 0 {
		return "", nil
	}
	v, err := httpsfv.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("serializing the support contact: %w", err)
	}
	return v, nil
}

func (c Contact) fields() [][2]string {
	return [][2]string{{"phone", c.Phone}, {"email", c.Email}, {"url", c.URL}}
}

// Journey is one part of the customer journey (checkout, support,
// tracking...) claimed by path patterns and served by backends tried in the
// order written.
type Journey struct {
	// Name identifies the journey in headers, metrics and the admin API.
	// Required; letters, digits, '-' and '_'.
	Name string `json:"name"`

	// Paths are the request path patterns this journey claims, with the
	// semantics of Caddy's path matcher (exact, prefix* and *suffix, and
	// wildcards). Required.
	Paths []string `json:"paths"`

	// Backends serve the journey, tried in this order. Required.
	Backends []*Backend `json:"backends"`

	// OnError overrides the session block's on_error for this journey:
	// "open" forwards without customer context when the context store
	// fails, "closed" answers a brand 503 page. Default: the session's.
	OnError string `json:"on_error,omitempty"`

	// Probes are the journey's secret shoppers: each walks its steps
	// through every backend of the journey on its interval. Default: none.
	Probes []*Probe `json:"probes,omitempty"`
}

// Backend is one way to serve a journey: an in-house team or a vendor,
// reached through Caddy's reverse proxy.
type Backend struct {
	// Name identifies the backend in headers, metrics, the assertion's
	// audience and the admin API. Required; unique within its journey.
	Name string `json:"name"`

	// Owner is "in-house" or "outsourced". Required.
	Owner Owner `json:"owner"`

	// Vendor is the vendor's name, for outsourced backends only. It labels
	// metrics so dashboards can put each vendor next to the in-house team.
	Vendor string `json:"vendor,omitempty"`

	// Hours are the times this backend takes traffic. A backend with no
	// hours is always open; with several, it is open when any of them is.
	// Outside its hours the backend is skipped in favour of the next one.
	Hours []Hours `json:"hours,omitempty"`

	// Context lists the customer-context fields this backend may see, as
	// stored in the session hash (e.g. "customer_id", "tier"); "trail" adds
	// the customer's latest trail entry. Default: none.
	Context []string `json:"context,omitempty"`

	// SLO is the service level this backend owes, from its contract. It is
	// exported as frontdoor_backend_slo_objective for dashboards and alerts.
	// Default: none.
	SLO *SLO `json:"slo,omitempty"`

	// Banner sets whether HTML pages from this backend carry the brand
	// contact banner. Default: on for outsourced backends, off for in-house.
	Banner *bool `json:"banner,omitempty"`

	// ProxyRaw is the Caddy reverse_proxy handler that reaches this
	// backend (upstreams, transport, health checks, load balancing). Its
	// "handler" must be "reverse_proxy". Required.
	ProxyRaw json.RawMessage `json:"proxy,omitempty" caddy:"namespace=http.handlers inline_key=handler"`
}

// BannerEnabled reports whether the brand banner applies to this backend,
// applying the owner-dependent default.
func (b *Backend) BannerEnabled() bool {
	if b.Banner != nil {
		return *b.Banner
	}
	return b.Owner == Outsourced
}

// SLO is a backend's contractual service level.
type SLO struct {
	// Availability is the fraction of requests that must not fail with a
	// 5xx, e.g. 0.995 for 99.5%. Zero means no availability objective.
	Availability float64 `json:"availability,omitempty"`

	// LatencyTarget is the fraction of requests that must complete within
	// LatencyThreshold, e.g. 0.95 for 95%. Zero means no latency objective.
	LatencyTarget float64 `json:"latency_target,omitempty"`

	// LatencyThreshold is the duration the LatencyTarget applies to. It
	// must be one of the request-duration histogram's bucket boundaries
	// so dashboards can compute compliance exactly.
	LatencyThreshold Duration `json:"latency_threshold,omitempty"`
}

// Duration is a time.Duration that reads from JSON as a Go duration string
// ("800ms") or as integer nanoseconds, as Caddy's own durations do.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q: %v", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("invalid duration %s: want a string like \"800ms\" or nanoseconds", b)
	}
	*d = Duration(n)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
