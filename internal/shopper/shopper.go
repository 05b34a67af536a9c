// Package shopper is the secret shopper: it walks each probe's steps
// through every backend of its journey, on the probe's interval, by
// sending them through the gateway in process, so that each request gets
// what a customer's gets (the brand's headers, the signed assertion, the
// customer's context, cookie jars, the banner, brand error pages), and
// nothing marks it for the vendor. What tells it apart is the Visit in its
// context, which no client can set.
//
// The package knows nothing of Caddy: it reaches the gateway through the
// Gateway interface and hands its runs to a Sink. Its parts, by file: the
// visit (visit.go), probes compiled for running (probe.go) and their
// checks (check.go), the scheduler (schedule.go), fleet coordination over
// Redis (fleet.go) and the in-process client (client.go).
package shopper

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/config"
)

// Shopper runs the probes of a gateway's journeys from Start to Stop.
type Shopper struct {
	cfg    Config
	logger *zap.Logger
	probes []*probe

	mu     sync.Mutex // over Start and Stop
	cancel context.CancelFunc
	done   chan struct{}
	runs   sync.WaitGroup
}

// New compiles the probes of the journeys against the backends the
// gateway lists; claims, if not nil, checks that a journey claims each of
// its probes' steps. It returns nil if no journey has a probe. It starts
// nothing.
func New(cfg Config, journeys []*config.Journey, claims func(journey, method string, u *url.URL) error) (*Shopper, error) {
	s := &Shopper{cfg: cfg, logger: cfg.Logger}
	if s.cfg.Clock == nil {
		s.cfg.Clock = SystemClock{}
	}
	if s.logger == nil {
		s.logger = zap.NewNop()
	}
	for _, j := range journeys {
		if len(j.Probes) == 0 {
			continue
		}
		backends := cfg.Gateway.Backends(j.Name)
		for _, p := range j.Probes {
			pr, err := compile(j, p, backends, claims)
			if err != nil {
				return nil, fmt.Errorf("journey %q, probe %q: %w", j.Name, p.Name, err)
			}
			s.probes = append(s.probes, pr)
		}
	}
	if len(s.probes) == 0 {
		return nil, nil
	}
	return s, nil
}

// Targets returns every probe against every backend, in the order
// configured.
func (s *Shopper) Targets() []*Target {
	var out []*Target
	for _, p := range s.probes {
		out = append(out, p.targets...)
	}
	return out
}

// KeepResults carries the latest runs over from the shoppers of the config
// this one replaces, so a reload neither forgets them nor blanks a gauge.
func (s *Shopper) KeepResults(previous []*Shopper) {
	runs := map[string]*Run{}
	for _, old := range previous {
		for _, t := range old.Targets() {
			if r := t.last.Load(); r != nil {
				runs[t.key()] = r
			}
		}
	}
	for _, t := range s.Targets() {
		if r := runs[t.key()]; r != nil {
			t.last.Store(r)
		}
	}
}

// Start runs the scheduler on ctx until Stop: the gateway calls it when
// its config starts to run, with the config's context, which ends if Stop
// is never called. A second Start while running does nothing.
func (s *Shopper) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return // running
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	s.done = make(chan struct{})
	jobs := make([]Job, len(s.probes))
	for i, p := range s.probes {
		jobs[i] = Job{Every: p.every, Launch: func(ctx context.Context, slot int64) {
			for _, t := range p.targets {
				s.launch(ctx, t, slot)
			}
		}}
	}
	go func() {
		defer close(s.done)
		Schedule(ctx, s.cfg.Clock, jobs)
	}()
}

// Stop ends the scheduler and waits for the runs under way, which the
// cancelled context cuts short: nothing of the shopper outlives Stop, so
// the gateway may then clean up what the runs go through.
func (s *Shopper) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.runs.Wait()
	s.cancel = nil
}

