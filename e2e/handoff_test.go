package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/handoff"
	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// browserClient is a Go client that keeps cookies like a browser (they
// ignore ports, so two gateways on two ports behind one name act as one
// site behind a load balancer) and dials every *.localhost name on
// loopback, as browsers do. It does not follow redirects.
type browserClient struct {
	t *testing.T
	c *http.Client
}

func newBrowserClient(t *testing.T) *browserClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil && strings.HasSuffix(host, ".localhost") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return dialer.DialContext(ctx, network, addr)
	}}
	t.Cleanup(transport.CloseIdleConnections)
	return &browserClient{t: t, c: &http.Client{Jar: jar, Transport: transport, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request with a browser's fetch metadata: navigate for a
// page, cors for the app's API calls.
func (b *browserClient) do(method, target string, form url.Values, navigate bool, headers ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if navigate {
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		req.Header.Set("Sec-Fetch-Dest", "document")
	} else {
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Sec-Fetch-Mode", "cors")
		req.Header.Set("Sec-Fetch-Dest", "empty")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

// cookie returns the value of a cookie the client holds for a URL.
func (b *browserClient) cookie(target, name string) string {
	u, _ := url.Parse(target)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// forgetOriginSession drops the origin session cookie, as a new private
// window would, so that the next navigation starts a handoff again.
func (b *browserClient) forgetOriginSession(gw *gateway) {
	u, _ := url.Parse(gw.siteURL("help.shop.localhost"))
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "fd-session", Value: "", Path: "/", MaxAge: -1}})
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	formCode   = regexp.MustCompile(`name="code" value="([^"]+)"`)
	formState  = regexp.MustCompile(`name="state" value="([^"]+)"`)
)

// handoffPost is what the brand host's handoff page would post.
type handoffPost struct {
	action string
	form   url.Values
}

// startHandoff navigates to path on the origin of gw and follows the
// redirect to the brand host of brandGW, returning what its page posts.
func (b *browserClient) startHandoff(gw, brandGW *gateway, path string) handoffPost {
	b.t.Helper()
	resp, _ := b.do(http.MethodGet, gw.siteURL("help.shop.localhost")+path, nil, true)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "/.well-known/frontdoor/handoff?") {
		b.t.Fatalf("a navigation without an origin session got %d, Location %q; want a handoff to the brand host", resp.StatusCode, loc)
	}
	if resp.Header.Get("Referrer-Policy") != "no-referrer" {
		b.t.Errorf("handoff start without Referrer-Policy: no-referrer")
	}
	brandURL, _ := url.Parse(loc)
	brandURL.Host = strings.TrimPrefix(brandGW.siteURL("shop.localhost"), "http://")
	resp, page := b.do(http.MethodGet, brandURL.String(), nil, true, "Sec-Fetch-Site", "same-site")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		b.t.Fatalf("brand handoff page: %d, Referrer-Policy %q: %s", resp.StatusCode, resp.Header.Get("Referrer-Policy"), page)
	}
	m, c, s := formAction.FindStringSubmatch(page), formCode.FindStringSubmatch(page), formState.FindStringSubmatch(page)
	if m == nil || c == nil || s == nil {
		b.t.Fatalf("brand handoff page has no form: %s", page)
	}
	return handoffPost{action: m[1], form: url.Values{"code": {c[1]}, "state": {s[1]}}}
}

// finish posts the code as the handoff page does, to the gateway gw.
func (b *browserClient) finish(p handoffPost, gw *gateway) (*http.Response, string) {
	b.t.Helper()
	u, _ := url.Parse(p.action)
	u.Host = strings.TrimPrefix(gw.siteURL("help.shop.localhost"), "http://")
	return b.do(http.MethodPost, u.String(), p.form, true, "Origin", "null", "Sec-Fetch-Site", "same-site")
}

// handedOff goes through the whole handoff for a navigation to path on
// the origin: the customer then has an origin session.
func (b *browserClient) handedOff(gw *gateway, path string) {
	b.t.Helper()
	if resp, body := b.finish(b.startHandoff(gw, gw, path), gw); resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("handoff callback: %d %s", resp.StatusCode, body)
	}
}

