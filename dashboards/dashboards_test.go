package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/frontdoor-dev/frontdoor/internal/scorecard"
)

// designMetrics are the metrics of DESIGN.md's "Metrics" table with their labels (the contract),
// plus the series a Prometheus histogram adds.
var designMetrics = map[string][]string{
	"frontdoor_requests_total":                  {"journey", "backend", "owner", "vendor", "code"},
	"frontdoor_request_duration_seconds":        {"journey", "backend", "owner", "vendor"},
	"frontdoor_upstream_errors_total":           {"journey", "backend", "owner", "vendor", "kind"},
	"frontdoor_routing_decisions_total":         {"journey", "backend", "reason"},
	"frontdoor_context_lookups_total":           {"result"},
	"frontdoor_context_lookup_duration_seconds": {},
	"frontdoor_banner_injections_total":         {"journey", "backend", "result"},
	"frontdoor_error_pages_total":               {"journey", "backend", "code"},
	"frontdoor_backend_slo_objective":           {"journey", "backend", "owner", "vendor", "slo", "threshold"},
	"frontdoor_probe_success":                   {"journey", "backend", "owner", "vendor", "probe"},
	"frontdoor_probe_runs_total":                {"journey", "backend", "owner", "vendor", "probe", "result"},
	"frontdoor_probe_duration_seconds":          {"journey", "backend", "owner", "vendor", "probe"},
	"frontdoor_probe_check_failures_total":      {"journey", "backend", "owner", "vendor", "probe", "check"},
	"frontdoor_contacts_total":                  {"journey", "backend", "owner", "vendor"},
	"frontdoor_repeat_contacts_total":           {"journey", "backend", "owner", "vendor"},
	"frontdoor_streams_total":                   {"journey", "backend", "owner", "vendor", "closed_by"},
	"frontdoor_stream_duration_seconds":         {"journey", "backend", "owner", "vendor"},
	"frontdoor_orphans_total":                   {"journey", "backend", "owner", "vendor", "cause"},
	"frontdoor_escalations_total":               {"journey", "backend", "owner", "vendor"},
	"frontdoor_ratings_total":                   {"journey", "backend", "owner", "vendor", "answer", "customer"},
}

var designHistograms = []string{"frontdoor_request_duration_seconds", "frontdoor_context_lookup_duration_seconds",
	"frontdoor_probe_duration_seconds", "frontdoor_stream_duration_seconds"}

// targetLabels are added by Prometheus to every scraped series.
var targetLabels = []string{"instance", "job"}

// prometheusBuiltinMetrics are series Prometheus itself writes.
var prometheusBuiltinMetrics = map[string]bool{
	"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true,
	"scrape_samples_post_metric_relabeling": true, "scrape_series_added": true,
	"ALERTS": true, "ALERTS_FOR_STATE": true,
}

