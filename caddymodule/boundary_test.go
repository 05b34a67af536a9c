package caddymodule

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/cookieline"
)

// The vendor boundary: what a vendor's response can and cannot carry to
// the customer (issue 20). Each test here failed on the response path
// before it was rebuilt as one policy per backend.

const vendorBlock = `brand "Acme Outdoor"
		session {
			redis redis://127.0.0.1:1/0
			cookie acme_session
		}
		journey support /support* /help* {
			backend nightdesk {
				owner outsourced
				vendor NightDesk
				to %s
			}
		}`

// TestLargeUntypedGzipPageInSmallChunks: a vendor page without a
// Content-Type, gzip-encoded and written in small chunks, is decoded whole
// and gets one banner. The sniffer decided on the decoding goroutine and
// re-wired the writer's body from there, so the next compressed write went
// straight into the injector: the customer got 32 KiB of page, then raw
// gzip, and the race detector reported the injector written from two
// goroutines.
func TestLargeUntypedGzipPageInSmallChunks(t *testing.T) {
	var page strings.Builder
	page.WriteString("<!doctype html><html><head><title>t</title></head><body>")
	for i := 0; page.Len() < 490<<10; i++ {
		fmt.Fprintf(&page, "<p>ticket line %d with some words that compress a little</p>\n", i)
	}
	page.WriteString("</body></html>")
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(page.String()))
	zw.Close()
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // no type: Go's server must not sniff one
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusOK)
		z := zipped.Bytes()
		for len(z) > 0 {
			n := min(len(z), 700)
			w.Write(z[:n])
			w.(http.Flusher).Flush()
			z = z[n:]
		}
	})
	h := provisionHandler(t, fmt.Sprintf(vendorBlock, vendor.addr()), time.Now())
	for range 3 {
		rec := serve(t, h, httptest.NewRequest("GET", "/support/ticket", nil), nil)
		body := rec.Body.String()
		if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
			t.Fatalf("Content-Type %q", got)
		}
		if n := strings.Count(body, `id="frontdoor-banner"`); n != 1 {
			t.Fatalf("%d banners in a %d-byte answer", n, len(body))
		}
		i := strings.Index(body, `<div id="frontdoor-banner"`)
		if i < 0 {
			i = strings.Index(body, `id="frontdoor-banner"`)
		}
		if !strings.HasPrefix(body, page.String()[:len(page.String())-len("</body></html>")]) {
			t.Fatalf("the page did not arrive decoded and whole: %d bytes, banner at %d", len(body), i)
		}
	}
}

// hintRecorder records every header block written, informational ones
// included, as a customer's client sees them.
type hintRecorder struct {
	*httptest.ResponseRecorder
	mu    sync.Mutex
	hints []http.Header
	codes []int
}

func (r *hintRecorder) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		r.mu.Lock()
		r.hints = append(r.hints, r.Header().Clone())
		r.codes = append(r.codes, code)
		r.mu.Unlock()
		return
	}
	r.ResponseRecorder.WriteHeader(code)
}

// TestEarlyHintsCarryNothingTheFinalCannot: a vendor's 103 went to the
// customer with the brand session cookie, Clear-Site-Data, HSTS and an
// offsite Location as the vendor wrote them.
func TestEarlyHintsCarryNothingTheFinalCannot(t *testing.T) {
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "acme_session=VENDOR; Path=/")
		w.Header().Set("Clear-Site-Data", `"cookies"`)
		w.Header().Set("Strict-Transport-Security", "max-age=0")
		w.Header().Set("Location", "https://evil.example/")
		w.Header().Set("X-Powered-By", "VendorCRM")
		w.Header().Set("Link", "</support/app.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		for _, k := range []string{"Set-Cookie", "Clear-Site-Data", "Strict-Transport-Security", "Location", "X-Powered-By"} {
			w.Header().Del(k)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok"))
	})
	h := provisionHandler(t, fmt.Sprintf(vendorBlock, vendor.addr()), time.Now())
	rec := &hintRecorder{ResponseRecorder: httptest.NewRecorder()}
	r := httptest.NewRequest("GET", "/support/x", nil)
	r = prepare(r, rec)
	if err := h.ServeHTTP(rec, r, nil); err != nil {
		t.Fatal(err)
	}
	for i, hdr := range rec.hints {
		for _, k := range []string{"Clear-Site-Data", "Strict-Transport-Security", "Location", "X-Powered-By"} {
			if v := hdr.Get(k); v != "" {
				t.Errorf("103 #%d carried %s: %q", i, k, v)
			}
		}
		for _, c := range hdr["Set-Cookie"] {
			if strings.HasPrefix(strings.TrimSpace(c), "acme_session=") {
				t.Errorf("103 #%d set the brand cookie: %q", i, c)
			}
		}
	}
	if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Errorf("final answer %d %q", rec.Code, rec.Body)
	}
}

