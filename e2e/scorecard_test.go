package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestScorecardShowsTheVendorMissingItsSLO: a vendor answering half its requests with 503 and a
// healthy in-house team on one journey, a real Prometheus with the shipped rules scraping the real
// binary, then `frontdoor scorecard` in both formats says the vendor missed its availability SLO and
// the in-house team met its own; Chromium renders the HTML page (screenshot kept as an artifact).
func TestScorecardShowsTheVendorMissingItsSLO(t *testing.T) {
	care := startBackend(t, "care-team", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "in-house answer")
	})
	var n atomic.Int64
	night := startBackend(t, "nightdesk", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "vendor answer")
	})
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				slo availability 99.5%%
				slo latency 95%% 800ms
			}
			backend care-team {
				owner in-house
				to %s
				slo availability 99.9%%
				slo latency 95%% 100ms
			}
		}
		journey returns /returns* {
			backend returns-desk {
				owner in-house
				to %s
				slo availability 99.9%%
			}
		}`, night.URL, care.URL, care.URL)))
	prom := startPrometheus(t, gw.AdminAddr)
	// Prometheus takes a few seconds to scrape a new target the first time; traffic before that
	// would be one jump of the counters, which increase() cannot see.
	prom.waitScraped(t)

	// Before any traffic: a clear error, not an empty report.
	out, err := frontdoorCmd(t, "scorecard", "--prometheus", prom.URL, "--range", "1h")
	if err == nil || !strings.Contains(out, "no frontdoor requests at "+prom.URL+" in the 1h before") {
		t.Errorf("scorecard without traffic: %v\n%s", err, out)
	}

	// The vendor serves the journey, then an override hands it to the in-house team.
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			pace := time.NewTicker(20 * time.Millisecond)
			defer pace.Stop()
			for ; !stop.Load(); <-pace.C {
				if resp, err := client.Get(gw.URL + "/support/chat"); err == nil {
					resp.Body.Close()
				}
				if resp, err := client.Get(gw.URL + "/returns/label"); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	prom.scraped(t, "the vendor's answers", `frontdoor_requests_total{backend="nightdesk",code=~"200|503"}[1m]`, 4)
	if code, out := adminJSON(t, gw, "PUT", "/frontdoor/overrides/support", `{"backend":"care-team","ttl":"1h","reason":"vendor review"}`); code != 200 {
		t.Fatalf("override: %d %v", code, out)
	}
	prom.scraped(t, "the in-house answers", `frontdoor_requests_total{backend="care-team",code="200"}[1m]`, 4)
	prom.scraped(t, "the returns desk's answers", `frontdoor_requests_total{backend="returns-desk",code="200"}[1m]`, 4)
	stop.Store(true)
	wg.Wait()
	// A scrape, then the rules (groups feed each other, one evaluation a second).
	waitFor(t, 30*time.Second, func() error {
		r := prom.query(t, `journey_backend:frontdoor_latency_slo_good:rate5m{journey="support"}`)
		if len(r.Data.Result) < 2 {
			return fmt.Errorf("latency rule has %d series", len(r.Data.Result))
		}
		return nil
	})

	md, err := frontdoorCmd(t, "scorecard", "--prometheus", prom.URL, "--range", "1h")
	if err != nil {
		t.Fatalf("scorecard: %v\n%s", err, md)
	}
	t.Logf("scorecard (Markdown):\n%s", md)
	rows := map[string]string{}
	for _, line := range strings.Split(md, "\n") {
		if cells := strings.Split(line, " | "); len(cells) > 4 && strings.HasPrefix(line, "| ") {
			rows[strings.TrimPrefix(cells[0], "| ")] = line
		}
	}
	vendorRow := regexp.MustCompile(`^\| nightdesk \| outsourced: NightDesk BPO \| [0-9,]+ \| (4[0-9]|5[0-9])\.[0-9]{2}% \| \*\*missed \(≥ 99\.5%\)\*\* \| spent [0-9.]+× \| [0-9.]+% ≤ 800ms \| met \(≥ 95%\) \|`)
	if !vendorRow.MatchString(rows["nightdesk"]) {
		t.Errorf("vendor row %q, want about 50%% availability, availability SLO missed, latency SLO met", rows["nightdesk"])
	}
	inHouseRow := regexp.MustCompile(`^\| care-team \| in-house \| [0-9,]+ \| 100\.00% \| met \(≥ 99\.9%\) \| none spent \| [0-9.]+% ≤ 100ms \| met \(≥ 95%\) \| ([0-9]+% spent|none spent) \|`)
	if !inHouseRow.MatchString(rows["care-team"]) {
		t.Errorf("in-house row %q, want 100%% availability, both SLOs met", rows["care-team"])
	}
	if strings.Index(md, "| care-team |") > strings.Index(md, "| nightdesk |") {
		t.Error("the in-house team does not come first")
	}
	if !regexp.MustCompile(`- support / nightdesk \(outsourced: NightDesk BPO\): availability .*, error budget spent [0-9.]+×`).MatchString(md) {
		t.Error("the summary does not name the vendor that missed its objective and say how much of its budget it spent")
	}
	// A minute of data asked about as a day says how much there was.
	if day, err := frontdoorCmd(t, "scorecard", "--prometheus", prom.URL, "--range", "1d"); err != nil ||
		!regexp.MustCompile(`Partial period: data for [0-9]+ min of the 1d asked`).MatchString(day) {
		t.Errorf("a 1d scorecard over a minute of data does not say so: %v\n%s", err, day)
	}

	// Errors an operator can act on.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--prometheus", prom.URL, "--journey", "billing"}, `unknown journey "billing": it has no requests in the 30d before`},
		{[]string{"--prometheus", "http://" + deadAddr(t)}, " is unreachable: "},
		{[]string{"--prometheus", prom.URL, "--format", "pdf"}, `format "pdf": want md or html`},
	} {
		if out, err := frontdoorCmd(t, append([]string{"scorecard"}, tc.args...)...); err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("scorecard %v: %v, want %q in\n%s", tc.args, err, tc.want, out)
		}
	}

	// The HTML page, rendered by Chromium.
	page := filepath.Join(t.ArtifactDir(), "scorecard.html")
	if out, err := frontdoorCmd(t, "scorecard", "--prometheus", prom.URL, "--range", "1h", "--format", "html", "--out", page); err != nil {
		t.Fatalf("scorecard --format html: %v\n%s", err, out)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script", "src=", "href=", "url(", "<link"} {
		if strings.Contains(strings.ToLower(string(html)), bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("file://"+page),
		chromedp.WaitVisible(chromedp.CSS("svg"))); err != nil {
		t.Fatalf("opening the scorecard: %v", err)
	}
	screenshot(t, ctx, "scorecard")
	text := browse(t, ctx, chromedp.Evaluate[string](`document.body.innerText`))
	for _, want := range []string{"Missed objectives", "nightdesk", "MISSED", "care-team", "met (≥ 99.9%)"} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	// At 1280 px every column of every table is inside the window.
	fit := browse(t, ctx, chromedp.Evaluate[map[string]float64](`(() => {
		const right = Math.max(...[...document.querySelectorAll('th, td')].map(e => e.getBoundingClientRect().right));
		return {right, width: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth};
	})()`))
	if fit["right"] > fit["width"] || fit["scroll"] > fit["width"] {
		t.Errorf("at 1280 px the last column ends at %v px and the page is %v px wide, in a %v px window", fit["right"], fit["scroll"], fit["width"])
	}
	// Printed, each journey is one A4 page.
	pdf := filepath.Join(t.ArtifactDir(), "scorecard.pdf")
	if out, err := exec.Command(chromiumPath(t), "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
		"--user-data-dir="+t.TempDir(), "--print-to-pdf="+pdf, "file://"+page).CombinedOutput(); err != nil {
		t.Fatalf("chromium --print-to-pdf: %v\n%s", err, out)
	}
	if pages := pdfPages(t, pdf); pages != 2 {
		t.Errorf("the printed scorecard of 2 journeys has %d pages, want one per journey", pages)
	}
	drawn := browse(t, ctx, chromedp.Evaluate[map[string]float64](`(() => {
		const w = s => [...document.querySelectorAll(s)].map(e => e.getBBox().width);
		return {missed: Math.max(0, ...w('svg rect.missed')), met: Math.max(0, ...w('svg rect.met')),
			resources: performance.getEntriesByType('resource').length, scripts: document.scripts.length};
	})()`))
	if drawn["missed"] <= 0 || drawn["met"] <= drawn["missed"] {
		t.Errorf("bars: vendor's (missed) %v px, in-house's (met) %v px; want both drawn, the vendor's shorter", drawn["missed"], drawn["met"])
	}
	if drawn["resources"] != 0 || drawn["scripts"] != 0 {
		t.Errorf("the page loaded %v resources and has %v scripts, want none", drawn["resources"], drawn["scripts"])
	}
}

// pdfPages counts the page objects of a PDF (Chromium writes them
// uncompressed), as pdfinfo would.
func pdfPages(t *testing.T, file string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(data, -1))
}
