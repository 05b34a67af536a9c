package scorecard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// series is one sample of a fake Prometheus answer.
type series struct {
	labels map[string]string
	value  float64
}

func be(journey, backend, owner, vendor string, v float64, extra ...string) series {
	l := map[string]string{"journey": journey, "backend": backend, "owner": owner, "vendor": vendor}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return series{l, v}
}

// fakePrometheus answers /api/v1/query with the series of the first key found in the query,
// restricted to the journey of a journey=~"..." matcher other than .*, and records the queries.
type fakePrometheus struct {
	answers map[string][]series
	queries []string
	times   []string
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	r.ParseForm()
	q := r.Form.Get("query")
	f.queries = append(f.queries, q)
	f.times = append(f.times, r.Form.Get("time"))
	var result []map[string]any
	for key, ss := range f.answers {
		if !strings.Contains(q, key) {
			continue
		}
		for _, s := range ss {
			if strings.Contains(q, `journey=~"`) && !strings.Contains(q, `journey=~".*"`) &&
				!strings.Contains(q, fmt.Sprintf(`journey=~%q`, s.labels["journey"])) {
				continue
			}
			result = append(result, map[string]any{"metric": s.labels, "value": []any{1700000000, fmt.Sprint(s.value)}})
		}
		break
	}
	if result == nil {
		result = []map[string]any{}
	}
	json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": result}})
}

func vendorReview() *fakePrometheus {
	return &fakePrometheus{answers: map[string][]series{
		"increase(frontdoor_requests_total": {
			be("support", "care-team", "in-house", "", 1000.4),
			be("support", "nightdesk", "outsourced", "NightDesk BPO", 900),
			be("checkout", "shop-core", "in-house", "", 12345),
		},
		"journey_backend:frontdoor_requests_errors:rate5m": {
			be("support", "care-team", "in-house", "", 0.0005),
			be("support", "nightdesk", "outsourced", "NightDesk BPO", 0.2759),
			be("checkout", "shop-core", "in-house", "", 0),
		},
		"journey_backend:frontdoor_slo_availability_objective:max": {
			be("support", "care-team", "", "", 0.999), be("support", "nightdesk", "", "", 0.995),
		},
		"journey_backend:frontdoor_latency_slo_good:rate5m": {
			be("support", "care-team", "in-house", "", 0.99),
			be("support", "nightdesk", "outsourced", "NightDesk BPO", 0.9),
		},
		"journey_backend_threshold:frontdoor_slo_latency_objective:max": {
			be("support", "care-team", "", "", 0.95, "threshold", "0.1"),
			be("support", "nightdesk", "", "", 0.95, "threshold", "0.8"),
		},
		"histogram_quantile(0.95": {
			be("support", "care-team", "", "", 0.012), be("support", "nightdesk", "", "", 0.95), be("checkout", "shop-core", "", "", 1.5),
		},
	}}
}

