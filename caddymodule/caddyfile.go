package caddymodule

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/assertion"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("frontdoor", parseCaddyfile)
	// Before invoke and handle: frontdoor claims its journeys' paths first
	// and passes everything else on, so users need no order option; after
	// encode, intercept and templates so those can wrap its responses.
	httpcaddyfile.RegisterDirectiveOrder("frontdoor", httpcaddyfile.Before, "invoke")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	fd := new(Handler)
	if err := fd.unmarshal(h.Dispenser, &h); err != nil {
		return nil, err
	}
	return fd, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	frontdoor {
//		brand <name>
//		contact {
//			phone <number>
//			email <address>
//			url   <url>
//		}
//		session {
//			redis    <url>
//			cookie   <name>
//			key      <template with {id}>
//			timeout  <duration>
//			cache    <duration>
//			on_error open|closed
//			strip_cookies <name...>
//		}
//		assertion {
//			key <pem file...>
//			rotate <duration>
//			ttl <duration>
//			reuse <duration>
//		}
//		banner_template <file>
//		error_template  <file>
//		journey <name> <path...> {
//			on_error open|closed
//			contact <method> <path...>
//			repeat_window <duration>
//			rescue <backend> [<window>]
//			probe <name> {
//				every <duration>
//				customer {
//					<field> <value>
//				}
//				step <method> <path> [body <text>]
//				expect status <code...>
//				expect body <regexp>
//				expect customer <field...>
//				forbid <regexp>
//				within <duration>
//			}
//			backend <name> {
//				owner   in-house|outsourced
//				vendor  <name>
//				to      <upstream...>
//				hours   "<days> <HH:MM-HH:MM>" [<zone>]
//				closed  <date>[..<date>] [<reason>]
//				holidays <file.ics>
//				context <field...>
//				slo availability <percent>%
//				slo latency <percent>% <duration>
//				slo orphans <percent>%
//				banner  on|off
//				headers all|assertion
//				isolate [on|off]
//				allow_redirect <host...>
//				origin  <host>
//				<any reverse_proxy subdirective>
//			}
//		}
//	}
//
// Used through the frontdoor directive, handle_response blocks inside a
// backend work as in reverse_proxy.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return h.unmarshal(d, nil)
}

// parser keeps where each journey and backend was written, so validation
// errors found after parsing can still name the line.
type parser struct {
	helper    *httpcaddyfile.Helper
	positions map[any]caddyfile.Token
}

func (h *Handler) unmarshal(d *caddyfile.Dispenser, helper *httpcaddyfile.Helper) error {
	p := &parser{helper: helper, positions: map[any]caddyfile.Token{}}
	d.Next() // consume directive name
	directive := d.Token()
	if d.NextArg() {
		return d.ArgErr()
	}
	single := singleOptions{block: "frontdoor"}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch option := d.Val(); option {
		case "brand", "contact", "session", "assertion", "banner_template", "error_template":
			if err := single.once(d, option); err != nil {
				return err
			}
		}
		switch d.Val() {
		case "brand":
			if !d.AllArgs(&h.Brand) {
				return d.ArgErr()
			}
		case "contact":
			if err := parseContact(d, &h.Contact); err != nil {
				return err
			}
		case "session":
			s, err := parseSession(d)
			if err != nil {
				return err
			}
			h.Session = s
		case "assertion":
			a, err := parseAssertion(d)
			if err != nil {
				return err
			}
			h.Assertion = a
		case "banner_template":
			if !d.AllArgs(&h.BannerTemplate) {
				return d.ArgErr()
			}
		case "error_template":
			if !d.AllArgs(&h.ErrorTemplate) {
				return d.ArgErr()
			}
		case "journey":
			j, err := p.parseJourney(d)
			if err != nil {
				return err
			}
			h.Journeys = append(h.Journeys, j)
		default:
			return d.Errf("unrecognized frontdoor option %q: expected brand, contact, session, journey, assertion, banner_template or error_template", d.Val())
		}
	}

	onError := ""
	if h.Session != nil {
		onError = h.Session.OnError
	}
	err := config.Validate(h.Brand, h.Contact, onError, h.Journeys)
	if err == nil {
		err = checkProbeSessions(h)
	}
	if err == nil && helper != nil && !helper.IsNamedRoute() {
		// Named routes are adapted with a State of their own: their
		// journeys are checked when the config is provisioned.
		if err := claimJourneyNames(helper.State, h.Journeys, p.positions); err != nil {
			return err
		}
	}
	if err != nil {
		tok := directive
		var ve *config.Error
		if errors.As(err, &ve) && ve.Elem != nil {
			if t, ok := p.positions[ve.Elem]; ok {
				tok = t
			}
		}
		return errAt(tok, err)
	}
	return nil
}