// rawVendor is a vendor that answers each request with the bytes answer
// gives for it, written as they are (answers no net/http server writes),
// then reads until the gateway hangs up. It returns its address.
func rawVendor(t *testing.T, answer func(*http.Request) string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				c.Write([]byte(answer(req)))
				io.Copy(io.Discard, c) // until the gateway hangs up
			}()
		}
	}()
	return l.Addr().String()
}

// TestUnrequestedUpgradeGetsABrandPage: a vendor that switches protocols
// on a request that asked for no upgrade gave the customer an empty 200.
func TestUnrequestedUpgradeGetsABrandPage(t *testing.T) {
	vendor := rawVendor(t, func(*http.Request) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello"
	})
	h := provisionHandler(t, fmt.Sprintf(vendorBlock, vendor), time.Now())
	rec := serve(t, h, httptest.NewRequest("GET", "/support/x", nil), nil)
	if rec.Code != http.StatusBadGateway || rec.Header().Get(headerRequest) == "" || !strings.Contains(rec.Body.String(), "Acme Outdoor") {
		t.Errorf("got %d %q, want the brand 502 page", rec.Code, rec.Body)
	}
}

// TestRefusedUpgradeKeepsTheConnection: a 101 the policy refuses (here a
// Location that allow_redirect does not list) must leave the customer's
// connection with frontdoor. The proxy hijacked it anyway and tunnelled
// the vendor's bytes to the customer unread: the vendor's own second
// handshake, with a brand cookie and a reserved header, reached the
// browser, and the brand page could not be written.
func TestRefusedUpgradeKeepsTheConnection(t *testing.T) {
	vendor := rawVendor(t, func(req *http.Request) string {
		sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		accept := base64.StdEncoding.EncodeToString(sum[:])
		handshake := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n"
		return handshake + "Location: https://evil.example/\r\n\r\n" +
			handshake + "Set-Cookie: acme_session=VENDOR; Path=/\r\nX-Frontdoor-Brand: NightDesk\r\n\r\n"
	})
	h := provisionHandler(t, strings.Replace(fmt.Sprintf(vendorBlock, vendor), "vendor NightDesk", "vendor NightDesk\n\t\t\t\tallow_redirect partner.example", 1), time.Now())
	c, err := net.Dial("tcp", strings.TrimPrefix(gatewayFor(t, h).URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /support/chat HTTP/1.1\r\nHost: shop.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the customer's answer: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "Acme Outdoor") {
		t.Errorf("got %d %q (Set-Cookie %q), want the brand 502 page", res.StatusCode, body, res.Header["Set-Cookie"])
	}
}

// prepare makes r a request as Caddy's server hands it to handlers.
func prepare(r *http.Request, w http.ResponseWriter) *http.Request {
	return caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
}

// TestUntypedGzipPageWrittenInSmallChunks is the same page handed to the
// writer in the small writes of a slow vendor, where the sniffer decides
// while the proxy still writes compressed bytes.
func TestUntypedGzipPageWrittenInSmallChunks(t *testing.T) {
	var page strings.Builder
	page.WriteString("<!doctype html><html><head><title>t</title></head><body>")
	for i := 0; page.Len() < 490<<10; i++ {
		fmt.Fprintf(&page, "<p>ticket line %d with some words that compress a little</p>\n", i)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(page.String()))
	zw.Close()
	rec := httptest.NewRecorder()
	aw := newTestAttempt(t, rec)
	aw.Header().Set("Content-Encoding", "gzip")
	aw.WriteHeader(http.StatusOK)
	for z := zipped.Bytes(); len(z) > 0; {
		n := min(len(z), 700)
		if _, err := aw.Write(z[:n]); err != nil {
			t.Fatal(err)
		}
		z = z[n:]
	}
	aw.finish(true)
	body := rec.Body.String()
	if !strings.HasPrefix(body, page.String()) || strings.Count(body, `id="frontdoor-banner"`) != 1 {
		t.Errorf("got %d bytes with %d banners, want the %d-byte page decoded and one banner",
			len(body), strings.Count(body, `id="frontdoor-banner"`), page.Len())
	}
}

// TestBrandSetCookiePassesVendorPages: the Set-Cookie lines a response
// carried before the vendor answered are the brand's (a handler earlier
// in the route refreshing the session) and frontdoor's own (expiring a
// stray jar). The jar step took every line for the vendor's: the brand's
// session cookie went into the vendor's jar, whose cookies the vendor
// receives on its next request, and the stray jar was never expired.
func TestBrandSetCookiePassesVendorPages(t *testing.T) {
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Set-Cookie", "desk=1; Path=/")
		io.WriteString(w, `{}`)
	})
	h := provisionHandler(t, fmt.Sprintf(vendorBlock, vendor.addr()), monday10)
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })

	rec := httptest.NewRecorder()
	rec.Header().Add("Set-Cookie", "acme_session=ROTATED; Path=/; HttpOnly") // an earlier brand handler
	r := httptest.NewRequest(http.MethodGet, "http://shop.example.com/support/ticket", nil)
	r.Header.Set("Cookie", "fd-jar.nightdesk.c0=xxx") // a stray jar of an earlier version
	if err := h.ServeHTTP(rec, prepare(r, rec), next); err != nil {
		t.Fatal(err)
	}
	lines := rec.Header()["Set-Cookie"]
	jarred := 0
	for _, want := range []string{"acme_session=ROTATED; Path=/; HttpOnly", "fd-jar.nightdesk.c0=; Path=/; Max-Age=0"} {
		if !slices.Contains(lines, want) {
			t.Errorf("Set-Cookie %q did not pass as it was:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	var next2 []string
	for _, line := range lines {
		name, _, _ := strings.Cut(line, "=")
		if _, _, ok := jarOf(name); ok && strings.Contains(line, "Path=/support") {
			jarred++
			pair, _, _ := strings.Cut(line, ";")
			next2 = append(next2, pair)
		}
	}
	if jarred != 1 {
		t.Errorf("%d lines went into the vendor's jar, want its own one:\n%s", jarred, strings.Join(lines, "\n"))
	}
	// The browser sends the jar on the next vendor page.
	rec = httptest.NewRecorder()
	r = httptest.NewRequest(http.MethodGet, "http://shop.example.com/support/next", nil)
	r.Header.Set("Cookie", strings.Join(next2, "; "))
	if err := h.ServeHTTP(rec, prepare(r, rec), next); err != nil {
		t.Fatal(err)
	}
	reqs := vendor.requests()
	if c := reqs[len(reqs)-1].Header.Get("Cookie"); c != "desk=1" {
		t.Errorf("the vendor received Cookie %q, want only its own desk=1", c)
	}
}

// TestStrayJarExpiryIsBounded: a Cookie header within Caddy's default
// header limit that names a stray jar cookie over and over made the
// gateway answer one expiring line per name and ancestor path, with no
// end: 34,816 Set-Cookie lines (1.2 MB) for one request no journey
// claims. A path with a semicolon wrote attributes into frontdoor's own
// Set-Cookie.
func TestStrayJarExpiryIsBounded(t *testing.T) {
	h := provisionHandler(t, fmt.Sprintf(vendorBlock, refusedAddr(t)), monday10)
	brandHome := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		io.WriteString(w, "brand home")
		return nil
	})
	r := httptest.NewRequest(http.MethodGet, "http://shop.example.com/a/b/c/d/e/f/g/h/i", nil)
	r.Header.Set("Cookie", strings.Repeat("fd-jar.;", 16<<10/8))
	w := serve(t, h, r, brandHome)
	size := 0
	for _, line := range w.Header()["Set-Cookie"] {
		size += len(line)
	}
	if lines := len(w.Header()["Set-Cookie"]); lines > len(cookieline.MatchingPaths(r.URL.Path, 2*maxStrayDepth)) || size > 4<<10 { // the one name, once
		t.Errorf("a Cookie header of one stray name got %d Set-Cookie lines (%d bytes)", lines, size)
	}

	r = httptest.NewRequest(http.MethodGet, "http://shop.example.com/x;%20Domain=evil.example/y", nil)
	r.Header.Set("Cookie", "fd-jar.old=1")
	w = serve(t, h, r, brandHome)
	for _, line := range w.Header()["Set-Cookie"] {
		if strings.Contains(strings.ToLower(line), "domain") || strings.Count(line, ";") != 2 {
			t.Errorf("the request's path wrote into frontdoor's Set-Cookie: %q", line)
		}
	}
}

