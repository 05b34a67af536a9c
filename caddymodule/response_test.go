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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/klauspost/compress/zstd"
)

// nightdeskSite is a brand with one journey whose one backend, at to, is
// an outsourced vendor with frontdoor's defaults (the banner on).
func nightdeskSite(to string) string {
	return `brand "Acme Outdoor"
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor NightDesk
				to ` + to + `
			}
		}`
}

// newTestAttempt is an attemptWriter for the outsourced, bannered backend
// of a provisioned handler, writing to w.
func newTestAttempt(t *testing.T, w http.ResponseWriter) *attemptWriter {
	t.Helper()
	h := provisionHandler(t, nightdeskSite("127.0.0.1:9"), time.Now())
	return &attemptWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w},
		policy: h.routes[0].backends[0].response, customer: &customerContext{state: sessionNone},
		scope: &exchangeScope{req: httptest.NewRequest("GET", "/support", nil), requestID: "3F7WV9TKT3ZB6",
			values: new(valueSlab), before: new(headerSnapshot)}}
}

// TestFlushBeforeHeaderSendsNothing: a flush before the headers are
// de-branded must not send the vendor's headers as they are.
func TestFlushBeforeHeaderSendsNothing(t *testing.T) {
	rec := httptest.NewRecorder()
	aw := newTestAttempt(t, rec)
	aw.Header().Set("X-Powered-By", "VendorCRM")
	if err := http.NewResponseController(aw).Flush(); err != nil {
		t.Fatal(err)
	}
	if rec.Flushed {
		t.Fatal("flushed before the headers were de-branded")
	}
	aw.Header().Set("Content-Type", "text/plain")
	aw.WriteHeader(http.StatusOK)
	if v := rec.Header().Get("X-Powered-By"); v != "" {
		t.Errorf("X-Powered-By %q reached the customer", v)
	}
}

// TestReadFromGoesThroughTheBanner: io.Copy into the writer (the proxy's
// path when it has no flush interval) cannot go around the injector.
func TestReadFromGoesThroughTheBanner(t *testing.T) {
	rec := httptest.NewRecorder()
	aw := newTestAttempt(t, rec)
	aw.Header().Set("Content-Type", "text/html")
	aw.WriteHeader(http.StatusOK)
	if _, err := aw.ReadFrom(strings.NewReader(vendorPage)); err != nil {
		t.Fatal(err)
	}
	aw.finish(true)
	if n := strings.Count(rec.Body.String(), `id="frontdoor-banner"`); n != 1 {
		t.Errorf("%d banners in %q", n, rec.Body.String())
	}
}

// hijackRecorder is a response writer that can be hijacked.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	hijacked bool
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h.hijacked = true
	c1, c2 := net.Pipe()
	c2.Close()
	return c1, bufio.NewReadWriter(bufio.NewReader(c1), bufio.NewWriter(c1)), nil
}

// TestHijackReachesTheConnection: an upgraded connection (a WebSocket
// chat) is the customer's connection, through the writer, once the
// backend's 101 has passed the policy; before it, the connection stays.
func TestHijackReachesTheConnection(t *testing.T) {
	rec := &hijackRecorder{ResponseRecorder: httptest.NewRecorder()}
	aw := newTestAttempt(t, rec)
	aw.scope.req.Header.Set("Upgrade", "websocket")
	aw.scope.req.Header.Set("Connection", "Upgrade")
	if _, _, err := http.NewResponseController(aw).Hijack(); err == nil || rec.hijacked {
		t.Fatalf("hijacked before any 101: %v (hijacked %v)", err, rec.hijacked)
	}
	aw.WriteHeader(http.StatusSwitchingProtocols)
	conn, _, err := http.NewResponseController(aw).Hijack()
	if err != nil || !rec.hijacked {
		t.Fatalf("hijack through the writer: %v (hijacked %v)", err, rec.hijacked)
	}
	conn.Close()
}

