package caddymodule

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"
)

// Offsite redirects.
//
// A backend's Location (or Refresh) is read the way a browser reads it, by
// the WHATWG URL rules for http(s) URLs, which are looser than RFC 3986:
// leading and trailing spaces and control characters are trimmed, tabs
// and newlines anywhere are dropped, '\' is '/', any run of slashes starts
// a host ("///evil.example", "/\evil.example"), and a scheme without
// slashes ("https:evil.example") names a host when the page's scheme is
// another. Where the rules depend on what frontdoor cannot know (the
// scheme the customer used behind a TLS-terminating balancer), the reading
// that names a host is taken: a redirect is only ever judged offsite by
// mistake, never onsite.

// redirectTarget tells where a redirect leads the browser: onsite (the
// same host, a relative reference) or to host, the lower-case name or
// canonical IP address ("" when there is none a browser could reach, as
// for javascript: or an unparsable authority, which counts as offsite).
func redirectTarget(loc string) (host string, onsite bool) {
	loc = browserTrim(loc)
	scheme, rest, hasScheme := splitScheme(loc)
	switch {
	case hasScheme && scheme != "http" && scheme != "https":
		return "", false
	case hasScheme:
		// "https:evil.example" and "https:/evil.example" are relative only
		// when the page has the same scheme: read them as naming a host.
		return authorityHost(strings.TrimLeft(rest, "/"))
	case strings.HasPrefix(loc, "//"):
		return authorityHost(strings.TrimLeft(loc, "/"))
	}
	return "", true
}

// browserTrim applies the URL parser's clean-up: C0 controls and spaces
// trimmed at both ends, ASCII tabs and newlines removed, '\' read as '/'
// (it is in http(s) URLs, and other schemes are offsite anyway).
func browserTrim(loc string) string {
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= ' ' })
	if strings.ContainsAny(loc, "\t\n\r\\") {
		loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(loc)
	}
	return loc
}

// splitScheme separates an RFC 3986 scheme, lower-cased, from the rest.
func splitScheme(loc string) (scheme, rest string, ok bool) {
	for i := 0; i < len(loc); i++ {
		c := loc[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return strings.ToLower(loc[:i]), loc[i+1:], true
		default:
			return "", loc, false
		}
	}
	return "", loc, false
}

// authorityHost reads the host of what follows the slashes of an
// absolute URL: up to the first '/', '?' or '#', after the last '@',
// without the port, percent-decoded as browsers decode it.
func authorityHost(s string) (string, bool) {
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	host := s
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", false
		}
		host = host[1:end]
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host, err := url.PathUnescape(host)
	if err != nil || host == "" {
		return "", false
	}
	return strings.TrimSuffix(canonicalHost(host), "."), false
}

// hostAllowed reports whether host is one of the allow_redirect hosts:
// equal to one, or under a "*." one.
func hostAllowed(host string, allowed []string) bool {
	if host == "" {
		return false
	}
	for _, a := range allowed {
		if suffix, ok := strings.CutPrefix(a, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == a {
			return true
		}
	}
	return false
}

// normalizeRedirectHosts writes allow_redirect hosts the way
// redirectTarget returns hosts.
func normalizeRedirectHosts(hosts []string) []string {
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		wildcard := strings.HasPrefix(h, "*.")
		h = strings.TrimSuffix(strings.TrimPrefix(h, "*."), ".")
		h = canonicalHost(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
		if wildcard {
			h = "*." + h
		}
		out = append(out, h)
	}
	return out
}

// refreshURL returns the URL of a Refresh header ("5; url=/next"), read
// as HTML's shared declarative refresh steps read it, if it names one.
func refreshURL(v string) (string, bool) {
	const ws = " \t\n\f\r"
	s := strings.TrimLeft(v, ws)
	if s == "" || !(s[0] >= '0' && s[0] <= '9' || s[0] == '.') {
		return "", false // no time: no refresh at all
	}
	s = strings.TrimLeft(s, "0123456789.")
	if s == "" || !strings.ContainsRune(";,"+ws, rune(s[0])) {
		return "", false
	}
	s = strings.TrimLeft(s, ws)
	if s != "" && (s[0] == ';' || s[0] == ',') {
		s = s[1:]
	}
	s = strings.TrimLeft(s, ws)
	target := s
	if len(s) >= 3 && strings.EqualFold(s[:3], "url") {
		if rest := strings.TrimLeft(s[3:], ws); rest != "" && rest[0] == '=' {
			target = strings.TrimLeft(rest[1:], ws)
		}
	}
	if target != "" && (target[0] == '\'' || target[0] == '"') {
		quote := target[0]
		target = target[1:]
		if end := strings.IndexByte(target, quote); end >= 0 {
			target = target[:end]
		}
	}
	return target, target != ""
}

// redirectsAllowed looks at where a response sends the customer: its
// Location and Refresh. It counts each offsite one and reports false if
// one goes where the backend's allow_redirect does not allow.
func (p *responsePolicy) redirectsAllowed(x *exchangeScope, hdr http.Header) bool {
	ok := true
	check := func(target string) {
		host, onsite := redirectTarget(target)
		if onsite || host == brandHost(x.req) {
			return
		}
		allowed := p.allowRedirect == nil || hostAllowed(host, p.allowRedirect)
		p.stats.offsiteRedirect(allowed)
		if !allowed {
			ok = false
			p.logger.Warn("refused a redirect to a host allow_redirect does not list",
				zap.String("journey", p.journey), zap.String("backend", p.backend),
				zap.String("host", host), zap.String("request_id", x.requestID))
		}
	}
	for _, loc := range hdr["Location"] {
		check(loc)
	}
	refresh := hdr["Refresh"]
	for _, v := range refresh {
		if target, found := refreshURL(v); found {
			check(target)
		}
	}
	if len(refresh) > 1 {
		// A browser reads the lines as one value, joined with ", ":
		// "0" and "url=…" on two lines are one refresh there.
		if target, found := refreshURL(strings.Join(refresh, ", ")); found {
			check(target)
		}
	}
	return ok
}

// brandHost is the host the customer asked for, as redirectTarget writes
// hosts.
func brandHost(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(canonicalHost(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")), ".")
}
