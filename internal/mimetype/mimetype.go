// Package mimetype decides what a response is the way a browser does: the
// WHATWG "extract a MIME type" over every Content-Type field line
// (https://fetch.spec.whatwg.org/#concept-header-extract-mime-type), the
// "parse a MIME type" and "serialize a MIME type" algorithms of MIME
// Sniffing (https://mimesniff.spec.whatwg.org/#parse-a-mime-type), and
// which types a browser sniffs or renders as HTML.
//
// Go's mime.ParseMediaType implements RFC 2045 and 7231, which browsers do
// not: it rejects what they accept (a parameter without a value, a
// duplicate parameter), accepts what they reject, and knows nothing of a
// header sent twice. No maintained Go implementation of the WHATWG
// algorithms exists, so this small one follows the specifications step by
// step; the tests carry their examples and those of web-platform-tests.
package mimetype

import "strings"

// MIMEType is a parsed MIME type: a type, a subtype (both lower case) and
// parameters in the order they came, with lower-case names and values as
// they were.
type MIMEType struct {
	Type, Subtype string
	Params        []Param
}

// Param is one parameter of a MIME type.
type Param struct{ Name, Value string }

// Essence returns "type/subtype".
func (m MIMEType) Essence() string { return m.Type + "/" + m.Subtype }