// TestRefreshOverTwoLinesIsOneRefresh: a browser reads a field sent on
// two lines as one value, joined with ", " (Fetch's "get"). A vendor that
// split "0, url=…" over two Refresh lines sent the customer to a host
// allow_redirect does not list: neither line on its own is a refresh.
func TestRefreshOverTwoLinesIsOneRefresh(t *testing.T) {
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header()["Refresh"] = []string{"0", "url=https://evil.example/phish"}
		io.WriteString(w, "{}")
	})
	site := strings.Replace(fmt.Sprintf(vendorBlock, vendor.addr()), "vendor NightDesk", "vendor NightDesk\n\t\t\t\tallow_redirect partner.example", 1)
	rec := serve(t, provisionHandler(t, site, time.Now()), httptest.NewRequest("GET", "http://shop.example.com/support/x", nil), nil)
	if rec.Code != http.StatusBadGateway || rec.Header()["Refresh"] != nil {
		t.Errorf("got %d with Refresh %q, want the brand 502 page", rec.Code, rec.Header()["Refresh"])
	}
}

// TestPageHeadersReadAsTheBrowserReadsThem: what decides whether a page
// gets the banner (is it a redirect, a download, in which coding) is read
// as a browser reads it. Each of these pages reached the customer without
// the banner: a second Content-Encoding line (planBody read the first
// only; "identity, gzip" is gzip to a browser), an empty Location (not a
// redirect to Chromium, which renders the body), and a disposition that
// is no attachment to a browser (a no-break space before the type, which
// Go's parser trims; a second line, which makes the value no token).
func TestPageHeadersReadAsTheBrowserReadsThem(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(vendorPage))
	zw.Close()
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		body := []byte(vendorPage)
		switch r.URL.Path {
		case "/support/codings":
			h["Content-Encoding"] = []string{"identity", "gzip"}
			body = zipped.Bytes()
		case "/support/empty-location":
			h["Location"] = []string{""}
			w.WriteHeader(http.StatusFound)
		case "/support/nbsp-attachment":
			h.Set("Content-Disposition", "\u00a0attachment")
		case "/support/two-dispositions":
			h["Content-Disposition"] = []string{"attachment", "inline"}
		case "/support/attachment":
			h.Set("Content-Disposition", ` AttachMent ; filename="ticket.html"`)
		}
		w.Write(body)
	})
	h := provisionHandler(t, fmt.Sprintf(vendorBlock, vendor.addr()), time.Now())
	for _, path := range []string{"/support/codings", "/support/empty-location", "/support/nbsp-attachment", "/support/two-dispositions"} {
		rec := serve(t, h, httptest.NewRequest("GET", "http://shop.example.com"+path, nil), nil)
		banners := strings.Count(rec.Body.String(), `id="frontdoor-banner"`)
		if rec.Code != http.StatusBadGateway && (banners != 1 || !strings.Contains(rec.Body.String(), "NightDesk ticket")) {
			t.Errorf("%s: got %d %q with %d banners, want the page with the banner or the brand 502", path, rec.Code, rec.Body, banners)
		}
	}
	// A download stays as it was.
	rec := serve(t, h, httptest.NewRequest("GET", "http://shop.example.com/support/attachment", nil), nil)
	if rec.Code != http.StatusOK || rec.Body.String() != vendorPage {
		t.Errorf("attachment: got %d %q, want the vendor's file as it was", rec.Code, rec.Body)
	}
}