// abortingProxy writes half a gzip page, as the proxy does before the
// vendor hangs up, then aborts like Caddy's proxy.
type abortingProxy struct{ page []byte }

func (p abortingProxy) ServeHTTP(w http.ResponseWriter, _ *http.Request, _ caddyhttp.Handler) error {
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Encoding", "gzip")
	w.WriteHeader(http.StatusOK)
	w.Write(p.page[:len(p.page)/2]) //nolint:errcheck
	panic(http.ErrAbortHandler)
}

// TestAbortEndsTheDecoder: when the proxy aborts a response, serve
// returns the panic after the decoding goroutine has ended, so nothing
// writes to the customer after the handler, and what came ends with the
// banner: a browser renders a page cut off.
func TestAbortEndsTheDecoder(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("<html><body>" + strings.Repeat("<p>long</p>", 5000) + "</body></html>")) //nolint:errcheck
	zw.Close()
	rec := httptest.NewRecorder()
	aw := newTestAttempt(t, rec)
	aborted, _ := aw.serve(abortingProxy{buf.Bytes()}, aw.scope.req, nil)
	if aborted != http.ErrAbortHandler {
		t.Fatalf("serve returned %v, want the proxy's http.ErrAbortHandler", aborted)
	}
	if aw.body != nil {
		t.Error("decoder or injector left running after the abort")
	}
	written := rec.Body.Len()
	time.Sleep(50 * time.Millisecond) // time under test: a write after serve returned would land in this window
	if rec.Body.Len() != written || written == 0 {
		t.Errorf("wrote %d bytes before serve returned, %d after", written, rec.Body.Len())
	}
	if strings.Count(rec.Body.String(), `id="frontdoor-banner"`) != 1 {
		t.Errorf("a page cut short ends without the banner: %q", rec.Body.String()[max(0, rec.Body.Len()-80):])
	}
}

func TestFrameWalkerFindsCloseFrames(t *testing.T) {
	text := func(masked bool, payload string) []byte {
		b := []byte{0x81, byte(len(payload))}
		if masked {
			b[1] |= 0x80
			b = append(b, 1, 2, 3, 4)
		}
		return append(b, payload...)
	}
	closeFrame := []byte{0x88, 0x82, 9, 9, 9, 9, 0x03, 0xe8}
	long := append([]byte{0x82, 126, 0x01, 0x00}, bytes.Repeat([]byte{0x88}, 256)...) // payload full of 0x88
	stream := append(append(append(text(true, "hi"), long...), text(false, "x")...), closeFrame...)
	for chunk := 1; chunk <= len(stream); chunk++ {
		var f frameWalker
		found := false
		for i := 0; i < len(stream); i += chunk {
			found = f.feed(stream[i:min(i+chunk, len(stream))]) || found
		}
		if !found {
			t.Fatalf("close frame missed in chunks of %d", chunk)
		}
		var g frameWalker
		if g.feed(stream[:len(stream)-len(closeFrame)]) {
			t.Fatalf("a close frame seen in payload bytes")
		}
	}
}

// bannerGateway serves a handler whose one journey goes to vendor, an
// outsourced backend with the banner, from a real server, so that what
// the customer receives is framed as net/http frames it.
func bannerGateway(t *testing.T, vendor *recordingBackend) *httptest.Server {
	t.Helper()
	return gatewayFor(t, provisionHandler(t, nightdeskSite(vendor.addr()), monday10))
}

// gatewayFor serves h from a real server, as Caddy's server would.
func gatewayFor(t *testing.T, h *Handler) *httptest.Server {
	t.Helper()
	gw := httptest.NewServer(gatewayHandler(t, h))
	t.Cleanup(gw.Close)
	return gw
}

// gatewayHandler is h as Caddy's server runs it.
func gatewayHandler(t *testing.T, h *Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
		if err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}

