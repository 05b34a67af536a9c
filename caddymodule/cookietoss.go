package caddymodule

import (
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/frontdoor-dev/frontdoor/internal/cookieline"
)

// A script on any other host of the brand's site (a vendor's origin, where
// its pages run unsandboxed, among them) can write a cookie for the brand
// host: document.cookie with Domain= the brand host or a parent. Named
// like the brand's session cookie and on a longer path, the browser sends
// it before the customer's own (RFC 6265bis orders by path length, then
// age), so the brand's pages would run in a session the vendor chose, and
// a new login does not help: the planted cookie is another cookie (its
// Domain differs) and stays first.
//
// frontdoor cannot tell the planted value from the customer's. So when
// the session cookie comes more than once with different values, it takes
// none (sessionCookie), no backend gets any (frontdoor's journeys, and
// the brand's own pages after frontdoor), and the response expires every
// cookie of that name a parent domain could have planted at the paths the
// request matches. The customer's own host-only cookie is another cookie
// and stays: this one response is anonymous, the next is theirs again.
//
// A single planted cookie, in a browser that has none of its own (a
// customer not logged in), cannot be told from the brand's: only a
// __Host- name, which no other host can write, keeps that out (a site with
// vendor origins and another session cookie logs a warning at start, in
// provisionOrigins).

// maxTossDomains bounds the Domain values at which a planted cookie is
// expired: the host and its parents below the public suffix.
const maxTossDomains = 4

// defuseTossedCookie removes every value of cookie name from r when it
// comes more than once with different values, and expires the ones a
// parent domain could have planted, on w.
func defuseTossedCookie(w http.Header, r *http.Request, name string) {
	lines := r.Header["Cookie"]
	if name == "" || !mentionedTwice(lines, name) {
		return
	}
	if _, conflict := cookieline.Value(lines, name); !conflict {
		return
	}
	kept := lines[:0:0]
	for _, line := range lines {
		var b strings.Builder
		for n, part := range cookieline.Parts([]string{line}) {
			if n == name {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
		if b.Len() > 0 {
			kept = append(kept, b.String())
		}
	}
	if len(kept) == 0 {
		delete(r.Header, "Cookie")
	} else {
		r.Header["Cookie"] = kept
	}
	secure := ""
	if r.TLS != nil {
		secure = "; Secure"
	}
	paths := cookieline.MatchingPaths(r.URL.EscapedPath(), 2*maxStrayDepth)
	for _, domain := range tossDomains(r.Host) {
		for _, path := range paths {
			w.Add("Set-Cookie", name+"=; Domain="+domain+"; Path="+path+"; Max-Age=0"+secure)
		}
	}
}

// mentionedTwice is the cheap test every request pays: whether the name
// appears twice in the Cookie lines at all.
func mentionedTwice(lines []string, name string) bool {
	n := 0
	for _, line := range lines {
		if n += strings.Count(line, name); n > 1 {
			return true
		}
	}
	return false
}

// tossDomains lists the Domain values a cookie the browser sends to host
// may have: the host and each parent down to its registrable domain
// (example.com, never com). An IP address or a single label takes no
// Domain cookies.
func tossDomains(hostport string) []string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return nil
	}
	site, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return nil
	}
	var domains []string
	for d := host; len(domains) < maxTossDomains; {
		domains = append(domains, d)
		if d == site {
			break
		}
		_, d, _ = strings.Cut(d, ".")
	}
	return domains
}

// tossableSession reports whether a session cookie name can be written by
// another host of the site: any name but a __Host- one.
func tossableSession(name string) bool {
	prefix, _ := splitCookiePrefix(name)
	return !strings.EqualFold(prefix, "__Host-")
}