// TestXMLPagesGetTheBanner: a browser navigating to an XML document
// renders its XHTML (or SVG, MathML, an XSLT transform) as a page: an
// XHTML page served as application/xml, text/xml or with no type (sniffed
// as XML) reached the customer without the banner. Asked for as a page,
// XML is served as HTML with the banner, in the encoding the document
// declared (UTF-8 without a declaration); fetched by a script it passes as
// it is.
func TestXMLPagesGetTheBanner(t *testing.T) {
	xhtml := `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>Desk</title></head><body><h1>NightDesk ticket ü</h1></body></html>`
	latin1 := "<?xml version='1.0' encoding='ISO-8859-1'?><html xmlns=\"http://www.w3.org/1999/xhtml\"><body><h1>NightDesk ticket \xfc</h1></body></html>"
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		body := xhtml
		switch r.URL.Path {
		case "/support/xml":
			w.Header().Set("Content-Type", "application/xml")
		case "/support/textxml":
			w.Header().Set("Content-Type", "text/xml")
		case "/support/svg":
			w.Header().Set("Content-Type", "image/svg+xml")
			body = `<svg xmlns="http://www.w3.org/2000/svg"><text x="10" y="20">NightDesk ticket ü</text></svg>`
		case "/support/latin1":
			w.Header().Set("Content-Type", "application/xml")
			body = latin1
		case "/support/sniffed":
			w.Header()["Content-Type"] = nil
		}
		io.WriteString(w, body)
	})
	h := provisionHandler(t, fmt.Sprintf(vendorBlock, vendor.addr()), time.Now())
	request := func(path, mode string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "http://shop.example.com"+path, nil)
		r.Header.Set("Sec-Fetch-Mode", mode)
		return serve(t, h, r, nil)
	}
	utf8 := struct{ contentType, text string }{"text/html;charset=utf-8", "NightDesk ticket ü"}
	for path, want := range map[string]struct{ contentType, text string }{
		"/support/xml": utf8, "/support/textxml": utf8, "/support/svg": utf8, "/support/sniffed": utf8,
		"/support/latin1": {"text/html;charset=windows-1252", "NightDesk ticket \xfc"}, // the browser's name for the label
	} {
		rec := request(path, "navigate")
		body := rec.Body.String()
		if rec.Code != http.StatusOK || strings.Count(body, `id="frontdoor-banner"`) != 1 || !strings.Contains(body, want.text) ||
			rec.Header().Get("Content-Type") != want.contentType {
			t.Errorf("%s as a page: got %d %q %q, want it as an HTML page (%s) with the banner", path, rec.Code, rec.Header().Get("Content-Type"), body, want.contentType)
		}
	}
	rec := request("/support/xml", "cors")
	if rec.Header().Get("Content-Type") != "application/xml" || rec.Body.String() != xhtml {
		t.Errorf("XML fetched by a script: got %q %q, want it as it was", rec.Header().Get("Content-Type"), rec.Body)
	}
}

