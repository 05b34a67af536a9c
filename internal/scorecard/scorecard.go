// Package scorecard builds the vendor review's scorecard from Prometheus: per journey, every
// backend next to the in-house team against the service levels of its contract (availability,
// latency, and where those metrics exist secret-shopper pass rate, first-contact resolution,
// hang-up share, orphans and escalations per contact and customer-rated resolution), as Markdown for a ticket or as a printable HTML page.
//
// It reads the Prometheus HTTP API with client_golang's API client, through its Queries, which
// read the recording rules shipped in dashboards/rules (apart from the dashboard generator, so
// that a Caddy build with the module does not link grafana-foundation-sdk).
package scorecard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Options say what to report and where to read it.
type Options struct {
	// Prometheus is the base URL of the Prometheus that scrapes frontdoor and loads its rules,
	// such as http://prometheus:9090. It is required.
	Prometheus string
	// Range is the period reported, a Prometheus duration such as 30d (the SLO period of the
	// rules) or 1w. It is required.
	Range string
	// End is the end of the period. The zero value means now.
	End time.Time
	// Journey limits the report to one journey. Empty means every journey with traffic.
	Journey string
	// HTTPClient talks to Prometheus. Nil means client_golang's default round tripper.
	HTTPClient *http.Client
}

// Report is a scorecard: every journey with traffic in the period.
type Report struct {
	// Prometheus is where the figures come from.
	Prometheus string
	// Range is the period as given (30d); From and To are its bounds.
	Range    string
	From, To time.Time
	// DataFrom is when the data begins within the period: From, or later when Prometheus
	// has less history than the period asked.
	DataFrom time.Time
	Journeys []Journey
	// ShopperPassRate, FirstContactResolution and HangupShare tell whether any backend of the
	// report has that metric: the reports show the column only then.
	ShopperPassRate, FirstContactResolution, HangupShare bool
	// OrphanRate, EscalationRate and RatedResolution likewise, for the rescue figures.
	OrphanRate, EscalationRate, RatedResolution bool
}

// Journey is one journey's backends, in-house first, then outsourced, each by name.
type Journey struct {
	Name     string
	Backends []Backend
}

// Backend is one backend's figures over the period. A nil pointer is a figure Prometheus does not
// have: no SLO of that kind, or a metric this backend does not produce.
type Backend struct {
	Name, Owner, Vendor string
	// Requests is the number of requests it answered.
	Requests float64
	// Availability is the share of its requests not answered with a 5xx; nil without requests.
	Availability *float64
	// AvailabilityObjective is its `slo availability` (0.995 for 99.5%).
	AvailabilityObjective *float64
	// LatencyCompliance is the share of its requests answered within LatencyThreshold.
	LatencyCompliance *float64
	// LatencyObjective is the share its `slo latency` requires within LatencyThreshold.
	LatencyObjective *float64
	LatencyThreshold time.Duration
	// P95 is its 95th percentile latency.
	P95 *time.Duration
	// ShopperPassRate, FirstContactResolution and HangupShare are the experience metrics.
	ShopperPassRate, FirstContactResolution, HangupShare *float64
	// OrphanRate is its orphaned customers per contact; OrphanObjective its `slo orphans`, the
	// most it may leave. EscalationRate is its customers' escalations to the brand per contact.
	OrphanRate, OrphanObjective, EscalationRate *float64
	// RatedResolution is the share of known customers' answers about it that were yes.
	RatedResolution *float64
}

// Verdict is how a backend did against one objective.
type Verdict int

const (
	// NoObjective: the backend has no SLO of this kind in the Caddyfile.
	NoObjective Verdict = iota
	// NotMeasured: it has an objective but no measurement in the period (no traffic, or a latency
	// threshold that is not a histogram bucket).
	NotMeasured
	// Met: the measurement is at or above the objective.
	Met
	// Missed: the measurement is below the objective.
	Missed
)

