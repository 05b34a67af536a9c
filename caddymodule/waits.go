package caddymodule

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/frontdoor-dev/frontdoor/internal/mimetype"
)

// Bounded waits. A vendor that hangs or trickles must not hold a customer,
// a goroutine or a connection for longer than an edge can afford. Each
// attempt at a backend has three bounds; the two on bodies are on
// progress, not on total time, so a large download or upload that keeps
// moving is never cut:
//
//   - the first response byte: Caddy's transport response_header_timeout,
//     counted from the end of the request;
//   - sending the request body: Caddy's transport write_timeout, which
//     bounds each write to the backend's connection, so a backend that
//     stops reading an upload fails it;
//   - reading the response body: frontdoor's response_body_timeout,
//     below, which counts the time the proxy waits on the backend, not
//     on a customer who reads slowly. Caddy's read_timeout cannot serve:
//     it bounds every read on the connection, so it would cut idle
//     WebSocket chats, uploads longer than it (the transport reads while
//     the body is sent) and idle keep-alive connections, while a byte a
//     second resets it.
//
// Event streams and upgraded connections are exempt from the body bound:
// they are idle by nature.

// Defaults of the transport's bounds, set on every HTTP transport that
// does not set its own. Ten seconds is long for a page and short for a
// customer waiting on one; the dial already has Caddy's 3s.
const (
	defaultResponseHeaderTimeout = 10 * time.Second
	defaultWriteTimeout          = 10 * time.Second
)

// progressUnit is how much of a response body counts as progress: a
// backend must deliver this much more (or end) within each
// response_body_timeout. Far more than a trickle, far less than any real
// page or download delivers in a second.
const progressUnit = 1 << 10

// errBodyStalled is the cause with which an attempt's context is
// cancelled when its response body made no progress within the bound and
// the backend's transport is not frontdoor's (see bodyWatch.check).
var errBodyStalled = errors.New("response body made no progress within response_body_timeout")

// waitEpoch anchors the monotonic clock of bodyWatch.
var waitEpoch = time.Now()

// bodyWatch runs one attempt's proxy and cuts the attempt when the
// response body it writes makes no progress for the backend's bound. It
// is the writer the proxy writes to, in front of the attempt's writer,
// and it travels in the attempt's request context to the backend's
// transport (upstreamTransport), which takes from it the headers to add
// and gives it the response body to close.
type bodyWatch struct {
	http.ResponseWriter // the attempt's writer

	proxy    caddyhttp.MiddlewareHandler
	hold     *headHold        // told whether the answer streams
	upstream *upstreamHeaders // what upstreamTransport adds to the request
	bound    time.Duration
	tunnel   bool // a CONNECT (a WebSocket over HTTP/2 or HTTP/3): its 2xx starts a tunnel, a chat

	// body is the backend's response body as upstreamTransport returned
	// it, set before the proxy writes the head that arms the watch:
	// closing it fails the proxy's blocked read and closes the backend's
	// connection. A transport frontdoor does not wrap sets none; the
	// attempt then runs in a context that cancel ends.
	body   io.Closer
	cancel context.CancelCauseFunc

	// request is the customer's request body as the transport reads it,
	// nil for a request without one: it tells a round trip the client's
	// body failed (see requestBody).
	request *requestBody

	stalled atomic.Bool                // the bound cut the attempt
	done    atomic.Bool                // the attempt is over: a late check does nothing
	timer   atomic.Pointer[time.Timer] // the latest check's
	last    atomic.Int64               // ns since waitEpoch of the last progress, moved on by each pass
	passing atomic.Bool                // the proxy is passing on what it read (see pass)
	pending int                        // bytes since then; the proxy's goroutine only
	headed  bool
}

// ServeHTTP runs the proxy with the watch in front of w. The watch ends
// with the proxy: the backend is then read to its end or given up, and
// what the body pipeline still passes on to the customer is not the
// backend's to account for.
func (bw *bodyWatch) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	bw.ResponseWriter = w
	bw.tunnel = r.Method == http.MethodConnect
	defer bw.stop()
	return bw.proxy.ServeHTTP(bw, r, next)
}

