package e2e

// Bounded waits (issue 26): vendors that hang, trickle, never read a
// request body or cut their answers off, streams that must outlive every
// bound, and Redis stalls on a fail-closed journey.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// defaultBound is the README's default for each of the three waits: first
// response byte, request body progress and response body progress.
const defaultBound = 10 * time.Second

// rawVendor accepts connections and gives each to serve; it closes them
// when the test ends.
func rawVendor(t *testing.T, rcvbuf int, serve func(net.Conn)) string {
	t.Helper()
	lc := net.ListenConfig{}
	if rcvbuf > 0 {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// trickle answers the head of a long HTML page, then a byte a second.
func trickle(c net.Conn) { trickleFramed(c, "Content-Length: 1000000") }

// trickleChunked is trickle for a page the vendor streams.
func trickleChunked(c net.Conn) { trickleFramed(c, "Transfer-Encoding: chunked") }

// readRequestHead reads a request's head off a raw vendor's connection;
// it returns the reader holding what follows, or nil if the connection
// ended first.
func readRequestHead(c net.Conn) *bufio.Reader {
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil
		}
		if line == "\r\n" {
			return br
		}
	}
}

func trickleFramed(c net.Conn, framing string) {
	br := readRequestHead(c)
	if br == nil {
		return
	}
	go io.Copy(io.Discard, br) //nolint:errcheck
	if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"+framing+"\r\n\r\n"); err != nil {
		return
	}
	chunk := "<"
	if strings.HasPrefix(framing, "Transfer-Encoding") {
		chunk = "1\r\n<\r\n"
	}
	for {
		if _, err := io.WriteString(c, chunk); err != nil {
			return
		}
		time.Sleep(time.Second) // pacing: a vendor trickling its answer
	}
}

// gatewayConns counts the established TCP connections from anywhere to
// addr, seen from the connecting side: the vendor connections the gateway
// holds (nothing else on this machine connects to a test vendor).
func gatewayConns(t *testing.T, addr string) int {
	t.Helper()
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "01" { // ESTABLISHED
				continue
			}
			_, remPort, _ := strings.Cut(fields[2], ":")
			if p, err := strconv.ParseUint(remPort, 16, 32); err == nil && int(p) == port {
				n++
			}
		}
	}
	return n
}