// promqlFunctions are PromQL's functions and aggregation operators.
var promqlFunctions = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil
		changes clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month
		deg delta deriv exp floor histogram_count histogram_fraction histogram_quantile histogram_sum holt_winters hour
		idelta increase irate label_join label_replace last_over_time ln log10 log2 max_over_time min_over_time minute
		month pi predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort
		sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector year
		sum min max avg group stddev stdvar count count_values bottomk topk quantile`) {
		promqlFunctions[f] = true
	}
	for _, h := range designHistograms {
		labels := designMetrics[h]
		designMetrics[h+"_bucket"] = append(append([]string{}, labels...), "le")
		designMetrics[h+"_count"] = labels
		designMetrics[h+"_sum"] = labels
	}
}

// contractLabels are all label names an expression may use: the contract's, the target labels,
// le of the histograms, and __name__.
func contractLabels() map[string]bool {
	m := map[string]bool{"le": true, "__name__": true}
	for _, labels := range designMetrics {
		for _, l := range labels {
			m[l] = true
		}
	}
	for _, l := range targetLabels {
		m[l] = true
	}
	return m
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found in PATH: these tests need Prometheus' %s and do not skip without it.\n"+
			"Install it with `apt-get install -y prometheus` (Debian; CI installs the same).", name, name)
	}
	return path
}

func runTool(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(requireTool(t, name), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s (in %s) failed: %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	rules, err := parseRules(RulesYAML)
	if err != nil {
		t.Fatalf("reading rules/frontdoor.rules.yml: %v", err)
	}
	if len(rules) == 0 {
		t.Fatal("no rules found in rules/frontdoor.rules.yml")
	}
	return rules
}

func recordedNames(t *testing.T) map[string]bool {
	names := map[string]bool{}
	for _, r := range loadRules(t) {
		if r.Kind == "record" {
			names[r.Name] = true
		}
	}
	return names
}

// ---------------------------------------------------------------------------------- promtool

func TestPromtoolCheckRules(t *testing.T) {
	out := runTool(t, "rules", "promtool", "check", "rules", "frontdoor.rules.yml")
	t.Log(strings.TrimSpace(out))
}

func TestPromtoolTestRules(t *testing.T) {
	out := runTool(t, "rules", "promtool", "test", "rules", "frontdoor.rules.test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules did not report SUCCESS:\n%s", out)
	}
}

func TestPromtoolCheckConfig(t *testing.T) {
	out := runTool(t, ".", "promtool", "check", "config", "prometheus.yml")
	if !strings.Contains(out, "1 rule files found") {
		t.Fatalf("prometheus.yml should load rules/frontdoor.rules.yml (and not the unit tests):\n%s", out)
	}
}

// TestDashboardQueriesArePromQL hands every dashboard query to promtool as a recording rule, so
// that Prometheus' own parser checks the syntax.
func TestDashboardQueriesArePromQL(t *testing.T) {
	qs, err := Queries(DashboardJSON)
	if err != nil {
		t.Fatal(err)
	}
	qs = append(qs, scorecardQueries()...)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range qs {
		expr, _ := json.Marshal(q.Expr) // a JSON string is a YAML double-quoted string
		fmt.Fprintf(&b, "      - record: dashboard_query_%d\n        expr: %s\n", i, expr)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.rules.yml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runTool(t, dir, "promtool", "check", "rules", "dashboard.rules.yml")
	if want := fmt.Sprintf("%d rules found", len(qs)); !strings.Contains(out, want) {
		t.Fatalf("promtool check rules: want %q in\n%s", want, out)
	}
}

// scorecardQueries are the queries of `frontdoor scorecard` as the tests run them: over
// $__range (1h) and every journey, as instant queries.
func scorecardQueries() []Query {
	var qs []Query
	for _, q := range scorecard.Queries {
		qs = append(qs, Query{PanelTitle: "scorecard: " + q.Name, RefID: "S", Template: q.Template,
			Expr: q.Expr(BuiltinVariables["__range"], ".*"), Instant: true})
	}
	return qs
}

// ---------------------------------------------------------------------------------- embedding

func TestEmbeddedFilesAreTheFilesOnDisk(t *testing.T) {
	for path, embedded := range map[string][]byte{
		"frontdoor.json":                 DashboardJSON,
		"rules/frontdoor.rules.yml":      RulesYAML,
		"rules/frontdoor.rules.test.yml": RulesTestYAML,
		"prometheus.yml":                 PrometheusYAML,
	} {
		if !bytes.Equal(readFile(t, path), embedded) {
			t.Errorf("embedded %s differs from the file", path)
		}
	}
}

// ---------------------------------------------------------------------------------- dashboard

type jsonPanel struct {
	ID          int             `json:"id"`
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Datasource  json.RawMessage `json:"datasource"`
	GridPos     struct{ H, W, X, Y int }
	Panels      []jsonPanel `json:"panels"`
	Targets     []struct {
		RefID      string          `json:"refId"`
		Expr       string          `json:"expr"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
}

type jsonDashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Multi      bool            `json:"multi"`
			IncludeAll bool            `json:"includeAll"`
			AllValue   string          `json:"allValue"`
			Datasource json.RawMessage `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []jsonPanel `json:"panels"`
}

func loadDashboard(t *testing.T) jsonDashboard {
	t.Helper()
	var d jsonDashboard
	if err := json.Unmarshal(DashboardJSON, &d); err != nil {
		t.Fatalf("frontdoor.json is not valid JSON: %v", err)
	}
	return d
}

func allPanels(ps []jsonPanel) []jsonPanel {
	var out []jsonPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title (provisioning and links use the uid)")
	}
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion = %d, want >= 39", d.SchemaVersion)
	}

	vars := map[string]int{}
	for i, v := range d.Templating.List {
		vars[v.Name] = i
	}
	i, ok := vars["datasource"]
	if !ok {
		t.Fatal("no `datasource` template variable")
	}
	if ds := d.Templating.List[i]; ds.Type != "datasource" || string(ds.Query) != `"prometheus"` {
		t.Errorf("datasource variable: type %q query %s, want type datasource, query \"prometheus\"", ds.Type, ds.Query)
	}
	for _, name := range []string{"journey", "backend", "instance"} {
		i, ok := vars[name]
		if !ok {
			t.Errorf("no %q template variable", name)
			continue
		}
		v := d.Templating.List[i]
		if v.Type != "query" || !v.Multi || !v.IncludeAll {
			t.Errorf("variable %s: type %q multi %v includeAll %v, want query, multi, include all", name, v.Type, v.Multi, v.IncludeAll)
		}
		var query string
		if err := json.Unmarshal(v.Query, &query); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Errorf("variable %s: query %s is neither a string nor an object with a query", name, v.Query)
			}
			query = obj.Query
		}
		if want := "label_values("; !strings.HasPrefix(query, want) || !strings.HasSuffix(query, ", "+name+")") {
			t.Errorf("variable %s: query %q, want label_values(..., %s)", name, query, name)
		}
		if string(v.Datasource) == "" || !strings.Contains(string(v.Datasource), "${datasource}") {
			t.Errorf("variable %s: datasource %s, want ${datasource}", name, v.Datasource)
		}
	}

	ids := map[int]string{}
	rows := 0
	type cell struct{ x, y int }
	occupied := map[cell]string{}
	for _, p := range allPanels(d.Panels) {
		if p.ID <= 0 {
			t.Errorf("panel %q has no id", p.Title)
		}
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panel id %d used by %q and %q", p.ID, other, p.Title)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %d %q: gridPos %+v outside the 24-column grid", p.ID, p.Title, p.GridPos)
		}
		for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
			for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
				if other, taken := occupied[cell{x, y}]; taken {
					t.Errorf("panel %d %q overlaps %q at (%d,%d)", p.ID, p.Title, other, x, y)
					x, y = 1<<30, 1<<30
				} else {
					occupied[cell{x, y}] = p.Title
				}
			}
		}
		if p.Type == "row" {
			rows++
			continue
		}
		if p.Description == "" {
			t.Errorf("panel %d %q has no description (say what it answers)", p.ID, p.Title)
		}
		if !strings.Contains(string(p.Datasource), `"${datasource}"`) {
			t.Errorf("panel %d %q: datasource %s, want uid ${datasource}", p.ID, p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %d %q has no targets", p.ID, p.Title)
		}
		refIDs := map[string]bool{}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %d %q target %s has no expr", p.ID, p.Title, tg.RefID)
			}
			if !strings.Contains(string(tg.Datasource), `"${datasource}"`) {
				t.Errorf("panel %d %q target %s: datasource %s, want uid ${datasource}", p.ID, p.Title, tg.RefID, tg.Datasource)
			}
			if tg.RefID == "" || refIDs[tg.RefID] {
				t.Errorf("panel %d %q: missing or duplicate refId %q", p.ID, p.Title, tg.RefID)
			}
			refIDs[tg.RefID] = true
		}
	}
	if rows < 5 {
		t.Errorf("%d rows, want a row per topic (traffic, in-house vs outsourced, SLOs, routing, context, customers)", rows)
	}
}

// TestDashboardHasNoHardCodedDatasource walks the whole JSON: every "datasource" is ${datasource}
// (or the variable's own type/query), and no uid anywhere looks like a datasource uid.
func TestDashboardHasNoHardCodedDatasource(t *testing.T) {
	var doc any
	if err := json.Unmarshal(DashboardJSON, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				p := path + "." + k
				if k == "datasource" {
					switch ds := child.(type) {
					case map[string]any:
						if ds["uid"] != "${datasource}" {
							t.Errorf("%s: datasource uid %v, want ${datasource}", p, ds["uid"])
						}
						if typ, ok := ds["type"]; ok && typ != "prometheus" {
							t.Errorf("%s: datasource type %v, want prometheus", p, typ)
						}
					case string:
						if ds != "${datasource}" && ds != "$datasource" {
							t.Errorf("%s: datasource %q, want ${datasource}", p, ds)
						}
					default:
						t.Errorf("%s: unexpected datasource %v", p, child)
					}
				}
				if k == "uid" && path != "" {
					if s, _ := child.(string); s != "${datasource}" {
						t.Errorf("%s: hard-coded uid %q", p, s)
					}
				}
				walk(p, child)
			}
		case []any:
			for i, child := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), child)
			}
		}
	}
	walk("", doc)
}

var templateVarRef = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)`)