// errAt is err as written at tok: with its file and line.
func errAt(tok caddyfile.Token, err error) error {
	at := caddyfile.NewDispenser([]caddyfile.Token{tok})
	at.Next()
	return at.WrapErr(err)
}

func parseContact(d *caddyfile.Dispenser, c *config.Contact) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	single := singleOptions{block: "contact"}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var target *string
		field := d.Val()
		switch field {
		case "phone":
			target = &c.Phone
		case "email":
			target = &c.Email
		case "url":
			target = &c.URL
		default:
			return d.Errf("unrecognized contact option %q: expected phone, email or url", d.Val())
		}
		if err := single.once(d, field); err != nil {
			return err
		}
		if !d.AllArgs(target) {
			return d.ArgErr()
		}
		if err := config.CheckContact(field, *target); err != nil {
			return d.WrapErr(err)
		}
	}
	return nil
}

func parseSession(d *caddyfile.Dispenser) (*SessionConfig, error) {
	s := new(SessionConfig)
	start := d.Token()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	single := singleOptions{block: "session"}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "redis", "cookie", "key", "timeout", "cache", "on_error":
			if err := single.once(d, opt); err != nil {
				return nil, err
			}
		}
		switch opt {
		case "redis":
			if !d.AllArgs(&s.Redis) {
				return nil, d.ArgErr()
			}
			if err := checkSessionRedis(s.Redis); err != nil {
				return nil, d.WrapErr(err)
			}
		case "cookie":
			if !d.AllArgs(&s.Cookie) {
				return nil, d.ArgErr()
			}
		case "key":
			if !d.AllArgs(&s.Key) {
				return nil, d.ArgErr()
			}
			if !strings.Contains(s.Key, "{id}") {
				return nil, d.Errf("session key %q must contain {id}, the cookie value, e.g. \"session:{id}\"", s.Key)
			}
		case "timeout", "cache":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur < 0 {
				return nil, d.Errf("session %s %q: want a duration such as 50ms or 2s", opt, v)
			}
			if opt == "timeout" {
				if dur == 0 {
					return nil, d.Errf("session timeout must be above zero")
				}
				s.Timeout = caddy.Duration(dur)
			} else {
				cache := caddy.Duration(dur)
				s.Cache = &cache
			}
		case "on_error":
			if !d.AllArgs(&s.OnError) {
				return nil, d.ArgErr()
			}
			if err := config.CheckOnError(s.OnError); err != nil {
				return nil, d.Errf("session: %v", err)
			}
		case "strip_cookies":
			s.StripCookies = append(s.StripCookies, d.RemainingArgs()...)
		default:
			return nil, d.Errf("unrecognized session option %q: expected redis, cookie, key, timeout, cache, on_error or strip_cookies", opt)
		}
	}
	if err := checkSessionRedis(s.Redis); err != nil {
		return nil, errAt(start, err)
	}
	if s.Cookie == "" {
		return nil, d.Err("session needs a cookie: the name of the brand's session cookie")
	}
	return s, nil
}

func parseAssertion(d *caddyfile.Dispenser) (*AssertionConfig, error) {
	a := new(AssertionConfig)
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	var reuseErr error // reported once the block's ttl is known
	single := singleOptions{block: "assertion"}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch option := d.Val(); option {
		case "rotate", "ttl", "reuse":
			if err := single.once(d, option); err != nil {
				return nil, err
			}
		}
		switch d.Val() {
		case "key":
			keys := d.RemainingArgs()
			if len(keys) == 0 {
				return nil, d.Err("key needs PEM files: the first signs, all are published")
			}
			a.Keys = append(a.Keys, keys...)
		case "rotate":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			every, err := caddy.ParseDuration(v)
			if err != nil || every < assertion.MinRotation {
				return nil, d.Errf("assertion rotate %q: want a duration of at least %v, e.g. 24h", v, assertion.MinRotation)
			}
			a.Rotate = caddy.Duration(every)
		case "ttl":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			ttl, err := caddy.ParseDuration(v)
			if err != nil || assertion.CheckTTL(ttl) != nil {
				return nil, d.Errf("assertion ttl %q: want a duration between 1s and 5m", v)
			}
			a.TTL = caddy.Duration(ttl)
		case "reuse":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			reuse, err := caddy.ParseDuration(v)
			if err != nil || reuse < 0 {
				return nil, d.Errf("assertion reuse %q: want a duration, at most half the assertion ttl", v)
			}
			r := caddy.Duration(reuse)
			a.Reuse = &r
			reuseErr = d.Errf("assertion reuse %s: must be at most half the assertion ttl", v)
		default:
			return nil, d.Errf("unrecognized assertion option %q: expected key, rotate, ttl or reuse", d.Val())
		}
	}
	if a.Rotate != 0 && len(a.Keys) > 0 {
		return nil, d.Err("assertion: rotate makes its keys in the process and cannot rotate key files: use one or the other")
	}
	ttl := assertion.DefaultTTL
	if a.TTL != 0 {
		ttl = time.Duration(a.TTL).Truncate(time.Second) // as the signer will
	}
	if a.Reuse != nil && checkReuse(time.Duration(*a.Reuse), ttl) != nil {
		return nil, reuseErr
	}
	return a, nil
}

