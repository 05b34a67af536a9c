package caddymodule

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoor-dev/frontdoor/config"
)

func parseFrontdoor(input string) (*Handler, error) {
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return h, err
}

func mustParse(t testing.TB, input string) *Handler {
	t.Helper()
	h, err := parseFrontdoor(input)
	if err != nil {
		t.Fatalf("parsing:\n%s\nerror: %v", input, err)
	}
	return h
}

// designExample is the frontdoor block of DESIGN.md's canonical Caddyfile;
// every line of it must work as written.
const designExample = `frontdoor {
	brand "Acme Outdoor"
	contact {
		phone "+1 800 555 0100"
		email help@acme.example
		url https://acme.example/help
	}
	session {
		redis redis://127.0.0.1:6379/0  # redis://, rediss://, redis-sentinel / cluster forms
		cookie acme_session              # the brand's own session cookie
		key "session:{id}"               # Redis hash holding the customer context; {id} = cookie value
		timeout 50ms
		cache 2s                          # in-process cache of looked-up contexts
		on_error open                     # open: forward without context | closed: brand 503 page
	}
	journey checkout /checkout* /cart* {
		backend shop-core {
			owner in-house
			to http://127.0.0.1:9001
		}
	}
	journey support /support* /help* {
		backend care-team {
			owner in-house
			to http://127.0.0.1:9002
			hours "Mon-Fri 08:00-20:00" America/New_York
		}
		backend nightdesk {
			owner outsourced
			vendor "NightDesk BPO"
			to http://127.0.0.1:9003
			context customer_id first_name tier
			slo availability 99.5%
			slo latency 95% 800ms
		}
	}
	journey tracking /track* {
		backend shipco {
			owner outsourced
			vendor ShipCo
			to http://127.0.0.1:9004
			context customer_id
		}
	}
}`

// proxyJSON decodes a backend's reverse proxy config for comparison.
func proxyJSON(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("proxy JSON %s: %v", raw, err)
	}
	return v
}

func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCaddyfileDesignExample(t *testing.T) {
	h := mustParse(t, designExample)

	if h.Brand != "Acme Outdoor" {
		t.Errorf("brand %q", h.Brand)
	}
	if want := (config.Contact{Phone: "+1 800 555 0100", Email: "help@acme.example", URL: "https://acme.example/help"}); h.Contact != want {
		t.Errorf("contact %+v, want %+v", h.Contact, want)
	}
	cache := caddy.Duration(2 * time.Second)
	wantSession := &SessionConfig{Redis: "redis://127.0.0.1:6379/0", Cookie: "acme_session", Key: "session:{id}",
		Timeout: caddy.Duration(50 * time.Millisecond), Cache: &cache, OnError: "open"}
	if !reflect.DeepEqual(h.Session, wantSession) {
		t.Errorf("session %+v, want %+v", h.Session, wantSession)
	}

	var names []string
	for _, j := range h.Journeys {
		names = append(names, j.Name+" "+strings.Join(j.Paths, " "))
	}
	if want := []string{"checkout /checkout* /cart*", "support /support* /help*", "tracking /track*"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("journeys %q, want %q", names, want)
	}

	care := h.Journeys[1].Backends[0]
	if care.Name != "care-team" || care.Owner != config.InHouse || care.Vendor != "" {
		t.Errorf("care-team: %+v", care)
	}
	if want := []config.Hours{{When: "Mon-Fri 08:00-20:00", Zone: "America/New_York"}}; !reflect.DeepEqual(care.Hours, want) {
		t.Errorf("care-team hours %+v, want %+v", care.Hours, want)
	}
	if care.Banner != nil || care.BannerEnabled() {
		t.Errorf("in-house banner defaults to on: %v", care.Banner)
	}

	night := h.Journeys[1].Backends[1]
	if night.Owner != config.Outsourced || night.Vendor != "NightDesk BPO" {
		t.Errorf("nightdesk owner %q vendor %q", night.Owner, night.Vendor)
	}
	if want := []string{"customer_id", "first_name", "tier"}; !reflect.DeepEqual(night.Context, want) {
		t.Errorf("nightdesk context %q", night.Context)
	}
	if want := (&config.SLO{Availability: 0.995, LatencyTarget: 0.95, LatencyThreshold: config.Duration(800 * time.Millisecond)}); !reflect.DeepEqual(night.SLO, want) {
		t.Errorf("nightdesk slo %+v, want %+v", night.SLO, want)
	}
	if !night.BannerEnabled() {
		t.Error("outsourced banner defaults to off")
	}

	for i, want := range []string{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003", "127.0.0.1:9004"} {
		b := [][2]int{{0, 0}, {1, 0}, {1, 1}, {2, 0}}[i]
		got := proxyJSON(t, h.Journeys[b[0]].Backends[b[1]].ProxyRaw)
		wantProxy := jsonValue(t, `{"handler":"reverse_proxy","upstreams":[{"dial":"`+want+`"}]}`)
		if !reflect.DeepEqual(any(got), wantProxy) {
			t.Errorf("backend %d.%d proxy %v, want %v", b[0], b[1], got, wantProxy)
		}
	}
}

