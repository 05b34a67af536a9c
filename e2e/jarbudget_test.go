package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// TestJarBudgetHoldsOnPathsTheBrowserSpellsOtherwise: Caddy routes /V/... to the
// journey /v/* (its path matcher ignores case), but Chromium does not send
// the jar's Path=/v/ cookies on /V/..., so frontdoor saw an empty jar on
// each such request and let the vendor store 20 new cookies every time.
// One link on the vendor's page started a chain of redirects of its own
// (same host, allowed) that stored 200 cookies under Path=/v/, and
// Chromium (180 a site) evicted the brand session cookie. A cookie set
// where the browser does not send the jar is now dropped.
func TestJarBudgetHoldsOnPathsTheBrowserSpellsOtherwise(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	shop := startBackend(t, "shop", cookieEcho("shop"))
	desk := startBackend(t, "desk", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v/start" {
			http.Redirect(w, r, "/V/fill?n=0", http.StatusFound)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/fill") {
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			for i := range 20 { // the jar's default budget
				w.Header().Add("Set-Cookie", fmt.Sprintf("c%d_%d=1; Path=/; Max-Age=3600", n, i))
			}
			next := fmt.Sprintf("/V/fill?n=%d", n+1)
			if n == 9 {
				next = "/v/done"
			}
			http.Redirect(w, r, next, http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "desk got %d cookies", strings.Count(r.Header.Get("Cookie"), "="))
	})
	carrier := startBackend(t, "carrier", nil)
	gw := containmentSite(t, rs.URL(), shop, desk, carrier)
	ctx := newBrowser(t)
	logIn(t, ctx, gw.URL)
	pageText(t, ctx, gw.URL+"/v/start") // the customer follows a link on the vendor's page
	if got := pageText(t, ctx, gw.URL+"/own/account"); !strings.Contains(got, "acme_session=REAL") {
		t.Errorf("the vendor, 20 cookies at a time on /V/..., made Chromium evict the brand session: /own/account got %q", got)
	}
}

// logIn has the browser log in at the brand's shop (brand: its URL) and
// checks that the shop then sees the brand session.
func logIn(t *testing.T, ctx context.Context, brand string) {
	t.Helper()
	pageText(t, ctx, brand+"/own/login")
	if got := pageText(t, ctx, brand+"/own/account"); !strings.Contains(got, "acme_session=REAL") {
		t.Fatalf("after login: %q", got)
	}
}

// cookieFiller is a vendor that sets n cookies on a request for …/fill,
// and says on every page how many cookies it received.
func cookieFiller(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/fill") {
			for i := range n {
				w.Header().Add("Set-Cookie", fmt.Sprintf("c%d=1; Path=/; Max-Age=3600", i))
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "desk got %d cookies", strings.Count(r.Header.Get("Cookie"), "="))
	}
}

// TestJarBudgetOverManyPathsKeepsTheBrandSession: a vendor whose budget the
// config allows (cookies max 50, at most what validate accepts) on a
// journey of four paths set 50 cookies in one answer, within its budget;
// the jar wrote each one at every path, 200 cookies on the brand host, and
// Chromium (180 a site) evicted the brand session. The budget now counts
// the browser's cookies: 50 over four paths is 12 names.
func TestJarBudgetOverManyPathsKeepsTheBrandSession(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	shop := startBackend(t, "shop", cookieEcho("shop"))
	desk := startBackend(t, "desk", cookieFiller(50))
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
		}
		journey own /own/* {
			backend shop {
				owner in-house
				to %s
			}
		}
		journey support /support/* /help/* /faq/* /contact/* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				cookies {
					max 50
				}
			}
		}`, rs.URL(), shop.URL, desk.URL)))
	ctx := newBrowser(t)
	logIn(t, ctx, gw.URL)
	pageText(t, ctx, gw.URL+"/support/fill")
	// 12 of the jar (50 browser cookies over 4 paths) and the customer's
	// tracking_consent.
	if got := pageText(t, ctx, gw.URL+"/support/after"); !strings.Contains(got, "desk got 13 cookies") {
		t.Errorf("the vendor's jar, within its budget: %q", got)
	}
	if got := pageText(t, ctx, gw.URL+"/own/account"); !strings.Contains(got, "acme_session=REAL") {
		t.Errorf("a vendor within its budget made Chromium evict the brand session: /own/account got %q", got)
	}
}

// TestOriginCookiesCannotEvictTheBrandSession: a vendor on its own
// origin (help.shop.example.com) had no jar budget, but Chromium counts
// cookies per registrable domain (example.com): the vendor's 200 host-only
// cookies on its origin made Chromium evict the brand's session cookie on
// shop.example.com.
func TestOriginCookiesCannotEvictTheBrandSession(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	shop := startBackend(t, "shop", cookieEcho("shop"))
	desk := startBackend(t, "desk", cookieFiller(200))
	hosts := []string{"shop.example.com", "help.shop.example.com"}
	gw := startGatewayOn(t, hosts, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
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
				origin help.shop.example.com
				to %s
			}
		}`, rs.URL(), shop.URL, desk.URL)))
	ctx := exampleSiteBrowser(t)
	brand, help := gw.siteURL("shop.example.com"), gw.siteURL("help.shop.example.com")
	logIn(t, ctx, brand)
	t.Logf("origin: %s", pageText(t, ctx, help+"/support/fill"))
	t.Logf("origin: %s", pageText(t, ctx, help+"/support/next"))
	if got := pageText(t, ctx, brand+"/own/account"); !strings.Contains(got, "acme_session=REAL") {
		t.Errorf("cookies the vendor set on its origin made Chromium evict the brand session: /own/account got %q", got)
	}
}