// singleOptions refuses a second line of an option that holds one value
// in its block: the later line would silently replace the earlier, and
// which one the operator meant would be a guess.
type singleOptions struct {
	block string // "backend care", "journey support"
	seen  map[string]bool
}

func (s *singleOptions) once(d *caddyfile.Dispenser, option string) error {
	if s.seen[option] {
		return d.Errf("%s: %s is set twice: keep one line", s.block, option)
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[option] = true
	return nil
}

func (p *parser) parseJourney(d *caddyfile.Dispenser) (*config.Journey, error) {
	j := &config.Journey{}
	p.positions[j] = d.Token()
	if !d.NextArg() {
		return nil, d.Err("journey needs a name and paths, e.g. journey checkout /checkout* /cart*")
	}
	j.Name = d.Val()
	j.Paths = d.RemainingArgs()
	single := singleOptions{block: "journey " + j.Name}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch option := d.Val(); option {
		case "on_error", "repeat_window", "rescue":
			if err := single.once(d, option); err != nil {
				return nil, err
			}
		}
		switch d.Val() {
		case "backend":
			b, err := p.parseBackend(d)
			if err != nil {
				return nil, err
			}
			j.Backends = append(j.Backends, b)
		case "on_error":
			if !d.AllArgs(&j.OnError) {
				return nil, d.ArgErr()
			}
		case "contact":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return nil, d.Err("contact needs a method and paths, e.g. contact POST /support/tickets*")
			}
			j.Contacts = append(j.Contacts, config.ContactRule{Method: args[0], Paths: args[1:]})
		case "repeat_window":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.ArgErr()
			}
			w, err := caddy.ParseDuration(v)
			if err != nil {
				return nil, d.Errf("repeat_window %q: %v", v, err)
			}
			j.RepeatWindow = config.Duration(w)
		case "rescue":
			r, err := p.parseRescue(d)
			if err != nil {
				return nil, err
			}
			j.Rescue = r
		case "probe":
			pr, err := p.parseProbe(d)
			if err != nil {
				return nil, err
			}
			j.Probes = append(j.Probes, pr)
		default:
			return nil, d.Errf("unrecognized journey option %q: expected backend, probe, on_error, contact, repeat_window or rescue", d.Val())
		}
	}
	return j, nil
}