// A backend block takes every reverse_proxy subdirective, wherever it is
// written among frontdoor's own, nested blocks included.
func TestCaddyfileReverseProxyPassthrough(t *testing.T) {
	h := mustParse(t, `frontdoor {
		brand Acme
		journey support /support* {
			backend nightdesk {
				to http://127.0.0.1:9003 http://127.0.0.1:9013
				lb_policy first
				owner outsourced
				health_uri /healthz
				health_interval 5s
				transport http {
					dial_timeout 2s
					keepalive_idle_conns_per_host 16
				}
				vendor NightDesk
				fail_duration 30s
				header_up X-Vendor-Key abc
				banner off
			}
		}
	}`)
	b := h.Journeys[0].Backends[0]
	if b.Owner != config.Outsourced || b.Vendor != "NightDesk" || b.Banner == nil || *b.Banner {
		t.Errorf("frontdoor's own subdirectives around the proxy ones: owner %q vendor %q banner %v", b.Owner, b.Vendor, b.Banner)
	}
	got := proxyJSON(t, b.ProxyRaw)
	want := jsonValue(t, `{
		"handler": "reverse_proxy",
		"upstreams": [{"dial": "127.0.0.1:9003"}, {"dial": "127.0.0.1:9013"}],
		"load_balancing": {"selection_policy": {"policy": "first"}},
		"health_checks": {
			"active": {"uri": "/healthz", "interval": 5000000000},
			"passive": {"fail_duration": 30000000000}
		},
		"transport": {"protocol": "http", "dial_timeout": 2000000000, "keep_alive": {"max_idle_conns_per_host": 16}},
		"headers": {"request": {"set": {"X-Vendor-Key": ["abc"]}}}
	}`)
	if !reflect.DeepEqual(any(got), want) {
		gotText, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("proxy:\n%s", gotText)
	}
}

