package caddymodule

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// waitsSite is one journey whose outsourced backend answers with vendor,
// with a short body bound, and an in-house backend to fail over to.
func waitsSite(t *testing.T, vendor, care http.HandlerFunc) *Handler {
	return waitsSiteWith(t, vendor, care, "")
}

// waitsSiteWith is waitsSite with extra lines in the vendor's backend block.
func waitsSiteWith(t *testing.T, vendor, care http.HandlerFunc, extra string) *Handler {
	t.Helper()
	v := newBackend(t, vendor)
	c := newBackend(t, care)
	return provisionHandler(t, `
		brand "Acme Outdoor"
		contact {
			phone "+1 800 555 0100"
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to `+v.addr()+`
				response_body_timeout 200ms
				`+extra+`
			}
			backend care-team {
				owner in-house
				to `+c.addr()+`
			}
		}`, monday10)
}

// serveAborting is serve for a response the server may abort: it returns
// the panic's value instead of failing the test.
func serveAborting(t *testing.T, h *Handler, r *http.Request) (w *httptest.ResponseRecorder, aborted any) {
	t.Helper()
	defer func() { aborted = recover() }()
	return serve(t, h, r, nil), nil
}

func lastError(h *Handler) recentError {
	errs := h.errors.list()
	if len(errs) == 0 {
		return recentError{}
	}
	return errs[0]
}

// vendorPatience is how long a stalling or trickling vendor of these
// tests keeps at it when the gateway does not cut it: long past every
// bound here, short enough that a gateway that never cuts fails the test
// instead of hanging it.
const vendorPatience = 5 * time.Second

// trickle is a vendor sending its answer a byte every 20ms until the
// gateway gives up on it.
func trickle(w http.ResponseWriter, r *http.Request) {
	for end := time.Now().Add(vendorPatience); r.Context().Err() == nil && time.Now().Before(end); {
		io.WriteString(w, "<")
		w.(http.Flusher).Flush()
		time.Sleep(20 * time.Millisecond) // pacing: a vendor trickling its answer
	}
}

// A vendor that sends its head and then stalls or trickles: the body
// bound cuts the attempt, and as nothing reached the customer yet, the
// request fails over (a GET) or gets the brand 504 page (a POST), which
// the vendor's half-sent page never reaches.
func TestWaitsStalledAndTricklingBodies(t *testing.T) {
	stalls := map[string]http.HandlerFunc{
		"stall": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", "100000")
			io.WriteString(w, "<html><body>NightDesk ")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(vendorPatience):
			}
		},
		"trickle": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", "100000")
			trickle(w, r)
		},
	}
	// A transport frontdoor does not wrap gets no body to close: its
	// attempts run in a context the bound cancels.
	transports := map[string]string{"": "", " (plain transport)": "transport " + plainTransportName}
	for name, vendor := range stalls {
		for suffix, extra := range transports {
			t.Run(name+suffix, func(t *testing.T) {
				released := make(chan struct{}, 4)
				h := waitsSiteWith(t, func(w http.ResponseWriter, r *http.Request) {
					defer func() { released <- struct{}{} }()
					vendor(w, r)
				}, func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, "care answers")
				}, extra)
				if b := h.routes[0].backends[0]; b.wrapped == (extra != "") {
					t.Fatalf("backend %s: wrapped %v with %q", b.name, b.wrapped, extra)
				}

				start := time.Now()
				w := serve(t, h, httptest.NewRequest(http.MethodGet, "/support/chat", nil), nil)
				if w.Code != 200 || w.Body.String() != "care answers" {
					t.Errorf("GET: %d %.100q, want the failover's answer", w.Code, w.Body.String())
				}
				if el := time.Since(start); el > 2*time.Second {
					t.Errorf("GET answered after %s with a 200ms bound", el)
				}
				if e := lastError(h); e.Kind != errTimeout || e.Status != http.StatusGatewayTimeout || e.Backend != "nightdesk" {
					t.Errorf("recorded error %+v, want a nightdesk timeout", e)
				}

				r := httptest.NewRequest(http.MethodPost, "/support/ticket", strings.NewReader("ticket"))
				r.Header.Set("Accept", "text/html")
				w = serve(t, h, r, nil)
				if w.Code != http.StatusGatewayTimeout || !strings.Contains(w.Body.String(), "Acme Outdoor") ||
					strings.Contains(w.Body.String(), "NightDesk") || !strings.Contains(w.Body.String(), w.Header().Get("X-Request-Id")) {
					t.Errorf("POST: %d %.300q, want the brand 504 page with the reference", w.Code, w.Body.String())
				}
				for range 2 {
					select {
					case <-released:
					case <-time.After(2 * time.Second):
						t.Fatal("the vendor's handler still runs: the attempt's connection was not closed")
					}
				}
			})
		}
	}
}

// plainTransportName names a reverse_proxy transport frontdoor cannot
// wrap (as fastcgi or a plugin's): a net/http transport of its own.
const plainTransportName = "frontdoor_plain_test"

