package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/websocket"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// The vendor origin tests run a site on two host names of one port:
// shop.localhost is the brand, help.shop.localhost the vendor's origin.
// Chromium resolves *.localhost to loopback itself; Go clients dial
// loopback through originClient.
var originHosts = []string{"shop.localhost", "help.shop.localhost"}

// spaVendor is a vendor's single-page help centre as vendors write them,
// served under the first path segment it is asked for: a page with a
// module script loaded with crossorigin, a web font, a classic script
// that uses localStorage, its cookie, its JSON API with credentials and a
// WebSocket, and a form it posts. Like real apps it refuses a form post
// or a WebSocket that comes without its session cookie or from another
// origin (Origin: null included).
type spaVendor struct {
	backend *backend
	font    []byte
}

const spaPage = `<!doctype html><html><head><meta charset="utf-8"><title>Help centre</title>
<style>@font-face{font-family:DeskFont;src:url(PREFIX/font.ttf)}</style>
<script type="module" crossorigin src="PREFIX/app.js"></script>
</head><body><h1>How can we help?</h1><pre id="out"></pre>
<form id="ticket" method="post" action="PREFIX/tickets"><input name="subject" value="where is my parcel"></form>
<script>
const prefix = 'PREFIX';
const brand = location.protocol + '//' + location.host.replace(/^help\./, '');
window.addEventListener('load', async () => {
	const out = {module: !!window.moduleRan};
	try { localStorage.setItem('k', 'v'); out.storage = localStorage.getItem('k'); } catch (e) { out.storage = 'ERR:' + e.name; }
	try { out.cookie = document.cookie; } catch (e) { out.cookie = 'ERR:' + e.name; }
	try {
		const r = await fetch(prefix + '/api/me', {credentials: 'include'});
		out.api = (await r.json()).who;
	} catch (e) { out.api = 'ERR:' + e.name; }
	try {
		const faces = await document.fonts.load('16px DeskFont');
		out.font = faces.length > 0 ? 'loaded' : 'none';
	} catch (e) { out.font = 'ERR:' + e.name; }
	out.ws = await new Promise(resolve => {
		try {
			const ws = new WebSocket('ws://' + location.host + prefix + '/ws');
			ws.onmessage = e => { resolve(e.data); ws.close(); };
			ws.onerror = () => resolve('ERR:closed');
			setTimeout(() => resolve('ERR:timeout'), 5000);
		} catch (e) { resolve('ERR:' + e.name); }
	});
	try {
		const r = await fetch(brand + '/own/account', {credentials: 'include'});
		out.brand = await r.text();
	} catch (e) { out.brand = 'ERR:' + e.name; }
	document.getElementById('out').textContent = JSON.stringify(out);
});
</script></body></html>`

