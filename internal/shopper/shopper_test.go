package shopper

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/redistest"
	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

// fakeGateway answers the shopper's requests with answer and keeps them.
type fakeGateway struct {
	answer func(w http.ResponseWriter, r *http.Request) error
	host   string
	https  bool
	open   bool

	mu     sync.Mutex
	served []served
}

type served struct {
	method, url, body, cookie, userAgent string
	visit                                *Visit
	tls                                  bool
}

func (g *fakeGateway) Serve(w http.ResponseWriter, r *http.Request) error {
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	g.served = append(g.served, served{method: r.Method, url: r.URL.String(), body: string(body), cookie: r.Header.Get("Cookie"),
		userAgent: r.Header.Get("User-Agent"), visit: VisitOf(r.Context()), tls: r.TLS != nil})
	g.mu.Unlock()
	return g.answer(w, r)
}

func (g *fakeGateway) Backends(journey string) []Backend {
	return []Backend{
		{Backend: &config.Backend{Name: "care-team", Owner: config.InHouse, Context: []string{"first_name"}}, Open: func() bool { return g.open }},
		{Backend: &config.Backend{Name: "nightdesk", Owner: config.Outsourced, Vendor: "NightDesk BPO", Context: []string{"first_name"}}, Banner: bannerFor},
	}
}

func (g *fakeGateway) Site() (string, bool) { return g.host, g.https }

func (g *fakeGateway) requests() []served {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]served(nil), g.served...)
}

// sinkChan hands the runs to the test.
type sinkChan chan *Run

func (s sinkChan) Ran(_ *Target, run *Run) { s <- run }

func journeys(every time.Duration, customer map[string]string, steps ...*config.Step) []*config.Journey {
	return []*config.Journey{
		{Name: "support", Paths: []string{"/support*"}},
		{Name: "shop", Paths: []string{"/shop*"}, Probes: []*config.Probe{{Name: "help-page", Every: config.Duration(every), Customer: customer, Steps: steps}}},
	}
}

