package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// offsiteLocations are redirects a vendor could use to send the customer
// off the brand: each one leads a browser to evil.example (WHATWG URL
// parsing: '\' is '/' in http(s) URLs, tabs and newlines are dropped,
// leading and trailing spaces and controls trimmed, any number of slashes
// starts the host, a scheme without slashes still names a host).
var offsiteLocations = []string{
	"https://evil.example/phish",
	"HTTPS://EVIL.EXAMPLE/",
	"//evil.example/x",
	"///evil.example/x",
	`/\evil.example/x`,
	`\\evil.example/x`,
	`\/evil.example/x`,
	"/\t/evil.example/x",
	"https:evil.example/x",
	"https:/evil.example/x",
	"https://pay.example@evil.example/",
	"https://pay.example.evil.example/",
	`https://evil.example\@pay.example/`,
	"https://evil.example#@pay.example",
	"https://evil.example?@pay.example",
	"https://evil%2Eexample/",
	"javascript:alert(document.domain)",
	"data:text/html,<script>alert(1)</script>",
	"ftp://evil.example/",
}

// allowedLocations stay on the brand or go to a listed host.
var allowedLocations = []string{
	"/v/next",
	"next",
	"?page=2",
	"https://pay.example/checkout",
	"https://PAY.example./checkout",
	"https://eu.pay.example/checkout", // *.pay.example
	"https://evil.example@pay.example/",
	"https://evil.example%2F@pay.example/",
}

// redirector answers /v/go?to=LOCATION with a 302 to it, and /v/refresh
// with a Refresh header.
func redirector(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	if strings.HasSuffix(r.URL.Path, "/refresh") {
		w.Header().Set("Refresh", "0; url="+to)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>moving</body></html>")
		return
	}
	w.Header()["Location"] = []string{to}
	w.WriteHeader(http.StatusFound)
}

func TestAllowRedirect(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", redirector)
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey vendor /v/* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				to %s
				allow_redirect pay.example *.pay.example
			}
		}
		journey free /w/* {
			backend carrier {
				owner outsourced
				vendor Carrier
				to %s
			}
		}`, vendor.URL, vendor.URL)))
	brandHost := strings.TrimPrefix(gw.URL, "http://")

	refused := 0
	for _, loc := range offsiteLocations {
		resp, body := do(t, "GET", gw.URL+"/v/go?to="+url.QueryEscape(loc), nil, nil)
		if err := brandErrorPage(resp, []byte(body), "evil"); err != nil || resp.StatusCode != http.StatusBadGateway {
			t.Errorf("Location %q: %d %q (%v), want the brand 502 page", loc, resp.StatusCode, resp.Header.Get("Location"), err)
		}
		refused++
	}
	for _, loc := range []string{"https://evil.example/", "//evil.example/"} {
		resp, body := do(t, "GET", gw.URL+"/v/refresh?to="+url.QueryEscape(loc), nil, nil)
		if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Refresh") != "" || strings.Contains(body, "moving") {
			t.Errorf("Refresh to %q: %d Refresh=%q", loc, resp.StatusCode, resp.Header.Get("Refresh"))
		}
		refused++
	}
	offsiteAllowed := 0
	for _, loc := range allowedLocations {
		resp, _ := do(t, "GET", gw.URL+"/v/go?to="+url.QueryEscape(loc), nil, nil)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != loc {
			t.Errorf("Location %q: %d %q, want it passed on", loc, resp.StatusCode, resp.Header.Get("Location"))
		}
		if strings.Contains(strings.ToLower(loc), "pay.example") {
			offsiteAllowed++
		}
	}
	// The vendor's own address is rewritten to the brand host, and stays.
	resp, _ := do(t, "GET", gw.URL+"/v/go?to="+url.QueryEscape(vendor.URL+"/v/next"), nil, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "http://"+brandHost+"/v/next" {
		t.Errorf("upstream Location: %d %q", resp.StatusCode, loc)
	}
	// So does the brand host itself.
	resp, _ = do(t, "GET", gw.URL+"/v/go?to="+url.QueryEscape("http://"+brandHost+"/v/next"), nil, nil)
	if resp.StatusCode != http.StatusFound {
		t.Errorf("a Location on the brand host was refused: %d", resp.StatusCode)
	}

	// Without allow_redirect every redirect passes, and offsite ones are
	// counted as allowed.
	resp, _ = do(t, "GET", gw.URL+"/w/go?to="+url.QueryEscape("https://evil.example/"), nil, nil)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://evil.example/" {
		t.Errorf("a backend without allow_redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	m := gw.metrics(t)
	series := func(backend, vendor, allowed string) string {
		return fmt.Sprintf(`frontdoor_offsite_redirects_total{allowed=%q,backend=%q,journey=%q,owner="outsourced",vendor=%q}`,
			allowed, backend, map[string]string{"shipco": "vendor", "carrier": "free"}[backend], vendor)
	}
	for s, want := range map[string]int{
		series("shipco", "ShipCo", "false"):   refused,
		series("shipco", "ShipCo", "true"):    offsiteAllowed,
		series("carrier", "Carrier", "true"):  1,
		series("carrier", "Carrier", "false"): 0,
	} {
		if v, _ := metricValue(m, s); int(v) != want {
			t.Errorf("%s = %v, want %d", s, v, want)
		}
	}
	if strings.Contains(m, `evil.example`) {
		t.Error("a redirect's host reached a metric label")
	}
}
