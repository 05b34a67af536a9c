package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var proxy = json.RawMessage(`{"handler":"reverse_proxy","upstreams":[{"dial":"127.0.0.1:9001"}]}`)

func validConfig() []*Journey {
	return []*Journey{
		{Name: "checkout", Paths: []string{"/checkout*"}, Backends: []*Backend{{Name: "shop", Owner: InHouse, ProxyRaw: proxy}}},
		{Name: "support", Paths: []string{"/support*"}, Backends: []*Backend{
			{Name: "care", Owner: InHouse, ProxyRaw: proxy, Hours: []Hours{{When: "Mon-Fri 08:00-20:00", Zone: "America/New_York"}}},
			{Name: "night", Owner: Outsourced, Vendor: "NightDesk", ProxyRaw: proxy,
				SLO: &SLO{Availability: 0.995, LatencyTarget: 0.95, LatencyThreshold: Duration(800 * time.Millisecond)}},
		}},
	}
}

func TestValidateAcceptsDesignExample(t *testing.T) {
	if err := Validate("Acme", Contact{Phone: "1"}, "open", validConfig()); err != nil {
		t.Fatal(err)
	}
}

// One vendor may serve several journeys under one backend name (its
// assertions name the journey), and the brand's own teams may share one.
func TestValidateAcceptsBackendNamesOfOneOwner(t *testing.T) {
	js := validConfig()
	js[0].Backends = append(js[0].Backends,
		&Backend{Name: "night", Owner: Outsourced, Vendor: "NightDesk", ProxyRaw: proxy},
		&Backend{Name: "care", Owner: InHouse, ProxyRaw: proxy})
	if err := Validate("Acme", Contact{Phone: "1"}, "open", js); err != nil {
		t.Fatal(err)
	}
}

