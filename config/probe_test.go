package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func probeConfig() []*Journey {
	js := validConfig()
	js[1].Probes = []*Probe{{
		Name:     "help-page",
		Every:    Duration(time.Minute),
		Customer: map[string]string{"customer_id": "P-0001", "first_name": "Quinn"},
		Steps: []*Step{
			{Method: "GET", Path: "/support/help", ExpectStatus: []int{200}, ExpectCustomer: []string{"first_name"},
				Forbid: []string{"(?i)nightdesk|powered by"}, Within: Duration(800 * time.Millisecond)},
			{Method: "POST", Path: "/support/chat?lang=en", Body: "message=hello", ExpectBody: []string{"(?i)thanks"}},
		},
	}}
	return js
}

func TestValidateAcceptsProbes(t *testing.T) {
	if err := Validate("Acme", Contact{}, "", probeConfig()); err != nil {
		t.Fatal(err)
	}
}

func TestValidateRejectsProbes(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(p *Probe) any // returns the element the error must be about
		want   string
	}{
		{"bad name", func(p *Probe) any { p.Name = "help page"; return p }, `journey "support": probe name "help page": use letters`},
		{"no name", func(p *Probe) any { p.Name = ""; return p }, `probe name is required`},
		{"too often", func(p *Probe) any { p.Every = Duration(500 * time.Millisecond); return p }, `every 500ms: a probe runs at most once a second`},
		{"bad customer field", func(p *Probe) any { p.Customer["first name"] = "Q"; return p }, `customer field "first name"`},
		{"reserved customer field", func(p *Probe) any { p.Customer["frontdoor_trail"] = "x"; return p }, `customer field "frontdoor_trail" is written by frontdoor itself`},
		{"control character", func(p *Probe) any { p.Customer["first_name"] = "Quinn\r\nX-Evil: 1"; return p }, `customer first_name: value "Quinn\r\nX-Evil: 1" has a control character`},
		{"long value", func(p *Probe) any { p.Customer["first_name"] = strings.Repeat("q", 1025); return p }, `value of 1025 bytes: at most 1024`},
		{"no steps", func(p *Probe) any { p.Steps = nil; return p }, `journey "support", probe "help-page" has no step: add at least one, e.g. step GET /support`},
		{"no method", func(p *Probe) any { p.Steps[0].Method = ""; return p.Steps[0] }, `step 1 ( /support/help): method is required`},
		{"lower-case method", func(p *Probe) any { p.Steps[1].Method = "post"; return p.Steps[1] }, `step 2 (post /support/chat?lang=en): method "post": use an HTTP method in capitals`},
		{"relative path", func(p *Probe) any { p.Steps[0].Path = "support/help"; return p.Steps[0] }, `path "support/help" must start with a single '/'`},
		{"scheme-relative path", func(p *Probe) any { p.Steps[0].Path = "//evil.example/x"; return p.Steps[0] }, `must start with a single '/'`},
		{"space in path", func(p *Probe) any { p.Steps[0].Path = "/support/my help"; return p.Steps[0] }, `is not a request path`},
		{"fragment", func(p *Probe) any { p.Steps[0].Path = "/support/help#top"; return p.Steps[0] }, `is not a request path`},
		{"bad status", func(p *Probe) any { p.Steps[0].ExpectStatus = []int{2000}; return p.Steps[0] }, `expect status 2000: a status code is between 100 and 599`},
		{"bad body regex", func(p *Probe) any { p.Steps[1].ExpectBody = []string{"(thanks"}; return p.Steps[1] }, `expect body "(thanks": error parsing regexp`},
		{"bad forbid regex", func(p *Probe) any { p.Steps[0].Forbid = []string{"[a-"}; return p.Steps[0] }, `forbid "[a-": error parsing regexp`},
		{"unknown customer field", func(p *Probe) any { p.Steps[0].ExpectCustomer = []string{"tier"}; return p.Steps[0] }, `expect customer tier: the probe's customer has no tier: add it to customer { tier VALUE }`},
		{"negative within", func(p *Probe) any { p.Steps[0].Within = Duration(-time.Second); return p.Steps[0] }, `within -1s must be above zero`},
		{"big body", func(p *Probe) any { p.Steps[1].Body = strings.Repeat("x", 65<<10); return p.Steps[1] }, `body of 66560 bytes: at most 65536`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			js := probeConfig()
			elem := c.mutate(js[1].Probes[0])
			err := Validate("Acme", Contact{}, "", js)
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
			if ve.Elem != elem {
				t.Errorf("error is about %T %p, want %T %p", ve.Elem, ve.Elem, elem, elem)
			}
		})
	}

	js := probeConfig()
	twice := *js[1].Probes[0]
	js[1].Probes = append(js[1].Probes, &twice)
	err := Validate("Acme", Contact{}, "", js)
	if err == nil || !strings.Contains(err.Error(), `probe "help-page" is defined twice`) {
		t.Errorf("duplicate probe: %v", err)
	}
}

func TestProbeDefaults(t *testing.T) {
	p := &Probe{}
	if p.Interval() != time.Minute {
		t.Errorf("default interval %s", p.Interval())
	}
	p.Every = Duration(time.Second)
	if p.Interval() != time.Second {
		t.Errorf("interval %s", p.Interval())
	}

	slo := &Backend{SLO: &SLO{LatencyTarget: 0.95, LatencyThreshold: Duration(800 * time.Millisecond)}}
	plain := &Backend{}
	s := &Step{}
	if got := s.WithinFor(slo); got != 800*time.Millisecond {
		t.Errorf("within defaults to the SLO threshold: got %s", got)
	}
	if got := s.WithinFor(plain); got != 0 {
		t.Errorf("within without SLO: got %s, want none", got)
	}
	s.Within = Duration(300 * time.Millisecond)
	if got := s.WithinFor(slo); got != 300*time.Millisecond {
		t.Errorf("within set: got %s", got)
	}

	for status, want := range map[int]bool{200: true, 302: true, 399: true, 401: false, 404: false} {
		if got := s.ExpectsStatus(status); got != want {
			t.Errorf("default expect status %d: %v", status, got)
		}
	}
	s.ExpectStatus = []int{200, 204}
	for status, want := range map[int]bool{200: true, 204: true, 302: false} {
		if got := s.ExpectsStatus(status); got != want {
			t.Errorf("expect status 200 204, got %d: %v", status, got)
		}
	}
}
