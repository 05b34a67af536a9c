package caddymodule

import (
	"io"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"golang.org/x/net/http/httpguts"

	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/session"
	"github.com/frontdoor-dev/frontdoor/internal/utf8cut"
)

// Interface guards: the writer keeps what the customer's writer offers.
var (
	_ http.ResponseWriter                       = (*attemptWriter)(nil)
	_ http.Hijacker                             = (*attemptWriter)(nil)
	_ http.Flusher                              = (*attemptWriter)(nil)
	_ io.ReaderFrom                             = (*attemptWriter)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*attemptWriter)(nil)
)

// attemptWriter carries one backend's response to the customer under that
// backend's responsePolicy: every header block (1xx, 101, final) goes
// through the policy's steps; a refused or failed answer is swallowed so a
// brand error page can replace it; a page's body goes through the body
// pipeline, which is set once, when the final headers are known, and
// finished once, in serve's deferred finish. It records whether anything
// was sent, which decides whether failover is still possible.
type attemptWriter struct {
	caddyhttp.ResponseWriterWrapper
	policy      *responsePolicy
	scope       *exchangeScope
	customer    *customerContext
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

	// body is where a page's body goes (nil streams as is). Set once in
	// WriteHeader, never changed after.
	body *bodyPipeline

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
	p := aw.policy
	kind := final
	switch {
	case status == http.StatusSwitchingProtocols:
		if !upgradeRequested(aw.scope.req) {
			// Caddy's proxy refuses to tunnel it; the customer would get
			// an empty 200.
			aw.swallow(http.StatusBadGateway)
			return
		}
		aw.stream, kind = webSocketStream, upgrade
	case isExtendedConnect(aw.scope.req) && status < 300:
		// A WebSocket over HTTP/2: the 200 of the CONNECT starts it.
		aw.stream, kind = webSocketStream, upgrade
	case isEventStream(hdr.Get("Content-Type")):
		aw.stream = eventStream
	}
	if status >= 500 {
		p.stats.upstreamError(errStatus5xx)
	}
	p.recordTrail(aw.scope, aw.customer, hdr, status)
	if p.outsourced && status >= 500 {
		// The vendor's error page never reaches the customer; ServeHTTP
		// renders the brand's once the proxy is done.
		aw.swallow(status)
		return
	}
	if refuse := p.applySteps(aw.scope, hdr, kind); refuse != 0 {
		aw.swallow(refuse)
		return
	}
	if p.banner != nil && kind == final {
		plan, coding := p.planBody(aw.scope, status, hdr)
		switch plan {
		case bodyRefused:
			aw.swallow(http.StatusBadGateway)
			return
		case bodyBanner, bodySniffed:
			aw.detach()
			aw.body = newBodyPipeline(p, aw.ResponseWriter, status, aw.scope.requestID, aw.customer, coding, plan == bodyBanner)
			if aw.body != nil {
				return // the sniffer writes the header once the body shows its type and charset
			}
		}
	}
	aw.ResponseWriter.WriteHeader(status)
}

// informational passes on a 1xx response (103 Early Hints) under the same
// steps as a final one, or drops it if a step refuses it: more headers
// follow, and the final response's stand.
func (aw *attemptWriter) informational(status int) {
	hdr := aw.ResponseWriter.Header()
	if aw.policy.applySteps(aw.scope, hdr, informational) == 0 {
		aw.ResponseWriter.WriteHeader(status)
	}
}

// upgradeRequested reports whether the customer asked to switch protocols.
func upgradeRequested(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && httpguts.HeaderValuesContainsToken(r.Header["Connection"], "upgrade")
}

// isExtendedConnect reports whether a request opens a WebSocket over
// HTTP/2 or HTTP/3 (RFC 8441, RFC 9220): Caddy's proxy answers it with a
// 200 and then carries the stream in the body.
func isExtendedConnect(r *http.Request) bool {
	return r.Method == http.MethodConnect && (r.ProtoMajor == 2 && r.Header.Get(":protocol") != "" || r.ProtoMajor == 3 && r.Proto != "HTTP/3.0")
}

