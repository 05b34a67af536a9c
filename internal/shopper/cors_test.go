package shopper

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/config"
)

// randomIn, every prefix length: inside the prefix, and never the first or
// last of a range of four or more.
func TestRandomInEveryLength(t *testing.T) {
	for _, base := range []string{"203.0.113.77", "2001:db8:1:2:3:4:5:6"} {
		a := netip.MustParseAddr(base)
		for bits := 0; bits <= a.BitLen(); bits++ {
			p := netip.PrefixFrom(a, bits)
			first, last := p.Masked().Addr(), lastIn(p)
			if !p.Contains(last) || (bits < a.BitLen() && p.Contains(last.Next())) {
				t.Errorf("%s: lastIn %s", p, last)
			}
			for range 300 {
				d := randomIn(p)
				if !p.Contains(d) {
					t.Fatalf("%s: drew %s outside", p, d)
				}
				if a.BitLen()-bits >= 2 && (d == first || d == last) {
					t.Fatalf("%s: drew %s (first/last)", p, d)
				}
			}
		}
	}
}

// ParseFrom refuses a range holding any address no customer comes from
// (loopback, multicast, IPv4-mapped, link-local, ...), not only one that
// starts with one: runs would come from them.
func TestFromRangesHoldNoForbiddenAddress(t *testing.T) {
	for _, tc := range []struct {
		from string
		bad  func(netip.Addr) bool
		what string
	}{
		{"64.0.0.0/2", netip.Addr.IsLoopback, "loopback (127/8)"},
		{"192.0.0.0/2", netip.Addr.IsMulticast, "multicast (224/4)"},
		{"8000::/1", netip.Addr.IsMulticast, "multicast (ff00::/8)"},
		{"::fffe:0:0/95", netip.Addr.Is4In6, "IPv4-mapped (::ffff:0:0/96)"},
	} {
		p, err := config.ParseFrom(tc.from)
		if err != nil {
			continue // refused: fine
		}
		pr := &probe{from: []netip.Prefix{p}}
		for range 20000 {
			ap := netip.MustParseAddrPort(pr.clientAddr())
			if tc.bad(ap.Addr()) {
				t.Errorf("from %s accepted; a run came from %s, %s", tc.from, ap, tc.what)
				break
			}
		}
	}
	for _, bad := range []string{"169.254.0.0/16", "fe80::/10", "0.0.0.1/32", "255.255.255.255", "::/0", "64.0.0.0/2", "::ffff:203.0.113.0/120"} {
		if _, err := config.ParseFrom(bad); err == nil {
			t.Errorf("from %s accepted: no customer comes from (all of) it over the internet", bad)
		}
	}
	for _, good := range []string{"203.0.113.0/24", "2001:db8:77::/48", "198.51.100.7", "10.0.0.0/8", "2000::/3"} {
		if _, err := config.ParseFrom(good); err != nil {
			t.Errorf("from %s refused: %v", good, err)
		}
	}
}

// isolatedShop shops nightdesk (outsourced: isolated by default) with one
// step, its answers from answer.
func isolatedShop(t *testing.T, ctx context.Context, st *config.Step, answer func(w http.ResponseWriter, r *http.Request) error) (*Run, []served) {
	t.Helper()
	gw := &fakeGateway{host: "shop.example.com", answer: answer}
	s := newShopper(t, Config{Gateway: gw}, journeys(time.Minute, nil,
		&config.Step{Method: "GET", Path: "/shop/help"}, st))
	run := s.Shop(ctx, target(s, "nightdesk"))
	return run, gw.requests()
}

func page(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("X-Request-Id", "REF0000000001")
	fmt.Fprint(w, "<html><body>hi"+testBanner+"</body></html>")
	return nil
}

// A POST without a body is a simple request (POST is a CORS-safelisted
// method and no non-safelisted header is sent): Chromium sends no
// preflight. The README too counts only "a JSON body, or a method other
// than GET, HEAD and POST" as a script step. A vendor answering OPTIONS
// 405 (as most do) works for customers.
func TestPostWithoutBodyIsNotPreflighted(t *testing.T) {
	run, got := isolatedShop(t, context.Background(), &config.Step{Method: "POST", Path: "/shop/ping"},
		func(w http.ResponseWriter, r *http.Request) error {
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return nil
			}
			w.Header().Set("Access-Control-Allow-Origin", "*")
			return page(w)
		})
	for _, r := range got {
		if r.method == http.MethodOptions {
			t.Errorf("the shopper preflighted a bodiless POST: %+v", r)
		}
	}
	if run.Result != ResultPass {
		t.Errorf("run %+v failed %+v", run, run.Failed)
	}
}

// A PUT with a form body: Content-Type application/x-www-form-urlencoded
// is a CORS-safelisted request-header, so Chromium's preflight carries no
// Access-Control-Request-Headers and needs no Access-Control-Allow-Headers.
func TestSafelistedContentTypeNeedsNoAllowHeaders(t *testing.T) {
	var acrh string
	run, _ := isolatedShop(t, context.Background(), &config.Step{Method: "PUT", Path: "/shop/prefs", Body: "lang=en"},
		func(w http.ResponseWriter, r *http.Request) error {
			if r.Method == http.MethodOptions {
				acrh = r.Header.Get("Access-Control-Request-Headers")
				w.Header().Set("Access-Control-Allow-Origin", "null")
				w.Header().Set("Access-Control-Allow-Methods", "PUT")
				w.WriteHeader(http.StatusNoContent)
				return nil
			}
			w.Header().Set("Access-Control-Allow-Origin", "null")
			return page(w)
		})
	if acrh != "" {
		t.Errorf("preflight Access-Control-Request-Headers %q, Chromium sends none for a form body", acrh)
	}
	if run.Result != ResultPass {
		t.Errorf("run failed %+v", run.Failed)
	}
}

