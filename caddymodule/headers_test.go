package caddymodule

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/frontdoor-dev/frontdoor/internal/assertion"
)

func TestIsReservedHeader(t *testing.T) {
	cases := []struct {
		name     string
		reserved bool
	}{
		// Every X-Frontdoor-* name, however a client spells it.
		{"X-Frontdoor-Brand", true},
		{"x-frontdoor-brand", true},
		{"X-FRONTDOOR-BRAND", true},
		{"x-FrOnTdOoR-journey", true},
		{"X-Frontdoor-Context-Customer-Id", true},
		{"X-Frontdoor-Assertion", true},
		// '_' in place of '-' anywhere: CGI, PHP and nginx map both to one variable.
		{"X_Frontdoor_Brand", true},
		{"x_frontdoor_session", true},
		{"X-Frontdoor_Backend", true},
		{"X_Frontdoor-Backend", true},
		{"X-Frontdoor-", true}, // the prefix alone still claims the namespace
		{"X-Frontdoor_", true},
		// X-Request-Id is the customer's reference: clients must not choose it.
		{"X-Request-Id", true},
		{"x-request-id", true},
		{"X-REQUEST-ID", true},
		{"X_Request_Id", true},
		{"x_request-ID", true},
		// Look-alikes that are not frontdoor's.
		{"X-Frontdoor", false},
		{"X-Frontdoorish", false},
		{"X-Frontdoorish-Brand", false},
		{"X-Front-Door-Brand", false},
		{"Frontdoor-Brand", false},
		{"X-Frontdoo-Brand", false},
		{"XX-Frontdoor-Brand", false},
		{" X-Frontdoor-Brand", false},
		{"X-Request-Ids", false},
		{"X-Request-Id-Echo", false},
		{"X-Request", false},
		{"X-Requestid", false},
		{"X-Correlation-Id", false},
		{"Cookie", false},
		{"", false},
	}
	for _, c := range cases {
		if got := isReservedHeader(c.name); got != c.reserved {
			t.Errorf("isReservedHeader(%q) = %v, want %v", c.name, got, c.reserved)
		}
	}
}

func TestScrubReservedRemovesOnlyFrontdoorHeaders(t *testing.T) {
	h := http.Header{
		"X-Frontdoor-Brand":      {"Evil Corp"},
		"X_frontdoor_session":    {"found"},
		"X-Frontdoor-Context-Id": {"1", "2"},
		"X-Request-Id":           {"CHOSEN"},
		"X_request_id":           {"CHOSEN"},
		"X-Frontdoorish":         {"keep"},
		"X-Frontdoor":            {"keep"},
		"Accept":                 {"text/html"},
		"Cookie":                 {"a=b"},
	}
	scrubReserved(h)
	want := http.Header{
		"X-Frontdoorish": {"keep"},
		"X-Frontdoor":    {"keep"},
		"Accept":         {"text/html"},
		"Cookie":         {"a=b"},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("after scrub:\n got %v\nwant %v", h, want)
	}
}

// A client's header reaches the handler through Go's server, which
// canonicalizes names; the scrub must still see them.
func TestScrubReservedOnParsedRequest(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/support", nil)
	r.Header.Add("x-frontdoor-context-customer-id", "victim")
	r.Header.Add("X_FRONTDOOR_CONTEXT_TIER", "gold")
	r.Header.Add("x-request-id", "mine")
	r.Header.Add("X-Trace", "keep")
	scrubReserved(r.Header)
	if len(r.Header) != 1 || r.Header.Get("X-Trace") != "keep" {
		t.Errorf("after scrub: %v, want only X-Trace", r.Header)
	}
}

