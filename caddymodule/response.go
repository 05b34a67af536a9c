package caddymodule

import (
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/banner"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
)

// attemptWriter watches one backend's response on its way to the customer:
// it keeps the request id authoritative, de-brands outsourced responses,
// holds back a vendor's 5xx so a brand error page can replace it, streams
// HTML through the banner injector (decoding it first if compressed, and
// sniffing it if it has no Content-Type), and records whether anything was
// sent, which decides whether failover is still possible.
//
// Everything it starts ends in finishBody, which ServeHTTP defers: nothing
// touches the customer's response after the handler returned, also when
// the proxy aborts a response with a panic.
type attemptWriter struct {
	caddyhttp.ResponseWriterWrapper
	h           *Handler
	req         *http.Request
	backend     *backendRoute
	requestID   string
	values      *valueSlab // the request's, for the headers this writer sets
	ownServer   []string
	customer    *customerContext
	before      *headerSnapshot // the customer's headers before any backend answered
	wroteHeader bool
	status      int

	// swallowed is set when the backend's answer is replaced by a brand
	// error page: its body is read and dropped.
	swallowed bool

	// detached is what Header returns once the real header map is no longer
	// the proxy's to change: after the headers of a transformed or
	// swallowed body, whose trailers would be wrong, and while a decoding
	// goroutine may be writing the headers themselves.
	detached http.Header

	// body is where the response body goes when it is transformed: the
	// banner injector, possibly behind a sniffer and a decoder; nil
	// streams as is.
	body     io.Writer
	injector *banner.Injector
	sniffer  *pageSniffer
	decoder  *decodeWriter

	stream     streamKind
	streamConn *watchedConn // the customer's connection of an upgraded stream
}

// Header returns the header map the proxy may change.
func (aw *attemptWriter) Header() http.Header {
	if aw.detached != nil {
		return aw.detached
	}
	return aw.ResponseWriter.Header()
}

func (aw *attemptWriter) WriteHeader(status int) {
	if aw.wroteHeader {
		return
	}
	if status >= 100 && status <= 199 && status != http.StatusSwitchingProtocols {
		aw.informational(status)
		return
	}
	aw.wroteHeader = true
	aw.status = status
	hdr := aw.ResponseWriter.Header()
	b := aw.backend
	switch {
	case status == http.StatusSwitchingProtocols:
		aw.stream = webSocketStream
	case isEventStream(hdr.Get("Content-Type")):
		aw.stream = eventStream
	}
	if status >= 500 {
		b.stats.upstreamError(errStatus5xx)
	}
	aw.recordTrail(hdr, status)
	if b.outsourced && status >= 500 {
		// The vendor's error page never reaches the customer; ServeHTTP
		// renders the brand's once the proxy is done.
		aw.swallow(status)
		return
	}
	scrubReserved(hdr)
	dropReservedTrailers(hdr)
	aw.values.set(hdr, headerRequest, aw.requestID)
	if b.outsourced {
		if aw.req.Header.Get("Service-Worker") == "script" {
			// A vendor's service worker would outlive the vendor and
			// could take over every page of the brand's origin.
			aw.h.logger.Warn("refused a vendor's service worker", zap.String("journey", b.journey),
				zap.String("backend", b.name), zap.String("request_id", aw.requestID))
			aw.swallow(http.StatusForbidden)
			return
		}
		debrand(hdr, aw.req, b.upstreams, aw.ownServer)
		jarSetCookies(hdr, b.name)
		aw.keepOriginHeaders(hdr)
	}
	if (status >= 300 && status < 400 && len(hdr["Location"]) > 0 || len(hdr["Refresh"]) > 0) && !aw.checkRedirects(hdr, status) {
		aw.swallow(http.StatusBadGateway)
		return
	}
	if b.isolate {
		aw.isolate(hdr)
	}
	if b.banner {
		switch aw.planBody(status, hdr) {
		case bodyRefused:
			aw.swallow(http.StatusBadGateway)
			return
		case bodySniffed:
			return // the sniffer writes the header once the body shows what it is
		}
	}
	aw.ResponseWriter.WriteHeader(status)
}