// zeros is an endless body of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestWaitsBoundHangingTricklingAndDeafVendors: 200 concurrent customers
// each of a vendor that never answers, one that sends the head of a page
// and then trickles a byte a second, and one that never reads a 50 MB
// upload get the brand 504 (or 502) page with a reference within the
// default bounds; 200 more, of a vendor that streams its page (chunked)
// a byte a second, have it cut within the bound; and the gateway's
// goroutines and vendor connections are back at baseline within seconds.
func TestWaitsBoundHangingTricklingAndDeafVendors(t *testing.T) {
	hang := stallServer(t)
	slow := rawVendor(t, 0, trickle)
	streamer := rawVendor(t, 0, trickleChunked)
	deaf := rawVendor(t, 4096, func(net.Conn) {}) // reads nothing, ever
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey hang /hang* {
			backend stuck {
				owner outsourced
				vendor "Stuck Desk"
				to %s
			}
		}
		journey trickle /trickle* {
			backend drip {
				owner outsourced
				vendor "Drip Desk"
				to %s
			}
		}
		journey upload /upload* {
			backend deaf {
				owner outsourced
				vendor "Deaf Desk"
				to %s
			}
		}
		journey stream /stream* {
			backend streamer {
				owner outsourced
				vendor "Stream Desk"
				to %s
			}
		}`, hang, slow, deaf, streamer)))
	do(t, "GET", gw.URL+"/warm", nil, nil)
	baseline := gw.goroutines(t)

	const customers = 200
	client := &http.Client{Timeout: defaultBound + 20*time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 3 * customers}}
	type outcome struct {
		path    string
		status  int
		elapsed time.Duration
		err     error
	}
	results := make(chan outcome, 4*customers)
	var wg sync.WaitGroup
	for _, path := range []string{"/hang/page", "/trickle/page", "/upload/form", "/stream/page"} {
		for range customers {
			wg.Go(func() {
				var body io.Reader
				method := http.MethodGet
				if path == "/upload/form" {
					method, body = http.MethodPost, io.LimitReader(zeros{}, 50<<20)
				}
				req, _ := http.NewRequest(method, gw.URL+path, body)
				if body != nil {
					req.ContentLength = 50 << 20
				}
				req.Header.Set("Accept", "text/html")
				start := time.Now()
				resp, err := client.Do(req)
				o := outcome{path: path, err: err}
				if err == nil && path == "/stream/page" {
					// A page the vendor streams reached the customer as
					// it came; trickled, it is cut at the bound.
					_, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if o.status = resp.StatusCode; err == nil {
						o.err = fmt.Errorf("status %d and a complete body from a trickling vendor", resp.StatusCode)
					}
				} else if err == nil {
					page, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					o.status = resp.StatusCode
					if resp.StatusCode != http.StatusGatewayTimeout && resp.StatusCode != http.StatusBadGateway {
						o.err = fmt.Errorf("status %d, want the brand 504 or 502", resp.StatusCode)
					} else {
						o.err = brandErrorPage(resp, page, "Stuck Desk", "Drip Desk", "Deaf Desk")
					}
				}
				o.elapsed = time.Since(start)
				results <- o
			})
		}
	}
	wg.Wait()
	close(results)
	client.CloseIdleConnections()

	slowest := map[string]time.Duration{}
	fastest := map[string]time.Duration{}
	statuses := map[string]map[int]int{}
	failures := map[string]int{}
	for o := range results {
		slowest[o.path] = max(slowest[o.path], o.elapsed)
		if f, ok := fastest[o.path]; !ok || o.elapsed < f {
			fastest[o.path] = o.elapsed
		}
		if statuses[o.path] == nil {
			statuses[o.path] = map[int]int{}
		}
		statuses[o.path][o.status]++
		if o.err != nil {
			if failures[o.path] < 3 {
				t.Errorf("%s: %v after %s", o.path, o.err, o.elapsed.Round(time.Millisecond))
			}
			failures[o.path]++
		}
	}
	t.Logf("answers within [fastest, slowest]: %v .. %v; statuses %v; failures %v", fastest, slowest, statuses, failures)
	// Within the bound, give or take a loaded two-core machine.
	for path, el := range slowest {
		if el > defaultBound+5*time.Second {
			t.Errorf("%s: slowest answer after %s, bound %s", path, el, defaultBound)
		}
	}

	settled := time.Now()
	waitFor(t, 10*time.Second, func() error {
		for name, addr := range map[string]string{"hanging": hang, "trickling": slow, "deaf": deaf, "streaming": streamer} {
			if n := gatewayConns(t, addr); n != 0 {
				return fmt.Errorf("the gateway still holds %d connections to the %s vendor", n, name)
			}
		}
		if n := gw.goroutines(t); n > baseline+10 {
			return fmt.Errorf("%d goroutines, %d before", n, baseline)
		}
		return nil
	})
	t.Logf("goroutines %d (baseline %d) and no vendor connection %s after the last answer",
		gw.goroutines(t), baseline, time.Since(settled).Round(time.Millisecond))
	m := gw.metrics(t)
	for _, s := range []string{
		`frontdoor_upstream_errors_total{backend="stuck",journey="hang",kind="timeout",owner="outsourced",vendor="Stuck Desk"}`,
		`frontdoor_upstream_errors_total{backend="drip",journey="trickle",kind="timeout",owner="outsourced",vendor="Drip Desk"}`,
		`frontdoor_upstream_errors_total{backend="streamer",journey="stream",kind="timeout",owner="outsourced",vendor="Stream Desk"}`,
	} {
		if v, _ := metricValue(m, s); v != customers {
			t.Errorf("%s = %v, want %d", s, v, customers)
		}
	}
}

// TestWaitsSpareStreams: a WebSocket chat and an event stream idle for
// longer than every bound stay open, with the bounds set short per
// backend (Caddy's transport options and frontdoor's own).
func TestWaitsSpareStreams(t *testing.T) {
	echo := websocket.Handler(func(c *websocket.Conn) { io.Copy(c, c) }) //nolint:errcheck
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/support/ws":
			echo.ServeHTTP(w, r)
		case "/support/events":
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 2 {
				fmt.Fprintf(w, "data: event %d\n\n", i)
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(1500 * time.Millisecond):
				}
			}
		}
	})
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				response_body_timeout 300ms
				transport http {
					response_header_timeout 300ms
					write_timeout 300ms
				}
			}
		}`, vendor.URL)))

	ws, err := websocket.Dial("ws"+strings.TrimPrefix(gw.URL, "http")+"/support/ws", "", gw.URL)
	if err != nil {
		t.Fatalf("websocket through the vendor: %v", err)
	}
	defer ws.Close()
	say := func(msg string) error {
		if _, err := ws.Write([]byte(msg)); err != nil {
			return err
		}
		buf := make([]byte, 64)
		ws.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
		n, err := ws.Read(buf)
		if err != nil || string(buf[:n]) != msg {
			return fmt.Errorf("echo of %q: %q %v", msg, buf[:n], err)
		}
		return nil
	}
	if err := say("hello"); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(gw.URL + "/support/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewReader(resp.Body)
	for i := range 2 {
		line, err := events.ReadString('\n')
		if want := fmt.Sprintf("data: event %d\n", i); err != nil || line != want {
			t.Fatalf("event %d after an idle stretch of 1.5s: %q %v", i, line, err)
		}
		events.ReadString('\n') //nolint:errcheck // the blank line
	}

	time.Sleep(1500 * time.Millisecond) // time under test: the chat idles past its bounds
	if err := say("still there?"); err != nil {
		t.Errorf("chat idle for 1.5s with 300ms bounds: %v", err)
	}
}