func serve(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

var end = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

func TestCollectComparesEveryBackendWithItsObjectives(t *testing.T) {
	fake := vendorReview()
	r, err := Collect(context.Background(), Options{Prometheus: serve(t, fake), Range: "30d", End: end})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(r.From.UTC(), " ", r.To.UTC()); got != "2026-01-02 00:00:00 +0000 UTC 2026-02-01 00:00:00 +0000 UTC" {
		t.Errorf("period %s", got)
	}
	for i, tm := range fake.times {
		if tm != "1769904000" {
			t.Errorf("query %d ran at %q, want the end of the period", i, tm)
		}
	}
	if len(r.Journeys) != 2 || r.Journeys[0].Name != "checkout" || r.Journeys[1].Name != "support" {
		t.Fatalf("journeys %+v", r.Journeys)
	}
	support := r.Journeys[1].Backends
	if len(support) != 2 || support[0].Name != "care-team" || support[1].Name != "nightdesk" {
		t.Fatalf("support backends (in-house first): %+v", support)
	}
	care, night, shop := support[0], support[1], r.Journeys[0].Backends[0]
	if care.AvailabilityVerdict() != Met || night.AvailabilityVerdict() != Missed || shop.AvailabilityVerdict() != NoObjective {
		t.Errorf("availability verdicts: care %s, nightdesk %s, shop-core %s", care.AvailabilityVerdict(), night.AvailabilityVerdict(), shop.AvailabilityVerdict())
	}
	if care.LatencyVerdict() != Met || night.LatencyVerdict() != Missed || shop.LatencyVerdict() != NoObjective {
		t.Errorf("latency verdicts: care %s, nightdesk %s, shop-core %s", care.LatencyVerdict(), night.LatencyVerdict(), shop.LatencyVerdict())
	}
	if left := *care.AvailabilityBudgetLeft(); left < 0.49 || left > 0.51 {
		t.Errorf("care-team budget left %v, want 0.5 (0.05%% errors of a 0.1%% budget)", left)
	}
	if night.LatencyThreshold != 800*time.Millisecond || *night.P95 != 950*time.Millisecond || night.Vendor != "NightDesk BPO" {
		t.Errorf("nightdesk %+v", night)
	}
	if r.ShopperPassRate || r.FirstContactResolution || r.HangupShare {
		t.Error("experience columns without their metrics")
	}
	if got := fmt.Sprint(r.Missed()); got != "[support/nightdesk]" {
		t.Errorf("Missed() = %s", got)
	}
}

func TestMarkdownPastesIntoATicket(t *testing.T) {
	r, err := Collect(context.Background(), Options{Prometheus: serve(t, vendorReview()), Range: "30d", End: end})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"# frontdoor scorecard: last 30d\n",
		"2026-01-02 00:00 UTC to 2026-02-01 00:00 UTC",
		"- support / nightdesk (outsourced: NightDesk BPO): availability 72.41%, objective 99.5%, error budget spent 55×\n",
		"- support / nightdesk (outsourced: NightDesk BPO): 90.00% of requests within 800ms, objective 95%, error budget spent 2×\n",
		"## Journey support\n\n| Backend | Owner | Requests | Availability | Availability SLO | Error budget | Within latency threshold | Latency SLO | Error budget | p95 latency |\n" +
			"| --- | --- | ---: | ---: | --- | ---: | ---: | --- | ---: | ---: |\n" +
			"| care-team | in-house | 1,000 | 99.95% | met (≥ 99.9%) | 50% spent | 99.00% ≤ 100ms | met (≥ 95%) | 20% spent | 12 ms |\n" +
			"| nightdesk | outsourced: NightDesk BPO | 900 | 72.41% | **missed (≥ 99.5%)** | spent 55× | 90.00% ≤ 800ms | **missed (≥ 95%)** | spent 2× | 950 ms |\n",
		"| shop-core | in-house | 12,345 | 100.00% | no SLO | — | — | no SLO | — | 1.50 s |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks\n%s\n---- in ----\n%s", want, md)
		}
	}
	if strings.Contains(md, "Secret-shopper") || strings.Contains(md, "Hang-up") {
		t.Error("experience columns shown without their metrics")
	}
}

func TestExperienceColumnsOnlyWhereTheSeriesExist(t *testing.T) {
	fake := vendorReview()
	fake.answers["frontdoor_probe_success"] = []series{be("support", "nightdesk", "", "", 0.5)}
	fake.answers["frontdoor_streams_total"] = []series{be("support", "nightdesk", "", "", 0.25), be("support", "care-team", "", "", 0.01)}
	r, err := Collect(context.Background(), Options{Prometheus: serve(t, fake), Range: "7d", End: end})
	if err != nil {
		t.Fatal(err)
	}
	if !r.ShopperPassRate || r.FirstContactResolution || !r.HangupShare {
		t.Fatalf("columns: shopper %v fcr %v hang-ups %v", r.ShopperPassRate, r.FirstContactResolution, r.HangupShare)
	}
	var b bytes.Buffer
	r.Markdown(&b)
	md := b.String()
	for _, want := range []string{
		"| p95 latency | Secret-shopper pass rate | Hang-up share |",
		"| 12 ms | — | 1.00% |",
		"| 950 ms | 50.00% | 25.00% |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "First-contact") {
		t.Error("first-contact resolution shown without contacts")
	}
}