func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(js []*Journey) any // returns the element the error must be about
		want   string
	}{
		{"unknown owner", func(js []*Journey) any { js[0].Backends[0].Owner = "partner"; return js[0].Backends[0] }, `unknown owner "partner"`},
		{"audience of two vendors", func(js []*Journey) any {
			js[0].Backends = append(js[0].Backends, &Backend{Name: "night", Owner: Outsourced, Vendor: "PayCo", ProxyRaw: proxy})
			return js[1].Backends[1]
		}, `journey "support", backend "night": journey "checkout" has a backend named "night" too, of vendor "PayCo": the name is the audience`},
		{"audience of a vendor and the brand", func(js []*Journey) any {
			js[0].Backends[0].Name = "night"
			return js[1].Backends[1]
		}, `journey "support", backend "night": journey "checkout" has a backend named "night" too, in-house: the name is the audience`},
		{"missing owner", func(js []*Journey) any { js[0].Backends[0].Owner = ""; return js[0].Backends[0] }, `owner is required`},
		{"vendor in-house", func(js []*Journey) any { js[0].Backends[0].Vendor = "X"; return js[0].Backends[0] }, `vendor "X" is set on an in-house backend`},
		{"no backends", func(js []*Journey) any { js[1].Backends = nil; return js[1] }, `journey "support" has no backend`},
		{"contact method", func(js []*Journey) any {
			js[1].Contacts = []ContactRule{{Method: "post", Paths: []string{"/support/tickets*"}}}
			return js[1]
		}, `contact method "post"`},
		{"contact path", func(js []*Journey) any {
			js[1].Contacts = []ContactRule{{Method: "POST", Paths: []string{"tickets"}}}
			return js[1]
		}, `contact POST path "tickets" must start with '/'`},
		{"repeat window", func(js []*Journey) any { js[1].RepeatWindow = Duration(365 * 24 * time.Hour); return js[1] }, `repeat_window 8760h0m0s`},
		{"negative response body timeout", func(js []*Journey) any {
			d := Duration(-time.Second)
			js[1].Backends[1].ResponseBodyTimeout = &d
			return js[1].Backends[1]
		}, `response_body_timeout -1s: must not be negative`},
		{"duplicate journey", func(js []*Journey) any { js[1].Name = "checkout"; js[1].Paths = []string{"/x"}; return js[1] }, `journey "checkout" is defined twice`},
		{"duplicate backend", func(js []*Journey) any { js[1].Backends[1].Name = "care"; return js[1].Backends[1] }, `backend "care" is defined twice`},
		{"path twice", func(js []*Journey) any { js[1].Paths = append(js[1].Paths, "/checkout*"); return js[1] }, `path "/checkout*" is claimed by journeys "checkout" and "support"`},
		{"bad zone", func(js []*Journey) any { js[1].Backends[0].Hours[0].Zone = "Nowhere/City"; return js[1].Backends[0] }, `unknown time zone "Nowhere/City"`},
		{"bad hours", func(js []*Journey) any { js[1].Backends[0].Hours[0].When = "Mon-Fri 20:00"; return js[1].Backends[0] }, `needs a '-'`},
		{"no upstream", func(js []*Journey) any { js[0].Backends[0].ProxyRaw = nil; return js[0].Backends[0] }, `no upstream`},
		// A reverse proxy with options but nowhere to send requests
		// answers every one with a 502.
		{"proxy without upstream", func(js []*Journey) any {
			js[0].Backends[0].ProxyRaw = json.RawMessage(`{"handler":"reverse_proxy","load_balancing":{"selection_policy":{"policy":"first"}}}`)
			return js[0].Backends[0]
		}, `journey "checkout", backend "shop": no upstream: add to ADDRESS`},
		{"proxy with no upstreams", func(js []*Journey) any {
			js[0].Backends[0].ProxyRaw = json.RawMessage(`{"handler":"reverse_proxy","upstreams":[],"dynamic_upstreams":null}`)
			return js[0].Backends[0]
		}, `no upstream: add to ADDRESS`},
		{"slo threshold", func(js []*Journey) any {
			js[1].Backends[1].SLO.LatencyThreshold = Duration(777 * time.Millisecond)
			return js[1].Backends[1]
		}, `not a histogram bucket`},
		{"slo availability", func(js []*Journey) any { js[1].Backends[1].SLO.Availability = 1.2; return js[1].Backends[1] }, `between 0% and 100%`},
		{"slo orphans without contacts", func(js []*Journey) any { js[1].Backends[1].SLO.OrphanRate = 0.02; return js[1].Backends[1] },
			`journey "support", backend "night": slo orphans counts orphans per contact, and journey "support" says no contact`},
		{"slo orphans 100%", func(js []*Journey) any {
			js[1].Contacts = []ContactRule{{Method: "POST", Paths: []string{"/support/tickets*"}}}
			js[1].Backends[1].SLO.OrphanRate = 1
			return js[1].Backends[1]
		}, `slo orphans 100% must be between 0% and 100% exclusive`},
		{"bad name", func(js []*Journey) any { js[0].Name = "check out"; return js[0] }, `journey name "check out"`},
		{"relative path", func(js []*Journey) any { js[0].Paths = []string{"checkout"}; return js[0] }, `must start with '/'`},
		{"bad field", func(js []*Journey) any { js[0].Backends[0].Context = []string{"a:b"}; return js[0].Backends[0] }, `field "a:b"`},
		{"on_error", func(js []*Journey) any { js[0].OnError = "maybe"; return js[0] }, `on_error "maybe"`},
		{"allow_redirect url", func(js []*Journey) any {
			js[1].Backends[1].AllowRedirect = []string{"pay.example", "https://pay.example"}
			return js[1].Backends[1]
		}, `allow_redirect "https://pay.example": want a host name`},
		{"allow_redirect port", func(js []*Journey) any {
			js[1].Backends[1].AllowRedirect = []string{"pay.example:443"}
			return js[1].Backends[1]
		}, `allow_redirect "pay.example:443"`},
		{"allow_redirect zone", func(js []*Journey) any {
			js[1].Backends[1].AllowRedirect = []string{"fe80::1%eth0"}
			return js[1].Backends[1]
		}, `allow_redirect "fe80::1%eth0"`},
		{"cookies in-house", func(js []*Journey) any { js[0].Backends[0].Cookies = &CookieBudget{Max: 5}; return js[0].Backends[0] }, `in-house backends have none`},
		{"cookies too many", func(js []*Journey) any { js[1].Backends[1].Cookies = &CookieBudget{Max: 500}; return js[1].Backends[1] }, `cookies max 500: want 1 to 50`},
		{"cookies too large", func(js []*Journey) any {
			js[1].Backends[1].Cookies = &CookieBudget{Bytes: 1 << 20}
			return js[1].Backends[1]
		}, `cookies bytes 1048576: want 64 to 8192`},
		{"allow_redirect empty", func(js []*Journey) any { js[1].Backends[1].AllowRedirect = []string{""}; return js[1].Backends[1] }, `allow_redirect ""`},
		// 180 cookies a site is all a browser keeps: the jars together
		// stay at 120, leaving the brand's own room.
		{"jars together", func(js []*Journey) any {
			js[1].Backends[1].Cookies = &CookieBudget{Max: 50}
			more := []*Backend{}
			for _, name := range []string{"desk2", "desk3"} {
				more = append(more, &Backend{Name: name, Owner: Outsourced, Vendor: "V", ProxyRaw: proxy, Cookies: &CookieBudget{Max: 40}})
			}
			js[1].Backends = append(js[1].Backends, more...)
			return more[1]
		}, `the vendors' cookie jars together may put 130 cookies in the browser, over 120`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			js := validConfig()
			elem := c.mutate(js)
			err := Validate("Acme", Contact{}, "", js)
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
			if ve.Elem != elem {
				t.Errorf("error is about %T %p, want %T %p", ve.Elem, ve.Elem, elem, elem)
			}
		})
	}
}

