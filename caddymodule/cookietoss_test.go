package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// A brand session cookie that comes twice with different values (one
// planted for the brand host by a script on another host of the site) is
// given to no handler, frontdoor's journeys nor the brand's own pages
// after it, and the response expires every copy a parent domain could
// have planted at the paths of the request; the customer's host-only
// cookie is another cookie and stays.
func TestPlantedSessionCookieReachesNoHandler(t *testing.T) {
	h := provisionHandler(t, `
		brand "Acme Outdoor"
		session {
			redis redis://127.0.0.1:1/0
			cookie acme_session
		}
		journey support /support* {
			backend care-team {
				owner in-house
				to 127.0.0.1:1
			}
		}`, monday10)
	serve := func(host, path string, cookies ...string) (http.Header, []string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "http://"+host+path, nil)
		r.Header["Cookie"] = cookies
		w := httptest.NewRecorder()
		r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
		var seen []string
		next := caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
			seen = r.Header["Cookie"]
			return nil
		})
		if err := h.ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
		return w.Header(), seen
	}

	hdr, seen := serve("shop.example.com:8443", "/own/account", "acme_session=VENDOR; theme=dark", "acme_session=REAL")
	if !slices.Equal(seen, []string{"theme=dark"}) {
		t.Errorf("the brand's page got cookies %q, want only theme=dark", seen)
	}
	var want []string
	for _, domain := range []string{"shop.example.com", "example.com"} {
		for _, path := range []string{"/", "/own", "/own/", "/own/account"} {
			want = append(want, "acme_session=; Domain="+domain+"; Path="+path+"; Max-Age=0")
		}
	}
	if got := hdr["Set-Cookie"]; !slices.Equal(got, want) {
		t.Errorf("Set-Cookie:\n%q\nwant\n%q", got, want)
	}

	// The same value twice is no conflict, and an address takes no Domain
	// cookies.
	if hdr, seen := serve("shop.example.com", "/own/account", "acme_session=REAL; acme_session=REAL"); len(hdr["Set-Cookie"]) != 0 || len(seen) != 1 {
		t.Errorf("same value twice: Set-Cookie %q, the page got %q", hdr["Set-Cookie"], seen)
	}
	if hdr, seen := serve("127.0.0.1", "/own/", "acme_session=A; acme_session=B"); len(hdr["Set-Cookie"]) != 0 || len(seen) != 0 {
		t.Errorf("on an address: Set-Cookie %q, the page got %q", hdr["Set-Cookie"], seen)
	}
}

// No other host can write a __Host- cookie: such a session cookie is left
// to the brand.
func TestHostPrefixedSessionCookieIsTheBrands(t *testing.T) {
	if tossableSession("__Host-acme_session") || tossableSession("__host-sid") || !tossableSession("__Secure-sid") || !tossableSession("acme_session") {
		t.Error("tossableSession misreads the prefixes")
	}
}
