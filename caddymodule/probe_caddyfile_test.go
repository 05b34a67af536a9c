package caddymodule

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/config"
)

const probeJourney = `frontdoor {
	brand "Acme Outdoor"
	session {
		redis redis://127.0.0.1:6379/0
		cookie acme_session
	}
	journey support /support* {
		probe help-page {
			every 1m
			from 203.0.113.0/24
			from 2001:db8:77::/48 198.51.100.7
			customer {
				customer_id P-0001
				first_name Quinn
			}
			step GET /support/help
			expect status 200
			expect customer first_name      # the page shows "Quinn": the vendor knows who it serves
			forbid "(?i)nightdesk|powered by"
			within 800ms
			step POST /support/chat body "message=hello"
			expect status 200 201
			expect body "(?i)thanks"
		}
		backend nightdesk {
			owner outsourced
			vendor "NightDesk BPO"
			to http://127.0.0.1:9003
		}
	}
}`

func TestCaddyfileProbe(t *testing.T) {
	h := mustParse(t, probeJourney)
	got := h.Journeys[0].Probes
	want := []*config.Probe{{
		Name:     "help-page",
		Every:    config.Duration(time.Minute),
		From:     []string{"203.0.113.0/24", "2001:db8:77::/48", "198.51.100.7"},
		Customer: map[string]string{"customer_id": "P-0001", "first_name": "Quinn"},
		Steps: []*config.Step{
			{Method: "GET", Path: "/support/help", ExpectStatus: []int{200}, ExpectCustomer: []string{"first_name"},
				Forbid: []string{"(?i)nightdesk|powered by"}, Within: config.Duration(800 * time.Millisecond)},
			{Method: "POST", Path: "/support/chat", Body: "message=hello", ExpectStatus: []int{200, 201}, ExpectBody: []string{"(?i)thanks"}},
		},
	}}
	if !reflect.DeepEqual(got, want) {
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		t.Errorf("probes\n got %s\nwant %s", a, b)
	}
	// The JSON Caddy runs on says the same.
	raw, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"probes":[{"name":"help-page","every":"1m0s","customer":{"customer_id":"P-0001","first_name":"Quinn"},"from":["203.0.113.0/24","2001:db8:77::/48","198.51.100.7"]`,
		`"steps":[{"method":"GET","path":"/support/help","expect_status":[200],"expect_customer":["first_name"],"forbid":["(?i)nightdesk|powered by"],"within":"800ms"}`} {
		if !strings.Contains(string(raw), s) {
			t.Errorf("JSON lacks %s:\n%s", s, raw)
		}
	}
}

func TestCaddyfileProbeErrors(t *testing.T) {
	wrap := func(probe string) string {
		return "frontdoor {\n\tbrand Acme\n\tsession {\n\t\tredis redis://127.0.0.1:6379\n\t\tcookie s\n\t}\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n" + probe + "\t}\n}"
	}
	// The probe block starts at line 12.
	cases := []struct{ name, probe, want string }{
		{"no name", "\t\tprobe {\n\t\t\tstep GET /j\n\t\t}\n", "probe needs a name, e.g. probe help-page { step GET /support }, at Testfile:12"},
		{"argument after name", "\t\tprobe p GET /j {\n\t\t}\n", `probe p: unexpected "GET": write its steps and checks inside the block, at Testfile:12`},
		{"unknown option", "\t\tprobe p {\n\t\t\tstep GET /j\n\t\t\texpects status 200\n\t\t}\n", `unrecognized probe option "expects": expected every, from, customer, step, expect, forbid or within, at Testfile:14`},
		{"check before step", "\t\tprobe p {\n\t\t\texpect status 200\n\t\t\tstep GET /j\n\t\t}\n", "expect comes before any step: write step METHOD PATH first; the checks after a step apply to it, at Testfile:13"},
		{"bad every", "\t\tprobe p {\n\t\t\tevery often\n\t\t\tstep GET /j\n\t\t}\n", `probe p: every "often": want a duration such as 1m, at Testfile:13`},
		{"every twice", "\t\tprobe p {\n\t\t\tevery 1m\n\t\t\tstep GET /j\n\t\t\tevery 5m\n\t\t}\n", "probe p: every is set twice: keep one line, at Testfile:15"},
		{"every too short", "\t\tprobe p {\n\t\t\tevery 100ms\n\t\t\tstep GET /j\n\t\t}\n", `journey "j", probe "p": every 100ms: a probe runs at most once a second, e.g. every 1m, at Testfile:12`},
		{"step without path", "\t\tprobe p {\n\t\t\tstep GET\n\t\t}\n", "step wants METHOD PATH [body TEXT]"},
		{"step with stray word", "\t\tprobe p {\n\t\t\tstep POST /j message=hi\n\t\t}\n", "step wants METHOD PATH [body TEXT], e.g. step GET /support/help or step POST /support/chat body \"message=hello\", at Testfile:13"},
		{"bad step path", "\t\tprobe p {\n\t\t\tstep GET /j\n\t\t\tstep GET j/2\n\t\t}\n", `journey "j", probe "p", step 2 (GET j/2): path "j/2" must start with a single '/', at Testfile:14`},
		{"bad status", "\t\tprobe p {\n\t\t\tstep GET /j\n\t\t\texpect status ok\n\t\t}\n", `expect status "ok": want status codes such as 200 or 302, at Testfile:14`},
		{"unknown expect", "\t\tprobe p {\n\t\t\tstep GET /j\n\t\t\texpect header X\n\t\t}\n", `unknown expect "header"`},
		{"bad regexp", "\t\tprobe p {\n\t\t\tstep GET /j\n\t\t\tforbid \"(?i\"\n\t\t}\n", `forbid "(?i": error parsing regexp`},
		{"bad regexp line", "\t\tprobe p {\n\t\t\tstep GET /j\n\t\t\tforbid \"(?i\"\n\t\t}\n", "Testfile:13"},
		{"forbid two words", "\t\tprobe p {\n\t\t\tstep GET /j\n\t\t\tforbid nightdesk powered\n\t\t}\n", "forbid wants one regular expression"},
		{"within not a duration", "\t\tprobe p {\n\t\t\tstep GET /j\n\t\t\twithin fast\n\t\t}\n", `within "fast": want a duration such as 800ms, at Testfile:14`},
		{"unknown customer field", "\t\tprobe p {\n\t\t\tstep GET /j\n\t\t\texpect customer tier\n\t\t}\n", "expect customer tier: the probe's customer has no tier: add it to customer { tier VALUE }, at Testfile:13"},
		{"customer value missing", "\t\tprobe p {\n\t\t\tcustomer {\n\t\t\t\tfirst_name\n\t\t\t}\n\t\t}\n", `customer first_name: write one value, quoted if it has spaces, e.g. first_name "Quinn", at Testfile:14`},
		{"customer field twice", "\t\tprobe p {\n\t\t\tcustomer {\n\t\t\t\tfirst_name Q\n\t\t\t\tfirst_name R\n\t\t\t}\n\t\t}\n", "customer field first_name is set twice, at Testfile:15"},
		{"from a word", "\t\tprobe p {\n\t\t\tfrom home\n\t\t\tstep GET /j\n\t\t}\n", `probe p: from "home": want an IP address or a CIDR range such as 203.0.113.0/24, at Testfile:13`},
		{"from loopback", "\t\tprobe p {\n\t\t\tfrom 203.0.113.0/24 127.0.0.1\n\t\t\tstep GET /j\n\t\t}\n", `probe p: from "127.0.0.1": no customer comes from 127.0.0.0/8 (loopback), at Testfile:13`},
		{"from anywhere", "\t\tprobe p {\n\t\t\tfrom 0.0.0.0/0\n\t\t\tstep GET /j\n\t\t}\n", `from "0.0.0.0/0": no customer comes from 0.0.0.0/8 (this network)`},
		{"from nothing", "\t\tprobe p {\n\t\t\tfrom\n\t\t\tstep GET /j\n\t\t}\n", "from wants the addresses the shopper comes from, e.g. from 203.0.113.0/24 2001:db8:77::/48, at Testfile:13"},
		{"no steps", "\t\tprobe p {\n\t\t\tevery 1m\n\t\t}\n", `journey "j", probe "p" has no step: add at least one, e.g. step GET /j, at Testfile:12`},
		{"probe twice", "\t\tprobe p {\n\t\t\tstep GET /j\n\t\t}\n\t\tprobe p {\n\t\t\tstep GET /j\n\t\t}\n", `probe "p" is defined twice: probe names must be unique within a journey, at Testfile:15`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseFrontdoor(wrap(c.probe))
			if err == nil {
				t.Fatalf("no error for:\n%s", wrap(c.probe))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}

	noSession := "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n\t\t}\n\t\tprobe p {\n\t\t\tcustomer {\n\t\t\t\tfirst_name Q\n\t\t\t}\n\t\t\tstep GET /j\n\t\t}\n\t}\n}"
	_, err := parseFrontdoor(noSession)
	if want := `journey "j", probe "p": a customer needs a session block: frontdoor writes the synthetic customer to the session store, at Testfile:8`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("customer without session: %v, want %s", err, want)
	}
	// Without a customer, a probe needs no session: it shops anonymously.
	if _, err := parseFrontdoor(strings.Replace(noSession, "\t\t\tcustomer {\n\t\t\t\tfirst_name Q\n\t\t\t}\n", "", 1)); err != nil {
		t.Errorf("anonymous probe without session: %v", err)
	}
}