func TestValidateAcceptsDynamicUpstreams(t *testing.T) {
	js := validConfig()
	js[0].Backends[0].ProxyRaw = json.RawMessage(`{"handler":"reverse_proxy","dynamic_upstreams":{"source":"srv","name":"shop.internal"}}`)
	if err := Validate("Acme", Contact{}, "", js); err != nil {
		t.Error(err)
	}
}

func TestValidateBrand(t *testing.T) {
	if err := Validate("", Contact{}, "", validConfig()); err == nil || !strings.Contains(err.Error(), "brand is required") {
		t.Errorf("empty brand: %v", err)
	}
	if err := Validate("Acme\r\nX-Evil: 1", Contact{}, "", validConfig()); err == nil || !strings.Contains(err.Error(), "control character") {
		t.Errorf("CRLF brand: %v", err)
	}
	if err := Validate("Acme", Contact{Phone: "1\n2"}, "", validConfig()); err == nil {
		t.Error("CRLF contact accepted")
	}
}

func TestSLOThresholdLabel(t *testing.T) {
	if got := SLOThresholdLabel(Duration(800 * time.Millisecond)); got != "0.8" {
		t.Errorf("got %q", got)
	}
	if got := SLOThresholdLabel(Duration(2 * time.Second)); got != "2" {
		t.Errorf("got %q", got)
	}
}

// A null in a JSON config's lists (a templating mistake) is refused with
// where it is, not dereferenced.
func TestValidateRefusesNullEntries(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(js []*Journey) ([]*Journey, any)
		want   string
	}{
		{"journey", func(js []*Journey) ([]*Journey, any) { return append(js, nil), nil }, `journeys[2] is null`},
		{"backend", func(js []*Journey) ([]*Journey, any) {
			js[1].Backends = append([]*Backend{nil}, js[1].Backends...)
			return js, js[1]
		}, `journey "support": backends[0] is null`},
		{"probe", func(js []*Journey) ([]*Journey, any) { js[0].Probes = []*Probe{nil}; return js, js[0] }, `journey "checkout": probes[0] is null`},
		{"step", func(js []*Journey) ([]*Journey, any) {
			p := &Probe{Name: "p", Steps: []*Step{{Method: "GET", Path: "/checkout"}, nil}}
			js[0].Probes = []*Probe{p}
			return js, p
		}, `journey "checkout", probe "p": steps[1] is null`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			js, elem := c.mutate(validConfig())
			err := Validate("Acme", Contact{}, "", js)
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
			if ve.Elem != elem {
				t.Errorf("error is about %T %p, want %T %p", ve.Elem, ve.Elem, elem, elem)
			}
		})
	}
}