// who asks the vendor's API on the origin who the customer is.
func (b *browserClient) who(gw *gateway) string {
	b.t.Helper()
	resp, body := b.do(http.MethodGet, gw.siteURL("help.shop.localhost")+"/support/api/me", nil, false)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("vendor API on the origin: %d %s", resp.StatusCode, body)
	}
	return body
}

// loggedIn is a client with the brand session originSessionID on the brand host.
func loggedIn(t *testing.T, brandURL string) *browserClient {
	b := newBrowserClient(t)
	u, _ := url.Parse(brandURL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "acme_session", Value: originSessionID, Path: "/", HttpOnly: true}})
	return b
}

func handoffSite(t *testing.T, cache string) (*redistest.Server, *spaVendor, *gateway) {
	rs := redistest.Start(t)
	seedSession(t, rs, originSessionID, "customer_id", "C-4242", "first_name", "Dana")
	shop := startBackend(t, "shop", originShop)
	vendor := startSPAVendor(t)
	gw := startGatewayOn(t, originHosts, originSite(rs.URL(), shop.URL, vendor.backend.URL, cache))
	return rs, vendor, gw
}

func TestHandoffGivesTheOriginTheCustomer(t *testing.T) {
	t.Parallel()
	_, vendor, gw := handoffSite(t, "2s")
	b := loggedIn(t, gw.siteURL("shop.localhost"))

	// A navigation on the brand host that routes to the vendor goes to
	// its origin, same path and query; an API call stays.
	resp, _ := b.do(http.MethodGet, gw.siteURL("shop.localhost")+"/support/faq?q=refund", nil, true)
	if want := gw.siteURL("help.shop.localhost") + "/support/faq?q=refund"; resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Errorf("brand-host navigation: %d to %q, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if resp, body := b.do(http.MethodGet, gw.siteURL("shop.localhost")+"/support/api/me", nil, false); resp.StatusCode != http.StatusOK || !strings.Contains(body, "found C-4242") {
		t.Errorf("brand-host API call: %d %s", resp.StatusCode, body)
	}

	p := b.startHandoff(gw, gw, "/support/faq?q=refund")
	resp, body := b.finish(p, gw)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/support/faq?q=refund" {
		t.Fatalf("callback: %d to %q: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Error("callback without Referrer-Policy: no-referrer")
	}
	sc := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	if !strings.Contains(sc, "fd-session=") || !strings.Contains(sc, "HttpOnly") || strings.Contains(strings.ToLower(sc), "domain=") {
		t.Errorf("origin session cookie not HttpOnly and host-only: %s", sc)
	}
	if got := b.who(gw); !strings.Contains(got, "found C-4242") {
		t.Errorf("the vendor on its origin got %s, want the customer", got)
	}
	// The journey's pipeline runs on the origin: the brand banner on the
	// vendor's page, its requests in the journey's metrics.
	if resp, body := b.do(http.MethodGet, gw.siteURL("help.shop.localhost")+"/support/", nil, true); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `id="frontdoor-banner"`) || resp.Header.Get("Content-Security-Policy") != "" {
		t.Errorf("the vendor's page on its origin: %d, CSP %q, banner %v", resp.StatusCode,
			resp.Header.Get("Content-Security-Policy"), strings.Contains(body, `id="frontdoor-banner"`))
	}
	if m := gw.metrics(t); !strings.Contains(m, `frontdoor_requests_total{backend="desk",code="200",journey="support",owner="outsourced",vendor="NightDesk BPO"}`) {
		t.Error("requests on the origin are not in the journey's metrics")
	}
	// The code, the state and the origin session never reached the vendor.
	session := b.cookie(gw.siteURL("help.shop.localhost"), "fd-session")
	vendor.backend.mu.Lock()
	for i, r := range vendor.backend.requests {
		seen := fmt.Sprint(r.URL, r.Header, vendor.backend.bodies[i])
		for _, secret := range []string{p.form.Get("code"), p.form.Get("state"), session, originSessionID} {
			if strings.Contains(seen, secret) {
				t.Errorf("the vendor saw a handoff secret or the brand session in %s %s", r.Method, r.URL)
			}
		}
	}
	vendor.backend.mu.Unlock()
	// Nor a log line.
	for _, secret := range []string{p.form.Get("code"), session} {
		if strings.Contains(gw.logs.String(), secret) {
			t.Error("a handoff code or origin session id is in the gateway's logs")
		}
	}
}

