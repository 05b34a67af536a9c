package caddymodule

import (
	"net/http"
)

// The brand's own response headers: what earlier handlers set before a
// backend answered, and how an answer that must not reach the customer is
// swallowed back to them.

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

func restoreGatewayHeaders(h http.Header, requestID string, ownServer []string) {
	h.Set(headerRequest, requestID)
	if ownServer != nil {
		h["Server"] = ownServer
	}
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