// WriteHeader starts the watch once a final response that is not an
// event stream or a chat over HTTP/2 or HTTP/3 begins, and tells the hold whether the backend streams it:
// the proxy has copied the backend's headers, before the attempt's writer
// changes them, and an answer without a Content-Length is one the proxy
// flushes as it comes. So is one that announces trailers (the proxy lists
// them in Trailer): the proxy puts them in the header map once the body
// is done, and a head still held then would carry them out as headers.
// A status below 100 is no interim answer but a final one the attempt's
// writer sends as a 502, and is watched as such.
func (bw *bodyWatch) WriteHeader(status int) {
	if status == 499 && !bw.headed && bw.request != nil && bw.request.failed.Load() != nil {
		// Caddy's note of a round trip that ended in context.Canceled,
		// which the client's failed body is made to be: the attempt
		// answers the client for it (see watchAttempt), not with a 499.
		return
	}
	if (status >= 200 || status < 100) && !bw.headed {
		bw.headed = true
		hdr := bw.Header()
		// The 2xx of an extended CONNECT is a chat, whose frames are
		// its body: idle by nature, as over a 101's hijacked connection.
		idle := isEventStream(hdr["Content-Type"]) || bw.tunnel && status >= 200 && status < 300
		bw.hold.streamed = idle || len(hdr["Content-Length"]) == 0 || len(hdr["Trailer"]) > 0
		if !idle {
			bw.arm()
		}
	}
	bw.ResponseWriter.WriteHeader(status)
}

func (bw *bodyWatch) Write(p []byte) (int, error) {
	if !bw.headed {
		bw.WriteHeader(http.StatusOK)
	}
	// What the proxy writes it has read from the backend: that is the
	// backend's progress, however long the customer takes over it.
	if bw.pending += len(p); bw.pending >= progressUnit {
		bw.pending = 0
		bw.last.Store(int64(time.Since(waitEpoch)))
	}
	start := bw.pass()
	n, err := bw.ResponseWriter.Write(p)
	bw.passed(start)
	return n, err
}

// pass marks the start of a write or flush to the customer. Until it
// returns the proxy reads nothing from the backend (and a decoded page's
// write waits for the decoder, which waits for the customer): a customer
// reading more slowly than the backend sends would otherwise look like a
// backend that stalled. It returns when the pass began.
func (bw *bodyWatch) pass() time.Duration {
	if bw.bound <= 0 {
		return 0
	}
	bw.passing.Store(true)
	return time.Since(waitEpoch)
}

// passed ends the pass begun at start: its time is taken off the
// backend's wait, as if its last progress came that much later, so a
// backend that trickles is still cut, whatever the customer's pace.
// last moves before passing clears, so a check that finds the pass over
// sees its time taken off.
func (bw *bodyWatch) passed(start time.Duration) {
	if bw.bound <= 0 {
		return
	}
	bw.last.Add(int64(time.Since(waitEpoch) - start))
	bw.passing.Store(false)
}

// ReadFrom sends everything through Write, which counts the progress.
func (bw *bodyWatch) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{bw}, r)
}

// FlushError passes a flush on to the attempt's writer: a pass, as a
// write is.
func (bw *bodyWatch) FlushError() error {
	start := bw.pass()
	defer bw.passed(start)
	return http.NewResponseController(bw.ResponseWriter).Flush()
}

