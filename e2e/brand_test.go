package e2e

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const bannerMarker = `id="frontdoor-banner"`

// vendorPages is a vendor that answers the page its path names.
func vendorPages(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	switch r.URL.Path {
	case "/v/page":
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, "<html><body><h1>Vendor</h1></BODY ></html>")
	case "/v/nobody":
		fmt.Fprint(w, "<h1>fragment without body end</h1>")
	case "/v/gzip":
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			fmt.Fprint(w, "<html><body>plain because no gzip accepted</body></html>")
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		fmt.Fprint(zw, "<html><body><p>"+strings.Repeat("compressed ", 5000)+"</p></body></html>")
		zw.Close()
	case "/v/gzip-chunks":
		// Flushed gzip chunks: the proxy flushes while frontdoor is still
		// decompressing, which once raced on the customer's connection.
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		fmt.Fprint(zw, "<html><body>")
		for i := 0; i < 40; i++ {
			fmt.Fprintf(zw, "<p>chunk %02d %s</p>", i, strings.Repeat("x", 4000))
			zw.Flush()
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(zw, "<p>end</p></body></html>")
		zw.Close()
	case "/v/csp":
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-abc'")
		fmt.Fprint(w, "<html><body>strict</body></html>")
	case "/v/missing":
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<html><body>no such parcel</body></html>")
	case "/v/crash":
		w.Header().Set("X-Vendor-Trace", "VendorCRM.java:42")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, "<html><body>NullPointerException at VendorCRM.java:42</body></html>")
	case "/v/download":
		w.Header().Set("Content-Disposition", `attachment; filename="label.html"`)
		fmt.Fprint(w, "<html><body>label</body></html>")
	case "/v/slow-stream":
		fmt.Fprint(w, "<html><body><p>first part</p>")
		w.(http.Flusher).Flush()
		hold(r, 1500*time.Millisecond)
		fmt.Fprint(w, "<p>second part</p></body></html>")
	case "/v/json":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	default:
		fmt.Fprint(w, "<html><body>default</body></html>")
	}
}

func brandSite(t *testing.T, vendorURL, inhouseURL string, extra string) *gateway {
	return startGateway(t, brandJourneys(vendorURL, inhouseURL, extra))
}

// brandJourneys is brandSite's site block: a vendor journey under /v/ and
// an in-house one under /own/.
func brandJourneys(vendorURL, inhouseURL string, extra string) string {
	return frontdoorBlock(fmt.Sprintf(`
		journey vendor /v/* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				to %s
				flush_interval -1
				%s
			}
		}
		journey own /own/* {
			backend shop {
				owner in-house
				to %s
			}
		}`, vendorURL, extra, inhouseURL))
}

