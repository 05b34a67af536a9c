package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
	"golang.org/x/net/websocket"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// rescueSite: the support journey goes to the NightDesk vendor first;
// customers it drops are rescued by the in-house care team for window.
func rescueSite(t *testing.T, redisURL, vendorURL, inhouseURL, window string) *gateway {
	return rescueSiteCaching(t, redisURL, "0s", vendorURL, inhouseURL, window)
}

// rescueSiteCaching is rescueSite with the context cached for cache.
func rescueSiteCaching(t *testing.T, redisURL, cache, vendorURL, inhouseURL, window string) *gateway {
	return startGateway(t, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
			cache %s
		}
		journey support /support* {
			contact POST /support/contact
			rescue care-team %s
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
		}`, redisURL, cache, window, vendorURL, inhouseURL)))
}

// TestVendorHangsUpChatAndTheBrandRescues: NightDesk hangs up a WebSocket
// chat; the customer's next visit reaches the care team, told why in
// X-Frontdoor-Rescue; the orphan is listed and counted; after the window,
// routing is normal again.
func TestVendorHangsUpChatAndTheBrandRescues(t *testing.T) {
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001")
	hangUp := websocket.Handler(func(c *websocket.Conn) {
		time.AfterFunc(200*time.Millisecond, func() { c.Close() })
		io.Copy(c, c) //nolint:errcheck
	})
	vendor := startBackend(t, "nightdesk", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/support/chat" {
			hangUp.ServeHTTP(w, r)
			return
		}
		fmt.Fprint(w, "hello from nightdesk")
	})
	inhouse := startBackend(t, "care-team", nil)
	const window = 4 * time.Second
	gw := rescueSite(t, rs.URL(), vendor.URL, inhouse.URL, window.String())

	if _, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID)); body != "hello from nightdesk" {
		t.Fatalf("before any hang-up the journey answered %q", body)
	}
	cfg, err := websocket.NewConfig("ws"+strings.TrimPrefix(gw.URL, "http")+"/support/chat", gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Header = http.Header{"Cookie": {"acme_session=" + sessionID}}
	chat, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	chat.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	if _, err := chat.Read(make([]byte, 64)); err == nil {
		t.Fatal("the vendor did not hang up")
	}
	chat.Close()
	orphanedAt := time.Now()
	ref := vendor.last(t).Header.Get("X-Request-Id")
	if vendor.last(t).URL.Path != "/support/chat" || ref == "" {
		t.Fatalf("the chat did not reach the vendor with a reference")
	}

	// An anonymous visitor is no one's orphan.
	if _, body := do(t, "GET", gw.URL+"/support/help", nil, nil); body != "hello from nightdesk" {
		t.Errorf("an anonymous visitor was rerouted: %q", body)
	}
	var rescue http.Header
	waitFor(t, 5*time.Second, func() error {
		if _, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID)); body != "hello from care-team" {
			return fmt.Errorf("the orphaned customer reached %q", body)
		}
		rescue = inhouse.last(t).Header
		return nil
	})
	dict, err := httpsfv.UnmarshalDictionary(rescue.Values("X-Frontdoor-Rescue"))
	if err != nil {
		t.Fatalf("X-Frontdoor-Rescue %q: %v", rescue.Get("X-Frontdoor-Rescue"), err)
	}
	item := func(k string) any {
		m, _ := dict.Get(k)
		it, _ := m.(httpsfv.Item)
		return it.Value
	}
	if item("cause") != httpsfv.Token("hung_up") || item("backend") != "nightdesk" || item("ref") != ref {
		t.Errorf("X-Frontdoor-Rescue = %q, want the hang-up by nightdesk of %s", rescue.Get("X-Frontdoor-Rescue"), ref)
	}
	if at, _ := item("at").(int64); at < orphanedAt.Add(-5*time.Second).Unix() || at > orphanedAt.Unix()+1 {
		t.Errorf("rescue at %v, orphaned at %v", at, orphanedAt.Unix())
	}
	if got := vendor.last(t).Header.Get("X-Frontdoor-Rescue"); got != "" {
		t.Errorf("the vendor was told about the rescue: %q", got)
	}

	out, err := frontdoorCmd(t, "orphans", "--address", gw.AdminAddr)
	if err != nil || !strings.Contains(out, "C-1001") || !strings.Contains(out, "hung_up") || !strings.Contains(out, ref) {
		t.Errorf("frontdoor orphans: %v\n%s", err, out)
	}
	m := gw.metrics(t)
	if v, _ := metricValue(m, `frontdoor_orphans_total{backend="nightdesk",cause="hung_up",journey="support",owner="outsourced",vendor="NightDesk BPO"}`); v != 1 {
		t.Errorf("orphans counted %v, want 1", v)
	}
	if v, _ := metricValue(m, `frontdoor_routing_decisions_total{backend="care-team",journey="support",reason="rescue"}`); v < 1 {
		t.Errorf("rescue routing decisions counted %v", v)
	}

	waitFor(t, window+5*time.Second, func() error {
		if _, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID)); body != "hello from nightdesk" {
			return fmt.Errorf("after the window the customer reached %q", body)
		}
		return nil
	})
	if since := time.Since(orphanedAt); since < window-time.Second {
		t.Errorf("the rescue ended after %v, before its window of %v", since, window)
	}
}

// TestVendorErrorPageOrphansOnceAndRedisDownIsSkipped: a vendor 5xx gives
// the customer the brand error page and orphans them once however often
// it happens; the care team rescues them. With Redis down the customer
// still gets answers and the orphan is counted as skipped.
func TestVendorErrorPageOrphansOnceAndRedisDownIsSkipped(t *testing.T) {
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-2002")
	vendor := startBackend(t, "nightdesk", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "NightDesk internal error", http.StatusInternalServerError)
	})
	inhouse := startBackend(t, "care-team", nil)
	gw := rescueSite(t, rs.URL(), vendor.URL, inhouse.URL, "1h")

	resp, body := do(t, "POST", gw.URL+"/support/tickets", strings.NewReader("help"), withCookie(sessionID))
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "NightDesk") {
		t.Fatalf("vendor 500: %d %q, want the brand error page", resp.StatusCode, body)
	}
	ref := resp.Header.Get("X-Request-Id")
	waitFor(t, 5*time.Second, func() error {
		if _, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID)); body != "hello from care-team" {
			return fmt.Errorf("the orphaned customer reached %q", body)
		}
		return nil
	})
	if got := inhouse.last(t).Header.Get("X-Frontdoor-Rescue"); !strings.Contains(got, "cause=error_page") || !strings.Contains(got, `ref="`+ref+`"`) {
		t.Errorf("X-Frontdoor-Rescue = %q, want the error page %s", got, ref)
	}
	// A second failure within the window is the same orphaning.
	do(t, "POST", gw.URL+"/support/tickets", strings.NewReader("help"), withCookie(sessionID))
	out, err := frontdoorCmd(t, "orphans", "--address", gw.AdminAddr)
	if err != nil || strings.Count(out, "C-2002") != 1 || !strings.Contains(out, "error_page") {
		t.Errorf("frontdoor orphans: %v\n%s", err, out)
	}
	series := `frontdoor_orphans_total{backend="nightdesk",cause="error_page",journey="support",owner="outsourced",vendor="NightDesk BPO"}`
	if v, _ := metricValue(gw.metrics(t), series); v != 1 {
		t.Errorf("orphans counted %v, want 1", v)
	}

	rs.Stop(t)
	start := time.Now()
	resp, _ = do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID))
	if resp.StatusCode != http.StatusInternalServerError || time.Since(start) > 2*time.Second {
		t.Errorf("with Redis down: %d after %v", resp.StatusCode, time.Since(start))
	}
	waitFor(t, 5*time.Second, func() error {
		// Redis is down: the lookup fails open, there is no customer id to
		// orphan; a known one would be skipped.
		if v, _ := metricValue(gw.metrics(t), series); v != 1 {
			return fmt.Errorf("orphans counted %v with Redis down", v)
		}
		return nil
	})
}

// TestVendorStatusBelow100IsItsFailure: a vendor answers with status
// "099", which Go's client reads as 99 and no server may write. frontdoor
// passed it on and net/http panicked ("invalid WriteHeader code 99"): the
// customer's connection was cut with no brand error page, the request was
// counted nowhere and the known customer was not orphaned, so a vendor
// could fail customers out of sight of its scorecard and of the rescue.
// Such an answer is the vendor's failure, a brand 502, as one beyond 599.
func TestVendorStatusBelow100IsItsFailure(t *testing.T) {
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-9301")
	vendorAddr := rawVendor(t, 0, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body) //nolint:errcheck
			fmt.Fprintf(c, "HTTP/1.1 099 Odd\r\nContent-Type: text/html\r\nContent-Length: 29\r\n\r\n<html><body>odd</body></html>")
		}
	})
	inhouse := startBackend(t, "care-team", nil)
	gw := rescueSite(t, rs.URL(), "http://"+vendorAddr, inhouse.URL, "1h")
	var got []string
	for _, cookie := range []string{sessionID, "", ""} {
		req, _ := http.NewRequest("GET", gw.URL+"/support/help", nil)
		if cookie != "" {
			req.Header.Set("Cookie", "acme_session="+cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got = append(got, "error: "+err.Error())
			continue
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		got = append(got, resp.Status)
	}
	// Each request is counted as it ends, and the known customer's orphan
	// (the anonymous ones are never orphaned) off the request path: wait
	// for all of them, then judge.
	var served, orphans float64
	waitFor(t, 5*time.Second, func() error {
		m := gw.metrics(t)
		served, _ = metricValue(m, `frontdoor_requests_total{backend="nightdesk",code="502",journey="support",owner="outsourced",vendor="NightDesk BPO"}`)
		orphans, _ = metricValue(m, `frontdoor_orphans_total{backend="nightdesk",cause="error_page",journey="support",owner="outsourced",vendor="NightDesk BPO"}`)
		if served < 3 || orphans < 1 {
			return fmt.Errorf("requests_total{code=502} of nightdesk %v, error_page orphans %v; answers %q", served, orphans, got)
		}
		return nil
	})
	panics := strings.Count(gw.logs.String(), "invalid WriteHeader code")
	if served != 3 || orphans != 1 || panics > 0 || strings.Join(got, " ") != strings.Repeat("502 Bad Gateway ", 2)+"502 Bad Gateway" {
		t.Errorf("3 requests to a vendor answering status 099: the customer got %q (want 502 each); requests_total{code=502} of nightdesk %v (want 3); error_page orphans %v (want 1); %d panics \"invalid WriteHeader code\" in the log",
			got, served, orphans, panics)
	}
}

// TestRepeatContactOrphansTheCustomer: a customer who has to contact the
// vendor again within the repeat window was orphaned by it.
func TestRepeatContactOrphansTheCustomer(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-3003")
	vendor := startBackend(t, "nightdesk", nil)
	inhouse := startBackend(t, "care-team", nil)
	gw := rescueSite(t, rs.URL(), vendor.URL, inhouse.URL, "1h")
	if _, body := do(t, "POST", gw.URL+"/support/contact", strings.NewReader("hi"), withCookie(sessionID)); body != "hello from nightdesk" {
		t.Fatalf("first contact reached %q", body)
	}
	waitFor(t, 5*time.Second, func() error { // the first contact is written off the request path
		if n, _ := rs.Client(t).Exists(t.Context(), "frontdoor:contact:support:C-3003").Result(); n != 1 {
			return fmt.Errorf("first contact not recorded")
		}
		return nil
	})
	resp, _ := do(t, "POST", gw.URL+"/support/contact", strings.NewReader("again"), withCookie(sessionID))
	ref := resp.Header.Get("X-Request-Id")
	series := `frontdoor_orphans_total{backend="nightdesk",cause="repeat_contact",journey="support",owner="outsourced",vendor="NightDesk BPO"}`
	waitFor(t, 5*time.Second, func() error {
		if v, _ := metricValue(gw.metrics(t), series); v != 1 {
			return fmt.Errorf("repeat-contact orphans counted %v", v)
		}
		return nil
	})
	if _, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID)); body != "hello from care-team" {
		t.Errorf("after a repeat contact the customer reached %q", body)
	}
	if got := inhouse.last(t).Header.Get("X-Frontdoor-Rescue"); !strings.Contains(got, "cause=repeat_contact") || !strings.Contains(got, ref) {
		t.Errorf("X-Frontdoor-Rescue = %q, want the repeat contact %s", got, ref)
	}
}

// TestRescueIsSeenThroughTheContextCache: where Redis does not report
// changes (here RESP2: no tracking), the customer's context is cached for
// the TTL; an orphan's rescue marker, written to the session after the
// brand page, still takes effect on the customer's next visit to this
// instance, not a TTL later.
func TestRescueIsSeenThroughTheContextCache(t *testing.T) {
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001")
	vendor := startBackend(t, "nightdesk", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	inhouse := startBackend(t, "care-team", nil)
	gw := rescueSiteCaching(t, rs.URL()+"?protocol=2", "1m", vendor.URL, inhouse.URL, "1h")
	if resp, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID)); resp.StatusCode < 500 || !strings.Contains(body, "Acme") {
		t.Fatalf("the vendor's 500: %d %q, want the brand's error page", resp.StatusCode, body)
	}
	waitFor(t, 3*time.Second, func() error {
		if _, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID)); body != "hello from care-team" {
			return fmt.Errorf("the orphaned customer reached %q", body)
		}
		return nil
	})
}

// TestOrphanInAnotherSessionIsRescued: NightDesk drops customer C-9401 (a
// 500, the brand error page) in their phone session, which is rescued.
// Within the rescue window it drops them again in their laptop session:
// the orphan is listed and counted once per customer, but the laptop
// session is rescued too, or NightDesk keeps serving (and dropping) the
// customer there.
func TestOrphanInAnotherSessionIsRescued(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	const phone, laptop = "sess-phone-0000000001", "sess-laptop-000000001"
	seedSession(t, rs, phone, "customer_id", "C-9401")
	seedSession(t, rs, laptop, "customer_id", "C-9401")
	vendor := startBackend(t, "nightdesk", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nightdesk is down for you", http.StatusInternalServerError)
	})
	inhouse := startBackend(t, "care-team", nil)
	gw := rescueSite(t, rs.URL(), vendor.URL, inhouse.URL, "1h")

	served := func(session string) string {
		t.Helper()
		_, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(session))
		if body == "hello from care-team" {
			return "care-team"
		}
		return "brand error page (nightdesk failed)"
	}
	rescued := func(session string) func() error {
		return func() error {
			if got := served(session); got != "care-team" {
				return fmt.Errorf("session %s is not rescued: next request served by %s", session, got)
			}
			return nil
		}
	}
	served(phone)
	waitFor(t, 5*time.Second, rescued(phone))
	served(laptop) // dropped again by nightdesk, in the laptop session
	waitFor(t, 5*time.Second, rescued(laptop))
	series := `frontdoor_orphans_total{backend="nightdesk",cause="error_page",journey="support",owner="outsourced",vendor="NightDesk BPO"}`
	if v, _ := metricValue(gw.metrics(t), series); v != 1 {
		t.Errorf("one customer dropped in two sessions: %s = %v, want 1", series, v)
	}
}

// TestRefusedContactIsNoContact: the customer files one real contact with
// NightDesk. A script on another host of the brand's site (same-site, so
// the brand's SameSite=Lax session cookie goes along) then POSTs to the
// contact path; NightDesk refuses each (403). Counted, they would be
// repeat contacts against NightDesk, a repeat_contact orphan and a rescue
// of a customer who contacted nobody.
func TestRefusedContactIsNoContact(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-9601")
	vendor := startBackend(t, "nightdesk", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("X-Csrf-Token") != "ok" {
			http.Error(w, "forbidden: no CSRF token", http.StatusForbidden)
			return
		}
		fmt.Fprint(w, "hello from nightdesk")
	})
	inhouse := startBackend(t, "care-team", nil)
	gw := rescueSite(t, rs.URL(), vendor.URL, inhouse.URL, "1h")

	real := withCookie(sessionID)
	real["X-Csrf-Token"] = "ok"
	if resp, _ := do(t, "POST", gw.URL+"/support/contact", strings.NewReader("my tent leaks"), real); resp.StatusCode != 200 {
		t.Fatalf("the real contact: %d", resp.StatusCode)
	}
	waitFor(t, 5*time.Second, func() error { // written off the request path
		if n, _ := rs.Client(t).Exists(t.Context(), "frontdoor:contact:support:C-9601").Result(); n != 1 {
			return fmt.Errorf("the real contact is not recorded")
		}
		return nil
	})
	var statuses []int
	for _, forged := range []map[string]string{
		{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty"}, // refused by NightDesk
		{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty", "X-Csrf-Token": "ok"},
		{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "X-Csrf-Token": "ok"},
		{}, // no fetch metadata: refused by NightDesk
	} {
		headers := withCookie(sessionID)
		headers["Origin"] = "http://help.shop.example"
		for k, v := range forged {
			headers[k] = v
		}
		resp, _ := do(t, "POST", gw.URL+"/support/contact", strings.NewReader("x"), headers)
		statuses = append(statuses, resp.StatusCode)
	}
	// Repeats and their orphans are found off the request path, in the
	// order the contacts were queued. Once the handlers have returned, a
	// marker customer's two real contacts (a repeat, and its orphan) are
	// queued after anything the POSTs under test queued, and written
	// after it.
	gw.waitHandlersReturned(t)
	seedSession(t, rs, "sess-marker", "customer_id", "C-9602")
	marker := withCookie("sess-marker")
	marker["X-Csrf-Token"] = "ok"
	for range 2 {
		if resp, _ := do(t, "POST", gw.URL+"/support/contact", strings.NewReader("still leaking"), marker); resp.StatusCode != 200 {
			t.Fatalf("the marker's contact: %d", resp.StatusCode)
		}
	}
	l := `{backend="nightdesk",journey="support",owner="outsourced",vendor="NightDesk BPO"}`
	orphanSeries := `frontdoor_orphans_total{backend="nightdesk",cause="repeat_contact",journey="support",owner="outsourced",vendor="NightDesk BPO"}`
	gw.waitMetricAtLeast(t, orphanSeries, 1) // the marker's
	m := gw.metrics(t)
	contacts, _ := metricValue(m, "frontdoor_contacts_total"+l)
	repeats, _ := metricValue(m, "frontdoor_repeat_contacts_total"+l)
	orphans, _ := metricValue(m, orphanSeries)
	_, body := do(t, "GET", gw.URL+"/support/help", nil, withCookie(sessionID))
	if contacts != 1+2 || repeats != 1 || orphans != 1 {
		t.Errorf("1 real contact, then POSTs refused by NightDesk or not from the brand's own pages (%v), then the marker's 2: contacts_total %v (want 3), repeat_contacts_total %v (want the marker's 1), repeat_contact orphans %v (want the marker's 1); the customer's next page: %q",
			statuses, contacts, repeats, orphans, body)
	}
	if strings.Contains(body, "care-team") {
		t.Errorf("the customer who contacted once was rescued: %q", body)
	}
}
