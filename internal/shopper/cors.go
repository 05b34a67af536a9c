package shopper

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// A script's fetch() on an isolated backend's page is a cross-origin
// request from an opaque origin (the sandbox): the customer's browser
// first asks the backend whether it may send it (a CORS preflight, since
// the shopper's script steps send JSON or a method other than GET, HEAD
// and POST), sends it without the brand's cookies, and lets the script
// read the answer only if the backend allows the origin "null". A vendor
// whose page was built on its own origin often does neither: its widget
// is then broken for every customer, and the shopper fails the step with
// the cors check instead of passing what no customer gets.

// fetchMode is the request mode of a step as the customer's browser makes
// it: a GET or HEAD opens a page and a form is submitted (navigate); a
// JSON body or another method is a script's fetch() (cors).
func fetchMode(method, contentType string) string {
	switch {
	case method == http.MethodGet || method == http.MethodHead:
		return "navigate"
	case method == http.MethodPost && contentType == "application/x-www-form-urlencoded":
		return "navigate"
	}
	return "cors"
}

// crossOrigin reports whether a step is a cross-origin fetch(): a script
// step on an isolated backend's page.
func crossOrigin(method, contentType string, isolated bool) bool {
	return isolated && fetchMode(method, contentType) == "cors"
}

// preflight sends the OPTIONS request the customer's browser sends before
// a cross-origin step to u, and returns why the browser would not send
// the step ("" if it would).
func (s *Shopper) preflight(ctx context.Context, t *Target, u *url.URL, method, contentType, from string, https bool) string {
	r, err := browserRequest(WithVisit(ctx, &Visit{Journey: t.probe.journey, Backend: t.backend.Name}), http.MethodOptions, u, nil, from, https)
	if err != nil {
		return err.Error()
	}
	r.Header.Set("Accept", "*/*")
	r.Header.Set("Origin", "null")
	r.Header.Set("Access-Control-Request-Method", method)
	if contentType != "" {
		r.Header.Set("Access-Control-Request-Headers", "content-type")
	}
	r.Header.Set("Sec-Fetch-Mode", "cors")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Sec-Fetch-Dest", "empty")
	w := newRecorder()
	if err := s.cfg.Gateway.Serve(w, r); err != nil && !w.wroteHeader() {
		return "the preflight (OPTIONS) failed: " + err.Error()
	}
	status, h := w.result()
	if status < 200 || status > 299 {
		return "the backend answered its page's preflight (OPTIONS) with " + http.StatusText(status) + ": the customer's browser does not send the request"
	}
	if why := originRefused(h); why != "" {
		return "the preflight (OPTIONS): " + why + ": the customer's browser does not send the request"
	}
	if method != http.MethodPost && !listed(h.Values("Access-Control-Allow-Methods"), method) {
		return "the preflight (OPTIONS) does not allow " + method + " (Access-Control-Allow-Methods): the customer's browser does not send the request"
	}
	if contentType != "" && !listed(h.Values("Access-Control-Allow-Headers"), "content-type") {
		return "the preflight (OPTIONS) does not allow Content-Type (Access-Control-Allow-Headers): the customer's browser does not send the request"
	}
	return ""
}

// originRefused says why an answer does not let a script of an opaque
// origin read it (Access-Control-Allow-Origin is neither "null" nor "*"),
// or "".
func originRefused(h http.Header) string {
	switch v := h.Values("Access-Control-Allow-Origin"); {
	case len(v) == 0:
		return "no Access-Control-Allow-Origin for the isolated page's origin null"
	case len(v) > 1 || v[0] != "null" && v[0] != "*":
		return "Access-Control-Allow-Origin " + strings.Join(v, ", ") + " is not the isolated page's origin null"
	}
	return ""
}

// listed reports whether a comma-separated header list holds name, in any
// letter case, or the wildcard (which a request without credentials may
// use).
func listed(values []string, name string) bool {
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			if item == "*" || strings.EqualFold(item, name) {
				return true
			}
		}
	}
	return false
}
