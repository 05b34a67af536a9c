package shopper

import (
	"context"
	"fmt"
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
// it: a GET or HEAD opens a page and a POST of a form (or of nothing) is
// one submitted (navigate); a JSON body or another method is a script's
// fetch() (cors).
func fetchMode(method, contentType string) string {
	switch {
	case method == http.MethodGet || method == http.MethodHead:
		return "navigate"
	case method == http.MethodPost && contentType != "application/json":
		return "navigate"
	}
	return "cors"
}

// crossOrigin reports whether a step is a cross-origin fetch(): a script
// step on an isolated backend's page.
func crossOrigin(method, contentType string, isolated bool) bool {
	return isolated && fetchMode(method, contentType) == "cors"
}

// safelistedContentType reports whether a request's Content-Type is one a
// cross-origin fetch() may send without the backend's leave (the Fetch
// standard's CORS-safelisted request-header).
func safelistedContentType(contentType string) bool {
	switch contentType {
	case "", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		return true
	}
	return false
}

// preflightAnswer is what the customer's browser got for its preflight.
type preflightAnswer struct {
	status    int
	header    http.Header
	errorPage int    // status of a brand error page shown instead
	refused   string // why the browser does not send the step; "": it does
	err       error  // the preflight did not complete
}

// preflight sends the OPTIONS request the customer's browser sends before
// a cross-origin step to u (every script step of a probe needs one: its
// method is not GET, HEAD or POST, or its body is JSON) and reads the
// answer as the browser does.
func (s *Shopper) preflight(ctx context.Context, t *Target, u *url.URL, method, contentType, from string, https bool) (a preflightAnswer) {
	visit := &Visit{Journey: t.probe.journey, Backend: t.backend.Name}
	r, err := browserRequest(WithVisit(ctx, visit), http.MethodOptions, u, nil, from, https)
	if err != nil {
		a.err = err
		return a
	}
	r.Header.Set("Accept", "*/*")
	r.Header.Set("Origin", "null")
	r.Header.Set("Access-Control-Request-Method", method)
	headersAsked := !safelistedContentType(contentType)
	if headersAsked {
		r.Header.Set("Access-Control-Request-Headers", "content-type")
	}
	r.Header.Set("Sec-Fetch-Mode", "cors")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Sec-Fetch-Dest", "empty")
	w := newRecorder()
	err = s.cfg.Gateway.Serve(w, r)
	a.status, a.header = w.result()
	a.errorPage = visit.ErrorPage()
	origin := originRefused(a.header)
	switch {
	case err != nil && !w.wroteHeader():
		a.err = err
		a.status = statusOf(err)
		return a
	case a.errorPage != 0 || a.status >= 500:
		return a // the backend failed: reported as such, not as its CORS
	case a.status < 200 || a.status > 299:
		a.refused = fmt.Sprintf("the backend answered its page's preflight (OPTIONS) with %d: the customer's browser does not send the request", a.status)
	case origin != "":
		a.refused = "the preflight (OPTIONS): " + origin + ": the customer's browser does not send the request"
	case method != http.MethodPost && !listed(a.header.Values("Access-Control-Allow-Methods"), method, true):
		// Methods are matched as written (Fetch; Chromium asks for an
		// upper-case list); POST needs no leave.
		a.refused = "the preflight (OPTIONS) does not allow " + method + " (Access-Control-Allow-Methods, matched as written): the customer's browser does not send the request"
	case headersAsked && !listed(a.header.Values("Access-Control-Allow-Headers"), "content-type", false):
		a.refused = "the preflight (OPTIONS) does not allow Content-Type (Access-Control-Allow-Headers): the customer's browser does not send the request"
	}
	return a
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

// listed reports whether a comma-separated header list holds name, byte
// for byte if exact (a method), else in any letter case (a header name),
// or the wildcard (which a request without credentials may use).
func listed(values []string, name string, exact bool) bool {
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			if item == "*" || item == name || !exact && strings.EqualFold(item, name) {
				return true
			}
		}
	}
	return false
}
