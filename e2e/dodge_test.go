package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// dodgePage is a vendor page that tries to keep the banner from rendering.
type dodgePage struct {
	name         string
	contentTypes []string // one Content-Type field line each
	body         []byte
	header       http.Header // more fields, if any
	status       int         // 0: 200
}

func encodeWith(t transform.Transformer, s string) []byte {
	b, _, err := transform.Bytes(t, []byte(s))
	if err != nil {
		panic(err)
	}
	return b
}

// dodgePages are the tricks of issue 20 and their class: markup in which a
// "</body>" is not the end of the body to a browser, and what a browser
// decides about a response (its type, its charset) that the gateway must
// decide the same way. Each page shows "VENDOR-CONTENT".
func dodgePages() []dodgePage {
	html := []string{"text/html; charset=utf-8"}
	utf16 := unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder()
	page := func(name, body string) dodgePage {
		return dodgePage{name: name, contentTypes: html, body: []byte(body)}
	}
	plain := []byte(`<!doctype html><html><body><p>VENDOR-CONTENT</p></body></html>`)
	xhtmlPage := []byte(`<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head><body><p>VENDOR-CONTENT</p></body></html>`)
	return []dodgePage{
		page("comment", `<!doctype html><html><body><p>VENDOR-CONTENT</p><!-- </body> --><p>more</p></body></html>`),
		page("attribute", `<!doctype html><html><body><p title='</body>'>VENDOR-CONTENT</p></body></html>`),
		page("script-string", `<!doctype html><html><body><p>VENDOR-CONTENT</p><script>var s = "</body>";</script></body></html>`),
		page("textarea", `<!doctype html><html><body><p>VENDOR-CONTENT</p><textarea></body></textarea></body></html>`),
		page("title", `<!doctype html><html><head><title></body></title></head><body><p>VENDOR-CONTENT</p></body></html>`),
		page("style", `<!doctype html><html><head><style>/* </body> */</style></head><body><p>VENDOR-CONTENT</p></body></html>`),
		page("noembed", `<!doctype html><html><body><p>VENDOR-CONTENT</p><noembed></body></noembed></body></html>`),
		page("noscript", `<!doctype html><html><body><p>VENDOR-CONTENT</p><noscript></body></noscript></body></html>`),
		page("template", `<!doctype html><html><body><p>VENDOR-CONTENT</p><template></body></template></body></html>`),
		page("plaintext", `<!doctype html><html><body><p>VENDOR-CONTENT</p><plaintext></body></html>`),
		page("svg-cdata", `<!doctype html><html><body><p>VENDOR-CONTENT</p><svg><![CDATA[ > </body> ]]></svg></body></html>`),
		{name: "utf-16le-bom", contentTypes: []string{"text/html"},
			body: append([]byte{0xff, 0xfe}, encodeWith(utf16, `<!doctype html><html><body><p>VENDOR-CONTENT</p></body></html>`)...)},
		{name: "utf-16le-label", contentTypes: []string{"text/html; charset=utf-16le"},
			body: encodeWith(utf16, `<!doctype html><html><body><p>VENDOR-CONTENT</p></body></html>`)},
		// The escape sequence makes "</body>!" two Japanese characters:
		// a banner put there would be decoded as Japanese too.
		{name: "iso-2022-jp", contentTypes: []string{"text/html; charset=iso-2022-jp"},
			body: append(encodeWith(japanese.ISO2022JP.NewEncoder(), `<!doctype html><html><body><p>VENDOR-CONTENT 日本語</p><p>`),
				[]byte("\x1b$B</body>!\x1b(B</p></body></html>")...)},
		{name: "two-content-types", contentTypes: []string{"text/plain", "text/html"}, body: plain},
		// Not a redirect to Chromium, which renders the body of a 302
		// whose Location is empty.
		{name: "empty-location", contentTypes: html, body: plain, status: http.StatusFound,
			header: http.Header{"Location": {""}}},
		// XML a browser navigates to is rendered as a document: its
		// XHTML is a page, whatever the XML type, and so is XML with no
		// type that sniffs as XML.
		{name: "xhtml-as-application-xml", contentTypes: []string{"application/xml"}, body: xhtmlPage},
		{name: "xhtml-as-text-xml", contentTypes: []string{"text/xml"}, body: xhtmlPage},
		{name: "xhtml-untyped", body: xhtmlPage},
		// No attachment to Chromium: the type, with a no-break space
		// before it, is no token, and the page is rendered.
		{name: "nbsp-attachment", contentTypes: html, body: plain,
			header: http.Header{"Content-Disposition": {"\u00a0attachment"}}},
	}
}