func init() { caddy.RegisterModule(plainTransport{}) }

type plainTransport struct{ transport *http.Transport }

func (plainTransport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.transport." + plainTransportName,
		New: func() caddy.Module { return &plainTransport{transport: new(http.Transport)} },
	}
}

// RoundTrip sets the scheme, as Caddy's own transports do.
func (t *plainTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r.URL.Scheme = "http"
	return t.transport.RoundTrip(r)
}

func (*plainTransport) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// A page the vendor streams (no Content-Length) reaches the customer as it
// comes; trickled, it is cut at the bound and counted as a timeout.
func TestWaitsTrickledStreamIsCut(t *testing.T) {
	h := waitsSite(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		trickle(w, r)
	}, nil)
	start := time.Now()
	w, aborted := serveAborting(t, h, httptest.NewRequest(http.MethodGet, "/support/chat", nil))
	if aborted != http.ErrAbortHandler || w != nil {
		t.Errorf("trickled stream: aborted with %v, want http.ErrAbortHandler", aborted)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("cut after %s with a 200ms bound", el)
	}
	if e := lastError(h); e.Kind != errTimeout {
		t.Errorf("recorded error %+v, want a timeout", e)
	}
}

// An answer cut off by the vendor is an aborted failure: before any of it
// reached the customer, a brand 502 page; after, the connection is cut.
func TestWaitsCutOffAnswers(t *testing.T) {
	cut := func(sent int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", 2*sent)
			rw.WriteString(strings.Repeat("x", sent))
			rw.Flush()
		}
	}
	h := waitsSite(t, cut(100), nil)
	stats := h.routes[0].backends[0].stats
	before := value(t, stats.aborted)
	r := httptest.NewRequest(http.MethodPost, "/support/ticket", strings.NewReader("ticket"))
	r.Header.Set("Accept", "application/json")
	w := serve(t, h, r, nil)
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), w.Header().Get("X-Request-Id")) {
		t.Errorf("cut off before progress: %d %.200q, want the brand 502", w.Code, w.Body.String())
	}
	if got := value(t, stats.aborted) - before; got != 1 {
		t.Errorf("aborted errors +%v, want +1", got)
	}

	anotherConfig(h)
	h = waitsSite(t, cut(8<<10), nil)
	stats = h.routes[0].backends[0].stats
	before = value(t, stats.aborted)
	before502 := value(t, stats.counterFor(http.StatusBadGateway))
	w, aborted := serveAborting(t, h, httptest.NewRequest(http.MethodPost, "/support/ticket", strings.NewReader("ticket")))
	if aborted != http.ErrAbortHandler {
		t.Errorf("cut off after progress: aborted with %v, want http.ErrAbortHandler", aborted)
	}
	if w != nil {
		t.Errorf("cut off after progress: served %d", w.Code)
	}
	if got := value(t, stats.aborted) - before; got != 1 {
		t.Errorf("aborted errors +%v, want +1", got)
	}
	if got := value(t, stats.counterFor(http.StatusBadGateway)) - before502; got != 1 {
		t.Errorf("requests_total{code=502} +%v, want +1: a cut-off answer counts against availability", got)
	}
}

// Event streams idle longer than the bound are not cut, and a small
// answer is held only until it ends.
func TestWaitsSpareEventStreams(t *testing.T) {
	h := waitsSite(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/support/small" {
			io.WriteString(w, "small")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 2 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(500 * time.Millisecond) // time under test: the stream idles past the 200ms bound
		}
	}, nil)
	w := serve(t, h, httptest.NewRequest(http.MethodGet, "/support/events", nil), nil)
	if w.Code != 200 || w.Body.String() != "data: 0\n\ndata: 1\n\n" {
		t.Errorf("event stream idle for 500ms with a 200ms bound: %d %q", w.Code, w.Body.String())
	}
	w = serve(t, h, httptest.NewRequest(http.MethodGet, "/support/small", nil), nil)
	if w.Code != 200 || w.Body.String() != "small" {
		t.Errorf("small answer: %d %q", w.Code, w.Body.String())
	}
}

// A page is an event stream only as the browser reads its Content-Type:
// all the lines, the last valid one winning (mimetype.Extract, as the
// banner reads them). A page sent as text/event-stream then text/html
// gets the banner, and a vendor that then hangs is cut by the body bound
// like any page.
func TestPageNamedEventStreamFirstKeepsBodyBound(t *testing.T) {
	h := waitsSite(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"text/event-stream", "text/html; charset=utf-8"}
		io.WriteString(w, "<!doctype html><html><body><h1>Loading your ticket</h1>"+strings.Repeat("<p>line</p>\n", 200))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second): // time under test: the vendor hangs past the 200ms bound
		}
	}, nil)
	start := time.Now()
	w, aborted := serveAborting(t, h, httptest.NewRequest(http.MethodGet, "/support/ticket", nil))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a hanging page (HTML to the browser) held the customer %s with a 200ms bound (aborted: %v)", took.Round(time.Millisecond), aborted)
	}
	if w != nil && !strings.Contains(w.Body.String(), `id="frontdoor-banner"`) {
		t.Errorf("served %d without the banner: %q", w.Code, w.Body.String())
	}
}

