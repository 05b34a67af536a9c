package dashboards

// TestDashboardQueriesReturnData runs a real Prometheus (the `prometheus` binary of the same
// package as promtool) with the rules of this directory, scraping two fake gateway instances that
// serve every metric of DESIGN.md, and checks that every query of the dashboard returns data.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/scorecard"
	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

type fakeBackend struct{ journey, backend, owner, vendor string }

var fakeBackends = []fakeBackend{
	{"checkout", "shop-core", "in-house", ""},
	{"support", "care-team", "in-house", ""},
	{"support", "nightdesk", "outsourced", "NightDesk BPO"},
	{"tracking", "shipco", "outsourced", "ShipCo"},
}

var durationBuckets = []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "0.8", "1", "2.5", "5", "10", "30", "+Inf"}

// fakeGateway serves frontdoor's metrics in the Prometheus text format; every counter grows at a
// fixed rate from the server's start.
func fakeGateway(start time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := time.Since(start).Seconds() + 1
		var b strings.Builder
		line := func(name string, v float64, kv ...string) {
			var labels []string
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] != "" {
					labels = append(labels, fmt.Sprintf("%s=%q", kv[i], kv[i+1]))
				}
			}
			fmt.Fprintf(&b, "%s{%s} %g\n", name, strings.Join(labels, ","), v)
		}
		typ := func(name, t string) { fmt.Fprintf(&b, "# TYPE %s %s\n", name, t) }

		typ("frontdoor_requests_total", "counter")
		for _, be := range fakeBackends {
			id := []string{"journey", be.journey, "backend", be.backend, "owner", be.owner, "vendor", be.vendor}
			line("frontdoor_requests_total", 20*s, append(id, "code", "200")...)
			line("frontdoor_requests_total", 0.5*s, append(id, "code", "404")...)
			line("frontdoor_requests_total", 0.2*s, append(id, "code", "503")...)
		}
		typ("frontdoor_request_duration_seconds", "histogram")
		for _, be := range fakeBackends {
			id := []string{"journey", be.journey, "backend", be.backend, "owner", be.owner, "vendor", be.vendor}
			total := 20.7 * s
			for i, le := range durationBuckets {
				share := math.Min(1, float64(i+1)/float64(len(durationBuckets)-2))
				line("frontdoor_request_duration_seconds_bucket", total*share, append(id, "le", le)...)
			}
			line("frontdoor_request_duration_seconds_sum", total*0.3, id...)
			line("frontdoor_request_duration_seconds_count", total, id...)
		}
		typ("frontdoor_upstream_errors_total", "counter")
		typ("frontdoor_routing_decisions_total", "counter")
		typ("frontdoor_banner_injections_total", "counter")
		typ("frontdoor_error_pages_total", "counter")
		for _, be := range fakeBackends {
			id := []string{"journey", be.journey, "backend", be.backend, "owner", be.owner, "vendor", be.vendor}
			for _, kind := range []string{"dial", "timeout", "status_5xx"} {
				line("frontdoor_upstream_errors_total", 0.1*s, append(id, "kind", kind)...)
			}
			short := []string{"journey", be.journey, "backend", be.backend}
			for reason, rate := range map[string]float64{"first": 18, "hours": 1, "failover": 1, "override": 0.7} {
				line("frontdoor_routing_decisions_total", rate*s, append(short, "reason", reason)...)
			}
			for result, rate := range map[string]float64{"injected": 5, "appended": 1, "skipped": 3} {
				line("frontdoor_banner_injections_total", rate*s, append(short, "result", result)...)
			}
			for _, code := range []string{"502", "503", "504"} {
				line("frontdoor_error_pages_total", 0.1*s, append(short, "code", code)...)
			}
		}
		typ("frontdoor_context_lookups_total", "counter")
		for result, rate := range map[string]float64{"hit": 30, "miss": 5, "cached": 40, "error": 1, "no_cookie": 20} {
			line("frontdoor_context_lookups_total", rate*s, "result", result)
		}
		typ("frontdoor_context_lookup_duration_seconds", "histogram")
		for i, le := range []string{"0.001", "0.005", "0.01", "0.05", "+Inf"} {
			line("frontdoor_context_lookup_duration_seconds_bucket", 36*s*float64(i+1)/5, "le", le)
		}
		line("frontdoor_context_lookup_duration_seconds_sum", 36*s*0.004)
		line("frontdoor_context_lookup_duration_seconds_count", 36*s)
		typ("frontdoor_backend_slo_objective", "gauge")
		line("frontdoor_backend_slo_objective", 0.995, "journey", "support", "backend", "nightdesk", "owner", "outsourced",
			"vendor", "NightDesk BPO", "slo", "availability")
		line("frontdoor_backend_slo_objective", 0.95, "journey", "support", "backend", "nightdesk", "owner", "outsourced",
			"vendor", "NightDesk BPO", "slo", "latency", "threshold", "0.8")
		line("frontdoor_backend_slo_objective", 0.99, "journey", "tracking", "backend", "shipco", "owner", "outsourced",
			"vendor", "ShipCo", "slo", "availability")
		line("frontdoor_backend_slo_objective", 0.05, "journey", "support", "backend", "nightdesk", "owner", "outsourced",
			"vendor", "NightDesk BPO", "slo", "orphans")

		// The experience metrics of the secret shopper, contacts and streams.
		typ("frontdoor_probe_success", "gauge")
		typ("frontdoor_contacts_total", "counter")
		typ("frontdoor_repeat_contacts_total", "counter")
		typ("frontdoor_streams_total", "counter")
		for _, be := range fakeBackends {
			id := []string{"journey", be.journey, "backend", be.backend, "owner", be.owner, "vendor", be.vendor}
			line("frontdoor_probe_success", 1, append(id, "probe", "help-page")...)
			line("frontdoor_contacts_total", 2*s, id...)
			line("frontdoor_repeat_contacts_total", 0.3*s, id...)
			for closedBy, rate := range map[string]float64{"client": 1, "backend": 0.2, "gateway": 0.01} {
				line("frontdoor_streams_total", rate*s, append(id, "closed_by", closedBy)...)
			}
		}

		// Rescue: orphans, escalations and the customers' own ratings.
		typ("frontdoor_orphans_total", "counter")
		typ("frontdoor_escalations_total", "counter")
		typ("frontdoor_ratings_total", "counter")
		for _, be := range fakeBackends {
			id := []string{"journey", be.journey, "backend", be.backend, "owner", be.owner, "vendor", be.vendor}
			for cause, rate := range map[string]float64{"hung_up": 0.05, "error_page": 0.05, "repeat_contact": 0.1} {
				line("frontdoor_orphans_total", rate*s, append(id, "cause", cause)...)
			}
			line("frontdoor_escalations_total", 0.1*s, id...)
			for _, r := range []struct {
				answer, customer string
				rate             float64
			}{{"yes", "known", 0.6}, {"no", "known", 0.2}, {"yes", "anonymous", 0.1}, {"no", "anonymous", 0.4}} {
				line("frontdoor_ratings_total", r.rate*s, append(id, "answer", r.answer, "customer", r.customer)...)
			}
		}

		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, b.String())
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type promResult struct {
	Status    string `json:"status"`
	Error     string `json:"error"`
	ErrorType string `json:"errorType"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

func instantQuery(ctx context.Context, base, expr string) (promResult, error) {
	var res promResult
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/query",
		strings.NewReader(url.Values{"query": {expr}}.Encode()))
	if err != nil {
		return res, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &res); err != nil {
		return res, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	return res, nil
}

func TestDashboardQueriesReturnData(t *testing.T) {
	prom := requireTool(t, "prometheus")
	rulesPath, err := filepath.Abs("rules/frontdoor.rules.yml")
	if err != nil {
		t.Fatal(err)
	}

	var targets []string
	for i := 0; i < 2; i++ {
		srv := httptest.NewServer(fakeGateway(time.Now()))
		defer srv.Close()
		targets = append(targets, fmt.Sprintf("%q", strings.TrimPrefix(srv.URL, "http://")))
	}
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: frontdoor
    static_configs:
      - targets: [%s]
`, rulesPath, strings.Join(targets, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prom,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--log.level=warn")
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", log)
		}
	}()

	qs, err := Queries(DashboardJSON)
	if err != nil {
		t.Fatal(err)
	}
	qs = append(qs, scorecardQueries()...)
	// Recording rules feed each other across groups: give them time, then require data everywhere.
	deadline := time.Now().Add(90 * time.Second)
	var problems []string
	check := func() error {
		problems = problems[:0]
		for _, q := range qs {
			res, err := instantQuery(ctx, base, q.Expr)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("panel %d %q %s: %v", q.PanelID, q.PanelTitle, q.RefID, err))
			case res.Status != "success":
				problems = append(problems, fmt.Sprintf("panel %d %q %s: %s: %s\n  %s", q.PanelID, q.PanelTitle, q.RefID, res.ErrorType, res.Error, q.Expr))
			case len(res.Data.Result) == 0:
				problems = append(problems, fmt.Sprintf("panel %d %q %s: no data\n  %s", q.PanelID, q.PanelTitle, q.RefID, q.Expr))
			default:
				for _, s := range res.Data.Result {
					if _, named := s.Metric["__name__"]; named && q.Instant {
						// Grafana's merge of table queries joins rows on their labels: a metric
						// name would keep each query's rows apart.
						problems = append(problems, fmt.Sprintf("panel %d %q %s: table query keeps __name__ %q; aggregate it away\n  %s",
							q.PanelID, q.PanelTitle, q.RefID, s.Metric["__name__"], q.Expr))
						break
					}
					if v, _ := s.Value[1].(string); v == "NaN" {
						problems = append(problems, fmt.Sprintf("panel %d %q %s: NaN for %v\n  %s", q.PanelID, q.PanelTitle, q.RefID, s.Metric, q.Expr))
						break
					}
				}
			}
		}
		if len(problems) == 0 || ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%d problems", len(problems))
	}
	testwait.Until(time.Until(deadline), 2*time.Second, check) //nolint:errcheck // the problems are reported below
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) == 0 {
		t.Logf("all %d dashboard queries returned data", len(qs))
	}

	// The scorecard shows each vendor's customer-rated resolution, orphans and escalations per
	// contact next to the in-house team's, from the recording rules in this real Prometheus.
	report, err := scorecard.Collect(ctx, scorecard.Options{Prometheus: base, Range: "1h", Journey: "support"})
	if err != nil {
		t.Fatalf("scorecard: %v", err)
	}
	var md strings.Builder
	if err := report.Markdown(&md); err != nil {
		t.Fatal(err)
	}
	if !report.OrphanRate || !report.EscalationRate || !report.RatedResolution {
		t.Errorf("scorecard without the rescue columns:\n%s", md.String())
	}
	rated := map[string]float64{}
	for _, b := range report.Journeys[0].Backends {
		if b.RatedResolution != nil {
			rated[b.Owner] = *b.RatedResolution
		}
	}
	// Known customers answer yes 0.6/s and no 0.2/s on every backend: 75%; anonymous answers
	// (mostly no) are left out.
	for _, owner := range []string{"in-house", "outsourced"} {
		if v, ok := rated[owner]; !ok || v < 0.74 || v > 0.76 {
			t.Errorf("scorecard: %s customer-rated resolution %v (ok %v), want 75%%:\n%s", owner, v, ok, md.String())
		}
	}

	// The alerts load and evaluate without errors in a real Prometheus.
	resp, err := http.Get(base + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rules struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rules); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" {
				t.Errorf("rule %s/%s: health %q %s", g.Name, r.Name, r.Health, r.LastError)
			}
		}
	}
	if want := len(loadRules(t)); n != want {
		t.Errorf("Prometheus loaded %d rules, the rules file has %d", n, want)
	}
}
