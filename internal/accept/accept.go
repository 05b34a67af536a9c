// Package accept reads the quality values of HTTP content negotiation
// headers (Accept, Accept-Encoding), the one place frontdoor does so.
package accept

import (
	"strconv"
	"strings"
)

// Quality returns the q parameter among an element's parameters (the part
// after the first ';', e.g. "q=0.5" of "gzip;q=0.5"): 1 when there is none.
// ok is false when q is malformed or outside 0..1; RFC 9110 gives such an
// element no meaning, so callers ignore the element.
func Quality(params string) (q float64, ok bool) {
	for param := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(param, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || !(v >= 0 && v <= 1) { // also refuses NaN
			return 0, false
		}
		// Parameters after q are extensions of the element, not of what it
		// names, and do not matter here.
		return v, true
	}
	return 1, true
}
