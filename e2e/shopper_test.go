package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// How the test vendor answers its help page.
const (
	vendorBehaves int32 = iota
	vendorOwnBranding
	vendorIgnoresContext
	vendorOwnLogin
	vendorSlow
)

// helpDesk answers /support/help with a page that greets the customer by
// the first name frontdoor hands it, and leaves a note on the customer's
// trail with every answer; the vendor's mode switches misbehaviours on.
func helpDesk(t *testing.T, name string, mode *atomic.Int32) *backend {
	return startBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
		first := assertedField(r.Header, "first_name")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Frontdoor-Note", "helped by "+name)
		switch mode.Load() {
		case vendorOwnBranding:
			fmt.Fprintf(w, "<html><body><h1>Hi %s!</h1><p>NightDesk BPO is here to help.</p></body></html>", first)
		case vendorIgnoresContext:
			fmt.Fprint(w, "<html><body><h1>Hi there!</h1><p>How can we help?</p></body></html>")
		case vendorOwnLogin:
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `<html><body><form method="post" action="/support/login"><h1>Sign in</h1><input name="user"></form></body></html>`)
		case vendorSlow:
			hold(r, 600*time.Millisecond)
			fmt.Fprintf(w, "<html><body><h1>Hi %s!</h1><p>How can we help?</p></body></html>", first)
		default:
			fmt.Fprintf(w, "<html><body><h1>Hi %s!</h1><p>How can we help?</p></body></html>", first)
		}
	})
}

