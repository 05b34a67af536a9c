package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// opsSite routes support to the in-house team only in hours that exclude
// now, so normal traffic goes to the vendor and an override is visible.
func opsSite(redisURL string, care, night *backend) string {
	return frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
			cache 0s
		}
		journey support /support* {
			backend care-team {
				owner in-house
				to %s
				hours %s
				context customer_id trail
			}
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				context customer_id
			}
		}`, redisURL, care.URL, window(false), night.URL))
}

func whoServes(t *testing.T, gw *gateway) string {
	t.Helper()
	_, body := do(t, "GET", gw.URL+"/support", nil, nil)
	return strings.TrimPrefix(body, "hello from ")
}

func adminJSON(t *testing.T, gw *gateway, method, path, body string) (int, map[string]any) {
	t.Helper()
	resp, raw := do(t, method, "http://"+gw.AdminAddr+path, strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
	var out map[string]any
	json.Unmarshal([]byte(raw), &out)
	return resp.StatusCode, out
}

func TestOverrideIsObeyedFleetWide(t *testing.T) {
	rs := redistest.Start(t, "--appendonly", "yes") // a production Redis keeps its data across a restart
	care := startBackend(t, "care-team", nil)
	night := startBackend(t, "nightdesk", nil)
	gw1 := startGateway(t, opsSite(rs.URL(), care, night))
	gw2 := startGateway(t, opsSite(rs.URL(), care, night))

	if who := whoServes(t, gw2); who != "nightdesk" {
		t.Fatalf("before the override: %s", who)
	}
	out, err := frontdoorCmd(t, "override", "set", "support", "care-team", "--for", "2h",
		"--reason", "NightDesk outage", "--by", "ops-oncall", "--address", gw1.AdminAddr)
	if err != nil || !strings.Contains(out, "journey support now goes to care-team") {
		t.Fatalf("override set: %v\n%s", err, out)
	}
	setAt := time.Now()
	waitFor(t, 2*time.Second, func() error {
		if who := whoServes(t, gw2); who != "care-team" {
			return fmt.Errorf("the other instance still sends support to %s", who)
		}
		return nil
	})
	if el := time.Since(setAt); el > 1500*time.Millisecond {
		t.Errorf("the other instance obeyed after %s", el)
	}
	if v, _ := metricValue(gw2.metrics(t), `frontdoor_routing_decisions_total{backend="care-team",journey="support",reason="override"}`); v < 1 {
		t.Errorf("routing reason override = %v", v)
	}

	// Status, through the CLI, on the other instance.
	out, err = frontdoorCmd(t, "status", "--address", gw2.AdminAddr)
	if err != nil || !strings.Contains(out, "NightDesk outage") || !strings.Contains(out, "care-team") {
		t.Errorf("status: %v\n%s", err, out)
	}
	// The change is audited with who and why.
	code, list := adminJSON(t, gw2, "GET", "/frontdoor/overrides", "")
	audit, _ := list["audit"].([]any)
	if code != 200 || len(audit) == 0 || !strings.Contains(fmt.Sprint(audit[0]), "ops-oncall") || !strings.Contains(fmt.Sprint(audit[0]), "NightDesk outage") {
		t.Errorf("audit: %d %v", code, list)
	}

	// Redis goes away: instances keep obeying the last known override;
	// Redis comes back: still obeyed.
	rs.Stop(t)
	for _, gw := range []*gateway{gw1, gw2} { // each has failed to resync
		gw.waitLogged(t, 10*time.Second, "overrides: redis unreachable", 1)
	}
	if who := whoServes(t, gw2); who != "care-team" {
		t.Errorf("during the Redis outage: %s", who)
	}
	rs.Restart(t)
	for _, gw := range []*gateway{gw1, gw2} { // each has resynced from Redis
		gw.waitLogged(t, 10*time.Second, "overrides: redis reachable again", 1)
	}
	for _, gw := range []*gateway{gw1, gw2} {
		if who := whoServes(t, gw); who != "care-team" {
			t.Errorf("after the Redis restart: %s", who)
		}
	}

	out, err = frontdoorCmd(t, "override", "clear", "support", "--address", gw2.AdminAddr)
	if err != nil {
		t.Fatalf("override clear: %v\n%s", err, out)
	}
	waitFor(t, 2*time.Second, func() error {
		if who := whoServes(t, gw1); who != "nightdesk" {
			return fmt.Errorf("after clear: %s", who)
		}
		return nil
	})
}

func TestOverrideExpires(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	care := startBackend(t, "care-team", nil)
	night := startBackend(t, "nightdesk", nil)
	gw := startGateway(t, opsSite(rs.URL(), care, night))
	code, o := adminJSON(t, gw, "PUT", "/frontdoor/overrides/support", `{"backend":"care-team","ttl":"10s","reason":"test"}`)
	if code != 200 {
		t.Fatalf("set: %d %v", code, o)
	}
	if who := whoServes(t, gw); who != "care-team" {
		t.Fatalf("override not obeyed: %s", who)
	}
	waitFor(t, 15*time.Second, func() error {
		if who := whoServes(t, gw); who != "nightdesk" {
			return fmt.Errorf("still %s", who)
		}
		return nil
	})
}

func TestOverrideInputValidated(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	care := startBackend(t, "care-team", nil)
	night := startBackend(t, "nightdesk", nil)
	gw := startGateway(t, opsSite(rs.URL(), care, night))
	for _, c := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"PUT", "/frontdoor/overrides/returns", `{"backend":"care-team","ttl":"2h"}`, 404, `unknown journey "returns"`},
		{"PUT", "/frontdoor/overrides/support", `{"backend":"shop-core","ttl":"2h"}`, 400, `has no backend "shop-core"`},
		{"PUT", "/frontdoor/overrides/support", `{"backend":"care-team","ttl":"90d"}`, 400, `ttl "90d"`},
		{"PUT", "/frontdoor/overrides/support", `{"backend":"care-team","ttl":"2h","extra":1}`, 400, `unknown field`},
		{"PUT", "/frontdoor/overrides/support", `not json`, 400, `decoding override`},
		{"POST", "/frontdoor/overrides/support", `{}`, 405, `use PUT or DELETE`},
	} {
		code, out := adminJSON(t, gw, c.method, c.path, c.body)
		if code != c.code || !strings.Contains(fmt.Sprint(out["error"]), c.msg) {
			t.Errorf("%s %s %s: %d %v, want %d %q", c.method, c.path, c.body, code, out, c.code, c.msg)
		}
	}
}

func TestVendorNoteReachesTrailNotCustomer(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001")
	care := startBackend(t, "care-team", nil)
	night := startBackend(t, "nightdesk", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frontdoor-Note", "promised a refund within 5 days")
		w.Header().Set("X-Frontdoor-Case", "ND-4242")
		fmt.Fprint(w, "hello from nightdesk")
	})
	gw := startGateway(t, opsSite(rs.URL(), care, night))

	resp, _ := do(t, "GET", gw.URL+"/support", nil, withCookie(sessionID))
	ref := resp.Header.Get("X-Request-Id")
	if resp.Header.Get("X-Frontdoor-Note") != "" || resp.Header.Get("X-Frontdoor-Case") != "" {
		t.Errorf("the vendor's note reached the customer: %v", resp.Header)
	}
	var out string
	waitFor(t, 5*time.Second, func() error {
		var err error
		out, err = frontdoorCmd(t, "trail", "C-1001", "--address", gw.AdminAddr)
		if err != nil || !strings.Contains(out, "promised a refund within 5 days") {
			return fmt.Errorf("trail: %v %s", err, out)
		}
		return nil
	})
	for _, want := range []string{"ND-4242", "nightdesk", "outsourced", ref} {
		if !strings.Contains(out, want) {
			t.Errorf("trail lacks %q:\n%s", want, out)
		}
	}

	// The next agent, in-house, sees what the vendor promised.
	adminJSON(t, gw, "PUT", "/frontdoor/overrides/support", `{"backend":"care-team","ttl":"1h","reason":"back in-house"}`)
	do(t, "GET", gw.URL+"/support", nil, withCookie(sessionID))
	latest := care.last(t).Header.Get("X-Frontdoor-Context-Trail")
	var entry map[string]any
	if err := json.Unmarshal([]byte(latest), &entry); err != nil || entry["note"] != "promised a refund within 5 days" || entry["case"] != "ND-4242" {
		t.Errorf("in-house X-Frontdoor-Context-Trail = %q (%v)", latest, err)
	}
	if v, _ := metricValue(gw.metrics(t), `frontdoor_trail_entries_total{result="queued"}`); v != 1 {
		t.Errorf("trail_entries_total{queued} = %v", v)
	}
}

// TestOverrideWhileRedisIsDown: ops set an override exactly when things
// fail. With Redis down it applies at once on the instance that took it,
// says it is not fleet-wide yet, and reaches the other instances when
// Redis is back.
func TestOverrideWhileRedisIsDown(t *testing.T) {
	rs := redistest.Start(t)
	care := startBackend(t, "care-team", nil)
	night := startBackend(t, "nightdesk", nil)
	gw1 := startGateway(t, opsSite(rs.URL(), care, night))
	gw2 := startGateway(t, opsSite(rs.URL(), care, night))
	rs.Stop(t)

	code, out := adminJSON(t, gw1, "PUT", "/frontdoor/overrides/support", `{"backend":"care-team","ttl":"1h","reason":"vendor outage"}`)
	if code != http.StatusAccepted || out["fleet_wide"] != false || !strings.Contains(fmt.Sprint(out["note"]), "redis") {
		t.Fatalf("override with Redis down: %d %v, want 202 and not fleet-wide", code, out)
	}
	if who := whoServes(t, gw1); who != "care-team" {
		t.Errorf("the instance that took the override sends support to %q", who)
	}
	if who := whoServes(t, gw2); who != "nightdesk" {
		t.Errorf("the other instance follows the override before Redis is back: %q", who)
	}
	rs.Restart(t)
	waitFor(t, 10*time.Second, func() error {
		if who := whoServes(t, gw2); who != "care-team" {
			return fmt.Errorf("the other instance still sends support to %q", who)
		}
		return nil
	})
	code, out = adminJSON(t, gw2, "GET", "/frontdoor/overrides", "")
	if code != 200 || !strings.Contains(fmt.Sprint(out["audit"]), "vendor outage") {
		t.Errorf("the override's audit entry did not reach Redis: %v", out)
	}
}

// TestRepeatContacts: a customer's second ticket within the repeat window
// counts a repeat against the backend of the first, across instances and
// backends; after the window, or from an anonymous visitor, none.
func TestRepeatContacts(t *testing.T) {
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001")
	care := startBackend(t, "care-team", nil)
	night := startBackend(t, "nightdesk", nil)
	site := strings.Replace(opsSite(rs.URL(), care, night), "journey support /support* {",
		"journey support /support* {\n\t\t\tcontact POST /support/tickets*\n\t\t\trepeat_window 3s", 1)
	gw1, gw2 := startGateway(t, site), startGateway(t, site)
	count := func(metric, backend string) float64 {
		owner, vendor := "outsourced", "NightDesk BPO"
		if backend == "care-team" {
			owner, vendor = "in-house", ""
		}
		var total float64
		for _, gw := range []*gateway{gw1, gw2} {
			v, _ := metricValue(gw.metrics(t), fmt.Sprintf(`%s{backend="%s",journey="support",owner="%s",vendor="%s"}`, metric, backend, owner, vendor))
			total += v
		}
		return total
	}
	ticket := func(gw *gateway, headers map[string]string) {
		t.Helper()
		if resp, body := do(t, "POST", gw.URL+"/support/tickets", strings.NewReader("help"), headers); resp.StatusCode != 200 {
			t.Fatalf("ticket: %d %s", resp.StatusCode, body)
		}
	}
	expect := func(metric, backend string, want float64) {
		t.Helper()
		waitFor(t, 5*time.Second, func() error {
			if got := count(metric, backend); got != want {
				return fmt.Errorf("%s{%s} = %v, want %v", metric, backend, got, want)
			}
			return nil
		})
	}

	ticket(gw1, withCookie(sessionID)) // the first contact: the vendor's desk
	expect("frontdoor_contacts_total", "nightdesk", 1)
	ticket(gw2, withCookie(sessionID)) // back within the window, on another instance
	expect("frontdoor_repeat_contacts_total", "nightdesk", 1)

	// Back again, now to the in-house team: the repeat is the desk's.
	adminJSON(t, gw1, "PUT", "/frontdoor/overrides/support", `{"backend":"care-team","ttl":"1h","reason":"drill"}`)
	waitFor(t, 5*time.Second, func() error {
		if who := whoServes(t, gw2); who != "care-team" {
			return fmt.Errorf("override not followed: %s", who)
		}
		return nil
	})
	ticket(gw2, withCookie(sessionID))
	expect("frontdoor_contacts_total", "care-team", 1)
	expect("frontdoor_repeat_contacts_total", "nightdesk", 2)

	// After the window, a contact is a new matter; anonymous visitors and
	// requests that are not contacts count nothing.
	// The window ends when Redis expires the customer's last contact.
	lastContact := rs.Client(t).Get
	waitFor(t, 10*time.Second, func() error {
		if v, err := lastContact(context.Background(), "frontdoor:contact:support:C-1001").Result(); err == nil {
			return fmt.Errorf("the last contact (%q) is still within the window", v)
		}
		return nil
	})
	ticket(gw1, withCookie(sessionID))
	ticket(gw1, nil)
	do(t, "GET", gw1.URL+"/support/tickets", nil, withCookie(sessionID))
	expect("frontdoor_contacts_total", "care-team", 2)
	// The contact is written to Redis off the request path, and a repeat
	// counted right after: wait for the write.
	waitFor(t, 5*time.Second, func() error {
		if v, err := lastContact(context.Background(), "frontdoor:contact:support:C-1001").Result(); err != nil || !strings.HasPrefix(v, "care-team") {
			return fmt.Errorf("the contact after the window is not in Redis: %q %v", v, err)
		}
		return nil
	})
	if got := count("frontdoor_repeat_contacts_total", "care-team"); got != 0 {
		t.Errorf("a contact after the window counted as a repeat: %v", got)
	}
	if got := count("frontdoor_repeat_contacts_total", "nightdesk"); got != 2 {
		t.Errorf("repeats against the desk: %v, want 2", got)
	}
}
