package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is a validation error about one element of the model (a *Journey,
// a *Backend, a *Probe, a *Step or nil for the whole configuration). Carrying the element lets
// the Caddyfile adapter point at the line the element was written on.
type Error struct {
	Elem any
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func errorf(elem any, format string, args ...any) error {
	return &Error{Elem: elem, Msg: fmt.Sprintf(format, args...)}
}

// LatencyBuckets are the boundaries, in seconds, of the request-duration
// histogram. They resolve 5ms to 30s and include the thresholds contracts
// commonly use, because a latency SLO's threshold must be one of them for
// dashboards to measure compliance exactly.
var LatencyBuckets = []float64{
	.005, .01, .025, .05, .075, .1, .15, .2, .25, .3, .4, .5, .6, .75, .8,
	1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10, 15, 20, 30,
}

// Validate checks a whole front-door configuration: each journey and
// backend on its own, and what only shows across them (duplicate names, a
// path claimed twice). It returns the first problem as an *Error.
func Validate(brand string, contact Contact, sessionOnError string, journeys []*Journey) error {
	if strings.TrimSpace(brand) == "" {
		return errorf(nil, "brand is required: the name customers know, e.g. brand \"Acme Outdoor\"")
	}
	if err := checkHeaderSafe("brand", brand); err != nil {
		return errorf(nil, "%v", err)
	}
	for _, f := range contact.fields() {
		if err := CheckContact(f[0], f[1]); err != nil {
			return errorf(nil, "%v", err)
		}
	}
	if err := CheckOnError(sessionOnError); err != nil {
		return errorf(nil, "session: %v", err)
	}
	if len(journeys) == 0 {
		return errorf(nil, "no journey: add at least one, e.g. journey checkout /checkout* { backend ... }")
	}
	journeyNames := map[string]bool{}
	pathOwner := map[string]string{}
	originOwner := map[string]string{}
	audienceOwner := map[string]audience{}
	jarCookies := 0 // what all vendors' jars may put in the browser
	for i, j := range journeys {
		if j == nil {
			return errorf(nil, "journeys[%d] is null: remove it or write the journey", i)
		}
		if err := validateJourney(j); err != nil {
			return err
		}
		if journeyNames[j.Name] {
			return errorf(j, "journey %q is defined twice: journey names must be unique", j.Name)
		}
		journeyNames[j.Name] = true
		for _, p := range j.Paths {
			if other, taken := pathOwner[p]; taken {
				return errorf(j, "path %q is claimed by journeys %q and %q: a path may belong to one journey", p, other, j.Name)
			}
			pathOwner[p] = j.Name
		}
		for _, b := range j.Backends {
			if err := claimAudience(audienceOwner, j, b); err != nil {
				return err
			}
			if b.Owner == Outsourced {
				max, _, _ := b.Cookies.Limits()
				if jarCookies += max; jarCookies > maxSiteJarCookies {
					return errorf(b, "journey %q, backend %q: the vendors' cookie jars together may put %d cookies in the browser, over %d: "+
						"a browser keeps %d cookies for a site and evicts the oldest beyond them, the brand's session among them; lower cookies max here or on another vendor",
						j.Name, b.Name, jarCookies, maxSiteJarCookies, browserSiteCookies)
				}
			}
			if b.Origin == "" {
				continue
			}
			host := NormalizeHost(b.Origin)
			if other, taken := originOwner[host]; taken {
				return errorf(b, "journey %q, backend %q: origin %q is already the origin of %s: a vendor origin belongs to one backend",
					j.Name, b.Name, b.Origin, other)
			}
			originOwner[host] = fmt.Sprintf("journey %q, backend %q", j.Name, b.Name)
		}
	}
	return nil
}

// audience is who receives the assertions of a backend name: the brand
// (vendor "") or one vendor, and the first journey that named it.
type audience struct {
	journey, vendor string
	inHouse         bool
}

// claimAudience refuses a backend name that another owner's backend
// already has. A backend's name is the audience (aud) of the assertions it
// receives, and a vendor's documented check is that aud names its
// backend: two vendors' backends of one name (in two journeys) could each
// replay the other's tokens, and a vendor's backend named like an in-house
// one could act as the brand towards the brand's own service. One vendor
// serving several journeys under one name, or in-house teams sharing one,
// is one audience.
func claimAudience(owners map[string]audience, j *Journey, b *Backend) error {
	mine := audience{journey: j.Name, vendor: b.Vendor, inHouse: b.Owner != Outsourced}
	other, taken := owners[b.Name]
	if !taken {
		owners[b.Name] = mine
		return nil
	}
	if other.inHouse == mine.inHouse && other.vendor == mine.vendor {
		return nil
	}
	whose := "in-house"
	if !other.inHouse {
		whose = fmt.Sprintf("of vendor %q", other.vendor)
	}
	return errorf(b, "journey %q, backend %q: journey %q has a backend named %q too, %s: the name is the audience (aud) of the assertions a backend receives, "+
		"so each could present the other's; give backends of different owners different names", j.Name, b.Name, other.journey, b.Name, whose)
}

func validateJourney(j *Journey) error {
	if err := checkName("journey", j.Name); err != nil {
		return errorf(j, "%v", err)
	}
	if len(j.Paths) == 0 {
		return errorf(j, "journey %q claims no path: list its paths, e.g. journey %s /%s*", j.Name, j.Name, j.Name)
	}
	for _, p := range j.Paths {
		if p == "" || (p[0] != '/' && p[0] != '*') {
			return errorf(j, "journey %q: path %q must start with '/' (or '*' for a suffix match)", j.Name, p)
		}
	}
	if err := CheckOnError(j.OnError); err != nil {
		return errorf(j, "journey %q: %v", j.Name, err)
	}
	if err := checkContacts(j); err != nil {
		return errorf(j, "journey %q: %v", j.Name, err)
	}
	if len(j.Backends) == 0 {
		return errorf(j, "journey %q has no backend: add at least one backend block", j.Name)
	}
	names := map[string]bool{}
	for i, b := range j.Backends {
		if b == nil {
			return errorf(j, "journey %q: backends[%d] is null: remove it or write the backend", j.Name, i)
		}
		if err := validateBackend(j, b); err != nil {
			return err
		}
		if names[b.Name] {
			return errorf(b, "journey %q: backend %q is defined twice: backend names must be unique within a journey", j.Name, b.Name)
		}
		names[b.Name] = true
	}
	if err := checkRescue(j); err != nil {
		return err
	}
	return validateProbes(j)
}

// maxRepeatWindow bounds a journey's repeat window: a contact months
// after the last is a new matter, and the keys live that long in Redis.
const maxRepeatWindow = 90 * 24 * time.Hour

// checkContacts checks what counts as a contact on a journey.
func checkContacts(j *Journey) error {
	for _, c := range j.Contacts {
		if c.Method == "" || !isUpperToken(c.Method) {
			return fmt.Errorf("contact method %q: want an HTTP method in capitals, e.g. contact POST /support/tickets*", c.Method)
		}
		if len(c.Paths) == 0 {
			return fmt.Errorf("contact %s names no path: e.g. contact %s /support/tickets*", c.Method, c.Method)
		}
		for _, p := range c.Paths {
			if p == "" || (p[0] != '/' && p[0] != '*') {
				return fmt.Errorf("contact %s path %q must start with '/' (or '*' for a suffix match)", c.Method, p)
			}
		}
	}
	if w := time.Duration(j.RepeatWindow); w < 0 || w > maxRepeatWindow || (w > 0 && w < time.Second) {
		return fmt.Errorf("repeat_window %v: want a duration between 1s and %v, e.g. 72h", w, maxRepeatWindow)
	}
	return nil
}

func isUpperToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func validateBackend(j *Journey, b *Backend) error {
	where := fmt.Sprintf("journey %q, backend %q", j.Name, b.Name)
	if err := checkName("backend", b.Name); err != nil {
		return errorf(b, "journey %q: %v", j.Name, err)
	}
	switch b.Owner {
	case InHouse:
		if b.Vendor != "" {
			return errorf(b, "%s: vendor %q is set on an in-house backend: vendor is for outsourced backends only", where, b.Vendor)
		}
	case Outsourced:
		if err := checkHeaderSafe("vendor", b.Vendor); err != nil {
			return errorf(b, "%s: %v", where, err)
		}
	case "":
		return errorf(b, "%s: owner is required: owner in-house or owner outsourced", where)
	default:
		return errorf(b, "%s: unknown owner %q: use in-house or outsourced", where, b.Owner)
	}
	if b.ResponseBodyTimeout != nil && *b.ResponseBodyTimeout < 0 {
		return errorf(b, "%s: response_body_timeout %v: must not be negative (0 turns it off)", where, time.Duration(*b.ResponseBodyTimeout))
	}
	if b.Headers != "" && b.Headers != "all" && b.Headers != "assertion" {
		return errorf(b, "%s: headers %q: want all (plain headers and the assertion) or assertion (the signed assertion only)", where, b.Headers)
	}
	if _, err := Compile(b.Hours); err != nil {
		return errorf(b, "%s: %v", where, err)
	}
	if _, err := CompileClosures(b.Hours, b.Closed, b.Holidays); err != nil {
		return errorf(b, "%s: %v", where, err)
	}
	headerOf := make(map[string]string, len(b.Context))
	for _, f := range b.Context {
		if err := checkField(f); err != nil {
			return errorf(b, "%s: context %v", where, err)
		}
		// Header names ignore case and frontdoor writes '_' as '-', so
		// customer_id and Customer-Id would fight over one header.
		h := strings.ToLower(strings.ReplaceAll(f, "_", "-"))
		if prev, dup := headerOf[h]; dup {
			if prev == f {
				return errorf(b, "%s: context field %q is listed twice", where, f)
			}
			return errorf(b, "%s: context fields %q and %q would both be sent as X-Frontdoor-Context-%s: keep one",
				where, prev, f, textproto.CanonicalMIMEHeaderKey(h))
		}
		headerOf[h] = f
	}
	if b.SLO != nil {
		if err := validateSLO(b.SLO); err != nil {
			return errorf(b, "%s: %v", where, err)
		}
		if b.SLO.OrphanRate > 0 && len(j.Contacts) == 0 {
			return errorf(b, "%s: slo orphans counts orphans per contact, and journey %q says no contact: add a contact line, e.g. contact POST /%s/tickets*",
				where, j.Name, j.Name)
		}
	}
	for _, host := range b.AllowRedirect {
		if err := CheckRedirectHost(host); err != nil {
			return errorf(b, "%s: %v", where, err)
		}
	}
	if b.Origin != "" {
		if b.Owner != Outsourced {
			return errorf(b, "%s: origin %q is set on an in-house backend: origin gives a vendor its own subdomain; in-house backends are the brand", where, b.Origin)
		}
		if err := CheckOriginHost(b.Origin); err != nil {
			return errorf(b, "%s: %v", where, err)
		}
	}
	if b.Cookies != nil {
		if err := validateCookieBudget(b); err != nil {
			return errorf(b, "%s: %v", where, err)
		}
	}
	if !hasUpstream(b.ProxyRaw) {
		return errorf(b, "%s: no upstream: add to ADDRESS, e.g. to http://127.0.0.1:9001", where)
	}
	return nil
}

// hasUpstream reports whether a backend's reverse proxy has somewhere to
// send requests: upstreams, or a source of dynamic upstreams. One with
// only other options (lb_policy, a transport) would answer every request
// with a 502. A proxy that is not a JSON object is left to the loading of
// the module to refuse.
func hasUpstream(proxy json.RawMessage) bool {
	if len(proxy) == 0 {
		return false
	}
	var p struct {
		Upstreams        []json.RawMessage `json:"upstreams"`
		DynamicUpstreams json.RawMessage   `json:"dynamic_upstreams"`
	}
	if json.Unmarshal(proxy, &p) != nil {
		return true
	}
	return len(p.Upstreams) > 0 || (len(p.DynamicUpstreams) > 0 && string(p.DynamicUpstreams) != "null")
}

func validateSLO(s *SLO) error {
	// Written so that NaN fails: it is neither above 0 nor below 1.
	if s.Availability != 0 && !(s.Availability > 0 && s.Availability < 1) {
		return fmt.Errorf("slo availability %v%% must be between 0%% and 100%% exclusive", s.Availability*100)
	}
	if s.OrphanRate != 0 && !(s.OrphanRate > 0 && s.OrphanRate < 1) {
		return fmt.Errorf("slo orphans %v%% must be between 0%% and 100%% exclusive", s.OrphanRate*100)
	}
	if s.LatencyTarget == 0 && s.LatencyThreshold == 0 {
		return nil
	}
	if !(s.LatencyTarget > 0 && s.LatencyTarget < 1) {
		return fmt.Errorf("slo latency target %v%% must be between 0%% and 100%% exclusive", s.LatencyTarget*100)
	}
	seconds := time.Duration(s.LatencyThreshold).Seconds()
	for _, b := range LatencyBuckets {
		if math.Abs(b-seconds) < 1e-9 {
			return nil
		}
	}
	var allowed []string
	for _, b := range LatencyBuckets {
		allowed = append(allowed, time.Duration(b*float64(time.Second)).String())
	}
	return fmt.Errorf("slo latency threshold %s is not a histogram bucket, so it could not be measured exactly: use one of %s",
		time.Duration(s.LatencyThreshold), strings.Join(allowed, ", "))
}

// SLOThresholdLabel renders a latency threshold the way Prometheus renders
// the matching histogram bucket's le label (seconds, shortest form).
func SLOThresholdLabel(d Duration) string {
	return fmt.Sprint(time.Duration(d).Seconds())
}

// CheckRedirectHost checks one host of allow_redirect: a DNS name, an IP
// address, or "*." and a DNS name for every host under it. Letter case
// and a trailing dot do not matter.
func CheckRedirectHost(host string) error {
	bad := fmt.Errorf("allow_redirect %q: want a host name such as pay.example or *.pay.example (no scheme, port or path)", host)
	name := strings.TrimSuffix(host, ".")
	if addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")); err == nil && addr.Zone() == "" {
		return nil
	}
	name = strings.TrimPrefix(name, "*.")
	if name == "" || len(name) > 253 {
		return bad
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return bad
			}
		}
	}
	return nil
}

