package caddymodule

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/prometheus/client_golang/prometheus"
)

// What an attempt counts as once the proxy is done: the status and kind of
// upstream failure of an error or an aborted answer, and the per-backend
// counts.

// classifyAbort maps an attempt the proxy aborted mid-answer to the
// status it counts as and the kind of upstream failure: the body bound
// tripped (504, timeout), the customer left (499, no upstream failure),
// or the backend cut its answer off (502, aborted). Counting a cut-off
// answer as a 502 even when its 200 head had reached the customer is
// what puts it in the availability SLI, which counts 5xx.
func classifyAbort(stalled, customerGone bool) (status int, kind string) {
	switch {
	case stalled:
		return http.StatusGatewayTimeout, errTimeout
	case customerGone:
		return 499, ""
	}
	return http.StatusBadGateway, errAborted
}

// abortedHow says in words what happened to an answer of the kind.
func abortedHow(kind string) string {
	if kind == errTimeout {
		return "stalled past response_body_timeout"
	}
	return "cut off by the backend"
}

// classify maps a reverse proxy error to the status the customer gets and
// the kind of upstream failure, or "" when the error is not the upstream's
// fault (e.g. the client went away, or its request body failed) and so no
// reason to fail over.
func classify(err error) (status int, kind string) {
	status = http.StatusBadGateway
	var herr caddyhttp.HandlerError
	if errors.As(err, &herr) && herr.StatusCode != 0 {
		status = herr.StatusCode
	}
	var dialErr reverseproxy.DialError
	var netErr net.Error
	var bodyErr *requestBodyError
	switch {
	case status == 499:
		return status, ""
	case errors.As(err, &bodyErr):
		// The client failed to send its request: the backend is not at
		// fault, and the client gets a 4xx for it.
		return bodyErr.status(), ""
	case errors.As(err, &dialErr):
		return status, errDial
	case status == http.StatusGatewayTimeout || errors.As(err, &netErr) && netErr.Timeout():
		return status, errTimeout
	case status == http.StatusServiceUnavailable, status == http.StatusBadGateway:
		// No available upstream, or the connection failed before a
		// response: for the customer as good as a refused dial.
		return status, errDial
	}
	return status, ""
}

// observe counts an attempt's outcome and times it. A stream (a WebSocket
// chat, an event feed) is counted but not timed: its lifetime is in
// frontdoor_stream_duration_seconds, and in the request latency the SLO
// measures every chat would be one very slow request.
func (s *backendStats) observe(status int, elapsed time.Duration, stream streamKind) {
	if !s.counted {
		return
	}
	if stream == notStream {
		s.duration.Observe(elapsed.Seconds())
	}
	s.counterFor(status).Inc()
}

func (s *backendStats) counterFor(status int) prometheus.Counter {
	if status < 100 || status >= len(s.byCode) {
		return s.requests.WithLabelValues(s.labels[0], s.labels[1], s.labels[2], s.labels[3], strconv.Itoa(status))
	}
	if c := s.byCode[status].Load(); c != nil {
		return *c
	}
	c := s.requests.WithLabelValues(s.labels[0], s.labels[1], s.labels[2], s.labels[3], strconv.Itoa(status))
	s.byCode[status].Store(&c)
	return c
}
