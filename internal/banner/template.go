package banner

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Data is what a banner template can show: the brand, its single support
// contact and the reference of the request, which customers read out to an
// agent, and the links of the customer's own feedback: Escalate to the
// brand's own team, and Rate the page ("did this solve your problem?").
// Fields may be empty; a link is empty where it is not offered.
type Data struct {
	Brand     string
	Phone     string
	Email     string
	URL       string
	Reference string
	Escalate  string
	Rate      string
}

// DefaultTemplate is the built-in banner: a bar fixed to the bottom of the
// window with the brand's contact and the request reference, plus an
// in-flow spacer so the bar does not cover the end of the page. It uses no
// script and no style attribute; its ids and classes start with "frontdoor-"
// and its rules start from "all: initial" under an id selector so that vendor
// style sheets have little hold on it. Colors have a contrast ratio above
// 12:1 (white and amber on near-black).
const DefaultTemplate = `<style>
#frontdoor-banner,#frontdoor-banner *,#frontdoor-spacer{all:initial;box-sizing:border-box}
#frontdoor-spacer{display:block;height:4.5em}
#frontdoor-banner{position:fixed;left:0;right:0;bottom:0;z-index:2147483647;display:flex;flex-wrap:wrap;align-items:center;gap:.25em 1.25em;padding:.6em 1em;background:#1b1f24;color:#ffffff;border-top:3px solid #ffd166;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;text-align:left}
#frontdoor-banner *{color:inherit;font:inherit}
#frontdoor-banner .frontdoor-brand{font-weight:700}
#frontdoor-banner a{color:#ffd166;text-decoration:underline;cursor:pointer}
#frontdoor-banner a:focus-visible{outline:2px solid #ffd166;outline-offset:2px}
#frontdoor-banner code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-weight:700;letter-spacing:.05em}
@media print{#frontdoor-banner{position:static}#frontdoor-spacer{display:none}}
</style>
<div id="frontdoor-spacer" aria-hidden="true"></div>
<div id="frontdoor-banner" class="frontdoor-banner" role="complementary" aria-label="{{with .Brand}}{{.}} {{end}}support contact">
{{with .Brand}}<span class="frontdoor-brand">{{.}}</span>{{end}}
<span class="frontdoor-text">Need help? Contact us:</span>
{{with .Phone}}<a class="frontdoor-phone" href="tel:{{tel .}}">{{.}}</a>{{end}}
{{with .Email}}<a class="frontdoor-email" href="mailto:{{.}}">{{.}}</a>{{end}}
{{with .URL}}<a class="frontdoor-url" href="{{.}}">Help center</a>{{end}}
{{with .Escalate}}<a class="frontdoor-escalate" href="{{.}}">Talk to our own team</a>{{end}}
{{with .Rate}}<a class="frontdoor-rate" href="{{.}}">Did this solve your problem?</a>{{end}}
{{with .Reference}}<span class="frontdoor-reference">Reference <code>{{.}}</code></span>{{end}}
</div>
`

// Template renders banners. Create it with [ParseTemplate]; it is safe for
// concurrent use.
type Template struct {
	tmpl        *template.Template
	styleHashes []string
}

// probes are rendered when a template is parsed: to catch execution errors
// (such as a misspelt field) at configuration time, and to make sure the
// <style> text is the same whatever the data, which a CSP hash requires.
var probes = []Data{
	{},
	{
		Brand:     "Acme Outdoor",
		Phone:     "+1 800 555 0100",
		Email:     "help@acme.example",
		URL:       "https://acme.example/help",
		Reference: "0f8fad5b-d9cb-469f-a165-70867728950e",
		Escalate:  "/.well-known/frontdoor/escalate?t=ABC234",
		Rate:      "/.well-known/frontdoor/rate?t=ABC234",
	},
	{
		Brand:     `</style><script>"x"</script>`,
		Phone:     `'; } * { color: red`,
		Email:     `}</style>@example`,
		URL:       `javascript:alert(1)`,
		Reference: "caf\u00e9\u2028",
		Escalate:  `javascript:alert(1)`,
		Rate:      `"></a><script>x</script>`,
	},
}

// ParseTemplate parses a banner template written for html/template, with the
// fields of [Data] ({{.Brand}}, {{.Phone}}, {{.Email}}, {{.URL}},
// {{.Reference}}, {{.Escalate}}, {{.Rate}}) and a "tel" function that turns a phone number as written
// for people into the digits of a tel: link.
//
// The text of every <style> element must be static (no actions inside) and
// ASCII, because its CSP hash is computed once here and sent with every page;
// use CSS escapes such as \2192 for other characters. ParseTemplate renders
// the template with sample data and returns an error if it fails or if the
// style text changes with the data.
func ParseTemplate(text string) (*Template, error) {
	tmpl, err := template.New("banner").Funcs(template.FuncMap{"tel": TelURI}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parsing banner template: %w", err)
	}
	t := &Template{tmpl: tmpl}
	for k, d := range probes {
		out, err := t.Render(d)
		if err != nil {
			return nil, fmt.Errorf("checking banner template: %w", err)
		}
		for _, style := range styleTexts(out) {
			if !isASCII(style) {
				return nil, errors.New("checking banner template: <style> text must be ASCII; use CSS escapes")
			}
		}
		hashes := HashStyles(out)
		if k == 0 {
			t.styleHashes = hashes
		} else if !slices.Equal(hashes, t.styleHashes) {
			return nil, errors.New("checking banner template: <style> text must be static, not depend on data, so that its CSP hash is known")
		}
	}
	return t, nil
}