func (v Verdict) String() string {
	return [...]string{"no SLO", "not measured", "met", "missed"}[v]
}

func verdict(value, objective *float64) Verdict {
	switch {
	case objective == nil:
		return NoObjective
	case value == nil:
		return NotMeasured
	case *value >= *objective-1e-12:
		return Met
	default:
		return Missed
	}
}

// budgetLeft is README's "budget left": 1 - (1 - value) / (1 - objective); 1 untouched, 0 spent,
// below 0 the SLO is missed.
func budgetLeft(value, objective *float64) *float64 {
	if value == nil || objective == nil || *objective >= 1 {
		return nil
	}
	left := 1 - (1-*value)/(1-*objective)
	return &left
}

// Partial reports whether the data covers less than the period asked (by more than a
// minute, the resolution of DataFrom).
func (r *Report) Partial() bool {
	return r.DataFrom.Sub(r.From) > time.Minute
}

// Coverage says how much of the period had data: "data for 14 min of the 30d asked", or
// "" when it had data throughout.
func (r *Report) Coverage() string {
	if !r.Partial() {
		return ""
	}
	return "data for " + span(r.To.Sub(r.DataFrom)) + " of the " + r.Range + " asked"
}

// span is a duration in the largest unit that reads well: 14 min, 5 h, 3 d.
func span(d time.Duration) string {
	switch {
	case d < time.Hour:
		return strconv.Itoa(int(max(d.Round(time.Minute)/time.Minute, 1))) + " min"
	case d < 48*time.Hour:
		return strconv.FormatFloat(math.Round(d.Hours()*10)/10, 'f', -1, 64) + " h"
	default:
		return strconv.FormatFloat(math.Round(d.Hours()/24*10)/10, 'f', -1, 64) + " d"
	}
}

// AvailabilityVerdict says whether the backend met its availability objective.
func (b Backend) AvailabilityVerdict() Verdict {
	return verdict(b.Availability, b.AvailabilityObjective)
}

// AvailabilityBudgetLeft is the share of its availability error budget left in the period.
func (b Backend) AvailabilityBudgetLeft() *float64 {
	return budgetLeft(b.Availability, b.AvailabilityObjective)
}

// LatencyVerdict says whether the backend met its latency objective.
func (b Backend) LatencyVerdict() Verdict { return verdict(b.LatencyCompliance, b.LatencyObjective) }

// LatencyBudgetLeft is the share of its latency error budget left in the period.
func (b Backend) LatencyBudgetLeft() *float64 {
	return budgetLeft(b.LatencyCompliance, b.LatencyObjective)
}

// OrphanVerdict says whether the backend stayed within its orphan objective, a ceiling.
func (b Backend) OrphanVerdict() Verdict {
	switch {
	case b.OrphanObjective == nil:
		return NoObjective
	case b.OrphanRate == nil:
		return NotMeasured
	case *b.OrphanRate <= *b.OrphanObjective+1e-12:
		return Met
	default:
		return Missed
	}
}

// Missed lists the backends of the report that missed an objective, as "journey/backend".
func (r *Report) Missed() []string {
	var out []string
	for _, j := range r.Journeys {
		for _, b := range j.Backends {
			if b.AvailabilityVerdict() == Missed || b.LatencyVerdict() == Missed || b.OrphanVerdict() == Missed {
				out = append(out, j.Name+"/"+b.Name)
			}
		}
	}
	return out
}

