package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium; CI installs it. Not finding it is a
// failure, not a skip: the banner's visibility is only proven in a browser.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH (Debian: apt-get install chromium)")
	return ""
}

// newBrowser starts a headless Chromium of its own for the test, with
// more options if given.
func newBrowser(t *testing.T, more ...chromedp.ExecAllocatorOption) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1024, 768),
	)
	opts = append(opts, more...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelCtx := chromedp.NewContext(allocCtx)
	// The first action starts the browser, which lives as long as the
	// context of that call: it gets no timeout, later actions do.
	if err := chromedp.Do(browserCtx, chromedp.Navigate("about:blank")); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(browserCtx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// pageText has the browser navigate to url and returns the text of the
// page's body.
func pageText(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
	return browse(t, ctx, chromedp.Evaluate[string](`document.body.innerText`))
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot: %s", p)
}

func browse[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestBrowserShowsBannerAndErrorPage(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/v/crash" {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html><body>vendor stack trace</body></html>")
			return
		}
		// A vendor with a strict policy: only its own nonce'd style may apply.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-abc'")
		fmt.Fprint(w, strictVendorPage)
	})
	gw := shipcoSite(t, vendor.URL)
	ctx := newBrowser(t)

	err := chromedp.Do(ctx,
		chromedp.Navigate(gw.URL+"/v/track"),
		chromedp.WaitVisible(chromedp.ID("frontdoor-banner")),
	)
	if err != nil {
		t.Fatalf("loading the vendor page: %v", err)
	}
	screenshot(t, ctx, "vendor-page-strict-csp")
	text := browse(t, ctx, chromedp.Text(chromedp.ID("frontdoor-banner")))
	for _, want := range []string{"+1 800 555 0100", "help@acme.example", "Acme Outdoor", "Reference"} {
		if !strings.Contains(text, want) {
			t.Errorf("visible banner text lacks %q: %q", want, text)
		}
	}
	// Styled despite the vendor's CSP: our stylesheet made it a fixed bar.
	position := browse(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById('frontdoor-banner')).position`))
	if position != "fixed" {
		t.Errorf("banner position %q: its style was blocked by the vendor's CSP", position)
	}
	visible := browse(t, ctx, chromedp.Evaluate[bool](`(() => { const r = document.getElementById('frontdoor-banner').getBoundingClientRect();
		return r.height > 0 && r.bottom <= window.innerHeight + 1 && r.top >= 0 })()`))
	if !visible {
		t.Error("banner is not within the viewport")
	}
	// The reference shown is this page's X-Request-Id, which the page can
	// not see; it is a 13-character Crockford base32 code in the text.
	if !regexp.MustCompile(`Reference\W+[0-9A-HJKMNP-TV-Z]{13}`).MatchString(text) {
		t.Errorf("no reference in the banner: %q", text)
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(gw.URL+"/v/crash"),
		chromedp.WaitVisible(chromedp.CSS("main")),
	)
	if err != nil {
		t.Fatalf("loading the error page: %v", err)
	}
	errText := browse(t, ctx, chromedp.Text(chromedp.CSS("main")))
	screenshot(t, ctx, "brand-error-page")
	for _, want := range []string{"+1 800 555 0100", "Acme Outdoor", "Reference"} {
		if !strings.Contains(errText, want) {
			t.Errorf("error page lacks %q: %q", want, errText)
		}
	}
	if strings.Contains(errText, "stack trace") {
		t.Error("vendor error page shown to the customer")
	}
}

// exampleSiteBrowser is a Chromium to which example.com and every name
// under it are the loopback, served over plain HTTP: the brand host and a
// vendor's origin (shop.example.com, help.shop.example.com) are one site
// to its cookie store, as on the web, where *.localhost names would each
// be a site of their own.
func exampleSiteBrowser(t *testing.T) context.Context {
	return newBrowser(t,
		chromedp.Flag("disable-features", "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable"),
		chromedp.Flag("host-resolver-rules", "MAP *.example.com 127.0.0.1, MAP example.com 127.0.0.1"))
}

// shipcoSite is a gateway whose one journey, /v/*, goes to the vendor
// ShipCo at vendorURL, with every default.
func shipcoSite(t *testing.T, vendorURL string) *gateway {
	return startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey vendor /v/* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				to %s
			}
		}`, vendorURL)))
}

// strictVendorPage is a vendor page under a strict policy (its
// Content-Security-Policy: default-src 'none'; style-src 'nonce-abc'):
// only its own nonce'd style applies.
const strictVendorPage = `<!doctype html><html><head><title>ShipCo</title>
<style nonce="abc">body{background:#fafafa;font-family:serif}</style></head>
<body><h1>Parcel 1001</h1><p>In transit.</p></body></html>`
