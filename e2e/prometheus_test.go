package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/dashboards"
	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// prometheus is a real Prometheus server scraping the gateway every second
// and evaluating the shipped rules every second.
type prometheus struct {
	URL string
}

func startPrometheus(t *testing.T, target string) *prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("no prometheus on PATH (Debian: apt-get install prometheus)")
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "frontdoor.rules.yml")
	if err := os.WriteFile(rules, dashboards.RulesYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: frontdoor
    static_configs:
      - targets: [%q]
`, rules, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck
		cmd.Wait()         //nolint:errcheck
		if t.Failed() {
			t.Logf("prometheus logs:\n%s", logs.String())
		}
	})
	p := &prometheus{URL: "http://" + addr}
	waitFor(t, 30*time.Second, func() error {
		resp, err := http.Get(p.URL + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("not ready: %d", resp.StatusCode)
		}
		return nil
	})
	return p
}

type promResult struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

func (p *prometheus) query(t *testing.T, expr string) promResult {
	t.Helper()
	resp, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r promResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("decoding %s: %v", expr, err)
	}
	return r
}

// waitScraped waits until Prometheus has scraped the gateway: its first
// scrape comes seconds after it starts.
func (p *prometheus) waitScraped(t *testing.T) {
	t.Helper()
	waitFor(t, 30*time.Second, func() error {
		if len(p.query(t, `up{job="frontdoor"} == 1`).Data.Result) == 0 {
			return fmt.Errorf("gateway not scraped yet")
		}
		return nil
	})
}

// scraped waits until Prometheus holds at least n samples of each series
// the selector selects (subquery: of each series the expression yields,
// one a second), and some series: what traffic a test sent has been seen.
func (p *prometheus) scraped(t *testing.T, what, series string, n int) {
	t.Helper()
	waitFor(t, 60*time.Second, func() error {
		r := p.query(t, fmt.Sprintf("min(count_over_time(%s))", series))
		if v := r.valueBy(""); len(r.Data.Result) == 0 || v[""] < float64(n) {
			return fmt.Errorf("%s: fewer than %d scrapes of %s (%v)", what, n, series, v)
		}
		return nil
	})
}

// valueBy returns the query's sample values keyed by one label.
func (r promResult) valueBy(label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
		out[s.Metric[label]] = v
	}
	return out
}

func TestPrometheusSeesVendorWorseThanInHouse(t *testing.T) {
	care := startBackend(t, "care-team", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "fast in-house answer")
	})
	night := startBackend(t, "nightdesk", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/support/events" { // a short chat the desk ends itself
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: hello\n\n")
			return
		}
		if r.URL.Path == "/support/tickets" {
			fmt.Fprint(w, "ticket opened")
			return
		}
		if r.URL.Path == "/support/help" { // a page with the brand banner and its rating link
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!doctype html><html><body><p>How to reset your router</p></body></html>")
			return
		}
		hold(r, 120*time.Millisecond)
		if rand.IntN(4) == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "slow vendor answer")
	})
	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001")
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
		}
		journey support /support* {
			contact POST /support/tickets*
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				slo availability 99.5%%
				slo latency 95%% 100ms
				slo orphans 50%%
			}
			backend care-team {
				owner in-house
				to %s
				slo availability 99.9%%
				slo latency 95%% 100ms
			}
		}`, rs.URL(), night.URL, care.URL)))
	prom := startPrometheus(t, gw.AdminAddr)
	// Traffic starts once Prometheus scrapes the gateway: a first scrape
	// after the vendor's half would miss it.
	prom.waitScraped(t)
	// A customer opens a ticket and comes back with another; a chat.
	contact := func() {
		do(t, "POST", gw.URL+"/support/tickets", strings.NewReader("help"), withCookie(sessionID))
		do(t, "GET", gw.URL+"/support/events", nil, nil)
	}

	// Traffic: the vendor serves the journey until Prometheus has enough of
	// its answers for rate(), then an override hands it to the in-house
	// team until Prometheus has enough of theirs.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var sent atomic.Int64
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			pace := time.NewTicker(20 * time.Millisecond)
			defer pace.Stop()
			for ; !stop.Load(); <-pace.C {
				resp, err := client.Get(gw.URL + "/support/chat")
				if err == nil {
					resp.Body.Close()
					sent.Add(1)
				}
			}
		}()
	}
	prom.scraped(t, "the vendor's answers", `frontdoor_requests_total{backend="nightdesk",code=~"200|500"}[1m]`, 4)
	contact()
	prom.scraped(t, "the first contact", `(frontdoor_contacts_total{backend="nightdesk"} > 0)[1m:1s]`, 2)
	// The customer answers the vendor's "did this solve your problem?".
	rated := url.Values{"t": {tokenOn(t, gw.URL+"/support/help", sessionID, rateLink)}, "answer": {"yes"}}
	if status := submit(t, gw.URL, "rate", sessionID, rated, nil); status != http.StatusOK {
		t.Fatalf("rating the vendor: %d", status)
	}
	prom.scraped(t, "the rating", `(frontdoor_ratings_total{backend="nightdesk",customer="known"} > 0)[1m:1s]`, 2)
	if code, out := adminJSON(t, gw, "PUT", "/frontdoor/overrides/support", `{"backend":"care-team","ttl":"1h","reason":"compare"}`); code != 200 {
		t.Fatalf("override: %d %v", code, out)
	}
	prom.scraped(t, "the in-house answers", `frontdoor_requests_total{backend="care-team",code="200"}[1m]`, 4)
	contact() // the customer comes back, now to the in-house team
	prom.scraped(t, "the repeat contact", `(frontdoor_repeat_contacts_total{backend="nightdesk"} > 0)[1m:1s]`, 2)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d requests sent", sent.Load())

	// Every query of the (generated) dashboard returns data from the real
	// binary's metrics, once the rules have evaluated over what was scraped.
	queries, err := dashboards.Queries(dashboards.DashboardJSON)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, func() error {
		for _, q := range queries {
			r := prom.query(t, q.Expr)
			if r.Status != "success" {
				t.Fatalf("panel %d %q (%s): %s: %s\n%s", q.PanelID, q.PanelTitle, q.RefID, r.ErrorType, r.Error, q.Expr)
			} else if len(r.Data.Result) == 0 {
				return fmt.Errorf("panel %d %q (%s) returned no data:\n%s", q.PanelID, q.PanelTitle, q.RefID, q.Expr)
			}
		}
		return nil
	})
	t.Logf("%d dashboard queries ran", len(queries))

	// The key comparisons: the vendor errs more and is slower than the
	// in-house team on the same journey, and misses its latency SLO.
	errRatio := prom.query(t, `sum by (owner) (rate(frontdoor_requests_total{journey="support",code=~"5.."}[1m])) / sum by (owner) (rate(frontdoor_requests_total{journey="support"}[1m]))`).valueBy("owner")
	if !(errRatio["outsourced"] > 0.1 && errRatio["in-house"] < 0.01) {
		t.Errorf("error ratio by owner: %v, want the vendor well above in-house", errRatio)
	}
	p95 := prom.query(t, `histogram_quantile(0.95, sum by (owner, le) (rate(frontdoor_request_duration_seconds_bucket{journey="support"}[1m])))`).valueBy("owner")
	if !(p95["outsourced"] > 0.1 && p95["in-house"] < 0.05) {
		t.Errorf("p95 by owner: %v, want the vendor slower", p95)
	}
	recorded := prom.query(t, `journey_owner:frontdoor_requests_errors:ratio_rate5m{journey="support"}`).valueBy("owner")
	if !(recorded["outsourced"] > recorded["in-house"]) {
		t.Errorf("recording rule journey_owner:frontdoor_requests_errors:ratio_rate5m: %v", recorded)
	}
	objective := prom.query(t, `frontdoor_backend_slo_objective{slo="latency"}`).valueBy("backend")
	if objective["nightdesk"] != 0.95 {
		t.Errorf("SLO objective exported: %v", objective)
	}
	if orphans := prom.query(t, `frontdoor_backend_slo_objective{slo="orphans"}`).valueBy("backend"); orphans["nightdesk"] != 0.5 {
		t.Errorf("orphan objective exported: %v", orphans)
	}
	override := prom.query(t, `sum(frontdoor_routing_decisions_total{reason="override"})`)
	if len(override.Data.Result) == 0 {
		t.Error("no override routing decisions scraped")
	}
}

