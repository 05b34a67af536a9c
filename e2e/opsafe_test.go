package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// terminalControls are what must never reach an operator's terminal from
// a note or a reason: escape sequences, tabs that shift columns, bidi
// overrides that reorder text.
var terminalControls = []string{"\x1b", "\t", "\u202e", "\u2066", "\x07", "\u009b"}

// TestOperatorOutputIsSafe: a vendor's note with an escape sequence and a
// tab, and an override reason with controls, are stored as text; and the
// CLI escapes what an older writer left in Redis.
func TestOperatorOutputIsSafe(t *testing.T) {
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001")
	care := startBackend(t, "care-team", nil)
	night := startBackend(t, "nightdesk", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("raw") {
			// A 7-bit escape sequence: Go's HTTP client refuses the
			// header line, so the customer gets the brand 502 page.
			w.Header()["X-Frontdoor-Note"] = []string{"\x1b[2J\x1b[Hall good"}
		} else {
			// Clear the screen and home the cursor with 8-bit CSI
			// (U+009B, valid in a header as UTF-8), shift the columns
			// with a tab, reverse the text with a bidi override.
			w.Header()["X-Frontdoor-Note"] = []string{"\u009b2J\u009bHall good\tno refund owed \u202eevil\u2066"}
			w.Header()["X-Frontdoor-Case"] = []string{"ND\u009b31m-4242"}
		}
		fmt.Fprint(w, "hello from nightdesk")
	})
	gw := startGateway(t, opsSite(rs.URL(), care, night))
	resp, body := do(t, "GET", gw.URL+"/support?raw", nil, withCookie(sessionID))
	if err := brandErrorPage(resp, []byte(body), "all good"); err != nil || resp.StatusCode != http.StatusBadGateway {
		t.Errorf("a note with a raw escape: %d, %v", resp.StatusCode, err)
	}
	if resp, _ := do(t, "GET", gw.URL+"/support", nil, withCookie(sessionID)); resp.StatusCode != http.StatusOK {
		t.Fatalf("vendor page: %d", resp.StatusCode)
	}

	// The vendor's note is the trail's entry with a case (the brand error
	// page of the first request also left one: the customer was orphaned).
	var entry map[string]any
	waitFor(t, 5*time.Second, func() error {
		code, out := adminJSON(t, gw, "GET", "/frontdoor/trail/C-1001", "")
		entries, _ := out["entries"].([]any)
		for _, e := range entries {
			if m, _ := e.(map[string]any); m != nil && m["case"] != nil {
				entry = m
				return nil
			}
		}
		return fmt.Errorf("trail: %d %v", code, out)
	})
	if note, kase := fmt.Sprint(entry["note"]), fmt.Sprint(entry["case"]); note != "2JHall good no refund owed evil" || kase != "ND31m-4242" {
		t.Errorf("stored note %q case %q, want them without control characters", note, kase)
	}

	code, o := adminJSON(t, gw, "PUT", "/frontdoor/overrides/support",
		`{"backend":"care-team","ttl":"1h","reason":"\u001b[2Jvendor\toutage \u202eevil\u009b","by":"ops\u001b[8m"}`)
	if code != 200 || o["reason"] != "[2Jvendor outage evil" || !strings.HasPrefix(fmt.Sprint(o["by"]), "ops[8m (") {
		t.Errorf("override stored as %d %v", code, o)
	}

	// An entry an older version stored raw: the CLI escapes it.
	if err := rs.Client(t).XAdd(context.Background(), &redis.XAddArgs{Stream: "frontdoor:trail:C-1001", Values: map[string]any{
		"time": time.Now().UTC().Format(time.RFC3339Nano), "journey": "support", "backend": "nightdesk", "owner": "outsourced",
		"status": "200", "request_id": "OLD\x1b[2J", "note": "old\x1b[2J\tnote \u202eevil", "case": "C\u2066"}}).Err(); err != nil {
		t.Fatal(err)
	}
	trail, err := frontdoorCmd(t, "trail", "C-1001", "--address", gw.AdminAddr)
	if err != nil {
		t.Fatalf("trail: %v\n%s", err, trail)
	}
	status, err := frontdoorCmd(t, "status", "--address", gw.AdminAddr)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, status)
	}
	for name, out := range map[string]string{"trail": trail, "status": status} {
		for _, c := range terminalControls {
			if strings.Contains(out, c) {
				t.Errorf("frontdoor %s printed %q:\n%q", name, c, out)
			}
		}
	}
	for _, want := range []string{`old\x1b[2J\tnote \u202eevil`, `OLD\x1b[2J`, `C\u2066`, "Hall good no refund owed evil"} {
		if !strings.Contains(trail, want) {
			t.Errorf("trail lacks %q:\n%s", want, trail)
		}
	}
	if !strings.Contains(status, "[2Jvendor outage evil") {
		t.Errorf("status lacks the cleaned reason:\n%s", status)
	}
}