// Fetch: the method must be "in methods" (byte-exact; Chromium: "comparison
// is performed in case-sensitive way"). A lowercase list refuses PUT.
func TestAllowMethodsIsCaseSensitive(t *testing.T) {
	run, _ := isolatedShop(t, context.Background(), &config.Step{Method: "PUT", Path: "/shop/prefs", Body: `{"a":1}`},
		func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Access-Control-Allow-Origin", "null")
			if r.Method == http.MethodOptions {
				w.Header().Set("Access-Control-Allow-Methods", "put")
				w.Header().Set("Access-Control-Allow-Headers", "content-type")
				w.WriteHeader(http.StatusNoContent)
				return nil
			}
			return page(w)
		})
	if run.Result == ResultPass {
		t.Errorf("passed a vendor allowing only %q for PUT: the browser refuses it", "put")
	}
}

// A vendor whose OPTIONS hangs past the run's deadline is slow (within),
// like a step that hangs; the shopper calls it a CORS refusal.
func TestPreflightTimeoutIsNotCORS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	run, _ := isolatedShop(t, ctx, &config.Step{Method: "POST", Path: "/shop/api", Body: `{"q":1}`},
		func(w http.ResponseWriter, r *http.Request) error {
			if r.Method == http.MethodOptions {
				<-r.Context().Done()
				return r.Context().Err()
			}
			return page(w)
		})
	for _, f := range run.Failed {
		if f.Check != CheckWithin {
			t.Errorf("failed %s: %s (want within)", f.Check, f.Detail)
		}
	}
}

// The preflight gets the brand error page (the vendor is down): the run
// says cors, with no status and no reference to find the request by.
func TestPreflightErrorPageIsAnErrorPage(t *testing.T) {
	run, _ := isolatedShop(t, context.Background(), &config.Step{Method: "POST", Path: "/shop/api", Body: `{"q":1}`},
		func(w http.ResponseWriter, r *http.Request) error {
			if r.Method == http.MethodOptions {
				VisitOf(r.Context()).ErrorPageShown(http.StatusBadGateway)
				w.Header().Set("X-Request-Id", "REFPREFLIGHT1")
				w.WriteHeader(http.StatusBadGateway)
				return nil
			}
			return page(w)
		})
	t.Logf("run: step %q status %d request_id %q failed %+v", run.Step, run.Status, run.RequestID, run.Failed)
	if len(run.Failed) != 1 || run.Failed[0].Check != CheckErrorPage || run.Status != 502 || run.RequestID == "" {
		t.Errorf("a vendor outage on the preflight is reported as %+v, status %d, request id %q", run.Failed, run.Status, run.RequestID)
	}
}

// A status with no StatusText (a vendor's 499, or a handler that wrote
// nothing) gives a detail with no status in it.
func TestPreflightStatusInDetail(t *testing.T) {
	run, _ := isolatedShop(t, context.Background(), &config.Step{Method: "POST", Path: "/shop/api", Body: `{"q":1}`},
		func(w http.ResponseWriter, r *http.Request) error {
			if r.Method == http.MethodOptions {
				w.WriteHeader(499)
				return nil
			}
			return page(w)
		})
	if len(run.Failed) == 0 || !strings.Contains(run.Failed[0].Detail, "499") {
		t.Errorf("detail %+v does not name the status", run.Failed)
	}
}

// The step's answer is refused by CORS and leaks the vendor's Server
// header to the customer's browser: only cors is reported.
func TestCORSRefusalKeepsVendorHeader(t *testing.T) {
	run, _ := isolatedShop(t, context.Background(), &config.Step{Method: "POST", Path: "/shop/api", Body: `{"q":1}`},
		func(w http.ResponseWriter, r *http.Request) error {
			if r.Method == http.MethodOptions {
				w.Header().Set("Access-Control-Allow-Origin", "*")
				w.Header().Set("Access-Control-Allow-Headers", "*")
				w.WriteHeader(http.StatusNoContent)
				return nil
			}
			if r.Method == http.MethodPost {
				w.Header().Set("Server", "nightdesk-api/1.0")
			}
			return page(w)
		})
	var checks []string
	for _, f := range run.Failed {
		checks = append(checks, f.Check)
	}
	t.Logf("run %+v", run)
	if !strings.Contains(fmt.Sprint(checks), CheckVendorHeader) {
		t.Errorf("failed %v: the vendor's Server header reached the customer unreported", checks)
	}
}

// expect customer on an isolated script step: frontdoor itself tells the
// backend nothing (the browser sends no cookie, so no session), yet the
// shopper blames the vendor (README: checked only where the backend is
// told the field).
func TestExpectCustomerSkipsCookielessStep(t *testing.T) {
	gw := &fakeGateway{host: "shop.example.com", answer: func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Headers", "*")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		w.Header().Set("X-Request-Id", "REF0000000001")
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.Header.Get("Cookie"), "acme_session") {
			fmt.Fprint(w, `{"hello":"Quinn"}`) // the gateway told the vendor who it serves
		} else {
			fmt.Fprint(w, `{"hello":"guest"}`)
		}
		return nil
	}}
	s := newShopper(t, Config{Gateway: gw, SessionCookie: "acme_session"}, journeys(time.Minute, map[string]string{"first_name": "Quinn"},
		&config.Step{Method: "POST", Path: "/shop/api", Body: `{"q":1}`, ExpectCustomer: []string{"first_name"}}))
	run := s.Shop(context.Background(), target(s, "nightdesk"))
	if run.Result != ResultPass {
		t.Errorf("run %+v: %+v", run.Result, run.Failed)
	}
}
