package assertion

import (
	"strconv"
	"unicode/utf8"
)

// appendPayload writes the JWT claims set of c. The member order is fixed so
// that equal claims always give byte-identical payloads.
func appendPayload(b []byte, c *Claims, iat, exp int64) []byte {
	b = append(b, `{"iss":`...)
	b = appendString(b, c.Issuer)
	if c.Subject != "" {
		b = append(b, `,"sub":`...)
		b = appendString(b, c.Subject)
	}
	b = append(b, `,"aud":`...)
	b = appendString(b, c.Audience)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, iat, 10)
	b = append(b, `,"nbf":`...)
	b = strconv.AppendInt(b, iat, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, exp, 10)
	if c.ID != "" {
		b = append(b, `,"jti":`...)
		b = appendString(b, c.ID)
	}
	b = append(b, `,"journey":`...)
	b = appendString(b, c.Journey)
	b = append(b, `,"session":`...)
	b = appendString(b, c.Session)
	if len(c.Context) > 0 {
		b = append(b, `,"ctx":{`...)
		for i, f := range c.Context {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.Name)
			b = append(b, ':')
			b = appendString(b, f.Value)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string, byte for byte as encoding/json does
// with HTML escaping off: the payload is base64url-encoded, so HTML escaping
// would only make it longer, while matching encoding/json otherwise lets the
// tests use it as the reference. Invalid UTF-8 becomes U+FFFD, as there, so
// that any Go string yields a payload every JSON parser accepts.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0 // s[start:i] is pending, needing no escape
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but end a line in JavaScript;
		// encoding/json escapes them, and so do we to stay identical.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