// cutter answers an HTML page announcing its whole length, in the coding
// the path names, and hangs up halfway through the body.
var cutter = cuttingVendor("<p>a vendor page cut off halfway</p>", 500, 2)

// TestWaitsTruncatedAnswersAreFailures: a vendor that cuts off 100 pages
// shows 100 aborted upstream errors, and a real Prometheus running the
// shipped rules sees its availability below 100%; a customer who leaves
// mid-page is not the vendor's failure.
func TestWaitsTruncatedAnswersAreFailures(t *testing.T) {
	vendor := startBackend(t, "vendor", cutter)
	long := startBackend(t, "long", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
			}
		}
		journey downloads /downloads* {
			backend files {
				owner in-house
				to %s
			}
		}`, vendor.URL, long.URL)))
	prom := startPrometheus(t, gw.AdminAddr)
	prom.waitScraped(t)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	for i := range 100 {
		path := "/support/plain"
		if i%2 == 0 {
			path = "/support/gzip"
		}
		req, _ := http.NewRequest("GET", gw.URL+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // cut short, as it should be
			resp.Body.Close()
		}
	}
	// Customers who leave a long download half way, in two rounds with a
	// scrape between, so that Prometheus sees the series increase.
	leave := func(n int) {
		for range n {
			resp, err := client.Get(gw.URL + "/downloads/big")
			if err != nil {
				t.Fatal(err)
			}
			io.CopyN(io.Discard, resp.Body, 256<<10) //nolint:errcheck
			resp.Body.Close()
		}
		client.CloseIdleConnections()
	}
	leave(3)
	waitFor(t, 30*time.Second, func() error {
		if len(prom.query(t, `frontdoor_requests_total{backend="files"}`).Data.Result) == 0 {
			return fmt.Errorf("files not scraped yet")
		}
		return nil
	})
	leave(2)

	aborted := `frontdoor_upstream_errors_total{backend="nightdesk",journey="support",kind="aborted",owner="outsourced",vendor="NightDesk BPO"}`
	waitFor(t, 10*time.Second, func() error {
		m := gw.metrics(t)
		if v, _ := metricValue(m, aborted); v != 100 {
			return fmt.Errorf("%s = %v, want 100", aborted, v)
		}
		if v, _ := metricValue(m, `frontdoor_requests_total{backend="files",code="499",journey="downloads",owner="in-house",vendor=""}`); v != 5 {
			return fmt.Errorf("customers who left: requests_total{code=499} = %v, want 5\n%s", v, grep(m, "files"))
		}
		return nil
	})
	m := gw.metrics(t)
	if v, ok := metricValue(m, `frontdoor_upstream_errors_total{backend="files",journey="downloads",kind="aborted",owner="in-house",vendor=""}`); ok && v != 0 {
		t.Errorf("customers leaving counted as the backend aborting: %v", v)
	}

	waitFor(t, 30*time.Second, func() error {
		r := prom.query(t, `journey_backend:frontdoor_requests_errors:ratio_rate5m{journey="support"}`)
		v := r.valueBy("backend")["nightdesk"]
		if v <= 0 {
			return fmt.Errorf("nightdesk error ratio %v: its cut-off pages count as served", v)
		}
		return nil
	})
	waitFor(t, 30*time.Second, func() error {
		r := prom.query(t, `journey_backend:frontdoor_requests_errors:ratio_rate5m{journey="downloads"}`)
		if v, ok := r.valueBy("backend")["files"]; !ok || v != 0 {
			return fmt.Errorf("files error ratio %v: customers who left count against the backend", v)
		}
		return nil
	})
}

// TestWaitsRedisStallOnFailClosedJourney: under a Redis stall (DEBUG
// SLEEP on the real redis-server: its event loop stops for exactly that
// long) of 200ms or 2s a fail-closed journey answers brand 503s for at
// most half a second past the stall, and none for a 40ms stall.
func TestWaitsRedisStallOnFailClosedJourney(t *testing.T) {
	rs := redistest.Start(t, "--enable-debug-command", "local")
	seedSession(t, rs, sessionID, "customer_id", "C-1001", "tier", "gold")
	inhouse := startBackend(t, "inhouse", nil)
	vendor := startBackend(t, "vendor", nil)
	gw := contextSite(t, rs.URL(), inhouse, vendor, "0s") // no cache: every request asks Redis
	admin := rs.Client(t)

	stall := func(d time.Duration) (stallStart time.Time, last503 time.Time, n503 int) {
		t.Helper()
		stop := make(chan struct{})
		var mu sync.Mutex
		var wg sync.WaitGroup
		answered := 0 // 200s since the last 503
		client := &http.Client{Timeout: 5 * time.Second}
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("GET", gw.URL+"/checkout/cart", nil)
					req.Header.Set("Cookie", "acme_session="+sessionID)
					resp, err := client.Do(req)
					if err != nil {
						t.Errorf("request: %v", err)
						return
					}
					io.Copy(io.Discard, resp.Body) //nolint:errcheck
					resp.Body.Close()
					mu.Lock()
					switch resp.StatusCode {
					case http.StatusServiceUnavailable:
						n503++
						last503 = time.Now()
						answered = 0
					case http.StatusOK:
						answered++
					}
					mu.Unlock()
				}
			})
		}
		steady := func(n int) func() error { // n requests answered since the last 503
			return func() error {
				mu.Lock()
				defer mu.Unlock()
				if answered < n {
					return fmt.Errorf("%d requests answered since the last 503, want %d", answered, n)
				}
				return nil
			}
		}
		waitFor(t, 10*time.Second, steady(50)) // steady traffic before the stall
		stallStart = time.Now()
		if err := admin.Do(context.Background(), "DEBUG", "SLEEP", strconv.FormatFloat(d.Seconds(), 'f', 3, 64)).Err(); err != nil {
			t.Fatal(err)
		}
		// DEBUG SLEEP returned when the stall ended: traffic goes on until
		// 200 requests in a row have been answered since.
		mu.Lock()
		answered = 0
		mu.Unlock()
		waitFor(t, 10*time.Second, steady(200))
		close(stop)
		wg.Wait()
		client.CloseIdleConnections()
		return stallStart, last503, n503
	}

	for _, d := range []time.Duration{200 * time.Millisecond, 2 * time.Second} {
		start, last, n := stall(d)
		past := last.Sub(start.Add(d))
		t.Logf("%s stall: %d brand 503s, the last %s past the stall", d, n, past.Round(time.Millisecond))
		if n > 0 && past > 500*time.Millisecond {
			t.Errorf("%s stall: brand 503s until %s past the stall, want at most 500ms", d, past.Round(time.Millisecond))
		}
	}

	_, _, n := stall(40 * time.Millisecond)
	if n != 0 {
		t.Errorf("40ms stall: %d brand 503s, want none", n)
	}
	if !strings.Contains(gw.logs.String(), "context lookups failing") {
		t.Errorf("no info-level word on the failing lookups in the logs")
	}
}

// endlessDownload answers any request with the head of a gigabyte
// download, then sends it until the gateway lets go of the connection.
func endlessDownload(c net.Conn) {
	if readRequestHead(c) == nil {
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1073741824\r\n\r\n"); err != nil {
		return
	}
	chunk := make([]byte, 32<<10)
	for {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// TestWaitsLetGoOfCustomersWhoDoNotRead: customers who ask for a large
// download and never read a byte of it are let go by Caddy's own bound on
// a write that makes no progress (the server's write_idle timeout,
// default 1m, here 2s): through frontdoor's writers, the gateway then
// holds no connection to the vendor and no goroutine for them, and the
// vendor is not blamed for it (no upstream error; the requests count as
// 499, a customer gone).
func TestWaitsLetGoOfCustomersWhoDoNotRead(t *testing.T) {
	vendor := rawVendor(t, 0, endlessDownload)
	gw := startGatewayGlobal(t, "\tservers {\n\t\ttimeouts {\n\t\t\twrite_idle 2s\n\t\t}\n\t}", fmt.Sprintf(`	frontdoor {
		brand "Acme Outdoor"
		journey downloads /downloads* {
			backend filedesk {
				owner outsourced
				vendor "File Desk"
				to %s
			}
		}
	}
	respond "brand home"`, vendor))
	do(t, "GET", gw.URL+"/warm", nil, nil)
	baseline := gw.goroutines(t)

	const customers = 20
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	host := strings.TrimPrefix(gw.URL, "http://")
	for range customers {
		c, err := dialer.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /downloads/export.csv HTTP/1.1\r\nHost: %s\r\n\r\n", host) // and nothing more is read
	}
	waitFor(t, 10*time.Second, func() error {
		if n := gatewayConns(t, vendor); n != customers {
			return fmt.Errorf("%d of the %d customers' downloads under way", n, customers)
		}
		return nil
	})
	asked := time.Now()
	waitFor(t, 20*time.Second, func() error {
		if n := gatewayConns(t, vendor); n != 0 {
			return fmt.Errorf("the gateway still holds %d connections to the vendor for customers who read nothing", n)
		}
		if n := gw.goroutines(t); n > baseline+10 {
			return fmt.Errorf("%d goroutines, %d before", n, baseline)
		}
		return nil
	})
	t.Logf("the vendor's connections and the gateway's goroutines back to baseline %s after the downloads began",
		time.Since(asked).Round(time.Millisecond))
	m := gw.metrics(t)
	series := `frontdoor_requests_total{backend="filedesk",code="499",journey="downloads",owner="outsourced",vendor="File Desk"}`
	if v, _ := metricValue(m, series); v != customers {
		t.Errorf("%s = %v, want %d: each customer let go counts as gone", series, v, customers)
	}
	for _, kind := range []string{"aborted", "timeout", "dial", "status_5xx"} {
		series := `frontdoor_upstream_errors_total{backend="filedesk",journey="downloads",kind="` + kind + `",owner="outsourced",vendor="File Desk"}`
		if v, _ := metricValue(m, series); v != 0 {
			t.Errorf("%s = %v: the vendor is blamed for customers who did not read", series, v)
		}
	}
}