func TestHandoffCodeRefusedWhenReplayedExpiredOrForAnotherState(t *testing.T) {
	t.Parallel()
	rs, _, gw := handoffSite(t, "2s")

	t.Run("replayed", func(t *testing.T) {
		b := loggedIn(t, gw.siteURL("shop.localhost"))
		p := b.startHandoff(gw, gw, "/support/")
		if resp, body := b.finish(p, gw); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first use: %d %s", resp.StatusCode, body)
		}
		// The same browser starts again and presents the used code with
		// its new state... and with the old one.
		b.forgetOriginSession(gw)
		again := b.startHandoff(gw, gw, "/support/")
		for _, state := range []string{again.form.Get("state"), p.form.Get("state")} {
			replay := handoffPost{action: p.action, form: url.Values{"code": {p.form.Get("code")}, "state": {state}}}
			if resp, _ := b.finish(replay, gw); resp.StatusCode != http.StatusForbidden {
				t.Errorf("a replayed code got %d, want 403", resp.StatusCode)
			}
		}
	})

	t.Run("expired", func(t *testing.T) {
		b := loggedIn(t, gw.siteURL("shop.localhost"))
		p := b.startHandoff(gw, gw, "/support/")
		// Expire every live code now rather than wait out its 30s.
		client := rs.Client(t)
		keys := client.Keys(context.Background(), "frontdoor:handoff:code:*").Val()
		if len(keys) == 0 {
			t.Fatal("no code in Redis")
		}
		for _, k := range keys {
			client.PExpire(context.Background(), k, time.Millisecond)
		}
		waitFor(t, 5*time.Second, func() error {
			if n := client.Exists(context.Background(), keys...).Val(); n > 0 {
				return fmt.Errorf("%d codes not yet expired", n)
			}
			return nil
		})
		if resp, _ := b.finish(p, gw); resp.StatusCode != http.StatusForbidden {
			t.Errorf("an expired code got %d, want 403", resp.StatusCode)
		}
	})

	t.Run("another state", func(t *testing.T) {
		b := loggedIn(t, gw.siteURL("shop.localhost"))
		p := b.startHandoff(gw, gw, "/support/")
		other := handoffPost{action: p.action, form: url.Values{"code": {p.form.Get("code")}, "state": {strings.Repeat("A", 43)}}}
		if resp, _ := b.finish(other, gw); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a code with another state got %d, want 403", resp.StatusCode)
		}
		// The wrong presentation burnt the code.
		if resp, _ := b.finish(p, gw); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a code presented once with a wrong state was accepted afterwards: %d", resp.StatusCode)
		}
	})
}

