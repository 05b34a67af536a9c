package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/websocket"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// maskedFrame is a client's WebSocket frame (RFC 6455 5.2): fin, opcode,
// masked payload.
func maskedFrame(opcode byte, payload []byte) []byte {
	mask := []byte{7, 1, 9, 3}
	frame := append([]byte{0x80 | opcode, 0x80 | byte(len(payload))}, mask...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	return frame
}

// openHTTP2Chat opens a WebSocket chat to path on the gateway at site (its
// https:// address) over HTTP/2's extended CONNECT (RFC 8441), as a
// browser does, with the customer's session cookie when cookie is not
// empty, and fails the test unless it opens. The customer's frames go
// into toDesk, the desk's come in resp.Body; both are closed when the test
// ends, if the test has not.
func openHTTP2Chat(t *testing.T, site, path, cookie string) (resp *http.Response, toDesk *io.PipeWriter) {
	t.Helper()
	tr := &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	body, toDesk := io.Pipe()
	t.Cleanup(func() { toDesk.Close() })
	req, _ := http.NewRequestWithContext(ctx, http.MethodConnect, site+path, body)
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Origin", site)
	if cookie != "" {
		req.Header.Set("Cookie", "acme_session="+cookie)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("opening the chat over HTTP/2: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		t.Fatalf("chat answered %s over HTTP/%d", resp.Status, resp.ProtoMajor)
	}
	return resp, toDesk
}

// TestIdleHTTP2ChatOutlivesBodyBound: a chat over HTTP/2 (extended
// CONNECT) that stays quiet for longer than the vendor's
// response_body_timeout stays open, as the same chat over HTTP/1.1 does:
// chats are idle by nature and exempt from the body bound.
func TestIdleHTTP2ChatOutlivesBodyBound(t *testing.T) {
	t.Setenv("GODEBUG", "http2xconnect=1")                               // inherited by the gateway
	echo := websocket.Handler(func(c *websocket.Conn) { io.Copy(c, c) }) //nolint:errcheck
	desk := startBackend(t, "desk", func(w http.ResponseWriter, r *http.Request) { echo.ServeHTTP(w, r) })
	g, site := startTLSGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				response_body_timeout 300ms
			}
		}`, desk.URL)))
	resp, clientSide := openHTTP2Chat(t, site, "/support/chat", "")
	say := func(text string) error {
		msg := []byte(text)
		if _, err := clientSide.Write(maskedFrame(0x1, msg)); err != nil {
			return err
		}
		echoed := make([]byte, 2+len(msg))
		if _, err := io.ReadFull(resp.Body, echoed); err != nil || string(echoed[2:]) != text {
			return fmt.Errorf("echo of %q: %q %v", text, echoed, err)
		}
		return nil
	}
	if err := say("hello desk"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the customer reads the answer, five times the body bound
	if err := say("still there?"); err != nil {
		t.Errorf("an idle chat over HTTP/2 was cut: %v", err)
	}
	if v, _ := metricValue(g.metrics(t), `frontdoor_upstream_errors_total{backend="nightdesk",journey="support",kind="timeout",owner="outsourced",vendor="NightDesk BPO"}`); v != 0 {
		t.Errorf("the idle chat counted as a vendor timeout: %v", v)
	}
}

// TestCustomerEndsHTTP2ChatIsNotAHangUp: a known customer ends a chat
// over HTTP/2 (extended CONNECT, RFC 8441) the way a browser does, with a
// close frame the desk answers. The customer left: the chat is counted
// closed_by="client" and nobody is orphaned, as for the same chat over
// HTTP/1.1, whose close frames frontdoor reads on the hijacked connection.
func TestCustomerEndsHTTP2ChatIsNotAHangUp(t *testing.T) {
	t.Setenv("GODEBUG", "http2xconnect=1") // inherited by the gateway
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001")
	echo := websocket.Handler(func(c *websocket.Conn) { io.Copy(c, c) }) //nolint:errcheck // answers a close frame with its own, and hangs up
	hangUp := websocket.Handler(func(c *websocket.Conn) { c.Close() })
	desk := startBackend(t, "desk", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/support/hang-up" { // the marker's chat: see below
			hangUp.ServeHTTP(w, r)
			return
		}
		echo.ServeHTTP(w, r)
	})
	g, site := startTLSGateway(t, deskSite(rs.URL(), desk.URL, ""))
	resp, clientSide := openHTTP2Chat(t, site, "/support/chat", sessionID)
	msg := []byte("hello desk")
	if _, err := clientSide.Write(maskedFrame(0x1, msg)); err != nil {
		t.Fatal(err)
	}
	echoed := make([]byte, 2+len(msg))
	if _, err := io.ReadFull(resp.Body, echoed); err != nil || string(echoed[2:]) != string(msg) {
		t.Fatalf("echo: %q %v", echoed, err)
	}
	// The customer says goodbye: a close frame (1000, normal closure),
	// then waits for the desk's close frame and the end of the stream.
	if _, err := clientSide.Write(maskedFrame(0x8, []byte{0x03, 0xe8})); err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body) //nolint:errcheck // the desk's close frame, and the end of the stream
	clientSide.Close()
	resp.Body.Close()

	m := waitDeskStreams(t, g, 1)
	if v, _ := metricValue(m, deskStreams("client")); v != 1 {
		b, _ := metricValue(m, deskStreams("backend"))
		gw, _ := metricValue(m, deskStreams("gateway"))
		t.Errorf("the chat the customer ended is counted closed_by client %v, backend %v, gateway %v", v, b, gw)
	}
	// An orphan is written off the request path: once the handlers have
	// returned, a marker customer whose chat the desk hangs up is
	// orphaned after anything the chat under test queued.
	g.waitHandlersReturned(t)
	seedSession(t, rs, "sess-marker", "customer_id", "C-1002")
	markerResp, markerSide := openHTTP2Chat(t, site, "/support/hang-up", "sess-marker")
	io.ReadAll(markerResp.Body) //nolint:errcheck // the desk hangs up at once
	markerSide.Close()
	markerResp.Body.Close()
	hungUp := `frontdoor_orphans_total{backend="nightdesk",cause="hung_up",journey="support",owner="outsourced",vendor="NightDesk BPO"}`
	g.waitMetricAtLeast(t, hungUp, 1) // the marker's
	if v, _ := metricValue(g.metrics(t), hungUp); v != 1 {
		t.Errorf("the customer who ended their own chat is orphaned: %s = %v, want the marker's 1", hungUp, v)
	}
	listed, err := rs.Client(t).ZRange(context.Background(), "frontdoor:orphans", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || !strings.Contains(listed[0], "C-1002") {
		t.Errorf("orphans listed %q, want the marker's alone: the customer who ended their own chat is listed", listed)
	}
}