func (p *parser) parseBackend(d *caddyfile.Dispenser) (*config.Backend, error) {
	b := &config.Backend{}
	start := d.Token()
	p.positions[b] = start
	if !d.NextArg() {
		return nil, d.Err("backend needs a name, e.g. backend care-team { ... }")
	}
	b.Name = d.Val()
	if d.NextArg() {
		return nil, d.Errf("backend %s: unexpected %q: put upstreams inside the block with to", b.Name, d.Val())
	}

	var proxyTokens []caddyfile.Token
	single := singleOptions{block: "backend " + b.Name}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch option := d.Val(); option {
		case "owner", "vendor", "headers", "banner", "isolate", "cookies", "origin", "response_body_timeout":
			if err := single.once(d, option); err != nil {
				return nil, err
			}
		case "slo":
			if d.NextArg() {
				kind := d.Val()
				d.Prev()
				if err := single.once(d, "slo "+kind); err != nil {
					return nil, err
				}
			}
		}
		switch d.Val() {
		case "owner":
			var owner string
			if !d.AllArgs(&owner) {
				return nil, d.ArgErr()
			}
			b.Owner = config.Owner(owner)
		case "vendor":
			if !d.AllArgs(&b.Vendor) {
				return nil, d.ArgErr()
			}
		case "hours":
			args := d.RemainingArgs()
			if len(args) >= 2 && strings.Contains(args[1], ":") {
				return nil, d.Errf(`hours: quote the days and times together, e.g. hours "%s %s" %s`, args[0], args[1], strings.Join(args[2:], " "))
			}
			if len(args) < 1 || len(args) > 2 {
				return nil, d.Err(`hours wants "DAYS HH:MM-HH:MM" and an optional time zone, e.g. hours "Mon-Fri 08:00-20:00" America/New_York`)
			}
			hrs := config.Hours{When: args[0]}
			if len(args) == 2 {
				hrs.Zone = args[1]
			}
			if _, err := config.Compile([]config.Hours{hrs}); err != nil {
				return nil, d.Errf("backend %s: %v", b.Name, err)
			}
			b.Hours = append(b.Hours, hrs)
		case "context":
			fields := d.RemainingArgs()
			if len(fields) == 0 {
				return nil, d.Err("context needs the session fields this backend may see, e.g. context customer_id tier")
			}
			b.Context = append(b.Context, fields...)
		case "slo":
			if err := parseSLO(d, b); err != nil {
				return nil, err
			}
		case "headers":
			if !d.AllArgs(&b.Headers) {
				return nil, d.Err("headers wants all or assertion")
			}
		case "banner":
			var v string
			if !d.AllArgs(&v) || (v != "on" && v != "off") {
				return nil, d.Err("banner wants on or off")
			}
			on := v == "on"
			b.Banner = &on
		case "closed":
			args := d.RemainingArgs()
			if len(args) > 2 {
				return nil, d.Errf(`closed: quote the reason, e.g. closed %s "%s"`, args[0], strings.Join(args[1:], " "))
			}
			if len(args) == 0 {
				return nil, d.Err(`closed wants DATE or DATE..DATE and an optional reason, e.g. closed *-12-25 "Christmas Day"`)
			}
			c := config.Closure{Dates: args[0]}
			if len(args) == 2 {
				c.Reason = args[1]
			}
			if err := config.CheckClosure(c); err != nil {
				return nil, d.Errf("backend %s: %v", b.Name, err)
			}
			b.Closed = append(b.Closed, c)
		case "holidays":
			var file string
			if !d.AllArgs(&file) {
				return nil, d.Err("holidays wants one iCalendar file, e.g. holidays /etc/frontdoor/holidays.ics")
			}
			if err := config.CheckHolidays(file); err != nil {
				return nil, d.Errf("backend %s: %v", b.Name, err)
			}
			b.Holidays = append(b.Holidays, file)
		case "isolate":
			// Bare, it reads as on, like the other flags.
			on := true
			switch args := d.RemainingArgs(); {
			case len(args) == 0:
			case len(args) == 1 && (args[0] == "on" || args[0] == "off"):
				on = args[0] == "on"
			default:
				return nil, d.Err("isolate wants on, off or nothing (on)")
			}
			b.Isolate = &on
		case "cookies":
			budget, err := parseCookieBudget(d, b.Name)
			if err != nil {
				return nil, err
			}
			b.Cookies = budget
		case "allow_redirect":
			hosts := d.RemainingArgs()
			if len(hosts) == 0 {
				return nil, d.Err("allow_redirect needs the hosts this backend may redirect to, e.g. allow_redirect pay.example *.pay.example")
			}
			for _, host := range hosts {
				if err := config.CheckRedirectHost(host); err != nil {
					return nil, d.Errf("backend %s: %v", b.Name, err)
				}
			}
			b.AllowRedirect = append(b.AllowRedirect, hosts...)
		case "origin":
			if !d.AllArgs(&b.Origin) {
				return nil, d.Err("origin wants one brand subdomain this site serves, e.g. origin help.shop.example.com")
			}
			if err := config.CheckOriginHost(b.Origin); err != nil {
				return nil, d.Errf("backend %s: %v", b.Name, err)
			}
		case "response_body_timeout":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.Err("response_body_timeout wants a duration, e.g. response_body_timeout 30s (0 turns it off)")
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur < 0 {
				return nil, d.Errf("backend %s: response_body_timeout %q: want a duration such as 10s, or 0 for none", b.Name, v)
			}
			bound := config.Duration(dur)
			b.ResponseBodyTimeout = &bound
		default:
			// Everything else belongs to the backend's reverse proxy.
			proxyTokens = append(proxyTokens, d.NextSegment()...)
		}
	}
	if len(proxyTokens) == 0 {
		return b, nil // validation reports the missing upstream at this backend's line
	}
	raw, err := p.reverseProxyJSON(start, proxyTokens)
	if err != nil {
		return nil, err
	}
	b.ProxyRaw = raw
	return b, nil
}