// TestHandoffLoginCSRF: an attacker with a session of their own mints a
// code in their browser and makes the victim's browser post it (or sends
// the victim the brand handoff link with the attacker's state). The
// victim's browser never ends up in the attacker's session.
func TestHandoffLoginCSRF(t *testing.T) {
	t.Parallel()
	rs, _, gw := handoffSite(t, "2s")
	seedSession(t, rs, "ATTACKER-SESSION-0666", "customer_id", "C-666")
	attacker := newBrowserClient(t)
	u, _ := url.Parse(gw.siteURL("shop.localhost"))
	attacker.c.Jar.SetCookies(u, []*http.Cookie{{Name: "acme_session", Value: "ATTACKER-SESSION-0666", Path: "/"}})
	p := attacker.startHandoff(gw, gw, "/support/")

	victim := loggedIn(t, gw.siteURL("shop.localhost"))
	// 1. The victim's browser, with no handoff under way, posts the code.
	if resp, _ := victim.finish(p, gw); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a code posted by a browser that started no handoff got %d", resp.StatusCode)
	}
	// 2. The victim's browser has a handoff of its own under way.
	p = attacker.startHandoff(gw, gw, "/support/")
	victim.startHandoff(gw, gw, "/support/")
	if resp, _ := victim.finish(p, gw); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a code bound to another browser's state got %d", resp.StatusCode)
	}
	// 3. The attacker's page posts from another site or from the vendor
	// origin itself.
	p = attacker.startHandoff(gw, gw, "/support/")
	for _, from := range [][]string{{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"},
		{"Origin", gw.siteURL("help.shop.localhost"), "Sec-Fetch-Site", "same-origin"}} {
		u, _ := url.Parse(p.action)
		u.Host = strings.TrimPrefix(gw.siteURL("help.shop.localhost"), "http://")
		if resp, _ := attacker.do(http.MethodPost, u.String(), p.form, true, from...); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a post from %s got %d", from[1], resp.StatusCode)
		}
	}
	// 4. The victim follows a brand handoff link carrying the attacker's
	// state: the code minted is the victim's, and the attacker cannot use it.
	link := attacker.startHandoff(gw, gw, "/support/") // the attacker's state cookie is set
	resp, page := victim.do(http.MethodGet, gw.siteURL("shop.localhost")+"/.well-known/frontdoor/handoff?origin=help.shop.localhost&state="+link.form.Get("state"), nil, true, "Sec-Fetch-Site", "cross-site")
	if m := formCode.FindStringSubmatch(page); resp.StatusCode == http.StatusOK && m != nil {
		// The victim's browser posts it: it holds no such state.
		if resp, _ := victim.finish(handoffPost{action: link.action, form: url.Values{"code": {m[1]}, "state": {link.form.Get("state")}}}, gw); resp.StatusCode != http.StatusForbidden {
			t.Errorf("the victim's browser completed a handoff started by the attacker: %d", resp.StatusCode)
		}
	}
	if got := victim.cookie(gw.siteURL("help.shop.localhost"), "fd-session"); got != "" {
		if who := victim.who(gw); strings.Contains(who, "C-666") {
			t.Fatalf("the victim's browser is in the attacker's session: %s", who)
		}
	}
	if who := attacker.who(gw); strings.Contains(who, "C-4242") {
		t.Errorf("the attacker got the victim's context: %s", who)
	}
}

// TestBrandLogoutEndsOriginSession: the session hash gone from Redis, the
// origin session resolves to no customer within the context cache's
// lifetime, and the next navigation asks the brand again.
func TestBrandLogoutEndsOriginSession(t *testing.T) {
	const cache = 2 * time.Second
	rs, _, gw := handoffSite(t, cache.String())
	b := loggedIn(t, gw.siteURL("shop.localhost"))
	p := b.startHandoff(gw, gw, "/support/")
	if resp, body := b.finish(p, gw); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	if got := b.who(gw); !strings.Contains(got, "found C-4242") {
		t.Fatalf("before logout: %s", got)
	}
	rs.Client(t).Del(context.Background(), "session:"+originSessionID)
	loggedOut := time.Now()
	waitFor(t, cache+3*time.Second, func() error {
		if got := b.who(gw); !strings.Contains(got, `"none `) {
			return fmt.Errorf("after logout the vendor still gets %s", got)
		}
		return nil
	})
	if took := time.Since(loggedOut); took > cache+time.Second {
		t.Errorf("the origin session outlived the brand session by %s, more than the context cache's %s", took, cache)
	}
	resp, _ := b.do(http.MethodGet, gw.siteURL("help.shop.localhost")+"/support/", nil, true)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/.well-known/frontdoor/handoff?") {
		t.Errorf("a navigation after logout got %d %q, want a new handoff", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestHandoffAcrossInstances: two gateway processes share Redis behind
// one name; a handoff started on one completes on the other, and the
// origin session works on both.
func TestHandoffAcrossInstances(t *testing.T) {
	t.Parallel()
	rs, vendor, a := handoffSite(t, "2s")
	shop := startBackend(t, "shop", originShop)
	b2 := startGatewayOn(t, originHosts, originSite(rs.URL(), shop.URL, vendor.backend.URL, "2s"))
	c := loggedIn(t, a.siteURL("shop.localhost"))

	p := c.startHandoff(a, b2, "/support/") // started on A, minted on B
	if resp, body := c.finish(p, a); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("completing on A a code minted on B: %d %s", resp.StatusCode, body)
	}
	c.forgetOriginSession(a)
	p = c.startHandoff(b2, a, "/support/") // started on B, minted on A
	if resp, body := c.finish(p, b2); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("completing on B a code minted on A: %d %s", resp.StatusCode, body)
	}
	for _, gw := range []*gateway{a, b2} {
		if got := c.who(gw); !strings.Contains(got, "found C-4242") {
			t.Errorf("origin session on %s: %s", gw.URL, got)
		}
	}
}

