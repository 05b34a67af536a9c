package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

// binary is the frontdoor binary under test, built once per run.
var binary string

// runDir holds what the run builds; runCtx ends when the tests have run.
var (
	runDir string
	runCtx context.Context
)

// Tests that call t.Parallel() run together once the others have run
// (scripts/test.sh runs up to 4 at once): they wait for events and measure
// neither time nor load, and share no port (freePort), Redis (each starts
// its own), directory (t.TempDir) or environment (no t.Setenv) with
// another test. Those that measure time or load run alone.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "frontdoor-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	runDir, runCtx = dir, ctx
	binary = filepath.Join(dir, "frontdoor")
	if prebuilt := os.Getenv("FRONTDOOR_BINARY"); prebuilt != "" {
		binary = prebuilt // CI builds once for several test steps
	} else {
		build := exec.Command("go", "build", "-o", binary, "../cmd/frontdoor")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building frontdoor:", err)
			cancel()
			return 1
		}
	}
	flag.Parse()
	if slices.ContainsFunc(raceTests, selected) {
		go raceBinary() //nolint:errcheck // the test that needs it reports the error
	}
	code := m.Run()
	cancel()
	raceBinary() //nolint:errcheck // a build under way has stopped before dir goes
	return code
}

// selected reports whether -test.run and -test.skip select the top-level
// test name (their first level only, which is what a run of the whole
// package or of some tests by name uses).
func selected(name string) bool {
	if flag.Lookup("test.list").Value.String() != "" {
		return false
	}
	matches := func(flagName string) bool {
		pattern, _, _ := strings.Cut(flag.Lookup(flagName).Value.String(), "/")
		ok, err := regexp.MatchString(pattern, name)
		return err == nil && ok
	}
	run, skip := flag.Lookup("test.run").Value.String(), flag.Lookup("test.skip").Value.String()
	return (run == "" || matches("test.run")) && (skip == "" || !matches("test.skip"))
}

// Ports for gateways, admin endpoints and dead addresses come from below
// Linux's ephemeral range (32768-60999 by default), which the kernel never
// hands to a connection's source port or a listener on port 0: between
// freePort and the gateway's bind, no connection of a test (parallel ones
// included) can take the port. Each is handed out once per run, from an
// offset of the process id so that two runs on one machine do not start at
// the same port.
const (
	portsFrom = 20000
	portsTo   = 32768 // exclusive
)

var nextPort atomic.Int64

func init() { nextPort.Store(int64(os.Getpid() * 97 % (portsTo - portsFrom))) }

// freePort returns a loopback port nothing listens on right now, and no
// other call of this run returned.
func freePort(t testing.TB) int {
	t.Helper()
	for range portsTo - portsFrom {
		port := portsFrom + int(nextPort.Add(1)%(portsTo-portsFrom))
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use by something else on the machine
		}
		ln.Close()
		return port
	}
	t.Fatalf("no free loopback port in %d-%d", portsFrom, portsTo-1)
	return 0
}

// gateway is a running frontdoor process.
type gateway struct {
	URL       string // site base URL, http://127.0.0.1:port
	AdminAddr string
	dir       string
	cmd       *exec.Cmd
	logs      *syncBuffer
	hosts     []string // the site's host names; none: 127.0.0.1
	global    string   // more global options, e.g. servers { … }
}

// siteConfig is what a test writes inside the site block; startGateway
// wraps it with global options that put the admin endpoint and the site
// on free ports.
func startGateway(t *testing.T, site string) *gateway {
	t.Helper()
	return startGatewayWith(t, binary, site)
}

// startGatewayWith is startGateway with another Caddy build than the
// frontdoor binary under test.
func startGatewayWith(t *testing.T, bin, site string) *gateway {
	t.Helper()
	return launchSite(t, bin, nil, site)
}

// startGatewayOn is startGateway for a site whose addresses are host
// names (e.g. shop.localhost, help.shop.localhost), over plain HTTP on
// one free port; URL stays the loopback address, which the site does not
// serve.
func startGatewayOn(t *testing.T, hosts []string, site string) *gateway {
	t.Helper()
	return launchSite(t, binary, hosts, site)
}

// startGatewayGlobal is startGateway with more global options.
func startGatewayGlobal(t *testing.T, global, site string) *gateway {
	t.Helper()
	return launchSiteGlobal(t, binary, nil, global, site)
}