// Hijack passes an upgrade on to the attempt's writer.
func (bw *bodyWatch) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(bw.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the attempt's writer.
func (bw *bodyWatch) Unwrap() http.ResponseWriter { return bw.ResponseWriter }

func (bw *bodyWatch) arm() {
	if bw.bound <= 0 {
		return
	}
	bw.last.Store(int64(time.Since(waitEpoch)))
	bw.timer.Store(time.AfterFunc(bw.bound, bw.check))
}

// check runs when the bound may have passed without progress: it cuts
// the attempt (the backend's connection is closed and the proxy's read
// fails) or looks again when the bound after the last progress has passed.
// Closing the body is what cancelling the request's context would do
// without a context made for every attempt: that context, its done
// channel and its link to the request's cost more than the rest of the
// watch.
func (bw *bodyWatch) check() {
	if bw.done.Load() {
		return // the attempt ended while this check was due: nothing to cut, nothing to re-arm
	}
	if bw.passing.Load() {
		// The proxy waits on the customer, not on the backend: the
		// pass's time is taken off once it ends.
		bw.timer.Store(time.AfterFunc(bw.bound, bw.check))
		return
	}
	idle := time.Since(waitEpoch) - time.Duration(bw.last.Load())
	if idle < bw.bound {
		// A new timer, not a Reset: the timer is armed without a Stop
		// and Reset dance, and a check racing stop only makes one more
		// check, which finds done.
		bw.timer.Store(time.AfterFunc(bw.bound-idle, bw.check))
		return
	}
	bw.stalled.Store(true)
	switch {
	case bw.body != nil:
		bw.body.Close() //nolint:errcheck // the read it fails is what reports
	case bw.cancel != nil:
		bw.cancel(errBodyStalled)
	}
}

// stop ends the watch; the attempt is over. A check already running may
// still arm one more; that one sees done and ends.
func (bw *bodyWatch) stop() {
	bw.done.Store(true)
	if t := bw.timer.Load(); t != nil {
		t.Stop()
	}
}

// watchAttempt runs the proxy of backend b for the attempt aw under its
// body bound, with up, the headers frontdoor sends the backend, in the
// request's context: they travel to the backend's transport out of reach
// of the proxy's request logging (see upstreamTransport). The attempt's
// request is the one copy of r it makes, whatever it carries. stalled
// reports whether the bound cut the attempt. An attempt whose request body
// the client failed to send before any answer ends in that error (with a
// 499 if the client is gone), which classify blames on nobody.
func watchAttempt(aw *attemptWriter, bw *bodyWatch, hold *headHold, b *backendRoute, r *http.Request, up *upstreamHeaders, next caddyhttp.Handler) (aborted any, err error, stalled bool) {
	*bw = bodyWatch{proxy: b.proxy, hold: hold, upstream: up, bound: b.bodyTimeout}
	bw.request, _ = r.Body.(*requestBody)
	ctx := context.WithValue(r.Context(), attemptKey{}, bw)
	if b.bodyTimeout > 0 && !b.wrapped {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		bw.cancel = cancel
	}
	aborted, err = aw.serve(bw, r.WithContext(ctx), next)
	if bw.request == nil || aborted != nil || aw.wroteHeader {
		return aborted, err, bw.stalled.Load()
	}
	if failed := bw.request.failed.Load(); failed != nil {
		err = failed
		if r.Context().Err() != nil {
			err = caddyhttp.Error(499, failed) // nobody is there to be answered
		}
	}
	return aborted, err, bw.stalled.Load()
}

// Interface guards
var (
	_ http.Hijacker                   = (*bodyWatch)(nil)
	_ io.ReaderFrom                   = (*bodyWatch)(nil)
	_ caddyhttp.MiddlewareHandler     = (*bodyWatch)(nil)
	_ http.Hijacker                   = (*headHold)(nil)
	_ io.ReaderFrom                   = (*headHold)(nil)
	_ interface{ FlushError() error } = (*headHold)(nil)
)

// attemptKey is the request context key of the attempt's bodyWatch.
type attemptKey struct{}

// serve runs the backend's proxy with this writer and finishes the
// response whatever happens: on a panic (the proxy aborts a response it
// cannot complete with http.ErrAbortHandler) it returns the panic's value
// for ServeHTTP to count the attempt and panic again. A page the proxy
// carried to its end but whose body could not be decoded is aborted the
// same way: the customer gets the brand page while it is held, and a cut
// off response once it has passed, never a vendor's page ended as
// complete without its banner.
func (aw *attemptWriter) serve(proxy caddyhttp.MiddlewareHandler, r *http.Request, next caddyhttp.Handler) (aborted any, err error) {
	defer func() {
		aborted = recover()
		complete := err == nil && aborted == nil
		if bodyErr := aw.finish(complete); bodyErr != nil && complete {
			aborted = http.ErrAbortHandler
		}
	}()
	err = proxy.ServeHTTP(aw, r, next)
	return nil, err
}

// isEventStream reports whether a response, given its Content-Type lines,
// is a server-sent event stream. Its type is the browser's reading of all
// the lines (mimetype.Extract), the one planBody reads: a page sent as
// text/event-stream then text/html is a page, which gets the banner, and
// so the body bound; an EventSource reads the same type.
//
// It runs twice on every response (the body watch, the stream count), so
// Content-Type lines that do not spell "event-stream" in any case, which
// then cannot make that type, are answered without parsing them.
func isEventStream(contentType []string) bool {
	if !slices.ContainsFunc(contentType, mentionsEventStream) {
		return false
	}
	m, ok := mimetype.Extract(contentType)
	return ok && m.Essence() == "text/event-stream"
}

// mentionsEventStream reports whether a header value holds
// "event-stream", in any letter case.
func mentionsEventStream(value string) bool {
	const word = "event-stream"
	for i := 0; i+len(word) <= len(value); i++ {
		if strings.EqualFold(value[i:i+len(word)], word) {
			return true
		}
	}
	return false
}
