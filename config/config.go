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

	// Contacts are the requests that count as a customer contacting the
	// brand on this journey (a ticket opened, a chat started), for
	// first-contact resolution: a known customer's contact within
	// RepeatWindow of their previous one on the journey is a repeat,
	// counted against the backend that handled the previous one. It needs
	// a session store (the customer_id of the context). Default: none;
	// no contacts are counted.
	Contacts []ContactRule `json:"contacts,omitempty"`

	// RepeatWindow is how long after a contact another contact on the
	// journey counts as a repeat of it. Default: 72h.
	RepeatWindow Duration `json:"repeat_window,omitempty"`

	// Rescue names the backend that takes the journey's orphaned
	// customers, and for how long. Default: none; orphans are recorded
	// but routed as anyone else.
	Rescue *Rescue `json:"rescue,omitempty"`

	// Probes are the journey's secret shoppers: each walks its steps
	// through every backend of the journey on its interval. Default: none.
	Probes []*Probe `json:"probes,omitempty"`
}

// DefaultRepeatWindow is the repeat window of a journey that sets none:
// industry windows run from a day to ten business days.
const DefaultRepeatWindow = 72 * time.Hour

// ContactRule names requests that are a customer contact.
type ContactRule struct {
	// Method is the HTTP method of the request, e.g. POST. Required.
	Method string `json:"method"`

	// Paths are request path patterns with the semantics of Caddy's path
	// matcher, e.g. /support/tickets*. Required.
	Paths []string `json:"paths"`
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

	// Headers says how this backend receives the brand's and the
	// customer's context: "all" sends the plain X-Frontdoor-* headers and
	// the signed X-Frontdoor-Assertion carrying the same; "assertion" sends
	// only the assertion (and X-Request-Id), for a backend that verifies
	// it and reads everything from it: less to send and parse on every
	// request, and nothing a vendor could trust without verifying.
	// Default: all for in-house backends, assertion for outsourced ones.
	Headers string `json:"headers,omitempty"`

	// Isolate sets whether this backend's responses reach the customer in
	// an opaque origin: frontdoor adds the policy IsolationPolicy as one
	// more Content-Security-Policy header (policies combine, so the
	// backend's own cannot loosen it). The backend's scripts, forms,
	// popups, dialogs and downloads keep working, but its pages can no
	// longer read the brand's cookies or storage, nor read the answers of
	// brand pages fetched with the customer's credentials; they also
	// cannot use cookies or storage of their own from script, and their
	// requests to their own paths become cross-origin (Origin: null).
	// Default: on for outsourced backends, off for in-house.
	Isolate *bool `json:"isolate,omitempty"`

	// AllowRedirect lists the hosts, besides the brand's own, that this
	// backend's redirects may send the customer to: "pay.example" matches
	// that host on any port, "*.pay.example" any host under it. When set,
	// a response whose Location (on a 3xx) or Refresh leads a browser to
	// any other host is replaced by a brand 502 page. A Location naming
	// the backend's own upstream is rewritten to the brand host first.
	// Default: none, and every redirect passes; offsite redirects are
	// counted either way.
	AllowRedirect []string `json:"allow_redirect,omitempty"`

	// Origin is a brand subdomain (e.g. help.shop.example.com) that this
	// outsourced backend gets as its own origin, served by the same site:
	// a navigation on the brand host that routes to this backend is
	// redirected to the same path there, every request on that host
	// reaches this backend only, the customer's context is handed over
	// with a one-time code instead of the brand's session cookie, and the
	// browser's same-origin policy keeps the vendor's scripts away from
	// the brand's cookies and pages. On its origin the vendor's cookies
	// are its own (no jar) and its pages are not sandboxed. The host must
	// be one of the site's addresses and belong to one backend only; a
	// host name without scheme or port. Default: none; the backend is
	// served on the brand host.
	Origin string `json:"origin,omitempty"`

	// Cookies is the budget of an outsourced backend's cookie jar on the
	// brand host. Default: 20 cookies, 4096 bytes of names and values
	// together, each kept at most 24h (see CookieBudget).
	Cookies *CookieBudget `json:"cookies,omitempty"`

	// ProxyRaw is the Caddy reverse_proxy handler that reaches this
	// backend (upstreams, transport, health checks, load balancing). Its
	// "handler" must be "reverse_proxy". Required.
	ProxyRaw json.RawMessage `json:"proxy,omitempty" caddy:"namespace=http.handlers inline_key=handler"`

	// Closed lists the days this backend is closed whatever its hours
	// (public holidays, inventory days), in the zone of its hours, or UTC
	// when it has none (its hours must then all be in one zone). A closed
	// backend is skipped like one outside its hours; an override still
	// sends the journey to it. Default: none.
	Closed []Closure `json:"closed,omitempty"`

	// ResponseBodyTimeout is the longest this backend's response body may
	// go without progress once its headers came: at least 1 KiB more, or
	// its end. A vendor that stalls or trickles past it has its attempt
	// cut and counted as a timeout; the customer gets the brand 504 page
	// if nothing of the answer had reached them yet. Event streams
	// (text/event-stream) and upgraded connections (WebSocket) are never
	// cut by it. Zero turns it off. Default: 10s (DefaultResponseBodyTimeout).
	ResponseBodyTimeout *Duration `json:"response_body_timeout,omitempty"`

	// Holidays are iCalendar (.ics) files whose events close this backend
	// while they run: an all-day event from midnight to midnight in the
	// zone of the backend's hours, a timed event for its span, a recurring
	// event (RRULE, RDATE, EXDATE, RECURRENCE-ID) on each occurrence;
	// cancelled events are ignored. The event's SUMMARY is the reason the
	// status endpoint shows. Files are read when the config loads: reload
	// to pick up a changed file. Default: none.
	Holidays []string `json:"holidays,omitempty"`
}

