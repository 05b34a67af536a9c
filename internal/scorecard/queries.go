package scorecard

import "strings"

// Query is one PromQL query of `frontdoor scorecard`, run as an
// instant query at the end of the reported range. Like the dashboard's queries it is written with
// Grafana's variables: $__range is the reported range (a PromQL duration such as 30d) and $journey
// a regex of the journeys reported.
type Query struct {
	// Name says what the query measures.
	Name string
	// Template is the expression with $__range and $journey.
	Template string
	// Optional queries read metrics of features a deployment may not use (the secret shopper,
	// contacts, streams): an empty result only leaves their column out.
	Optional bool
}

// Expr is the query for a range and a journey regex.
func (q Query) Expr(window, journeyRegex string) string {
	return strings.NewReplacer("$__range", window, "$journey", journeyRegex).Replace(q.Template)
}

// The scorecard's queries. The service levels read the recording rules of dashboards/rules/frontdoor.rules.yml
// as the dashboard and the alerts do: a ratio over the range is a sum of recorded 5m rates divided
// by another, the form of the *:ratio_rate30d rules, so that `--range 30d` agrees with them. The
// number of requests and the optional experience metrics read their counters: increase() is exact
// at the edges of the range, where recorded 5m rates lag by up to 5 minutes.
var (
	// queryRequests is the number of requests of a backend in the range.
	queryRequests = Query{Name: "requests", Template: `sum by (journey, backend, owner, vendor) (increase(frontdoor_requests_total{journey=~"$journey"}[$__range]))`}
	// queryDataSince is when, within the range, frontdoor's requests were first recorded (to the
	// subquery's resolution, Prometheus's evaluation interval): a period longer than the data
	// says so.
	queryDataSince = Query{Name: "data since", Template: `min_over_time(timestamp(sum(frontdoor_requests_total{journey=~"$journey"}))[$__range:])`}
	// queryErrorRatio is the share of a backend's requests answered 5xx over the range.
	queryErrorRatio = Query{Name: "error ratio", Template: `sum by (journey, backend, owner, vendor) (sum_over_time(journey_backend:frontdoor_requests_errors:rate5m{journey=~"$journey"}[$__range]))
/
sum by (journey, backend, owner, vendor) (sum_over_time(journey_backend:frontdoor_requests:rate5m{journey=~"$journey"}[$__range]))`}
	// queryAvailabilityObjective is a backend's latest availability objective in the range.
	queryAvailabilityObjective = Query{Name: "availability objective", Template: `max by (journey, backend) (last_over_time(journey_backend:frontdoor_slo_availability_objective:max{journey=~"$journey"}[$__range]))`}
	// queryLatencyCompliance is the share of a backend's requests answered within its latency
	// SLO threshold over the range (backends with a latency SLO, counted while they have it).
	queryLatencyCompliance = Query{Name: "latency compliance", Template: `sum by (journey, backend, owner, vendor) (sum_over_time(journey_backend:frontdoor_latency_slo_good:rate5m{journey=~"$journey"}[$__range]))
/
sum by (journey, backend, owner, vendor) (sum_over_time(journey_backend:frontdoor_latency_slo_total:rate5m{journey=~"$journey"}[$__range]))`}
	// queryLatencyObjective is a backend's latest latency objective in the range, with its
	// threshold (seconds) as label.
	queryLatencyObjective = Query{Name: "latency objective", Template: `max by (journey, backend, threshold) (last_over_time(journey_backend_threshold:frontdoor_slo_latency_objective:max{journey=~"$journey"}[$__range]))`}
	// queryP95 is a backend's 95th percentile latency over the range, in seconds.
	queryP95 = Query{Name: "p95 latency", Template: `histogram_quantile(0.95, sum by (journey, backend, le) (sum_over_time(journey_backend_le:frontdoor_request_duration_seconds_bucket:rate5m{journey=~"$journey"}[$__range])))`}
	// queryShopperPassRate is the share of the range during which a backend's secret-shopper
	// probes passed (their latest run, averaged over the probes).
	queryShopperPassRate = Query{Name: "secret-shopper pass rate", Optional: true, Template: `avg by (journey, backend) (avg_over_time(frontdoor_probe_success{journey=~"$journey"}[$__range]))`}
	// queryFirstContactResolution is 1 - repeat contacts / contacts of a backend over the range,
	// at least 0 as in journey_backend:frontdoor_first_contact_resolution:ratio_1d: a repeat is
	// counted against the backend of the previous contact, which may predate the range, so a
	// backend can have more repeats than contacts in it.
	queryFirstContactResolution = Query{Name: "first-contact resolution", Optional: true, Template: `clamp_min(1 - (
    sum by (journey, backend) (increase(frontdoor_repeat_contacts_total{journey=~"$journey"}[$__range]))
  or
    0 * sum by (journey, backend) (increase(frontdoor_contacts_total{journey=~"$journey"}[$__range]))
)
/
sum by (journey, backend) (increase(frontdoor_contacts_total{journey=~"$journey"}[$__range])), 0)`}
	// queryHangupShare is the share of a backend's chats and event streams that the backend closed.
	queryHangupShare = Query{Name: "hang-up share", Optional: true, Template: `(
    sum by (journey, backend) (increase(frontdoor_streams_total{journey=~"$journey", closed_by="backend"}[$__range]))
  or
    0 * sum by (journey, backend) (increase(frontdoor_streams_total{journey=~"$journey"}[$__range]))
)
/
sum by (journey, backend) (increase(frontdoor_streams_total{journey=~"$journey"}[$__range]))`}
)