func TestDashboardQueriesUseContractMetricsAndLabels(t *testing.T) {
	qs, err := Queries(DashboardJSON)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 30 {
		t.Fatalf("only %d queries found", len(qs))
	}
	qs = append(qs, scorecardQueries()...)
	recorded := recordedNames(t)
	labels := contractLabels()
	usedRecorded := map[string]bool{}
	for _, q := range qs {
		where := fmt.Sprintf("panel %d %q %s", q.PanelID, q.PanelTitle, q.RefID)
		checkExpr(t, where, q.Expr, recorded, labels, usedRecorded)

		// Template variables may only stand for a regex: label=~"$var".
		for _, m := range templateVarRef.FindAllStringSubmatchIndex(q.Template, -1) {
			name := sliceOr(q.Template, m[2], m[3]) + sliceOr(q.Template, m[4], m[5]) + sliceOr(q.Template, m[6], m[7])
			if strings.Trim(name, "0123456789") == "" {
				continue // $1 of label_replace
			}
			if _, builtin := BuiltinVariables[name]; builtin {
				continue
			}
			before := strings.TrimRight(q.Template[:m[0]], " ")
			if !strings.HasSuffix(before, `=~"`) {
				t.Errorf("%s: variable $%s used outside a =~\"...\" matcher: %s", where, name, q.Template)
			}
		}
	}
	// Prefer the recording rules: the dashboard should use them heavily.
	if len(usedRecorded) < 20 {
		t.Errorf("the dashboard uses only %d recording rules", len(usedRecorded))
	}
}

func sliceOr(s string, i, j int) string {
	if i < 0 {
		return ""
	}
	return s[i:j]
}

// checkExpr checks that expr refers only to contract metrics (with their own labels in matchers),
// recording rules and Prometheus builtins, and only to contract label names.
func checkExpr(t *testing.T, where, expr string, recorded, labels map[string]bool, usedRecorded map[string]bool) {
	t.Helper()
	refs, err := scanPromQL(expr)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	for _, m := range refs.Metrics {
		_, design := designMetrics[m]
		switch {
		case design, prometheusBuiltinMetrics[m]:
		case recorded[m]:
			usedRecorded[m] = true
		default:
			t.Errorf("%s: metric %q is neither in DESIGN.md, nor a recording rule, nor a Prometheus builtin: %s", where, m, expr)
		}
	}
	for _, f := range refs.Functions {
		if !promqlFunctions[f] {
			t.Errorf("%s: %q is not a PromQL function", where, f)
		}
	}
	for _, l := range refs.Labels {
		if !labels[l] {
			t.Errorf("%s: label %q is not in the metrics contract: %s", where, l, expr)
		}
	}
	for m, matchers := range refs.Matchers {
		own, design := designMetrics[m]
		if !design {
			continue
		}
		allowed := map[string]bool{"__name__": true}
		for _, l := range append(append([]string{}, own...), targetLabels...) {
			allowed[l] = true
		}
		for _, l := range matchers {
			if !allowed[l] {
				t.Errorf("%s: %s has no label %q (contract: %v)", where, m, l, own)
			}
		}
	}
}

// ---------------------------------------------------------------------------------- rules