func (v *spaVendor) serve(w http.ResponseWriter, r *http.Request) {
	first, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	prefix := "/" + first
	sid, _ := r.Cookie("desk_sid")
	trusted := func() bool {
		// The app's CSRF defence: its own cookie, and its own origin.
		origin := r.Header.Get("Origin")
		return sid != nil && sid.Value == "V1" && origin != "" && origin != "null" && strings.Contains(origin, r.Host)
	}
	switch rest {
	case "":
		http.SetCookie(w, &http.Cookie{Name: "desk_sid", Value: "V1", Path: "/", SameSite: http.SameSiteLaxMode})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, strings.ReplaceAll(spaPage, "PREFIX", prefix)) //nolint:errcheck
	case "app.js":
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, "window.moduleRan = true;\n") //nolint:errcheck
	case "font.ttf":
		w.Header().Set("Content-Type", "font/ttf")
		w.Write(v.font) //nolint:errcheck
	case "api/me":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"who": %q}`, r.Header.Get("X-Frontdoor-Session")+" "+r.Header.Get("X-Frontdoor-Context-Customer-Id"))
	case "tickets":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.Method != http.MethodPost || !trusted() {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "<html><body><p id=result>forbidden</p></body></html>") //nolint:errcheck
			return
		}
		io.WriteString(w, "<html><body><p id=result>ticket created</p></body></html>") //nolint:errcheck
	case "ws":
		websocket.Server{
			Handshake: func(*websocket.Config, *http.Request) error {
				if !trusted() {
					return fmt.Errorf("untrusted")
				}
				return nil
			},
			Handler: func(c *websocket.Conn) { io.WriteString(c, "hello "+sid.Value) }, //nolint:errcheck
		}.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// startSPAVendor starts the vendor; its font is a system font Chromium's
// Debian package pulls in.
func startSPAVendor(t *testing.T) *spaVendor {
	font, err := os.ReadFile("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
	if err != nil {
		t.Fatalf("a TrueType font for the vendor app (Debian: apt-get install fonts-dejavu-core): %v", err)
	}
	v := &spaVendor{font: font}
	v.backend = startBackend(t, "desk", v.serve)
	return v
}

// originSessionID is the brand session of the customer in these tests.
const originSessionID = "REAL-SESSION-0001"

// originShop is the in-house shop of isolate_test.go with a session id
// the context store accepts.
func originShop(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/own/login":
		http.SetCookie(w, &http.Cookie{Name: "acme_session", Value: originSessionID, Path: "/", HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "acme_csrf", Value: "CSRF-T0KEN", Path: "/"})
		io.WriteString(w, "logged in") //nolint:errcheck
	case "/own/account":
		if c, err := r.Cookie("acme_session"); err != nil || c.Value != originSessionID {
			io.WriteString(w, "please log in") //nolint:errcheck
			return
		}
		io.WriteString(w, "Dana Smith, card ending 4242") //nolint:errcheck
	}
}

// originSite is the brand's shop, the vendor on its origin under
// /support and the same vendor under /legacy kept on the brand host with
// today's defaults (isolate on).
func originSite(redisURL, shop, desk, cache string) string {
	return frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
			strip_cookies acme_csrf
			cache %s
		}
		journey own /own/* {
			backend shop {
				owner in-house
				to %s
			}
		}
		journey support /support* {
			backend desk {
				owner outsourced
				vendor "NightDesk BPO"
				origin help.shop.localhost
				headers all
				context customer_id
				to %s
			}
			backend care {
				owner in-house
				to %s
			}
		}
		journey legacy /legacy* {
			backend desk-legacy {
				owner outsourced
				vendor "NightDesk BPO"
				headers all
				context customer_id
				to %s
			}
		}`, redisURL, cache, shop, desk, shop, desk))
}

// siteURL is the gateway's URL for one of the site's host names.
func (g *gateway) siteURL(host string) string {
	return "http://" + host + strings.TrimPrefix(g.URL, "http://127.0.0.1")
}

