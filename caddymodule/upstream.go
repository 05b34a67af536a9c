package caddymodule

import (
	"net/http"
	"strings"

	"github.com/frontdoor-dev/frontdoor/internal/accept"
	"github.com/frontdoor-dev/frontdoor/internal/feedback"
)

// The request a backend gets: the reserved headers out, the brand's and
// the customer's headers in (plain where the backend may see them), the
// rescue and rating headers, and the content codings the banner can read.
// The headers ride to the round trip (transport.go) rather than the request
// Caddy logs.

// upstreamHeaders are the headers frontdoor sends one attempt's backend:
// the brand's, the customer's context and the assertion. They are set
// afresh for each attempt (a failover backend may see less). Values are
// handed out as one-value slices of one array, so adding them to a header
// map allocates nothing; each slice has capacity 1, so a later append
// copies instead of overwriting a neighbour. Keys are canonical.
type upstreamHeaders struct {
	keys []string
	vals []string

	keyBuf [upstreamInline]string
	valBuf [upstreamInline]string
}

// upstreamInline covers the brand's six headers and six context fields
// without allocating; more simply grow the slices. Every proxied request
// carries the arrays in its exchange, and an outsourced backend's default
// (the assertion only) uses one entry, so they are no larger than that.
const upstreamInline = 12

func (u *upstreamHeaders) reset() {
	if u.keys == nil {
		u.keys, u.vals = u.keyBuf[:0], u.valBuf[:0]
	}
	clear(u.vals) // let go of the previous attempt's token and values
	u.keys, u.vals = u.keys[:0], u.vals[:0]
}

func (u *upstreamHeaders) add(canonicalKey, value string) {
	u.keys = append(u.keys, canonicalKey)
	u.vals = append(u.vals, value)
}

// applyTo sets the headers in h, replacing any of the same name.
func (u *upstreamHeaders) applyTo(h http.Header) {
	for i, k := range u.keys {
		h[k] = u.vals[i : i+1 : i+1]
	}
}

// removeFrom deletes the headers from h.
func (u *upstreamHeaders) removeFrom(h http.Header) {
	for _, k := range u.keys {
		delete(h, k)
	}
}

// keepReservedHeaders removes frontdoor's header names from the client's
// Connection header: the proxy deletes the fields a request's Connection
// names as hop-by-hop after frontdoor has set them, so a client naming
// X-Frontdoor-Assertion there would keep it from the backend.
func keepReservedHeaders(h http.Header) {
	lines := h["Connection"]
	if len(lines) == 0 {
		return
	}
	changed := false
	kept := make([]string, 0, len(lines))
	for _, line := range lines {
		var tokens []string
		for token := range strings.SplitSeq(line, ",") {
			if token = strings.TrimSpace(token); token == "" {
				continue
			}
			if isReservedHeader(token) || strings.EqualFold(token, "Cookie") {
				changed = true
				continue
			}
			tokens = append(tokens, token)
		}
		if len(tokens) > 0 {
			kept = append(kept, strings.Join(tokens, ", "))
		}
	}
	switch {
	case !changed:
	case len(kept) == 0:
		delete(h, "Connection")
	default:
		h["Connection"] = kept
	}
}

// addPlainHeaders adds the headers that say in plain text what the
// assertion says signed: the brand, its contact, the journey and backend,
// the session state and the context fields the backend may see.
func (h *Handler) addPlainHeaders(up *upstreamHeaders, journey string, b *backendRoute, cc *customerContext) {
	up.add(headerBrand, h.Brand)
	if h.contactHeader != "" {
		up.add(headerContact, h.contactHeader)
	}
	up.add(headerJourney, journey)
	up.add(headerBackend, b.name)
	addContextHeaders(up, b, cc)
}

// addContextHeaders adds the backend's view of the customer: the session
// state and exactly the fields it may see. Values the store refused (CR,
// LF, other control characters, overlong) never get here.
func addContextHeaders(up *upstreamHeaders, b *backendRoute, cc *customerContext) {
	up.add(headerSession, cc.state)
	for _, f := range b.context {
		if v, ok := cc.ctx.Get(f.name); ok {
			up.add(f.header, v)
		}
	}
}