// reverseProxyJSON feeds a backend's reverse_proxy subdirectives to Caddy's
// own reverse_proxy Caddyfile parser, as if they were written in a
// reverse_proxy block, so every subdirective works and errors keep lines.
func (p *parser) reverseProxyJSON(at caddyfile.Token, body []caddyfile.Token) (json.RawMessage, error) {
	last := body[len(body)-1]
	tokens := make([]caddyfile.Token, 0, len(body)+3)
	tokens = append(tokens,
		caddyfile.Token{File: at.File, Line: at.Line, Text: "reverse_proxy"},
		caddyfile.Token{File: at.File, Line: at.Line, Text: "{"})
	tokens = append(tokens, body...)
	tokens = append(tokens, caddyfile.Token{File: last.File, Line: last.Line + 1, Text: "}"})

	rp := new(reverseproxy.Handler)
	d := caddyfile.NewDispenser(tokens)
	if err := rp.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	if p.helper != nil {
		if err := rp.FinalizeUnmarshalCaddyfile(p.helper.WithDispenser(caddyfile.NewDispenser(tokens))); err != nil {
			return nil, err
		}
	}
	var warnings []caddyconfig.Warning
	raw := caddyconfig.JSONModuleObject(rp, "handler", "reverse_proxy", &warnings)
	return raw, nil
}

func parseSLO(d *caddyfile.Dispenser, b *config.Backend) error {
	args := d.RemainingArgs()
	if b.SLO == nil {
		b.SLO = new(config.SLO)
	}
	usage := "slo wants availability P%, latency P% DURATION or orphans P%, e.g. slo availability 99.5%, slo latency 95% 800ms or slo orphans 2%"
	if len(args) < 2 {
		return d.Err(usage)
	}
	pct, err := parsePercent(args[1])
	if err != nil {
		return d.Errf("slo %s: %v", args[0], err)
	}
	switch args[0] {
	case "availability":
		if len(args) != 2 {
			return d.Err(usage)
		}
		b.SLO.Availability = pct
	case "orphans":
		if len(args) != 2 {
			return d.Err(usage)
		}
		b.SLO.OrphanRate = pct
	case "latency":
		if len(args) != 3 {
			return d.Err(usage)
		}
		threshold, err := time.ParseDuration(args[2])
		if err != nil || threshold <= 0 {
			return d.Errf("slo latency: %q is not a duration such as 800ms", args[2])
		}
		b.SLO.LatencyTarget = pct
		b.SLO.LatencyThreshold = config.Duration(threshold)
	default:
		return d.Errf("unknown slo %q: %s", args[0], usage)
	}
	return nil
}

// parsePercent reads "99.5%" as 0.995.
func parsePercent(s string) (float64, error) {
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, errors.New("percentage " + strconv.Quote(s) + " needs a % sign, e.g. 99.5%")
	}
	// Parsing "99.9e-2" rather than dividing 99.9 by 100 gives the float
	// nearest 0.999, which is what dashboards should show.
	v, err := strconv.ParseFloat(num+"e-2", 64)
	if err != nil || strings.ContainsAny(num, "eEnN") || !(v > 0 && v < 1) {
		return 0, errors.New("percentage " + strconv.Quote(s) + " must be a number between 0% and 100% exclusive")
	}
	return v, nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)

// parseCookieBudget reads a backend's cookies block:
//
//	cookies {
//		max     COUNT
//		bytes   SIZE
//		max_age DURATION
//	}
func parseCookieBudget(d *caddyfile.Dispenser, backend string) (*config.CookieBudget, error) {
	if d.NextArg() {
		return nil, d.Errf("backend %s: cookies takes a block (max, bytes, max_age), not %q", backend, d.Val())
	}
	budget := new(config.CookieBudget)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		key := d.Val()
		var v string
		if !d.AllArgs(&v) {
			return nil, d.Errf("backend %s: cookies %s wants one value", backend, key)
		}
		switch key {
		case "max", "bytes":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, d.Errf("backend %s: cookies %s %q: want a positive whole number", backend, key, v)
			}
			if key == "max" {
				budget.Max = n
			} else {
				budget.Bytes = n
			}
		case "max_age":
			age, err := caddy.ParseDuration(v)
			if err != nil || age <= 0 {
				return nil, d.Errf("backend %s: cookies max_age %q: want a positive duration such as 24h", backend, v)
			}
			budget.MaxAge = config.Duration(age)
		default:
			return nil, d.Errf("backend %s: cookies has max, bytes and max_age, not %q", backend, key)
		}
	}
	return budget, nil
}
