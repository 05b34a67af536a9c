package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// twoSites is a Caddyfile of two sites, each with a frontdoor that
// defines a journey support: the second one as second is written.
func twoSites(second string) string {
	return `http://shop.example.com {
	frontdoor {
		brand Acme
		journey support /support* {
			backend care {
				owner in-house
				to 127.0.0.1:9001
			}
		}
	}
}

http://help.example.com {
	frontdoor {
		brand Acme
` + second + `	}
}
`
}

const sameSupport = `		journey support /support* {
			backend care {
				owner in-house
				to 127.0.0.1:9001
			}
		}
`

const otherSupport = `		journey support /help* {
			backend desk {
				owner outsourced
				to 127.0.0.1:9003
			}
		}
`

// TestJourneyNameIsOneJourney: two sites whose frontdoors define a journey
// of one name differently are refused, when the Caddyfile is adapted
// (naming both lines and what differs) and when a JSON config is loaded;
// the same journey in both stays allowed. Overrides and the status view
// go by journey name: an override set for one site's journey moved the
// other's, and the status view showed only one of them.
func TestJourneyNameIsOneJourney(t *testing.T) {
	adapter := caddyconfig.GetAdapter("caddyfile")
	adapt := func(caddyfile string) ([]byte, error) {
		raw, _, err := adapter.Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
		return raw, err
	}
	load := func(raw []byte) error {
		cfg := new(caddy.Config)
		if err := json.Unmarshal(raw, cfg); err != nil {
			t.Fatal(err)
		}
		return caddy.Validate(cfg)
	}

	_, err := adapt(twoSites(otherSupport))
	want := `journey "support" is defined differently in another frontdoor handler, at Caddyfile:4 (they differ in backends, paths): ` +
		`overrides and the status view go by journey name, so one name must mean one journey in the whole config; rename one, or write both the same, at Caddyfile:16`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("adapting two sites with two journeys support: %v\nwant %s", err, want)
	}

	// A JSON config names no line; the handlers are refused as loaded.
	raw, err := adapt(twoSites(strings.Replace(otherSupport, "support", "renamed", 1)))
	if err != nil {
		t.Fatal(err)
	}
	raw = []byte(strings.Replace(string(raw), `"name":"renamed"`, `"name":"support"`, 1))
	err = load(raw)
	want = `journey "support" (paths /help*) is defined differently by another frontdoor handler of this config (brand "Acme"; they differ in backends, paths)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("loading two handlers with two journeys support: %v\nwant %s", err, want)
	}

	// The same journey in two sites is one journey.
	raw, err = adapt(twoSites(sameSupport))
	if err != nil {
		t.Fatalf("adapting two sites with one journey support: %v", err)
	}
	if err := load(raw); err != nil {
		t.Errorf("loading two sites with one journey support: %v", err)
	}
}
