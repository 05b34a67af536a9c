package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// TestContextNeverLogged runs the gateway with Caddy's debug log and
// access logs on, sends a customer with context to an in-house backend
// (plain context headers), an outsourced one (assertion only, the
// default) and an outsourced one with headers all, and finds neither a
// context value nor an assertion in any log line, while the backends did
// receive them and the proxy did log its round trips.
func TestContextNeverLogged(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-7301", "first_name", "Zebulon", "tier", "platinum-plus")
	inhouse := startBackend(t, "inhouse", nil)
	vendor := startBackend(t, "vendor", nil)
	plain := startBackend(t, "plain", nil)

	g := &gateway{dir: t.TempDir(), AdminAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	port := freePort(t)
	g.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	cfg := fmt.Sprintf(`{
	debug
	admin %s
	auto_https off
	persist_config off
}

http://127.0.0.1:%d {
	log
%s
}
`, g.AdminAddr, port, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
		}
		journey account /account* {
			backend care-team {
				owner in-house
				to %s
				context customer_id first_name tier
			}
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				context customer_id first_name tier
			}
		}
		journey tracking /track* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				headers all
				to %s
				context customer_id first_name tier
			}
		}`, rs.URL(), inhouse.URL, vendor.URL, plain.URL)))
	if err := os.WriteFile(filepath.Join(g.dir, "Caddyfile"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.launch(t, binary, "run", "--config", filepath.Join(g.dir, "Caddyfile"), "--adapter", "caddyfile")

	for _, path := range []string{"/account", "/support", "/track", "/account?again", "/support?again"} {
		if resp, _ := do(t, "GET", g.URL+path, nil, withCookie(sessionID)); resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
	}

	// The backends got what they are owed, so there was something to leak.
	in, p := inhouse.last(t).Header, plain.last(t).Header
	if in.Get("X-Frontdoor-Context-First-Name") != "Zebulon" || p.Get("X-Frontdoor-Context-Tier") != "platinum-plus" {
		t.Fatalf("plain context headers missing: in-house %v, headers all %v", in, p)
	}
	secrets := []string{"C-7301", "Zebulon", "platinum-plus"}
	for _, b := range []*backend{inhouse, vendor, plain} {
		b.mu.Lock()
		for _, r := range b.requests {
			token := r.Header.Get("X-Frontdoor-Assertion")
			if token == "" {
				t.Errorf("%s got no assertion", r.URL)
				continue
			}
			parts := strings.Split(token, ".")
			secrets = append(secrets, token, parts[1], parts[2]) // claims and signature alone too
		}
		b.mu.Unlock()
	}

	logs := g.logs.String()
	if !strings.Contains(logs, `"upstream roundtrip"`) || !strings.Contains(logs, `"handled request"`) {
		t.Fatalf("debug and access logs are not on; nothing proven:\n%s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("log line carries %.40q:\n%s", s, line)
			}
		}
		if strings.Contains(line, "X-Frontdoor-Context") || strings.Contains(line, "X-Frontdoor-Assertion") {
			t.Errorf("log line names a context or assertion header:\n%s", line)
		}
	}

	if v := vendor.last(t).Header; v.Get("X-Frontdoor-Context-First-Name") != "" || v.Get("X-Frontdoor-Assertion") == "" {
		t.Errorf("outsourced default: want the assertion only, got %v", v)
	}
}
