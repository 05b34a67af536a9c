package errorpage

import (
	"strings"

	"github.com/frontdoor-dev/frontdoor/internal/accept"
)

// preference is how much a client wants one kind of answer, by the most
// specific media range of its Accept header that matches it.
type preference struct {
	q float64
	// specificity of the matching range: 3 for a full type, 2 for type/*,
	// 1 for */*, 0 when no range matched (q is then 0).
	specificity int
}

// consider takes a range that matches with the given specificity into
// account: a more specific range overrides a less specific one, as HTTP
// says; between ranges as specific, the higher q wins.
func (p *preference) consider(q float64, specificity int) {
	switch {
	case specificity == 0:
	case specificity > p.specificity:
		*p = preference{q: q, specificity: specificity}
	case specificity == p.specificity && q > p.q:
		p.q = q
	}
}

// prefersJSON reports whether Accept header values ask for JSON over HTML.
// HTML is the default: without Accept, for */*, when neither is acceptable,
// and on a tie, unless JSON was named while HTML only matched a wildcard
// ("application/json, */*" from API clients means JSON).
func prefersJSON(accept []string) bool {
	var html, json preference
	for _, value := range accept {
		for _, mediaRange := range strings.Split(value, ",") {
			typ, subtype, q, ok := parseMediaRange(mediaRange)
			if !ok {
				continue
			}
			html.consider(q, htmlSpecificity(typ, subtype))
			json.consider(q, jsonSpecificity(typ, subtype))
		}
	}
	if json.q == 0 {
		return false
	}
	if json.q != html.q {
		return json.q > html.q
	}
	return json.specificity > html.specificity
}

func htmlSpecificity(typ, subtype string) int {
	switch {
	case typ == "text" && subtype == "html", typ == "application" && subtype == "xhtml+xml":
		return 3
	case typ == "text" && subtype == "*":
		return 2
	case typ == "*" && subtype == "*":
		return 1
	}
	return 0
}

func jsonSpecificity(typ, subtype string) int {
	switch {
	case typ == "application" && (subtype == "json" || strings.HasSuffix(subtype, "+json")):
		return 3
	case typ == "application" && subtype == "*":
		return 2
	case typ == "*" && subtype == "*":
		return 1
	}
	return 0
}

// parseMediaRange splits one element of an Accept header, such as
// "text/html;level=1;q=0.8", into its lower-case type and subtype and its
// quality (1 if not given). It returns ok false for an element that is empty
// or malformed, which is then ignored. A bare "*", which some clients send,
// is read as "*/*".
func parseMediaRange(s string) (typ, subtype string, q float64, ok bool) {
	mediaType, params, _ := strings.Cut(s, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	if mediaType == "*" {
		mediaType = "*/*"
	}
	typ, subtype, found := strings.Cut(mediaType, "/")
	if !found || typ == "" || subtype == "" || (typ == "*" && subtype != "*") {
		return "", "", 0, false
	}
	q, ok = accept.Quality(params)
	if !ok {
		return "", "", 0, false
	}
	return typ, subtype, q, true
}