// TestBannerPageKeepsALength: a vendor page of announced length that fits
// the hold reaches the customer whole, with the Content-Length of what it
// became (banner included), so the server sends it in one piece instead of
// chunks and a terminator; a longer one streams, chunked, as before.
func TestBannerPageKeepsALength(t *testing.T) {
	pageOf := func(size int) string {
		var b strings.Builder
		b.WriteString("<!doctype html><html><head><title>Desk</title></head><body>")
		for b.Len() < size-len("</body></html>") {
			b.WriteString("<p>NightDesk answer line.</p>\n")
		}
		b.WriteString("</body></html>")
		return b.String()
	}
	for _, tc := range []struct {
		name   string
		size   int
		length bool
	}{
		{"a 20 KB page", 20 << 10, true},
		{"a page just under the hold", wholePageHold - 4<<10, true},
		{"a page past the hold", wholePageHold + 10<<10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := pageOf(tc.size)
			vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Header().Set("Content-Length", strconv.Itoa(len(page)))
				io.WriteString(w, page)
			})
			res, err := http.Get(bannerGateway(t, vendor).URL + "/support/article")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(body), `id="frontdoor-banner"`); n != 1 || !strings.HasSuffix(string(body), "</body></html>") {
				t.Fatalf("%d banners, ends %q", n, body[max(0, len(body)-40):])
			}
			chunked := len(res.TransferEncoding) > 0
			if tc.length && (chunked || res.ContentLength != int64(len(body))) {
				t.Errorf("Content-Length %d, Transfer-Encoding %v for %d bytes: want the length, not chunks", res.ContentLength, res.TransferEncoding, len(body))
			}
			if !tc.length && !chunked {
				t.Errorf("Content-Length %d for a page past the hold: want it streamed in chunks", res.ContentLength)
			}
		})
	}
}

// TestSlowBannerPageStreams: a page held whole that stops coming for
// longer than the hold waits reaches the customer as far as it came with
// the vendor's next bytes, instead of after the whole page. (A proxy does
// not flush an answer of announced length: what is released goes out once
// it is more than the server buffers, so the page so far is 16 KB.)
func TestSlowBannerPageStreams(t *testing.T) {
	const first, then, rest = "<p>first part</p>", "<p>then this</p>", "<p>the rest</p></body></html>"
	head := "<!doctype html><html><head><title>Desk</title></head><body>" + strings.Repeat("<p>NightDesk answer line.</p>\n", 16<<10/30) + first
	customerSawStart := make(chan struct{})
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(head)+len(then)+len(rest)))
		io.WriteString(w, head)
		w.(http.Flusher).Flush()
		time.Sleep(2 * wholePageWait) // pacing: a vendor whose page stops coming for a while
		io.WriteString(w, then)
		w.(http.Flusher).Flush()
		select {
		case <-customerSawStart:
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, rest)
	})
	res, err := http.Get(bannerGateway(t, vendor).URL + "/support/article")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), first) {
		n, err := res.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil && !strings.Contains(got.String(), first) {
			t.Fatalf("%v after %d bytes", err, got.Len())
		}
	}
	if strings.Contains(got.String(), "the rest") {
		t.Errorf("the customer saw the start of the page only with its end: it was held past the vendor's pause")
	}
	close(customerSawStart)
	all, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	got.Write(all)
	if n := strings.Count(got.String(), `id="frontdoor-banner"`); n != 1 || !strings.HasSuffix(got.String(), "</body></html>") {
		t.Errorf("%d banners, ends %q", n, got.String()[max(0, got.Len()-40):])
	}
}