// The rescue queries read the frontdoor.rescue recording rules: per contact a backend took, and
// the share of known customers' answers that were yes (anonymous answers left out). A backend
// without contacts (or without ratings) has no figure.
var (
	// queryOrphanRate is a backend's orphaned customers per contact over the range.
	queryOrphanRate = Query{Name: "orphan rate", Optional: true, Template: `sum by (journey, backend) (sum_over_time(journey_backend:frontdoor_orphans:rate5m{journey=~"$journey"}[$__range]))
/
(sum by (journey, backend) (sum_over_time(journey_backend:frontdoor_contacts:rate5m{journey=~"$journey"}[$__range])) > 0)`}
	// queryOrphanObjective is a backend's latest `slo orphans` in the range.
	queryOrphanObjective = Query{Name: "orphan objective", Optional: true, Template: `max by (journey, backend) (last_over_time(journey_backend:frontdoor_slo_orphans_objective:max{journey=~"$journey"}[$__range]))`}
	// queryEscalationRate is a backend's escalations to the brand per contact over the range.
	queryEscalationRate = Query{Name: "escalation rate", Optional: true, Template: `sum by (journey, backend) (sum_over_time(journey_backend:frontdoor_escalations:rate5m{journey=~"$journey"}[$__range]))
/
(sum by (journey, backend) (sum_over_time(journey_backend:frontdoor_contacts:rate5m{journey=~"$journey"}[$__range])) > 0)`}
	// queryRatedResolution is the share of known customers' answers about a backend that were
	// yes over the range.
	queryRatedResolution = Query{Name: "customer-rated resolution", Optional: true, Template: `sum by (journey, backend) (sum_over_time(journey_backend_answer:frontdoor_ratings_known:rate5m{journey=~"$journey", answer="yes"}[$__range]))
/
(sum by (journey, backend) (sum_over_time(journey_backend:frontdoor_ratings_known:rate5m{journey=~"$journey"}[$__range])) > 0)`}
)

// Queries lists every query of the scorecard.
var Queries = []Query{
	queryRequests, queryErrorRatio, queryAvailabilityObjective,
	queryLatencyCompliance, queryLatencyObjective, queryP95,
	queryShopperPassRate, queryFirstContactResolution, queryHangupShare,
	queryOrphanRate, queryOrphanObjective, queryEscalationRate, queryRatedResolution,
}
