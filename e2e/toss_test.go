package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// Cookie tossing from a vendor origin. A vendor on its own origin
// (help.shop.example.com) is a sibling of the brand host
// (shop.example.com) under one registrable domain (example.com): its
// scripts run unsandboxed there, and document.cookie can write cookies
// with Domain=shop.example.com or Domain=example.com, which the browser
// then sends to the brand host. frontdoor rewrites the vendor's
// Set-Cookie headers on the origin, but never sees what a script writes.
//
// What frontdoor can do about it is in caddymodule/cookietoss.go; what it
// cannot (a customer not logged in, the browser's cookie budget for the
// site) needs a __Host- session cookie or the vendor on another site.

const (
	tossRealSession   = "REAL-SESSION-0001"
	tossVendorSession = "VENDOR-SESSION-0002" // the vendor's own brand account
)

// tossShop is the brand's in-house shop: it logs the customer in and says
// what it sees of the customer, as a Go app does (r.Cookie: the first
// cookie of the name) and as frontdoor tells it (session state, customer).
func tossShop(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	switch r.URL.Path {
	case "/own/login":
		http.SetCookie(w, &http.Cookie{Name: "acme_session", Value: tossRealSession, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.SetCookie(w, &http.Cookie{Name: "acme_csrf", Value: "BRAND-CSRF", Path: "/"})
		io.WriteString(w, "logged in") //nolint:errcheck
	default:
		first := ""
		if c, err := r.Cookie("acme_session"); err == nil {
			first = c.Value
		}
		fmt.Fprintf(w, "shop: first acme_session=%s | frontdoor session=%s customer=%s | Cookie: %s",
			first, r.Header.Get("X-Frontdoor-Session"), r.Header.Get("X-Frontdoor-Context-Customer-Id"), r.Header.Get("Cookie"))
	}
}

// tossVendor is the vendor on its origin: /support/toss is a page whose
// script writes each c= of its query to document.cookie (what any script
// of the vendor's can do), and every page says which cookies its script
// sees.
func tossVendor(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	switch r.URL.Path {
	case "/support/toss":
		io.WriteString(w, `<!doctype html><html><body><p id=out></p><script>
const q = new URLSearchParams(location.search);
for (const c of q.getAll('c')) document.cookie = c;
const n = parseInt(q.get('many') || '0');
const size = parseInt(q.get('size') || '1');
for (let i = 0; i < n; i++) document.cookie = 'filler' + i + '=' + 'x'.repeat(size) + '; Path=/; Max-Age=3600' + (q.get('domain') ? '; Domain=' + q.get('domain') : '') + (q.get('attrs') || '');
document.getElementById('out').textContent = 'tossed; vendor sees [' + document.cookie + ']';
</script></body></html>`) //nolint:errcheck
	default:
		fmt.Fprintf(w, `<!doctype html><html><body><p id=out>vendor page</p></body></html>`)
	}
}

// tossSite: the in-house shop and the vendor NightDesk on its origin
// help.shop.example.com.
func tossSite(t *testing.T) *gateway {
	t.Helper()
	rs := redistest.Start(t)
	seedSession(t, rs, tossRealSession, "customer_id", "C-CUSTOMER")
	seedSession(t, rs, tossVendorSession, "customer_id", "C-VENDOR")
	shop := startBackend(t, "shop", tossShop)
	desk := startBackend(t, "desk", tossVendor)
	gw := startGatewayOn(t, []string{"shop.example.com", "help.shop.example.com"}, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
			cache 0s
		}
		journey own /own/* {
			backend shop {
				owner in-house
				context customer_id
				to %s
			}
		}
		journey support /support* {
			backend desk {
				owner outsourced
				vendor "NightDesk BPO"
				origin help.shop.example.com
				to %s
			}
		}`, rs.URL(), shop.URL, desk.URL)))
	return gw
}

// onOrigin has the browser open a vendor page on the origin (through the
// handoff) and waits until the page's script has run on the origin.
func onOrigin(t *testing.T, ctx context.Context, gw *gateway, pathAndQuery string) string {
	t.Helper()
	help := gw.siteURL("help.shop.example.com")
	if err := chromedp.Do(ctx, chromedp.Navigate(help+pathAndQuery)); err != nil {
		t.Fatalf("loading %s: %v", pathAndQuery, err)
	}
	var out string
	waitFor(t, 20*time.Second, func() error {
		href := browse(t, ctx, chromedp.Evaluate[string](`location.href`))
		out = browse(t, ctx, chromedp.Evaluate[string](`(document.getElementById('out') || {}).textContent || ''`))
		if !strings.HasPrefix(href, help) || out == "" {
			return fmt.Errorf("the vendor page has not run on the origin yet: at %s: %q", href, out)
		}
		return nil
	})
	return out
}

func tossQuery(cookies ...string) string {
	v := url.Values{}
	for _, c := range cookies {
		v.Add("c", c)
	}
	return "/support/toss?" + v.Encode()
}

// TestPlantedSessionCookieIsExpiredOnTheBrandHost: a logged-in customer
// visits the vendor's origin, whose script writes acme_session with a
// Domain that covers the brand host and a Path longer than the brand's.
// Chromium sends both to the brand host, the planted one first. The shop
// must never see the vendor's session, and the customer is theirs again
// on the next page.
func TestPlantedSessionCookieIsExpiredOnTheBrandHost(t *testing.T) {
	t.Parallel()
	gw := tossSite(t)
	brand := gw.siteURL("shop.example.com")
	for _, domain := range []string{"shop.example.com", "example.com", ".example.com"} {
		t.Run("Domain="+domain, func(t *testing.T) {
			ctx := exampleSiteBrowser(t)
			pageText(t, ctx, brand+"/own/login")
			if got := pageText(t, ctx, brand+"/own/account"); !strings.Contains(got, "first acme_session="+tossRealSession) ||
				!strings.Contains(got, "customer=C-CUSTOMER") {
				t.Fatalf("after login: %q", got)
			}
			t.Logf("vendor page: %s", onOrigin(t, ctx, gw,
				tossQuery("acme_session="+tossVendorSession+"; Domain="+domain+"; Path=/own/; Max-Age=34560000")))
			got := pageText(t, ctx, brand+"/own/account")
			t.Logf("brand host right after the toss: %s", got)
			if strings.Contains(got, tossVendorSession) || strings.Contains(got, "C-VENDOR") {
				t.Errorf("the vendor's planted session reached the brand's shop: %q", got)
			}
			got = pageText(t, ctx, brand+"/own/account")
			if !strings.Contains(got, "first acme_session="+tossRealSession) || !strings.Contains(got, "frontdoor session=found customer=C-CUSTOMER") ||
				strings.Contains(got, tossVendorSession) {
				t.Errorf("on the next page the customer is not back in their own session: %q", got)
			}
		})
	}
}