// TestVendorAppOnItsOrigin runs a vendor's single-page app in Chromium
// twice: on its own origin, where everything it does works and none of
// the brand is in its reach, and on the brand host with today's defaults
// (isolate on), where the same app breaks.
func TestVendorAppOnItsOrigin(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	seedSession(t, rs, originSessionID, "customer_id", "C-4242", "first_name", "Dana")
	shop := startBackend(t, "shop", originShop)
	vendor := startSPAVendor(t)
	gw := startGatewayOn(t, originHosts, originSite(rs.URL(), shop.URL, vendor.backend.URL, "2s"))
	brand, help := gw.siteURL("shop.localhost"), gw.siteURL("help.shop.localhost")
	ctx := newBrowser(t)

	// report opens an app page and waits for its script's report.
	report := func(url string) (string, string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
			t.Fatalf("loading %s: %v", url, err)
		}
		var out string
		waitFor(t, 20*time.Second, func() error {
			out = browse(t, ctx, chromedp.Evaluate[string](`(document.getElementById('out') || {}).textContent || ''`))
			if out == "" {
				return fmt.Errorf("%s: the app has not reported; at %s: %.300s", url,
					browse(t, ctx, chromedp.Evaluate[string](`location.href`)),
					browse(t, ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)))
			}
			return nil
		})
		return out, browse(t, ctx, chromedp.Evaluate[string](`location.href`))
	}
	// submit posts the app's form and returns what the vendor answered.
	submit := func() string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Submit(chromedp.ID("ticket"))); err != nil {
			t.Fatal(err)
		}
		var result string
		waitFor(t, 10*time.Second, func() error {
			result = browse(t, ctx, chromedp.Evaluate[string](`(document.getElementById('result') || {}).textContent || ''`))
			if result == "" {
				return fmt.Errorf("no answer to the form yet")
			}
			return nil
		})
		return result
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(brand+"/own/login")); err != nil {
		t.Fatal(err)
	}

	t.Run("on its origin the app works and the brand is out of reach", func(t *testing.T) {
		out, at := report(brand + "/support/")
		t.Logf("app report: %s (at %s)", out, at)
		if at != help+"/support/" {
			t.Errorf("the navigation ended at %s, want the vendor origin %s with no code in the URL", at, help+"/support/")
		}
		for _, want := range []string{`"module":true`, `"storage":"v"`, `"api":"found C-4242"`, `"font":"loaded"`, `"ws":"hello V1"`, `"cookie":"desk_sid=V1"`} {
			if !strings.Contains(out, want) {
				t.Errorf("on its origin the app lacks %s: %s", want, out)
			}
		}
		// No brand cookie readable (the cookie is exactly the vendor's
		// own), and the in-house account page refused by CORS.
		for _, leak := range []string{"acme_", "CSRF-T0KEN", "4242\"}", "card ending", "please log in", "fd-"} {
			if strings.Contains(out, leak) {
				t.Errorf("the vendor's script on its origin read %q: %s", leak, out)
			}
		}
		if !strings.Contains(out, `"brand":"ERR:TypeError"`) {
			t.Errorf("a credentialed fetch of an in-house page from the origin was not refused: %s", out)
		}
		if got := submit(); got != "ticket created" {
			t.Errorf("the app's form post on its origin got %q", got)
		}
		screenshot(t, ctx, "vendor-app-on-origin")
	})

	t.Run("on the brand host with isolate on the same app breaks", func(t *testing.T) {
		out, _ := report(brand + "/legacy/")
		t.Logf("app report: %s", out)
		for _, want := range []string{`"module":false`, `"storage":"ERR:SecurityError"`, `"api":"ERR:TypeError"`, `"ws":"ERR:`, `"cookie":"ERR:SecurityError"`} {
			if !strings.Contains(out, want) {
				t.Errorf("under today's defaults the app was expected to fail with %s: %s", want, out)
			}
		}
		if strings.Contains(out, `"font":"loaded"`) {
			t.Errorf("under today's defaults the web font loaded: %s", out)
		}
		if got := submit(); got != "forbidden" {
			t.Errorf("under today's defaults the form post got %q, want the vendor's refusal", got)
		}
	})

	// The brand's session cookie and frontdoor's own cookies never reached
	// the vendor, on either host.
	vendor.backend.mu.Lock()
	defer vendor.backend.mu.Unlock()
	sawOrigin := false
	for _, r := range vendor.backend.requests {
		cookie := r.Header.Get("Cookie")
		for _, secret := range []string{"acme_session", originSessionID, "fd-session", "fd-handoff", "acme_csrf"} {
			if strings.Contains(cookie, secret) {
				t.Errorf("the vendor received %q in %s %s: Cookie: %s", secret, r.Method, r.URL, cookie)
			}
		}
		if r.Host == "help.shop.localhost"+strings.TrimPrefix(gw.URL, "http://127.0.0.1") || strings.HasPrefix(r.URL.Path, "/support") {
			sawOrigin = true
		}
	}
	if !sawOrigin {
		t.Error("the vendor never served its origin")
	}
}