// Collect queries Prometheus and builds the report.
func Collect(ctx context.Context, opts Options) (*Report, error) {
	if opts.Prometheus == "" {
		return nil, errors.New("no Prometheus URL: give --prometheus, e.g. http://prometheus:9090")
	}
	if u, err := url.Parse(opts.Prometheus); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus URL %q: want http(s)://host[:port]", opts.Prometheus)
	}
	d, err := model.ParseDuration(opts.Range)
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("range %q: want a Prometheus duration such as 30d, 1w or 12h", opts.Range)
	}
	end := opts.End
	if end.IsZero() {
		end = time.Now()
	}
	client, err := api.NewClient(api.Config{Address: opts.Prometheus, Client: opts.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", opts.Prometheus, err)
	}
	q := querier{api: v1.NewAPI(client), url: opts.Prometheus, window: d.String(), at: end}

	r := &Report{Prometheus: opts.Prometheus, Range: opts.Range, From: end.Add(-time.Duration(d)), To: end}

	// Every journey's traffic first: it tells an unknown journey from an empty period.
	requests, err := q.run(ctx, queryRequests, ".*")
	if err != nil {
		return nil, err
	}
	journeys := map[string]bool{}
	total := 0.0
	for _, s := range requests {
		if v := float64(s.Value); !math.IsNaN(v) && v > 0 {
			journeys[string(s.Metric["journey"])] = true
			total += v
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("no frontdoor requests at %s in the %s before %s: does it scrape frontdoor's metrics (the `metrics` global option), and for that long?",
			opts.Prometheus, opts.Range, end.UTC().Format(time.DateTime+" MST"))
	}
	journeyRE := ".*"
	if opts.Journey != "" {
		if !journeys[opts.Journey] {
			return nil, fmt.Errorf("unknown journey %q: it has no requests in the %s before %s; journeys with requests: %s",
				opts.Journey, opts.Range, end.UTC().Format(time.DateTime+" MST"), strings.Join(sortedKeys(journeys), ", "))
		}
		// The regex goes into a PromQL double-quoted string, where its
		// backslashes (QuoteMeta's `\.` for a journey support.v2) must be
		// escaped: PromQL refuses "support\.v2" as an unknown escape.
		journeyRE = strings.ReplaceAll(regexp.QuoteMeta(opts.Journey), `\`, `\\`)
	}

	backends := map[[2]string]*Backend{}
	for _, s := range requests {
		j, name := string(s.Metric["journey"]), string(s.Metric["backend"])
		if v := float64(s.Value); math.IsNaN(v) || v <= 0 || (opts.Journey != "" && j != opts.Journey) {
			continue
		}
		key := [2]string{j, name}
		b := backends[key]
		if b == nil {
			b = &Backend{Name: name, Owner: string(s.Metric["owner"]), Vendor: string(s.Metric["vendor"])}
			backends[key] = b
		}
		b.Requests += float64(s.Value)
	}
	lookup := func(s *model.Sample) *Backend {
		return backends[[2]string{string(s.Metric["journey"]), string(s.Metric["backend"])}]
	}

	r.DataFrom = r.From
	since, err := q.run(ctx, queryDataSince, journeyRE)
	if err != nil {
		return nil, err
	}
	if len(since) == 1 {
		if t := time.Unix(int64(since[0].Value), 0); t.After(r.From) && t.Before(end) {
			r.DataFrom = t
		}
	}
	errorRatio, err := q.run(ctx, queryErrorRatio, journeyRE)
	if err != nil {
		return nil, err
	}
	if len(errorRatio) == 0 {
		return nil, fmt.Errorf("prometheus at %s has frontdoor's metrics but not its recording rules (no journey_backend:frontdoor_requests:rate5m in the %s): add dashboards/rules/frontdoor.rules.yml to its rule_files",
			opts.Prometheus, opts.Range)
	}
	for _, s := range errorRatio {
		if b := lookup(s); b != nil && !math.IsNaN(float64(s.Value)) {
			b.Availability = ptr(1 - float64(s.Value))
		}
	}
	set := func(query Query, apply func(b *Backend, s *model.Sample)) (bool, error) {
		samples, err := q.run(ctx, query, journeyRE)
		if err != nil {
			return false, err
		}
		found := false
		for _, s := range samples {
			if b := lookup(s); b != nil && !math.IsNaN(float64(s.Value)) && !math.IsInf(float64(s.Value), 0) {
				apply(b, s)
				found = true
			}
		}
		return found, nil
	}
	steps := []struct {
		query Query
		apply func(b *Backend, s *model.Sample)
		found *bool
	}{
		{queryAvailabilityObjective, func(b *Backend, s *model.Sample) { b.AvailabilityObjective = ptr(float64(s.Value)) }, nil},
		{queryLatencyCompliance, func(b *Backend, s *model.Sample) { b.LatencyCompliance = ptr(float64(s.Value)) }, nil},
		{queryLatencyObjective, func(b *Backend, s *model.Sample) {
			b.LatencyObjective = ptr(float64(s.Value))
			if secs, err := strconv.ParseFloat(string(s.Metric["threshold"]), 64); err == nil {
				b.LatencyThreshold = time.Duration(secs * float64(time.Second))
			}
		}, nil},
		{queryP95, func(b *Backend, s *model.Sample) {
			p := time.Duration(float64(s.Value) * float64(time.Second))
			b.P95 = &p
		}, nil},
		{queryShopperPassRate, func(b *Backend, s *model.Sample) { b.ShopperPassRate = ptr(float64(s.Value)) }, &r.ShopperPassRate},
		{queryFirstContactResolution, func(b *Backend, s *model.Sample) { b.FirstContactResolution = ptr(float64(s.Value)) }, &r.FirstContactResolution},
		{queryHangupShare, func(b *Backend, s *model.Sample) { b.HangupShare = ptr(float64(s.Value)) }, &r.HangupShare},
		{queryOrphanRate, func(b *Backend, s *model.Sample) { b.OrphanRate = ptr(float64(s.Value)) }, &r.OrphanRate},
		{queryOrphanObjective, func(b *Backend, s *model.Sample) { b.OrphanObjective = ptr(float64(s.Value)) }, nil},
		{queryEscalationRate, func(b *Backend, s *model.Sample) { b.EscalationRate = ptr(float64(s.Value)) }, &r.EscalationRate},
		{queryRatedResolution, func(b *Backend, s *model.Sample) { b.RatedResolution = ptr(float64(s.Value)) }, &r.RatedResolution},
	}
	for _, st := range steps {
		found, err := set(st.query, st.apply)
		if err != nil {
			return nil, err
		}
		if st.found != nil {
			*st.found = found
		}
	}

	byJourney := map[string][]Backend{}
	for key, b := range backends {
		byJourney[key[0]] = append(byJourney[key[0]], *b)
	}
	for _, name := range sortedKeys(byJourney) {
		bs := byJourney[name]
		sort.Slice(bs, func(i, k int) bool {
			if (bs[i].Owner == "in-house") != (bs[k].Owner == "in-house") {
				return bs[i].Owner == "in-house"
			}
			return bs[i].Name < bs[k].Name
		})
		r.Journeys = append(r.Journeys, Journey{Name: name, Backends: bs})
	}
	return r, nil
}

type querier struct {
	api    v1.API
	url    string
	window string
	at     time.Time
}

// run runs one scorecard query as an instant query at the end of the period.
func (q querier) run(ctx context.Context, query Query, journeyRE string) (model.Vector, error) {
	v, _, _, err := q.api.Query(ctx, query.Expr(q.window, journeyRE), q.at)
	if err != nil {
		var apiErr *v1.Error
		var netErr net.Error
		switch {
		case errors.As(err, &apiErr):
			return nil, fmt.Errorf("prometheus at %s refused the %s query: %s", q.url, query.Name, strings.TrimSpace(apiErr.Msg+" "+firstLine(apiErr.Detail)))
		case errors.As(err, &netErr) || ctx.Err() != nil:
			return nil, fmt.Errorf("prometheus at %s is unreachable: %w", q.url, err)
		default:
			return nil, fmt.Errorf("querying prometheus at %s (%s): %w", q.url, query.Name, err)
		}
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("prometheus at %s answered the %s query with a %s, want a vector", q.url, query.Name, v.Type())
	}
	return vec, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func ptr(f float64) *float64 { return &f }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
