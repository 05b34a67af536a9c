package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Probe is a secret shopper: a synthetic customer that walks a journey's
// steps through every backend of the journey, in-house included and open
// or not, through frontdoor's own pipeline, and checks what a customer
// would get. Vendors cannot tell it from a customer.
type Probe struct {
	// Name identifies the probe in metrics (the probe label), the status
	// endpoint and `frontdoor probes`. Required; letters, digits, '-', '_'
	// or '.'; unique within its journey.
	Name string `json:"name"`

	// Every is how often the probe shops each backend. With several
	// instances sharing the session Redis, each backend is shopped once per
	// interval across the fleet. At least 1s. Default: 1m.
	Every Duration `json:"every,omitempty"`

	// Customer is the synthetic customer's context, as fields of the
	// session hash (e.g. "customer_id": "P-0001", "first_name": "Quinn").
	// frontdoor writes it to the session store itself before each run,
	// under a session id reserved for the probe, and the shopper sends that
	// session's cookie, so backends get it like any customer's context.
	// Needs a session block. Default: none (the shopper has no session).
	Customer map[string]string `json:"customer,omitempty"`

	// From are the addresses the synthetic customer comes from, as
	// backends see a customer's (Caddy's client IP, X-Forwarded-For): IP
	// addresses or CIDR ranges, e.g. "203.0.113.0/24", from which each
	// run takes one at random (each step of a run keeps it, as a
	// customer's visit does). Use addresses your customers could have:
	// a vendor that knows them would know the shopper. Default: the
	// gateway's loopback address, which no customer has.
	From []string `json:"from,omitempty"`

	// Steps are walked in order, with one cookie jar per run, so a probe can
	// open a help page, start a chat and post a message. A run stops at the
	// first step that fails a check. Required.
	Steps []*Step `json:"steps"`
}

// Step is one request of a probe and the checks its answer must pass.
// Besides these, every step is checked for what no customer may get: a
// 5xx, a brand error page, a page of a bannered backend without the brand
// banner, and a vendor's Server or X-Powered-By header.
type Step struct {
	// Method is the HTTP method, e.g. GET or POST. Required.
	Method string `json:"method"`

	// Path is the request path, with an optional query, e.g.
	// "/support/help?topic=returns". It must be claimed by the probe's
	// journey. Required.
	Path string `json:"path"`

	// Body is the request body. A body starting with '{' or '[' is sent as
	// application/json, any other as application/x-www-form-urlencoded.
	// Default: none.
	Body string `json:"body,omitempty"`

	// ExpectStatus lists the status codes the answer may have. Redirects
	// are not followed. Default: any status below 400.
	ExpectStatus []int `json:"expect_status,omitempty"`

	// ExpectBody are regular expressions (Go syntax) the answer's body must
	// each match. Default: none.
	ExpectBody []string `json:"expect_body,omitempty"`

	// ExpectCustomer lists fields of the probe's customer whose values the
	// answer's body must show (as written or HTML-escaped): the backend
	// knows who it serves. Each is checked on the backends allowed to see
	// the field (their context lists it). Default: none.
	ExpectCustomer []string `json:"expect_customer,omitempty"`

	// Forbid are regular expressions (Go syntax) the answer's body must not
	// match, e.g. "(?i)nightdesk|powered by" for a vendor's own branding.
	// Default: none.
	Forbid []string `json:"forbid,omitempty"`

	// Within is how long the answer may take, body included. Default: the
	// backend's latency SLO threshold if it has one, else no limit but the
	// run's (its interval, at most a minute).
	Within Duration `json:"within,omitempty"`
}

// DefaultProbeEvery is a probe's interval when none is set.
const DefaultProbeEvery = time.Minute

// MinProbeEvery is the shortest interval a probe may have.
const MinProbeEvery = time.Second

// maxStepBody bounds a step's request body.
const maxStepBody = 64 << 10

// Interval returns how often the probe runs, applying the default.
func (p *Probe) Interval() time.Duration {
	if p.Every == 0 {
		return DefaultProbeEvery
	}
	return time.Duration(p.Every)
}

// WithinFor returns the step's time limit on backend b: its own within, or
// the backend's latency SLO threshold, or 0 for none.
func (s *Step) WithinFor(b *Backend) time.Duration {
	if s.Within > 0 {
		return time.Duration(s.Within)
	}
	if b.SLO != nil && b.SLO.LatencyThreshold > 0 {
		return time.Duration(b.SLO.LatencyThreshold)
	}
	return 0
}

// ExpectsStatus reports whether status is one the step accepts.
func (s *Step) ExpectsStatus(status int) bool {
	if len(s.ExpectStatus) == 0 {
		return status < 400
	}
	for _, c := range s.ExpectStatus {
		if c == status {
			return true
		}
	}
	return false
}

// ParseFrom reads one of a probe's From: an IP address (a range of its
// own) or a CIDR range, without a zone. None of its addresses may be one
// a customer cannot come from (notCustomers): the shopper takes any
// address of the range.
func ParseFrom(from string) (netip.Prefix, error) {
	prefix, err := netip.ParsePrefix(from)
	if err != nil {
		addr, addrErr := netip.ParseAddr(from)
		if addrErr != nil || addr.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: want an IP address or a CIDR range such as 203.0.113.0/24", from)
		}
		prefix = netip.PrefixFrom(addr, addr.BitLen())
	}
	prefix = prefix.Masked()
	for _, block := range notCustomers {
		if prefix.Overlaps(block.prefix) {
			return netip.Prefix{}, fmt.Errorf("%q: no customer comes from %s (%s)", from, block.prefix, block.what)
		}
	}
	return prefix, nil
}

