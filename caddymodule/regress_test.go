package caddymodule

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoor-dev/frontdoor/config"
)

// Regressions for bugs the unit tests and fuzzers found.

func TestSchemeRelativeVendorRedirectRewritten(t *testing.T) {
	r := httptest.NewRequest("GET", "http://shop.example.com/track", nil)
	upstreams := map[string]bool{"127.0.0.1:9003": true, "vendor.example:443": true}
	for loc, want := range map[string]string{
		"//127.0.0.1:9003/x?y=1":   "//shop.example.com/x?y=1",
		"//vendor.example/welcome": "//shop.example.com/welcome",
		"//elsewhere.example/x":    "",
	} {
		got, ok := rewriteLocation(loc, r, upstreams)
		if want == "" && ok || want != "" && got != want {
			t.Errorf("rewriteLocation(%q) = %q %v, want %q", loc, got, ok, want)
		}
	}
}

func TestPercentParsing(t *testing.T) {
	for in, want := range map[string]float64{"99.9%": 0.999, "99.99%": 0.9999, "99.5%": 0.995, "95%": 0.95} {
		if got, err := parsePercent(in); err != nil || got != want {
			t.Errorf("parsePercent(%q) = %v %v, want exactly %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"NaN%", "nan%", "Inf%", "1e1%", "100%", "0%", "-5%", "99.5"} {
		if got, err := parsePercent(bad); err == nil {
			t.Errorf("parsePercent(%q) = %v, want an error", bad, got)
		}
	}
}

func TestNaNObjectiveRejectedByValidation(t *testing.T) {
	nan := 0.0
	nan = nan / nan
	js := []*config.Journey{{Name: "j", Paths: []string{"/j*"}, Backends: []*config.Backend{{Name: "b", Owner: config.InHouse,
		ProxyRaw: []byte(`{"handler":"reverse_proxy"}`), SLO: &config.SLO{Availability: nan}}}}}
	if err := config.Validate("A", config.Contact{}, "", js); err == nil {
		t.Error("NaN availability accepted")
	}
}

func TestAcceptsGzipReadsQValues(t *testing.T) {
	for in, want := range map[string]bool{
		"gzip": true, "gzip, br": true, "br, gzip;q=0.5": true, "*": true, "GZIP;Q=1": true,
		"gzip;q=0": false, "gzip;q=0.": false, "gzip;Q=0": false, "gzip;level=1;q=0": false,
		"gzip;q=0.000": false, "gzip;q=bogus": false, "br": false, "": false, "identity": false,
	} {
		if got := acceptsGzip([]string{in}); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCookieNamesTrimmedLikeServersDo(t *testing.T) {
	drop := brandCookies{"acme_session"}
	for _, line := range []string{"acme_session =v; a=1", "a=1; acme_session\t=v", " acme_session=v"} {
		if !hasAnyCookie([]string{line}, drop) {
			t.Errorf("hasAnyCookie(%q) = false", line)
		}
		kept := strings.Join(cookiesFor([]string{line}, testVendor, drop), ";")
		if strings.Contains(kept, "acme_session") {
			t.Errorf("backendCookies(%q) kept %q", line, kept)
		}
	}
	// Empty names (from ";;") never match, even if "" is in the set.
	if hasAnyCookie([]string{"a=1;; b=2"}, brandCookies{""}) {
		t.Error("empty cookie name matched")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", "x=1; acme_session = sess-123456789 ")
	if got := sessionCookie(r, "acme_session"); got != "sess-123456789" {
		t.Errorf("sessionCookie = %q", got)
	}
}

func TestUnquotedHoursGetAHint(t *testing.T) {
	d := caddyfile.NewTestDispenser(`frontdoor {
		brand A
		journey j /j* {
			backend b {
				owner in-house
				to 127.0.0.1:1
				hours Mon-Fri 08:00-20:00 UTC
			}
		}
	}`)
	err := new(Handler).UnmarshalCaddyfile(d)
	if err == nil || !strings.Contains(err.Error(), `quote the days and times together, e.g. hours "Mon-Fri 08:00-20:00" UTC`) {
		t.Errorf("error: %v", err)
	}
}
