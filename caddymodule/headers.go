package caddymodule

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Headers frontdoor sends to backends.
const (
	headerPrefix  = "X-Frontdoor-"
	headerBrand   = "X-Frontdoor-Brand"
	headerContact = "X-Frontdoor-Support-Contact"
	headerJourney = "X-Frontdoor-Journey"
	headerBackend = "X-Frontdoor-Backend"
	headerRequest = "X-Request-Id"
)

// isReservedHeader reports whether a header name is one frontdoor owns:
// any X-Frontdoor-* and X-Request-Id, in any letter case and with '_' in
// place of '-', because servers that map both to one variable (CGI, PHP,
// nginx with underscores_in_headers) would otherwise be spoofed.
func isReservedHeader(name string) bool {
	const prefix = "x-frontdoor-"
	const requestID = "x-request-id"
	if len(name) >= len(prefix) && foldEqual(name[:len(prefix)], prefix) {
		return true
	}
	return len(name) == len(requestID) && foldEqual(name, requestID)
}

// foldEqual compares an ASCII header name with a lower-case pattern,
// ignoring case and treating '_' as '-'. It does not allocate.
func foldEqual(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// scrubReserved removes every client-sent header frontdoor owns.
func scrubReserved(h http.Header) {
	for name := range h {
		if isReservedHeader(name) {
			delete(h, name)
		}
	}
}

// screenClientHeaders removes every header frontdoor owns from a client's
// request, as scrubReserved does, and returns an error naming the first
// remaining header whose value holds a C1 control character
// (hasC1Control), for a 400. It does both in one pass: ranging over the
// header map is one of the costlier steps of a request, and both run on
// every one. A reserved header is removed whatever it holds.
func screenClientHeaders(h http.Header) error {
	for name, values := range h {
		if isReservedHeader(name) {
			delete(h, name)
			continue
		}
		for _, v := range values {
			if hasC1Control(v) {
				return fmt.Errorf("header %s: value holds a C1 control character", name)
			}
		}
	}
	return nil
}

// guardTrailers keeps a client from sending, as request trailers, fields
// that headers may not carry: frontdoor's own and Cookie (which would
// reach an outsourced backend with the brand session after the body).
// Declared trailers are removed now; the values net/http reads into the
// same map at the end of the body are removed then, before the proxy
// copies them for the backend.
func guardTrailers(r *http.Request) {
	if r.Trailer == nil || r.Body == nil {
		return
	}
	scrubTrailer(r.Trailer)
	r.Body = &trailerGuard{ReadCloser: r.Body, trailer: r.Trailer}
}

func scrubTrailer(t http.Header) {
	for name := range t {
		if isReservedHeader(name) || strings.EqualFold(name, "Cookie") {
			delete(t, name)
		}
	}
}

// trailerGuard scrubs the request's trailers when its body ends.
type trailerGuard struct {
	io.ReadCloser
	trailer http.Header
}

func (g *trailerGuard) Read(p []byte) (int, error) {
	n, err := g.ReadCloser.Read(p)
	if err == io.EOF {
		scrubTrailer(g.trailer)
	}
	return n, err
}

// debrand removes a vendor's identity from its response headers before the
// customer sees them: Server and X-Powered-By go (Caddy's own Server value,
// captured before proxying, is put back so every journey looks alike), and
// Location pointing at the vendor's address is rewritten to the brand host.
// Its cookies go to its jar (jarSetCookies).
func debrand(h http.Header, r *http.Request, upstreams map[string]bool, ownServer []string) {
	removeVendorIdentity(h, ownServer)
	if loc := h["Location"]; len(loc) > 0 && loc[0] != "" {
		if rewritten, ok := rewriteLocation(loc[0], r, upstreams); ok {
			h.Set("Location", rewritten)
		}
	}
}

// removeVendorIdentity removes the headers that name a vendor's software:
// Server (Caddy's own value is put back) and X-Powered-By in every
// spelling a server may map to it (any case, '_' for '-').
func removeVendorIdentity(h http.Header, ownServer []string) {
	for name := range h {
		if len(name) == len("x-powered-by") && foldEqual(name, "x-powered-by") ||
			len(name) == len("server") && foldEqual(name, "server") {
			delete(h, name)
		}
	}
	if ownServer != nil {
		h["Server"] = ownServer
	}
}

// rewriteLocation points an absolute redirect at one of the backend's own
// upstream addresses back at the brand host the customer used.
func rewriteLocation(loc string, r *http.Request, upstreams map[string]bool) (string, bool) {
	if !strings.Contains(loc, "://") && !strings.HasPrefix(loc, "//") {
		return "", false // relative redirects already resolve against the brand host
	}
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return "", false
	}
	if !pointsAtUpstream(u, upstreams) {
		return "", false
	}
	u.Host = r.Host
	if u.Scheme != "" { // a scheme-relative Location stays scheme-relative
		u.Scheme = "http"
		if r.TLS != nil {
			u.Scheme = "https"
		}
	}
	return u.String(), true
}

// pointsAtUpstream reports whether the URL's authority is one of the
// upstreams, filling in the default port of its scheme (both 80 and 443
// for a scheme-relative URL, whose scheme the browser supplies).
func pointsAtUpstream(u *url.URL, upstreams map[string]bool) bool {
	host := canonicalHost(u.Hostname())
	if port := u.Port(); port != "" {
		return upstreams[net.JoinHostPort(host, port)]
	}
	switch u.Scheme {
	case "http":
		return upstreams[net.JoinHostPort(host, "80")]
	case "https":
		return upstreams[net.JoinHostPort(host, "443")]
	case "":
		return upstreams[net.JoinHostPort(host, "80")] || upstreams[net.JoinHostPort(host, "443")]
	}
	return false
}

// canonicalHost writes an IP address one way, so that an address cannot
// hide in another spelling: IPv4 in IPv6 form ([::ffff:127.0.0.1]),
// IPv6 with leading zeros. Names are lower-cased.
func canonicalHost(host string) string {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().WithZone("").String()
	}
	return strings.ToLower(host)
}

// valueSlab hands out one-value header slices cut from a shared array, so
// that the dozen headers frontdoor sets on a request cost one allocation
// instead of one each. Every slice has capacity 1: a later handler that
// appends to a value copies it instead of overwriting its neighbour. Keys
// must already be in canonical form, as http.Header.Set would make them.
type valueSlab struct{ free []string }

// slabSize covers the values one attempt sets (the request id to the
// customer and the backend, the accepted coding, the rescue reason, the
// request id and isolation headers of the answer); a failover simply
// takes another array. Every proxied request carries the slab in its
// exchange, so it is no larger than that.
const slabSize = 8

func (s *valueSlab) set(h http.Header, canonicalKey, value string) {
	if len(s.free) == 0 {
		s.free = make([]string, slabSize)
	}
	s.free[0] = value
	h[canonicalKey] = s.free[:1:1]
	s.free = s.free[1:]
}