// notCustomers are the addresses no customer's request comes from over
// the internet: a vendor seeing one would know the shopper.
var notCustomers = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved, and broadcast"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::ffff:0:0/96"), "IPv4-mapped: write the IPv4 range"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// reservedCustomerFields are session fields frontdoor writes itself.
var reservedCustomerFields = map[string]bool{"frontdoor_trail": true}

func validateProbes(j *Journey) error {
	names := map[string]bool{}
	for i, p := range j.Probes {
		if p == nil {
			return errorf(j, "journey %q: probes[%d] is null: remove it or write the probe", j.Name, i)
		}
		if err := validateProbe(j, p); err != nil {
			return err
		}
		if names[p.Name] {
			return errorf(p, "journey %q: probe %q is defined twice: probe names must be unique within a journey", j.Name, p.Name)
		}
		names[p.Name] = true
	}
	return nil
}

func validateProbe(j *Journey, p *Probe) error {
	if err := checkName("probe", p.Name); err != nil {
		return errorf(p, "journey %q: %v", j.Name, err)
	}
	where := fmt.Sprintf("journey %q, probe %q", j.Name, p.Name)
	if p.Every != 0 && time.Duration(p.Every) < MinProbeEvery {
		return errorf(p, "%s: every %s: a probe runs at most once a second, e.g. every 1m", where, time.Duration(p.Every))
	}
	for f, v := range p.Customer {
		if err := checkField(f); err != nil {
			return errorf(p, "%s: customer %v", where, err)
		}
		if reservedCustomerFields[f] {
			return errorf(p, "%s: customer field %q is written by frontdoor itself: use another name", where, f)
		}
		if err := checkContextValue(v); err != nil {
			return errorf(p, "%s: customer %s: %v", where, f, err)
		}
	}
	for _, from := range p.From {
		if _, err := ParseFrom(from); err != nil {
			return errorf(p, "%s: from %v", where, err)
		}
	}
	if len(p.Steps) == 0 {
		return errorf(p, "%s has no step: add at least one, e.g. step GET %s", where, examplePath(j))
	}
	for i, s := range p.Steps {
		if s == nil {
			return errorf(p, "%s: steps[%d] is null: remove it or write the step", where, i)
		}
		if err := validateStep(p, s); err != nil {
			return errorf(s, "%s, step %d (%s %s): %v", where, i+1, s.Method, s.Path, err)
		}
	}
	return nil
}

func validateStep(p *Probe, s *Step) error {
	if s.Method == "" {
		return fmt.Errorf("method is required, e.g. step GET /support")
	}
	for i := 0; i < len(s.Method); i++ {
		if c := s.Method[i]; c < 'A' || c > 'Z' {
			return fmt.Errorf("method %q: use an HTTP method in capitals, e.g. GET or POST", s.Method)
		}
	}
	if !strings.HasPrefix(s.Path, "/") || strings.HasPrefix(s.Path, "//") {
		return fmt.Errorf("path %q must start with a single '/'", s.Path)
	}
	if u, err := url.ParseRequestURI(s.Path); err != nil || u.Fragment != "" || strings.ContainsAny(s.Path, " #") {
		return fmt.Errorf("path %q is not a request path (percent-encode spaces and other special characters)", s.Path)
	}
	if len(s.Body) > maxStepBody {
		return fmt.Errorf("body of %d bytes: at most %d", len(s.Body), maxStepBody)
	}
	for _, code := range s.ExpectStatus {
		if code < 100 || code > 599 {
			return fmt.Errorf("expect status %d: a status code is between 100 and 599", code)
		}
	}
	for _, re := range s.ExpectBody {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("expect body %q: %v", re, err)
		}
	}
	for _, re := range s.Forbid {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("forbid %q: %v", re, err)
		}
	}
	for _, f := range s.ExpectCustomer {
		if _, ok := p.Customer[f]; !ok {
			return fmt.Errorf("expect customer %s: the probe's customer has no %s: add it to customer { %s VALUE }", f, f, f)
		}
	}
	if s.Within < 0 {
		return fmt.Errorf("within %s must be above zero", time.Duration(s.Within))
	}
	return nil
}

// checkContextValue refuses what the session store would refuse to hand
// to a backend: invalid UTF-8, control characters, over 1 KiB.
func checkContextValue(v string) error {
	switch {
	case len(v) > 1024:
		return fmt.Errorf("value of %d bytes: at most 1024", len(v))
	case !utf8.ValidString(v):
		return fmt.Errorf("value %q is not valid UTF-8", v)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return fmt.Errorf("value %q has a control character", v)
		}
	}
	return nil
}

func examplePath(j *Journey) string {
	if len(j.Paths) > 0 {
		if p := strings.TrimRight(j.Paths[0], "*"); strings.HasPrefix(p, "/") {
			return p
		}
	}
	return "/"
}