// Render returns the banner markup for d. Non-ASCII characters outside
// <style> elements are written as character references, so the banner reads
// correctly on a vendor page in any ASCII-compatible encoding, not just UTF-8.
func (t *Template) Render(d Data) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.tmpl.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("rendering banner: %w", err)
	}
	return escapeNonASCII(buf.Bytes()), nil
}

// StyleHashes returns the CSP source expressions ('sha256-...') that allow
// the banner's <style> elements, for [AllowStyle]. It returns nil if the
// template has no <style> element.
func (t *Template) StyleHashes() []string {
	return slices.Clone(t.styleHashes)
}

// HashStyles returns the CSP hash source expression ('sha256-...') of the
// text of each <style> element in the HTML document doc, in order and without
// duplicates. Line breaks are normalized to "\n" first, as browsers do before
// hashing. It finds <style> elements by scanning, not parsing, so doc must not
// have "<style" inside comments or scripts.
func HashStyles(doc []byte) []string {
	var hashes []string
	for _, text := range styleTexts(doc) {
		sum := sha256.Sum256(normalizeNewlines(text))
		source := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if !slices.Contains(hashes, source) {
			hashes = append(hashes, source)
		}
	}
	return hashes
}

// styleTexts returns the raw text of each <style> element in doc.
func styleTexts(doc []byte) [][]byte {
	var texts [][]byte
	for {
		start := indexTag(doc, "<style")
		if start < 0 {
			return texts
		}
		open := endOfStartTag(doc[start:])
		if open < 0 {
			return texts
		}
		doc = doc[start+open:]
		// The text runs to the end tag, or to the end of the document,
		// just as an HTML parser reads it.
		end := indexTag(doc, "</style")
		if end < 0 {
			return append(texts, doc)
		}
		texts = append(texts, doc[:end])
		doc = doc[end:]
	}
}

// indexTag returns the index of the first occurrence in doc of prefix ("<x"
// or "</x", in lower case), in any letter case, that is a whole tag name:
// followed by whitespace, "/" or ">". It returns -1 if there is none.
func indexTag(doc []byte, prefix string) int {
	for off := 0; ; {
		lt := bytes.IndexByte(doc[off:], '<')
		if lt < 0 {
			return -1
		}
		lt += off
		if isTagAt(doc[lt:], prefix) {
			return lt
		}
		off = lt + 1
	}
}

// isTagAt reports whether b starts with prefix ("<x" or "</x", in lower
// case), in any letter case, as a whole tag name: followed by whitespace, "/"
// or ">".
func isTagAt(b []byte, prefix string) bool {
	if len(b) <= len(prefix) || !bytes.EqualFold(b[:len(prefix)], []byte(prefix)) {
		return false
	}
	c := b[len(prefix)]
	return isHTMLSpace(c) || c == '/' || c == '>'
}

// endOfStartTag returns the length of the start tag at the beginning of b,
// skipping quoted attribute values, or -1 if the tag does not end.
func endOfStartTag(b []byte) int {
	var quote byte
	for k, c := range b {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return k + 1
		}
	}
	return -1
}

// normalizeNewlines turns CRLF and lone CR into LF, as the HTML parser does
// with its input.
func normalizeNewlines(b []byte) []byte {
	if bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
}

// escapeNonASCII writes every non-ASCII character outside <style> elements
// as a numeric character reference, which the HTML parser decodes in text
// and attribute values alike. Invalid UTF-8 becomes U+FFFD.
func escapeNonASCII(doc []byte) []byte {
	if isASCII(doc) {
		return doc
	}
	out := make([]byte, 0, len(doc)+len(doc)/4)
	for len(doc) > 0 {
		// Copy <style> elements verbatim; their text is ASCII (checked when
		// the template is parsed) and character references mean nothing
		// inside them.
		if isTagAt(doc, "<style") {
			end := len(doc)
			if open := endOfStartTag(doc); open >= 0 {
				if close := indexTag(doc[open:], "</style"); close >= 0 {
					end = open + close
				}
			}
			out = append(out, doc[:end]...)
			doc = doc[end:]
			if len(doc) > 0 {
				// Step over the '<' of "</style" so it is not taken as
				// the start of another element.
				out = append(out, doc[0])
				doc = doc[1:]
			}
			continue
		}
		if doc[0] < utf8.RuneSelf {
			out = append(out, doc[0])
			doc = doc[1:]
			continue
		}
		r, size := utf8.DecodeRune(doc)
		out = append(out, "&#x"...)
		out = strconv.AppendUint(out, uint64(r), 16)
		out = append(out, ';')
		doc = doc[size:]
	}
	return out
}

// isASCII reports whether b has only ASCII bytes.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// TelURI returns the part of a tel: link for a phone number written for
// people, such as "+1 (800) 555-0100": the leading "+" and the digits,
// without separators. It stops at the first letter, so an extension
// ("ext. 12") is left out rather than run into the number.
func TelURI(phone string) string {
	out := make([]byte, 0, len(phone))
	for k := 0; k < len(phone); k++ {
		c := phone[k]
		switch {
		case c >= '0' && c <= '9':
			out = append(out, c)
		case c == '+' && len(out) == 0:
			out = append(out, c)
		case c|0x20 >= 'a' && c|0x20 <= 'z':
			return string(out)
		}
	}
	return string(out)
}