// TestOriginSessionFailsFastWhileRedisStalls: resolving an origin session
// the instance does not hold in memory goes through the session store's
// circuit breaker, as a context lookup does. While Redis does not answer,
// once a lookup has failed, origin requests fail at once (the vendor is
// told the session is unavailable, not that the customer is anonymous)
// instead of each waiting the session timeout; only the breaker's few
// probes wait it.
func TestOriginSessionFailsFastWhileRedisStalls(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	rs := redistest.Start(t)
	seedSession(t, rs, originSessionID, "customer_id", "C-4242", "first_name", "Dana")
	shop := startBackend(t, "shop", originShop)
	vendor := startSPAVendor(t)
	site := strings.Replace(originSite(rs.URL(), shop.URL, vendor.backend.URL, "2s"),
		"cookie acme_session\n", "cookie acme_session\n\t\t\ttimeout "+timeout.String()+"\n", 1)
	gw := startGatewayOn(t, originHosts, site)
	b := loggedIn(t, gw.siteURL("shop.localhost"))
	// An origin session another instance opened: this one holds it in no
	// memory, so resolving it asks Redis.
	ctx := context.Background()
	id, err := handoff.NewStore(rs.Client(t), "").Open(ctx, "help.shop.localhost", originSessionID)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(gw.siteURL("help.shop.localhost"))
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "fd-session", Value: id, Path: "/", HttpOnly: true}})

	// Redis stops answering: CLIENT PAUSE holds every client's commands.
	if err := rs.Client(t).Do(ctx, "CLIENT", "PAUSE", 120000, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	// A context lookup on the brand host waits the timeout and opens the
	// breaker.
	start := time.Now()
	if resp, body := b.do(http.MethodGet, gw.siteURL("shop.localhost")+"/support/api/me", nil, false); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"unavailable `) {
		t.Fatalf("brand-host API call while Redis stalls: %d %s", resp.StatusCode, body)
	}
	if took := time.Since(start); took < timeout {
		t.Fatalf("the brand-host lookup took %s, less than the session timeout %s: Redis still answers", took, timeout)
	}

	const n = 20
	fast, quick := 0, timeout/5
	var took []time.Duration
	for range n {
		start := time.Now()
		if got := b.who(gw); !strings.Contains(got, `"unavailable `) {
			t.Errorf("the vendor on its origin got %s while Redis stalls, want the session unavailable", got)
		}
		took = append(took, time.Since(start).Round(time.Millisecond))
		if took[len(took)-1] < quick {
			fast++
		}
	}
	t.Logf("origin requests while Redis stalls took %v", took)
	if fast < n*3/4 {
		t.Errorf("%d of %d origin requests answered within %s while Redis stalls, want all but the breaker's probes (session timeout %s); took %v",
			fast, n, quick, timeout, took)
	}
}

// TestOriginServesOnlyItsBackend: on the origin every path is the vendor's
// (an in-house path included), and when routing no longer picks the
// vendor (an override to the in-house team) navigations go back to the
// brand host and API calls get a brand error.
func TestOriginServesOnlyItsBackend(t *testing.T) {
	t.Parallel()
	_, vendor, gw := handoffSite(t, "2s")
	b := loggedIn(t, gw.siteURL("shop.localhost"))
	b.handedOff(gw, "/support/")
	before := vendor.backend.count()
	resp, body := b.do(http.MethodGet, gw.siteURL("help.shop.localhost")+"/own/account", nil, false)
	if strings.Contains(body, "card ending") || vendor.backend.count() != before+1 {
		t.Errorf("an in-house path on the origin reached the brand: %d %s", resp.StatusCode, body)
	}

	override := `{"backend": "care", "ttl": "1h", "reason": "vendor outage"}`
	req, _ := http.NewRequest(http.MethodPut, "http://"+gw.AdminAddr+"/frontdoor/overrides/support", strings.NewReader(override))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode >= 300 {
		t.Fatalf("override: %v %v", resp, err)
	}
	waitFor(t, 5*time.Second, func() error {
		resp, _ := b.do(http.MethodGet, gw.siteURL("help.shop.localhost")+"/support/faq?x=1", nil, true)
		if want := gw.siteURL("shop.localhost") + "/support/faq?x=1"; resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
			return fmt.Errorf("a navigation on the origin under an override got %d %q, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
		}
		return nil
	})
	if resp, _ := b.do(http.MethodGet, gw.siteURL("help.shop.localhost")+"/support/api/me", nil, false); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("an API call on the origin under an override got %d, want the brand 503", resp.StatusCode)
	}
	// On the brand host the in-house team now serves the navigation.
	if resp, body := b.do(http.MethodGet, gw.siteURL("shop.localhost")+"/support/", nil, true); resp.StatusCode != http.StatusOK || strings.Contains(body, "How can we help") {
		t.Errorf("the brand host under the override: %d %s", resp.StatusCode, body)
	}
}