// CheckOriginHost checks the host of a backend's origin: a DNS name
// without wildcard, scheme, port or path. Letter case and a trailing dot
// do not matter.
func CheckOriginHost(host string) error {
	bad := fmt.Errorf("origin %q: want a brand subdomain such as help.shop.example.com (no scheme, port, path or wildcard)", host)
	name := strings.TrimSuffix(host, ".")
	if strings.HasPrefix(name, "*") || strings.ContainsAny(name, "[]:") {
		return bad
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Errorf("origin %q: an IP address cannot be a vendor origin: browsers would not keep its cookies apart from the brand's; use a brand subdomain", host)
	}
	if CheckRedirectHost(name) != nil {
		return bad
	}
	return nil
}

// NormalizeHost is a host name as frontdoor compares hosts: lower case,
// without a trailing dot.
func NormalizeHost(host string) string {
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// CheckOnError checks an on_error value: open, closed or unset.
func CheckOnError(v string) error {
	switch v {
	case "", "open", "closed":
		return nil
	}
	return fmt.Errorf("on_error %q: use open (forward without context) or closed (brand 503 page)", v)
}

// checkName keeps names usable as header values, metric labels, URL path
// segments and JWT audiences without escaping.
func checkName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("%s name is required", kind)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%s name %q: use letters, digits, '-', '_' or '.'", kind, name)
		}
	}
	return nil
}