func newShopper(t *testing.T, cfg Config, js []*config.Journey) *Shopper {
	t.Helper()
	s, err := New(cfg, js, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func target(s *Shopper, backend string) *Target {
	for _, t := range s.Targets() {
		if t.Backend().Name == backend {
			return t
		}
	}
	return nil
}

// A run walks the steps through the gateway as a browser would: with the
// visit in its context, the site's host and scheme, the synthetic
// customer's session cookie and the cookies earlier steps got; it writes
// the customer to the session store first.
func TestShopWalksTheStepsThroughTheGateway(t *testing.T) {
	srv := redistest.Start(t)
	gw := &fakeGateway{host: "shop.example.com:8443", https: true, answer: func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("X-Request-Id", "REF0000000001")
		if r.URL.Path == "/shop/help" {
			http.SetCookie(w, &http.Cookie{Name: "desk", Value: "1", Path: "/"})
		}
		fmt.Fprint(w, "<html><body>Hi Quinn"+testBanner+"</body></html>")
		return nil
	}}
	s := newShopper(t, Config{Gateway: gw, Redis: srv.Client(t), SessionKey: "session:{id}", SessionCookie: "acme_session", Instance: "gw-a"},
		journeys(time.Minute, map[string]string{"first_name": "Quinn"},
			&config.Step{Method: "GET", Path: "/shop/help", ExpectCustomer: []string{"first_name"}},
			&config.Step{Method: "POST", Path: "/shop/chat?x=1", Body: "message=Where is my order?"}))
	run := s.Shop(context.Background(), target(s, "nightdesk"))
	if run.Result != ResultPass || run.RanBy != "gw-a" || run.Probe != "help-page" || run.Open {
		t.Errorf("run %+v", run)
	}
	got := gw.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	id := SessionID("shop", "help-page")
	want := []served{
		{method: "GET", url: "https://shop.example.com:8443/shop/help", cookie: "acme_session=" + id, userAgent: UserAgent, tls: true},
		{method: "POST", url: "https://shop.example.com:8443/shop/chat?x=1", body: "message=Where+is+my+order%3F", cookie: "acme_session=" + id + "; desk=1", userAgent: UserAgent, tls: true},
	}
	for i, w := range want {
		g := got[i]
		if g.visit == nil || g.visit.Journey != "shop" || g.visit.Backend != "nightdesk" {
			t.Errorf("request %d carries visit %+v", i, g.visit)
		}
		g.visit = nil
		if g != w {
			t.Errorf("request %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	rc := srv.Client(t)
	if v, _ := rc.HGetAll(context.Background(), "session:"+id).Result(); v["first_name"] != "Quinn" {
		t.Errorf("session hash %v", v)
	}
	if ttl, _ := rc.PTTL(context.Background(), "session:"+id).Result(); ttl <= 0 || ttl > 3*time.Minute {
		t.Errorf("synthetic customer expires in %s", ttl)
	}
	// The in-house backend is open by its hours, and has no banner.
	gw.open = true
	if run := s.Shop(context.Background(), target(s, "care-team")); run.Result != ResultPass || !run.Open {
		t.Errorf("in-house run %+v", run)
	}
}

// What the gateway tells the visit, and the errors it returns, are the
// backend's failures as the customer saw them.
func TestShopSeesWhatTheGatewayTellsTheVisit(t *testing.T) {
	var answer func(w http.ResponseWriter, r *http.Request) error
	gw := &fakeGateway{host: "localhost", answer: func(w http.ResponseWriter, r *http.Request) error { return answer(w, r) }}
	s := newShopper(t, Config{Gateway: gw}, journeys(time.Minute, map[string]string{"first_name": "Quinn"},
		&config.Step{Method: "GET", Path: "/shop/help", ExpectCustomer: []string{"first_name"}},
		&config.Step{Method: "GET", Path: "/shop/next"}))
	nightdesk := target(s, "nightdesk")
	for _, c := range []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request) error
		status int
		failed []string
	}{
		{"brand error page", func(w http.ResponseWriter, r *http.Request) error {
			VisitOf(r.Context()).ErrorPageShown(http.StatusBadGateway)
			w.WriteHeader(http.StatusBadGateway)
			return nil
		}, 502, []string{CheckErrorPage}},
		{"error with a status", func(w http.ResponseWriter, r *http.Request) error {
			return &StatusError{Status: http.StatusGatewayTimeout, Err: fmt.Errorf("backend timed out")}
		}, 504, []string{CheckServerError}},
		{"plain error", func(w http.ResponseWriter, r *http.Request) error {
			return fmt.Errorf("handler broke")
		}, 500, []string{CheckServerError}},
		{"context unavailable: not the backend's fault", func(w http.ResponseWriter, r *http.Request) error {
			VisitOf(r.Context()).LookupFailed()
			fmt.Fprint(w, "Hi there"+testBanner)
			return nil
		}, 0, nil},
	} {
		answer = c.answer
		run := s.Shop(context.Background(), nightdesk)
		var failed []string
		for _, f := range run.Failed {
			failed = append(failed, f.Check)
		}
		if fmt.Sprint(failed) != fmt.Sprint(c.failed) || run.Status != c.status {
			t.Errorf("%s: run %+v, want status %d and failed %v", c.name, run, c.status, c.failed)
		}
		if c.failed != nil && run.Step != "GET /shop/help" {
			t.Errorf("%s: the run went on after the failing step: %+v", c.name, run)
		}
	}
}

// The app's Start runs the scheduler: the run of the interval under way
// at once, then one per interval; Stop stops it and waits for the runs.
func TestStartRunsEachIntervalUntilStop(t *testing.T) {
	start := time.Date(2026, 12, 4, 10, 0, 0, 400_000_000, time.UTC)
	clock := NewFakeClock(start)
	gw := &fakeGateway{host: "localhost", answer: func(w http.ResponseWriter, r *http.Request) error {
		fmt.Fprint(w, "ok")
		return nil
	}}
	runs := make(sinkChan, 10)
	s := newShopper(t, Config{Gateway: gw, Sink: runs, Clock: clock}, journeys(time.Second, nil, &config.Step{Method: "GET", Path: "/shop"}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Start(ctx)
	s.Start(ctx) // a second Start does nothing
	expectRuns := func(what string, n int) {
		t.Helper()
		for range n {
			select {
			case run := <-runs:
				if run.Result != ResultPass {
					t.Errorf("%s: %+v", what, run)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no run", what)
			}
		}
		s.runs.Wait() // the runs are over, not only recorded: the next interval is not skipped
	}
	expectRuns("the interval under way", 2)
	clock.WaitForTimers(1, nil)
	clock.Advance(600 * time.Millisecond)
	expectRuns("the next interval", 2)
	clock.WaitForTimers(1, nil)
	s.Stop()
	clock.Advance(time.Hour)
	// Stop returns once the scheduler's goroutine has closed its done
	// channel, which it does on its way out: it may not have left yet.
	testwait.For(t, 5*time.Second, time.Millisecond, func() error {
		if stacks := goroutines(); strings.Contains(stacks, "shopper.(*Shopper)") || strings.Contains(stacks, "shopper.Schedule") {
			return fmt.Errorf("a shopper goroutine outlived Stop:\n%s", stacks)
		}
		return nil
	})
	if len(runs) != 0 || len(gw.requests()) != 4 {
		t.Errorf("%d runs after Stop, %d requests in all", len(runs), len(gw.requests()))
	}
}

// Stop cuts a run under way short, and a run cut short is not recorded:
// it is not the backend's doing.
func TestStopCutsARunShortWithoutRecordingIt(t *testing.T) {
	entered := make(chan struct{}, 2)
	gw := &fakeGateway{host: "localhost", answer: func(w http.ResponseWriter, r *http.Request) error {
		entered <- struct{}{}
		<-r.Context().Done()
		return r.Context().Err()
	}}
	runs := make(sinkChan, 10)
	s := newShopper(t, Config{Gateway: gw, Sink: runs, Clock: NewFakeClock(time.Now())}, journeys(time.Second, nil, &config.Step{Method: "GET", Path: "/shop"}))
	s.Start(context.Background())
	<-entered
	<-entered
	s.Stop()
	if len(runs) != 0 || target(s, "nightdesk").Last() != nil {
		t.Errorf("a run cut short by Stop was recorded")
	}
}

func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// With Redis, each backend is shopped once per interval however many
// instances run the probe, and every instance knows the latest run.
func TestOncePerIntervalAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	gw := &fakeGateway{host: "localhost", answer: func(w http.ResponseWriter, r *http.Request) error {
		fmt.Fprint(w, "ok")
		return nil
	}}
	js := journeys(time.Second, nil, &config.Step{Method: "GET", Path: "/shop"})
	a := newShopper(t, Config{Gateway: gw, Redis: srv.Client(t), Instance: "gw-a"}, js)
	b := newShopper(t, Config{Gateway: gw, Redis: srv.Client(t), Instance: "gw-b"}, js)
	ctx := context.Background()
	slot := time.Now().UnixNano() / int64(time.Second)
	ta, tb := target(a, "nightdesk"), target(b, "nightdesk")
	for i := range int64(5) {
		a.launch(ctx, ta, slot+i)
		b.launch(ctx, tb, slot+i)
		a.runs.Wait()
		b.runs.Wait()
	}
	if n := len(gw.requests()); n != 5 {
		t.Errorf("5 intervals, 2 instances: the backend was shopped %d times", n)
	}
	a.adopt(ctx, ta)
	b.adopt(ctx, tb)
	ra, rb := ta.Last(), tb.Last()
	if ra == nil || rb == nil || !ra.Time.Equal(rb.Time) || ra.RanBy != rb.RanBy {
		t.Errorf("instances disagree on the latest run: %+v and %+v", ra, rb)
	}
}

// With Redis down, an instance shops on its own.
func TestRedisDownShopsAlone(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rc.Close()
	gw := &fakeGateway{host: "localhost", answer: func(w http.ResponseWriter, r *http.Request) error {
		fmt.Fprint(w, "ok")
		return nil
	}}
	runs := make(sinkChan, 1)
	s := newShopper(t, Config{Gateway: gw, Sink: runs, Redis: rc, SessionKey: "session:{id}", SessionCookie: "s"},
		journeys(time.Hour, map[string]string{"first_name": "Quinn"}, &config.Step{Method: "GET", Path: "/shop"}))
	nightdesk := target(s, "nightdesk")
	s.launch(context.Background(), nightdesk, 1)
	s.runs.Wait()
	if run := <-runs; run.Result != ResultPass || nightdesk.Last() != run {
		t.Errorf("run with Redis down: %+v", run)
	}
}

// A reload carries the latest runs over to the new config's shopper.
func TestKeepResults(t *testing.T) {
	gw := &fakeGateway{host: "localhost"}
	js := journeys(time.Minute, nil, &config.Step{Method: "GET", Path: "/shop"})
	old := newShopper(t, Config{Gateway: gw}, js)
	run := &Run{Probe: "help-page", Result: ResultFail}
	target(old, "nightdesk").last.Store(run)
	s := newShopper(t, Config{Gateway: gw}, js)
	s.KeepResults([]*Shopper{old})
	if target(s, "nightdesk").Last() != run || target(s, "care-team").Last() != nil {
		t.Errorf("kept %+v and %+v", target(s, "nightdesk").Last(), target(s, "care-team").Last())
	}
}

func TestNewWithoutProbesIsNil(t *testing.T) {
	s, err := New(Config{Gateway: &fakeGateway{}}, []*config.Journey{{Name: "support"}}, nil)
	if s != nil || err != nil {
		t.Errorf("New without probes: %v, %v", s, err)
	}
}