// isEventStream reads the type as the browser does, in any letter case and
// from all the lines; a value that does not spell event-stream is answered
// without being parsed.
func TestIsEventStream(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  bool
	}{
		{[]string{"text/event-stream"}, true},
		{[]string{"Text/Event-Stream; charset=utf-8"}, true},
		{[]string{"text/html", "text/event-stream"}, true},
		{[]string{"text/event-stream", "text/html"}, false},
		{[]string{"text/html; charset=utf-8"}, false},
		{[]string{`text/plain; note="event-stream"`}, false},
		{nil, false},
	} {
		if got := isEventStream(c.lines); got != c.want {
			t.Errorf("isEventStream(%q) = %v, want %v", c.lines, got, c.want)
		}
	}
}

// A healthy vendor page in gzip that the customer reads more slowly than
// the vendor sends it: while the proxy passes what it read on to the
// customer it reads nothing from the vendor, so that time is not the
// vendor's to account for. The page, decoded and bannered, arrives whole;
// before, the body bound cut it mid-page as a stalled vendor. A vendor
// that stalls halfway is still cut, however slow the customer.
func TestSlowCustomerIsNotAStalledVendor(t *testing.T) {
	var page strings.Builder
	page.WriteString("<!doctype html><html><head><title>Desk</title></head><body>")
	rng := rand.New(rand.NewSource(1)) // numbers gzip cannot shrink much: the page comes in many reads
	for page.Len() < 256<<10 {
		fmt.Fprintf(&page, "<p>NightDesk answer %d.</p>\n", rng.Intn(1e9))
	}
	page.WriteString("</body></html>")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	io.WriteString(zw, page.String()) //nolint:errcheck // a bytes.Buffer
	zw.Close()
	h := waitsSite(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		sent := gz.Bytes()
		if r.URL.Path == "/support/stalls" {
			sent = sent[:len(sent)/2]
		}
		for rest := sent; len(rest) > 0 && r.Context().Err() == nil; {
			n := min(len(rest), 4<<10)
			w.Write(rest[:n]) //nolint:errcheck // the gateway cutting it is what the test looks at
			w.(http.Flusher).Flush()
			rest = rest[n:]
		}
		if r.URL.Path == "/support/stalls" {
			select {
			case <-r.Context().Done():
			case <-time.After(vendorPatience):
			}
		}
	}, nil)

	body, err := slowCustomerGet(t, h, "/support/article")
	if err != nil || strings.Count(body, `id="frontdoor-banner"`) != 1 || !strings.HasSuffix(body, "</body></html>") {
		t.Fatalf("a slow customer got %d of the page's %d bytes (%v), ending %q: want it whole with the banner",
			len(body), page.Len(), err, body[max(0, len(body)-60):])
	}

	// A slow customer does not shield a vendor that stalls mid-page.
	body, err = slowCustomerGet(t, h, "/support/stalls")
	if e := lastError(h); err == nil || e.Kind != errTimeout {
		t.Errorf("a vendor stalling mid-page: %d bytes (%v), recorded error %+v; want it cut as a timeout", len(body), err, e)
	}
}

// slowCustomerGet asks the gateway serving h for path as a browser on a
// slow link would: small socket buffers on both ends, and the answer read
// about 200 KB/s. It returns the body as far as it came.
func slowCustomerGet(t *testing.T, h *Handler, path string) (string, error) {
	t.Helper()
	gw := httptest.NewUnstartedServer(gatewayHandler(t, h))
	gw.Listener = smallSendBuffers{gw.Listener}
	gw.Start()
	t.Cleanup(gw.Close)
	conn, err := net.Dial("tcp", gw.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4 << 10) //nolint:errcheck // a hint to the kernel
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: acme.example\r\nAccept: text/html\r\nAccept-Encoding: gzip\r\nSec-Fetch-Mode: navigate\r\nConnection: close\r\n\r\n", path)
	res, err := http.ReadResponse(bufio.NewReaderSize(pacedReader{conn}, 2<<10), nil)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return string(body), err
}

// smallSendBuffers gives the server's side of each connection a small
// send buffer, as a slow link's bandwidth would: the loopback's grows to
// megabytes and would take a whole page off the server at once.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10) //nolint:errcheck // a hint to the kernel
	}
	return c, err
}

// pacedReader reads at most 2 KB every 5ms.
type pacedReader struct{ r io.Reader }

func (p pacedReader) Read(b []byte) (int, error) {
	time.Sleep(5 * time.Millisecond) // pacing: a customer reading slower than the vendor sends
	return p.r.Read(b[:min(len(b), 2<<10)])
}