// DefaultResponseBodyTimeout is a backend's ResponseBodyTimeout unless it
// sets one: at the edge a page that makes no progress for this long has
// lost its customer anyway.
const DefaultResponseBodyTimeout = 10 * time.Second

// BodyTimeout returns the backend's response body progress bound, applying
// the default; zero means none.
func (b *Backend) BodyTimeout() time.Duration {
	if b.ResponseBodyTimeout != nil {
		return time.Duration(*b.ResponseBodyTimeout)
	}
	return DefaultResponseBodyTimeout
}

// BannerEnabled reports whether the brand banner applies to this backend,
// applying the owner-dependent default.
func (b *Backend) BannerEnabled() bool {
	if b.Banner != nil {
		return *b.Banner
	}
	return b.Owner == Outsourced
}

// AssertionOnly reports whether this backend receives the brand's and the
// customer's context in the signed assertion only, applying the
// owner-dependent default: a vendor reads it from the verified token.
func (b *Backend) AssertionOnly() bool {
	if b.Headers != "" {
		return b.Headers == "assertion"
	}
	return b.Owner == Outsourced
}

// IsolationPolicy is the Content-Security-Policy an isolated backend's
// responses carry: a sandbox without allow-same-origin, which gives the
// document an opaque origin, keeping scripts, forms, popups (which may
// leave the sandbox), dialogs and downloads.
const IsolationPolicy = "sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads"

// IsolateEnabled reports whether this backend's responses are isolated,
// applying the owner-dependent default.
func (b *Backend) IsolateEnabled() bool {
	if b.Isolate != nil {
		return *b.Isolate
	}
	return b.Owner == Outsourced
}

// CookieBudget bounds what an outsourced backend may store in the
// customer's browser on the brand host (or on its own origin). Every
// cookie it sets is kept in its jar under a name of the jar's and scoped
// to the journey's paths; a cookie that would take the jar over budget is
// dropped and counted. The defaults keep a jar well under Caddy's 16 KiB
// request header limit, and all jars of a site together well under the
// 180 cookies a browser keeps for a site, so a vendor can neither lock a
// customer out of the brand site with oversized cookies nor make the
// browser evict the brand's session cookie with many.
type CookieBudget struct {
	// Max is the most cookies the jar puts in the browser at once. A
	// cookie the vendor sets is stored once for each cookie path of the
	// journey, so a journey of two paths (/support* /help*) holds Max/2 of
	// the vendor's names. On a vendor origin each name is one cookie.
	// Default: 20.
	Max int `json:"max,omitempty"`

	// Bytes bounds the stored names and values of the jar's cookies
	// together, in bytes. Default: 4096.
	Bytes int `json:"bytes,omitempty"`

	// MaxAge caps how long a cookie of the jar lives: a longer Max-Age or
	// a later Expires is cut to it. Default: 24h.
	MaxAge Duration `json:"max_age,omitempty"`
}

// Defaults of CookieBudget.
const (
	DefaultJarCookies = 20
	DefaultJarBytes   = 4096
	DefaultJarMaxAge  = 24 * time.Hour
)

// Limits returns the budget with the defaults filled in; b may be nil.
func (b *CookieBudget) Limits() (cookies, bytes int, maxAge time.Duration) {
	cookies, bytes, maxAge = DefaultJarCookies, DefaultJarBytes, DefaultJarMaxAge
	if b == nil {
		return cookies, bytes, maxAge
	}
	if b.Max > 0 {
		cookies = b.Max
	}
	if b.Bytes > 0 {
		bytes = b.Bytes
	}
	if b.MaxAge > 0 {
		maxAge = time.Duration(b.MaxAge)
	}
	return cookies, bytes, maxAge
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

	// OrphanRate is the most orphans per contact the backend may leave,
	// e.g. 0.02 for 2%: orphaned customers (frontdoor_orphans_total) over
	// the journey's contacts it took (frontdoor_contacts_total). The
	// journey needs contact lines for it to be measured. Zero means no
	// orphan objective.
	OrphanRate float64 `json:"orphan_rate,omitempty"`
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
