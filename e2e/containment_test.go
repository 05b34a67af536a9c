package e2e

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/net/http2"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// containmentSite puts an in-house shop, a vendor support desk and a
// carrier behind one brand with a session cookie and a stripped cookie.
func containmentSite(t *testing.T, redisURL string, shop, desk, carrier *backend) *gateway {
	return startGateway(t, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
			strip_cookies tracking_consent
		}
		journey own /own/* {
			backend shop {
				owner in-house
				to %s
			}
		}
		journey support /v/* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
			}
		}
		journey tracking /track/* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				to %s
			}
		}`, redisURL, shop.URL, desk.URL, carrier.URL)))
}

// cookieEcho prints the Cookie header it received; /own/login and
// /v/plant set cookies first.
func cookieEcho(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/login"):
			http.SetCookie(w, &http.Cookie{Name: "acme_session", Value: "REAL", Path: "/", HttpOnly: true})
			http.SetCookie(w, &http.Cookie{Name: "tracking_consent", Value: "yes", Path: "/"})
		case strings.HasSuffix(r.URL.Path, "/plant"):
			// A hostile vendor: fix the brand session for the in-house
			// shop, log the customer out, flip the brand's consent cookie,
			// and keep a session of its own.
			w.Header().Add("Set-Cookie", "acme_session=VENDORCHOSEN; Path=/own")
			w.Header().Add("Set-Cookie", "acme_session=; Path=/; Max-Age=0")
			w.Header().Add("Set-Cookie", "tracking_consent=no; Path=/")
			w.Header().Add("Set-Cookie", "=acme_session=NAMELESS; Path=/")
			w.Header().Add("Set-Cookie", name+"_sid=S-"+name+"; Path=/; HttpOnly")
			w.Header().Add("Set-Cookie", "__Host-"+name+"_pref=P-"+name+"; Path=/; Secure")
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s got cookies [%s]", name, r.Header.Get("Cookie"))
	}
}

// TestVendorCannotSetBrandCookies drives Chromium through a login on the
// in-house shop, a visit to a hostile vendor page and back: the customer's
// brand session survives, and each vendor's own cookies reach only it.
func TestVendorCannotSetBrandCookies(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	shop := startBackend(t, "shop", cookieEcho("shop"))
	desk := startBackend(t, "desk", cookieEcho("desk"))
	carrier := startBackend(t, "carrier", cookieEcho("carrier"))
	gw := containmentSite(t, rs.URL(), shop, desk, carrier)
	ctx := newBrowser(t)

	page := func(path string) string { return pageText(t, ctx, gw.URL+path) }
	page("/own/login")
	page("/v/plant")
	page("/track/plant")

	own := page("/own/account")
	if strings.Count(own, "acme_session=") != 1 || !strings.Contains(own, "acme_session=REAL") {
		t.Errorf("the in-house shop saw the brand session cookie planted or removed by a vendor: %s", own)
	}
	if !strings.Contains(own, "tracking_consent=yes") {
		t.Errorf("a vendor overwrote the brand's strip_cookies cookie: %s", own)
	}
	for _, leak := range []string{"S-desk", "S-carrier", "P-desk", "P-carrier", "NAMELESS"} {
		if strings.Contains(own, leak) {
			t.Errorf("vendor cookie %s reached the in-house shop: %s", leak, own)
		}
	}

	v := page("/v/next")
	if !strings.Contains(v, "desk_sid=S-desk") || !strings.Contains(v, "__Host-desk_pref=P-desk") {
		t.Errorf("the desk did not get back its own cookies under the names it set: %s", v)
	}
	// tracking_consent=no and acme_session are the desk's own, in its jar.
	for _, leak := range []string{"S-carrier", "P-carrier", "REAL", "tracking_consent=yes"} {
		if strings.Contains(v, leak) {
			t.Errorf("the desk received %s: %s", leak, v)
		}
	}
	c := page("/track/next")
	if !strings.Contains(c, "carrier_sid=S-carrier") || strings.Contains(c, "S-desk") {
		t.Errorf("the carrier's jar is not its own: %s", c)
	}
}

// TestDuplicateSessionCookieIsNotResolved: a session cookie sent twice
// with different values (one possibly planted before the jars existed)
// resolves to no session rather than to either.
func TestDuplicateSessionCookieIsNotResolved(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	seedSession(t, rs, "VENDORCHOSEN", "customer_id", "C-EVIL")
	seedSession(t, rs, sessionID, "customer_id", "C-1001")
	inhouse := startBackend(t, "inhouse", nil)
	vendor := startBackend(t, "vendor", nil)
	gw := contextSite(t, rs.URL(), inhouse, vendor, "0s")
	do(t, "GET", gw.URL+"/account", nil, map[string]string{"Cookie": "acme_session=VENDORCHOSEN; acme_session=" + sessionID})
	got := inhouse.last(t)
	if id := got.Header.Get("X-Frontdoor-Context-Customer-Id"); id != "" {
		t.Errorf("two different session cookies resolved to customer %q", id)
	}
	if s := got.Header.Get("X-Frontdoor-Session"); s != "none" {
		t.Errorf("X-Frontdoor-Session %q, want none", s)
	}
}

// TestHopByHopCannotRemoveReservedHeaders: a client naming frontdoor's
// headers in Connection must not make the proxy drop them.
func TestHopByHopCannotRemoveReservedHeaders(t *testing.T) {
	t.Parallel()
	gw, _, vendor := danaSite(t)
	h := withCookie(sessionID)
	h["Connection"] = "keep-alive, X-Frontdoor-Assertion, x-frontdoor-session, X_Request_Id, X-Frontdoor-Context-Tier"
	do(t, "GET", gw.URL+"/support/chat", nil, h)
	got := vendor.last(t)
	for _, name := range []string{"X-Frontdoor-Assertion", "X-Frontdoor-Session", "X-Request-Id", "X-Frontdoor-Context-Tier"} {
		if got.Header.Get(name) == "" {
			t.Errorf("%s was dropped because the client listed it in Connection", name)
		}
	}
}

// TestRequestTrailersCannotSmuggle: trailers declared by a client never
// carry reserved headers or cookies to a backend.
func TestRequestTrailersCannotSmuggle(t *testing.T) {
	t.Parallel()
	gw, _, vendor := danaSite(t)
	addr := strings.TrimPrefix(gw.URL, "http://")
	raw := "POST /support/tickets HTTP/1.1\r\nHost: " + addr + "\r\nTransfer-Encoding: chunked\r\n" +
		"Trailer: X-Frontdoor-Brand, X-Request-Id, Cookie, X-Vendor-Ok\r\nConnection: close\r\n\r\n" +
		"5\r\nhello\r\n0\r\n" +
		"X-Frontdoor-Brand: Evil Corp\r\nX-Request-Id: SPOOFED\r\nCookie: acme_session=" + sessionID + "\r\nX-Vendor-Ok: yes\r\n\r\n"
	status, head, _ := rawExchange(t, addr, []byte(raw))
	if status != http.StatusOK {
		t.Fatalf("chunked POST with trailers: %d %s", status, head)
	}
	got := vendor.last(t)
	if len(got.Trailer) == 0 || got.Trailer.Get("X-Vendor-Ok") != "yes" {
		t.Errorf("an ordinary trailer did not reach the backend: %v", got.Trailer)
	}
	for _, name := range []string{"X-Frontdoor-Brand", "X-Request-Id", "Cookie"} {
		if v := got.Trailer.Values(name); len(v) > 0 {
			t.Errorf("trailer %s smuggled to the vendor: %q", name, v)
		}
	}
	if got.Header.Get("X-Frontdoor-Brand") != "Acme Outdoor" {
		t.Errorf("brand header %q", got.Header.Get("X-Frontdoor-Brand"))
	}
}

// dodgingVendor answers its page in whatever coding the path names, or
// without a Content-Type.
func dodgingVendor(w http.ResponseWriter, r *http.Request) {
	page := "<html><body><h1>Vendor page</h1>" + strings.Repeat("<p>text</p>", 200) + "</body></html>"
	var buf bytes.Buffer
	coding := strings.TrimPrefix(r.URL.Path, "/v/")
	switch coding {
	case "deflate":
		zw, _ := zlib.NewWriterLevel(&buf, zlib.DefaultCompression)
		io.WriteString(zw, page) //nolint:errcheck
		zw.Close()
	case "raw-deflate":
		zw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
		io.WriteString(zw, page) //nolint:errcheck
		zw.Close()
		coding = "deflate"
	case "br":
		// ngx_brotli's default window (512 KiB), within the 1 MiB frontdoor decodes.
		zw := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: 6, LGWin: 19})
		io.WriteString(zw, page) //nolint:errcheck
		zw.Close()
	case "zstd":
		zw, _ := zstd.NewWriter(&buf)
		io.WriteString(zw, page) //nolint:errcheck
		zw.Close()
	case "gzip":
		zw := gzip.NewWriter(&buf)
		io.WriteString(zw, page) //nolint:errcheck
		zw.Close()
	case "compress":
		buf.WriteString("not really LZW, and nobody can read it")
	case "no-type":
		w.Header()["Content-Type"] = nil              // keep Go from sniffing it in the vendor
		io.WriteString(w, "\n  <!DOCTYPE html>"+page) //nolint:errcheck
		return
	case "no-type-gzip":
		w.Header()["Content-Type"] = nil
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, page) //nolint:errcheck
		zw.Close()
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Encoding", coding)
	w.Write(buf.Bytes()) //nolint:errcheck
}

// TestBannerCannotBeDodged: whatever coding the vendor answers in, and
// without a Content-Type, an HTML page reaches the customer with the
// banner; a coding frontdoor cannot read becomes a brand error page.
func TestBannerCannotBeDodged(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", dodgingVendor)
	inhouse := startBackend(t, "inhouse", nil)
	gw := brandSite(t, vendor.URL, inhouse.URL, "")
	accept := map[string]string{"Accept-Encoding": "gzip, deflate, br, zstd"}
	for _, coding := range []string{"gzip", "deflate", "raw-deflate", "br", "zstd", "no-type", "no-type-gzip"} {
		t.Run(coding, func(t *testing.T) {
			resp, body := do(t, "GET", gw.URL+"/v/"+coding, nil, accept)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if enc := resp.Header.Get("Content-Encoding"); enc != "" {
				t.Fatalf("Content-Encoding %q reached the customer undecoded", enc)
			}
			if !strings.Contains(body, bannerMarker) || !strings.Contains(body, "Vendor page") {
				t.Errorf("no banner in the %s page: %.200q", coding, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	t.Run("unreadable coding", func(t *testing.T) {
		resp, body := do(t, "GET", gw.URL+"/v/compress", nil, accept)
		if err := brandErrorPage(resp, []byte(body), "nobody can read"); err != nil {
			t.Error(err)
		}
	})
}

// TestVendorIdentityHeadersScrubbed: the header spellings servers map to
// X-Powered-By go too, and a Location naming the vendor by an
// IPv4-mapped IPv6 address is rewritten like any other.
func TestVendorIdentityHeadersScrubbed(t *testing.T) {
	t.Parallel()
	var vendorPort string
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X_Powered_By"] = []string{"VendorCRM 9"}
		w.Header()["X-Powered_By"] = []string{"VendorCRM 9"}
		w.Header()["x-powered-by"] = []string{"VendorCRM 9"}
		if r.URL.Path == "/v/moved" {
			w.Header().Set("Location", "http://[::ffff:127.0.0.1]:"+vendorPort+"/v/next")
			w.WriteHeader(http.StatusFound)
			return
		}
		fmt.Fprint(w, "ok")
	})
	_, vendorPort, _ = strings.Cut(vendor.Addr, ":")
	inhouse := startBackend(t, "inhouse", nil)
	gw := brandSite(t, vendor.URL, inhouse.URL, "")
	resp, _ := do(t, "GET", gw.URL+"/v/page", nil, nil)
	for name, v := range resp.Header {
		if strings.Contains(strings.Join(v, ","), "VendorCRM") {
			t.Errorf("vendor identity in %s: %q", name, v)
		}
	}
	resp, _ = do(t, "GET", gw.URL+"/v/moved", nil, nil)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != strings.TrimPrefix(gw.URL, "http://") {
		t.Errorf("Location %q not rewritten to the brand host", resp.Header.Get("Location"))
	}
}

// newJarClient is a client with an RFC 6265 cookie jar.
func newJarClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// TestVendorTrailersScrubbed: a vendor cannot declare response trailers
// with names frontdoor owns (a spoofed request id, a note after the body).
func TestVendorTrailersScrubbed(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Request-Id, X-Frontdoor-Note, X-Checksum")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"parcel":"in transit"}`)
		w.(http.Flusher).Flush()
		w.Header().Set("X-Request-Id", "SPOOFED")
		w.Header().Set("X-Frontdoor-Note", "sneaky")
		w.Header().Set("X-Checksum", "abc")
	})
	inhouse := startBackend(t, "inhouse", nil)
	gw := brandSite(t, vendor.URL, inhouse.URL, "")
	resp, err := http.Get(gw.URL + "/v/parcel")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	if resp.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("an ordinary trailer was lost: %v", resp.Trailer)
	}
	for _, name := range []string{"X-Request-Id", "X-Frontdoor-Note"} {
		if v := resp.Trailer.Get(name); v != "" {
			t.Errorf("vendor trailer %s reached the customer: %q", name, v)
		}
	}
}

// headVendor is a vendor that records the head of each request as it
// came on the wire (request line and fields, bytes as sent) and answers
// 200: what a vendor's own HTTP/1.1 parser reads, before any library
// tidies it.
type headVendor struct {
	URL   string
	mu    sync.Mutex
	heads []string
}

func startHeadVendor(t *testing.T) *headVendor {
	t.Helper()
	v := &headVendor{}
	v.URL = "http://" + rawVendor(t, 0, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			head.WriteString(line)
			if err != nil || line == "\r\n" {
				break
			}
		}
		v.mu.Lock()
		v.heads = append(v.heads, head.String())
		v.mu.Unlock()
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok") //nolint:errcheck
	})
	return v
}

func (v *headVendor) all() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.heads)
}

// deskOf is the one-journey gateway in front of an outsourced desk at
// vendorURL, without banner.
func deskOf(vendorURL string) string {
	return frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				banner off
				to %s
			}
		}`, vendorURL))
}

// TestQueryCannotSplitVendorRequestLine: over HTTP/2 a client may put
// spaces and bytes 0x80-0xFF in the query of :path (HPACK carries them,
// Go's server takes them), and the proxy wrote them as they were into
// the vendor's HTTP/1.1 request line: "GET /support/chat?x=1 HTTP/1.0..."
// is a line of four parts, which vendors split where they choose. The
// query now goes out percent-encoded where RFC 3986 does not allow a byte,
// as a browser would have sent it.
func TestQueryCannotSplitVendorRequestLine(t *testing.T) {
	t.Parallel()
	v := startHeadVendor(t)
	_, site := startTLSGateway(t, deskOf(v.URL))
	tr := &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, site+"/support/chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "/support/chat" // sent as the :path's path as it is
	req.URL.RawQuery = "x=1 HTTP/1.0\x85X-Frontdoor-Brand:\xa0Evil&q={a|b}&ok=%20caf%C3%A9"
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET over HTTP/2: %v", err)
	}
	resp.Body.Close()
	heads := v.all()
	if resp.StatusCode != http.StatusOK || len(heads) != 1 {
		t.Fatalf("status %d, the vendor got %d requests", resp.StatusCode, len(heads))
	}
	line, _, _ := strings.Cut(heads[0], "\r\n")
	want := "GET /support/chat?x=1%20HTTP/1.0%85X-Frontdoor-Brand:%A0Evil&q=%7Ba%7Cb%7D&ok=%20caf%C3%A9 HTTP/1.1"
	if line != want {
		t.Errorf("the vendor's request line is %q, want %q", line, want)
	}
}

// TestC1ControlsNeverReachVendor: raw bytes 0x80-0x9F are C1 controls to
// the servers that read request heads as ISO-8859-1 (Python's WSGI, Java
// servlets); in a header value or the query they reached the vendor as
// sent. A header value with a C1 control (a byte 0x80-0x9F outside a
// UTF-8 sequence, or U+0080-U+009F in UTF-8) is refused; Latin-1 letters
// and UTF-8 text pass; the query goes out percent-encoded.
func TestC1ControlsNeverReachVendor(t *testing.T) {
	t.Parallel()
	v := startHeadVendor(t)
	gw := startGateway(t, deskOf(v.URL))
	addr := strings.TrimPrefix(gw.URL, "http://")
	request := func(target, field string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: " + addr + "\r\n" + field + "\r\nConnection: close\r\n\r\n"
	}
	for _, field := range []string{
		"X-Note: a\x85X-Frontdoor-Brand: Evil\x9b31m", // Latin-1 NEL and CSI
		"X-Note: a\xc2\x85b",                          // U+0085 in UTF-8
	} {
		if status, head, _ := rawExchange(t, addr, []byte(request("/support/chat", field))); status != http.StatusBadRequest {
			t.Errorf("%q: status %d %s, want 400", field, status, head)
		}
	}
	if heads := v.all(); len(heads) != 0 {
		t.Errorf("the vendor got requests with C1 controls: %q", heads)
	}
	status, head, _ := rawExchange(t, addr, []byte(request("/support/chat?q=a\x85b", "X-Name: Jos\xe9 Z\xc3\xbcrich")))
	heads := v.all()
	if status != http.StatusOK || len(heads) != 1 {
		t.Fatalf("a query with a C1 byte and a header of Latin-1 and UTF-8 letters: %d %s, the vendor got %d requests", status, head, len(heads))
	}
	if strings.IndexByte(heads[0], 0x85) >= 0 || strings.IndexByte(heads[0], 0x9b) >= 0 || !strings.HasPrefix(heads[0], "GET /support/chat?q=a%85b HTTP/1.1\r\n") {
		t.Errorf("C1 control bytes reached the vendor: %q", heads[0])
	}
	if !strings.Contains(heads[0], "\r\nX-Name: Jos\xe9 Z\xc3\xbcrich\r\n") {
		t.Errorf("a header of Latin-1 and UTF-8 letters did not reach the vendor as sent: %q", heads[0])
	}
}

// TestBrandCookieCannotPassInDisguise: the brand's cookies (the session
// and strip_cookies) were kept from outsourced backends under their exact
// names only, split on ";" only. Vendors' cookie parsers read them under
// other spellings: RFC 2109 parsers (Tomcat's legacy one) split on ",",
// Python's SimpleCookie on spaces; PHP URL-decodes names, maps "." and
// " " to "_" and reads "name[k]" as name; ASP.NET Core ignores case.
// A pair that is, or carries, a brand cookie under any of them is not sent.
func TestBrandCookieCannotPassInDisguise(t *testing.T) {
	t.Parallel()
	gw, inhouse, vendor := danaSite(t)
	for _, cookie := range []string{
		"lang=en, acme_session=" + sessionID,
		"lang=en acme_session=" + sessionID,
		"acme.session=" + sessionID,
		"acme%5Fsession=" + sessionID,
		"acme%5fsession=" + sessionID,
		"acme session=" + sessionID,
		"acme_session[0]=" + sessionID,
		"ACME_SESSION=" + sessionID,
		"tracking.consent=" + sessionID,
	} {
		do(t, "GET", gw.URL+"/support/chat", nil, map[string]string{"Cookie": cookie + "; theme=dark"})
		got := vendor.last(t).Header.Get("Cookie")
		if strings.Contains(got, sessionID) || got != "theme=dark" {
			t.Errorf("Cookie %q: the outsourced vendor received Cookie %q, want only theme=dark", cookie, got)
		}
	}
	do(t, "GET", gw.URL+"/account", nil, map[string]string{"Cookie": "lang=en, acme_session=" + sessionID})
	if got := inhouse.last(t).Header.Get("Cookie"); got != "lang=en, acme_session="+sessionID {
		t.Errorf("the in-house team got Cookie %q, want it as sent", got)
	}
}

// danaSite is contextSite, uncached, with Dana (C-1001, gold) signed in
// under sessionID: the setup of the containment tests that read what each
// backend received of her request.
func danaSite(t *testing.T) (gw *gateway, inhouse, vendor *backend) {
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001", "tier", "gold", "first_name", "Dana")
	inhouse = startBackend(t, "inhouse", nil)
	vendor = startBackend(t, "vendor", nil)
	return contextSite(t, rs.URL(), inhouse, vendor, "0s"), inhouse, vendor
}
