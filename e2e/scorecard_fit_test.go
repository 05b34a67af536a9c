package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/frontdoor-dev/frontdoor/internal/scorecard"
)

// TestScorecardWithEveryColumnFitsTheWindow: the widest scorecard, a
// vendor with every figure (the secret shopper, first-contact resolution,
// hang-ups, orphans against their objective, escalations, the customers'
// own rating, every SLO), long names and a budget spent many times over,
// fits a 1280 px window. Its last column was cut off.
func TestScorecardWithEveryColumnFitsTheWindow(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	p95 := 2300 * time.Millisecond
	to := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	backend := func(name, owner, vendor string, availability float64) scorecard.Backend {
		return scorecard.Backend{Name: name, Owner: owner, Vendor: vendor, Requests: 1234567,
			Availability: f(availability), AvailabilityObjective: f(0.995),
			LatencyCompliance: f(0.71), LatencyObjective: f(0.95), LatencyThreshold: 800 * time.Millisecond, P95: &p95,
			ShopperPassRate: f(0.5), FirstContactResolution: f(0.62), HangupShare: f(0.31),
			OrphanRate: f(0.1234), OrphanObjective: f(0.025), EscalationRate: f(0.0567), RatedResolution: f(0.4321)}
	}
	report := &scorecard.Report{Prometheus: "http://127.0.0.1:9090", Range: "30d", From: to.AddDate(0, 0, -30), To: to,
		DataFrom: to.AddDate(0, 0, -30), ShopperPassRate: true, FirstContactResolution: true, HangupShare: true,
		OrphanRate: true, EscalationRate: true, RatedResolution: true,
		Journeys: []scorecard.Journey{{Name: "support-after-hours-and-weekends", Backends: []scorecard.Backend{
			backend("care-team-northeast-region", "in-house", "", 0.9991),
			backend("nightdesk-business-process-outsourcing", "outsourced", "NightDesk Business Process Outsourcing Ltd", 0.79),
		}}}}
	page := filepath.Join(t.TempDir(), "scorecard.html")
	out, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.HTML(out); err != nil {
		t.Fatal(err)
	}
	out.Close()
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("file://"+page),
		chromedp.WaitVisible(chromedp.CSS("table"))); err != nil {
		t.Fatalf("opening the scorecard: %v", err)
	}
	screenshot(t, ctx, "scorecard-every-column")
	fit := browse(t, ctx, chromedp.Evaluate[map[string]float64](`(() => {
		const right = Math.max(...[...document.querySelectorAll('th, td')].map(e => e.getBoundingClientRect().right));
		return {right, width: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth};
	})()`))
	if fit["right"] > fit["width"] || fit["scroll"] > fit["width"] {
		t.Errorf("at 1280 px the last column ends at %v px and the page is %v px wide, in a %v px window", fit["right"], fit["scroll"], fit["width"])
	}
}
