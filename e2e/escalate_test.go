package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// escalationSite: NightDesk serves the support journey (isolated, the
// default for outsourced backends), the in-house care team rescues; the
// care team also serves the brand's own pages and its login. The context
// cache is the default: an escalation must be seen at once anyway.
func escalationSite(t *testing.T, redisURL, vendorURL, inhouseURL string) *gateway {
	return startGateway(t, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
		}
		journey own /own/* {
			backend shop {
				owner in-house
				to %s
			}
		}
		journey account /account* {
			contact POST /account/contact
			backend account-team {
				owner in-house
				to %s
			}
		}
		journey support /support* {
			rescue care-team 1h
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				context customer_id
			}
			backend care-team {
				owner in-house
				to %s
				context customer_id
			}
		}`, redisURL, inhouseURL, inhouseURL, vendorURL, inhouseURL)))
}

// careTeam is the in-house backend: a login setting the brand session of
// the cookie's value, and pages saying who answered and why.
func careTeam(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/own/login" {
		http.SetCookie(w, &http.Cookie{Name: "acme_session", Value: r.URL.Query().Get("as"), Path: "/", HttpOnly: true})
		io.WriteString(w, "logged in") //nolint:errcheck
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html><body><h1 id="who">hello from care-team</h1><p id="why">%s</p></body></html>`,
		strings.NewReplacer("<", "&lt;", "&", "&amp;").Replace(r.Header.Get("X-Frontdoor-Rescue")))
}

// vendorDesk is NightDesk: a help page with a script (which must not run
// for this customer) and, at /support/trick, a form that posts a token it
// got hold of to the brand's escalation route, as a vendor would try to
// escalate (or rate) for the customer.
func vendorDesk(trickToken *string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/support/trick" {
			fmt.Fprintf(w, `<!doctype html><html><body><form method="post" action="/.well-known/frontdoor/escalate">
<input type="hidden" name="t" value="%s"><button id="trick">Continue</button></form></body></html>`, *trickToken)
			return
		}
		io.WriteString(w, `<!doctype html><html><head><title>NightDesk</title></head><body><h1>How can we help?</h1>
<script>document.title = 'scripts ran';</script></body></html>`) //nolint:errcheck
	}
}

var (
	escalateLink = regexp.MustCompile(`href="(/\.well-known/frontdoor/escalate\?t=([A-Z2-7]+))"`)
	rateLink     = regexp.MustCompile(`href="(/\.well-known/frontdoor/rate\?t=([A-Z2-7]+))"`)
)

// tokenOn fetches a page as the session (none: anonymous) and returns the
// token of its banner link matching link.
func tokenOn(t *testing.T, pageURL, session string, link *regexp.Regexp) string {
	t.Helper()
	var headers map[string]string
	if session != "" {
		headers = withCookie(session)
	}
	_, body := do(t, "GET", pageURL, nil, headers)
	m := link.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%s has no feedback link %s:\n%s", pageURL, link, body)
	}
	return m[2]
}

// submit posts a feedback form as a browser submitting the brand's form
// would (Fetch Metadata of a same-origin, user-activated navigation),
// with fetch overriding headers, and returns the status.
func submit(t *testing.T, base, action, session string, form url.Values, fetch map[string]string) int {
	t.Helper()
	headers := map[string]string{
		"Content-Type":   "application/x-www-form-urlencoded",
		"Origin":         base,
		"Sec-Fetch-Site": "same-origin",
		"Sec-Fetch-Mode": "navigate",
		"Sec-Fetch-User": "?1",
		"Sec-Fetch-Dest": "document",
	}
	if session != "" {
		headers["Cookie"] = "acme_session=" + session
	}
	for k, v := range fetch {
		headers[k] = v
	}
	resp, _ := do(t, "POST", base+"/.well-known/frontdoor/"+action, strings.NewReader(form.Encode()), headers)
	return resp.StatusCode
}

// TestCustomerEscalatesFromIsolatedVendorPage: in Chromium with
// JavaScript off, the customer on NightDesk's isolated page follows the
// banner's "Talk to our own team", confirms on the brand's page and lands
// with the care team, told why in X-Frontdoor-Rescue. A forged token, a
// replay, another customer's token, a cross-site post and a vendor page
// submitting the form for the customer are refused and not counted.
func TestCustomerEscalatesFromIsolatedVendorPage(t *testing.T) {
	rs := redistest.Start(t)
	const other = "sess-other-customer-0001"
	seedSession(t, rs, sessionID, "customer_id", "C-7001")
	seedSession(t, rs, other, "customer_id", "C-7002")
	var trickToken string
	vendor := startBackend(t, "nightdesk", vendorDesk(&trickToken))
	inhouse := startBackend(t, "care-team", careTeam)
	gw := escalationSite(t, rs.URL(), vendor.URL, inhouse.URL)

	resp, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID))
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") || !strings.Contains(body, `class="frontdoor-escalate"`) ||
		!strings.Contains(body, `class="frontdoor-rate"`) {
		t.Fatalf("the vendor page is not isolated or has no escalation link: CSP %q\n%s", resp.Header.Get("Content-Security-Policy"), body)
	}
	// Tokens of the customer's own pages, for the refusals below.
	crossSiteToken := tokenOn(t, gw.URL+"/support/help", sessionID, escalateLink)
	trickToken = tokenOn(t, gw.URL+"/support/help", sessionID, escalateLink)
	otherToken := tokenOn(t, gw.URL+"/support/help", other, escalateLink)
	if _, body := do(t, "GET", gw.URL+"/support/help", nil, nil); strings.Contains(body, "frontdoor-escalate") || !strings.Contains(body, "frontdoor-rate") {
		t.Errorf("an anonymous visitor's banner: escalation offered, or no rating:\n%s", body)
	}

	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}), chromedp.Navigate(gw.URL+"/own/login?as="+sessionID), chromedp.Navigate(gw.URL+"/support/help"),
		chromedp.WaitVisible(chromedp.CSS("a.frontdoor-escalate"))); err != nil {
		t.Fatalf("loading the vendor page: %v", err)
	}
	if title := browse(t, ctx, chromedp.Title()); title != "NightDesk" {
		t.Fatalf("the page's title is %q: JavaScript was not off", title)
	}
	screenshot(t, ctx, "vendor-page-escalation-link")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("a.frontdoor-escalate")), chromedp.WaitVisible(chromedp.ID("frontdoor-continue"))); err != nil {
		t.Fatalf("following the escalation link: %v", err)
	}
	question := browse(t, ctx, chromedp.Location())
	if !strings.HasPrefix(question, gw.URL+"/.well-known/frontdoor/escalate?t=") {
		t.Fatalf("the link led to %s", question)
	}
	usedToken := strings.TrimPrefix(question, gw.URL+"/.well-known/frontdoor/escalate?t=")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("frontdoor-continue")), chromedp.WaitVisible(chromedp.ID("who"))); err != nil {
		t.Fatalf("confirming the escalation: %v", err)
	}
	if who := browse(t, ctx, chromedp.Text(chromedp.ID("who"))); who != "hello from care-team" {
		t.Fatalf("after escalating the customer reached %q", who)
	}
	if loc := browse(t, ctx, chromedp.Location()); loc != gw.URL+"/support" {
		t.Errorf("escalated to %s, want the journey's start", loc)
	}
	screenshot(t, ctx, "escalated-to-care-team")
	why := browse(t, ctx, chromedp.Text(chromedp.ID("why")))
	if !strings.Contains(why, "cause=escalated") || !strings.Contains(why, `backend="nightdesk"`) {
		t.Errorf("the care team was told %q, want an escalation from nightdesk", why)
	}
	if got := inhouse.last(t).Header.Get("X-Frontdoor-Rate"); !strings.HasPrefix(got, "/.well-known/frontdoor/rate?t=") {
		t.Errorf("the rescued customer's in-house page got no rating link: %q", got)
	}

	escalations := `frontdoor_escalations_total{backend="nightdesk",journey="support",owner="outsourced",vendor="NightDesk BPO"}`
	if v, _ := metricValue(gw.metrics(t), escalations); v != 1 {
		t.Fatalf("escalations counted %v, want 1", v)
	}
	trail, err := frontdoorCmd(t, "trail", "C-7001", "--address", gw.AdminAddr)
	if err != nil || !strings.Contains(trail, "escalated") {
		t.Errorf("the escalation is not on the customer's trail: %v\n%s", err, trail)
	}

	// Refusals, each counted by reason and none as an escalation.
	form := func(token string) url.Values { return url.Values{"t": {token}} }
	refusals := []struct {
		name, token, session, reason string
		fetch                        map[string]string
	}{
		{"forged", strings.Repeat("A", 60), sessionID, "forged", nil},
		{"replayed", usedToken, sessionID, "replayed", nil},
		{"another customer's", otherToken, sessionID, "other_customer", nil},
		{"cross-site", crossSiteToken, sessionID, "cross_site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}},
		{"script-sent", crossSiteToken, sessionID, "not_navigation", map[string]string{"Sec-Fetch-Mode": "cors", "Sec-Fetch-User": "", "Sec-Fetch-Dest": "empty"}},
	}
	for _, c := range refusals {
		if status := submit(t, gw.URL, "escalate", c.session, form(c.token), c.fetch); status != http.StatusForbidden {
			t.Errorf("%s token: %d, want 403", c.name, status)
		}
		series := fmt.Sprintf(`frontdoor_feedback_refused_total{action="escalate",reason="%s"}`, c.reason)
		if v, _ := metricValue(gw.metrics(t), series); v < 1 {
			t.Errorf("%s token: %s = %v", c.name, series, v)
		}
	}
	// The vendor's own page submitting the customer's token, clicked by
	// the customer: it comes from the sandboxed page, not the brand's.
	if _, err := rs.Client(t).HDel(t.Context(), "session:"+sessionID, "frontdoor_rescue:support").Result(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error {
		if _, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID)); !strings.Contains(body, "How can we help?") {
			return fmt.Errorf("the customer is still rescued")
		}
		return nil
	})
	if err := chromedp.Do(ctx, chromedp.Navigate(gw.URL+"/support/trick"), chromedp.Click(chromedp.ID("trick")),
		chromedp.WaitVisible(chromedp.ID("frontdoor-feedback"))); err != nil {
		t.Fatalf("the vendor's form: %v", err)
	}
	if v, _ := metricValue(gw.metrics(t), `frontdoor_feedback_refused_total{action="escalate",reason="cross_site"}`); v != 2 {
		t.Errorf("the vendor page's submission: cross-site refusals %v, want 2", v)
	}
	if _, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID)); !strings.Contains(body, "How can we help?") {
		t.Errorf("a refused escalation rescued the customer: %s", body)
	}
	if v, _ := metricValue(gw.metrics(t), escalations); v != 1 {
		t.Errorf("escalations counted %v after the refusals, want 1", v)
	}
	// The refused cross-site token was not spent: the customer can still
	// use it from the brand's page.
	if status := submit(t, gw.URL, "escalate", sessionID, form(crossSiteToken), nil); status != http.StatusSeeOther {
		t.Errorf("the customer's own submission of a token a vendor tried: %d, want 303", status)
	}
}

// TestRatingsCountOnceAcrossInstances: two instances share Redis; the
// same customer rates the same backend on both and is counted once; an
// anonymous visitor is counted as anonymous; an in-house page gets the
// rating link in X-Frontdoor-Rate after a contact, and it counts for the
// in-house backend.
func TestRatingsCountOnceAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-8001")
	var trickToken string
	vendor := startBackend(t, "nightdesk", vendorDesk(&trickToken))
	inhouse := startBackend(t, "care-team", careTeam)
	gws := []*gateway{escalationSite(t, rs.URL(), vendor.URL, inhouse.URL), escalationSite(t, rs.URL(), vendor.URL, inhouse.URL)}

	// Both instances mint with the fleet's key once they have read it.
	var tokens [2]string
	waitFor(t, 10*time.Second, func() error {
		for i, gw := range gws {
			tokens[i] = tokenOn(t, gw.URL+"/support/help", sessionID, rateLink)
		}
		if resp, _ := do(t, "GET", gws[1].URL+"/.well-known/frontdoor/rate?t="+tokens[0], nil, withCookie(sessionID)); resp.StatusCode != http.StatusOK {
			return fmt.Errorf("instance 1 does not take instance 0's token yet: %d", resp.StatusCode)
		}
		return nil
	})
	if status := submit(t, gws[0].URL, "rate", sessionID, url.Values{"t": {tokens[0]}, "answer": {"yes"}}, nil); status != http.StatusOK {
		t.Fatalf("rating on instance 0: %d", status)
	}
	if status := submit(t, gws[1].URL, "rate", sessionID, url.Values{"t": {tokens[1]}, "answer": {"no"}}, nil); status != http.StatusForbidden {
		t.Errorf("the same customer rating the same backend on instance 1: %d, want 403", status)
	}
	sum := func(series ...string) float64 {
		total := 0.0
		for _, gw := range gws {
			m := gw.metrics(t)
			for _, s := range series {
				v, _ := metricValue(m, s)
				total += v
			}
		}
		return total
	}
	rating := func(backend, owner, vendor, answer, customer string) string {
		return fmt.Sprintf(`frontdoor_ratings_total{answer="%s",backend="%s",customer="%s",journey="%s",owner="%s",vendor="%s"}`,
			answer, backend, customer, map[string]string{"nightdesk": "support", "account-team": "account"}[backend], owner, vendor)
	}
	const desk = "NightDesk BPO"
	if v := sum(rating("nightdesk", "outsourced", desk, "yes", "known"), rating("nightdesk", "outsourced", desk, "no", "known")); v != 1 {
		t.Errorf("known ratings of nightdesk across the fleet: %v, want 1", v)
	}
	if v := sum(`frontdoor_feedback_refused_total{action="rate",reason="repeat"}`); v != 1 {
		t.Errorf("repeat ratings refused: %v, want 1", v)
	}

	// Anonymous: the question page gives a rater cookie; counted apart.
	anon := tokenOn(t, gws[1].URL+"/support/help", "", rateLink)
	resp, _ := do(t, "GET", gws[1].URL+"/.well-known/frontdoor/rate?t="+anon, nil, nil)
	var rater *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "frontdoor_rater" {
			rater = c
		}
	}
	if resp.StatusCode != http.StatusOK || rater == nil || !rater.HttpOnly {
		t.Fatalf("anonymous question page: %d, rater cookie %v", resp.StatusCode, rater)
	}
	anonymousHeaders := map[string]string{"Cookie": "frontdoor_rater=" + rater.Value}
	if status := submit(t, gws[1].URL, "rate", "", url.Values{"t": {anon}, "answer": {"no"}}, anonymousHeaders); status != http.StatusOK {
		t.Fatalf("anonymous rating: %d", status)
	}
	if status := submit(t, gws[0].URL, "rate", "", url.Values{"t": {anon}, "answer": {"no"}}, anonymousHeaders); status != http.StatusForbidden {
		t.Errorf("anonymous token replayed on the other instance: %d, want 403", status)
	}
	if v := sum(rating("nightdesk", "outsourced", desk, "no", "anonymous")); v != 1 {
		t.Errorf("anonymous ratings: %v, want 1", v)
	}
	if v := sum(rating("nightdesk", "outsourced", desk, "yes", "known"), rating("nightdesk", "outsourced", desk, "no", "known")); v != 1 {
		t.Errorf("the anonymous answer counted as a known customer's: %v", v)
	}

	// In-house: the contact's page gets the link, and it counts there.
	do(t, "POST", gws[0].URL+"/account/contact", strings.NewReader("help"), withCookie(sessionID))
	link := inhouse.last(t).Header.Get("X-Frontdoor-Rate")
	token, ok := strings.CutPrefix(link, "/.well-known/frontdoor/rate?t=")
	if !ok || token == "" {
		t.Fatalf("the in-house contact got X-Frontdoor-Rate %q", link)
	}
	if status := submit(t, gws[1].URL, "rate", sessionID, url.Values{"t": {token}, "answer": {"yes"}}, nil); status != http.StatusOK {
		t.Fatalf("rating the in-house contact: %d", status)
	}
	if v := sum(rating("account-team", "in-house", "", "yes", "known")); v != 1 {
		t.Errorf("in-house ratings: %v, want 1", v)
	}
	if got := vendor.last(t).Header.Get("X-Frontdoor-Rate"); got != "" {
		t.Errorf("the vendor received the in-house rating header: %q", got)
	}

	// Redis down: pages still come with their links, and an answer is
	// skipped, counted as skipped, and the customer told how to reach us.
	late := tokenOn(t, gws[0].URL+"/support/help", sessionID, rateLink)
	rs.Stop(t)
	if resp, body := do(t, "GET", gws[0].URL+"/support/help", nil, withCookie(sessionID)); resp.StatusCode != http.StatusOK || !rateLink.MatchString(body) {
		t.Errorf("with Redis down the vendor page: %d, rating link %v", resp.StatusCode, rateLink.MatchString(body))
	}
	if status := submit(t, gws[0].URL, "rate", sessionID, url.Values{"t": {late}, "answer": {"yes"}}, nil); status != http.StatusServiceUnavailable {
		t.Errorf("rating with Redis down: %d, want 503", status)
	}
	if v := sum(`frontdoor_feedback_skipped_total{action="rate",reason="unavailable"}`); v != 1 {
		t.Errorf("skipped ratings: %v, want 1", v)
	}
	if v := sum(rating("nightdesk", "outsourced", desk, "yes", "known"), rating("nightdesk", "outsourced", desk, "no", "known")); v != 1 {
		t.Errorf("known ratings after Redis went down: %v, want 1", v)
	}
}

// TestEscalationsCountOncePerCustomer: one customer loads NightDesk's page
// a few times (each mints a new escalation token for the same customer,
// journey and backend) and submits every token. frontdoor_escalations_total
// counts customers who escalated: one customer is one escalation of the
// backend within the rescue window, however many pages they escalated from.
func TestEscalationsCountOncePerCustomer(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-9001")
	var trick string
	vendor := startBackend(t, "nightdesk", vendorDesk(&trick))
	inhouse := startBackend(t, "care-team", careTeam)
	gw := escalationSite(t, rs.URL(), vendor.URL, inhouse.URL)

	const n = 5
	var tokens []string
	for range n {
		tokens = append(tokens, tokenOn(t, gw.URL+"/support/help", sessionID, escalateLink))
	}
	var statuses []int
	for _, tok := range tokens {
		statuses = append(statuses, submit(t, gw.URL, "escalate", sessionID, url.Values{"t": {tok}}, nil))
	}
	series := `frontdoor_escalations_total{backend="nightdesk",journey="support",owner="outsourced",vendor="NightDesk BPO"}`
	if v, _ := metricValue(gw.metrics(t), series); v != 1 {
		t.Errorf("one customer (C-9001) escalated %d times from nightdesk (answers %v): %s = %v, want 1", n, statuses, series, v)
	}
	if _, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID)); !strings.Contains(body, "hello from care-team") {
		t.Errorf("after escalating, the customer reached %q, want the care team", body)
	}
}

// TestGuestSessionRatingsCountAsAnonymous: sessions without a customer_id
// (a guest's cart session, which a brand hands any visitor) rate NightDesk.
// frontdoor does not know who they are: they are anonymous answers, under
// the anonymous cap of 30 a minute per backend, or whoever can get
// sessions swamps the answers of known customers.
func TestGuestSessionRatingsCountAsAnonymous(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	const guests = 35
	for i := range guests {
		seedSession(t, rs, fmt.Sprintf("guest-cart-session-%04d", i), "cart", "1 tent")
	}
	var trick string
	vendor := startBackend(t, "nightdesk", vendorDesk(&trick))
	inhouse := startBackend(t, "care-team", careTeam)
	gw := escalationSite(t, rs.URL(), vendor.URL, inhouse.URL)

	accepted := 0
	for i := range guests {
		id := fmt.Sprintf("guest-cart-session-%04d", i)
		tok := tokenOn(t, gw.URL+"/support/help", id, rateLink)
		if status := submit(t, gw.URL, "rate", id, url.Values{"t": {tok}, "answer": {"no"}}, nil); status == http.StatusOK {
			accepted++
		}
	}
	m := gw.metrics(t)
	known, _ := metricValue(m, `frontdoor_ratings_total{answer="no",backend="nightdesk",customer="known",journey="support",owner="outsourced",vendor="NightDesk BPO"}`)
	anon, _ := metricValue(m, `frontdoor_ratings_total{answer="no",backend="nightdesk",customer="anonymous",journey="support",owner="outsourced",vendor="NightDesk BPO"}`)
	if known != 0 || anon == 0 || anon > 30 {
		t.Errorf("%d guest sessions (no customer_id) answered \"no\" within a minute: accepted %d, counted known=%v anonymous=%v; want none known and 1 to 30 (the anonymous cap) anonymous",
			guests, accepted, known, anon)
	}
}

// ratingVendorPage is a vendor page whose "Send" button, clicked by the
// customer for something else, submits the banner's own rating token with
// answer=yes: a same-origin, user-activated navigation when the vendor is
// kept on the brand host without isolation.
const ratingVendorPage = `<!doctype html><html><head><title>NightDesk</title></head><body><h1>Chat with us</h1>
<button id="send">Send</button>
<script>
document.getElementById('send').addEventListener('click', function () {
  try {
    var t = new URL(document.querySelector('a.frontdoor-rate').href).searchParams.get('t');
    var f = document.createElement('form');
    f.method = 'post';
    f.action = '/.well-known/frontdoor/rate';
    [['t', t], ['answer', 'yes']].forEach(function (p) {
      var i = document.createElement('input');
      i.type = 'hidden'; i.name = p[0]; i.value = p[1];
      f.appendChild(i);
    });
    document.body.appendChild(f);
    f.submit();
  } catch (e) { document.title = 'error: ' + e; }
});
</script>
</body></html>`

// TestVendorNotIsolatedCannotRateForTheCustomer: in Chromium, a vendor kept
// on the brand host with isolate off runs as the brand, so it could read
// the banner's rating token and submit it as the customer's own answer
// (DESIGN: ratings cannot be "sent by a vendor page on the customer's
// behalf"). Such a backend's banner carries the brand contact but no
// feedback links.
func TestVendorNotIsolatedCannotRateForTheCustomer(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-9501")
	vendor := startBackend(t, "nightdesk", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, ratingVendorPage) //nolint:errcheck
	})
	shop := startBackend(t, "care-team", careTeam)
	gw := isolateSite(t, rs.URL(), shop.URL, vendor.URL)

	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(gw.URL+"/own/login?as="+sessionID), chromedp.Navigate(gw.URL+"/open/chat"),
		chromedp.WaitVisible(chromedp.ID("frontdoor-banner"))); err != nil {
		t.Fatalf("the vendor page with the brand's banner: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("send"))); err != nil {
		t.Fatalf("clicking Send: %v", err)
	}
	time.Sleep(2 * time.Second) // the script's form post, if it made one
	where, title := browse(t, ctx, chromedp.Location()), browse(t, ctx, chromedp.Title())
	series := `frontdoor_ratings_total{answer="yes",backend="nightdesk-open",customer="known",journey="open",owner="outsourced",vendor="NightDesk BPO"}`
	if yes, _ := metricValue(gw.metrics(t), series); yes != 0 {
		t.Errorf("the customer clicked NightDesk's own \"Send\" button and NightDesk's script submitted the banner's rating token (the browser is at %s, titled %q): %s = %v, want 0",
			where, title, series, yes)
	}
}
