package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/websocket"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// The vendor boundary (issue 20), where a browser decides: what one
// vendor page of cookies does to the customer's brand session and to
// every other brand page.

// cookieBomb is a hostile desk: /v/big sets 8 cookies of 4000 bytes on
// the whole origin, /v/many sets 200 small ones; every page echoes the
// cookies it got.
func cookieBomb(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v/big":
		for i := range 8 {
			w.Header().Add("Set-Cookie", fmt.Sprintf("big%d=%s; Path=/; Max-Age=3600", i, strings.Repeat("x", 4000)))
		}
	case "/v/many":
		for i := range 200 {
			w.Header().Add("Set-Cookie", fmt.Sprintf("many%d=%d; Path=/; Max-Age=3600", i, i))
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "desk got %d bytes of cookies", len(r.Header.Get("Cookie")))
}

// TestVendorCookiesCannotLockOutTheCustomer: after any single vendor page
// of cookies the customer keeps the brand session and every brand path.
// Before jars had a budget and the journey's path, the big cookies made
// every brand page a plain 431 and the many evicted the brand session.
func TestVendorCookiesCannotLockOutTheCustomer(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	shop := startBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/login") {
			http.SetCookie(w, &http.Cookie{Name: "acme_session", Value: "REAL", Path: "/", HttpOnly: true})
		}
		w.Header().Set("Content-Type", "text/plain")
		session := "none"
		if c, err := r.Cookie("acme_session"); err == nil {
			session = c.Value
		}
		fmt.Fprintf(w, "shop session %s", session)
	})
	desk := startBackend(t, "desk", cookieBomb)
	carrier := startBackend(t, "carrier", nil)
	gw := containmentSite(t, rs.URL(), shop, desk, carrier)
	ctx := newBrowser(t)
	page := func(path string) string { return pageText(t, ctx, gw.URL+path) }
	page("/own/login")
	if got := page("/own/account"); got != "shop session REAL" {
		t.Fatalf("after login: %q", got)
	}
	for _, bomb := range []string{"/v/many", "/v/big"} {
		page(bomb)
		for path, want := range map[string]string{
			"/":              "brand home",
			"/own/account":   "shop session REAL",
			"/track/parcel":  "hello from carrier",
			"/v/after-bombs": "desk got",
		} {
			if got := page(path); !strings.Contains(got, want) {
				t.Errorf("after %s, %s answered %q, want %q", bomb, path, got, want)
			}
		}
	}
	m := gw.metrics(t)
	dropped := 0.0
	for _, reason := range []string{"bytes", "count"} {
		v, _ := metricValue(m, fmt.Sprintf(`frontdoor_vendor_cookies_dropped_total{backend="nightdesk",journey="support",reason=%q}`, reason))
		dropped += v
	}
	// The jar's default budget keeps 20 of the 200 small cookies, and none
	// of the big ones beside them.
	if dropped != 180+8 {
		t.Errorf("%v vendor cookies dropped, want 188", dropped)
	}
}

// raceBinary is the frontdoor binary built with the race detector, for
// the tests of the response path (raceTests), built once: in the
// background from the start of the run when it includes one of them (see
// run), else by the first test that asks for it. The build runs at the
// lowest CPU priority: it takes only the CPU that the tests running
// meanwhile, some of which measure time, leave idle.
var raceBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(runDir, "frontdoor-race")
	build := exec.CommandContext(runCtx, "nice", "-n", "19", "go", "build", "-race", "-o", bin, "../cmd/frontdoor")
	// Ending the run ends the build, compilers included.
	build.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	build.Cancel = func() error { return syscall.Kill(-build.Process.Pid, syscall.SIGKILL) }
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building frontdoor with -race: %v\n%s", err, out)
	}
	return bin, nil
})

// raceTests are the tests that run raceBinary.
var raceTests = []string{"TestLargeCompressedPageUnderRace", "TestChatClosedAtStreamCloseDelayUnderRace"}

// TestLargeCompressedPageUnderRace: a vendor answering a 490 KB page
// gzip-encoded, chunked and without Content-Type, in small writes. The
// sniffer used to re-wire the writer from the decoding goroutine: the race
// detector reported the injector written from two goroutines, and the
// customer got 32 KiB of page, then raw gzip, and no banner.
func TestLargeCompressedPageUnderRace(t *testing.T) {
	t.Parallel() // it waits for raceBinary; the page's content is what counts, not its speed
	bin, err := raceBinary()
	if err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	page.WriteString("<!doctype html><html><head><title>ticket</title></head><body>")
	for i := 0; page.Len() < 490<<10; i++ {
		fmt.Fprintf(&page, "<p>ticket line %d, nothing to see</p>\n", i)
	}
	page.WriteString("</body></html>")
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(page.String()))
	zw.Close()
	desk := startBackend(t, "desk", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil
		w.Header().Set("Content-Encoding", "gzip")
		for z := zipped.Bytes(); len(z) > 0; {
			n := min(len(z), 1024)
			w.Write(z[:n])
			w.(http.Flusher).Flush()
			z = z[n:]
			time.Sleep(200 * time.Microsecond) // a slow vendor's pace, so the gateway reads small writes
		}
	})
	gw := startGatewayWith(t, bin, frontdoorBlock(fmt.Sprintf(`
		journey support /v/* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
			}
		}`, desk.URL)))
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	want := page.String()[:len(page.String())-len("</body></html>")]
	for i := range 10 {
		resp, err := client.Get(gw.URL + "/v/ticket")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(string(body), want) || strings.Count(string(body), `id="frontdoor-banner"`) != 1 {
			t.Errorf("request %d: %d bytes (%s), %d banners; want the %d-byte page decoded with one banner", i, len(body),
				resp.Header.Get("Content-Type"), strings.Count(string(body), `id="frontdoor-banner"`), page.Len())
		}
	}
	if logs := gw.logs.String(); strings.Contains(logs, "DATA RACE") {
		t.Errorf("the race detector reported a race:\n%s", logs)
	}
}