// originHeaders are response headers that act on the whole origin, not
// on the response they come with: a vendor sending them would act as the
// brand. Clear-Site-Data wipes every cookie and storage of the origin
// (logging the customer out of the brand); Service-Worker-Allowed widens
// a worker's scope beyond the vendor's paths; Strict-Transport-Security
// and Alt-Svc change how the browser reaches the brand host; NEL and
// Report-To would have the browser report the brand's requests to the
// vendor for as long as the vendor asks.
var originHeaders = []string{"Clear-Site-Data", "Service-Worker-Allowed", "Strict-Transport-Security", "Alt-Svc", "Nel", "Report-To"}

// keepOriginHeaders removes the values of originHeaders an outsourced
// backend added, keeping those the brand's response had before (Caddy's
// own Alt-Svc, the brand's HSTS).
func (aw *attemptWriter) keepOriginHeaders(hdr http.Header) {
	for _, name := range originHeaders {
		values, ok := hdr[name]
		if !ok {
			continue
		}
		n, _ := aw.before.values(name)
		if n == 0 {
			delete(hdr, name)
		} else if len(values) > n {
			hdr[name] = values[:n:n]
		}
	}
}

// isolate adds the sandbox policy to every response of an isolated
// backend, not only to HTML: SVG, XML and any type a browser may render
// as a document would otherwise run the backend's scripts in the brand's
// origin. A policy does nothing to responses that are not documents. It
// comes in addition to the backend's own policies, which cannot loosen it.
func (aw *attemptWriter) isolate(hdr http.Header) {
	const name = "Content-Security-Policy"
	if existing := hdr[name]; len(existing) > 0 {
		hdr[name] = append(existing, config.IsolationPolicy)
		return
	}
	aw.values.set(hdr, name, config.IsolationPolicy)
}

// informational passes on a 1xx response (103 Early Hints) scrubbed like
// a final one: more headers follow.
func (aw *attemptWriter) informational(status int) {
	hdr := aw.ResponseWriter.Header()
	scrubReserved(hdr)
	aw.values.set(hdr, headerRequest, aw.requestID)
	if aw.backend.outsourced {
		removeVendorIdentity(hdr, aw.ownServer)
	}
	aw.ResponseWriter.WriteHeader(status)
}

// swallow drops the backend's answer for a brand error page with the given
// status: the headers go back to what the customer's response had before
// the backend answered, which keeps what earlier handlers set for the
// brand (HSTS, CSP, Alt-Svc).
func (aw *attemptWriter) swallow(status int) {
	aw.swallowed = true
	aw.status = status
	hdr := aw.ResponseWriter.Header()
	aw.before.restore(hdr)
	restoreGatewayHeaders(hdr, aw.requestID, aw.ownServer)
	aw.detach()
}

func (aw *attemptWriter) detach() {
	if aw.detached == nil {
		aw.detached = make(http.Header)
	}
}

func (aw *attemptWriter) Write(p []byte) (int, error) {
	if !aw.wroteHeader {
		aw.WriteHeader(http.StatusOK)
	}
	switch {
	case aw.swallowed:
		return len(p), nil
	case aw.body != nil:
		return aw.body.Write(p)
	}
	return aw.ResponseWriter.Write(p)
}

// ReadFrom keeps io.Copy from going around Write (and so around the
// banner and the error page) through the wrapper's ReadFrom.
func (aw *attemptWriter) ReadFrom(r io.Reader) (int64, error) {
	if aw.wroteHeader && !aw.swallowed && aw.body == nil {
		return aw.ResponseWriterWrapper.ReadFrom(r)
	}
	return io.Copy(writerOnly{aw}, r)
}

