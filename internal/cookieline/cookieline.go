// Package cookieline reads Cookie request headers and spells the paths a
// cookie may have, as the browser does: the pieces frontdoor's stages
// that deal with cookies (the session, the vendors' jars, planted
// cookies) share.
package cookieline

import (
	"bytes"
	"iter"
	"strings"
)

// Parts yields each "name=value" part of Cookie header lines with its
// name trimmed as Go's (and most) cookie parsers trim it, so that
// "acme_session =x" is recognised wherever a vendor's server would.
func Parts(lines []string) iter.Seq2[string, string] {
	return func(yield func(name, part string) bool) {
		for _, line := range lines {
			for len(line) > 0 {
				var part string
				part, line, _ = strings.Cut(line, ";")
				if part = strings.TrimSpace(part); part == "" {
					continue
				}
				name, _, _ := strings.Cut(part, "=")
				if !yield(strings.TrimSpace(name), part) {
					return
				}
			}
		}
	}
}

// Canonical is a cookie name as the most lenient of vendors' cookie
// parsers reads it, for telling whether a cookie is one of the brand's:
// PHP URL-decodes names ('+' as a space) and reads ' ' and '.' as '_',
// and "name[key]" as an array under name (an unmatched '[' as '_').
// Compare canonical names without regard to case: ASP.NET Core reads
// cookie names so. A name with none of "%+. [" is returned as it is.
func Canonical(name string) string {
	if !needsCanonical(name) {
		return name
	}
	decoded := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '+':
			decoded = append(decoded, ' ')
		case c == '%' && i+2 < len(name) && isHex(name[i+1]) && isHex(name[i+2]):
			decoded = append(decoded, unhex(name[i+1])<<4|unhex(name[i+2]))
			i += 2
		default:
			decoded = append(decoded, c) // an invalid escape stays, as PHP leaves it
		}
	}
	for i, c := range decoded {
		switch c {
		case ' ', '.':
			decoded[i] = '_'
		case '[':
			if bytes.IndexByte(decoded[i+1:], ']') >= 0 {
				return string(decoded[:i])
			}
			decoded[i] = '_'
		}
	}
	return string(decoded)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f'
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// Names yields the canonical names (Canonical) a "name=value" part of a
// Cookie header may be read under: its own, and that of each "name=..."
// in its value after a ',' or white space, where RFC 2109 parsers
// (Tomcat's legacy one) and Python's SimpleCookie start another cookie:
// "lang=en, acme_session=x" carries acme_session to them.
func Names(part string) iter.Seq[string] {
	return func(yield func(string) bool) {
		name, value, _ := strings.Cut(part, "=")
		if !yield(Canonical(strings.TrimSpace(name))) {
			return
		}
		for {
			i := indexSeparator(value)
			if i < 0 {
				return
			}
			value = strings.TrimLeft(value[i:], ", \t")
			if n, _, ok := strings.Cut(value, "="); ok && indexSeparator(n) < 0 && n != "" {
				if !yield(Canonical(n)) {
					return
				}
			}
		}
	}
}

// indexSeparator is strings.IndexAny(s, ", \t") without building the set
// on every call: Names runs for every cookie of every request to a vendor.
func indexSeparator(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == ' ' || c == '\t' {
			return i
		}
	}
	return -1
}

// needsCanonical reports whether a name holds one of "%+. [", which
// Canonical rewrites.
func needsCanonical(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '%', '+', '.', ' ', '[':
			return true
		}
	}
	return false
}

// Value returns the value of the named cookie in Cookie header lines,
// unquoted, "" if there is none, and whether the name comes more than once
// with different values (which no server can tell apart: one of them may
// have been planted for the host by another host of the site).
func Value(lines []string, name string) (value string, conflict bool) {
	seen := false
	for n, part := range Parts(lines) {
		if n != name {
			continue
		}
		_, v, _ := strings.Cut(part, "=")
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if seen && v != value {
			return "", true
		}
		value, seen = v, true
	}
	return value, false
}

// MatchingPaths lists the cookie paths that match a request path (as the
// browser sends it, percent-encoded), at most max of them: "/", and each
// directory above it with and without its trailing slash (RFC 6265bis
// path-match), then the path itself. The path ends before any byte a
// cookie's Path may not hold (a control character or ";"), so that a
// request's path cannot add attributes to a Set-Cookie.
func MatchingPaths(p string, max int) []string {
	if end := strings.IndexFunc(p, func(r rune) bool { return r < 0x21 || r == 0x7f || r == ';' }); end >= 0 {
		p = p[:end]
	}
	paths := []string{"/"}
	for i := 1; i < len(p) && len(paths) < max; i++ {
		if p[i] == '/' {
			paths = append(paths, p[:i], p[:i+1])
		}
	}
	if len(p) > 1 && !strings.HasSuffix(p, "/") && len(paths) < max {
		paths = append(paths, p)
	}
	return paths
}