// TestPageInAWideWindowGetsABrandPage: a page's decoder keeps the window
// its br or zstd stream declares, up to 16 MiB, for as long as the page
// is in flight. A vendor page that declares more than frontdoor's bound
// (1 MiB) is a body frontdoor cannot read: the customer gets the brand
// 502, never the page without the banner.
func TestPageInAWideWindowGetsABrandPage(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var page bytes.Buffer
	page.WriteString("<!doctype html><html><body><h1>NightDesk ticket</h1>")
	for page.Len() < 2<<20 {
		fmt.Fprintf(&page, "<p>NightDesk answer %d</p>\n", rng.Intn(1e9))
	}
	var br, zs bytes.Buffer
	bw := brotli.NewWriterOptions(&br, brotli.WriterOptions{Quality: 4, LGWin: 24})
	bw.Write(page.Bytes()) //nolint:errcheck // a bytes.Buffer
	bw.Close()
	zw, _ := zstd.NewWriter(&zs, zstd.WithWindowSize(8<<20), zstd.WithEncoderLevel(zstd.SpeedFastest))
	zw.Write(page.Bytes()) //nolint:errcheck
	zw.Close()
	bodies := map[string][]byte{"br": br.Bytes(), "zstd": zs.Bytes()}
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		coding := strings.TrimPrefix(r.URL.Path, "/support/")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Encoding", coding)
		w.Header().Set("Content-Length", strconv.Itoa(len(bodies[coding])))
		w.Write(bodies[coding])
	})
	gw := bannerGateway(t, vendor)
	for coding := range bodies {
		res, err := http.Get(gw.URL + "/support/" + coding)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadGateway || strings.Contains(string(body), "NightDesk ticket") {
			t.Errorf("%s in a wide window: %d, %d bytes (read: %v), want the brand 502", coding, res.StatusCode, len(body), err)
		}
	}
}

// TestBrokenCompressedPageNeverEndsWithoutBanner: a page whose coding is
// broken (gzip without its trailer, a wrong CRC, bytes after it, br cut
// short) is one a browser renders as far as it decodes. Still held, it
// gives the customer the brand 502; once its head has passed, what came
// goes out with the banner and the response is cut off, never ended as
// a complete page.
func TestBrokenCompressedPageNeverEndsWithoutBanner(t *testing.T) {
	page := "<!doctype html><html><head><title>NightDesk</title></head><body><h1>NightDesk ticket 42</h1><p>Call NightDesk on +1 900 555 0199</p>"
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		io.WriteString(zw, s) //nolint:errcheck // a bytes.Buffer
		zw.Close()
		return b.Bytes()
	}
	whole := gz(page)
	badCRC := bytes.Clone(whole)
	badCRC[len(badCRC)-8] ^= 0xff
	big := gz(page + strings.Repeat("<p>NightDesk answer line, with a few words to it.</p>\n", 4000))
	var br bytes.Buffer
	bw := brotli.NewWriterOptions(&br, brotli.WriterOptions{Quality: 5, LGWin: 20}) // within the window bound
	io.WriteString(bw, page)                                                        //nolint:errcheck
	bw.Close()
	cases := []struct {
		name, coding string
		body         []byte
		held         bool // the page fits the whole-page hold
	}{
		{"gzip without its trailer", "gzip", whole[:len(whole)-8], true},
		{"gzip with a wrong CRC", "gzip", badCRC, true},
		{"gzip with bytes after it", "gzip", append(bytes.Clone(whole), "junk"...), true},
		{"br cut before its last byte", "br", br.Bytes()[:br.Len()-1], true},
		{"a 200 KB page in gzip without its trailer", "gzip", big[:len(big)-8], false},
	}
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		c := cases[len(r.URL.Path)-len("/support/")]
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Encoding", c.coding)
		w.Header().Set("Content-Length", strconv.Itoa(len(c.body)))
		w.Write(c.body)
	})
	gw := bannerGateway(t, vendor)
	for k, c := range cases {
		res, err := http.Get(gw.URL + "/support/" + strings.Repeat("x", k))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		vendors, banner := strings.Contains(string(body), "NightDesk ticket 42"), strings.Contains(string(body), `id="frontdoor-banner"`)
		switch {
		case c.held && (res.StatusCode != http.StatusBadGateway || vendors):
			t.Errorf("%s: %d, the vendor's page %v, banner %v; want the brand 502", c.name, res.StatusCode, vendors, banner)
		case !c.held && (err == nil || !banner):
			t.Errorf("%s: %d, read error %v, banner %v; want the page cut off with its banner", c.name, res.StatusCode, err, banner)
		}
	}
}