// TestWebSocketOverHTTP2ThroughBannerBackend: a chat over HTTP/2
// (extended CONNECT, RFC 8441, which Go's server offers with
// GODEBUG=http2xconnect=1) through a vendor whose pages get the banner.
// Only a 101 counted as a stream: the CONNECT's 200 got a body plan, the
// sniffer held its headers back, the chat never opened, and
// frontdoor_streams_total missed it.
func TestWebSocketOverHTTP2ThroughBannerBackend(t *testing.T) {
	t.Setenv("GODEBUG", "http2xconnect=1")                               // inherited by the gateway
	echo := websocket.Handler(func(c *websocket.Conn) { io.Copy(c, c) }) //nolint:errcheck
	desk := startBackend(t, "desk", func(w http.ResponseWriter, r *http.Request) { echo.ServeHTTP(w, r) })
	g, site := startTLSGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey support /v/* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
			}
		}`, desk.URL)))
	resp, clientSide := openHTTP2Chat(t, site, "/v/chat", "")
	// One masked text frame out, its echo back unmasked (RFC 6455 5.2).
	msg := []byte("hello desk")
	if _, err := clientSide.Write(maskedFrame(0x1, msg)); err != nil {
		t.Fatal(err)
	}
	echoed := make([]byte, 2+len(msg))
	if _, err := io.ReadFull(resp.Body, echoed); err != nil || string(echoed[2:]) != string(msg) {
		t.Fatalf("echo: %q %v", echoed, err)
	}
	clientSide.Close()
	resp.Body.Close()
	waitDeskStreams(t, g, 1)
}

// TestEncodedSlashCannotCarryCookiesAcrossJourneys: for the browser,
// /checkout/..%2fsupport/x is a page under /checkout (WHATWG URL parsing
// leaves "..%2f" in its segment), so it sends the shop's Path=/checkout
// cookies with it; Caddy matches journeys on the decoded, cleaned path,
// /support/x. A link (on a vendor page, in a mail) to such a path handed
// the in-house shop's cookies to the outsourced desk; now it is refused.
// A path with an encoded slash and no dot segment still goes through.
func TestEncodedSlashCannotCarryCookiesAcrossJourneys(t *testing.T) {
	t.Parallel()
	shop := startBackend(t, "shop", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "cart", Value: "C-42", Path: "/checkout", HttpOnly: true})
		fmt.Fprint(w, "shop")
	})
	desk := startBackend(t, "desk", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "desk got cookies [%s]", r.Header.Get("Cookie"))
	})
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey checkout /checkout* {
			backend shop {
				owner in-house
				to %s
			}
		}
		journey support /support* {
			backend desk {
				owner outsourced
				vendor "NightDesk BPO"
				banner off
				to %s
			}
		}`, shop.URL, desk.URL)))
	ctx := newBrowser(t)
	pageText(t, ctx, gw.URL+"/checkout/cart")
	if got := pageText(t, ctx, gw.URL+"/support/x"); !strings.Contains(got, "desk got cookies []") {
		t.Fatalf("baseline: the desk's own page shows %q", got)
	}
	before := desk.count()
	// Refused with an empty 400, which Chromium reports as a failed load
	// and replaces with its own error page.
	err := chromedp.Do(ctx, chromedp.Navigate(gw.URL+"/checkout/..%2fsupport/x"))
	if err != nil && !strings.Contains(err.Error(), "ERR_HTTP_RESPONSE_CODE_FAILURE") {
		t.Fatalf("loading /checkout/..%%2fsupport/x: %v", err)
	}
	if desk.count() != before {
		last := desk.last(t)
		t.Errorf("the browser sent the shop's Path=/checkout cookie with /checkout/..%%2fsupport/x, and frontdoor gave it to the outsourced desk (%q, Cookie %q)",
			last.RequestURI, last.Header.Get("Cookie"))
	} else if err == nil {
		t.Errorf("the browser loaded /checkout/..%%2fsupport/x: %q", browse(t, ctx, chromedp.Evaluate[string](`document.body.innerText`)))
	}
	for _, path := range []string{"/checkout/..%2Fsupport/x", "/checkout/%2e%2e%2fsupport/x", "/checkout/..%5csupport/x", "/checkout/.%2f..%2fsupport/x"} {
		if resp, _ := do(t, "GET", gw.URL+path, nil, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", path, resp.StatusCode)
		}
	}
	if desk.count() != before {
		t.Errorf("the desk got %d of the requests that hide a dot segment", desk.count()-before)
	}
	if resp, body := do(t, "GET", gw.URL+"/support/orders/A%2F1", nil, nil); resp.StatusCode != http.StatusOK || desk.last(t).RequestURI != "/support/orders/A%2F1" {
		t.Errorf("an encoded slash without a dot segment: %d %q, the desk got %q", resp.StatusCode, body, desk.last(t).RequestURI)
	}
}