// checkField accepts session field names that map to a header name
// (X-Frontdoor-Context-<Field>) unambiguously.
func checkField(f string) error {
	if f == "" {
		return errors.New("field name is empty")
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("field %q: use letters, digits, '_' or '-'", f)
		}
	}
	return nil
}

// checkHeaderSafe refuses values that would break or inject a header.
// CheckContact checks one contact field (phone, email or url) for what
// the X-Frontdoor-Support-Contact header can carry: an RFC 9651 string,
// printable ASCII from space to '~'.
func CheckContact(field, v string) error {
	what := fmt.Sprintf("contact %s %q", field, v)
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for _, r := range v {
		switch {
		case r == '\t':
			return fmt.Errorf("%s has a tab: the support contact header holds printable ASCII only; use spaces", what)
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("%s has a control character (%U): the support contact header holds printable ASCII only", what, r)
		case r > 0x7f:
			return fmt.Errorf("%s has the non-ASCII character %q: X-Frontdoor-Support-Contact is an RFC 9651 structured field, whose strings hold printable ASCII only; %s",
				what, r, asciiHint(field, r))
		}
	}
	return nil
}

func asciiHint(field string, r rune) string {
	switch field {
	case "url":
		return fmt.Sprintf("percent-encode it (%c is %s) and write an internationalized host in punycode (xn--...)", r, percentEncode(r))
	case "email":
		return "use an ASCII address, with an internationalized domain in punycode (xn--...)"
	default:
		return "write it in ASCII"
	}
}