// TestOversizedVendorHeadersGetABrandPage: Go's transport accepts 10 MiB
// of response headers; a vendor answering with a megabyte of them had
// that answer passed to the customer, whose browser refuses it (Chromium
// stops at 256 KiB) and shows its own error instead of the brand page.
// frontdoor's default bound, Envoy's 60 KiB rounded up, refuses it.
func TestOversizedVendorHeadersGetABrandPage(t *testing.T) {
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		n := 16
		if r.URL.Path == "/support/fits" {
			n = 1
		}
		for i := range n {
			w.Header().Set("X-Vendor-"+strings.Repeat("j", i+1), strings.Repeat("x", 32<<10))
		}
		io.WriteString(w, vendorPage)
	})
	gw := gatewayFor(t, provisionHandler(t, nightdeskSite(vendor.addr()), monday10))
	for path, want := range map[string]int{"/support/chat": http.StatusBadGateway, "/support/fits": http.StatusOK} {
		res, err := http.Get(gw.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want || want == http.StatusBadGateway && !strings.Contains(string(body), "Acme Outdoor") {
			t.Errorf("%s: got %d %.80q, want %d", path, res.StatusCode, body, want)
		}
	}
}

// TestJarBudgetIsTheBrowsers: what a vendor's cookies cost the browser,
// which keeps 180 cookies for a site and evicts the least recently used
// beyond (the brand's session among them), stays within the jar's budget.
// Three ways past it put the brand session at risk:
//   - Caddy routes /SUPPORT/x to a journey of /support*, but the browser
//     sends none of the jar's Path=/support cookies there: the jar looked
//     empty on every such request and took a whole budget more each time.
//     A cookie set where the browser does not send the jar is dropped.
//   - Each name is stored once per path of the journey: a budget of 50 on
//     a journey of four paths put 200 cookies in the browser. The budget
//     now counts browser cookies.
//   - A vendor on its own origin (under the brand's registrable domain,
//     whose 180 cookies it shares) had no budget at all.
func TestJarBudgetIsTheBrowsers(t *testing.T) {
	fill := func(n int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := range n {
				w.Header().Add("Set-Cookie", fmt.Sprintf("c%d=1; Path=/; Max-Age=3600", i))
			}
			io.WriteString(w, "{}")
		}
	}
	browserCookies := func(lines []string) (n int) {
		for _, line := range lines {
			if !strings.Contains(line, "Max-Age=0") {
				n++
			}
		}
		return n
	}

	vendor := newBackend(t, fill(5))
	h := provisionHandler(t, fmt.Sprintf(vendorBlock, vendor.addr()), time.Now())
	for path, want := range map[string]int{"/SUPPORT/x": 0, "/%73upport/x": 0, "/support/x": 5 * 2} {
		rec := serve(t, h, httptest.NewRequest("GET", "http://shop.example.com"+path, nil), nil)
		if got := browserCookies(rec.Header()["Set-Cookie"]); got != want {
			t.Errorf("%s: the vendor's 5 cookies became %d in the browser, want %d: %q", path, got, want, rec.Header()["Set-Cookie"])
		}
	}

	anotherConfig(h)
	vendor = newBackend(t, fill(50))
	fourPaths := strings.Replace(strings.Replace(fmt.Sprintf(vendorBlock, vendor.addr()), "/support* /help*", "/support/* /help/* /faq/* /contact/*", 1),
		"vendor NightDesk", "vendor NightDesk\n\t\t\t\tcookies {\n\t\t\t\t\tmax 50\n\t\t\t\t}", 1)
	rec := serve(t, provisionHandler(t, fourPaths, time.Now()), httptest.NewRequest("GET", "http://shop.example.com/support/x", nil), nil)
	if got := browserCookies(rec.Header()["Set-Cookie"]); got > 50 {
		t.Errorf("a budget of 50 on a journey of four paths put %d cookies in the browser", got)
	}

	hdr := http.Header{}
	for i := range 200 {
		hdr.Add("Set-Cookie", fmt.Sprintf("c%d=1; Path=/", i))
	}
	testJar("support", "nightdesk").forOrigin().store(hdr, 0, jarUsage{}, nil)
	if got := browserCookies(hdr["Set-Cookie"]); got != config.DefaultJarCookies {
		t.Errorf("on its origin the vendor's 200 cookies became %d, want the default budget of %d", got, config.DefaultJarCookies)
	}
}

