package caddymodule

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedirectTarget(t *testing.T) {
	for loc, want := range map[string]string{
		// relative references stay on the brand host
		"/v/next": "", "next": "", "?page=2": "", "#top": "", "": "", "/": "",
		"./a:b": "",
		// hosts, as a browser reads them
		"https://evil.example/x":              "evil.example",
		"HTTPS://EVIL.EXAMPLE/":               "evil.example",
		"http://evil.example:8080/":           "evil.example",
		"//evil.example":                      "evil.example",
		"///evil.example/x":                   "evil.example",
		`/\evil.example`:                      "evil.example",
		`\\evil.example`:                      "evil.example",
		"/\t/evil.example":                    "evil.example",
		"/\n/evil.example":                    "evil.example",
		" \x00 //evil.example ":               "evil.example",
		"https:evil.example":                  "evil.example",
		"https:/evil.example":                 "evil.example",
		"https:///evil.example":               "evil.example",
		"https://pay.example@evil.example/":   "evil.example",
		`https://evil.example\@pay.example/`:  "evil.example",
		"https://evil.example#@pay.example":   "evil.example",
		"https://evil.example?@pay.example":   "evil.example",
		"https://evil.example%2F@pay.example": "pay.example",
		"https://evil%2Eexample/":             "evil.example",
		"https://evil.example./":              "evil.example",
		"http://[::ffff:127.0.0.1]:80/":       "127.0.0.1",
		"http://[::1]/":                       "::1",
		"http://EVIL.example:443@Pay.Example": "pay.example",
	} {
		host, onsite := redirectTarget(loc)
		if want == "" {
			if !onsite {
				t.Errorf("%q: offsite to %q, want onsite", loc, host)
			}
			continue
		}
		if onsite || host != want {
			t.Errorf("%q: host %q onsite %v, want %q", loc, host, onsite, want)
		}
	}
	// No host a browser could reach: offsite, matching nothing.
	for _, loc := range []string{"javascript:alert(1)", "data:text/html,x", "ftp://evil.example/", "mailto:a@b",
		"https://", "https://%zz/", "http://[::1/", "https://@/"} {
		if host, onsite := redirectTarget(loc); onsite || host != "" {
			t.Errorf("%q: host %q onsite %v, want offsite without a host", loc, host, onsite)
		}
	}
}

func TestRefreshURL(t *testing.T) {
	for v, want := range map[string]string{
		"0; url=https://evil.example/":   "https://evil.example/",
		"0;URL='https://evil.example/'x": "https://evil.example/",
		`5, url = "//evil.example"`:      "//evil.example",
		"0 url=https://evil.example/":    "https://evil.example/",
		"0 https://evil.example/":        "https://evil.example/",
		"1.5;https://evil.example/":      "https://evil.example/",
		".5; url=/next":                  "/next",
		"0; url https://evil.example":    "url https://evil.example",
		"0":                              "",
		"0;":                             "",
		"soon; url=https://evil.example": "",
		"0x; url=https://evil.example":   "",
	} {
		got, ok := refreshURL(v)
		if got != want || ok != (want != "") {
			t.Errorf("Refresh %q: %q %v, want %q", v, got, ok, want)
		}
	}
}

func TestHostAllowed(t *testing.T) {
	allowed := normalizeRedirectHosts([]string{"Pay.Example.", "*.cdn.example", "[::1]", "10.0.0.1"})
	for host, want := range map[string]bool{
		"pay.example": true, "eu.pay.example": false, "a.cdn.example": true, "a.b.cdn.example": true,
		"cdn.example": false, "evilcdn.example": false, "::1": true, "10.0.0.1": true, "": false,
	} {
		if got := hostAllowed(host, allowed); got != want {
			t.Errorf("%q allowed %v, want %v", host, got, want)
		}
	}
}

// FuzzRedirectTarget holds redirectTarget to the one direction that
// matters: whatever it calls onsite or the brand's host, Go's URL parser,
// after the browser's clean-up, resolves against the brand page to the
// brand host too.
func FuzzRedirectTarget(f *testing.F) {
	for _, s := range []string{"/next", "//evil.example", `/\evil.example`, "https:evil.example", "http://brand.example/x",
		"https://a@brand.example", "?x", "#y", "brand.example", "http:brand.example"} {
		f.Add(s)
	}
	base, _ := url.Parse("http://brand.example/v/page")
	f.Fuzz(func(t *testing.T, loc string) {
		host, onsite := redirectTarget(loc)
		if !onsite && host != "brand.example" {
			return
		}
		u, err := url.Parse(browserTrim(loc))
		if err != nil {
			return // the browser's parser is more lenient; its host is checked above
		}
		if u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("%q: judged onsite, but has scheme %q", loc, u.Scheme)
		}
		if u.Scheme != "" && u.Host == "" {
			// "http:/host" and "http:host": browsers read the host after
			// a special scheme however few slashes follow; Go reads a
			// path. redirectTarget follows the browser.
			return
		}
		if got := base.ResolveReference(u).Hostname(); !strings.EqualFold(strings.TrimSuffix(got, "."), "brand.example") && u.Opaque == "" {
			t.Fatalf("%q: judged onsite, but resolves to host %q", loc, got)
		}
	})
}