func TestRulesUseContractMetricsAndLabels(t *testing.T) {
	rules := loadRules(t)
	recorded := recordedNames(t)
	labels := contractLabels()
	used := map[string]bool{}
	nameRE := regexp.MustCompile(`^[a-z_]*:[a-z0-9_]+:[a-z0-9_]+$`)
	for _, r := range rules {
		if strings.TrimSpace(r.Expr) == "" {
			t.Errorf("%s %s (line %d) has no expr", r.Kind, r.Name, r.Line)
			continue
		}
		checkExpr(t, fmt.Sprintf("%s %s", r.Kind, r.Name), r.Expr, recorded, labels, used)
		if r.Kind == "record" && !nameRE.MatchString(r.Name) {
			t.Errorf("recording rule %s does not follow level:metric:operations", r.Name)
		}
	}
	for _, want := range []string{
		"journey_backend:frontdoor_requests:rate5m",
		"journey_backend:frontdoor_request_duration_seconds:p50_rate5m",
		"journey_backend:frontdoor_request_duration_seconds:p95_rate5m",
		"journey_backend:frontdoor_request_duration_seconds:p99_rate5m",
	} {
		if !recorded[want] {
			t.Errorf("recording rule %s missing", want)
		}
	}
	for _, w := range []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"} {
		for _, sli := range []string{"frontdoor_requests_errors", "frontdoor_latency_slo_good"} {
			if name := "journey_backend:" + sli + ":ratio_rate" + w; !recorded[name] {
				t.Errorf("recording rule %s missing", name)
			}
		}
	}
}

func TestAlertsHaveSeverityAnnotationsRunbooksAndTests(t *testing.T) {
	readme := string(readFile(t, "README.md"))
	anchors := map[string]bool{}
	heading := regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
	for _, m := range heading.FindAllStringSubmatch(readme, -1) {
		anchors[githubAnchor(m[1])] = true
	}
	firing, quiet := alertTestCases(RulesTestYAML)
	alerts := 0
	for _, r := range loadRules(t) {
		if r.Kind != "alert" {
			continue
		}
		alerts++
		switch r.Labels["severity"] {
		case "page", "ticket":
		default:
			t.Errorf("alert %s: severity %q, want page or ticket", r.Name, r.Labels["severity"])
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("alert %s has no %s annotation", r.Name, a)
			}
		}
		const base = "https://github.com/frontdoor-dev/frontdoor/blob/main/dashboards/README.md#"
		url := r.Annotations["runbook_url"]
		if !strings.HasPrefix(url, base) {
			t.Errorf("alert %s: runbook_url %q does not point into dashboards/README.md", r.Name, url)
		} else if anchor := strings.TrimPrefix(url, base); !anchors[anchor] {
			t.Errorf("alert %s: runbook_url anchor #%s is not a heading of README.md", r.Name, anchor)
		}
		if firing[r.Name] == 0 {
			t.Errorf("alert %s has no promtool test case where it fires", r.Name)
		}
		if quiet[r.Name] == 0 {
			t.Errorf("alert %s has no promtool test case where it does not fire (exp_alerts: [])", r.Name)
		}
		if !strings.Contains(readme, "`"+r.Name+"`") && !strings.Contains(readme, " "+r.Name+"\n") {
			t.Errorf("alert %s is not described in README.md", r.Name)
		}
	}
	if alerts < 8 {
		t.Errorf("%d alerts, want at least 8", alerts)
	}
	for name := range firing {
		found := false
		for _, r := range loadRules(t) {
			found = found || (r.Kind == "alert" && r.Name == name)
		}
		if !found {
			t.Errorf("the unit tests check alert %s, which the rules do not define", name)
		}
	}
}

// githubAnchor is the anchor GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ---------------------------------------------------------------------------------- Queries