func launchSite(t *testing.T, bin string, hosts []string, site string) *gateway {
	t.Helper()
	return launchSiteGlobal(t, bin, hosts, "", site)
}

func launchSiteGlobal(t *testing.T, bin string, hosts []string, global, site string) *gateway {
	t.Helper()
	g := &gateway{dir: t.TempDir(), AdminAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), hosts: hosts, global: global}
	port := freePort(t)
	g.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	g.writeConfig(t, site, port)
	g.launch(t, bin, "run", "--config", filepath.Join(g.dir, "Caddyfile"), "--adapter", "caddyfile")
	return g
}

// launch starts the gateway process with args, stops it when the test
// ends (printing its logs if the test failed) and waits until the site
// answers.
func (g *gateway) launch(t *testing.T, bin string, args ...string) {
	t.Helper()
	g.cmd = exec.Command(bin, args...)
	g.cmd.Env = append(os.Environ(), "HOME="+g.dir, "XDG_DATA_HOME="+g.dir, "XDG_CONFIG_HOME="+g.dir)
	g.logs = &syncBuffer{}
	g.cmd.Stdout, g.cmd.Stderr = g.logs, g.logs
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		g.cmd.Process.Kill() //nolint:errcheck
		g.cmd.Wait()         //nolint:errcheck
		if t.Failed() {
			t.Logf("frontdoor logs:\n%s", g.logs.String())
		}
	})
	waitFor(t, 15*time.Second, func() error {
		if g.cmd.ProcessState != nil {
			return fmt.Errorf("frontdoor exited: %s", g.logs.String())
		}
		resp, err := http.Get(g.URL + "/__frontdoor_e2e_ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// startTLSGateway is startGateway with an https listener too (HTTP/2,
// a certificate of Caddy's internal CA): site is its https base URL.
func startTLSGateway(t *testing.T, site string) (g *gateway, secureURL string) {
	t.Helper()
	g = &gateway{dir: t.TempDir(), AdminAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	plain, secure := freePort(t), freePort(t)
	g.URL = fmt.Sprintf("http://127.0.0.1:%d", plain)
	cfg := fmt.Sprintf("{\n\tadmin %s\n\tmetrics\n\tpersist_config off\n\tlocal_certs\n\tskip_install_trust\n\tauto_https disable_redirects\n}\n\nhttp://127.0.0.1:%d, https://127.0.0.1:%d {\n%s\n}\n",
		g.AdminAddr, plain, secure, site)
	if err := os.WriteFile(filepath.Join(g.dir, "Caddyfile"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.launch(t, binary, "run", "--config", filepath.Join(g.dir, "Caddyfile"), "--adapter", "caddyfile")
	secureAddr := fmt.Sprintf("127.0.0.1:%d", secure)
	waitFor(t, 15*time.Second, func() error { // the internal CA issues the site's certificate after start
		c, err := tls.Dial("tcp", secureAddr, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			c.Close()
		}
		return err
	})
	return g, "https://" + secureAddr
}

func (g *gateway) writeConfig(t *testing.T, site string, port int) {
	t.Helper()
	addresses := fmt.Sprintf("http://127.0.0.1:%d", port)
	if len(g.hosts) > 0 {
		var a []string
		for _, h := range g.hosts {
			a = append(a, fmt.Sprintf("http://%s:%d", h, port))
		}
		addresses = strings.Join(a, ", ")
	}
	cfg := fmt.Sprintf("{\n\tadmin %s\n\tmetrics\n\tauto_https off\n\tpersist_config off\n%s\n}\n\n%s {\n%s\n}\n", g.AdminAddr, g.global, addresses, site)
	if err := os.WriteFile(filepath.Join(g.dir, "Caddyfile"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reload replaces the site config through the real `frontdoor reload`.
func (g *gateway) reload(t *testing.T, site string) {
	t.Helper()
	port := strings.TrimPrefix(g.URL, "http://127.0.0.1:")
	var p int
	fmt.Sscan(port, &p)
	g.writeConfig(t, site, p)
	reload := func() ([]byte, error) {
		return exec.Command(binary, "reload", "--config", filepath.Join(g.dir, "Caddyfile"),
			"--adapter", "caddyfile", "--address", g.AdminAddr).CombinedOutput()
	}
	out, err := reload()
	if err != nil && (bytes.Contains(out, []byte("connection reset by peer")) || bytes.HasSuffix(bytes.TrimSpace(out), []byte(": EOF"))) {
		out, err = reload() // see adminSwapped
	}
	if err != nil {
		t.Fatalf("reload: %v\n%s", err, out)
	}
}

// adminSwapped reports whether err is what a request to the admin endpoint
// gets when it arrives as a config load swaps the endpoint's server (Caddy
// replaces it at each load): reset, queued on the old listener as it
// closed, or hung up on, read as the old server's Shutdown began (see
// README.md, "Reloads"). Either way the request was not handled, so
// sending it again, once, is safe.
func adminSwapped(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
}

// metrics returns the admin endpoint's Prometheus exposition.
func (g *gateway) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + g.AdminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitHandlersReturned waits until no request is inside the gateway's
// handlers: Caddy's caddy_http_requests_in_flight (the metrics global
// option is on) falls back to zero when a handler returns, panic or not.
// Whatever the requests under test queued off the request path (fleet
// writes: orphans, contacts, trail entries) has then been queued, and a
// marker queued after it is written after it: each fleet queue writes in
// order from one goroutine.
func (g *gateway) waitHandlersReturned(t *testing.T) {
	t.Helper()
	waitFor(t, 15*time.Second, func() error {
		inFlight, seen := 0.0, false
		sc := bufio.NewScanner(strings.NewReader(g.metrics(t)))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "caddy_http_requests_in_flight{") {
				var v float64
				fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
				inFlight, seen = inFlight+v, true
			}
		}
		if !seen {
			return errors.New("no caddy_http_requests_in_flight series: is the metrics global option on?")
		}
		if inFlight != 0 {
			return fmt.Errorf("%v requests still in the gateway's handlers", inFlight)
		}
		return nil
	})
}

// waitMetricAtLeast waits until series reaches want in g's metrics.
func (g *gateway) waitMetricAtLeast(t *testing.T, series string, want float64) {
	t.Helper()
	waitFor(t, 10*time.Second, func() error {
		if v, _ := metricValue(g.metrics(t), series); v < want {
			return fmt.Errorf("%s = %v, waiting for %v", series, v, want)
		}
		return nil
	})
}

// metricValue finds one sample by name and exact label set rendering, e.g.
// metricValue(t, m, `frontdoor_routing_decisions_total{backend="b",journey="j",reason="first"}`).
func metricValue(metrics, series string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(metrics))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, series+" ") {
			var v float64
			fmt.Sscan(strings.TrimPrefix(line, series+" "), &v)
			return v, true
		}
	}
	return 0, false
}

// backend is a real HTTP server that records what it received.
type backend struct {
	URL  string
	Addr string
	srv  *http.Server

	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	handler  http.HandlerFunc
}

func startBackend(t *testing.T, name string, handler http.HandlerFunc) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{Addr: ln.Addr().String(), URL: "http://" + ln.Addr().String(), handler: handler}
	if b.handler == nil {
		b.handler = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "hello from %s", name)
		}
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.requests = append(b.requests, r.Clone(context.Background()))
		b.bodies = append(b.bodies, string(body))
		b.mu.Unlock()
		b.handler(w, r)
	})}
	go b.srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { b.srv.Close() })
	return b
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.requests)
}