// TestOriginCookiesLoseTheirDomain: on its origin a vendor's cookie stays
// host-only, whatever the spelling of its Domain attribute; a cookie named
// domain, or "domain" in a value or another attribute, is no Domain.
func TestOriginCookiesLoseTheirDomain(t *testing.T) {
	jar := testJar("support", "nightdesk").forOrigin()
	cases := []struct {
		in, wantPair string
	}{
		{"sid=1; Path=/; Domain=vendor.example; HttpOnly", "sid=1"},
		{"sid=1; domain=.vendor.example", "sid=1"},
		{"sid=1; DOMAIN=vendor.example; Secure", "sid=1"},
		{"sid=1;Domain=vendor.example;Secure", "sid=1"},
		{"sid=1; Domain = vendor.example ; Path=/", "sid=1"},
		{"sid=1; Domain", "sid=1"},                     // a bare attribute is still the attribute
		{"sid=1; Domain=a; Path=/; domain=b", "sid=1"}, // every occurrence
		{"domain=vendor.example; Path=/", "domain=vendor.example"},
		{"pref=domain=x; Path=/domain", "pref=domain=x"},
		{"sid=mydomain; Max-Age=60", "sid=mydomain"},
		{"sid=1; X-Domain=vendor.example", "sid=1"},
	}
	for _, c := range cases {
		h := http.Header{"Set-Cookie": {c.in}}
		jar.store(h, 0, jarUsage{}, nil)
		if len(h["Set-Cookie"]) != 1 {
			t.Errorf("%q: stored %q, want one line", c.in, h["Set-Cookie"])
			continue
		}
		pair, attrs, _ := strings.Cut(h["Set-Cookie"][0], ";")
		if pair != c.wantPair {
			t.Errorf("%q: stored %q, want %q", c.in, pair, c.wantPair)
		}
		for attr := range strings.SplitSeq(attrs, ";") {
			if name, _, _ := strings.Cut(strings.TrimSpace(attr), "="); strings.EqualFold(strings.TrimSpace(name), "domain") {
				t.Errorf("%q: stored with a Domain: %q", c.in, h["Set-Cookie"][0])
			}
		}
	}
}

func TestRewriteLocation(t *testing.T) {
	upstreams := map[string]bool{"127.0.0.1:9003": true, "vendor.example:443": true, "plain.example:80": true, "[::1]:9005": true}
	plain := httptest.NewRequest(http.MethodGet, "http://shop.example.com/support", nil)
	secure := httptest.NewRequest(http.MethodGet, "https://shop.example.com:8443/support", nil)
	secure.TLS = &tls.ConnectionState{}

	cases := []struct {
		name string
		loc  string
		r    *http.Request
		want string // "" means left alone
	}{
		{"upstream with port", "http://127.0.0.1:9003/next?a=1#frag", plain, "http://shop.example.com/next?a=1#frag"},
		{"brand served over TLS", "http://127.0.0.1:9003/next", secure, "https://shop.example.com:8443/next"},
		{"https default port", "https://vendor.example/login", plain, "http://shop.example.com/login"},
		{"https explicit default port", "https://vendor.example:443/login", secure, "https://shop.example.com:8443/login"},
		{"http default port", "http://plain.example/x", plain, "http://shop.example.com/x"},
		{"ipv6 upstream", "http://[::1]:9005/x", plain, "http://shop.example.com/x"},
		{"userinfo kept", "http://agent@127.0.0.1:9003/x", plain, "http://agent@shop.example.com/x"},
		{"escaped path kept", "http://127.0.0.1:9003/a%2Fb/c", plain, "http://shop.example.com/a%2Fb/c"},
		{"relative path", "/next", plain, ""},
		{"relative with url in query", "/next?return=http://127.0.0.1:9003/", plain, ""},
		{"foreign host", "https://elsewhere.example/x", plain, ""},
		{"upstream host other port", "http://127.0.0.1:9999/x", plain, ""},
		{"https on an http-only upstream", "https://plain.example/x", plain, ""},
		{"http on an https-only upstream", "http://vendor.example/x", plain, ""},
		{"unparsable", "http://127.0.0.1:9003/%zz", plain, ""},
		{"no host", "mailto://", plain, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := rewriteLocation(c.loc, c.r, upstreams)
			if ok != (c.want != "") || got != c.want {
				t.Errorf("rewriteLocation(%q) = %q, %v; want %q", c.loc, got, ok, c.want)
			}
		})
	}
}