func TestBannerOnVendorPages(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", vendorPages)
	inhouse := startBackend(t, "inhouse", vendorPages)
	gw := brandSite(t, vendor.URL, inhouse.URL, "")

	resp, body := do(t, "GET", gw.URL+"/v/page", nil, nil)
	ref := resp.Header.Get("X-Request-Id")
	if n := strings.Count(body, bannerMarker); n != 1 {
		t.Fatalf("banner appears %d times in %q", n, body)
	}
	if i, j := strings.Index(body, bannerMarker), strings.Index(body, "</BODY >"); i < 0 || j < i {
		t.Errorf("banner is not before </body>: %q", body)
	}
	for _, want := range []string{"+1 800 555 0100", "help@acme.example", "Acme Outdoor", ref, `role="complementary"`} {
		if !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("banner lacks %q", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("banner uses a script")
	}
	if etag := resp.Header.Get("Etag"); etag != `W/"v1"` {
		t.Errorf("ETag %q, want weakened", etag)
	}
	// The banner and what closes a page left open change the length: the
	// vendor's Content-Length goes, and the page is chunked.
	if resp.ContentLength != -1 && resp.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d, body %d", resp.ContentLength, len(body))
	}

	_, body = do(t, "GET", gw.URL+"/v/nobody", nil, nil)
	if !strings.HasPrefix(body, "<h1>fragment without body end</h1>") || strings.Count(body, bannerMarker) != 1 {
		t.Errorf("banner not appended: %q", body)
	}

	// A 4xx from the vendor passes through, with the banner.
	resp, body = do(t, "GET", gw.URL+"/v/missing", nil, nil)
	if resp.StatusCode != 404 || !strings.Contains(body, "no such parcel") || strings.Count(body, bannerMarker) != 1 {
		t.Errorf("vendor 404: %d %q", resp.StatusCode, body)
	}

	// No banner on in-house pages, attachments, HEAD, or non-HTML.
	for _, path := range []string{"/own/page", "/v/download", "/v/json"} {
		if _, body := do(t, "GET", gw.URL+path, nil, nil); strings.Contains(body, bannerMarker) {
			t.Errorf("%s got a banner", path)
		}
	}
	if resp, body := do(t, "HEAD", gw.URL+"/v/page", nil, nil); resp.StatusCode != 200 || body != "" {
		t.Errorf("HEAD: %d %q", resp.StatusCode, body)
	}

	m := gw.metrics(t)
	for series, want := range map[string]float64{
		`frontdoor_banner_injections_total{backend="shipco",journey="vendor",result="injected"}`: 2,
		`frontdoor_banner_injections_total{backend="shipco",journey="vendor",result="appended"}`: 1,
		`frontdoor_banner_injections_total{backend="shipco",journey="vendor",result="skipped"}`:  2,
	} {
		if v, _ := metricValue(m, series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
}

func TestBannerOnGzipVendor(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", vendorPages)
	gw := brandSite(t, vendor.URL, vendor.URL, "")

	// Go's client asks for gzip and decompresses transparently.
	resp, body := do(t, "GET", gw.URL+"/v/gzip", nil, nil)
	if resp.StatusCode != 200 || strings.Count(body, bannerMarker) != 1 || !strings.Contains(body, "compressed compressed") {
		t.Fatalf("gzip vendor: %d, banner %d, %d bytes", resp.StatusCode, strings.Count(body, bannerMarker), len(body))
	}
	if i, j := strings.Index(body, bannerMarker), strings.Index(body, "</body>"); j < i {
		t.Error("banner after </body>")
	}
	for i := 0; i < 10; i++ {
		_, body := do(t, "GET", gw.URL+"/v/gzip-chunks", nil, nil)
		if strings.Count(body, bannerMarker) != 1 || !strings.Contains(body, "chunk 39") || !strings.HasSuffix(body, "</body></html>") {
			t.Fatalf("flushed gzip page %d: banner %d times, %d bytes", i, strings.Count(body, bannerMarker), len(body))
		}
	}
	// A customer that accepts no gzip gets none from the vendor either.
	_, body = do(t, "GET", gw.URL+"/v/gzip", nil, map[string]string{"Accept-Encoding": "br"})
	if !strings.Contains(body, "plain because no gzip accepted") || strings.Count(body, bannerMarker) != 1 {
		t.Errorf("identity request: %q", body)
	}
	if got := vendor.last(t).Header.Get("Accept-Encoding"); got != "identity" {
		t.Errorf("vendor was offered %q, want identity", got)
	}
}

func TestBannerUnderStrictCSP(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", vendorPages)
	gw := brandSite(t, vendor.URL, vendor.URL, "")
	resp, body := do(t, "GET", gw.URL+"/v/csp", nil, nil)
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "default-src 'none'; style-src 'nonce-abc' 'sha256-") {
		t.Errorf("CSP not extended for the banner style: %q", csp)
	}
	if strings.Count(body, bannerMarker) != 1 {
		t.Error("no banner under CSP")
	}
}

func TestBannerStreamsBeforeVendorFinishes(t *testing.T) {
	vendor := startBackend(t, "vendor", vendorPages)
	gw := brandSite(t, vendor.URL, vendor.URL, "")
	start := time.Now()
	resp, err := http.Get(gw.URL + "/v/slow-stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	first, err := r.ReadString('>')
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("first bytes (%q) after %s: the page is buffered, not streamed", first, el)
	}
	rest, _ := io.ReadAll(r)
	if !strings.Contains(string(rest), "second part") || strings.Count(string(rest), bannerMarker) != 1 {
		t.Errorf("rest of stream: %q", rest)
	}
}

func TestBrandErrorPages(t *testing.T) {
	vendor := startBackend(t, "vendor", vendorPages)
	stall := startBackend(t, "stall", func(w http.ResponseWriter, r *http.Request) { hold(r, 3*time.Second) })
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey vendor /v/* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				to %s
			}
		}
		journey refused /refused* {
			backend gone {
				owner outsourced
				vendor Gone
				to %s
			}
		}
		journey stalled /stalled* {
			backend stuck {
				owner outsourced
				vendor Stuck
				to %s
				transport http {
					response_header_timeout 300ms
				}
			}
		}`, vendor.URL, deadAddr(t), stall.URL)))

	for path, status := range map[string]int{"/v/crash": 500, "/refused": 502, "/stalled": 504} {
		resp, body := do(t, "GET", gw.URL+path, nil, map[string]string{"Accept": "text/html"})
		ref := resp.Header.Get("X-Request-Id")
		if resp.StatusCode != status {
			t.Errorf("%s: status %d, want %d", path, resp.StatusCode, status)
		}
		for _, want := range []string{"Acme Outdoor", "+1 800 555 0100", ref} {
			if !strings.Contains(html.UnescapeString(body), want) {
				t.Errorf("%s: error page lacks %q:\n%s", path, want, body)
			}
		}
		for _, leak := range []string{"VendorCRM", "NullPointer", "ShipCo"} {
			if strings.Contains(body, leak) || strings.Contains(fmt.Sprint(resp.Header), leak) {
				t.Errorf("%s: vendor detail %q reached the customer", path, leak)
			}
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: content type %q", path, resp.Header.Get("Content-Type"))
		}

		resp, body = do(t, "GET", gw.URL+path, nil, map[string]string{"Accept": "application/json"})
		var page struct {
			Error     string            `json:"error"`
			Reference string            `json:"reference"`
			Contact   map[string]string `json:"contact"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Errorf("%s JSON: %v: %q", path, err, body)
		}
		if page.Reference != resp.Header.Get("X-Request-Id") || page.Contact["phone"] != "+1 800 555 0100" || page.Error == "" {
			t.Errorf("%s JSON page: %+v", path, page)
		}
	}
	m := gw.metrics(t)
	for series, want := range map[string]float64{
		`frontdoor_error_pages_total{backend="shipco",code="500",journey="vendor"}`: 2,
		`frontdoor_error_pages_total{backend="gone",code="502",journey="refused"}`:  2,
		`frontdoor_error_pages_total{backend="stuck",code="504",journey="stalled"}`: 2,
	} {
		if v, _ := metricValue(m, series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
}

func TestCaddyEncodeStillCompressesBanneredPages(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", vendorPages)
	gw := startGateway(t, "\tencode gzip\n"+frontdoorBlock(fmt.Sprintf(`
		journey vendor /v/* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				to %s
			}
		}`, vendor.URL)))
	// Ask by hand so Go's client does not decompress behind our back.
	req, _ := http.NewRequest("GET", gw.URL+"/v/gzip", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q: the customer should get a compressed page", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(zr)
	if strings.Count(string(page), bannerMarker) != 1 || !strings.Contains(string(page), "compressed compressed") {
		t.Errorf("decompressed page: banner %d times, %d bytes", strings.Count(string(page), bannerMarker), len(page))
	}
}

func TestCustomBannerAndErrorTemplates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bannerFile := filepath.Join(dir, "banner.html")
	errorFile := filepath.Join(dir, "error.html")
	os.WriteFile(bannerFile, []byte(`<aside id="acme-help">Call {{.Brand}} on {{.Phone}} (ref {{.Reference}})</aside>`), 0o600)
	os.WriteFile(errorFile, []byte(`<!doctype html><p>{{.Brand}} is sorry: {{.Message}}. Ref {{.Reference}}, code {{.Status}}</p>`), 0o600)
	vendor := startBackend(t, "vendor", vendorPages)
	gw := startGateway(t, fmt.Sprintf(`	frontdoor {
		brand "Acme Outdoor"
		contact {
			phone "+1 800 555 0100"
		}
		banner_template %s
		error_template %s
		journey vendor /v/* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				to %s
			}
		}
	}`, bannerFile, errorFile, vendor.URL))
	resp, body := do(t, "GET", gw.URL+"/v/page", nil, nil)
	want := "Call Acme Outdoor on +1 800 555 0100 (ref " + resp.Header.Get("X-Request-Id") + ")"
	if !strings.Contains(html.UnescapeString(body), want) || strings.Contains(body, bannerMarker) {
		t.Errorf("custom banner missing: %q", body)
	}
	resp, body = do(t, "GET", gw.URL+"/v/crash", nil, nil)
	if resp.StatusCode != 500 || !strings.Contains(body, "Acme Outdoor is sorry") || !strings.Contains(body, resp.Header.Get("X-Request-Id")) {
		t.Errorf("custom error page: %d %q", resp.StatusCode, body)
	}

	// A template that does not parse is a config error, caught by validate.
	os.WriteFile(bannerFile, []byte(`{{.Brand`), 0o600)
	cfg := filepath.Join(dir, "Caddyfile")
	os.WriteFile(cfg, []byte(fmt.Sprintf("http://127.0.0.1:1 {\n\tfrontdoor {\n\t\tbrand A\n\t\tbanner_template %s\n\t\tjourney j /j* {\n\t\t\tbackend b {\n\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1\n\t\t\t}\n\t\t}\n\t}\n}\n", bannerFile)), 0o600)
	if out, err := frontdoorCmd(t, "validate", "--config", cfg, "--adapter", "caddyfile"); err == nil || !strings.Contains(out, "banner_template") {
		t.Errorf("broken banner template accepted: %v %s", err, lastLine(out))
	}
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmHWM:"), "kB")), &kb)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func TestBanner100MBPageStreamsWithFlatMemory(t *testing.T) {
	t.Parallel()
	const size = 100 << 20
	chunk := []byte(strings.Repeat("<p>parcel history line</p>\n", 1024))
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>")
		if r.URL.Path != "/v/big" {
			io.WriteString(w, "small</body></html>")
			return
		}
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		io.WriteString(w, "</body></html>")
	})
	gw := brandSite(t, vendor.URL, vendor.URL, "")
	do(t, "GET", gw.URL+"/v/page", nil, nil) // warm up
	before := peakRSS(t, gw.cmd.Process.Pid)

	resp, err := http.Get(gw.URL + "/v/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read it as it streams, keeping only the tail to find the banner.
	var n int64
	tail := make([]byte, 0, 64<<10)
	buf := make([]byte, 32<<10)
	for {
		k, err := resp.Body.Read(buf)
		n += int64(k)
		tail = append(tail, buf[:k]...)
		if len(tail) > 32<<10 {
			tail = append(tail[:0], tail[len(tail)-16<<10:]...)
		}
		if err != nil {
			break
		}
	}
	growth := peakRSS(t, gw.cmd.Process.Pid) - before
	t.Logf("streamed %d MB; gateway peak RSS grew %d KiB", n>>20, growth>>10)
	if n < size || !strings.Contains(string(tail), bannerMarker) || !strings.HasSuffix(string(tail), "</body></html>") {
		t.Errorf("got %d bytes; banner at the end: %v", n, strings.Contains(string(tail), bannerMarker))
	}
	if growth > 32<<20 {
		t.Errorf("peak RSS grew %d MiB streaming a 100 MB page, want < 32 MiB", growth>>20)
	}
}
