package caddymodule

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A backend's orphan, escalation and rating series exist at zero from
// provision, so Prometheus's increase() sees the first orphan, escalation
// or rating of each.
func TestOrphanEscalationAndRatingSeriesExportedAtZero(t *testing.T) {
	provisionHandler(t, `brand Acme
	journey zero-export /zero-export* {
		backend zero-care {
			owner in-house
			to 127.0.0.1:1
		}
		backend zero-desk {
			owner outsourced
			vendor "Zero Desk"
			to 127.0.0.1:1
		}
	}`, time.Now())

	reg := prometheus.NewPedanticRegistry()
	m := sharedOrphanMetrics()
	for _, c := range []prometheus.Collector{m.orphans, m.escalations, m.ratings} {
		if err := reg.Register(c); err != nil {
			t.Fatalf("registering: %v", err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			key := f.GetName()
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["journey"] != "zero-export" {
				continue
			}
			for _, name := range []string{"backend", "owner", "vendor", "cause", "answer", "customer"} {
				if v, ok := labels[name]; ok {
					key += " " + name + "=" + v
				}
			}
			got[key] = s.GetCounter().GetValue()
		}
	}
	var want []string
	for _, b := range []string{"backend=zero-care owner=in-house vendor=", "backend=zero-desk owner=outsourced vendor=Zero Desk"} {
		for _, cause := range []string{"hung_up", "error_page", "repeat_contact"} {
			want = append(want, "frontdoor_orphans_total "+b+" cause="+cause)
		}
		want = append(want, "frontdoor_escalations_total "+b)
		for _, answer := range []string{"yes", "no"} {
			for _, customer := range []string{"known", "anonymous"} {
				want = append(want, "frontdoor_ratings_total "+b+" answer="+answer+" customer="+customer)
			}
		}
	}
	for _, key := range want {
		v, ok := got[key]
		if !ok {
			t.Errorf("no series %s", key)
		} else if v != 0 {
			t.Errorf("%s = %v, want 0", key, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d series for the journey, want %d: %v", len(got), len(want), got)
	}
}