// Param returns the value of the named (lower-case) parameter.
func (m MIMEType) Param(name string) (string, bool) {
	for _, p := range m.Params {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// SetParam sets the named (lower-case) parameter, keeping its place if it
// is there and adding it at the end otherwise.
func (m *MIMEType) SetParam(name, value string) {
	for k := range m.Params {
		if m.Params[k].Name == name {
			m.Params[k].Value = value
			return
		}
	}
	m.Params = append(m.Params, Param{name, value})
}

// String serializes m as the specification does: a value that is empty or
// not only token code points is quoted, with '"' and '\' escaped.
func (m MIMEType) String() string {
	var b strings.Builder
	b.WriteString(m.Type)
	b.WriteByte('/')
	b.WriteString(m.Subtype)
	for _, p := range m.Params {
		b.WriteByte(';')
		b.WriteString(p.Name)
		b.WriteByte('=')
		if p.Value != "" && isToken(p.Value) {
			b.WriteString(p.Value)
			continue
		}
		b.WriteByte('"')
		for k := 0; k < len(p.Value); k++ {
			if c := p.Value[k]; c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(p.Value[k])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// Header values are byte sequences that the specifications turn into code
// points by isomorphic decoding (each byte is the code point of its value),
// so this package works on bytes: a byte >= 0x80 is the code point U+0080
// to U+00FF.

func isHTTPWhitespace(c byte) bool { return c == '\n' || c == '\r' || c == '\t' || c == ' ' }

func isHTTPTabOrSpace(c byte) bool { return c == '\t' || c == ' ' }

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isToken(s string) bool {
	for k := 0; k < len(s); k++ {
		if !isTokenByte(s[k]) {
			return false
		}
	}
	return true
}

// isQuotedStringToken reports whether s has only HTTP quoted-string token
// code points: tab, U+0020 to U+007E, U+0080 to U+00FF.
func isQuotedStringToken(s string) bool {
	for k := 0; k < len(s); k++ {
		if c := s[k]; c != '\t' && (c < 0x20 || c == 0x7f) {
			return false
		}
	}
	return true
}

func trimHTTPWhitespace(s string) string {
	for len(s) > 0 && isHTTPWhitespace(s[0]) {
		s = s[1:]
	}
	return trimTrailingHTTPWhitespace(s)
}

func trimTrailingHTTPWhitespace(s string) string {
	for len(s) > 0 && isHTTPWhitespace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// collectQuotedString is "collect an HTTP quoted string" from s[pos], which
// is '"'. It returns the value (unescaped when extract, else the raw text
// with its quotes) and the position after it.
func collectQuotedString(s string, pos int, extract bool) (string, int) {
	start := pos
	var value strings.Builder
	pos++
	for {
		end := pos
		for end < len(s) && s[end] != '"' && s[end] != '\\' {
			end++
		}
		value.WriteString(s[pos:end])
		pos = end
		if pos >= len(s) {
			break
		}
		c := s[pos]
		pos++
		if c == '\\' {
			if pos >= len(s) {
				value.WriteByte('\\')
				break
			}
			value.WriteByte(s[pos])
			pos++
			continue
		}
		break // the closing quote
	}
	if extract {
		return value.String(), pos
	}
	return s[start:pos], pos
}

// Parse is "parse a MIME type". It reports false for a failure.
func Parse(input string) (MIMEType, bool) {
	input = trimHTTPWhitespace(input)
	slash := strings.IndexByte(input, '/')
	if slash < 0 {
		return MIMEType{}, false
	}
	typ := input[:slash]
	if typ == "" || !isToken(typ) {
		return MIMEType{}, false
	}
	pos := slash + 1
	end := strings.IndexByte(input[pos:], ';')
	if end < 0 {
		end = len(input)
	} else {
		end += pos
	}
	subtype := trimTrailingHTTPWhitespace(input[pos:end])
	if subtype == "" || !isToken(subtype) {
		return MIMEType{}, false
	}
	m := MIMEType{Type: strings.ToLower(typ), Subtype: strings.ToLower(subtype)}
	pos = end
	for pos < len(input) {
		pos++ // the ';'
		for pos < len(input) && isHTTPWhitespace(input[pos]) {
			pos++
		}
		nameEnd := pos
		for nameEnd < len(input) && input[nameEnd] != ';' && input[nameEnd] != '=' {
			nameEnd++
		}
		name := strings.ToLower(input[pos:nameEnd])
		pos = nameEnd
		if pos < len(input) {
			if input[pos] == ';' {
				continue
			}
			pos++ // the '='
		}
		if pos >= len(input) {
			break
		}
		var value string
		if input[pos] == '"' {
			value, pos = collectQuotedString(input, pos, true)
			for pos < len(input) && input[pos] != ';' {
				pos++
			}
		} else {
			valueEnd := strings.IndexByte(input[pos:], ';')
			if valueEnd < 0 {
				valueEnd = len(input)
			} else {
				valueEnd += pos
			}
			value = trimTrailingHTTPWhitespace(input[pos:valueEnd])
			pos = valueEnd
			if value == "" {
				continue
			}
		}
		if name != "" && isToken(name) && isQuotedStringToken(value) {
			if _, dup := m.Param(name); !dup {
				m.Params = append(m.Params, Param{name, value})
			}
		}
	}
	return m, true
}

// splitValues is "getting, decoding, and splitting" for the field lines of
// one header: they are combined with ", " and split at commas outside
// quoted strings, each value trimmed of tabs and spaces.
func splitValues(lines []string) []string {
	input := strings.Join(lines, ", ")
	var values []string
	pos := 0
	var value strings.Builder
	for {
		end := pos
		for end < len(input) && input[end] != '"' && input[end] != ',' {
			end++
		}
		value.WriteString(input[pos:end])
		pos = end
		if pos < len(input) && input[pos] == '"' {
			var quoted string
			quoted, pos = collectQuotedString(input, pos, false)
			value.WriteString(quoted)
			if pos < len(input) {
				continue
			}
		}
		v := value.String()
		for len(v) > 0 && isHTTPTabOrSpace(v[0]) {
			v = v[1:]
		}
		for len(v) > 0 && isHTTPTabOrSpace(v[len(v)-1]) {
			v = v[:len(v)-1]
		}
		values = append(values, v)
		value.Reset()
		if pos >= len(input) {
			return values
		}
		pos++ // the ','
	}
}

// Extract is "extract a MIME type" from the field lines of Content-Type
// (http.Header's values, in order). It reports false for a failure: no
// Content-Type, or no value that parses to anything but */*. The last
// valid value wins, as in browsers, keeping the charset of an earlier
// value of the same essence when it has none itself.
func Extract(lines []string) (MIMEType, bool) {
	if len(lines) == 0 {
		return MIMEType{}, false
	}
	var (
		charset, essence string
		hasCharset       bool
		mimeType         MIMEType
		found            bool
	)
	for _, value := range splitValues(lines) {
		m, ok := Parse(value)
		if !ok || m.Type == "*" && m.Subtype == "*" {
			continue
		}
		mimeType, found = m, true
		if e := m.Essence(); e != essence {
			charset, hasCharset = m.Param("charset")
			essence = e
		} else if _, ok := m.Param("charset"); !ok && hasCharset {
			mimeType.SetParam("charset", charset)
		}
	}
	return mimeType, found
}

// Sniffed reports whether a browser sniffs the content of a response whose
// Content-Type gave m (ok false: none, or a failure): it does when there is
// no type or its essence is unknown/unknown, application/unknown or */*
// (MIME Sniffing, "determining the computed MIME type of a resource").
// With X-Content-Type-Options: nosniff a sniffed resource is never taken
// for HTML (the sniff-scriptable flag is unset).
func Sniffed(m MIMEType, ok bool) bool {
	if !ok {
		return true
	}
	switch m.Essence() {
	case "unknown/unknown", "application/unknown", "*/*":
		return true
	}
	return false
}

// IsHTML reports whether a browser renders m as an HTML document:
// text/html, and application/xhtml+xml, which a browser parses as XML.
// frontdoor relabels XHTML as text/html before putting the banner in, so
// the browser's parser is the HTML tokenizer the banner's place is chosen
// by: XML's rules (CDATA sections anywhere, no raw text elements) would
// otherwise let a vendor hide the banner in text.
func IsHTML(m MIMEType) bool {
	switch m.Essence() {
	case "text/html", "application/xhtml+xml":
		return true
	}
	return false
}

// IsXML reports whether m is an XML MIME type (WHATWG MIME Sniffing): its
// essence is text/xml or application/xml, or its subtype ends in "+xml".
// A browser navigating to one renders the document: its XHTML, SVG and
// MathML elements, or what an XSLT stylesheet makes of it.
func IsXML(m MIMEType) bool {
	switch {
	case m.Type == "text" && m.Subtype == "xml", m.Type == "application" && m.Subtype == "xml":
		return true
	}
	return strings.HasSuffix(m.Subtype, "+xml")
}
