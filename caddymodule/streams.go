package caddymodule

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Chats and live updates: WebSocket connections and event streams. A
// vendor desk that ends chats shows against the in-house team in
// frontdoor_streams_total{closed_by}: client (the customer left), backend
// (the desk hung up, or its connection died) or gateway (frontdoor closed
// a chat: a reload past stream_close_delay, or a shutdown).

// Who ended a stream; metric label values.
const (
	closedByClient  = "client"
	closedByBackend = "backend"
	closedByGateway = "gateway"
)

// errUpgradeRefused is what the proxy gets for the customer's connection
// when the policy did not pass the backend's switch of protocols: the
// proxy then gives up the tunnel, and the customer gets the brand page the
// refusal chose, never a connection the vendor writes to unread.
var errUpgradeRefused = errors.New("the backend's switch of protocols was refused")

// streamKind says what kind of long-lived response an attempt carries.
type streamKind uint8

const (
	notStream streamKind = iota
	webSocketStream
	eventStream
)

// Hijack hands the customer's connection to the proxy for an upgraded
// (101) response the policy passed, watched so that frontdoor learns who
// ends the stream. After any other head (one the policy refused, or none)
// the connection stays with the customer's response.
func (aw *attemptWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if aw.stream != webSocketStream || aw.swallowed {
		return nil, nil, errUpgradeRefused
	}
	conn, brw, err := http.NewResponseController(aw.ResponseWriter).Hijack()
	if err != nil {
		return conn, brw, err
	}
	aw.streamConn = aw.policy.watch(conn, strings.EqualFold(aw.scope.req.Header.Get("Upgrade"), "websocket"))
	return aw.streamConn, brw, nil
}

// watch makes the watch of a stream's connection: conn, or nil for a
// WebSocket over HTTP/2 or HTTP/3, whose frames pass through the
// request's body and the attempt's writer instead (see openStream).
func (p *responsePolicy) watch(conn net.Conn, frames bool) *watchedConn {
	return &watchedConn{Conn: conn, retired: func() bool { return p.retiredFor(p.streamCloseDelay) }, frames: frames}
}

// openStream notes which stream the final answer opens (see streamOf),
// or reports that the answer is refused. A WebSocket over HTTP/2 or
// HTTP/3 has no connection to hijack: its frames are watched where they
// pass, the customer's in the request's body (the proxy tunnels it), the
// desk's in a writer under the attempt's, so that who sends the first
// close frame, or ends their side, ended the chat, as on a hijacked
// connection. A head the policy then refuses opens no tunnel: the watch
// sees nothing.
func (aw *attemptWriter) openStream(status int, hdr http.Header) (refused bool) {
	aw.stream, refused = streamOf(aw.scope.req, status, hdr)
	if aw.stream != webSocketStream || status == http.StatusSwitchingProtocols {
		return refused
	}
	c := aw.policy.watch(nil, isWebSocketTunnel(aw.scope.req))
	aw.streamConn = c
	if body, ok := aw.scope.req.Body.(*requestBody); ok {
		body.stream.Store(c)
	}
	aw.ResponseWriter = tunnelWriter{ResponseWriter: aw.ResponseWriter, watch: c}
	return false
}

// tunnelWriter watches the desk's frames of a WebSocket over HTTP/2 or
// HTTP/3 on their way to the customer.
type tunnelWriter struct {
	http.ResponseWriter
	watch *watchedConn
}

func (w tunnelWriter) Write(p []byte) (int, error) {
	w.watch.sending(p)
	return w.ResponseWriter.Write(p)
}

