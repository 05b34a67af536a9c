package caddymodule

import (
	"net/http"
	"strings"
)

// Vendor cookie jars.
//
// An outsourced backend shares the brand's host, so every cookie it sets
// would be the brand's: it could plant, overwrite or expire the brand's
// session cookie, and its cookies would reach every other backend. Instead
// each cookie a vendor sets is stored under a name of that backend's jar,
//
//	fd-jar.<backend>.<name>    (__Host- and __Secure- stay in front)
//
// and each outsourced backend receives only its own jar, under the names it
// set, plus the customer's cookies that are neither the brand's nor in a
// jar. In-house backends are the brand: they receive the customer's cookies
// as sent, less every vendor's jar. A vendor can therefore never set a
// brand cookie or another vendor's, by construction, whatever names it
// chooses.

// jarPrefix starts the stored name of every cookie of a vendor's jar.
const jarPrefix = "fd-jar."

// cookieNamePrefixes are the prefixes browsers give meaning to; they must
// stay at the front of a stored name for the browser to enforce them.
var cookieNamePrefixes = []string{"__Host-", "__Secure-"}

// splitCookiePrefix separates a __Host- or __Secure- prefix, matched in any
// case as browsers now do, from the rest of a cookie name.
func splitCookiePrefix(name string) (prefix, rest string) {
	for _, p := range cookieNamePrefixes {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return name[:len(p)], name[len(p):]
		}
	}
	return "", name
}

// jarName is the name a backend's cookie is stored under on the brand host.
func jarName(backend, name string) string {
	prefix, rest := splitCookiePrefix(name)
	return prefix + jarPrefix + backend + "." + rest
}

// jarOf tells whose jar a stored cookie name belongs to, and the name its
// backend set.
func jarOf(name string) (backend, original string, ok bool) {
	prefix, rest := splitCookiePrefix(name)
	if !strings.HasPrefix(rest, jarPrefix) {
		return "", "", false
	}
	backend, rest, ok = strings.Cut(rest[len(jarPrefix):], ".")
	if !ok || backend == "" || rest == "" {
		return "", "", false
	}
	return backend, prefix + rest, true
}

// isJarName reports whether a cookie name is in the jars' name space,
// well formed or not.
func isJarName(name string) bool {
	_, rest := splitCookiePrefix(name)
	return strings.HasPrefix(rest, jarPrefix)
}

// backendCookies returns the Cookie header a backend receives, built from
// the customer's: for an outsourced backend its own jar under the names it
// set and the customer's cookies that are neither the brand's nor in a jar
// (a jar cookie wins over a customer cookie of the same name); for an
// in-house backend everything but the jars. It returns the customer's
// lines themselves when nothing is to change, and nil when no cookie is
// left.
func backendCookies(lines []string, b *backendRoute, brand map[string]bool) []string {
	if !needsCookieFilter(lines, b.outsourced, brand) {
		return lines
	}
	var shadowed []string // names the backend's own jar holds
	if b.outsourced {
		for name := range cookieParts(lines) {
			if owner, original, ok := jarOf(name); ok && owner == b.name {
				shadowed = append(shadowed, original)
			}
		}
	}
	var out strings.Builder
	add := func(parts ...string) {
		if out.Len() > 0 {
			out.WriteString("; ")
		}
		for _, p := range parts {
			out.WriteString(p)
		}
	}
	for name, part := range cookieParts(lines) {
		value := "" // "=value", or nothing for a part without '='
		if eq := strings.IndexByte(part, '='); eq >= 0 {
			value = part[eq:]
		}
		if owner, original, ok := jarOf(name); ok {
			if b.outsourced && owner == b.name {
				add(original, value)
			}
			continue
		}
		if isJarName(name) {
			continue // a jar name without a backend or a name: nobody's
		}
		if b.outsourced && (brand[name] || contains(shadowed, name)) {
			continue
		}
		add(part)
	}
	if out.Len() == 0 {
		return nil
	}
	return []string{out.String()}
}

// needsCookieFilter reports cheaply whether a Cookie header holds anything
// a backend must not receive as sent: a jar cookie, or for an outsourced
// backend a brand cookie.
func needsCookieFilter(lines []string, outsourced bool, brand map[string]bool) bool {
	for _, line := range lines {
		if strings.Contains(line, jarPrefix) {
			return true
		}
	}
	return outsourced && hasAnyCookie(lines, brand)
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// jarSetCookies moves the cookies a vendor sets into its jar and makes
// them host-only on the brand host. A Set-Cookie without a usable name is
// dropped: a nameless cookie's value is sent as "value" alone, which a
// server reads as a cookie named by the value, so a vendor could spell a
// brand cookie with it.
func jarSetCookies(h http.Header, backend string) {
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return
	}
	kept := lines[:0]
	for _, line := range lines {
		name, rest, found := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if _, rest := splitCookiePrefix(name); !found || rest == "" || !validCookieName(name) {
			continue // no name, or only a prefix ("__Host-"): nothing to keep it under
		}
		kept = append(kept, stripCookieDomain(jarName(backend, name)+"="+rest))
	}
	if len(kept) == 0 {
		delete(h, "Set-Cookie")
		return
	}
	h["Set-Cookie"] = kept
}

// validCookieName reports whether a name is an RFC 6265 cookie-name: an
// HTTP token.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
