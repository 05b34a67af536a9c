package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

// TestContextChangeReachesEveryInstance runs two gateways on one
// standalone Redis with the default 2s context cache: once both serve a
// customer's context from memory, a change to it and then the end of the
// session (a logout) are seen by both within 100 ms, because Redis tracks
// what each read and tells it what changed.
func TestContextChangeReachesEveryInstance(t *testing.T) {
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001", "first_name", "Dana", "tier", "gold", "email", "d@x")
	inhouse := startBackend(t, "inhouse", nil)
	site := func() *gateway { return contextSite(t, rs.URL(), inhouse, inhouse, "2s") }
	gateways := []*gateway{site(), site()}

	// seen is the tier the account team is shown through gateway g, or
	// "none" without a session.
	seen := func(g *gateway) string {
		do(t, "GET", g.URL+"/account", nil, withCookie(sessionID))
		h := inhouse.last(t).Header
		if h.Get("X-Frontdoor-Session") != "found" {
			return h.Get("X-Frontdoor-Session")
		}
		return h.Get("X-Frontdoor-Context-Email")
	}
	for i, g := range gateways {
		for range 3 {
			if got := seen(g); got != "d@x" {
				t.Fatalf("gateway %d: email %q", i, got)
			}
		}
		if v, _ := metricValue(g.metrics(t), `frontdoor_context_lookups_total{result="cached"}`); v < 2 {
			t.Fatalf("gateway %d: %v lookups answered from memory, want the repeats", i, v)
		}
	}

	within := func(what, want string) {
		t.Helper()
		start := time.Now()
		testwait.For(t, 100*time.Millisecond, time.Millisecond, func() error {
			for i, g := range gateways {
				if got := seen(g); got != want {
					return fmt.Errorf("gateway %d still shows %q after %s, want %q (%s)", i, got, time.Since(start), want, what)
				}
			}
			return nil
		})
		t.Logf("%s seen by both instances after %s", what, time.Since(start).Round(100*time.Microsecond))
	}
	client := rs.Client(t)
	if err := client.HSet(context.Background(), "session:"+sessionID, "email", "dana@new.example").Err(); err != nil {
		t.Fatal(err)
	}
	within("a changed email", "dana@new.example")
	if err := client.Del(context.Background(), "session:"+sessionID).Err(); err != nil {
		t.Fatal(err)
	}
	within("a logout", "none")
	seedSession(t, rs, sessionID, "customer_id", "C-1001", "email", "back@x")
	within("a new login", "back@x")
}