func percentEncode(r rune) string {
	var b strings.Builder
	for _, c := range []byte(string(r)) {
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func checkHeaderSafe(what, v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Errorf("%s %q contains a control character", what, v)
		}
	}
	return nil
}

// Bounds of a cookie budget. A browser keeps 180 cookies for a site (a
// registrable domain: the brand host and every vendor origin under it
// together; Chromium then evicts 30, the least recently used first), and
// Caddy refuses requests whose headers pass 16 KiB: a jar, and all the
// site's jars together, are kept well inside both, beside the brand's own
// cookies.
const (
	maxJarCookies      = 50
	minJarBytes        = 64
	maxJarBytes        = 8192
	browserSiteCookies = 180
	maxSiteJarCookies  = 120
)

func validateCookieBudget(b *Backend) error {
	c := b.Cookies
	switch {
	case b.Owner != Outsourced:
		return errors.New("cookies sets the budget of a vendor's cookie jar: in-house backends have none (their cookies are the brand's)")
	case c.Max < 0 || c.Max > maxJarCookies:
		return fmt.Errorf("cookies max %d: want 1 to %d", c.Max, maxJarCookies)
	case c.Bytes < 0 || c.Bytes > 0 && c.Bytes < minJarBytes || c.Bytes > maxJarBytes:
		return fmt.Errorf("cookies bytes %d: want %d to %d (all of the jar's names and values together)", c.Bytes, minJarBytes, maxJarBytes)
	case c.MaxAge < 0:
		return fmt.Errorf("cookies max_age %s: must not be negative", time.Duration(c.MaxAge))
	}
	return nil
}
