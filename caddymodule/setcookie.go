package caddymodule

import (
	"strings"
	"time"
)

// A Set-Cookie line read as a browser reads it: RFC 6265bis section 5.7,
// the storage model's parsing, which is what decides what a browser stores
// (not the stricter grammar servers are asked to send).

// maxCookiePair is the most a browser stores of a cookie's name and value
// together; a longer one is ignored whole.
const maxCookiePair = 4096

// maxCookieAttribute is the longest attribute value a browser reads; a
// longer one is ignored.
const maxCookieAttribute = 1024

// setCookie is one parsed Set-Cookie line.
type setCookie struct {
	name, value string

	// expires is when the cookie ends: zero for a session cookie, and
	// before now for one the line deletes. Max-Age wins over Expires.
	expires time.Time
	// attrs are the attributes frontdoor passes on as written (Secure,
	// HttpOnly, SameSite, Partitioned, Priority); Domain, Path, Expires
	// and Max-Age are set by the jar.
	attrs []string
}

// parseSetCookie reads a Set-Cookie line. ok is false when a browser would
// store nothing: a control character, no name, or a pair over the limit.
func parseSetCookie(line string, now time.Time) (c setCookie, ok bool) {
	for i := 0; i < len(line); i++ {
		if b := line[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return c, false
		}
	}
	pair, attributes, _ := strings.Cut(line, ";")
	name, value, found := strings.Cut(pair, "=")
	if !found {
		return c, false // "value" alone: a nameless cookie, refused by frontdoor
	}
	c.name, c.value = strings.Trim(name, " \t"), strings.Trim(value, " \t")
	if c.name == "" || len(c.name)+len(c.value) > maxCookiePair {
		return c, false
	}
	var maxAge, expires time.Time
	for attributes != "" {
		var attr string
		attr, attributes, _ = strings.Cut(attributes, ";")
		key, val, _ := strings.Cut(attr, "=")
		key, val = strings.Trim(key, " \t"), strings.Trim(val, " \t")
		if len(val) > maxCookieAttribute {
			continue
		}
		switch strings.ToLower(key) {
		case "expires":
			if t, ok := parseCookieDate(val); ok {
				expires = t
			}
		case "max-age":
			if t, ok := parseMaxAge(val, now); ok {
				maxAge = t
			}
		case "secure", "httponly", "partitioned":
			c.attrs = append(c.attrs, key)
		case "samesite", "priority":
			c.attrs = append(c.attrs, key+"="+val)
		}
	}
	c.expires = expires
	if !maxAge.IsZero() {
		c.expires = maxAge
	}
	return c, true
}

// parseMaxAge reads a Max-Age value: an optional '-' and digits, anything
// else ignored; zero or less deletes the cookie.
func parseMaxAge(v string, now time.Time) (time.Time, bool) {
	digits := strings.TrimPrefix(v, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return time.Time{}, false
	}
	if v[0] == '-' || strings.Trim(digits, "0") == "" {
		return time.Unix(0, 0), true // the earliest time: deleted
	}
	const maxSeconds = 400 * 24 * 60 * 60 // browsers cap a cookie at 400 days
	seconds := maxSeconds
	if len(digits) < 9 {
		seconds = 0
		for _, d := range digits {
			seconds = seconds*10 + int(d-'0')
		}
		seconds = min(seconds, maxSeconds)
	}
	return now.Add(time.Duration(seconds) * time.Second), true
}

// parseCookieDate is RFC 6265bis section 5.4.1's cookie-date algorithm:
// the tokens between delimiters, read for a time, a day of the month, a
// month and a year, each taken from the first token that fits.
func parseCookieDate(s string) (time.Time, bool) {
	isDelimiter := func(c byte) bool {
		return c == 0x09 || c >= 0x20 && c <= 0x2f || c >= 0x3b && c <= 0x40 || c >= 0x5b && c <= 0x60 || c >= 0x7b && c <= 0x7e
	}
	var (
		hour, minute, second, day, month, year     int
		foundTime, foundDay, foundMonth, foundYear bool
	)
	for i := 0; i < len(s); {
		for i < len(s) && isDelimiter(s[i]) {
			i++
		}
		start := i
		for i < len(s) && !isDelimiter(s[i]) {
			i++
		}
		token := s[start:i]
		if token == "" {
			continue
		}
		switch {
		case !foundTime && readTime(token, &hour, &minute, &second):
			foundTime = true
		case !foundDay && readDigits(token, 1, 2, &day):
			foundDay = true
		case !foundMonth && readMonth(token, &month):
			foundMonth = true
		case !foundYear && readDigits(token, 2, 4, &year):
			foundYear = true
		}
	}
	switch {
	case foundYear && year >= 70 && year <= 99:
		year += 1900
	case foundYear && year >= 0 && year <= 69:
		year += 2000
	}
	if !foundTime || !foundDay || !foundMonth || !foundYear ||
		day < 1 || day > 31 || year < 1601 || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // no such day in that month
	}
	return t, true
}

// readDigits reads a token that starts with min to max digits, followed by
// anything but a digit.
func readDigits(token string, minDigits, maxDigits int, out *int) bool {
	n, v := 0, 0
	for n < len(token) && token[n] >= '0' && token[n] <= '9' {
		v = v*10 + int(token[n]-'0')
		n++
		if n > maxDigits {
			return false
		}
	}
	if n < minDigits {
		return false
	}
	*out = v
	return true
}

// readTime reads hms-time: 1*2DIGIT ":" 1*2DIGIT ":" 1*2DIGIT, then
// anything.
func readTime(token string, h, m, s *int) bool {
	parts := strings.SplitN(token, ":", 3)
	if len(parts) != 3 {
		return false
	}
	for i, p := range parts {
		digits := len(p) - len(strings.TrimLeft(p, "0123456789"))
		if digits < 1 || digits > 2 || i < 2 && digits != len(p) {
			return false
		}
	}
	readDigits(parts[0], 1, 2, h)
	readDigits(parts[1], 1, 2, m)
	readDigits(parts[2], 1, 2, s)
	return true
}

// readMonth reads a token whose first three letters name a month.
func readMonth(token string, out *int) bool {
	if len(token) < 3 {
		return false
	}
	i := strings.Index("janfebmaraprmayjunjulaugsepoctnovdec", strings.ToLower(token[:3]))
	if i < 0 || i%3 != 0 {
		return false
	}
	*out = i/3 + 1
	return true
}
