package caddymodule

import (
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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
	streamConn *watchedConn // the watch of a WebSocket: the customer's hijacked connection, or a tunnel's frames (openStream)
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
	if status < 100 || status > 599 {
		// HTTP defines no such status: the backend's failure, counted
		// and sent as one, never under a code of the vendor's choosing.
		// Below 100 (a status line "099" or "000", which Go's client
		// reads as 99 or 0) it is also one net/http refuses to write: it
		// panics, and the customer's connection would be cut unanswered
		// and uncounted.
		status = http.StatusBadGateway
	}
	aw.wroteHeader = true
	aw.status = status
	hdr := aw.ResponseWriter.Header()
	p := aw.policy
	if aw.openStream(status, hdr) {
		aw.swallow(http.StatusBadGateway)
		return
	}
	kind := final
	if aw.stream == webSocketStream {
		kind = upgrade
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
		plan, coding, page := p.planBody(aw.scope, status, hdr)
		switch plan {
		case bodyRefused:
			aw.swallow(http.StatusBadGateway)
			return
		case bodyBanner, bodySniffed:
			aw.detach()
			aw.body = newBodyPipeline(p, aw.ResponseWriter, aw.scope, status, aw.customer, coding, page, plan == bodyBanner)
			if aw.body != nil {
				return // the sniffer writes the header once the body shows its type and charset
			}
		case bodyRevalidated:
			p.banner.patchHeaders(hdr)
		case bodyHeadOfPage:
			p.banner.headOfPage(hdr, coding, page)
		}
	}
	aw.ResponseWriter.WriteHeader(status)
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
// send the vendor's headers as they are. The flush that opens a WebSocket
// over HTTP/2 fails when the policy refused its head, so the proxy gives
// up the tunnel (as Hijack does for a 101).
func (aw *attemptWriter) FlushError() error {
	switch {
	case aw.swallowed && aw.stream == webSocketStream:
		return errUpgradeRefused
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

type writerOnly struct{ io.Writer }

// Headers a backend uses to leave a note on the customer's trail.
const (
	headerNote = "X-Frontdoor-Note"
	headerCase = "X-Frontdoor-Case"
)

func (aw *attemptWriter) statusOrOK() int {
	if aw.status == 0 {
		return http.StatusOK
	}
	return aw.status
}

// finish ends the attempt's response in the handler's goroutine: the body
// pipeline drains and is released, and the trailers the proxy added after
// the body are held to the policy. After it nothing frontdoor started
// writes to the customer. It returns the error of a page body that could
// not be read or passed on to its end (see bodyPipeline.finish).
func (aw *attemptWriter) finish(complete bool) error {
	var err error
	if aw.body != nil {
		err = aw.body.finish(complete)
		aw.body = nil
	}
	if aw.wroteHeader && !aw.swallowed && aw.detached == nil {
		aw.policy.scrubTrailers(aw.ResponseWriter.Header())
	}
	return err
}