// swallow drops the backend's answer for a brand error page with the given
// status: the headers go back to what the customer's response had before
// the backend answered, which keeps what earlier handlers set for the
// brand (HSTS, CSP, Alt-Svc).
func (aw *attemptWriter) swallow(status int) {
	aw.swallowed = true
	aw.status = status
	hdr := aw.ResponseWriter.Header()
	aw.scope.before.restore(hdr)
	restoreGatewayHeaders(hdr, aw.scope.requestID, aw.scope.ownServer)
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
// server-sent events) reach the customer through the pipeline. Before the
// headers are de-branded there is nothing to flush: a flush then would
// send the vendor's headers as they are.
func (aw *attemptWriter) FlushError() error {
	switch {
	case !aw.wroteHeader, aw.swallowed:
		return nil
	case aw.body != nil:
		return aw.body.flush()
	}
	return http.NewResponseController(aw.ResponseWriter).Flush()
}

// Flush is FlushError for callers that assert http.Flusher.
func (aw *attemptWriter) Flush() { aw.FlushError() } //nolint:errcheck // Flush reports nothing

// Unwrap gives http.ResponseController the customer's writer for what
// this one does not handle itself (deadlines, full duplex).
func (aw *attemptWriter) Unwrap() http.ResponseWriter { return aw.ResponseWriter }

// serve runs the backend's proxy with this writer and finishes the
// response whatever happens: on a panic (the proxy aborts a response it
// cannot complete with http.ErrAbortHandler) it returns the panic's value
// for ServeHTTP to count the attempt and panic again.
func (aw *attemptWriter) serve(proxy caddyhttp.MiddlewareHandler, r *http.Request, next caddyhttp.Handler) (aborted any, err error) {
	defer func() {
		aborted = recover()
		aw.finish(err == nil && aborted == nil)
	}()
	err = proxy.ServeHTTP(aw, r, next)
	return nil, err
}

// finish ends the attempt's response in the handler's goroutine: the body
// pipeline drains and is released, and the trailers the proxy added after
// the body are held to the policy. After it nothing frontdoor started
// writes to the customer.
func (aw *attemptWriter) finish(complete bool) {
	if aw.body != nil {
		aw.body.finish(complete)
		aw.body = nil
	}
	if aw.wroteHeader && !aw.swallowed && aw.detached == nil {
		aw.policy.scrubTrailers(aw.ResponseWriter.Header())
	}
}

type writerOnly struct{ io.Writer }

// Headers a backend uses to leave a note on the customer's trail.
const (
	headerNote = "X-Frontdoor-Note"
	headerCase = "X-Frontdoor-Case"
)

// maxNoteLen bounds what one trail entry keeps of a note or case id.
const maxNoteLen = 1024

// trailRecorder writes what backends note to the customer's trail.
type trailRecorder struct {
	trail      *fleet.Trail // nil without Redis: entries are counted as having no customer
	sessionKey string       // key template of the session hash
	metrics    *metrics
}

// recordTrail queues the backend's note and case for the customer's trail
// (never blocking: a full queue drops the entry and counts it). The
// headers themselves are removed with the other X-Frontdoor-* headers
// before the customer sees the response. A policy without a recorder (the
// secret shopper's: its customer is nobody's) records nothing.
func (p *responsePolicy) recordTrail(x *exchangeScope, cc *customerContext, hdr http.Header, status int) {
	note, caseID := hdr.Get(headerNote), hdr.Get(headerCase)
	t := p.trail
	if note == "" && caseID == "" || t == nil {
		return
	}
	customerID, _ := cc.ctx.Get(customerIDField)
	if t.trail == nil || customerID == "" {
		t.metrics.trailWrite("no_customer")
		return
	}
	entry := fleet.Entry{Time: time.Now(), Journey: p.journey, Backend: p.backend, Owner: string(p.owner),
		Status: status, RequestID: x.requestID, Note: utf8cut.Prefix(note, maxNoteLen), Case: utf8cut.Prefix(caseID, maxNoteLen)}
	if t.trail.Record(customerID, session.ExpandKey(t.sessionKey, cc.sessionID), entry) {
		t.metrics.trailWrite("queued")
	} else {
		t.metrics.trailWrite("dropped")
	}
}

func (aw *attemptWriter) statusOrOK() int {
	if aw.status == 0 {
		return http.StatusOK
	}
	return aw.status
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