func TestDebrand(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://shop.example.com/support", nil)
	upstreams := map[string]bool{"127.0.0.1:9003": true}

	t.Run("vendor identity removed", func(t *testing.T) {
		h := http.Header{
			"Server":       {"NightDesk/2.1"},
			"X-Powered-By": {"PHP/8"},
			"X_powered_by": {"PHP/8"},
			"X-Powered_by": {"PHP/8"},
			"server":       {"NightDesk/2.1"},
			"Location":     {"http://[::ffff:127.0.0.1]:9003/ticket/7"},
			"Content-Type": {"text/html"},
		}
		debrand(h, r, upstreams, nil)
		want := http.Header{
			"Location":     {"http://shop.example.com/ticket/7"},
			"Content-Type": {"text/html"},
		}
		if !reflect.DeepEqual(h, want) {
			t.Errorf("got %v\nwant %v", h, want)
		}
	})

	t.Run("Caddy's own Server kept", func(t *testing.T) {
		h := http.Header{"Server": {"NightDesk/2.1"}}
		debrand(h, r, upstreams, []string{"Caddy"})
		if got := h["Server"]; !reflect.DeepEqual(got, []string{"Caddy"}) {
			t.Errorf("Server = %q, want Caddy's", got)
		}
	})

	t.Run("foreign Location left alone", func(t *testing.T) {
		h := http.Header{"Location": {"https://pay.example/checkout"}}
		debrand(h, r, upstreams, nil)
		if got := h.Get("Location"); got != "https://pay.example/checkout" {
			t.Errorf("Location = %q", got)
		}
	})
}

func TestValueSlabKeepsValuesApart(t *testing.T) {
	var slab valueSlab
	h := http.Header{}
	for i := range slabSize + 3 { // runs past one array
		slab.set(h, fmt.Sprintf("X-Field-%d", i), fmt.Sprint(i))
	}
	// A later handler that appends to one value (Header.Add) or rewrites
	// it must leave every other header as it was.
	h.Add("X-Field-0", "appended")
	h["X-Field-1"][0] = "rewritten"
	for i := range slabSize + 3 {
		want := fmt.Sprint(i)
		switch i {
		case 0:
			want = "0,appended"
		case 1:
			want = "rewritten"
		}
		if got := strings.Join(h.Values(fmt.Sprintf("X-Field-%d", i)), ","); got != want {
			t.Errorf("X-Field-%d = %q, want %q", i, got, want)
		}
	}
}

func TestIsHTML(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/html":                      true,
		"text/html; charset=utf-8":       true,
		" Text/HTML ;charset=iso-8859-1": true,
		"application/xhtml+xml":          true,
		"text/plain":                     false,
		"text/htmlx":                     false,
		"":                               false,
		"application/json; x=text/html":  false,
	} {
		if got := isHTML(ct); got != want {
			t.Errorf("isHTML(%q) = %v, want %v", ct, got, want)
		}
	}
}

// valueSlab and upstreamHeaders store keys as given, so every name
// frontdoor sets through them must already be canonical, or a backend would see two spellings.
func TestHeaderNamesAreCanonical(t *testing.T) {
	names := []string{headerBrand, headerContact, headerJourney, headerBackend, headerRequest,
		headerSession, assertion.Header, "Accept-Encoding", contextHeader("customer_id"), contextHeader("loyalty_tier")}
	for _, name := range names {
		if canonical := http.CanonicalHeaderKey(name); canonical != name {
			t.Errorf("%q is not canonical (%q)", name, canonical)
		}
	}
}