// rescueOriginSite is a journey whose vendor has its own origin and whose
// rescue backend is the in-house care team.
func rescueOriginSite(t *testing.T, redisURL, desk, care string) *gateway {
	return startGatewayOn(t, originHosts, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
			cache 0s
		}
		journey support /support* {
			rescue care 24h
			backend desk {
				owner outsourced
				vendor "NightDesk BPO"
				origin help.shop.localhost
				context customer_id
				to %s
			}
			backend care {
				owner in-house
				context customer_id
				to %s
			}
		}`, redisURL, desk, care)))
}

// TestRescueStaysOffTheVendorOrigin: rescue was applied after the origin
// routing. On the vendor's origin the plan cut to the vendor then got the
// care team put first, which answered on the vendor's origin, where the
// vendor's scripts read it; on the brand host a rescued customer's
// navigation was sent to the vendor's origin.
func TestRescueStaysOffTheVendorOrigin(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	desk := startBackend(t, "desk", nil)
	care := startBackend(t, "care-team", nil)
	gw := rescueOriginSite(t, rs.URL(), desk.URL, care.URL)
	seedSession(t, rs, originSessionID, "customer_id", "C-4242")
	b := loggedIn(t, gw.siteURL("shop.localhost"))
	b.handedOff(gw, "/support/")
	now := time.Now()
	marker := strconv.FormatInt(now.Add(time.Hour).UnixMilli(), 10) +
		` cause=hung_up, backend="desk", ref="7YVFYS4KPAYJN", at=` + strconv.FormatInt(now.Unix(), 10)
	seedSession(t, rs, originSessionID, "frontdoor_rescue:support", marker)

	careBefore := care.count()
	resp, body := b.do(http.MethodGet, gw.siteURL("help.shop.localhost")+"/support/api/me", nil, false)
	if care.count() != careBefore || strings.Contains(body, "hello from care-team") {
		t.Errorf("on the vendor's origin the in-house care team answered (%d %q): only the origin's backend may be reached there", resp.StatusCode, body)
	}
	resp, body = b.do(http.MethodGet, gw.siteURL("shop.localhost")+"/support/", nil, true)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "hello from care-team") {
		t.Errorf("rescued customer's navigation on the brand host: %d Location %q body %q, want the care team",
			resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

// TestFeedbackLinksOnTheOriginReachTheBrand: the banner's escalation and
// rating links are the brand's paths, relative; on a vendor's origin they
// went to the vendor, token and all, and the customer got the vendor's
// page instead of the brand's. On an origin frontdoor's feedback paths
// send the customer to the brand host.
func TestFeedbackLinksOnTheOriginReachTheBrand(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	desk := startBackend(t, "desk", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><body><h1>NightDesk: how can we help?</h1></body></html>`)
	})
	care := startBackend(t, "care-team", nil)
	gw := rescueOriginSite(t, rs.URL(), desk.URL, care.URL)
	seedSession(t, rs, originSessionID, "customer_id", "C-4242")
	b := loggedIn(t, gw.siteURL("shop.localhost"))
	b.handedOff(gw, "/support/")
	resp, page := b.do(http.MethodGet, gw.siteURL("help.shop.localhost")+"/support/", nil, true)
	m := escalateLink.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("vendor page on its origin: %d, no escalation link in %s", resp.StatusCode, page)
	}
	before := desk.count()
	resp, body := b.do(http.MethodGet, gw.siteURL("help.shop.localhost")+m[1], nil, true,
		"Sec-Fetch-Site", "same-origin", "Sec-Fetch-User", "?1", "Sec-Fetch-Dest", "document")
	if desk.count() != before {
		t.Errorf("the escalation link on the vendor's origin reached the vendor, token and all (%s)", desk.last(t).URL)
	}
	brandPage := gw.siteURL("shop.localhost") + m[1]
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != brandPage {
		t.Fatalf("following \"Talk to our own team\" on the vendor's origin: %d to %q %.200q, want the brand host's page %s",
			resp.StatusCode, loc, body, brandPage)
	}
	resp, body = b.do(http.MethodGet, brandPage, nil, true, "Sec-Fetch-Site", "same-site", "Sec-Fetch-User", "?1", "Sec-Fetch-Dest", "document")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="frontdoor-feedback"`) {
		t.Errorf("the brand's escalation page, reached from the vendor's origin: %d %.200q", resp.StatusCode, body)
	}
}