// FlushError lets streamed responses (reverse_proxy's flush_interval,
// server-sent events) reach the customer through the injector. Before the
// headers are de-branded there is nothing to flush: a flush then would
// send the vendor's headers as they are.
func (aw *attemptWriter) FlushError() error {
	switch {
	case !aw.wroteHeader, aw.swallowed:
		return nil
	case aw.decoder != nil:
		// Only the decoding goroutine may write to the customer; it
		// flushes once it has passed on what it was given.
		aw.decoder.requestFlush()
		return nil
	case aw.body != nil:
		return aw.flushPage()
	}
	return http.NewResponseController(aw.ResponseWriter).Flush()
}

// Flush is FlushError for callers that assert http.Flusher.
func (aw *attemptWriter) Flush() { aw.FlushError() } //nolint:errcheck // Flush reports nothing

// flushPage passes on what the page stages hold, from the goroutine that
// writes the page.
func (aw *attemptWriter) flushPage() error {
	if aw.sniffer != nil {
		if !aw.sniffer.decided && aw.sniffer.n == 0 {
			return nil // nothing to sniff yet: the headers wait for the body
		}
		if err := aw.sniffer.decide(); err != nil {
			return err
		}
	}
	if aw.injector != nil {
		if err := aw.injector.Flush(); err != nil {
			return err
		}
	}
	return http.NewResponseController(aw.ResponseWriter).Flush()
}

// serve runs the backend's proxy with this writer and finishes the body
// whatever happens: on a panic (the proxy aborts a response it cannot
// complete with http.ErrAbortHandler) it returns the panic's value for
// ServeHTTP to count the attempt and panic again.
func (aw *attemptWriter) serve(proxy caddyhttp.MiddlewareHandler, r *http.Request, next caddyhttp.Handler) (aborted any, err error) {
	defer func() {
		aborted = recover()
		aw.finishBody(err == nil && aborted == nil)
	}()
	err = proxy.ServeHTTP(aw, r, next)
	return nil, err
}

type writerOnly struct{ io.Writer }

// Headers a backend uses to leave a note on the customer's trail.
const (
	headerNote = "X-Frontdoor-Note"
	headerCase = "X-Frontdoor-Case"
)

// maxNoteLen bounds what one trail entry keeps of a note or case id.
const maxNoteLen = 1024

// recordTrail queues the backend's note and case for the customer's trail
// (never blocking: a full queue drops the entry and counts it). The
// headers themselves are removed with the other X-Frontdoor-* headers
// before the customer sees the response.
func (aw *attemptWriter) recordTrail(hdr http.Header, status int) {
	note, caseID := hdr.Get(headerNote), hdr.Get(headerCase)
	if note == "" && caseID == "" || !aw.backend.stats.counted {
		return // the shopper's customer is nobody's: no trail
	}
	h, b := aw.h, aw.backend
	customerID, _ := aw.customer.ctx.Get(customerIDField)
	if h.trail == nil || customerID == "" {
		h.metrics.trailWrite("no_customer")
		return
	}
	entry := fleet.Entry{Time: time.Now(), Journey: b.journey, Backend: b.name, Owner: string(b.owner),
		Status: status, RequestID: aw.requestID, Note: truncate(note, maxNoteLen), Case: truncate(caseID, maxNoteLen)}
	sessionKey := strings.ReplaceAll(h.sessionKey, "{id}", aw.customer.sessionID)
	if h.trail.Record(customerID, sessionKey, entry) {
		h.metrics.trailWrite("queued")
	} else {
		h.metrics.trailWrite("dropped")
	}
}

// truncate cuts s to at most n bytes, at the start of a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (aw *attemptWriter) statusOrOK() int {
	if aw.status == 0 {
		return http.StatusOK
	}
	return aw.status
}

// isHTML reports whether a Content-Type is an HTML page, without the
// allocations of a full parse, which only pages need (for the charset).
func isHTML(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(mediaType)
	return strings.EqualFold(mediaType, "text/html") || strings.EqualFold(mediaType, "application/xhtml+xml")
}

// bodyPlan is what happens to a banner backend's response body.
type bodyPlan int

