package e2e

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// fetchMetadataHeaders are the request headers by which a server tells
// what kind of request a browser made, and from where.
var fetchMetadataHeaders = []string{"Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-User", "Origin", "Upgrade-Insecure-Requests",
	"Access-Control-Request-Method", "Access-Control-Request-Headers"}

// fetchMetadataOf renders r's fetch metadata, one "Name: value" a line;
// an Origin that is the request's own host's is written "(its host)", the
// shopper and the browser naming the test's site differently.
func fetchMetadataOf(r *http.Request) string {
	var b strings.Builder
	for _, name := range fetchMetadataHeaders {
		v := r.Header.Get(name)
		if name == "Origin" && v == "http://"+r.Host {
			v = "(its host)"
		}
		fmt.Fprintf(&b, "%s: %s\n", name, v)
	}
	return b.String()
}

// walkDesk is a vendor desk whose help page has a contact form and a
// button that posts JSON with fetch(), as a chat widget does.
func walkDesk(t *testing.T, name string) *backend {
	return startBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/help"):
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html><body><h1>How can we help?</h1>
<form method="post" action="chat"><input name="message" value="hello"><button id="send">Send</button></form>
<a id="faq" href="faq">FAQ</a>
<button id="api" onclick="fetch('api', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{&quot;q&quot;:1}'}).then(() => document.title = 'sent', () => document.title = 'refused')">Ask</button>
</body></html>`)
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/faq"):
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html><body><h1 id="questions">Questions</h1></body></html>`)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/chat"):
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html><body><h1 id="thanks">Thanks, an agent will be with you</h1></body></html>`)
		case r.Method == http.MethodOptions && strings.HasSuffix(r.URL.Path, "/api"):
			// A desk that works isolated answers its page's fetch(),
			// which comes from an opaque origin, with CORS for it.
			w.Header().Set("Access-Control-Allow-Origin", "null")
			w.Header().Set("Access-Control-Allow-Methods", "POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/api"):
			w.Header().Set("Access-Control-Allow-Origin", "null")
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"ok":true}`)
		default:
			http.NotFound(w, r)
		}
	})
}

// TestShopperSendsWhatChromiumSends: Chromium walks a vendor's help page
// (typed in, then its contact form, its fetch() of JSON and a link) on a
// backend isolated by the sandbox and on one that is not; the secret
// shopper walks the same steps. The vendor sees the same fetch metadata
// from both, step by step, and the same CORS preflight before the
// isolated page's fetch(): a vendor that checks them cannot tell the two
// apart.
func TestShopperSendsWhatChromiumSends(t *testing.T) {
	t.Parallel()
	iso, open := walkDesk(t, "isodesk"), walkDesk(t, "opendesk")
	probe := `probe walk {
				every 1s
				from 203.0.113.0/24
				step GET /%[1]s/help
				step POST /%[1]s/chat body "message=hello"
				step POST /%[1]s/api body "{\"q\":1}"
				step GET /%[1]s/faq
			}`
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey iso /iso* {
			%s
			backend isodesk {
				owner outsourced
				vendor "Iso Desk"
				to %s
			}
		}
		journey open /open* {
			%s
			backend opendesk {
				owner outsourced
				vendor "Open Desk"
				to %s
				isolate off
			}
		}`, fmt.Sprintf(probe, "iso"), iso.URL, fmt.Sprintf(probe, "open"), open.URL)))
	shopperRange := netip.MustParsePrefix("203.0.113.0/24")
	fromShopper := func(r *http.Request) bool {
		a, err := netip.ParseAddr(r.Header.Get("X-Forwarded-For"))
		return err == nil && shopperRange.Contains(a)
	}

	ctx := newBrowser(t)
	for _, desk := range []struct {
		journey string
		backend *backend
	}{{"iso", iso}, {"open", open}} {
		for i, a := range []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(gw.URL + "/" + desk.journey + "/help"),
			chromedp.Click(chromedp.ID("send")),
			chromedp.WaitVisible(chromedp.ID("thanks")),
			chromedp.Navigate(gw.URL + "/" + desk.journey + "/help"), // the page again, for its fetch()
			chromedp.WaitVisible(chromedp.ID("api")),
			chromedp.Click(chromedp.ID("api")),
			chromedp.Click(chromedp.ID("faq")),
			chromedp.WaitVisible(chromedp.ID("questions")),
		} {
			if err := chromedp.Do(ctx, a); err != nil {
				t.Fatalf("%s: chromium's walk, action %d: %v", desk.journey, i, err)
			}
		}
		browser := map[string]string{} // step, as the shopper names it, to what the vendor saw
		shopper := map[string]string{}
		waitFor(t, 15*time.Second, func() error {
			for _, r := range desk.backend.all() {
				step := r.Method + " " + r.URL.Path // an OPTIONS is the preflight of an isolated page's fetch()
				if fromShopper(r) {
					shopper[step] = fetchMetadataOf(r)
				} else if _, seen := browser[step]; !seen {
					browser[step] = fetchMetadataOf(r) // the first of each: both GETs are typed in
				}
			}
			if len(browser) < 4 || len(shopper) < len(browser) {
				return fmt.Errorf("%s: steps seen from the shopper %d, from chromium %d", desk.journey, len(shopper), len(browser))
			}
			return nil
		})
		for step, want := range browser {
			if got := shopper[step]; got != want {
				t.Errorf("%s, %s: the shopper sent\n%swhere chromium sent\n%s", desk.journey, step, got, want)
			}
		}
	}
}