// TestSecretShopperShopsOriginBackend: the shopper walks a journey whose
// vendor has an origin through frontdoor's pipeline (no redirect to the
// origin for it) and the vendor passes.
func TestSecretShopperShopsOriginBackend(t *testing.T) {
	rs := redistest.Start(t)
	shop := startBackend(t, "shop", originShop)
	vendor := startSPAVendor(t)
	site := strings.Replace(originSite(rs.URL(), shop.URL, vendor.backend.URL, "2s"), "journey support /support* {", `journey support /support* {
			probe app {
				every 1s
				customer {
					customer_id P-0001
				}
				step GET /support/
				expect status 200
				expect body "How can we help"
			}`, 1)
	gw := startGatewayOn(t, originHosts, site)
	waitFor(t, 10*time.Second, func() error {
		if run := probeRuns(t, gw, "support")["desk"]; run.Result != "pass" {
			return fmt.Errorf("the shopper's run of the origin's vendor: %+v", run)
		}
		return nil
	})
}

// TestHandoffCodeOnlyForTopLevelNavigation: a script on the brand host (a
// vendor kept there with isolate off, a third-party script of the shop)
// fetches the handoff page with the customer's credentials, for a state the
// attacker started in their own browser. Were the code in the answer, the
// attacker would redeem it and be the customer on the vendor origin: only
// the browser's top-level navigation gets a code, and the page carrying it
// cannot be framed.
func TestHandoffCodeOnlyForTopLevelNavigation(t *testing.T) {
	t.Parallel()
	_, _, gw := handoffSite(t, "2s")
	attacker := newBrowserClient(t)
	victim := loggedIn(t, gw.siteURL("shop.localhost"))

	// The attacker's own browser starts a handoff on the origin: it holds
	// the state cookie, and learns the state from the redirect.
	resp, _ := attacker.do(http.MethodGet, gw.siteURL("help.shop.localhost")+"/support/", nil, true)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("handoff start: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	state := loc.Query().Get("state")

	// In the customer's browser a script on the brand host fetches the
	// handoff page with that state (same-origin, credentials included).
	target := gw.siteURL("shop.localhost") + "/.well-known/frontdoor/handoff?origin=help.shop.localhost&state=" + state
	resp, page := victim.do(http.MethodGet, target, nil, false,
		"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Dest", "empty", "Accept", "*/*")
	if code := formCode.FindStringSubmatch(page); code != nil {
		post := handoffPost{action: "http://help.shop.localhost/.well-known/frontdoor/callback",
			form: url.Values{"code": {code[1]}, "state": {state}}}
		fetched := resp.StatusCode
		resp, _ := attacker.finish(post, gw)
		who := "(the callback refused it: " + resp.Status + ")"
		if resp.StatusCode == http.StatusSeeOther {
			who = strings.TrimSpace(attacker.who(gw))
		}
		t.Fatalf("a script's fetch (Sec-Fetch-Mode: cors, Dest: empty) got the handoff code (HTTP %d); redeemed in the attacker's browser, the vendor origin serves the attacker as %s",
			fetched, who)
	}

	// The customer's own navigation still gets the page, which no page
	// may frame.
	resp, page = victim.do(http.MethodGet, target, nil, true, "Sec-Fetch-Site", "same-site")
	if formCode.FindStringSubmatch(page) == nil {
		t.Fatalf("the customer's navigation got no code: %d %s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("the page carrying the code says Content-Security-Policy %q, want frame-ancestors 'none'", csp)
	}
}
