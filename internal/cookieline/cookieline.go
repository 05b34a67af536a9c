// Package cookieline reads Cookie request headers and spells the paths a
// cookie may have, as the browser does: the pieces frontdoor's stages
// that deal with cookies (the session, the vendors' jars, planted
// cookies) share.
package cookieline

import (
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