// TestJarsTogetherStayUnderTheHeaderLimit: three vendors taking turns on
// one journey, each within its own budget (bytes 8192, the most validation
// allows), filled the browser with 24 KB of cookies sent together on the
// journey's paths: every page there, the brand's own included, was over
// Caddy's 16 KiB header limit (431). The jars a request carries together
// stay within maxRequestJarBytes.
func TestJarsTogetherStayUnderTheHeaderLimit(t *testing.T) {
	vendors := []string{"daydesk", "nightdesk", "overflow"}
	windows := []string{"daily 00:00-08:00", "daily 08:00-16:00", "daily 16:00-24:00"}
	var blocks strings.Builder
	for i, name := range vendors {
		v := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
			for k := range 2 {
				w.Header().Add("Set-Cookie", fmt.Sprintf("s%d=%s; Path=/; Max-Age=3600", k, strings.Repeat("x", 4000)))
			}
			io.WriteString(w, "{}")
		})
		fmt.Fprintf(&blocks, `
			backend %s {
				owner outsourced
				vendor %q
				to %s
				hours %q UTC
				cookies {
					bytes 8192
				}
			}`, name, name, v.addr(), windows[i])
	}
	cfg := `brand "Acme Outdoor"
		session {
			redis redis://127.0.0.1:1/0
			cookie acme_session
		}
		journey support /support* {` + blocks.String() + `
		}`
	browser := map[string]string{}
	cookieHeader := func() string {
		parts := []string{"acme_session=S-1"}
		for name, value := range browser {
			parts = append(parts, name+"="+value)
		}
		return strings.Join(parts, "; ")
	}
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for i := range vendors {
		h := provisionHandler(t, cfg, day.Add(time.Duration(8*i+1)*time.Hour))
		r := httptest.NewRequest("GET", "http://shop.example.com/support/chat", nil)
		r.Header.Set("Cookie", cookieHeader())
		rec := serve(t, h, r, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("vendor %s: %d", vendors[i], rec.Code)
		}
		for _, line := range rec.Header()["Set-Cookie"] {
			pair, attrs, _ := strings.Cut(line, ";")
			name, value, _ := strings.Cut(pair, "=")
			if strings.Contains(attrs, "Max-Age=0") {
				delete(browser, name)
			} else if strings.Contains(attrs, "Path=/support") {
				browser[name] = value
			}
		}
	}
	if n := len(cookieHeader()); n > maxRequestJarBytes+64 {
		t.Errorf("the journey's requests carry a Cookie header of %d bytes (%d jar cookies), over %d", n, len(browser), maxRequestJarBytes)
	}
}

