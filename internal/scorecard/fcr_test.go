package scorecard

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/dashboards"
)

// A repeat is counted against the backend that took the previous
// contact, which may have been before the period (or the backend took few
// new ones since, say while an override sent the journey elsewhere): a
// backend can have more repeats than contacts in the period. Its
// first-contact resolution is then 0, as the shipped rule
// journey_backend:frontdoor_first_contact_resolution:ratio_1d clamps it,
// never below: the scorecard read -200% for 1 contact and 3 repeats.
func TestFirstContactResolutionNeverBelowZero(t *testing.T) {
	var step atomic.Int64
	exporter := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := step.Add(1)
		contacts, repeats := 0, 0
		if n > 3 {
			contacts, repeats = 1, 3
		}
		l := `journey="support",backend="care-team",owner="in-house",vendor=""`
		fmt.Fprintf(w, "frontdoor_requests_total{%s,code=\"200\"} %d\n", l, 10*n)
		fmt.Fprintf(w, "frontdoor_contacts_total{%s} %d\n", l, contacts)
		fmt.Fprintf(w, "frontdoor_repeat_contacts_total{%s} %d\n", l, repeats)
	})
	target := strings.TrimPrefix(serve(t, exporter), "http://")
	dir := t.TempDir()
	rules := filepath.Join(dir, "frontdoor.rules.yml")
	if err := os.WriteFile(rules, dashboards.RulesYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	prom := startRealPrometheus(t, fmt.Sprintf("rule_files: [%q]\nscrape_configs:\n  - job_name: frontdoor\n    static_configs:\n      - targets: [%q]\n", rules, target))

	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := Collect(context.Background(), Options{Prometheus: prom, Range: "1m"})
		if err == nil && step.Load() > 8 && len(r.Journeys) == 1 && r.Journeys[0].Backends[0].FirstContactResolution != nil {
			fcr := *r.Journeys[0].Backends[0].FirstContactResolution
			if fcr < 0 || fcr > 1 {
				t.Fatalf("first-contact resolution %v (%.0f%%): want a share between 0 and 1", fcr, 100*fcr)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no first-contact resolution after 60s: %v", err)
		}
		time.Sleep(time.Second)
	}
}