func TestTwoFrontdoorHandlersInOneConfig(t *testing.T) {
	t.Parallel()
	a := startBackend(t, "a", nil)
	b := startBackend(t, "b", nil)
	gw := startGateway(t, `	route /one/* {
		frontdoor {
			brand One
			journey one /one/* {
				backend a {
					owner in-house
					to `+a.URL+`
				}
			}
		}
	}
	route /two/* {
		frontdoor {
			brand Two
			journey two /two/* {
				backend b {
					owner outsourced
					vendor V
					to `+b.URL+`
					slo availability 99%
				}
			}
		}
	}`)
	for path, want := range map[string]string{"/one/x": "hello from a", "/two/x": "hello from b"} {
		if _, body := do(t, "GET", gw.URL+path, nil, nil); body != want {
			t.Errorf("%s: %q", path, body)
		}
	}
	m := gw.metrics(t)
	for _, series := range []string{
		`frontdoor_requests_total{backend="a",code="200",journey="one",owner="in-house",vendor=""}`,
		`frontdoor_requests_total{backend="b",code="200",journey="two",owner="outsourced",vendor="V"}`,
		`frontdoor_backend_slo_objective{backend="b",journey="two",owner="outsourced",slo="availability",threshold="",vendor="V"}`,
	} {
		if v, ok := metricValue(m, series); !ok || v == 0 {
			t.Errorf("%s missing", series)
		}
	}
}