func TestQueriesSubstitutesVariables(t *testing.T) {
	dash := []byte(`{
	  "templating": {"list": [
	    {"name": "datasource", "type": "datasource", "query": "prometheus"},
	    {"name": "journey", "type": "query", "includeAll": true, "allValue": ".*"},
	    {"name": "backend", "type": "query", "includeAll": true}
	  ]},
	  "annotations": {"list": [{"name": "a", "expr": "up{job=~\"$journey\"}"}, {"name": "b", "target": {"expr": "down{job=~\"$journey\"}"}}]},
	  "panels": [
	    {"id": 1, "type": "row", "title": "collapsed", "panels": [
	      {"id": 2, "type": "timeseries", "title": "inner", "targets": [
	        {"refId": "A", "expr": "sum(rate(x{journey=~\"${journey}\", backend=~\"${backend:regex}\"}[$__rate_interval]))"},
	        {"refId": "B", "expr": "increase(x{backend=~\"[[backend]]\"}[$__range]) / $__range_s + $__interval_ms"},
	        {"refId": "C", "expr": ""}
	      ]}
	    ]},
	    {"id": 3, "type": "table", "title": "t", "targets": [
	      {"refId": "A", "expr": "label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")", "instant": true, "range": false}
	    ]}
	  ]}`)
	qs, err := Queries(dash)
	if err != nil {
		t.Fatal(err)
	}
	want := []Query{
		{PanelID: 2, PanelTitle: "inner", RefID: "A", Expr: `sum(rate(x{journey=~".*", backend=~".*"}[1m]))`},
		{PanelID: 2, PanelTitle: "inner", RefID: "B", Expr: `increase(x{backend=~".*"}[1h]) / 3600 + 60000`},
		{PanelID: 3, PanelTitle: "t", RefID: "A", Expr: `label_replace(x, "a", "$1", "b", "(.*)")`, Instant: true},
		{PanelID: 0, PanelTitle: "annotation: a", RefID: "Anno", Expr: `up{job=~".*"}`},
		{PanelID: 0, PanelTitle: "annotation: b", RefID: "Anno", Expr: `down{job=~".*"}`},
	}
	if len(qs) != len(want) {
		t.Fatalf("got %d queries, want %d: %+v", len(qs), len(want), qs)
	}
	for i := range want {
		got := qs[i]
		got.Template = ""
		if got != want[i] {
			t.Errorf("query %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}

	if _, err := Queries([]byte(`{"panels": [{"id": 1, "targets": [{"refId": "A", "expr": "x{a=~\"$nope\"}"}]}]}`)); err == nil ||
		!strings.Contains(err.Error(), "nope") {
		t.Errorf("undefined variable: err = %v, want an error naming it", err)
	}
	if _, err := Queries([]byte(`{`)); err == nil {
		t.Error("invalid JSON: no error")
	}
}

func TestQueriesOfTheDashboard(t *testing.T) {
	qs, err := Queries(DashboardJSON)
	if err != nil {
		t.Fatal(err)
	}
	d := loadDashboard(t)
	targets := 0
	for _, p := range allPanels(d.Panels) {
		targets += len(p.Targets)
	}
	annotations := 0
	for _, q := range qs {
		if q.PanelID == 0 {
			annotations++
		}
		if strings.ContainsAny(q.Expr, "$") && !strings.Contains(q.Expr, `"$1"`) {
			t.Errorf("panel %d %s: unsubstituted variable in %s", q.PanelID, q.RefID, q.Expr)
		}
	}
	if len(qs) != targets+annotations {
		t.Errorf("Queries returned %d queries, the dashboard has %d targets and %d annotation queries", len(qs), targets, annotations)
	}
}

// TestRuleUnitTestsOrderAllGroups: promtool evaluates the groups missing from group_eval_order in
// random order, which makes an alert see the recording rules of this or of the previous evaluation.
func TestRuleUnitTestsOrderAllGroups(t *testing.T) {
	groupName := regexp.MustCompile(`(?m)^  - name: (\S+)\s*$`)
	var groups []string
	for _, m := range groupName.FindAllStringSubmatch(string(RulesYAML), -1) {
		groups = append(groups, m[1])
	}
	if len(groups) < 5 {
		t.Fatalf("found %d rule groups", len(groups))
	}
	_, after, ok := strings.Cut(string(RulesTestYAML), "\ngroup_eval_order:\n")
	if !ok {
		t.Fatal("rules/frontdoor.rules.test.yml has no group_eval_order")
	}
	var order []string
	for _, line := range strings.Split(after, "\n") {
		item, ok := strings.CutPrefix(strings.TrimSpace(line), "- ")
		if !ok {
			break
		}
		order = append(order, item)
	}
	if strings.Join(order, " ") != strings.Join(groups, " ") {
		t.Errorf("group_eval_order %v, want every rule group in file order %v", order, groups)
	}
}

// TestDashboardJSONIsGenerated: frontdoor.json is the output of Dashboard() (dashboard.go); edit
// the Go code and run `go generate ./dashboards`, never the JSON.
func TestDashboardJSONIsGenerated(t *testing.T) {
	generated, err := GenerateDashboardJSON()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(generated, DashboardJSON) {
		return
	}
	got, want := strings.Split(string(DashboardJSON), "\n"), strings.Split(string(generated), "\n")
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("frontdoor.json differs from what dashboard.go generates (run `go generate ./dashboards`); first difference at line %d:\n committed: %s\n generated: %s", i+1, g, w)
		}
	}
}