func shopperSite(redisURL string, care, night *backend) string {
	return frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
		}
		journey support /support* {
			probe help-page {
				every 1s
				customer {
					customer_id P-0001
					first_name Quinn
				}
				step GET /support/help
				expect status 200
				expect body "(?i)how can we help"
				expect customer first_name
				forbid "(?i)nightdesk"
				within 300ms
			}
			backend care-team {
				owner in-house
				to %s
				hours %s
				context customer_id first_name
			}
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				context customer_id first_name
			}
		}`, redisURL, care.URL, window(false), night.URL))
}

// probeStatus is a backend's latest probe run as GET /frontdoor/status
// shows it.
type probeStatus struct {
	Probe  string    `json:"probe"`
	Time   time.Time `json:"time"`
	Result string    `json:"result"`
	Open   bool      `json:"open"`
	Failed []struct {
		Check  string `json:"check"`
		Detail string `json:"detail"`
	} `json:"failed_checks"`
	RequestID string `json:"request_id"`
	RanBy     string `json:"ran_by"`
}

func (p probeStatus) failed(check string) bool {
	for _, f := range p.Failed {
		if f.Check == check {
			return true
		}
	}
	return false
}

// probeRuns returns each backend's latest run of the journey's first probe.
func probeRuns(t *testing.T, gw *gateway, journey string) map[string]probeStatus {
	t.Helper()
	_, raw := do(t, "GET", "http://"+gw.AdminAddr+"/frontdoor/status", nil, nil)
	var st struct {
		Journeys []struct {
			Name     string `json:"name"`
			Backends []struct {
				Name   string        `json:"name"`
				Probes []probeStatus `json:"probes"`
			} `json:"backends"`
		} `json:"journeys"`
	}
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, raw)
	}
	out := map[string]probeStatus{}
	for _, j := range st.Journeys {
		if j.Name != journey {
			continue
		}
		for _, b := range j.Backends {
			if len(b.Probes) > 0 {
				out[b.Name] = b.Probes[0]
			}
		}
	}
	return out
}

// The secret shopper catches each of four vendor misbehaviours, switched
// on while the gateway runs, within an interval and with the check that
// names it, while the in-house team keeps passing; Prometheus sees each.
// Its requests count in no customer metric and leave nothing on a real
// customer's trail, even one with the synthetic customer's id.
func TestSecretShopperCatchesVendorMisbehaviour(t *testing.T) {
	rs := redistest.Start(t)
	var careMode, nightMode atomic.Int32
	care := helpDesk(t, "care-team", &careMode)
	night := helpDesk(t, "nightdesk", &nightMode)
	gw := startGateway(t, shopperSite(rs.URL(), care, night))
	prom := startPrometheus(t, gw.AdminAddr)

	// A real customer, whose id is the synthetic customer's.
	rc := rs.Client(t)
	if err := rc.HSet(context.Background(), "session:real-customer-0001", "customer_id", "P-0001", "first_name", "Pat").Err(); err != nil {
		t.Fatal(err)
	}
	customer := map[string]string{"Cookie": "acme_session=real-customer-0001"}
	customerRequests := 0
	shop := func() {
		resp, body := do(t, "GET", gw.URL+"/support/help", nil, customer)
		customerRequests++
		if resp.StatusCode != 200 || !strings.Contains(body, "Hi Pat!") {
			t.Errorf("customer got %d %q", resp.StatusCode, body)
		}
	}
	shop()

	waitFor(t, 5*time.Second, func() error {
		runs := probeRuns(t, gw, "support")
		if runs["nightdesk"].Result != "pass" || runs["care-team"].Result != "pass" {
			return fmt.Errorf("not both passing yet: %+v", runs)
		}
		if runs["care-team"].Open || !runs["nightdesk"].Open {
			return fmt.Errorf("open by hours: %+v", runs)
		}
		return nil
	})

	for _, c := range []struct {
		name  string
		mode  int32
		check string
	}{
		{"own branding", vendorOwnBranding, "forbid"},
		{"ignores the customer context", vendorIgnoresContext, "customer"},
		{"own login page", vendorOwnLogin, "status"},
		{"slow", vendorSlow, "within"},
	} {
		t.Run(c.name, func(t *testing.T) {
			nightMode.Store(c.mode)
			switched := time.Now()
			var caught probeStatus
			waitFor(t, 3*time.Second, func() error {
				run := probeRuns(t, gw, "support")["nightdesk"]
				if run.Time.Before(switched) || !run.failed(c.check) {
					return fmt.Errorf("nightdesk not failing %s yet: %+v", c.check, run)
				}
				caught = run
				return nil
			})
			// The run started within an interval (1s) of the switch.
			if late := caught.Time.Sub(switched); late > time.Second+100*time.Millisecond {
				t.Errorf("caught by the run of %s, %s after the switch", caught.Time.Format(time.StampMilli), late)
			}
			t.Logf("%s: caught %s after the switch, %+v", c.name, time.Since(switched).Round(time.Millisecond), caught.Failed)
			if caught.Result != "fail" || len(caught.RequestID) != 13 {
				t.Errorf("failed run: %+v", caught)
			}
			// The reference is the one the vendor got.
			found := false
			night.mu.Lock()
			requests := append([]*http.Request(nil), night.requests...)
			night.mu.Unlock()
			for _, r := range requests {
				found = found || r.Header.Get("X-Request-Id") == caught.RequestID
			}
			if !found {
				t.Errorf("the vendor never got reference %s", caught.RequestID)
			}
			if run := probeRuns(t, gw, "support")["care-team"]; run.Result != "pass" {
				t.Errorf("in-house: %+v", run)
			}
			waitFor(t, 10*time.Second, func() error {
				q := fmt.Sprintf(`increase(frontdoor_probe_check_failures_total{journey="support",backend="nightdesk",owner="outsourced",vendor="NightDesk BPO",probe="help-page",check=%q}[30s]) > 0`, c.check)
				if r := prom.query(t, q); len(r.Data.Result) == 0 {
					return fmt.Errorf("prometheus: no %s failure yet", c.check)
				}
				if r := prom.query(t, `frontdoor_probe_success{backend="nightdesk",probe="help-page"} == 0`); len(r.Data.Result) == 0 {
					return fmt.Errorf("prometheus: nightdesk not failing yet")
				}
				return nil
			})
			nightMode.Store(vendorBehaves)
			waitFor(t, 3*time.Second, func() error {
				if run := probeRuns(t, gw, "support")["nightdesk"]; run.Result != "pass" {
					return fmt.Errorf("nightdesk not passing again: %+v", run)
				}
				return nil
			})
			shop() // customers are not shoppers: counted as ever
		})
	}

	// The in-house team never failed a check; Prometheus has the runs.
	waitFor(t, 10*time.Second, func() error {
		r := prom.query(t, `sum by (backend) (frontdoor_probe_runs_total{journey="support",result="pass"})`).valueBy("backend")
		if r["care-team"] < 10 || r["nightdesk"] < 4 {
			return fmt.Errorf("passing runs scraped: %v", r)
		}
		return nil
	})
	if r := prom.query(t, `sum(frontdoor_probe_check_failures_total{backend="care-team"})`).valueBy(""); r[""] != 0 {
		t.Errorf("in-house check failures: %v", r)
	}

	// The customer metrics count the customer's requests only.
	m := gw.metrics(t)
	total := 0.0
	for _, b := range []string{`backend="care-team",code="200",journey="support",owner="in-house",vendor=""`,
		`backend="nightdesk",code="200",journey="support",owner="outsourced",vendor="NightDesk BPO"`} {
		v, _ := metricValue(m, "frontdoor_requests_total{"+b+"}")
		total += v
	}
	if total != float64(customerRequests) {
		t.Errorf("frontdoor_requests_total counts %v requests; the customer made %d (the shopper many more)", total, customerRequests)
	}
	// The customer's trail has the customer's visits only.
	// The trail writer is asynchronous: wait for the customer's entries,
	// then check that no shopper entry came with them.
	var code int
	var trail map[string]any
	waitFor(t, 5*time.Second, func() error {
		code, trail = adminJSON(t, gw, "GET", "/frontdoor/trail/P-0001", "")
		if entries, _ := trail["entries"].([]any); code != 200 || len(entries) < customerRequests {
			return fmt.Errorf("trail of P-0001: %d, %v", code, trail)
		}
		return nil
	})
	if entries, _ := trail["entries"].([]any); len(entries) != customerRequests {
		t.Errorf("trail of P-0001: %d entries for %d customer requests: %v", len(entries), customerRequests, trail)
	}

	out, err := frontdoorCmd(t, "probes", "--address", gw.AdminAddr)
	if err != nil || !strings.Contains(out, "support  care-team  in-house") || !strings.Contains(out, "NightDesk BPO  help-page  yes   pass") {
		t.Errorf("frontdoor probes: %v\n%s", err, out)
	}
}

// With two instances sharing Redis, each backend is shopped once per
// interval across the fleet, and both instances show the same latest run.
func TestSecretShopperOncePerIntervalAcrossFleet(t *testing.T) {
	rs := redistest.Start(t)
	var careMode, nightMode atomic.Int32
	care := helpDesk(t, "care-team", &careMode)
	night := helpDesk(t, "nightdesk", &nightMode)
	site := shopperSite(rs.URL(), care, night)
	gw1 := startGateway(t, site)
	gw2 := startGateway(t, site)

	waitFor(t, 10*time.Second, func() error { // both instances shop
		for _, gw := range []*gateway{gw1, gw2} {
			if run := probeRuns(t, gw, "support")["nightdesk"]; run.Time.IsZero() {
				return fmt.Errorf("%s has no run yet: %+v", gw.URL, run)
			}
		}
		return nil
	})
	startCare, startNight := care.count(), night.count()
	start := time.Now()
	time.Sleep(8 * time.Second) // time under test: runs are counted over 8 intervals
	elapsed := time.Since(start)
	careRuns, nightRuns := care.count()-startCare, night.count()-startNight
	intervals := int(elapsed / time.Second)
	t.Logf("%s: %d intervals, care-team shopped %d times, nightdesk %d times, by two instances", elapsed.Round(time.Millisecond), intervals, careRuns, nightRuns)
	for name, n := range map[string]int{"care-team": careRuns, "nightdesk": nightRuns} {
		if n < intervals-1 || n > intervals+1 {
			t.Errorf("%s shopped %d times in %d intervals", name, n, intervals)
		}
	}
	// Each instance shows the fleet's latest run: one instance picks up a
	// run of the other before its next interval, so at any moment the two
	// are at most one interval apart.
	waitFor(t, 3*time.Second, func() error {
		a, b := probeRuns(t, gw1, "support")["nightdesk"], probeRuns(t, gw2, "support")["nightdesk"]
		if a.Time.IsZero() || b.Time.IsZero() || a.Time.Sub(b.Time).Abs() > 1100*time.Millisecond {
			return fmt.Errorf("instances show latest runs more than an interval apart: %+v and %+v", a, b)
		}
		return nil
	})
}

// TestSecretShopperSurvivesReloads: forced reloads three times a second
// while the shopper runs every second: each backend is still shopped once
// an interval (each config shops the interval it starts in unless another
// took it), no shopper goroutine is left behind, and the latest runs are
// kept.
func TestSecretShopperSurvivesReloads(t *testing.T) {
	rs := redistest.Start(t)
	var careMode, nightMode atomic.Int32
	care := helpDesk(t, "care-team", &careMode)
	night := helpDesk(t, "nightdesk", &nightMode)
	gw := startGateway(t, shopperSite(rs.URL(), care, night))
	out, err := exec.Command(binary, "adapt", "--config", filepath.Join(gw.dir, "Caddyfile")).Output()
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	var first time.Time
	waitFor(t, 5*time.Second, func() error {
		run := probeRuns(t, gw, "support")["nightdesk"]
		if run.Result != "pass" {
			return fmt.Errorf("no passing run yet: %+v", run)
		}
		first = run.Time
		return nil
	})
	// The goroutine baseline once a whole run cycle is over: the next run.
	waitFor(t, 5*time.Second, func() error {
		if run := probeRuns(t, gw, "support")["nightdesk"]; !run.Time.After(first) {
			return fmt.Errorf("no run after %s yet: %+v", first, run)
		}
		return nil
	})
	goroutines := gw.goroutines(t)
	start, before := time.Now(), night.count()
	for range 30 {
		load := func() (*http.Response, error) {
			req, _ := http.NewRequest("POST", "http://"+gw.AdminAddr+"/load", bytes.NewReader(out))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Cache-Control", "must-revalidate")
			return http.DefaultClient.Do(req)
		}
		resp, err := load()
		if adminSwapped(err) {
			resp, err = load()
		}
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("reload: %d", resp.StatusCode)
		}
		if run := probeRuns(t, gw, "support")["nightdesk"]; run.Result != "pass" {
			t.Fatalf("after a reload the latest run is %+v", run)
		}
		time.Sleep(300 * time.Millisecond) // pacing: 30 reloads spread over about 9 intervals
	}
	elapsed := time.Since(start)
	shopped := night.count() - before
	intervals := int(elapsed / time.Second)
	t.Logf("30 reloads in %s: nightdesk shopped %d times", elapsed.Round(time.Millisecond), shopped)
	if shopped < intervals-1 || shopped > intervals+1 {
		t.Errorf("nightdesk shopped %d times in %d intervals across 30 reloads", shopped, intervals)
	}
	reloaded := time.Now()
	waitFor(t, 5*time.Second, func() error {
		if run := probeRuns(t, gw, "support")["nightdesk"]; !run.Time.After(reloaded) {
			return fmt.Errorf("the shopper stopped after the reloads: latest run %+v", run)
		}
		return nil
	})
	waitFor(t, 20*time.Second, func() error {
		if n := gw.goroutines(t); n > goroutines+goroutines/10 {
			return fmt.Errorf("%d goroutines after 30 reloads, %d before", n, goroutines)
		}
		return nil
	})
}