const (
	bodyAsIs    bodyPlan = iota // not a page, or one that must not change
	bodyBanner                  // a page: the banner goes in
	bodySniffed                 // no Content-Type: the body decides
	bodyRefused                 // a page in a coding frontdoor cannot read
)

// planBody decides whether this response gets the brand banner and sets up
// the stages its body goes through. A vendor cannot dodge the banner: every
// coding a browser reads is decoded, a body without a Content-Type is
// sniffed as a browser would, and a page frontdoor cannot read is refused.
func (aw *attemptWriter) planBody(status int, hdr http.Header) bodyPlan {
	contentType := hdr.Get("Content-Type")
	typed := contentType != ""
	if typed && !isHTML(contentType) {
		return bodyAsIs
	}
	disposition, _, _ := mime.ParseMediaType(hdr.Get("Content-Disposition"))
	switch {
	case aw.req.Method == http.MethodHead,
		status == http.StatusNoContent, status == http.StatusNotModified,
		status == http.StatusPartialContent, status == http.StatusSwitchingProtocols,
		status >= 300 && status < 400,
		disposition == "attachment":
		if typed {
			aw.h.metrics.bannerResult(aw.backend, "skipped")
		}
		return bodyAsIs
	}
	coding, single := normalizeCoding(hdr.Get("Content-Encoding"))
	if coding == "identity" {
		coding = ""
	}
	if !single || coding != "" && !decodableCoding(coding) {
		return bodyRefused
	}
	if typed {
		_, params, _ := mime.ParseMediaType(contentType)
		if charset := strings.ToLower(params["charset"]); strings.HasPrefix(charset, "utf-16") || strings.HasPrefix(charset, "utf-32") {
			aw.h.metrics.bannerResult(aw.backend, "skipped")
			return bodyAsIs
		}
	}
	if coding != "" {
		hdr.Del("Content-Encoding")
		hdr.Del("Content-Length")
	}
	aw.detach()
	if !typed {
		aw.sniffer = &pageSniffer{aw: aw}
		aw.body = aw.sniffer
	} else if !aw.startBanner(hdr) {
		return bodyAsIs
	}
	if coding != "" {
		aw.decoder = newDecodeWriter(coding, aw.body, func() { aw.flushPage() }) //nolint:errcheck // best effort, as a flush is
		aw.body = aw.decoder
	}
	if !typed {
		return bodySniffed
	}
	return bodyBanner
}

// startBanner puts the injector in front of the customer and fixes the
// headers the change of body invalidates. It reports false if the banner
// could not be rendered, and the page then goes out as it is.
func (aw *attemptWriter) startBanner(hdr http.Header) bool {
	page, err := aw.h.bannerPage.Render(aw.requestID)
	if err != nil {
		aw.h.logger.Error("rendering banner", zapError(err))
		aw.h.metrics.bannerResult(aw.backend, "skipped")
		return false
	}
	aw.injector = injectorPool.Get().(*banner.Injector)
	aw.injector.Reset(aw.ResponseWriter, page)
	aw.body = aw.injector
	if n, err := strconv.ParseInt(hdr.Get("Content-Length"), 10, 64); err == nil {
		hdr.Set("Content-Length", strconv.FormatInt(n+int64(len(page)), 10))
	}
	if etag := hdr.Get("Etag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		hdr.Set("Etag", "W/"+etag)
	}
	hdr.Del("Content-Md5")
	hdr.Del("Digest")
	hdr.Del("Repr-Digest")
	hdr.Del("Content-Digest")
	hdr.Del("Trailer") // the vendor's trailers describe the vendor's body
	hdr.Set("Accept-Ranges", "none")
	for _, name := range []string{"Content-Security-Policy", "Content-Security-Policy-Report-Only"} {
		for i, policy := range hdr[name] {
			hdr[name][i] = banner.AllowStyle(policy, aw.h.bannerStyleHashes)
		}
	}
	return true
}