// all returns the requests the backend received so far, in order.
func (b *backend) all() []*http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*http.Request(nil), b.requests...)
}

func (b *backend) last(t *testing.T) *http.Request {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		t.Fatal("backend received no request")
	}
	return b.requests[len(b.requests)-1]
}

// deadAddr is a loopback address where nothing listens: dials are refused.
func deadAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

// waitFor waits until check passes (a metric, a log line, a status field
// shows the event the test needs), checking every 50ms, and fails the
// test at the deadline with check's last error.
func waitFor(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	testwait.For(t, timeout, 50*time.Millisecond, check)
}

// waitLogged waits until the gateway's log holds at least n lines
// containing s (a log message: the event the test needs), counted from the
// gateway's start.
func (g *gateway) waitLogged(t testing.TB, timeout time.Duration, s string, n int) {
	t.Helper()
	waitFor(t, timeout, func() error {
		if got := strings.Count(g.logs.String(), s); got < n {
			return fmt.Errorf("%d log lines with %q, want %d", got, s, n)
		}
		return nil
	})
}

// hold is a test backend taking its time over a request: d, or less if
// the gateway gives up on the request first (a timeout, a failover).
func hold(r *http.Request, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-r.Context().Done():
	}
}

// get performs a request without following redirects.
func do(t *testing.T, method, url string, body io.Reader, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
