package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// TestOrphanRateReachesPrometheusAndTheScorecard: a customer has to
// contact the NightDesk vendor twice (a repeat contact, so an orphan)
// while another contacts the in-house care team once. A real Prometheus
// with the shipped rules scraping the real binary records NightDesk's
// orphans per contact (50%, over its `slo orphans 10%`) next to the care
// team's (0%), and `frontdoor scorecard` shows both, the vendor's missed.
func TestOrphanRateReachesPrometheusAndTheScorecard(t *testing.T) {
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-4004")
	const otherSession = "sess-fedcba9876543210"
	seedSession(t, rs, otherSession, "customer_id", "C-5005")
	vendor := startBackend(t, "nightdesk", nil)
	inhouse := startBackend(t, "care-team", nil)
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
			cache 0s
		}
		journey support /support* {
			contact POST /support/contact
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				slo orphans 10%%
			}
			backend care-team {
				owner in-house
				to %s
				slo orphans 5%%
			}
		}`, rs.URL(), vendor.URL, inhouse.URL)))
	prom := startPrometheus(t, gw.AdminAddr)
	// The orphan and contact series exist at zero from the start, so the
	// first scrape comes before any of them counts.
	prom.waitScraped(t)

	contact := func(session, want string) {
		t.Helper()
		if _, body := do(t, "POST", gw.URL+"/support/contact", strings.NewReader("help"), withCookie(session)); body != "hello from "+want {
			t.Fatalf("contact reached %q, want %s", body, want)
		}
	}
	// A first request to each backend creates its request series; the
	// scorecard counts the requests after Prometheus first saw it.
	firstRequest := func(backend string) {
		t.Helper()
		if _, body := do(t, "GET", gw.URL+"/support/help", nil, nil); body != "hello from "+backend {
			t.Fatalf("help page from %q, want %s", body, backend)
		}
		waitFor(t, 30*time.Second, func() error {
			if len(prom.query(t, `frontdoor_requests_total{backend="`+backend+`"}`).Data.Result) == 0 {
				return fmt.Errorf("%s's requests not scraped yet", backend)
			}
			return nil
		})
	}
	firstRequest("nightdesk")
	contact(sessionID, "nightdesk")
	waitFor(t, 5*time.Second, func() error { // the first contact is written off the request path
		if n, _ := rs.Client(t).Exists(t.Context(), "frontdoor:contact:support:C-4004").Result(); n != 1 {
			return fmt.Errorf("first contact not recorded")
		}
		return nil
	})
	contact(sessionID, "nightdesk") // back again: NightDesk orphaned the customer
	waitFor(t, 5*time.Second, func() error {
		series := `frontdoor_orphans_total{backend="nightdesk",cause="repeat_contact",journey="support",owner="outsourced",vendor="NightDesk BPO"}`
		if v, _ := metricValue(gw.metrics(t), series); v != 1 {
			return fmt.Errorf("repeat-contact orphans counted %v", v)
		}
		return nil
	})
	if code, out := adminJSON(t, gw, "PUT", "/frontdoor/overrides/support", `{"backend":"care-team","ttl":"1h","reason":"compare"}`); code != 200 {
		t.Fatalf("override: %d %v", code, out)
	}
	firstRequest("care-team")
	contact(otherSession, "care-team")

	// The recording rules: orphans per contact of each backend, next to its objective.
	waitFor(t, 60*time.Second, func() error {
		rate := prom.query(t, `journey_backend:frontdoor_orphans_per_contact:ratio_1h{journey="support"}`).valueBy("backend")
		if v, ok := rate["nightdesk"]; !ok || v < 0.45 || v > 0.55 {
			return fmt.Errorf("nightdesk orphans per contact (1h): %v", rate)
		}
		if v, ok := rate["care-team"]; !ok || v != 0 {
			return fmt.Errorf("care-team orphans per contact (1h): %v", rate)
		}
		objective := prom.query(t, `journey_backend:frontdoor_slo_orphans_objective:max{journey="support"}`).valueBy("backend")
		if objective["nightdesk"] != 0.1 || objective["care-team"] != 0.05 {
			return fmt.Errorf("orphan objectives: %v", objective)
		}
		// The scorecard reads the 5m rates: both must have seen the repeat contact.
		orphans := prom.query(t, `sum_over_time(journey_backend:frontdoor_orphans:rate5m{journey="support", backend="nightdesk"}[1h]) > 0`)
		if len(orphans.Data.Result) == 0 {
			return fmt.Errorf("no recorded orphan rate yet")
		}
		return nil
	})

	md, err := frontdoorCmd(t, "scorecard", "--prometheus", prom.URL, "--range", "1h")
	if err != nil {
		t.Fatalf("scorecard: %v\n%s", err, md)
	}
	t.Logf("scorecard (Markdown):\n%s", md)
	if !strings.Contains(md, "| Orphans per contact | Escalations per contact |") {
		t.Errorf("scorecard without the rescue columns")
	}
	if strings.Contains(md, "Customer-rated resolution |") {
		t.Errorf("a customer-rated resolution column without any rating")
	}
	vendorRow := regexp.MustCompile(`(?m)^\| nightdesk \| outsourced: NightDesk BPO \|.* \| \*\*([0-9.]+)% \(≤ 10%\)\*\* \| 0\.00% \|$`)
	m := vendorRow.FindStringSubmatch(md)
	if m == nil {
		t.Fatalf("no vendor row with a missed orphan objective and no escalation")
	}
	if v, _ := strconv.ParseFloat(m[1], 64); v < 30 || v > 70 {
		t.Errorf("nightdesk orphans per contact %v%% in the scorecard, want about 50%%", v)
	}
	if !regexp.MustCompile(`(?m)^\| care-team \| in-house \|.* \| 0\.00% \(≤ 5%\) \| 0\.00% \|$`).MatchString(md) {
		t.Errorf("no care-team row within its orphan objective")
	}
	if !strings.Contains(md, "support / nightdesk (outsourced: NightDesk BPO): ") || !strings.Contains(md, "orphans per contact, objective at most 10%") {
		t.Errorf("the missed orphan objective is not in the summary")
	}
}
