package shopper

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/session"
)

// probe is a probe compiled for running.
type probe struct {
	journey   string
	name      string
	every     time.Duration
	customer  map[string]string
	from      []netip.Prefix // where its runs come from; none: the loopback address (from.go)
	sessionID string         // reserved for the synthetic customer; "" without one
	writeFail atomic.Bool    // the latest write of the customer failed
	steps     []*step
	targets   []*Target
}

type step struct {
	cfg        *config.Step
	url        *url.URL // path and query
	expectBody []*regexp.Regexp
	forbid     []*regexp.Regexp
}

// Target is a probe against one backend, with its latest run.
type Target struct {
	probe   *probe
	backend Backend
	within  []time.Duration // per step
	sees    map[string]bool // context fields the backend may see
	running atomic.Bool
	last    atomic.Pointer[Run]
}

// Journey, Probe and Backend name what the target shops.
func (t *Target) Journey() string { return t.probe.journey }
func (t *Target) Probe() string   { return t.probe.name }
func (t *Target) Backend() Backend {
	return t.backend
}

// Last returns the latest run this instance knows of, its own or, with
// Redis, the fleet's; nil before the first.
func (t *Target) Last() *Run { return t.last.Load() }

func (t *Target) key() string {
	return t.probe.journey + ":" + t.probe.name + ":" + t.backend.Name
}

// SessionPrefix starts the session ids reserved for probes.
const SessionPrefix = "frontdoor-shopper+"

// SessionID is the session id of a probe's synthetic customer: '+' cannot
// be in a name and '_' cannot be in a session id, so different probes
// never share one.
func SessionID(journey, probe string) string {
	return SessionPrefix + strings.ReplaceAll(journey, "_", "~") + "+" + strings.ReplaceAll(probe, "_", "~")
}

// compile compiles a probe of journey j against its backends. claims, if
// not nil, checks that the journey claims a step's request.
func compile(j *config.Journey, p *config.Probe, backends []Backend, claims func(journey, method string, u *url.URL) error) (*probe, error) {
	pr := &probe{journey: j.Name, name: p.Name, every: p.Interval(), customer: p.Customer}
	if len(p.Customer) > 0 {
		pr.sessionID = SessionID(j.Name, p.Name)
		if !session.ValidID(pr.sessionID) {
			return nil, fmt.Errorf("journey and probe names too long for a session id (%d bytes, at most 256)", len(pr.sessionID))
		}
	}
	for _, from := range p.From {
		prefix, err := config.ParseFrom(from)
		if err != nil {
			return nil, fmt.Errorf("from %v", err)
		}
		pr.from = append(pr.from, prefix)
	}
	for i, s := range p.Steps {
		st := &step{cfg: s}
		u, err := url.ParseRequestURI(s.Path)
		if err != nil {
			return nil, fmt.Errorf("step %d: path %q: %v", i+1, s.Path, err)
		}
		st.url = u
		if claims != nil {
			if err := claims(j.Name, s.Method, u); err != nil {
				return nil, fmt.Errorf("step %d: %v", i+1, err)
			}
		}
		for _, re := range s.ExpectBody {
			st.expectBody = append(st.expectBody, regexp.MustCompile(re)) // validated
		}
		for _, re := range s.Forbid {
			st.forbid = append(st.forbid, regexp.MustCompile(re))
		}
		pr.steps = append(pr.steps, st)
	}
	for _, b := range backends {
		t := &Target{probe: pr, backend: b, sees: map[string]bool{}}
		for _, f := range b.Context {
			t.sees[f] = true
		}
		for _, s := range p.Steps {
			t.within = append(t.within, s.WithinFor(b.Backend))
		}
		pr.targets = append(pr.targets, t)
	}
	return pr, nil
}