func TestCaddyfileOptions(t *testing.T) {
	wrap := func(backend string) string {
		return "frontdoor {\n brand Acme\n journey j /j* {\n  backend b {\n   to 127.0.0.1:9001\n" + backend + "\n  }\n }\n}"
	}
	inHouse := func(backend string) string { return wrap("owner in-house\n" + backend) }
	t.Run("slo orphans", func(t *testing.T) {
		h := mustParse(t, "frontdoor {\n brand Acme\n journey j /j* {\n  contact POST /j/tickets*\n  backend b {\n   owner outsourced\n   vendor V\n   to 127.0.0.1:9001\n   slo orphans 2.5%\n   slo availability 99%\n  }\n }\n}")
		if got, want := h.Journeys[0].Backends[0].SLO, (&config.SLO{Availability: 0.99, OrphanRate: 0.025}); got == nil || *got != *want {
			t.Errorf("slo %+v, want %+v", got, want)
		}
	})
	t.Run("slo percents", func(t *testing.T) {
		cases := map[string]config.SLO{
			"slo availability 99.5%":                   {Availability: 0.995},
			"slo availability 99.95%":                  {Availability: 0.9995},
			"slo availability 50%":                     {Availability: 0.5},
			"slo latency 95% 800ms":                    {LatencyTarget: 0.95, LatencyThreshold: config.Duration(800 * time.Millisecond)},
			"slo latency 97.5% 2s":                     {LatencyTarget: 0.975, LatencyThreshold: config.Duration(2 * time.Second)},
			"slo availability 99%\nslo latency 90% 1s": {Availability: 0.99, LatencyTarget: 0.9, LatencyThreshold: config.Duration(time.Second)},
		}
		for line, want := range cases {
			h := mustParse(t, inHouse(line))
			if got := h.Journeys[0].Backends[0].SLO; got == nil || *got != want {
				t.Errorf("%q: slo %+v, want %+v", line, got, want)
			}
		}
	})
	t.Run("banner", func(t *testing.T) {
		for line, want := range map[string]bool{"owner outsourced\nvendor V\nbanner off": false, "owner in-house\nbanner on": true} {
			b := mustParse(t, wrap(line)).Journeys[0].Backends[0]
			if b.Banner == nil || *b.Banner != want || b.BannerEnabled() != want {
				t.Errorf("%q: banner %v", line, b.Banner)
			}
		}
	})
	t.Run("isolate", func(t *testing.T) {
		for line, want := range map[string]bool{
			"owner outsourced\nvendor V":              true, // the default for vendors
			"owner outsourced\nvendor V\nisolate off": false,
			"owner in-house":                          false,
			"owner in-house\nisolate on":              true,
			"owner in-house\nisolate":                 true, // bare, as DESIGN reads it
		} {
			b := mustParse(t, wrap(line)).Journeys[0].Backends[0]
			if b.IsolateEnabled() != want {
				t.Errorf("%q: isolated %v, want %v", line, b.IsolateEnabled(), want)
			}
		}
	})
	t.Run("response_body_timeout", func(t *testing.T) {
		b := mustParse(t, wrap("owner outsourced\nvendor V\nresponse_body_timeout 30s")).Journeys[0].Backends[0]
		if b.BodyTimeout() != 30*time.Second {
			t.Errorf("response_body_timeout 30s: %v", b.BodyTimeout())
		}
		b = mustParse(t, wrap("owner outsourced\nvendor V\nresponse_body_timeout 0")).Journeys[0].Backends[0]
		if b.BodyTimeout() != 0 {
			t.Errorf("response_body_timeout 0: %v, want none", b.BodyTimeout())
		}
		b = mustParse(t, wrap("owner outsourced\nvendor V")).Journeys[0].Backends[0]
		if b.BodyTimeout() != config.DefaultResponseBodyTimeout {
			t.Errorf("default: %v", b.BodyTimeout())
		}
	})
	t.Run("allow_redirect", func(t *testing.T) {
		b := mustParse(t, wrap("owner outsourced\nvendor V\nallow_redirect pay.example *.cdn.example\nallow_redirect 10.0.0.1 [::1] PAY.example.")).Journeys[0].Backends[0]
		if want := []string{"pay.example", "*.cdn.example", "10.0.0.1", "[::1]", "PAY.example."}; !reflect.DeepEqual(b.AllowRedirect, want) {
			t.Errorf("allow_redirect %q, want %q", b.AllowRedirect, want)
		}
	})
	t.Run("hours", func(t *testing.T) {
		b := mustParse(t, wrap(`owner in-house
			hours "Mon-Fri 08:00-20:00" America/New_York
			hours "Sat,Sun 10:00-16:00"
			hours "daily 20:00-08:00" Europe/Paris`)).Journeys[0].Backends[0]
		want := []config.Hours{
			{When: "Mon-Fri 08:00-20:00", Zone: "America/New_York"},
			{When: "Sat,Sun 10:00-16:00"},
			{When: "daily 20:00-08:00", Zone: "Europe/Paris"},
		}
		if !reflect.DeepEqual(b.Hours, want) {
			t.Errorf("hours %+v, want %+v", b.Hours, want)
		}
	})
	t.Run("context repeated", func(t *testing.T) {
		b := mustParse(t, wrap("owner in-house\ncontext customer_id\ncontext tier trail")).Journeys[0].Backends[0]
		if want := []string{"customer_id", "tier", "trail"}; !reflect.DeepEqual(b.Context, want) {
			t.Errorf("context %q, want %q", b.Context, want)
		}
	})
}

