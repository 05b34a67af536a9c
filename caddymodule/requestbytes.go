package caddymodule

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// The bytes of a request that a backend's HTTP/1.1 parser must not get as
// the client sent them. Caddy's proxy reaches every backend over HTTP/1.1
// and writes the request line from the request's URL: the path goes out
// escaped whatever the client sent (url.URL re-escapes a RawPath that is
// not valid), but the query goes out as it came, and so do header values.

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

// hasC1Control reports whether a header value holds a C1 control
// character: a byte 0x80-0x9F that is not part of a UTF-8 sequence, or
// U+0080-U+009F encoded in UTF-8. Servers that read header fields as
// ISO-8859-1 (Python's WSGI, Java servlets) see the first as a control
// (NEL 0x85 is a line break to some, CSI 0x9B starts a terminal escape),
// and UTF-8 readers the second; Go's server already refuses C0 controls
// and DEL. A request with one is refused (400) rather than cleaned (see
// screenClientHeaders): no browser sends one, and a value cut short could
// mean something else to the backend. Other bytes from 0x80 pass:
// obs-text (Latin-1 letters, 0xA0-0xFF) and UTF-8 text are what
// legitimate clients send, and every UTF-8 sequence past U+009F has
// continuation bytes 0x80-0xBF, so refusing raw bytes 0x80-0x9F as such
// would refuse "Zürich".
func hasC1Control(v string) bool {
	for i := 0; i < len(v); {
		if v[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			r = rune(v[i]) // not UTF-8: the byte is its ISO-8859-1 character
		}
		if r <= 0x9f {
			return true
		}
		i += size
	}
	return false
}
