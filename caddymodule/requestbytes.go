package caddymodule

import (
	"net/url"
	"strings"
)

// The bytes of a request that a backend's HTTP/1.1 parser must not get as
// the client sent them. Caddy's proxy reaches every backend over HTTP/1.1
// and writes the request line from the request's URL: the path goes out
// escaped whatever the client sent (url.URL re-escapes a RawPath that is
// not valid), but the query goes out as it came.

// escapeQuery percent-encodes the bytes of the request's query that RFC
// 3986 does not allow there: controls and space, DEL and every byte from
// 0x80, and "#<>\^`{|}. Over HTTP/2 (and in raw HTTP/1.1 bytes) a client
// can send them, and a space written into the backend's request line
// ("GET /support?x=1 HTTP/1.0 HTTP/1.1") splits it where the client
// chose. A browser percent-encodes these bytes itself, so what a backend
// decodes is what the client meant; a query without them is left as it is.
func escapeQuery(u *url.URL) {
	q := u.RawQuery
	i := 0
	for i < len(q) && !notInQuery(q[i]) {
		i++
	}
	if i == len(q) {
		return
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(q) + 2*(len(q)-i))
	b.WriteString(q[:i])
	for ; i < len(q); i++ {
		if c := q[i]; notInQuery(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0x0f])
		} else {
			b.WriteByte(c)
		}
	}
	u.RawQuery = b.String()
}

// notInQuery reports whether RFC 3986 does not allow a byte in a query,
// as such or as part of a percent-encoding ('%' is left alone, as
// browsers leave it).
func notInQuery(c byte) bool {
	return c <= ' ' || c >= 0x7f || strings.IndexByte("\"#<>\\^`{|}", c) >= 0
}