// TestJarBudget: one vendor page of cookies can neither push the
// customer's requests over Caddy's header limit nor make the browser
// evict the brand's session cookie. The jar kept everything the vendor
// set, with Path=/: 8 cookies of 4000 bytes made every brand page a 431,
// and 200 small ones evicted the brand session in Chromium.
func TestJarBudget(t *testing.T) {
	jar := testJar("support", "nightdesk")
	big := http.Header{}
	for i := range 8 {
		big.Add("Set-Cookie", fmt.Sprintf("c%d=%s; Path=/; Max-Age=3600", i, strings.Repeat("x", 4000)))
	}
	jar.store(big, 0, jarUsage{}, nil)
	total := 0
	for _, line := range big["Set-Cookie"] {
		pair, _, _ := strings.Cut(line, ";")
		total += len(pair)
		if !strings.Contains(line, "; Path=/support") && !strings.Contains(line, "; Path=/help") {
			t.Errorf("stored outside the journey: %q", line)
		}
	}
	if per := total / len(jar.paths); per > jar.maxBytes {
		t.Errorf("the jar took %d bytes, over its budget of %d", per, jar.maxBytes)
	}
	many := http.Header{}
	for i := range 200 {
		many.Add("Set-Cookie", fmt.Sprintf("n%d=1", i))
	}
	jar.store(many, 0, jarUsage{}, nil)
	if n := len(many["Set-Cookie"]) / len(jar.paths); n != jar.maxNames {
		t.Errorf("the jar kept %d of 200 cookies, want its budget of %d", n, jar.maxNames)
	}

	// What the browser holds counts: a full jar takes no new cookie, but
	// one it replaces or deletes.
	var held []string
	for i := range jar.maxNames {
		held = append(held, fmt.Sprintf("%s=1", jarName(jar.id, fmt.Sprintf("k%d", i))))
	}
	_, usage := backendCookies([]string{strings.Join(held, "; ")}, jar, nil)
	h := http.Header{"Set-Cookie": {"new=1", "k3=2", "k4=; Max-Age=0"}}
	jar.store(h, 0, usage, nil)
	got := strings.Join(h["Set-Cookie"], "\n")
	if strings.Contains(got, "~new=") || !strings.Contains(got, "~k3=2") || !strings.Contains(got, "~k4=; Path=/support; Max-Age=0") {
		t.Errorf("full jar: %s", got)
	}
}

// TestOversizedJarsAreRecovered: a customer who already carries more than
// the jar's budget gets the excess expired and not forwarded, and cookies
// of earlier jars (Path=/, no longer anybody's) are expired wherever they
// show up.
func TestOversizedJarsAreRecovered(t *testing.T) {
	jar := testJar("support", "nightdesk")
	var held []string
	for i := range jar.maxNames + 5 {
		held = append(held, fmt.Sprintf("%s=1", jarName(jar.id, fmt.Sprintf("k%d", i))))
	}
	sent, usage := backendCookies([]string{strings.Join(held, "; ")}, jar, nil)
	if n := strings.Count(strings.Join(sent, ""), "=1"); n != jar.maxNames {
		t.Errorf("forwarded %d jar cookies, want %d", n, jar.maxNames)
	}
	h := http.Header{}
	jar.store(h, 0, usage, nil)
	if n := len(h["Set-Cookie"]); n != 5*len(jar.paths) {
		t.Errorf("expired %d lines, want 5 cookies at %d paths: %q", n, len(jar.paths), h["Set-Cookie"])
	}

	w := http.Header{}
	expireStrayJars(w, []string{"fd-jar.nightdesk.c0=xxx; acme_session=s; fd-jar~gone~b~x=1; " + jarName(jar.id, "ok") + "=1"},
		map[string]bool{jar.id: true}, &url.URL{Path: "/account/orders"})
	got := strings.Join(w["Set-Cookie"], "\n")
	for _, want := range []string{"fd-jar.nightdesk.c0=; Path=/; Max-Age=0", "fd-jar.nightdesk.c0=; Path=/account; Max-Age=0",
		"fd-jar~gone~b~x=; Path=/account/; Max-Age=0"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "acme_session") || strings.Contains(got, "~ok=") {
		t.Errorf("expired a cookie that is not stray:\n%s", got)
	}
}

func TestParseSetCookieLifetime(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		line string
		want time.Time // zero: a session cookie
	}{
		{"a=1", time.Time{}},
		{"a=1; Max-Age=60", now.Add(time.Minute)},
		{"a=1; Max-Age=0", time.Unix(0, 0)},
		{"a=1; Max-Age=-5", time.Unix(0, 0)},
		{"a=1; Max-Age=+5", time.Time{}},
		{"a=1; Max-Age=5s", time.Time{}},
		{"a=1; Expires=Wed, 09 Jun 2027 10:18:14 GMT", time.Date(2027, 6, 9, 10, 18, 14, 0, time.UTC)},
		{"a=1; expires=Wed, 09-Jun-27 10:18:14 GMT", time.Date(2027, 6, 9, 10, 18, 14, 0, time.UTC)},
		{"a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"a=1; Expires=31 Feb 2027 10:00:00", time.Time{}},
		{"a=1; Expires=tomorrow", time.Time{}},
		{"a=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT", now.Add(time.Minute)},
	}
	for _, c := range cases {
		got, ok := parseSetCookie(c.line, now)
		if !ok || !got.expires.Equal(c.want) {
			t.Errorf("%q: expires %v (ok %v), want %v", c.line, got.expires, ok, c.want)
		}
	}
	for _, bad := range []string{"novalue", "=x", "a=1\x00", "\x7f=1", " =1"} {
		if _, ok := parseSetCookie(bad, now); ok {
			t.Errorf("%q parsed, want refused", bad)
		}
	}
}

