package caddymodule

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// Only the customer's own submission of the brand's form passes: a
// same-origin, user-activated navigation to a document, from the brand's
// origin (or one the browser withholds).
func TestFetchRefusal(t *testing.T) {
	own := map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-User": "?1",
		"Sec-Fetch-Dest": "document", "Origin": "http://shop.example"}
	cases := []struct {
		name   string
		change map[string]string
		want   string
	}{
		{"the customer's own", nil, ""},
		{"origin withheld", map[string]string{"Origin": ""}, ""},
		{"origin null", map[string]string{"Origin": "null"}, ""},
		{"a sandboxed vendor page", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "null"}, refusedCrossSite},
		{"another site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, refusedCrossSite},
		{"a subdomain", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://track.shop.example"}, refusedCrossSite},
		{"no fetch metadata", map[string]string{"Sec-Fetch-Site": ""}, refusedCrossSite},
		{"another origin claiming same-origin", map[string]string{"Origin": "http://evil.example"}, refusedCrossSite},
		{"a script's fetch", map[string]string{"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Sec-Fetch-User": ""}, refusedNotNavigation},
		{"a script's form.submit() without a click", map[string]string{"Sec-Fetch-User": ""}, refusedNotNavigation},
		{"into a frame", map[string]string{"Sec-Fetch-Dest": "iframe"}, refusedNotNavigation},
	}
	for _, c := range cases {
		r := httptest.NewRequest("POST", "http://shop.example"+escalatePath, strings.NewReader("t=x"))
		for k, v := range own {
			r.Header.Set(k, v)
		}
		for k, v := range c.change {
			if v == "" {
				r.Header.Del(k)
			} else {
				r.Header.Set(k, v)
			}
		}
		if got := fetchRefusal(r); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestJourneyStart(t *testing.T) {
	for paths, want := range map[string]string{"/support*": "/support", "/help/*": "/help/", "*": "/", "": "/"} {
		j := &journeyRoute{}
		if paths != "" {
			j.paths = []string{paths}
		}
		if got := journeyStart(j); got != want {
			t.Errorf("%q: %q, want %q", paths, got, want)
		}
	}
}