// TestFlushWaitsForTheSniffingSample: a flush does not make the start of
// a page decide what it is before the sample a browser decides on: the
// first 512 bytes sniffed for a type, the first 1024 prescanned for a
// <meta> charset (Chromium waits for them too). An untyped page whose
// first flushed write is a blank line is HTML, with the banner; a page
// whose <meta charset> comes after its first flush keeps that charset.
// A byte order mark or the Content-Type's charset decides at once: such
// a page's first part is not held.
func TestFlushWaitsForTheSniffingSample(t *testing.T) {
	sjis := []byte{0x83, 0x54, 0x83, 0x7c, 0x81, 0x5b, 0x83, 0x67} // サポート in Shift_JIS
	release := make(chan struct{})
	rest := append(append([]byte("<meta charset=\"shift_jis\">\n<title>NightDesk</title></head><body><h1>"), sjis...), "</h1></body></html>"...)
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/support/untyped":
			w.Header()["Content-Type"] = nil // none, and none sniffed by net/http
			io.WriteString(w, "\n")
		case "/support/meta":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<!doctype html>\n<html lang=\"ja\">\n<head>\n")
		case "/support/labelled":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<!doctype html>\n<html>\n<head>\n")
		}
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(time.Second): // time under test: the vendor takes its time over the rest
		}
		if r.URL.Path == "/support/untyped" {
			io.WriteString(w, "<!doctype html><html><head><title>NightDesk</title></head><body><h1>Call NightDesk</h1></body></html>")
			return
		}
		w.Write(rest)
	})
	gw := bannerGateway(t, vendor)
	get := func(path string) (*http.Response, string) {
		res, err := http.Get(gw.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(body)
	}
	res, body := get("/support/untyped")
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, `id="frontdoor-banner"`) {
		t.Errorf("an untyped page whose first flush is a blank line went out as %q, banner %v", ct, strings.Contains(body, `id="frontdoor-banner"`))
	}
	res, _ = get("/support/meta")
	if ct := strings.ToLower(res.Header.Get("Content-Type")); !strings.Contains(ct, "charset=shift_jis") {
		t.Errorf("a page with <meta charset=\"shift_jis\"> after its first flush went out as %q", ct)
	}
	start := time.Now()
	res, err := http.Get(gw.URL + "/support/labelled")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	first, err := bufio.NewReader(res.Body).ReadString('>')
	if took := time.Since(start); err != nil || took > 500*time.Millisecond {
		t.Errorf("the first part of a page labelled utf-8 came after %s (%q, %v): held though its header decides", took.Round(time.Millisecond), first, err)
	}
	close(release)
}

// TestRevalidatedPageKeepsBannerHeaders: a browser renders the page it
// cached, banner and all, under the headers of the vendor's 304 (RFC 9111
// section 4.3.4). The 304 of a page gets the banner's changes of the 200:
// the vendor's policy with the banner's style allowed, the ETag weakened.
// A 304 for what a page loads (an image) is left as it is.
func TestRevalidatedPageKeepsBannerHeaders(t *testing.T) {
	request := revalidatingVendor(t, map[string]string{"Content-Security-Policy": "default-src 'none'; style-src 'nonce-abc'"})
	page := request("navigate", "")
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `id="frontdoor-banner"`) {
		t.Fatalf("the page: %d %q", page.Code, page.Body)
	}
	revalidated := request("navigate", page.Header().Get("ETag"))
	for _, name := range []string{"Content-Security-Policy", "Etag", "Accept-Ranges"} {
		if got, want := revalidated.Header().Values(name), page.Header().Values(name); revalidated.Code != http.StatusNotModified || !slices.Equal(got, want) {
			t.Errorf("%d revalidating the page: %s %q, the page had %q", revalidated.Code, name, got, want)
		}
	}
	image := request("no-cors", `"v1"`)
	if got := image.Header().Get("ETag"); image.Code != http.StatusNotModified || got != `"v1"` {
		t.Errorf("%d revalidating an image: ETag %q, want the vendor's", image.Code, got)
	}
}

