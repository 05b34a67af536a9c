package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestIsNavigation(t *testing.T) {
	cases := []struct {
		method  string
		headers map[string]string
		want    bool
	}{
		{"GET", map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "*/*"}, true},
		{"HEAD", map[string]string{"Sec-Fetch-Mode": "navigate"}, true},
		{"GET", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "text/html"}, false},
		{"GET", map[string]string{"Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}, false},
		{"POST", map[string]string{"Sec-Fetch-Mode": "navigate"}, false}, // a form post keeps the same host
		{"GET", map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, true},
		{"GET", map[string]string{"Accept": "application/json"}, false},
		{"GET", map[string]string{"Accept": "text/html;q=0, */*"}, false},
		{"GET", map[string]string{"Accept": "text/html", "Sec-Fetch-Dest": "empty"}, false},
		{"GET", nil, false},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "/support/", nil)
		for k, v := range c.headers {
			r.Header.Set(k, v)
		}
		if got := isNavigation(r); got != c.want {
			t.Errorf("isNavigation(%s %v) = %v, want %v", c.method, c.headers, got, c.want)
		}
	}
}

func TestSafePathStaysOnHost(t *testing.T) {
	for in, want := range map[string]string{
		"/support/faq?q=1": "/support/faq?q=1",
		"//evil.example/x": "/",
		`/\evil.example`:   "/",
		"evil.example":     "/",
		"":                 "/",
	} {
		if got := safePath(in); got != want {
			t.Errorf("safePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOriginSetCookiesAreTheVendorsOwn(t *testing.T) {
	hdr := http.Header{"Set-Cookie": {
		"desk_sid=V1; Path=/; Domain=shop.example; HttpOnly",
		"fd-session=stolen; Path=/",
		"__Host-FD-Session=stolen; Path=/; Secure",
		"FD-HANDOFF=x",
		"=nameless",
		"prefs=dark",
	}}
	testJar("support", "nightdesk").forOrigin().store(hdr, 0, jarUsage{}, nil)
	want := []string{"desk_sid=V1; Path=/; HttpOnly", "prefs=dark; Path=/"}
	if !reflect.DeepEqual(hdr["Set-Cookie"], want) {
		t.Errorf("Set-Cookie on the origin = %q, want %q (no jar prefix, Domain removed, Path=/, frontdoor's names refused)", hdr["Set-Cookie"], want)
	}
}

func TestOriginBackendNeverGetsBrandOrFrontdoorCookies(t *testing.T) {
	h := &Handler{compiledConfig: compiledConfig{vendorCookies: brandCookies{"acme_session", "acme_csrf"}}}
	b := &backendRoute{onOrigin: true, outsourced: true, response: &responsePolicy{jar: testJar("support", "nightdesk").forOrigin()}}
	got, _ := h.cookiesFor([]string{"acme_session=S; desk_sid=V1; fd-session=O; __Host-fd-handoff=H", "acme_csrf=C; theme=dark"}, b)
	if want := []string{"desk_sid=V1; theme=dark"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Cookie to the vendor on its origin = %q, want %q", got, want)
	}
	if got, _ := h.cookiesFor([]string{"acme_session=S; fd-session=O"}, b); got != nil {
		t.Errorf("Cookie to the vendor = %q, want none", got)
	}
}
