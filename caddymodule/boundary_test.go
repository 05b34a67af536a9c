package caddymodule

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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

// TestUnrequestedUpgradeGetsABrandPage: a vendor that switches protocols
// on a request that asked for no upgrade gave the customer an empty 200.
func TestUnrequestedUpgradeGetsABrandPage(t *testing.T) {
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
				http.ReadRequest(bufio.NewReader(c))
				c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello"))
				io.Copy(io.Discard, c) // until the gateway hangs up
			}()
		}
	}()
	h := provisionHandler(t, fmt.Sprintf(vendorBlock, l.Addr().String()), time.Now())
	rec := serve(t, h, httptest.NewRequest("GET", "/support/x", nil), nil)
	if rec.Code != http.StatusBadGateway || rec.Header().Get(headerRequest) == "" || !strings.Contains(rec.Body.String(), "Acme Outdoor") {
		t.Errorf("got %d %q, want the brand 502 page", rec.Code, rec.Body)
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