// revalidatingVendor serves nightdesk's page (ETag "v1", and the headers
// given) through a gateway, and answers 304 to any If-None-Match: it
// returns how to ask for the page in a Sec-Fetch-Mode, revalidating with
// If-None-Match inm unless it is "".
func revalidatingVendor(t *testing.T, headers map[string]string) func(mode, inm string) *httptest.ResponseRecorder {
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		for name, value := range headers {
			w.Header().Set(name, value)
		}
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, vendorPage)
	})
	h := provisionHandler(t, nightdeskSite(vendor.addr()), monday10)
	return func(mode, inm string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/support/ticket", nil)
		r.Header.Set("Sec-Fetch-Mode", mode)
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		return serve(t, h, r, nil)
	}
}

// A bannered page carries this request's reference and the customer's
// own feedback links: whatever the vendor says of caching it, no shared
// cache may keep it to serve the next customer (Cache-Control private,
// and the targeted CDN-Cache-Control and Surrogate-Control go), and the
// browser revalidates it. Its revalidation says the same.
func TestBanneredPageIsPrivate(t *testing.T) {
	request := revalidatingVendor(t, map[string]string{
		"Cache-Control":     "public, max-age=3600, s-maxage=86400",
		"CDN-Cache-Control": "max-age=86400",
		"Surrogate-Control": "max-age=86400",
	})
	for _, inm := range []string{"", `W/"v1"`} {
		w := request("navigate", inm)
		if got := w.Header().Values("Cache-Control"); w.Code != http.StatusOK && w.Code != http.StatusNotModified || !slices.Equal(got, []string{"private, no-cache"}) {
			t.Errorf("%d (If-None-Match %q): Cache-Control %q, want private, no-cache", w.Code, inm, got)
		}
		for _, name := range []string{"Cdn-Cache-Control", "Surrogate-Control"} {
			if got := w.Header().Get(name); got != "" {
				t.Errorf("%d: %s %q passed", w.Code, name, got)
			}
		}
	}
}

// A HEAD for a page answers with the headers its GET goes out with (RFC
// 9110 section 9.3.2): the GET is the bannered page, decoded, of another
// length and a weak ETag, served private without ranges, so the HEAD
// cannot carry the vendor's Content-Length, coding and strong ETag, which
// a cache or a client resuming a download would pair with the bannered
// page.
func TestHeadOfPageHasTheHeadersOfItsGet(t *testing.T) {
	page := []byte("<!doctype html><html><head><title>Desk</title></head><body>" + strings.Repeat("<p>NightDesk answer line.</p>\n", 200) + "</body></html>")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(page) //nolint:errcheck // a bytes.Buffer
	zw.Close()
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=ISO-8859-1")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-abc'")
		w.Header().Set("Vary", "Accept-Encoding")
		body := page
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			body = gz.Bytes()
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body) //nolint:errcheck // net/http drops a HEAD's body
	})
	gw := bannerGateway(t, vendor)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	ask := func(method string) *http.Response {
		r, _ := http.NewRequest(method, gw.URL+"/support/article", nil)
		r.Header.Set("Accept-Encoding", "gzip")
		r.Header.Set("Sec-Fetch-Mode", "navigate")
		res, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body) //nolint:errcheck
		res.Body.Close()
		return res
	}
	get, head := ask(http.MethodGet), ask(http.MethodHead)
	if get.StatusCode != http.StatusOK || head.StatusCode != http.StatusOK {
		t.Fatalf("GET %d, HEAD %d", get.StatusCode, head.StatusCode)
	}
	for _, name := range []string{"Etag", "Content-Encoding", "Content-Type", "Cache-Control", "Accept-Ranges", "Content-Security-Policy"} {
		if got, want := head.Header.Values(name), get.Header.Values(name); !slices.Equal(got, want) {
			t.Errorf("HEAD %s %q, its GET %q", name, got, want)
		}
	}
	if got := head.Header.Get("Content-Length"); got != "" && got != get.Header.Get("Content-Length") {
		t.Errorf("HEAD Content-Length %s, its GET %q: a HEAD may leave it out, never differ", got, get.Header.Get("Content-Length"))
	}
}