// launch runs a probe against one backend for an interval, unless its
// previous run is still under way or, with Redis, another instance has
// taken this interval.
func (s *Shopper) launch(ctx context.Context, t *Target, slot int64) {
	if !t.running.CompareAndSwap(false, true) {
		s.logger.Debug("secret shopper: previous run still under way, interval skipped",
			zap.String("journey", t.probe.journey), zap.String("probe", t.probe.name), zap.String("backend", t.backend.Name))
		return
	}
	s.runs.Add(1)
	go func() {
		defer s.runs.Done()
		defer t.running.Store(false)
		if s.cfg.Redis != nil {
			s.adopt(ctx, t)
			if !s.claim(ctx, t, slot) {
				return
			}
		}
		run := s.Shop(ctx, t)
		if ctx.Err() != nil {
			return // cut short by a reload or shutdown: not the backend's doing
		}
		s.record(ctx, t, run)
	}()
}

// record keeps a run for the status endpoint and the fleet, and hands it
// to the sink.
func (s *Shopper) record(ctx context.Context, t *Target, run *Run) {
	previous := t.last.Swap(run)
	if s.cfg.Sink != nil {
		s.cfg.Sink.Ran(t, run)
	}
	if s.cfg.Redis != nil {
		s.publish(ctx, t, run)
	}
	fields := []zap.Field{zap.String("journey", t.probe.journey), zap.String("probe", t.probe.name),
		zap.String("backend", t.backend.Name), zap.String("result", run.Result)}
	switch {
	case run.Result == ResultFail:
		checks := make([]string, len(run.Failed))
		for i, f := range run.Failed {
			checks[i] = f.Check + ": " + f.Detail
		}
		fields = append(fields, zap.String("step", run.Step), zap.Strings("failed_checks", checks), zap.String("request_id", run.RequestID))
		if previous == nil || previous.Result != ResultFail {
			s.logger.Warn("secret shopper: backend fails", fields...)
		} else {
			s.logger.Debug("secret shopper: backend still fails", fields...)
		}
	case previous != nil && previous.Result == ResultFail:
		s.logger.Info("secret shopper: backend passes again", fields...)
	}
}

// runTimeout bounds a whole run: its interval, at least 10s, at most a
// minute.
func runTimeout(every time.Duration) time.Duration {
	return min(max(every, 10*time.Second), time.Minute)
}

// Shop walks the target's probe through its backend now, with a cookie
// jar of its own, stops at the first step that fails a check, and returns
// the run; it neither records the run nor tells the sink (the scheduler's
// runs do both).
func (s *Shopper) Shop(ctx context.Context, t *Target) *Run {
	p := t.probe
	start := time.Now()
	run := &Run{Probe: p.name, Time: start, RanBy: s.cfg.Instance}
	if t.backend.Open != nil {
		run.Open = t.backend.Open()
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout(p.every))
	defer cancel()

	host, https := s.cfg.Gateway.Site()
	base := &url.URL{Scheme: "http", Host: host}
	if https {
		base.Scheme = "https"
	}
	jar, _ := cookiejar.New(nil)
	if p.sessionID != "" && s.cfg.SessionCookie != "" {
		if err := s.writeCustomer(ctx, p); err != nil {
			if !p.writeFail.Swap(true) {
				s.logger.Warn("secret shopper: writing the synthetic customer failed; shopping without it",
					zap.String("journey", p.journey), zap.String("probe", p.name), zap.Error(err))
			}
		} else {
			p.writeFail.Store(false)
		}
		jar.SetCookies(base, []*http.Cookie{{Name: s.cfg.SessionCookie, Value: p.sessionID, Path: "/"}})
	}
	run.Result = ResultPass
	from := p.clientAddr() // a customer keeps their address through a visit
	for i, st := range p.steps {
		out := s.visit(ctx, t, st, base, https, jar, from, i == 0)
		if failed := t.evaluate(i, st, out); len(failed) > 0 {
			run.Result = ResultFail
			run.Failed = failed
			run.Step = st.cfg.Method + " " + st.cfg.Path
			run.Status = out.status
			run.RequestID = out.requestID
			break
		}
	}
	run.Duration = time.Since(start).Seconds()
	return run
}