func TestCaddyfileSessionAndAssertion(t *testing.T) {
	h := mustParse(t, `frontdoor {
		brand Acme
		session {
			redis rediss://user:pw@redis.internal:6380/2
			cookie sid
			cache 0
			on_error closed
			strip_cookies acme_csrf acme_pref
			strip_cookies acme_other
		}
		assertion {
			key /etc/frontdoor/new.pem /etc/frontdoor/old.pem
			ttl 90s
			reuse 45s
		}
		banner_template /etc/frontdoor/banner.html
		error_template /etc/frontdoor/error.html
		journey j /j* {
			on_error open
			backend b {
				owner in-house
				to 127.0.0.1:9001
			}
		}
	}`)
	zero := caddy.Duration(0)
	wantSession := &SessionConfig{Redis: "rediss://user:pw@redis.internal:6380/2", Cookie: "sid", Cache: &zero,
		OnError: "closed", StripCookies: []string{"acme_csrf", "acme_pref", "acme_other"}}
	if !reflect.DeepEqual(h.Session, wantSession) {
		t.Errorf("session %+v, want %+v", h.Session, wantSession)
	}
	wantAssertion := &AssertionConfig{Keys: []string{"/etc/frontdoor/new.pem", "/etc/frontdoor/old.pem"}, TTL: caddy.Duration(90 * time.Second), Reuse: durationPtr(45 * time.Second)}
	if !reflect.DeepEqual(h.Assertion, wantAssertion) {
		t.Errorf("assertion %+v, want %+v", h.Assertion, wantAssertion)
	}
	if h.BannerTemplate != "/etc/frontdoor/banner.html" || h.ErrorTemplate != "/etc/frontdoor/error.html" {
		t.Errorf("templates %q %q", h.BannerTemplate, h.ErrorTemplate)
	}
	if h.Journeys[0].OnError != "open" {
		t.Errorf("journey on_error %q", h.Journeys[0].OnError)
	}
	// "reuse 0s" is kept as an explicit zero (one token per request), and
	// no reuse line as unset (the default).
	parse := func(block string) *AssertionConfig {
		t.Helper()
		d := caddyfile.NewTestDispenser(block)
		d.Next()
		a, err := parseAssertion(d)
		if err != nil {
			t.Fatalf("%s: %v", block, err)
		}
		return a
	}
	if raw, err := json.Marshal(parse("assertion {\n\treuse 0s\n}")); err != nil || string(raw) != `{"reuse":0}` {
		t.Errorf("assertion JSON %s (%v) loses reuse 0s", raw, err)
	}
	if unset := parse("assertion {\n\tttl 40s\n}"); unset.Reuse != nil {
		t.Errorf("no reuse line parsed as reuse %v", *unset.Reuse)
	}
	// A "cache 0" is kept as an explicit zero (cache off), not as unset.
	raw, err := json.Marshal(h.Session)
	if err != nil || !strings.Contains(string(raw), `"cache":0`) {
		t.Errorf("session JSON %s (%v) loses cache 0", raw, err)
	}
}

// The parsed handler is Caddy's JSON config: it must survive the round
// trip caddy adapt and a reload make.
func TestCaddyfileJSONRoundTrip(t *testing.T) {
	h := mustParse(t, designExample)
	raw, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var back Handler
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != string(again) {
		t.Errorf("round trip changed the config:\n%s\n%s", raw, again)
	}
	if !strings.Contains(string(raw), `"latency_threshold":"800ms"`) {
		t.Errorf("latency threshold not written as a duration: %s", raw)
	}
}