// TestPartialPageNobodyAskedFor: browsers render a 206 like a 200, so a
// 206 to a request without Range went out without the banner.
func TestPartialPageNobodyAskedFor(t *testing.T) {
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		switch r.URL.Path {
		case "/support/partial":
			w.Header().Set("Content-Range", "bytes 0-51/52")
			w.WriteHeader(http.StatusPartialContent)
		case "/support/choices":
			w.WriteHeader(http.StatusMultipleChoices) // rendered: not a redirect
		}
		w.Write([]byte(vendorPage))
	})
	h := provisionHandler(t, fmt.Sprintf(vendorBlock, vendor.addr()), time.Now())
	rec := serve(t, h, httptest.NewRequest("GET", "/support/partial", nil), nil)
	if rec.Code != http.StatusBadGateway || strings.Contains(rec.Body.String(), "NightDesk") {
		t.Errorf("unasked 206: got %d %q, want the brand 502", rec.Code, rec.Body)
	}
	r := httptest.NewRequest("GET", "/support/partial", nil)
	r.Header.Set("Range", "bytes=0-51")
	if rec := serve(t, h, r, nil); rec.Code != http.StatusPartialContent {
		t.Errorf("asked 206: got %d", rec.Code)
	}
	rec = serve(t, h, httptest.NewRequest("GET", "/support/choices", nil), nil)
	if rec.Code != http.StatusMultipleChoices || strings.Count(rec.Body.String(), `id="frontdoor-banner"`) != 1 {
		t.Errorf("300 without Location: got %d %q, want the page with the banner", rec.Code, rec.Body)
	}
}

// TestTrailersOfAHeldAnswerStayTrailers: an HTTP/2 vendor answers with a
// Content-Length (so the head is held until the body shows progress) and
// announces trailers the policy forbids. The proxy copies the trailers
// into the header map once the body is done, which was before the held
// head went out: the brand session cookie, Clear-Site-Data, an offsite
// Location and a reserved header reached the customer as headers.
func TestTrailersOfAHeldAnswerStayTrailers(t *testing.T) {
	vendor := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.Header().Set("Trailer", "Set-Cookie, Clear-Site-Data, Location, X-Frontdoor-Brand")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("{}"))
		w.Header().Set("Set-Cookie", "acme_session=VENDOR; Path=/")
		w.Header().Set("Clear-Site-Data", `"cookies"`)
		w.Header().Set("Location", "https://evil.example/")
		w.Header().Set("X-Frontdoor-Brand", "NightDesk")
	}))
	vendor.Config.Protocols = new(http.Protocols)
	vendor.Config.Protocols.SetUnencryptedHTTP2(true)
	vendor.Start()
	t.Cleanup(vendor.Close)
	site := strings.Replace(fmt.Sprintf(vendorBlock, strings.TrimPrefix(vendor.URL, "http://")), "vendor NightDesk",
		"vendor NightDesk\n\t\t\t\ttransport http {\n\t\t\t\t\tversions h2c\n\t\t\t\t}", 1)
	res, err := http.Get(gatewayFor(t, provisionHandler(t, site, time.Now())).URL + "/support/api")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "{}" {
		t.Errorf("got %d %q, want the vendor's answer", res.StatusCode, body)
	}
	for _, name := range []string{"Set-Cookie", "Clear-Site-Data", "Location", "X-Frontdoor-Brand"} {
		if v, ok := res.Header[name]; ok {
			t.Errorf("the vendor's trailer %s reached the customer as a header: %q", name, v)
		}
		if v, ok := res.Trailer[name]; ok {
			t.Errorf("the vendor's trailer %s reached the customer: %q", name, v)
		}
	}
}

// TestVendorTrailersHeldToThePolicy: what a vendor may not send in its
// headers it may not send after the body either.
func TestVendorTrailersHeldToThePolicy(t *testing.T) {
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Trailer", "Set-Cookie, X-Checksum, Clear-Site-Data")
		w.Write([]byte("{}"))
		w.Header().Set("Set-Cookie", "acme_session=VENDOR")
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set("Clear-Site-Data", `"cookies"`)
		w.Header().Set(http.TrailerPrefix+"Strict-Transport-Security", "max-age=0")
	})
	h := provisionHandler(t, fmt.Sprintf(vendorBlock, vendor.addr()), time.Now())
	rec := serve(t, h, httptest.NewRequest("GET", "/support/api", nil), nil)
	res := rec.Result()
	io.ReadAll(res.Body)
	for name := range res.Trailer {
		if name != "X-Checksum" {
			t.Errorf("trailer %s reached the customer: %q", name, res.Trailer[name])
		}
	}
	if res.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("the vendor's own trailer was lost: %v", res.Trailer)
	}
}