// bannerRendered is evaluated in the page: "ok" when exactly one banner
// element is in the document (not in a template's content or a comment,
// which querySelectorAll does not reach), rendered with a size, visible,
// within the viewport and not covered; otherwise what is wrong.
const bannerRendered = `(() => {
	const all = document.querySelectorAll('#frontdoor-banner');
	if (all.length !== 1) return 'banner elements: ' + all.length;
	const b = all[0], r = b.getBoundingClientRect(), cs = getComputedStyle(b);
	if (!(r.width > 0 && r.height > 0)) return 'banner has no size';
	if (cs.display === 'none' || cs.visibility !== 'visible' || cs.opacity === '0') return 'banner is hidden';
	if (r.top < 0 || r.bottom > window.innerHeight + 1) return 'banner is outside the viewport';
	const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
	if (!hit || !b.contains(hit)) return 'banner is covered by ' + (hit && hit.tagName);
	if (!document.body || !document.body.innerText.includes('VENDOR-CONTENT')) return 'vendor content not shown';
	return 'ok';
})()`

// TestBannerRendersOnDodgePages serves each dodge page from a vendor and has
// Chromium, which decides, show the banner on it.
func TestBannerRendersOnDodgePages(t *testing.T) {
	t.Parallel()
	pages := dodgePages()
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		for _, p := range pages {
			if r.URL.Path == "/v/"+p.name {
				w.Header()["Content-Type"] = p.contentTypes
				for name, lines := range p.header {
					w.Header()[name] = lines
				}
				if p.status != 0 {
					w.WriteHeader(p.status)
				}
				w.Write(p.body)
				return
			}
		}
		http.NotFound(w, r)
	})
	gw := shipcoSite(t, vendor.URL)
	ctx := newBrowser(t)
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(gw.URL+"/v/"+p.name)); err != nil {
				t.Fatalf("loading the page: %v", err)
			}
			got := browse(t, ctx, chromedp.Evaluate[string](bannerRendered))
			if got != "ok" {
				html := browse(t, ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
				screenshot(t, ctx, "dodge-"+p.name)
				t.Fatalf("%s; the document is %s", got, strings.ReplaceAll(html, "\n", " "))
			}
		})
	}
}

// TestBannerSentBeforeAPageIsCutOff: a vendor sends a long page (past the
// 64 KiB frontdoor holds whole) and hangs up before its end. What reaches
// the customer ends with the page's closing markup and the banner, sent
// before the response is cut off (the cut still tells the browser, and
// any cache, that the page is incomplete). A browser renders what it
// parsed of such a page: frontdoor keeps the response open a moment
// (cutOffLinger) for Chromium to parse the banner too, which rests on the
// browser's pace (it did in 4 runs of 4 on a quiet machine, not always on
// a loaded one), so this test reads the bytes.
func TestBannerSentBeforeAPageIsCutOff(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString("<!doctype html><html><head><title>NightDesk</title></head><body><h1>VENDOR-CONTENT: call NightDesk on +1 900 555 0199</h1>")
		for b.Len() < 120<<10 {
			b.WriteString("<p>NightDesk answer line, with a few words to it.</p>\n")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, b.String())
		w.(http.Flusher).Flush()
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close() // the vendor hangs up 880 KB short
		}
	})
	gw := shipcoSite(t, vendor.URL)
	resp, err := http.Get(gw.URL + "/v/ticket")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("the page the vendor cut off ended as a complete response (%d bytes)", len(body))
	}
	if !strings.Contains(string(body), "VENDOR-CONTENT") || !strings.Contains(string(body), `id="frontdoor-banner"`) {
		t.Errorf("the page the vendor cut off reached the customer without the banner (%d bytes, ending %q)", len(body), body[max(0, len(body)-200):])
	}
}

// TestBannerKeepsItsStyleOnRevalidatedPage: a vendor page with a strict
// CSP, an ETag and Cache-Control: no-cache. The first load shows the
// banner styled (its style hash is added to the policy); the second load
// is revalidated, the vendor answers 304 with its own policy (as any
// server sending the header on every response does), and Chromium
// renders the cached page under the 304's headers: the banner keeps its
// style.
func TestBannerKeepsItsStyleOnRevalidatedPage(t *testing.T) {
	t.Parallel()
	var notModified atomic.Int32
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-abc'")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", `"v1"`)
		if strings.Contains(r.Header.Get("If-None-Match"), `"v1"`) {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, strictVendorPage)
	})
	gw := shipcoSite(t, vendor.URL)
	ctx := newBrowser(t)
	position := func() string {
		return browse(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById('frontdoor-banner')).position`))
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(gw.URL+"/v/track"), chromedp.WaitReady(chromedp.ID("frontdoor-banner"))); err != nil {
		t.Fatal(err)
	}
	first := position()
	if err := chromedp.Do(ctx, chromedp.Navigate(gw.URL+"/v/track"), chromedp.WaitReady(chromedp.ID("frontdoor-banner"))); err != nil {
		t.Fatal(err)
	}
	second := position()
	if notModified.Load() == 0 {
		t.Fatal("the browser did not revalidate: test setup")
	}
	if first != "fixed" || second != "fixed" {
		t.Errorf("banner position %q on first load, %q after a 304: its style was blocked by the vendor's CSP", first, second)
	}
}