func TestCaddyfileErrors(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  string // the error must contain this, line included
	}{
		{"argument on the directive", "frontdoor extra {\n}", "Testfile:1"},
		{"unknown option", "frontdoor {\n\tbrand Acme\n\tbrnad Acme\n}", `unrecognized frontdoor option "brnad"`},
		{"unknown option line", "frontdoor {\n\tbrand Acme\n\tbrnad Acme\n}", "Testfile:3"},
		{"brand without name", "frontdoor {\n\tbrand\n}", "Testfile:2"},
		{"no brand", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", `brand is required: the name customers know, e.g. brand "Acme Outdoor", at Testfile:1`},
		{"no journey", "frontdoor {\n\tbrand Acme\n}", "no journey: add at least one, e.g. journey checkout /checkout* { backend ... }, at Testfile:1"},
		{"unknown contact option", "frontdoor {\n\tbrand Acme\n\tcontact {\n\t\tfax 1\n\t}\n}", `unrecognized contact option "fax": expected phone, email or url, at Testfile:4`},
		{"unknown session option", "frontdoor {\n\tbrand Acme\n\tsession {\n\t\tcookie s\n\t\tttl 1s\n\t}\n}", `unrecognized session option "ttl": expected redis, cookie, key, timeout, cache, on_error or strip_cookies, at Testfile:5`},
		{"session without cookie", "frontdoor {\n\tbrand Acme\n\tsession {\n\t\tredis redis://x\n\t}\n}", "session needs a cookie"},
		{"session without redis", "frontdoor {\n\tbrand Acme\n\tsession {\n\t\tcookie s\n\t}\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", "session: redis is required, e.g. redis redis://127.0.0.1:6379/0, at Testfile:3"},
		{"session redis not a redis URL", "frontdoor {\n\tbrand Acme\n\tsession {\n\t\tredis ftp://127.0.0.1:6379\n\t\tcookie s\n\t}\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", `session: redis URL "ftp://127.0.0.1:6379": `},
		{"session redis not a redis URL line", "frontdoor {\n\tbrand Acme\n\tsession {\n\t\tredis ftp://127.0.0.1:6379\n\t\tcookie s\n\t}\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", "Testfile:4"},
		{"session key without id", "frontdoor {\n\tsession {\n\t\tcookie s\n\t\tkey session:\n\t}\n}", `must contain {id}, the cookie value, e.g. "session:{id}", at Testfile:4`},
		{"session bad timeout", "frontdoor {\n\tsession {\n\t\tcookie s\n\t\ttimeout soon\n\t}\n}", `session timeout "soon": want a duration such as 50ms or 2s, at Testfile:4`},
		{"session zero timeout", "frontdoor {\n\tsession {\n\t\tcookie s\n\t\ttimeout 0s\n\t}\n}", "session timeout must be above zero, at Testfile:4"},
		{"session negative cache", "frontdoor {\n\tsession {\n\t\tcookie s\n\t\tcache -1s\n\t}\n}", `session cache "-1s": want a duration such as 50ms or 2s, at Testfile:4`},
		{"session on_error", "frontdoor {\n\tbrand Acme\n\tsession {\n\t\tredis redis://x\n\t\tcookie s\n\t\ton_error maybe\n\t}\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", `session: on_error "maybe": use open (forward without context) or closed (brand 503 page), at Testfile:6`},
		{"assertion ttl too long", "frontdoor {\n\tassertion {\n\t\tttl 10m\n\t}\n}", `assertion ttl "10m": want a duration between 1s and 5m, at Testfile:3`},
		{"assertion ttl under a second", "frontdoor {\n\tassertion {\n\t\tttl 500ms\n\t}\n}", `assertion ttl "500ms": want a duration between 1s and 5m, at Testfile:3`},
		{"assertion reuse over half the default ttl", "frontdoor {\n\tassertion {\n\t\treuse 61s\n\t}\n}", "assertion reuse 61s: must be at most half the assertion ttl, at Testfile:3"},
		{"assertion reuse over half its ttl", "frontdoor {\n\tassertion {\n\t\treuse 20s\n\t\tttl 30s\n\t}\n}", "assertion reuse 20s: must be at most half the assertion ttl, at Testfile:3"},
		{"assertion reuse not a duration", "frontdoor {\n\tassertion {\n\t\treuse often\n\t}\n}", `assertion reuse "often": want a duration, at most half the assertion ttl, at Testfile:3`},
		{"assertion key without file", "frontdoor {\n\tassertion {\n\t\tkey\n\t}\n}", "key needs PEM files: the first signs, all are published, at Testfile:3"},
		{"unknown assertion option", "frontdoor {\n\tassertion {\n\t\talg RS256\n\t}\n}", `unrecognized assertion option "alg": expected key, rotate, ttl or reuse, at Testfile:3`},
		{"assertion rotate too short", "frontdoor {\n\tassertion {\n\t\trotate 1s\n\t}\n}", `assertion rotate "1s": want a duration of at least 10s, e.g. 24h, at Testfile:3`},
		{"assertion rotate with key files", "frontdoor {\n\tassertion {\n\t\tkey a.pem\n\t\trotate 24h\n\t}\n}", "assertion: rotate makes its keys in the process and cannot rotate key files: use one or the other, at Testfile:5"},
		{"journey without name", "frontdoor {\n\tbrand Acme\n\tjourney {\n\t}\n}", "journey needs a name and paths, e.g. journey checkout /checkout* /cart*, at Testfile:3"},
		{"journey without paths", "frontdoor {\n\tbrand Acme\n\tjourney j {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", `journey "j" claims no path`},
		{"journey without backends", "frontdoor {\n\tbrand Acme\n\n\tjourney j /j* {\n\t}\n}", `journey "j" has no backend: add at least one backend block, at Testfile:4`},
		{"unknown journey option", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tvendor V\n\t}\n}", `unrecognized journey option "vendor": expected backend, probe, on_error, contact, repeat_window or rescue, at Testfile:4`},
		{"backend without name", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend {\n\t\t}\n\t}\n}", "backend needs a name, e.g. backend care-team { ... }, at Testfile:4"},
		{"backend with upstream on its line", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b 127.0.0.1:1 {\n\t\t}\n\t}\n}", `backend b: unexpected "127.0.0.1:1": put upstreams inside the block with to, at Testfile:4`},
		{"unknown owner", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend ok {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t\tbackend b {\n\t\t\towner partner\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", `unknown owner "partner": use in-house or outsourced, at Testfile:8`},
		{"missing owner", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", "owner is required: owner in-house or owner outsourced, at Testfile:4"},
		{"no upstream", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t}\n\t}\n}", "no upstream: add to ADDRESS, e.g. to http://127.0.0.1:9001, at Testfile:4"},
		{"no upstream with a proxy option", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tlb_policy first\n\t\t}\n\t}\n}", "no upstream: add to ADDRESS, e.g. to http://127.0.0.1:9001, at Testfile:4"},
		{"no upstream with a transport block", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\ttransport http {\n\t\t\t\tkeepalive 1s\n\t\t\t}\n\t\t}\n\t}\n}", "no upstream: add to ADDRESS, e.g. to http://127.0.0.1:9001, at Testfile:4"},
		{"brand twice", "frontdoor {\n\tbrand Acme\n\tbrand Other\n}", "frontdoor: brand is set twice: keep one line, at Testfile:3"},
		{"error_template twice", "frontdoor {\n\terror_template a.html\n\terror_template b.html\n}", "frontdoor: error_template is set twice: keep one line, at Testfile:3"},
		{"session twice", "frontdoor {\n\tsession {\n\t\tredis redis://a\n\t\tcookie a\n\t}\n\tsession {\n\t\tredis redis://b\n\t\tcookie b\n\t}\n}", "frontdoor: session is set twice: keep one line, at Testfile:6"},
		{"session cookie twice", "frontdoor {\n\tsession {\n\t\tredis redis://a\n\t\tcookie a\n\t\tcookie b\n\t}\n}", "session: cookie is set twice: keep one line, at Testfile:5"},
		{"session redis twice", "frontdoor {\n\tsession {\n\t\tredis redis://a\n\t\tredis redis://b\n\t\tcookie a\n\t}\n}", "session: redis is set twice: keep one line, at Testfile:4"},
		{"contact phone twice", "frontdoor {\n\tcontact {\n\t\tphone 1\n\t\tphone 2\n\t}\n}", "contact: phone is set twice: keep one line, at Testfile:4"},
		{"contact url twice", "frontdoor {\n\tcontact {\n\t\turl https://a.example\n\t\temail a@a.example\n\t\turl https://b.example\n\t}\n}", "contact: url is set twice: keep one line, at Testfile:5"},
		{"contact twice", "frontdoor {\n\tcontact {\n\t\tphone 1\n\t}\n\tcontact {\n\t\temail a@a.example\n\t}\n}", "frontdoor: contact is set twice: keep one line, at Testfile:5"},
		{"assertion ttl twice", "frontdoor {\n\tassertion {\n\t\tttl 1m\n\t\tttl 2m\n\t}\n}", "assertion: ttl is set twice: keep one line, at Testfile:4"},
		{"assertion twice", "frontdoor {\n\tassertion {\n\t\tttl 1m\n\t}\n\tassertion {\n\t\treuse 10s\n\t}\n}", "frontdoor: assertion is set twice: keep one line, at Testfile:5"},
		{"slo availability twice", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t\tslo availability 99.5%\n\t\t\tslo availability 90%\n\t\t}\n\t}\n}", "backend b: slo availability is set twice: keep one line, at Testfile:8"},
		{"slo latency twice", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t\tslo latency 95% 800ms\n\t\t\tslo latency 99% 2s\n\t\t}\n\t}\n}", "backend b: slo latency is set twice: keep one line, at Testfile:8"},
		{"owner twice", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t\towner outsourced\n\t\t}\n\t}\n}", "backend b: owner is set twice: keep one line, at Testfile:7"},
		{"on_error twice", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\ton_error open\n\t\ton_error closed\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", "journey j: on_error is set twice: keep one line, at Testfile:5"},
		{"slo orphans without contact", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner outsourced\n\t\t\tvendor V\n\t\t\tto 127.0.0.1:1\n\t\t\tslo orphans 2%\n\t\t}\n\t}\n}", `slo orphans counts orphans per contact, and journey "j" says no contact: add a contact line, e.g. contact POST /j/tickets*, at Testfile:4`},
		{"slo orphans over 100%", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tcontact POST /j/tickets*\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t\tslo orphans 120%\n\t\t}\n\t}\n}", `slo orphans: percentage "120%" must be a number between 0% and 100% exclusive, at Testfile:8`},
		{"slo orphans with a duration", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tcontact POST /j/tickets*\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t\tslo orphans 2% 1d\n\t\t}\n\t}\n}", `slo wants availability P%, latency P% DURATION or orphans P%, e.g. slo availability 99.5%, slo latency 95% 800ms or slo orphans 2%, at Testfile:8`},
		{"vendor on in-house", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tvendor V\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", `vendor "V" is set on an in-house backend`},
		{"bad zone", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\thours \"Mon-Fri 08:00-20:00\" Mars/Olympus\n\t\t}\n\t}\n}", `backend b: unknown time zone "Mars/Olympus": use an IANA name such as America/New_York, at Testfile:6`},
		{"bad hours", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\thours \"Mon-Fry 08:00-20:00\"\n\t\t}\n\t}\n}", `backend b: hours "Mon-Fry 08:00-20:00": unknown day "Fry": use Mon, Tue, Wed, Thu, Fri, Sat, Sun or daily, at Testfile:4`},
		{"hours not quoted", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\thours Mon-Fri 08:00-20:00\n\t\t}\n\t}\n}", "Testfile:4"},
		{"hours without args", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\thours\n\t\t}\n\t}\n}", `hours wants "DAYS HH:MM-HH:MM" and an optional time zone`},
		{"hours too many args", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\thours \"daily 08:00-09:00\" UTC extra\n\t\t}\n\t}\n}", "Testfile:4"},
		{"context without fields", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tcontext\n\t\t}\n\t}\n}", "context needs the session fields this backend may see, e.g. context customer_id tier, at Testfile:4"},
		{"bad context field", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t\tcontext a:b\n\t\t}\n\t}\n}", `context field "a:b": use letters, digits, '_' or '-', at Testfile:4`},
		{"context field twice", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t\tcontext tier\n\t\t\tcontext customer_id tier\n\t\t}\n\t}\n}", `backend "b": context field "tier" is listed twice, at Testfile:4`},
		{"context fields on one header", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t\tcontext customer_id Customer-Id\n\t\t}\n\t}\n}", `context fields "customer_id" and "Customer-Id" would both be sent as X-Frontdoor-Context-Customer-Id: keep one, at Testfile:4`},
		{"slo without percent sign", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tslo availability 99.5\n\t\t}\n\t}\n}", `slo availability: percentage "99.5" needs a % sign, e.g. 99.5%, at Testfile:4`},
		{"slo 100%", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tslo availability 100%\n\t\t}\n\t}\n}", `percentage "100%" must be a number between 0% and 100% exclusive`},
		{"slo 0%", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tslo latency 0% 1s\n\t\t}\n\t}\n}", `percentage "0%" must be a number between 0% and 100% exclusive`},
		{"slo not a number", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tslo availability high%\n\t\t}\n\t}\n}", `percentage "high%"`},
		{"slo latency without threshold", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tslo latency 95%\n\t\t}\n\t}\n}", "slo wants availability P%, latency P% DURATION or orphans P%, e.g. slo availability 99.5%, slo latency 95% 800ms or slo orphans 2%, at Testfile:4"},
		{"slo availability with threshold", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tslo availability 99% 1s\n\t\t}\n\t}\n}", "slo wants availability P%"},
		{"slo bad threshold", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tslo latency 95% fast\n\t\t}\n\t}\n}", `slo latency: "fast" is not a duration such as 800ms, at Testfile:4`},
		{"slo negative threshold", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tslo latency 95% -1s\n\t\t}\n\t}\n}", `slo latency: "-1s" is not a duration`},
		{"slo threshold not a bucket", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t\tslo latency 95% 777ms\n\t\t}\n\t}\n}", "slo latency threshold 777ms is not a histogram bucket"},
		{"unknown slo", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tslo uptime 99%\n\t\t}\n\t}\n}", `unknown slo "uptime"`},
		{"slo without args", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tslo\n\t\t}\n\t}\n}", "slo wants availability P%"},
		{"banner maybe", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tbanner maybe\n\t\t}\n\t}\n}", "banner wants on or off, at Testfile:4"},
		{"isolate maybe", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tisolate maybe\n\t\t}\n\t}\n}", "isolate wants on, off or nothing (on), at Testfile:4"},
		{"isolate with two values", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tisolate on off\n\t\t}\n\t}\n}", "isolate wants on, off or nothing (on), at Testfile:4"},
		{"cookies max words", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tcookies {\n\t\t\t\tmax many\n\t\t\t}\n\t\t}\n\t}\n}", `cookies max "many": want a positive whole number, at Testfile:5`},
		{"cookies unknown", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tcookies {\n\t\t\t\tpath /\n\t\t\t}\n\t\t}\n\t}\n}", `cookies has max, bytes and max_age, not "path", at Testfile:5`},
		{"cookies max_age", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tcookies {\n\t\t\t\tmax_age forever\n\t\t\t}\n\t\t}\n\t}\n}", `cookies max_age "forever"`},
		{"allow_redirect url", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tallow_redirect pay.example https://pay.example/\n\t\t}\n\t}\n}", `backend b: allow_redirect "https://pay.example/": want a host name such as pay.example or *.pay.example (no scheme, port or path), at Testfile:4`},
		{"allow_redirect inner wildcard", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tallow_redirect pay.*.example\n\t\t}\n\t}\n}", `allow_redirect "pay.*.example"`},
		{"response_body_timeout negative", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tresponse_body_timeout -1s\n\t\t}\n\t}\n}", `backend b: response_body_timeout "-1s": want a duration such as 10s, or 0 for none, at Testfile:4`},
		{"response_body_timeout word", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tresponse_body_timeout soon\n\t\t}\n\t}\n}", `response_body_timeout "soon"`},
		{"response_body_timeout empty", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tresponse_body_timeout\n\t\t}\n\t}\n}", "response_body_timeout wants a duration, e.g. response_body_timeout 30s (0 turns it off), at Testfile:4"},
		{"allow_redirect empty", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tallow_redirect\n\t\t}\n\t}\n}", "allow_redirect needs the hosts this backend may redirect to, e.g. allow_redirect pay.example *.pay.example, at Testfile:4"},
		{"banner without value", "frontdoor {\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\tbanner\n\t\t}\n\t}\n}", "banner wants on or off"},
		// Caddy's own reverse_proxy parser reports bad subdirectives, at
		// the line they were written on.
		{"unknown proxy subdirective", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t\tlb_polcy first\n\t\t}\n\t}\n}", "Testfile:7"},
		{"bad proxy value", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\n\t\t\thealth_interval often\n\t\t}\n\t}\n}", "Testfile:8"},
		{"duplicate journey", "frontdoor {\n\tbrand Acme\n\tjourney j /a* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n\tjourney j /b* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", `journey "j" is defined twice: journey names must be unique, at Testfile:9`},
		{"duplicate backend", "frontdoor {\n\tbrand Acme\n\tjourney j /a* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:2\n\t\t}\n\t}\n}", `backend "b" is defined twice`},
		{"duplicate backend line", "frontdoor {\n\tbrand Acme\n\tjourney j /a* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:2\n\t\t}\n\t}\n}", "Testfile:8"},
		{"rescue unknown backend", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\trescue care\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", `journey "j": rescue backend "care" is not a backend of this journey, at Testfile:4`},
		{"rescue bad window", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t\trescue b soon\n\t}\n}", `rescue window "soon"`},
		{"rescue window too long", "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t\trescue b 1000h\n\t}\n}", `rescue window 1000h0m0s: want a duration between 1s and 720h0m0s, e.g. 24h, at Testfile:8`},
		{"rescue without backend", "frontdoor {\n\tjourney j /j* {\n\t\trescue\n\t}\n}", "rescue needs a backend of the journey and an optional window, e.g. rescue care-team 24h, at Testfile:3"},
		{"path claimed twice", "frontdoor {\n\tbrand Acme\n\tjourney a /x* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n\tjourney c /x* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t}\n}", `path "/x*" is claimed by journeys "a" and "c": a path may belong to one journey, at Testfile:9`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseFrontdoor(c.input)
			if err == nil {
				t.Fatalf("no error for:\n%s", c.input)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// The whole canonical Caddyfile of DESIGN.md adapts as written: the
// directive needs no order option (frontdoor runs before respond), and
// handle_response inside a backend works through the directive's helper.
func TestCaddyfileAdapter(t *testing.T) {
	site := "{\n\tmetrics\n}\n\nshop.example.com {\n" + designExample + `
	respond "brand home"
}

tracking.example.com {
	frontdoor {
		brand Acme
		journey parcels /track* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				to http://127.0.0.1:9004
				@notfound status 404
				handle_response @notfound {
					respond "no such parcel" 404
				}
			}
		}
	}
}
`
	adapter := caddyconfig.GetAdapter("caddyfile")
	raw, warnings, err := adapter.Adapt([]byte(site), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting: %v", err)
	}
	for _, w := range warnings {
		if !strings.Contains(w.Message, "not formatted") { // the example is pasted in unindented
			t.Errorf("warning: %s", w.String())
		}
	}
	cfg := string(raw)
	fd, respond := strings.Index(cfg, `"brand":"Acme Outdoor"`), strings.Index(cfg, `{"body":"brand home","handler":"static_response"}`)
	if fd < 0 || respond < 0 || fd > respond {
		t.Errorf("frontdoor at %d, respond at %d: frontdoor must come first\n%s", fd, respond, cfg)
	}
	if !strings.Contains(cfg, `"handle_response":[{"match":{"status_code":[404]}`) {
		t.Errorf("handle_response lost:\n%s", cfg)
	}

	// An error names the Caddyfile's line.
	_, _, err = adapter.Adapt([]byte("shop.example.com {\n\tfrontdoor {\n\t\tbrand Acme\n\t\tjourney j /j* {\n\t\t\tbackend b {\n\t\t\t\towner partner\n\t\t\t\tto 127.0.0.1:1\n\t\t\t}\n\t\t}\n\t}\n}\n"),
		map[string]any{"filename": "Caddyfile"})
	if err == nil || !strings.Contains(err.Error(), `unknown owner "partner"`) || !strings.Contains(err.Error(), "Caddyfile:5") {
		t.Errorf("error %v, want the unknown owner at Caddyfile:5", err)
	}
}