// finishBody completes the body: the decoder drains, a sniffed body that
// never reached the sniffing length is decided, and the banner is appended
// if no </body> came. A body cut short gets no banner appended. It runs in
// the handler's goroutine, always: after it nothing frontdoor started
// writes to the customer.
func (aw *attemptWriter) finishBody(complete bool) {
	if aw.decoder != nil {
		if complete {
			if err := aw.decoder.Close(); err != nil {
				complete = false
			}
		} else {
			aw.decoder.Abort()
		}
		aw.decoder = nil
	}
	if aw.sniffer != nil {
		if err := aw.sniffer.decide(); err != nil {
			complete = false
		}
	}
	if aw.injector == nil {
		return
	}
	defer func() {
		aw.injector.Reset(nil, nil)
		injectorPool.Put(aw.injector)
		aw.injector, aw.body = nil, nil
	}()
	if !complete {
		aw.injector.Flush() //nolint:errcheck // the response is already broken
		return
	}
	result, err := aw.injector.Close()
	if err != nil {
		return
	}
	aw.h.metrics.bannerResult(aw.backend, result.String())
}

var injectorPool = sync.Pool{New: func() any { return banner.NewInjector(nil, nil) }}

// pageSniffer holds back the start of a banner backend's body that came
// without a Content-Type until it shows what it is, as a browser would
// sniff it, then writes the headers with the type it found (so the browser
// does not sniff something else) and passes the body on, through the
// injector if it is a page.
type pageSniffer struct {
	aw      *attemptWriter
	held    [sniffLen]byte
	n       int
	decided bool
	out     io.Writer
	err     error
}

// sniffLen is how much of a body http.DetectContentType reads.
const sniffLen = 512

func (s *pageSniffer) Write(p []byte) (int, error) {
	if s.decided {
		return s.out.Write(p)
	}
	n := copy(s.held[s.n:], p)
	s.n += n
	if s.n < sniffLen {
		return len(p), nil
	}
	if err := s.decide(); err != nil {
		return 0, err
	}
	if _, err := s.out.Write(p[n:]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// decide writes the headers for what the body held so far is, and the
// held bytes after them. Later calls return the first one's error.
func (s *pageSniffer) decide() error {
	if s.decided {
		return s.err
	}
	s.decided = true
	aw := s.aw
	hdr := aw.ResponseWriter.Header()
	contentType := http.DetectContentType(s.held[:s.n])
	hdr.Set("Content-Type", contentType)
	s.out = aw.ResponseWriter
	if isHTML(contentType) && aw.startBanner(hdr) {
		s.out = aw.injector
	}
	aw.ResponseWriter.WriteHeader(aw.status)
	_, s.err = s.out.Write(s.held[:s.n])
	return s.err
}

func restoreGatewayHeaders(h http.Header, requestID string, ownServer []string) {
	h.Set(headerRequest, requestID)
	if ownServer != nil {
		h["Server"] = ownServer
	}
}

// headerSnapshot remembers which header fields, and how many values of
// each, a response had before a backend answered, so a backend's answer
// can be taken out again. The first few fit without an allocation.
type headerSnapshot struct {
	marks [8]headerMark
	more  []headerMark
	n     int
}

type headerMark struct {
	name   string
	values int
}

func (s *headerSnapshot) take(h http.Header) {
	s.n, s.more = 0, nil
	for name, values := range h {
		m := headerMark{name, len(values)}
		if s.n < len(s.marks) {
			s.marks[s.n] = m
			s.n++
		} else {
			s.more = append(s.more, m)
		}
	}
}

func (s *headerSnapshot) values(name string) (int, bool) {
	for _, m := range s.marks[:s.n] {
		if m.name == name {
			return m.values, true
		}
	}
	for _, m := range s.more {
		if m.name == name {
			return m.values, true
		}
	}
	return 0, false
}

// restore removes from h every field and value added since the snapshot.
func (s *headerSnapshot) restore(h http.Header) {
	for name, values := range h {
		n, ok := s.values(name)
		switch {
		case !ok:
			delete(h, name)
		case len(values) > n:
			h[name] = values[:n:n]
		}
	}
}
