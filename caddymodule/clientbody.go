package caddymodule

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
)

// The customer's request body, as the backends' transports read it. A
// body that fails to read (a malformed chunk, a client that hangs up or
// stalls mid-upload, one over Caddy's request_body limit) fails the
// proxy's round trip, and Caddy counts every failed round trip but a
// cancelled one against the upstream's passive health, and retries it:
// one client could mark a backend down for every customer of the journey,
// and frontdoor counted a 502, an upstream error and an orphan against the
// backend. The body is read through requestBody, which keeps the failure
// and hands the transport an error that is also context.Canceled, so that
// Caddy neither counts nor retries it; the attempt then ends in the
// client's error (see watchAttempt), which classify blames on nobody.

// requestBody is the request's body: it records the first read that
// failed. The transport reads it in its own goroutine, possibly after
// the backend has answered, hence the atomic.
type requestBody struct {
	io.ReadCloser
	failed atomic.Pointer[requestBodyError]
	stream atomic.Pointer[watchedConn] // a WebSocket over HTTP/2 or HTTP/3: the body carries the customer's frames
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if c := b.stream.Load(); c != nil {
		c.received(p[:n], err)
	}
	if err != nil && err != io.EOF {
		e := &requestBodyError{err: err}
		if !b.failed.CompareAndSwap(nil, e) {
			e = b.failed.Load()
		}
		return n, e
	}
	return n, err
}

// wrap makes b the body of r when it has one: http.NoBody stays, the
// transport tells an empty body by it.
func (b *requestBody) wrap(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	b.ReadCloser = r.Body
	r.Body = b
}

// requestBodyError is the client's failure to send its request body.
type requestBodyError struct{ err error }

func (e *requestBodyError) Error() string {
	return "reading the client's request body: " + e.err.Error()
}

// Unwrap gives the read's own error, and context.Canceled: what Caddy's
// proxy neither retries nor counts against the upstream.
func (e *requestBodyError) Unwrap() []error { return []error{e.err, context.Canceled} }

// status is what the client gets for its failed body: 499 if it hung up
// mid-body, 413 for a body over the site's limit, 408 for one that stopped
// coming, 400 for one that is not HTTP.
func (e *requestBodyError) status() int {
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.Is(e.err, io.ErrUnexpectedEOF):
		return 499
	case errors.As(e.err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.As(e.err, &netErr) && netErr.Timeout():
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}
