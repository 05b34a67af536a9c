package dashboards

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frontdoor-dev/frontdoor/internal/scorecard"
)

// TestLatencyComplianceCountsFromTheObjective: a backend whose latency SLO
// line came halfway through the period, every request of which was fast.
// The good requests are recorded only while the objective exists, the
// requests always: the scorecard and the 30-day ratio put the first half's
// requests in the denominator only, 0.52 instead of 1, and marked the
// backend missed. Both now count the backend's requests from when its
// objective exists.
func TestLatencyComplianceCountsFromTheObjective(t *testing.T) {
	var compliance scorecard.Query
	for _, q := range scorecard.Queries {
		if q.Name == "latency compliance" {
			compliance = q
		}
	}
	if compliance.Name == "" {
		t.Fatal("no scorecard query \"latency compliance\"")
	}
	labels := `instance="gw-1:2019", journey="support", backend="nightdesk", owner="outsourced", vendor="NightDesk BPO"`
	tests := `
  - name: "latency SLO added halfway: every request was fast"
    interval: 1m
    input_series:
      - series: 'frontdoor_request_duration_seconds_bucket{le="0.8", ` + labels + `}'
        values: '0+60x120'
      - series: 'frontdoor_request_duration_seconds_bucket{le="+Inf", ` + labels + `}'
        values: '0+60x120'
      - series: 'frontdoor_request_duration_seconds_count{` + labels + `}'
        values: '0+60x120'
      - series: 'frontdoor_requests_total{code="200", ` + labels + `}'
        values: '0+60x120'
      - series: 'frontdoor_backend_slo_objective{slo="latency", threshold="0.8", ` + labels + `}'
        values: '_x60 0.95x60'
    promql_expr_test:
      - expr: 'round(` + strings.ReplaceAll(compliance.Expr("2h", ".*"), "\n", " ") + `, 0.01)'
        eval_time: 120m
        exp_samples:
          - labels: '{journey="support", backend="nightdesk", owner="outsourced", vendor="NightDesk BPO"}'
            value: 1
      - expr: 'round(journey_backend:frontdoor_latency_slo_good:ratio_rate30d, 0.01)'
        eval_time: 120m
        exp_samples:
          - labels: '{journey="support", backend="nightdesk", owner="outsourced", vendor="NightDesk BPO"}'
            value: 1
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "frontdoor.rules.yml"), RulesYAML, 0o644); err != nil {
		t.Fatal(err)
	}
	head, _, ok := strings.Cut(string(RulesTestYAML), "\ntests:")
	if !ok {
		t.Fatal("no tests: in rules/frontdoor.rules.test.yml")
	}
	if err := os.WriteFile(filepath.Join(dir, "latency.test.yml"), []byte(head+"\ntests:\n"+tests), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(requireTool(t, "promtool"), "test", "rules", "latency.test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("latency compliance of a backend that answered every request within its threshold:\n%s", out)
	}
}