// setRescueHeader tells the rescue backend why the customer is there, and
// any other backend nothing.
func setRescueHeader(hdr http.Header, values *valueSlab, c candidate, rescue string) {
	if c.reason == reasonRescue && rescue != "" {
		values.set(hdr, headerRescue, rescue)
	} else {
		delete(hdr, headerRescue)
	}
}

// rateLink is the rating link an in-house backend receives for the
// customer's request.
func (h *Handler) rateLink(j *journeyRoute, b *backendRoute, cc *customerContext, requestID string) string {
	sessionID := ""
	if cc.state == sessionFound {
		sessionID = cc.sessionID
	}
	return ratePath + "?t=" + h.feedbackKeys.Mint(sessionID, feedback.Claims{Journey: j.name, Backend: b.name, Ref: requestID, Minted: h.now()})
}

// setUpstreamEncoding keeps a banner backend from answering in an encoding
// the injector cannot read: it may compress with gzip if the customer
// accepts gzip, and otherwise must not compress. Other backends get the
// customer's Accept-Encoding untouched.
func setUpstreamEncoding(h http.Header, values *valueSlab, bannerBackend bool, client []string, had bool) {
	switch {
	case !bannerBackend && had:
		h["Accept-Encoding"] = client
	case !bannerBackend:
		delete(h, "Accept-Encoding")
	case acceptsGzip(client):
		values.set(h, "Accept-Encoding", "gzip")
	default:
		values.set(h, "Accept-Encoding", "identity")
	}
}

// setUpstreamRange keeps a banner backend from answering with a part of
// its own page where the customer means a part of the bannered one: the
// banner cannot go into a part, and the vendor's bytes from an offset are
// not those at that offset of the page the customer got, which a browser
// resuming its copy would splice together. A navigation's answer is what
// the browser renders, and an If-Range other than one strong entity tag
// may name a bannered page (the banner weakens every page's ETag; a date
// names anything): such a request goes without Range and If-Range, and the
// backend answers with the whole page, as RFC 9110 section 14.2 lets a
// server do. A strong tag names an answer that passed as it is (a
// download), whose range passes. Other backends get the customer's
// fields, ranges and ifRange, which an earlier attempt may have taken out
// of r.
func setUpstreamRange(r *http.Request, bannerBackend bool, ranges, ifRange []string) {
	if ranges == nil && ifRange == nil {
		return // most requests: nothing to take out or put back
	}
	h := r.Header
	if bannerBackend && (len(ifRange) > 0 || isNavigation(r)) && !isStrongTag(ifRange) {
		delete(h, "Range")
		delete(h, "If-Range")
		return
	}
	setOrDelete(h, "Range", ranges)
	setOrDelete(h, "If-Range", ifRange)
}

// isStrongTag reports whether If-Range lines are one strong entity tag.
func isStrongTag(lines []string) bool {
	return len(lines) == 1 && strings.HasPrefix(strings.TrimLeft(lines[0], " \t"), `"`)
}

// setOrDelete puts a customer's header lines back, or none.
func setOrDelete(h http.Header, key string, lines []string) {
	if lines == nil {
		delete(h, key)
		return
	}
	h[key] = lines
}

func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.TrimSpace(coding)
			if strings.EqualFold(coding, "gzip") || coding == "*" {
				q, ok := accept.Quality(params)
				if !ok {
					continue // an element with a malformed q means nothing
				}
				return q > 0
			}
		}
	}
	return false
}

// replayable reports whether a request may be sent to a second backend
// after the first failed without answering: only idempotent methods, and
// only without a body (which the first attempt may have consumed). A POST
// is never replayed: a checkout must not be placed twice. Caddy wraps the
// body to count it, so "no body" is read from the framing, not the reader:
// for a server request, ContentLength 0 means none and -1 means chunked.
func replayable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return r.ContentLength == 0 && len(r.TransferEncoding) == 0
	}
	return false
}
