package caddymodule

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// Chats and live updates: WebSocket connections and event streams. A
// vendor desk that ends chats shows against the in-house team in
// frontdoor_streams_total{closed_by}: client (the customer left), backend
// (the desk hung up, or its connection died) or gateway (frontdoor closed
// it: a reload past stream_close_delay, or a shutdown).

// Who ended a stream; metric label values.
const (
	closedByClient  = "client"
	closedByBackend = "backend"
	closedByGateway = "gateway"
)

// streamKind says what kind of long-lived response an attempt carries.
type streamKind uint8

const (
	notStream streamKind = iota
	webSocketStream
	eventStream
)

// isEventStream reports whether a response is a server-sent event stream.
func isEventStream(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "text/event-stream")
}

// Hijack hands the customer's connection to the proxy for an upgraded
// (101) response, watched so that frontdoor learns who ends the stream.
func (aw *attemptWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(aw.ResponseWriter).Hijack()
	if err != nil || aw.stream != webSocketStream {
		return conn, brw, err
	}
	p := aw.policy
	aw.streamConn = &watchedConn{Conn: conn, retired: func() bool { return p.retiredFor(p.streamCloseDelay) },
		frames: strings.EqualFold(aw.scope.req.Header.Get("Upgrade"), "websocket")}
	return aw.streamConn, brw, nil
}

// streamClosedBy says who ended the attempt's stream, once the proxy is
// done with it. aborted is whether the proxy gave up on the response.
func (aw *attemptWriter) streamClosedBy(aborted bool) string {
	switch {
	case aw.streamConn != nil:
		if by := aw.streamConn.closedBy.Load(); by != nil {
			return *by
		}
	case aw.scope.req.Context().Err() != nil:
		return closedByClient
	}
	if aw.policy.retiredFor(aw.policy.streamCloseDelay) {
		return closedByGateway
	}
	return closedByBackend // an event stream that ended, or a vendor that died
}

// watchedConn is the customer's side of an upgraded connection. It notes
// who ended the stream first: the customer (a WebSocket close frame from
// the customer, or the connection ending on the customer's side), the
// backend (a close frame toward the customer, or its half-close), or the
// gateway (closing once its config has been retired for the proxy's
// stream_close_delay).
type watchedConn struct {
	net.Conn
	retired  func() bool
	frames   bool // the stream is a WebSocket: close frames are looked for
	closedBy atomic.Pointer[string]

	fromClient, toClient frameWalker
}

func (c *watchedConn) note(by string) {
	if by == closedByBackend && c.retired() {
		by = closedByGateway
	}
	c.closedBy.CompareAndSwap(nil, &by)
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.frames && c.fromClient.feed(p[:n]) {
		c.note(closedByClient)
	}
	if err != nil {
		c.note(closedByClient)
	}
	return n, err
}

func (c *watchedConn) Write(p []byte) (int, error) {
	if c.frames && c.toClient.feed(p) {
		c.note(closedByBackend)
	}
	return c.Conn.Write(p)
}

// CloseWrite passes on the backend's half-close, as the proxy expects of
// a TCP connection.
func (c *watchedConn) CloseWrite() error {
	c.note(closedByBackend)
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

func (c *watchedConn) Close() error {
	c.note(closedByBackend)
	return c.Conn.Close()
}

// frameWalker follows the frames of one direction of a WebSocket (RFC
// 6455 section 5.2) just enough to see a close frame begin: it reads each
// frame header and skips the payload, holding at most one header.
type frameWalker struct {
	skip int64 // payload bytes of the current frame still to pass
	hdr  [14]byte
	n    int
}

// feed reports whether a close frame starts in p.
func (f *frameWalker) feed(p []byte) (closeFrame bool) {
	for len(p) > 0 {
		if f.skip > 0 {
			n := min(int64(len(p)), f.skip)
			f.skip -= n
			p = p[n:]
			continue
		}
		f.hdr[f.n] = p[0]
		f.n++
		p = p[1:]
		if f.n < 2 {
			continue
		}
		size, headerLen := int64(f.hdr[1]&0x7f), 2
		switch size {
		case 126:
			headerLen += 2
		case 127:
			headerLen += 8
		}
		if f.hdr[1]&0x80 != 0 {
			headerLen += 4 // masking key
		}
		if f.n < headerLen {
			continue
		}
		switch size {
		case 126:
			size = int64(binary.BigEndian.Uint16(f.hdr[2:4]))
		case 127:
			size = int64(binary.BigEndian.Uint64(f.hdr[2:10]) & (1<<63 - 1))
		}
		if f.hdr[0]&0x0f == 0x8 {
			closeFrame = true
		}
		f.skip, f.n = size, 0
	}
	return closeFrame
}