// FlushError passes the tunnel's flushes on.
func (w tunnelWriter) FlushError() error { return http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the writer underneath.
func (w tunnelWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// streamClosedBy says who ended the attempt's stream, once the proxy is
// done with it. aborted is whether the proxy gave up on the response.
func (aw *attemptWriter) streamClosedBy(aborted bool) string {
	if aw.streamConn != nil {
		if by := aw.streamConn.closedBy.Load(); by != nil {
			return *by
		}
	}
	if aw.scope.req.Context().Err() != nil {
		return closedByClient
	}
	if aw.stream == webSocketStream && aw.policy.retiredFor(aw.policy.streamCloseDelay) {
		// Caddy closes a retired config's upgraded connections (and
		// tunnels) after stream_close_delay. An event stream is a
		// response under way, which a reload leaves to finish: whenever
		// it ends, its backend or its customer ended it.
		return closedByGateway
	}
	return closedByBackend // an event stream that ended, or a vendor that died
}

// endStream counts the attempt's stream once the proxy is done with it and
// says who closed it.
func (aw *attemptWriter) endStream(m *metrics, b *backendRoute, aborted bool, lasted time.Duration) (closedBy string) {
	closedBy = aw.streamClosedBy(aborted)
	m.streamEnded(b, closedBy, lasted)
	return closedBy
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

	fromClient frameWalker // the proxy's one reader of the customer's side reads it
	// toClient is fed by every write to the customer: the proxy's copy of
	// the backend's frames, and Caddy's close frame once a reload's
	// stream_close_delay has passed, from a timer of its own.
	sendMu   sync.Mutex
	toClient frameWalker
}

func (c *watchedConn) note(by string) {
	if by == closedByBackend && c.retired() {
		by = closedByGateway
	}
	c.closedBy.CompareAndSwap(nil, &by)
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.received(p[:n], err)
	return n, err
}

// received watches what was read from the customer: a close frame in p,
// or a read that failed or ended, is the customer ending the stream.
func (c *watchedConn) received(p []byte, err error) {
	if c.frames && c.fromClient.feed(p) {
		c.note(closedByClient)
	}
	if err != nil {
		c.note(closedByClient)
	}
}

func (c *watchedConn) Write(p []byte) (int, error) {
	c.sending(p)
	return c.Conn.Write(p)
}

// sending watches what goes to the customer: a close frame in p is the
// backend ending the stream.
func (c *watchedConn) sending(p []byte) {
	if !c.frames {
		return
	}
	c.sendMu.Lock()
	closeFrame := c.toClient.feed(p)
	c.sendMu.Unlock()
	if closeFrame {
		c.note(closedByBackend)
	}
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

func (m *metrics) streamEnded(b *backendRoute, closedBy string, lasted time.Duration) {
	if !b.stats.counted {
		return
	}
	l := b.stats.labels
	m.streams.WithLabelValues(l[0], l[1], l[2], l[3], closedBy).Inc()
	m.streamDuration.WithLabelValues(l[:]...).Observe(lasted.Seconds())
}

// streamOf says which stream a final answer opens: a WebSocket (a 101 to a
// customer who asked to switch protocols, or the 2xx of an extended
// CONNECT), an event stream, or none. A 101 the customer did not ask for
// is refused: Caddy's proxy would not tunnel it, and the customer would
// get an empty 200.
func streamOf(r *http.Request, status int, hdr http.Header) (stream streamKind, refused bool) {
	switch {
	case status == http.StatusSwitchingProtocols:
		if !upgradeRequested(r) {
			return notStream, true
		}
		return webSocketStream, false
	case isExtendedConnect(r) && status < 300:
		// A WebSocket over HTTP/2: the 200 of the CONNECT starts it.
		return webSocketStream, false
	case isEventStream(hdr["Content-Type"]):
		return eventStream, false
	}
	return notStream, false
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

// isWebSocketTunnel reports whether an extended CONNECT opens a WebSocket
// (over HTTP/3 quic-go puts the protocol in Proto), as Caddy's proxy
// tells one.
func isWebSocketTunnel(r *http.Request) bool {
	return r.ProtoMajor == 2 && strings.EqualFold(r.Header.Get(":protocol"), "websocket") ||
		r.ProtoMajor == 3 && strings.EqualFold(r.Proto, "websocket")
}

// retiredFor reports whether this policy's config was unloaded at least
// delay ago: Caddy then closes the streams it still has.
func (p *responsePolicy) retiredFor(delay time.Duration) bool {
	if p.retiredAt == nil {
		return false
	}
	at := p.retiredAt.Load()
	return at != 0 && time.Since(time.Unix(0, at)) >= delay-time.Second
}