// A customer's Range never splices a part of the vendor's own page onto
// the bannered page it holds: the banner cannot go into a part, and the
// vendor's bytes from an offset are not those of the page the customer
// got. A navigation, or a request whose If-Range may name a bannered page
// (its Last-Modified date, its weakened ETag), gets the whole page with
// its banner; a download resumed with the strong ETag of what passed as
// it is keeps its range.
func TestRangeOfABanneredPageIsTheWholePage(t *testing.T) {
	page := "<!doctype html><html><head><title>Desk</title></head><body>" + strings.Repeat("<p>NightDesk answer line.</p>\n", 100) + "</body></html>"
	manual := strings.Repeat("%PDF NightDesk manual ", 100)
	modified := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		// ServeContent answers Range and If-Range as RFC 9110 asks.
		if r.URL.Path == "/support/manual.pdf" {
			w.Header().Set("ETag", `"m1"`)
			w.Header().Set("Content-Type", "application/pdf")
			http.ServeContent(w, r, "manual.pdf", modified, strings.NewReader(manual))
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "article.html", modified, strings.NewReader(page))
	})
	banner := provisionHandler(t, nightdeskSite(vendor.addr()), monday10)
	gw := gatewayFor(t, banner)
	get := func(path, mode, ifRange string, ranged bool) (*http.Response, string) {
		r, _ := http.NewRequest(http.MethodGet, gw.URL+path, nil)
		r.Header.Set("Sec-Fetch-Mode", mode)
		if ranged {
			r.Header.Set("Range", "bytes=100-")
		}
		if ifRange != "" {
			r.Header.Set("If-Range", ifRange)
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return res, string(body)
	}
	first, _ := get("/support/article", "navigate", "", false)
	for _, c := range []struct{ mode, ifRange string }{
		{"navigate", first.Header.Get("Last-Modified")},
		{"navigate", first.Header.Get("ETag")},
		{"navigate", ""},
		{"cors", first.Header.Get("Last-Modified")},
		{"cors", first.Header.Get("ETag")},
	} {
		res, body := get("/support/article", c.mode, c.ifRange, true)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(body, "<!doctype html>") || strings.Count(body, `id="frontdoor-banner"`) != 1 {
			t.Errorf("Range bytes=100- (%s, If-Range %q): %d %s, %d bytes starting %.30q with %d banners; want the whole page with its banner",
				c.mode, c.ifRange, res.StatusCode, res.Header.Get("Content-Range"), len(body), body, strings.Count(body, `id="frontdoor-banner"`))
		}
	}
	res, body := get("/support/manual.pdf", "navigate", `"m1"`, true)
	if res.StatusCode != http.StatusPartialContent || body != manual[100:] {
		t.Errorf("a download resumed with its strong ETag: %d, %d bytes; want the 206 of its rest", res.StatusCode, len(body))
	}

	// A backend without the banner, failed over to, gets the customer's
	// (another config, whose journey of the same name is another).
	anotherConfig(banner)
	h := waitsSite(t, func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler) // the vendor hangs up without answering
	}, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s; %s", r.Header.Get("Range"), r.Header.Get("If-Range"))
	})
	r := httptest.NewRequest(http.MethodGet, "/support/article", nil)
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	r.Header.Set("Range", "bytes=100-")
	r.Header.Set("If-Range", "Mon, 02 Nov 2026 09:00:00 GMT")
	if w := serve(t, h, r, nil); w.Body.String() != "bytes=100-; Mon, 02 Nov 2026 09:00:00 GMT" {
		t.Errorf("the in-house backend failed over to got %d %q, want the customer's Range and If-Range", w.Code, w.Body.String())
	}
}