func TestHTMLIsOnePrintablePageWithoutScriptOrNetwork(t *testing.T) {
	fake := vendorReview()
	fake.answers["increase(frontdoor_requests_total"][1].labels["vendor"] = `<script>alert("x")</script>`
	r, err := Collect(context.Background(), Options{Prometheus: serve(t, fake), Range: "30d", End: end})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.HTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script", "src=", "href=", "url(", "@import", "<link", "<iframe", "<img"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{
		"<svg", `class="missed"`, `class="met"`, `class="objective"`, "@media print", "Journey support",
		"72.41% MISSED", "&lt;script&gt;",
		`<td class=" verdict missed">missed (≥ 99.5%)</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Two backends on support, one on checkout: three tracks per measure drawn at most.
	if n := strings.Count(page, `class="track"`); n != 2*2+1 {
		t.Errorf("%d bar tracks, want 5 (availability and latency on support, availability on checkout)", n)
	}
	if !strings.Contains(page, "no backend has a latency SLO") {
		t.Error("checkout's latency panel does not say why it is empty")
	}
}

func TestOneJourney(t *testing.T) {
	fake := vendorReview()
	r, err := Collect(context.Background(), Options{Prometheus: serve(t, fake), Range: "30d", Journey: "support", End: end})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Journeys) != 1 || r.Journeys[0].Name != "support" || len(r.Journeys[0].Backends) != 2 {
		t.Fatalf("journeys %+v", r.Journeys)
	}
	for _, q := range fake.queries[1:] {
		if !strings.Contains(q, `journey=~"support"`) {
			t.Errorf("query not restricted to the journey: %s", q)
		}
	}
}

func TestClearErrors(t *testing.T) {
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}()
	noRules := vendorReview()
	delete(noRules.answers, "journey_backend:frontdoor_requests_errors:rate5m")
	for name, tc := range map[string]struct {
		opts Options
		want string
	}{
		"unreachable":     {Options{Prometheus: closed, Range: "30d"}, "prometheus at " + closed + " is unreachable: "},
		"no data":         {Options{Prometheus: serve(t, &fakePrometheus{}), Range: "30d", End: end}, "no frontdoor requests at http://127.0.0.1:"},
		"unknown journey": {Options{Prometheus: serve(t, vendorReview()), Range: "30d", Journey: "billing", End: end}, `unknown journey "billing": it has no requests in the 30d before 2026-02-01 00:00:00 UTC; journeys with requests: checkout, support`},
		"no rules":        {Options{Prometheus: serve(t, noRules), Range: "30d"}, "has frontdoor's metrics but not its recording rules"},
		"bad range":       {Options{Prometheus: "http://127.0.0.1:9090", Range: "30 days"}, `range "30 days": want a Prometheus duration such as 30d`},
		"no url":          {Options{Range: "30d"}, "no Prometheus URL"},
		"bad url":         {Options{Prometheus: "prometheus:9090", Range: "30d"}, `prometheus URL "prometheus:9090": want http(s)://host[:port]`},
		"not prometheus":  {Options{Prometheus: serve(t, http.NotFoundHandler()), Range: "30d"}, "refused the requests query: client error: 404"},
	} {
		_, err := Collect(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestFormats(t *testing.T) {
	for in, want := range map[float64]string{0.995: "99.5%", 0.95: "95%", 0.999: "99.9%", 0.9995: "99.95%", 1: "100%"} {
		if got := objective(in); got != want {
			t.Errorf("objective(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.6: "1,234,568"} {
		if got := count(in); got != want {
			t.Errorf("count(%v) = %q, want %q", in, got, want)
		}
	}
	if got := mdCell("a|b\nc<d>\\"); got != `a\|b c&lt;d&gt;\\` {
		t.Errorf("mdCell = %q", got)
	}
	for in, want := range map[float64]float64{1: 0.999, 0.9995: 0.999, 0.9993: 0.999, 0.9985: 0.995, 0.97: 0.95, 0.7241: 0.5, 0.5004: 0, 0.3: 0} {
		if got := axisFloor(in); got != want {
			t.Errorf("axisFloor(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestWrite(t *testing.T) {
	url := serve(t, vendorReview())
	dir := t.TempDir()
	out := dir + "/scorecard.html"
	if err := Write(context.Background(), Options{Prometheus: url, Range: "30d", End: end}, "html", out, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.HasPrefix(string(b), "<!doctype html>") {
		t.Errorf("html file: %v %.40q", err, b)
	}
	var stdout bytes.Buffer
	if err := Write(context.Background(), Options{Prometheus: url, Range: "30d", End: end}, "md", "", &stdout); err != nil || !strings.HasPrefix(stdout.String(), "# frontdoor scorecard") {
		t.Errorf("markdown on stdout: %v %.40q", err, stdout.String())
	}
	if err := Write(context.Background(), Options{Prometheus: url, Range: "30d"}, "pdf", "", &stdout); err == nil || err.Error() != `format "pdf": want md or html` {
		t.Errorf("format pdf: %v", err)
	}
	missing := dir + "/none.md"
	if err := Write(context.Background(), Options{Prometheus: serve(t, &fakePrometheus{}), Range: "30d"}, "md", missing, nil); err == nil {
		t.Error("no data: no error")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a failed report left %s behind", missing)
	}
}

// TestPartialPeriodSaysSo: a 30d scorecard over 14 minutes of data says
// how much of the period had data; one over the whole period says nothing.
func TestPartialPeriodSaysSo(t *testing.T) {
	fake := vendorReview()
	fake.answers["timestamp(sum(frontdoor_requests_total"] = []series{{labels: map[string]string{}, value: float64(end.Add(-14 * time.Minute).Unix())}}
	r, err := Collect(context.Background(), Options{Prometheus: serve(t, fake), Range: "30d", End: end})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Coverage(), "data for 14 min of the 30d asked"; got != want {
		t.Errorf("Coverage() = %q, want %q", got, want)
	}
	for _, render := range []func(io.Writer) error{r.Markdown, r.HTML} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "Partial period: data for 14 min of the 30d asked") {
			t.Errorf("report does not say the period is partial:\n%.600s", b.String())
		}
	}
	whole, err := Collect(context.Background(), Options{Prometheus: serve(t, vendorReview()), Range: "30d", End: end})
	if err != nil {
		t.Fatal(err)
	}
	if c := whole.Coverage(); c != "" {
		t.Errorf("a period with data throughout says %q", c)
	}
}

func TestBudgetInWords(t *testing.T) {
	for left, want := range map[float64]string{1: "none spent", 0.5: "50% spent", 0: "all spent", -0.4: "spent 1.4×", -41: "spent 42×", -53.18: "spent 54×"} {
		if got := budget(&left); got != want {
			t.Errorf("budget(%v) = %q, want %q", left, got, want)
		}
	}
}

// The rescue columns: each vendor next to the in-house team, orphans per contact against the
// `slo orphans` ceiling (missed above it), escalations per contact and the known customers' own
// rating, all read from the frontdoor.rescue recording rules.
func TestRescueColumnsPutTheVendorNextToInHouse(t *testing.T) {
	fake := vendorReview()
	fake.answers["journey_backend:frontdoor_orphans:rate5m"] = []series{be("support", "care-team", "", "", 0.01), be("support", "nightdesk", "", "", 0.08)}
	fake.answers["journey_backend:frontdoor_slo_orphans_objective:max"] = []series{be("support", "nightdesk", "", "", 0.05)}
	fake.answers["journey_backend:frontdoor_escalations:rate5m"] = []series{be("support", "care-team", "", "", 0), be("support", "nightdesk", "", "", 0.12)}
	fake.answers["journey_backend_answer:frontdoor_ratings_known:rate5m"] = []series{be("support", "care-team", "", "", 0.9), be("support", "nightdesk", "", "", 0.55)}
	r, err := Collect(context.Background(), Options{Prometheus: serve(t, fake), Range: "30d", End: end})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OrphanRate || !r.EscalationRate || !r.RatedResolution {
		t.Fatalf("columns: orphans %v escalations %v ratings %v", r.OrphanRate, r.EscalationRate, r.RatedResolution)
	}
	var b bytes.Buffer
	if err := r.Markdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"| Orphans per contact | Escalations per contact | Customer-rated resolution |",
		"| care-team | in-house |",
		"| 1.00% | 0.00% | 90.00% |",
		"| nightdesk | outsourced: NightDesk BPO |",
		"| **8.00% (≤ 5%)** | 12.00% | 55.00% |",
		"support / nightdesk (outsourced: NightDesk BPO): 8.00% orphans per contact, objective at most 5%",
		"Customer-rated resolution: share of known customers",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if got := r.Missed(); len(got) != 1 || got[0] != "support/nightdesk" {
		t.Errorf("missed: %v", got)
	}
	var h bytes.Buffer
	if err := r.HTML(&h); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">Customer-rated resolution</th>", ">90.00%</td>", ">55.00%</td>"} {
		if !strings.Contains(h.String(), want) {
			t.Errorf("html lacks %q", want)
		}
	}
	// Without contacts or ratings the columns stay out.
	r, err = Collect(context.Background(), Options{Prometheus: serve(t, vendorReview()), Range: "30d", End: end})
	if err != nil {
		t.Fatal(err)
	}
	if r.OrphanRate || r.EscalationRate || r.RatedResolution {
		t.Errorf("rescue columns without the series: %v %v %v", r.OrphanRate, r.EscalationRate, r.RatedResolution)
	}
}

// The rescue figures are the recording rules' (dashboards/rules, group frontdoor.rescue), never
// the raw counters, so that the scorecard, the dashboard and the alert agree.
func TestRescueQueriesReadTheRecordingRules(t *testing.T) {
	raw := regexp.MustCompile(`\bfrontdoor_\w+`)
	for _, q := range []Query{queryOrphanRate, queryOrphanObjective, queryEscalationRate, queryRatedResolution} {
		if m := raw.FindString(strings.ReplaceAll(q.Template, ":frontdoor_", ":")); m != "" {
			t.Errorf("%s reads %s, not a recording rule: %s", q.Name, m, q.Template)
		}
		if !strings.Contains(q.Template, "journey_backend") {
			t.Errorf("%s reads no journey_backend rule: %s", q.Name, q.Template)
		}
	}
}
