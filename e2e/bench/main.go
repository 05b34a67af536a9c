// Command bench measures what frontdoor costs on the request path and
// checks that it holds up over time. It is run by run.sh and soak.sh (see
// there), not by CI: the numbers depend on the machine.
//
//	bench run  -frontdoor BIN [-rounds 5] [-duration 10s] [-out DIR]
//	bench soak -frontdoor BIN [-duration 600s] [-out DIR]
//	bench backend -addr 127.0.0.1:PORT
//
// run starts a fast backend, a real redis-server (with one customer's
// session and 10,000 more) and one frontdoor process per configuration
// (bare Caddy reverse_proxy, alone and adding frontdoor's headers;
// frontdoor with its defaults, without Caddy's proxy logger, with
// assertion reuse off, with many customers, with the context uncached,
// with and without the banner), then runs wrk against each in turn, interleaved over
// several rounds, and prints a markdown table of medians with the targets
// of issue 13 ("fast by default"), each PASS or MISS. soak runs mixed traffic for a long time while Redis and a
// vendor go down and come back, sampling the gateway's RSS and goroutine
// count, and fails if either grows.
//
// Everything listens on 127.0.0.1 only, on free ports, and every run is
// bounded in time.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoor-dev/frontdoor/internal/assertion"
)

const (
	sessionCookie = "acme_session"
	sessionID     = "sess-bench-0123456789"
	bannerMarker  = `id="frontdoor-banner"`

	// manyCustomers sessions are seeded for the many-customers
	// configurations, manyID(0) to manyID(manyCustomers-1).
	manyCustomers = 10_000
)

// manyID is the session id of the i-th of the many customers; their
// customer ids are manyCustomer(i).
func manyID(i int) string { return fmt.Sprintf("sess-many-%05d", i) }

func manyCustomer(i int) string { return fmt.Sprintf("C-%05d", i) }

func main() {
	redis.SetLogger(quietLogger{}) // seeding a restarting Redis fails a few times, on purpose
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = runBench(ctx, os.Args[2:])
	case "soak":
		err = runSoak(ctx, os.Args[2:])
	case "backend":
		fs := flag.NewFlagSet("backend", flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
		fs.Parse(os.Args[2:]) //nolint:errcheck // ExitOnError
		var srv *server
		srv, err = startServer(*addr, backendHandler("bench"))
		if err == nil {
			fmt.Println("backend on", srv.addr)
			<-ctx.Done()
			srv.close()
		}
	default:
		usage()
	}
	killAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: bench run|soak|backend [flags] (see run.sh and soak.sh)")
	os.Exit(2)
}

// ---------------------------------------------------------------------------
// Backends.

// htmlPage is a 20 KB vendor page with a </body> near its end.
var htmlPage = func() []byte {
	var b strings.Builder
	b.WriteString("<!doctype html><html><head><title>Vendor desk</title></head><body><main>\n")
	for i := 0; b.Len() < 20<<10-40; i++ {
		fmt.Fprintf(&b, "<p>Line %d of the vendor's help article, with some text to make it look real.</p>\n", i)
	}
	b.WriteString("</main></body></html>\n")
	return []byte(b.String())
}()

// backendHandler answers /…/page with the 20 KB HTML page, /…/slow after
// two seconds, and anything else with a short plain text. Asked with
// ?echo=1, it echoes the session state and customer id it was given in
// X-Bench-Session and X-Bench-Customer so that the setup can be checked;
// measured requests do not ask, so their responses are the same size as
// bare Caddy's. Asked with ?echo=headers, it answers with the headers
// frontdoor added to the request.
func backendHandler(name string) http.Handler {
	text := []byte("hello from " + name + "\n")
	textLen := strconv.Itoa(len(text))
	pageLen := strconv.Itoa(len(htmlPage))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			io.Copy(io.Discard, r.Body) //nolint:errcheck
		}
		h := w.Header()
		switch r.URL.RawQuery {
		case "echo=1":
			// An outsourced backend gets the context in the assertion
			// only, by default; the bench trusts its link and reads it
			// without verifying.
			session, ctx := assertedContext(r.Header.Get(assertion.Header))
			h.Set("X-Bench-Session", session)
			h.Set("X-Bench-Customer", ctx["customer_id"])
			h.Set("X-Bench-Tier", ctx["tier"])
		case "echo=headers":
			// The headers frontdoor added, one "Name: value" a line.
			var names []string
			for name := range r.Header {
				if strings.HasPrefix(name, "X-Frontdoor-") || name == "X-Request-Id" {
					names = append(names, name)
				}
			}
			slices.Sort(names)
			h.Set("Content-Type", "text/plain")
			for _, name := range names {
				fmt.Fprintf(w, "%s: %s\n", name, r.Header.Get(name))
			}
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/page"):
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Length", pageLen)
			w.Write(htmlPage) //nolint:errcheck
		case strings.HasSuffix(r.URL.Path, "/slow"):
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
				return
			}
			h.Set("Content-Type", "text/plain")
			w.Write(text) //nolint:errcheck
		default:
			h.Set("Content-Type", "text/plain")
			h.Set("Content-Length", textLen)
			w.Write(text) //nolint:errcheck
		}
	})
}

// server is an in-process HTTP server that can be stopped and started
// again on the same address (a vendor going down and coming back).
type server struct {
	addr    string
	handler http.Handler
	mu      sync.Mutex
	srv     *http.Server
}

func startServer(addr string, h http.Handler) (*server, error) {
	s := &server{addr: addr, handler: h}
	return s, s.start()
}

func (s *server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	var ln net.Listener
	var err error
	for range 50 { // the port may linger for a moment after a close
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck
	return nil
}

// close stops the server and drops every connection, as a crash would.
func (s *server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

func (s *server) url() string { return "http://" + s.addr }

// ---------------------------------------------------------------------------
// Processes: frontdoor and redis-server.

var (
	procsMu sync.Mutex
	procs   = map[*exec.Cmd]bool{}
)

// spawn starts a child that the kernel kills if this process dies, with
// its output in logFile.
func spawn(logFile string, env []string, name string, args ...string) (*exec.Cmd, error) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	procsMu.Lock()
	procs[cmd] = true
	procsMu.Unlock()
	return cmd, nil
}

// kill ends one child started by spawn and reaps it.
func kill(cmd *exec.Cmd) {
	procsMu.Lock()
	owned := procs[cmd]
	delete(procs, cmd)
	procsMu.Unlock()
	if owned {
		cmd.Process.Kill() //nolint:errcheck
		cmd.Wait()         //nolint:errcheck
	}
}

// killAll ends every child still running, one by one, by pid.
func killAll() {
	procsMu.Lock()
	var all []*exec.Cmd
	for c := range procs {
		all = append(all, c)
	}
	procsMu.Unlock()
	for _, c := range all {
		kill(c)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// gatewayCPUs is the CPU list every gateway is pinned to (-gateway-cpus),
// or "" when gateways share every CPU with wrk, the backend and Redis. On
// a small machine the load generator and the gateway otherwise take turns
// on the same cores, and how the kernel interleaves them moves a row's
// req/s by more than frontdoor's cost; pinned, each gateway has its cores
// to itself, as it would on an edge host, and its busy share says whether
// it, not the load, was the limit.
var gatewayCPUs string

// cpuCount is the number of CPUs in a taskset -c list ("0", "0-3,6").
func cpuCount(list string) int {
	n := 0
	for part := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, errA := strconv.Atoi(strings.TrimSpace(lo))
		b := a
		var errB error
		if isRange {
			b, errB = strconv.Atoi(strings.TrimSpace(hi))
		}
		if errA != nil || errB != nil || b < a {
			return 0
		}
		n += b - a + 1
	}
	return n
}

// gatewayCPUCount is how many CPUs a gateway may run on.
func gatewayCPUCount() int {
	if gatewayCPUs == "" {
		return runtime.NumCPU()
	}
	return cpuCount(gatewayCPUs)
}

// gateway is a running frontdoor process serving one site.
type gateway struct {
	name  string
	url   string // http://127.0.0.1:port
	admin string // 127.0.0.1:port
	cmd   *exec.Cmd
	dir   string
}

// startGateway writes a Caddyfile around site and runs it. Every gateway
// has the same global options, an admin endpoint on a free loopback port
// (for pprof and the soak's samples), no automatic HTTPS, no saved config,
// and then global (more global options, or ""); env is added to its
// environment.
func startGateway(bin, dir, name, global, site string, env ...string) (*gateway, error) {
	sitePort, err := freePort()
	if err != nil {
		return nil, err
	}
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	g := &gateway{name: name, url: fmt.Sprintf("http://127.0.0.1:%d", sitePort),
		admin: fmt.Sprintf("127.0.0.1:%d", adminPort), dir: filepath.Join(dir, name)}
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("{\n\tadmin %s\n\tauto_https off\n\tpersist_config off\n%s}\n\nhttp://127.0.0.1:%d {\n%s\n}\n",
		g.admin, global, sitePort, site)
	caddyfile := filepath.Join(g.dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	argv := []string{bin, "run", "--config", caddyfile, "--adapter", "caddyfile"}
	if gatewayCPUs != "" {
		// taskset execs the gateway: the pid is the gateway's, and the Go
		// runtime sizes GOMAXPROCS to the CPUs it may run on.
		argv = append([]string{"taskset", "-c", gatewayCPUs}, argv...)
	}
	g.cmd, err = spawn(filepath.Join(g.dir, "frontdoor.log"),
		append([]string{"HOME=" + g.dir, "XDG_DATA_HOME=" + g.dir, "XDG_CONFIG_HOME=" + g.dir}, env...),
		argv[0], argv[1:]...)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + g.admin + "/config/")
		if err == nil {
			resp.Body.Close()
			if c, err := net.DialTimeout("tcp", strings.TrimPrefix(g.url, "http://"), time.Second); err == nil {
				c.Close()
				return g, nil
			}
		}
		if g.cmd.ProcessState != nil || time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(g.dir, "frontdoor.log"))
			kill(g.cmd)
			return nil, fmt.Errorf("gateway %s did not start:\n%s", name, tail(string(log), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (g *gateway) pid() int { return g.cmd.Process.Pid }

// freezeOthers stops every gateway but the one of c (SIGSTOP) while c is
// measured, and returns the function that lets them run again. An idle
// gateway is not idle: its Redis client sweeps its connections for
// invalidations, its timers and collectors wake, and on two cores a dozen
// of them took a share of the measured gateway's CPU that changed from
// run to run. A brand runs one gateway per machine, not fifteen.
func freezeOthers(cfgs []*benchConfig, c *benchConfig) (resume func()) {
	var frozen []*gateway
	for _, o := range cfgs {
		if o.gw != nil && o != c && o.gw.cmd.Process.Signal(syscall.SIGSTOP) == nil {
			frozen = append(frozen, o.gw)
		}
	}
	return func() {
		for _, g := range frozen {
			g.cmd.Process.Signal(syscall.SIGCONT) //nolint:errcheck
		}
	}
}

// readyToMeasure prepares configuration c for a measurement: the other
// gateways frozen and, for a many-customers row, every customer seen once.
// The caller measures, then calls resume.
func readyToMeasure(ctx context.Context, cfgs []*benchConfig, c *benchConfig) (resume func(), err error) {
	resume = freezeOthers(cfgs, c)
	if c.many && c.gw != nil {
		if err := visitEveryCustomer(ctx, c.url); err != nil {
			resume()
			return nil, fmt.Errorf("%s: %w", c.key, err)
		}
	}
	return resume, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// redisServer is a redis-server process that can be killed and restarted
// on the same port, empty (nothing is persisted).
type redisServer struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	up   bool
}

func startRedis(dir string) (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New("redis-server not found: apt-get install redis-server")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &redisServer{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: filepath.Join(dir, "redis")}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return nil, err
	}
	return r, r.start()
}

func (r *redisServer) start() error {
	_, port, _ := net.SplitHostPort(r.addr)
	var err error
	r.cmd, err = spawn(filepath.Join(r.dir, "redis.log"), nil, "redis-server",
		"--port", port, "--bind", "127.0.0.1", "--dir", r.dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--logfile", "")
	if err != nil {
		return err
	}
	c := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.HSet(ctx, "session:"+sessionID, "customer_id", "C-1001", "first_name", "Dana",
			"tier", "gold", "email", "dana@example.com").Err()
		cancel()
		if err == nil {
			r.up = true
			return nil // up, and the session is seeded
		}
		if time.Now().After(deadline) {
			kill(r.cmd)
			return fmt.Errorf("redis-server on %s: %w", r.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *redisServer) stop() {
	kill(r.cmd)
	r.up = false
}

func (r *redisServer) url() string { return "redis://" + r.addr + "/0" }

// assertedContext reads the session state and context fields of an
// assertion without verifying it.
func assertedContext(token string) (string, map[string]string) {
	var claims struct {
		Session string            `json:"session"`
		Ctx     map[string]string `json:"ctx"`
	}
	if parts := strings.Split(token, "."); len(parts) == 3 {
		if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			json.Unmarshal(payload, &claims) //nolint:errcheck // absent fields stay empty
		}
	}
	return claims.Session, claims.Ctx
}

// ---------------------------------------------------------------------------
// Configurations.

const brandBlock = `		brand "Acme Outdoor"
		contact {
			phone "+1 800 555 0100"
			email help@acme.example
			url https://acme.example/help
		}
`

// frontdoorSite is a frontdoor site with one outsourced backend on the
// support journey; session is a session block or "", assertion an
// assertion block or "" (the defaults), extra more lines for the backend.
func frontdoorSite(backendURL, session, assertion, extra string) string {
	return "\tfrontdoor {\n" + brandBlock + session + assertion + fmt.Sprintf(`
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
				context customer_id first_name tier
				%s
			}
		}
	}
	respond "brand home"`, backendURL, extra)
}

// sessionBlock reads the customer's context from Redis; cache "" keeps
// the default (2s).
func sessionBlock(redisURL, cache string) string {
	if cache != "" {
		cache = "\t\t\tcache " + cache + "\n"
	}
	return fmt.Sprintf(`		session {
			redis %s
			cookie %s
			key "session:{id}"
%s		}
`, redisURL, sessionCookie, cache)
}

// noProxyLog keeps Caddy's default log from reverse_proxy, whose logger
// then costs nothing: it JSON-encodes every proxied request's headers in
// each round trip even when debug logging is off.
const noProxyLog = "\tlog default {\n\t\texclude http.handlers.reverse_proxy\n\t}\n"

// noReuse signs one assertion per request, as before assertion reuse was
// the default.
const noReuse = "\t\tassertion {\n\t\t\treuse 0s\n\t\t}\n"

// benchConfig is one column of the comparison.
type benchConfig struct {
	key, desc string
	path      string
	optional  bool     // run only when named in -only
	cookie    bool     // one customer's cookies (the session's among them) on every request, as d's customer sends them
	many      bool     // wrk rotates through the many customers' cookies
	churn     bool     // 1% of the many sessions rewritten per second, staleness measured
	global    string   // more global options
	env       []string // more environment of the gateway
	// site is the site block, given the backend's URL, Redis's URL and
	// the headers frontdoor adds to d's requests ("Name: value" lines); a
	// nil site measures the backend itself.
	site  func(backend, redisURL string, added []string) string
	check func(resp *http.Response, body string) error
	gw    *gateway
	url   string

	rps, p50, p99, errs []float64
	cpuPerReq           []float64 // gateway CPU time per request, µs
	busy                []float64 // gateway CPU time over the round's wall time and its CPUs, 0..1
	staleness           []float64 // ms from a session's rewrite to the backend seeing it (churn)
}

// sessionIs checks what the backend was told: the session state and, if
// not "", the customer id.
func sessionIs(state, customer string) func(*http.Response, string) error {
	return func(resp *http.Response, body string) error {
		if got := resp.Header.Get("X-Bench-Session"); got != state {
			return fmt.Errorf("backend saw X-Frontdoor-Session %q, want %q", got, state)
		}
		if got := resp.Header.Get("X-Bench-Customer"); customer != "" && got != customer {
			return fmt.Errorf("backend saw customer id %q, want %q", got, customer)
		}
		return nil
	}
}

func bannerIs(want bool) func(*http.Response, string) error {
	return func(resp *http.Response, body string) error {
		if got := strings.Count(body, bannerMarker) == 1; got != want {
			return fmt.Errorf("banner present %v, want %v (%d bytes)", got, want, len(body))
		}
		return nil
	}
}

// checkedCustomer is the one of the many customers whose session the
// setup check uses.
const checkedCustomer = 4242

// configs are the columns. The frontdoor ones use the defaults (ES256
// assertion made at start, reused 30s; session cache 2s; metrics on)
// unless their description says otherwise; "banner off" keeps the one
// header a banner backend adds to requests (Accept-Encoding) out of the
// plain-text rows, whose replies get no banner anyway.
func configs() []*benchConfig {
	b512Site := func(b, _ string, _ []string) string {
		return "\treverse_proxy " + b + " {\n\t\ttransport http {\n\t\t\tkeepalive_idle_conns_per_host 512\n\t\t}\n\t}"
	}
	dSite := func(b, r string, _ []string) string { return frontdoorSite(b, sessionBlock(r, ""), "", "banner off") }
	d0Site := func(b, r string, _ []string) string {
		return frontdoorSite(b, sessionBlock(r, ""), noReuse, "banner off")
	}
	noSession := func(b, _ string, _ []string) string { return frontdoorSite(b, "", "", "banner off") }
	return []*benchConfig{
		{key: "a", desc: "backend directly (the limit)", path: "/support/text", optional: true},
		{key: "b", desc: "stock Caddy reverse_proxy (default idle pool 32/host)", path: "/support/text",
			cookie: true, site: func(b, _ string, _ []string) string { return "\treverse_proxy " + b }},
		{key: "b512", desc: "bare Caddy reverse_proxy, idle pool 512/host like frontdoor's (the baseline)", path: "/support/text",
			cookie: true, site: b512Site},
		// wrk spends more CPU making each request in Lua than sending a
		// fixed one, on the cores the gateway uses: the many-customers
		// rows are compared with bare Caddy under the same load.
		{key: "bm", desc: "b512 under m's wrk script (the cookies mean nothing to it): the baseline of m and e", path: "/support/text",
			many: true, site: b512Site},
		{key: "bt", desc: "b512 with the transport bounds frontdoor sets by default (response_header_timeout 10s, write_timeout 10s, max_response_header 64 KiB): what those bounds cost Caddy itself", path: "/support/text",
			cookie: true, optional: true, site: boundedSite},
		{key: "bh", desc: "b512 adding the request headers frontdoor adds for d (header_up, same values): what the headers cost", path: "/support/text",
			cookie: true, site: headerUpSite},
		{key: "c", desc: "frontdoor, no session: routing, brand headers, reused assertion, metrics, banner off", path: "/support/text", cookie: true,
			site: noSession, check: sessionIs("none", "")},
		{key: "d", desc: "the defaults: c + Redis context (tracked on this standalone Redis), one customer, the vendor's context in the assertion only", path: "/support/text", cookie: true,
			site: dSite, check: sessionIs("found", "C-1001")},
		{key: "dl", desc: "d with Caddy's log excluding http.handlers.reverse_proxy (no per-round-trip debug logger)", path: "/support/text",
			cookie: true, global: noProxyLog,
			site: dSite, check: sessionIs("found", "C-1001")},
		{key: "dg", desc: "dl with GOGC=400 (the Go runtime collects garbage a quarter as often)", path: "/support/text",
			cookie: true, optional: true, env: []string{"GOGC=400"}, global: noProxyLog,
			site: dSite, check: sessionIs("found", "C-1001")},
		{key: "dh", desc: "d with headers all: plain X-Frontdoor-* context headers besides the assertion (the vendor default before issue 25)", path: "/support/text",
			cookie: true,
			site: func(b, r string, _ []string) string {
				return frontdoorSite(b, sessionBlock(r, ""), "", "banner off\n\t\t\t\theaders all")
			}},
		{key: "d0", desc: "d with reuse 0s: one assertion signed per request", path: "/support/text", cookie: true,
			site: d0Site, check: sessionIs("found", "C-1001")},
		{key: "m", desc: fmt.Sprintf("the defaults, many customers: wrk picks one of %d sessions at random per request", manyCustomers),
			path: "/support/text", many: true,
			site: dSite, check: sessionIs("found", manyCustomer(checkedCustomer))},
		{key: "mc", desc: fmt.Sprintf("m while 1%% of the sessions (%d/s) are rewritten each second; staleness probed on a sample", manyCustomers/100),
			path: "/support/text", many: true, churn: true,
			site: dSite, check: sessionIs("found", manyCustomer(checkedCustomer))},
		{key: "m0", desc: "m with reuse 0s: one assertion signed per request", path: "/support/text", many: true,
			site: d0Site, check: sessionIs("found", manyCustomer(checkedCustomer))},
		// With one customer, concurrent lookups of the same session share
		// one round trip even uncached: e rotates through the many.
		{key: "e", desc: "m with the context uncached (cache 0s): a Redis round trip per request", path: "/support/text", many: true,
			site:  func(b, r string, _ []string) string { return frontdoorSite(b, sessionBlock(r, "0s"), "", "banner off") },
			check: sessionIs("found", manyCustomer(checkedCustomer))},
		{key: "f0", desc: "20 KB vendor HTML through frontdoor (no session), banner off", path: "/support/page",
			site: noSession, check: bannerIs(false)},
		{key: "f", desc: "the same page with the banner injected (the default)", path: "/support/page",
			site:  func(b, _ string, _ []string) string { return frontdoorSite(b, "", "", "") },
			check: bannerIs(true)},
	}
}

// boundedSite is bare Caddy with frontdoor's idle pool and the bounds
// frontdoor's defaults give a backend's transport (see proxydefaults.go):
// each is a timer or a deadline per request in Caddy's transport, so this
// row shows what they cost apart from frontdoor's code.
func boundedSite(backend, _ string, _ []string) string {
	return "\treverse_proxy " + backend + " {\n\t\ttransport http {\n\t\t\tkeepalive_idle_conns_per_host 512\n" +
		"\t\t\tresponse_header_timeout 10s\n\t\t\twrite_timeout 10s\n\t\t\tmax_response_header 64KiB\n\t\t}\n\t}"
}

// headerUpSite is bare Caddy with frontdoor's idle pool adding the request
// headers frontdoor added to one of d's requests, with the same values, so
// that what the headers cost on their way (Caddy's round-trip logger, the
// request write, the backend's parse) shows apart from frontdoor's code.
func headerUpSite(backend, _ string, added []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\treverse_proxy %s {\n", backend)
	for _, line := range added {
		name, value, _ := strings.Cut(line, ": ")
		fmt.Fprintf(&b, "\t\theader_up %s `%s`\n", name, value)
	}
	b.WriteString("\t\ttransport http {\n\t\t\tkeepalive_idle_conns_per_host 512\n\t\t}\n\t}")
	return b.String()
}

// addedHeaders runs a gateway like d's for a moment and returns the
// request headers frontdoor added to one of its requests, as "Name: value"
// lines.
func addedHeaders(bin, out string, backend *server, rs *redisServer) ([]string, error) {
	g, err := startGateway(bin, out, "probe", "", frontdoorSite(backend.url(), sessionBlock(rs.url(), ""), "", "banner off"))
	if err != nil {
		return nil, err
	}
	defer kill(g.cmd)
	req, _ := http.NewRequest(http.MethodGet, g.url+"/support/text?echo=headers", nil)
	req.Header.Set("Cookie", "theme=dark; "+sessionCookie+"="+sessionID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if resp.StatusCode != http.StatusOK || len(lines) < 2 { // the assertion and the request id, at least
		return nil, fmt.Errorf("frontdoor's added headers: status %d, %q", resp.StatusCode, body)
	}
	for _, l := range lines {
		if strings.ContainsAny(l, "`{}") {
			return nil, fmt.Errorf("header %q cannot go into a Caddyfile as it is", l)
		}
	}
	return lines, nil
}

// customersScript is the wrk Lua script of the many-customers
// configurations: each wrk thread formats one request per seeded session
// up front, then sends one picked at random for every request (a
// different seed per thread), so that the gateway sees what a busy site
// sees: requests of thousands of customers interleaved, each customer
// back every second or two, not one customer's cookie over and over.
func customersScript(n int) string {
	return fmt.Sprintf(`-- written by e2e/bench: one of %[1]d customers' session cookies per request
local n = %[1]d
local threads = 0
local requests = {}

function setup(thread)
	threads = threads + 1
	thread:set("seed", threads)
end

function init(args)
	math.randomseed(seed)
	for i = 1, n do
		requests[i] = wrk.format(nil, nil, {["Cookie"] = string.format("theme=dark; %[2]s=sess-many-%%05d", i - 1)})
	end
end

function request()
	return requests[math.random(n)]
end
`, n, sessionCookie)
}

// visitEveryCustomer sends one request as each of the many customers
// (32 at a time) before a round of a many-customers row. The rounds are
// interleaved, so a row's previous round ended minutes ago, longer than
// the gateway keeps a customer's context (TrackedMaxAge) or reuses an
// assertion (30 s): without this pass every round would start with all
// 10,000 customers expired and measure a cold start. A brand's active
// customers come back within those lifetimes (at m's rate each one does
// every two seconds), so a round measures them coming back.
func visitEveryCustomer(ctx context.Context, url string) error {
	next := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer client.CloseIdleConnections()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("Cookie", "theme=dark; "+sessionCookie+"="+manyID(i))
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body) //nolint:errcheck
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("customer %d: status %d", i, resp.StatusCode)
					}
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("visiting every customer: %w", err):
					default:
					}
				}
			}
		}()
	}
	for i := range manyCustomers {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// churn rewrites 1% of the many customers' sessions per second (a new
// tier) while a row runs, and for one rewrite in ten measures how long the
// gateway at url takes to hand the new value to the backend: it asks, as
// that customer, until the backend sees it (at most 5 s). The returned
// function stops it and returns the staleness of each probed rewrite, in
// milliseconds.
func churn(ctx context.Context, redisAddr, url string) func() []float64 {
	ctx, cancel := context.WithCancel(ctx)
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	var (
		mu      sync.Mutex
		samples []float64
		probes  sync.WaitGroup
	)
	probe := func(id, want string, changed time.Time) {
		defer probes.Done()
		req, _ := http.NewRequest(http.MethodGet, url+"?echo=1", nil)
		req.Header.Set("Cookie", "theme=dark; "+sessionCookie+"="+id)
		for time.Since(changed) < 5*time.Second && ctx.Err() == nil {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body) //nolint:errcheck
				resp.Body.Close()
				if resp.Header.Get("X-Bench-Tier") == want {
					mu.Lock()
					samples = append(samples, float64(time.Since(changed).Microseconds())/1000)
					mu.Unlock()
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
		if ctx.Err() == nil { // never seen: counted, not dropped
			mu.Lock()
			samples = append(samples, float64(time.Since(changed).Microseconds())/1000)
			mu.Unlock()
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second / time.Duration(manyCustomers/100))
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			i := (n * 7919) % manyCustomers
			tier := fmt.Sprintf("tier-%d", n)
			if err := c.HSet(ctx, "session:"+manyID(i), "tier", tier).Err(); err != nil {
				continue
			}
			if n%10 == 0 {
				probes.Add(1)
				go probe(manyID(i), tier, time.Now())
			}
		}
	}()
	return func() []float64 {
		cancel()
		<-done
		probes.Wait()
		c.Close()
		mu.Lock()
		defer mu.Unlock()
		return samples
	}
}

// seedCustomers stores the many customers' sessions in Redis.
func seedCustomers(ctx context.Context, addr string, n int) error {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	tiers := []string{"gold", "silver", "bronze"}
	names := []string{"Dana", "Ade", "Mika", "Jo", "Sam", "Noor", "Ilse", "Tom"}
	for start := 0; start < n; start += 1000 {
		pipe := c.Pipeline()
		for i := start; i < min(start+1000, n); i++ {
			pipe.HSet(ctx, "session:"+manyID(i), "customer_id", manyCustomer(i), "first_name", names[i%len(names)],
				"tier", tiers[i%len(tiers)], "email", fmt.Sprintf("c%05d@example.com", i))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("seeding %d sessions: %w", n, err)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// wrk.

type wrkResult struct {
	rps, p50, p99 float64 // requests/s, milliseconds
	requests      float64
	errors        float64 // non-2xx/3xx responses and socket errors
	raw           string
}

var (
	reRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reTotal   = regexp.MustCompile(`(\d+) requests in`)
	reLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	reNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reSocket  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// wrkLoad is what wrk sends: fixed headers, or a Lua script that makes
// every request.
type wrkLoad struct {
	headers []string
	script  string // path
}

func runWrk(ctx context.Context, url string, d time.Duration, threads, conns int, load wrkLoad) (wrkResult, error) {
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(int(math.Ceil(d.Seconds()))) + "s", "--latency", "--timeout", "5s"}
	for _, h := range load.headers {
		args = append(args, "-H", h)
	}
	if load.script != "" {
		args = append(args, "-s", load.script)
	}
	args = append(args, url)
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	res := wrkResult{raw: string(out)}
	if err != nil {
		return res, fmt.Errorf("wrk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	m := reRPS.FindStringSubmatch(res.raw)
	if m == nil {
		return res, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	res.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := reTotal.FindStringSubmatch(res.raw); m != nil {
		res.requests, _ = strconv.ParseFloat(m[1], 64)
	}
	for _, m := range reLatency.FindAllStringSubmatch(res.raw, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if m[1] == "50" {
			res.p50 = v
		} else {
			res.p99 = v
		}
	}
	if m := reNon2xx.FindStringSubmatch(res.raw); m != nil {
		n, _ := strconv.ParseFloat(m[1], 64)
		res.errors += n
	}
	if m := reSocket.FindStringSubmatch(res.raw); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseFloat(s, 64)
			res.errors += n
		}
	}
	return res, nil
}

// cpuTime is the user+system CPU time a process has used so far.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may contain spaces: fields are
	// counted after its closing parenthesis. utime and stime are fields
	// 14 and 15 of the line, in clock ticks (USER_HZ, 100 on Linux).
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func median(xs []float64) float64 {
	xs = slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(xs) == 0 {
		return math.NaN()
	}
	s := xs
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ---------------------------------------------------------------------------
// bench run.

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	bin := fs.String("frontdoor", "", "the frontdoor binary (required)")
	rounds := fs.Int("rounds", 5, "interleaved rounds")
	dur := fs.Duration("duration", 10*time.Second, "wrk duration per configuration and round")
	threads := fs.Int("threads", 2, "wrk threads")
	conns := fs.Int("connections", 64, "wrk connections")
	out := fs.String("out", "", "directory for logs and the profile (default: a temp dir)")
	only := fs.String("only", "", "comma-separated configuration keys to run (default: all but the optional a, bt and dg)")
	profile := fs.String("profile", "b512,d,m", "comma-separated configurations to take a CPU profile of under load (\"\": none)")
	profileFor := fs.Duration("profile-seconds", 5*time.Second, "how long each CPU profile runs (a longer one tells apart costs of a microsecond a request)")
	fs.StringVar(&gatewayCPUs, "gateway-cpus", "", "CPU list (taskset -c syntax) each gateway runs on; run.sh runs this process, and so wrk, the backend and redis-server, on the others (\"\": all share every CPU)")
	fs.Parse(args) //nolint:errcheck // ExitOnError
	if *bin == "" {
		return errors.New("-frontdoor is required")
	}
	if gatewayCPUs != "" && cpuCount(gatewayCPUs) == 0 {
		return fmt.Errorf("-gateway-cpus %q: want a taskset -c list such as 0 or 0-3", gatewayCPUs)
	}
	if *rounds < 1 || *rounds > 20 || *dur < time.Second || *dur > time.Minute {
		return fmt.Errorf("rounds %d (1..20) and duration %s (1s..1m) keep the run bounded", *rounds, *dur)
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk not found: apt-get install wrk")
	}
	if *out == "" {
		d, err := os.MkdirTemp("", "frontdoor-bench-")
		if err != nil {
			return err
		}
		*out = d
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}

	backend, err := startServer("127.0.0.1:0", backendHandler("bench"))
	if err != nil {
		return err
	}
	defer backend.close()
	rs, err := startRedis(*out)
	if err != nil {
		return err
	}
	defer rs.stop()

	var cfgs []*benchConfig
	many, headers := false, false
	for _, c := range configs() {
		if *only == "" && !c.optional || slices.Contains(strings.Split(*only, ","), c.key) {
			cfgs = append(cfgs, c)
			many = many || c.many
			headers = headers || c.key == "bh"
		}
	}
	var added []string
	if headers {
		if added, err = addedHeaders(*bin, *out, backend, rs); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "frontdoor adds %d request headers to d's requests:\n  %s\n", len(added), strings.Join(added, "\n  "))
	}
	cookie := "Cookie: theme=dark; " + sessionCookie + "=" + sessionID
	script := filepath.Join(*out, "customers.lua")
	if many {
		if err := seedCustomers(ctx, rs.addr, manyCustomers); err != nil {
			return err
		}
		if err := os.WriteFile(script, []byte(customersScript(manyCustomers)), 0o600); err != nil {
			return err
		}
	}
	for _, c := range cfgs {
		if c.site == nil {
			c.url = backend.url() + c.path
			continue
		}
		g, err := startGateway(*bin, *out, "cfg-"+c.key, c.global, c.site(backend.url(), rs.url(), added), c.env...)
		if err != nil {
			return err
		}
		c.gw, c.url = g, g.url+c.path
	}
	// Each configuration does what it says before it is measured.
	for _, c := range cfgs {
		req, _ := http.NewRequest(http.MethodGet, c.url+"?echo=1", nil)
		switch {
		case c.cookie:
			req.Header.Set("Cookie", strings.TrimPrefix(cookie, "Cookie: "))
		case c.many:
			req.Header.Set("Cookie", "theme=dark; "+sessionCookie+"="+manyID(checkedCustomer))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("%s: %w", c.key, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: status %d", c.key, resp.StatusCode)
		}
		if c.check != nil {
			if err := c.check(resp, string(body)); err != nil {
				return fmt.Errorf("configuration %s is not what it claims: %w", c.key, err)
			}
		}
	}

	headersFor := func(c *benchConfig) wrkLoad {
		switch {
		case c.cookie:
			return wrkLoad{headers: []string{cookie}}
		case c.many:
			return wrkLoad{script: script}
		}
		return wrkLoad{}
	}
	fmt.Fprintf(os.Stderr, "warming up %d configurations (load average %s)...\n", len(cfgs), loadavg())
	for _, c := range cfgs {
		if _, err := runWrk(ctx, c.url, time.Second, *threads, *conns, headersFor(c)); err != nil {
			return err
		}
	}
	for round := 1; round <= *rounds; round++ {
		// Interleaved, and in a different order each round, so that a
		// noisy neighbour spreads over every configuration.
		order := slices.Clone(cfgs)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, c := range order {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			resume, err := readyToMeasure(ctx, cfgs, c)
			if err != nil {
				return err
			}
			var cpu0 time.Duration
			if c.gw != nil {
				cpu0 = cpuTime(c.gw.pid())
			}
			var stopChurn func() []float64
			if c.churn {
				stopChurn = churn(ctx, rs.addr, c.url)
			}
			began := time.Now()
			r, err := runWrk(ctx, c.url, *dur, *threads, *conns, headersFor(c))
			wall := time.Since(began)
			if stopChurn != nil {
				c.staleness = append(c.staleness, stopChurn()...)
			}
			resume()
			if err != nil {
				return err
			}
			cpuUS, busy := math.NaN(), math.NaN()
			if c.gw != nil && r.requests > 0 {
				used := cpuTime(c.gw.pid()) - cpu0
				cpuUS = float64(used.Microseconds()) / r.requests
				busy = used.Seconds() / (wall.Seconds() * float64(gatewayCPUCount()))
			}
			c.cpuPerReq = append(c.cpuPerReq, cpuUS)
			c.busy = append(c.busy, busy)
			c.rps = append(c.rps, r.rps)
			c.p50 = append(c.p50, r.p50)
			c.p99 = append(c.p99, r.p99)
			c.errs = append(c.errs, r.errors)
			cpuText := "    –          "
			if !math.IsNaN(cpuUS) {
				cpuText = fmt.Sprintf("%5.0f µs/req %3.0f%%", cpuUS, busy*100)
			}
			fmt.Fprintf(os.Stderr, "round %d/%d %-4s %9.0f req/s  p50 %6.2fms  p99 %6.2fms  errors %.0f  gateway CPU %s busy  load %s\n",
				round, *rounds, c.key, r.rps, r.p50, r.p99, r.errors, cpuText, loadavg())
		}
	}

	profiles := map[string]string{}
	for _, c := range cfgs {
		if c.gw != nil && slices.Contains(strings.Split(*profile, ","), c.key) {
			resume, err := readyToMeasure(ctx, cfgs, c)
			if err != nil {
				return err
			}
			path, err := captureProfile(ctx, c, *out, *profileFor, *threads, *conns, headersFor(c))
			resume()
			if err != nil {
				fmt.Fprintln(os.Stderr, "profile:", err)
				continue
			}
			profiles[c.key] = path
		}
	}

	printTable(cfgs, *rounds, *dur, *threads, *conns)
	printSignatureFloor(cfgs)
	for _, c := range cfgs {
		prof := profiles[c.key]
		if prof == "" {
			continue
		}
		fmt.Printf("\nCPU profile of configuration %s (%s under load): %s\n", c.key, *profileFor, prof)
		fmt.Println("```")
		fmt.Println(pprofTop(prof, 15))
		fmt.Println("```")
	}
	fmt.Printf("\nLogs: %s\n", *out)
	return nil
}

// captureProfile runs wrk against c for the profile's length and 3 s
// more and takes a CPU profile of its gateway in the middle of it. It
// prints wrk's rate, so that a profile's seconds can be read as CPU time
// per request.
func captureProfile(ctx context.Context, c *benchConfig, out string, length time.Duration, threads, conns int, load wrkLoad) (string, error) {
	done := make(chan error, 1)
	go func() {
		r, err := runWrk(ctx, c.url, length+3*time.Second, threads, conns, load)
		if err == nil {
			fmt.Fprintf(os.Stderr, "profile of %s: %.0f req/s under wrk while it ran\n", c.key, r.rps)
		}
		done <- err
	}()
	time.Sleep(1500 * time.Millisecond)
	client := &http.Client{Timeout: length + 30*time.Second}
	resp, err := client.Get("http://" + c.gw.admin + "/debug/pprof/profile?seconds=" + strconv.Itoa(int(math.Ceil(length.Seconds()))))
	if err != nil {
		<-done
		return "", err
	}
	defer resp.Body.Close()
	path := filepath.Join(out, "cpu-"+c.key+".pprof")
	f, err := os.Create(path)
	if err != nil {
		<-done
		return "", err
	}
	_, err = io.Copy(f, resp.Body)
	f.Close()
	if werr := <-done; err == nil {
		err = werr
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("profile: status %d", resp.StatusCode)
	}
	return path, err
}

// pprofTop returns the header of `go tool pprof -top` and two views of
// the profile: its first n entries by flat time, whatever their package
// (where the CPU goes), and the first n by cumulative time that belong to
// this module (what frontdoor's own code leads to).
func pprofTop(path string, n int) string {
	var b strings.Builder
	for i, view := range []struct{ flag, title, filter string }{
		{"-flat", "by flat time, every package", ""},
		{"-cum", "by cumulative time, frontdoor's packages", "frontdoor-dev/frontdoor"},
	} {
		out, err := exec.Command("go", "tool", "pprof", "-top", view.flag, "-nodefraction=0", path).CombinedOutput()
		if err != nil {
			return fmt.Sprintf("go tool pprof: %v\n%s", err, out)
		}
		var head, rows []string
		inTable := false
		for _, line := range strings.Split(string(out), "\n") {
			switch {
			case strings.Contains(line, "flat%") && strings.Contains(line, "cum%"):
				inTable = true
				head = append(head, line)
			case !inTable:
				if i == 0 && strings.HasPrefix(line, "Duration") {
					head = append([]string{line}, head...)
				}
			case strings.Contains(line, view.filter) && len(rows) < n:
				rows = append(rows, line)
			}
		}
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Top %d %s:\n%s\n", n, view.title, strings.Join(append(head, rows...), "\n"))
	}
	return strings.TrimRight(b.String(), "\n")
}

// printPlacement says where the gateways ran and how busy each kept its
// CPUs: pinned, a row whose gateway was not near 100% busy was limited by
// the load side (wrk, the backend, Redis), and its ratio flatters it.
func printPlacement(cfgs []*benchConfig) {
	fmt.Println()
	if gatewayCPUs == "" {
		fmt.Printf("Placement: gateways, wrk, the backend and redis-server share all %d CPUs (PIN=0).\n", runtime.NumCPU())
	} else {
		fmt.Printf("Placement: each gateway on CPUs %s (taskset; GOMAXPROCS %d), wrk, the backend and redis-server on CPUs %s.\n",
			gatewayCPUs, gatewayCPUCount(), allowedCPUs())
	}
	var parts, limited []string
	for _, c := range cfgs {
		b := median(c.busy)
		if math.IsNaN(b) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%", c.key, b*100))
		if gatewayCPUs != "" && b < 0.9 {
			limited = append(limited, c.key)
		}
	}
	fmt.Printf("Gateway busy (its CPU time over the round's wall time and its CPUs, medians): %s.\n", strings.Join(parts, ", "))
	if len(limited) > 0 {
		fmt.Printf("Load-bound (below 90%% busy: the load side was the limit, and the ratio flatters the gateway): %s.\n", strings.Join(limited, ", "))
	}
}

// allowedCPUs is the CPU list this process may run on, as the kernel
// reports it.
func allowedCPUs() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func machine() string {
	cpu := "unknown"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	gov, _ := exec.Command("go", "version").Output()
	wrkV, _ := exec.Command("wrk", "-v").CombinedOutput()
	online, _ := os.ReadFile("/sys/devices/system/cpu/online")
	return fmt.Sprintf("CPUs %s · %s · %s · kernel %s · %s · load average %s at the end",
		strings.TrimSpace(string(online)), cpu, strings.TrimSpace(string(gov)), strings.TrimSpace(string(kernel)),
		strings.TrimSpace(strings.SplitN(string(wrkV), "\n", 2)[0]), loadavg())
}

// target is one of issue 13's targets, checked on the medians.
type target struct {
	key  string // the row it belongs to
	text string // what it asks and what was measured
	ok   bool
}

// ratioTargets are the targets that compare a row's req/s with its
// baseline's: the defaults (d) with bare Caddy, whose p99 must also stay
// within 1 ms of bare Caddy's; the many-customers rows with bare Caddy
// under the same wrk script (bm); the banner with the same page without it.
var ratioTargets = []struct {
	key, base string
	want      float64
}{
	{"d", "b512", 0.9}, {"m", "bm", 0.85}, {"mc", "bm", 0.85}, {"e", "bm", 0.8}, {"f", "f0", 0.9},
}

// targets checks the medians against the targets: the defaults (d) at
// 0.90× bare Caddy with its p99 within 1 ms, many customers (m) and the
// uncached context (e) at 0.80× (many customers against bare Caddy under
// the same wrk script, bm), the banner (f) at 0.90× of the same page
// without it (f0), and beyond: the defaults at 1.0× stock Caddy (b).
func targets(by map[string]*benchConfig) []target {
	rps := func(k string) float64 {
		if c := by[k]; c != nil {
			return median(c.rps)
		}
		return math.NaN()
	}
	p99 := func(k string) float64 {
		if c := by[k]; c != nil {
			return median(c.p99)
		}
		return math.NaN()
	}
	var ts []target
	for _, tp := range ratioTargets {
		r := rps(tp.key) / rps(tp.base)
		if math.IsNaN(r) || math.IsInf(r, 0) {
			continue
		}
		switch tp.base {
		case "b512":
			limit := p99("b512") + 1
			ts = append(ts, target{tp.key, fmt.Sprintf("%s ≥ %.2f× b512 and p99 ≤ %.2f ms (b512's + 1): %.2f×, p99 %.2f ms",
				tp.key, tp.want, limit, r, p99(tp.key)), r >= tp.want && p99(tp.key) <= limit})
		case "bm":
			ts = append(ts, target{tp.key, fmt.Sprintf("%s ≥ %.2f× bm (b512 under the same wrk script): %.2f× (%.2f× b512)",
				tp.key, tp.want, r, rps(tp.key)/rps("b512")), r >= tp.want})
		default:
			ts = append(ts, target{tp.key, fmt.Sprintf("%s ≥ %.2f× %s: %.2f×", tp.key, tp.want, tp.base, r), r >= tp.want})
		}
	}
	if c := by["mc"]; c != nil && len(c.staleness) > 0 {
		st := slices.Sorted(slices.Values(c.staleness))
		p50, p99 := st[len(st)/2], st[min(len(st)-1, len(st)*99/100)]
		ts = append(ts, target{"mc", fmt.Sprintf("mc: a rewritten context seen within 100 ms (p99 of %d probed changes): p50 %.1f ms, p99 %.1f ms, max %.1f ms",
			len(st), p50, p99, st[len(st)-1]), p99 <= 100})
	}
	if r := rps("d") / rps("b"); !math.IsNaN(r) && !math.IsInf(r, 0) {
		ts = append(ts, target{"d", fmt.Sprintf("beyond: d ≥ 1.00× stock Caddy b: %.2f×", r), r >= 1})
	}
	return ts
}

func printTable(cfgs []*benchConfig, rounds int, dur time.Duration, threads, conns int) {
	by := map[string]*benchConfig{}
	for _, c := range cfgs {
		by[c.key] = c
	}
	base := by["b512"]
	ts := targets(by)
	fmt.Printf("\n## frontdoor overhead: wrk -t%d -c%d, %d interleaved rounds × %s, medians\n\n", threads, conns, rounds, dur)
	fmt.Println("Machine:", machine())
	fmt.Println()
	fmt.Println("| config | what | req/s | p50 ms | p99 ms | errors | gateway CPU µs/req | × b512 | target |")
	fmt.Println("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, c := range cfgs {
		rps, p50, p99 := median(c.rps), median(c.p50), median(c.p99)
		var errs float64
		for _, e := range c.errs {
			errs += e
		}
		ratio := "–"
		if base != nil && median(base.rps) > 0 {
			ratio = fmt.Sprintf("%.2f×", rps/median(base.rps))
		}
		var cell []string
		for _, t := range ts {
			if t.key == c.key {
				cell = append(cell, t.text+" "+passMiss(t.ok))
			}
		}
		cpu := "–"
		if v := median(c.cpuPerReq); !math.IsNaN(v) {
			cpu = fmt.Sprintf("%.0f", v)
		}
		fmt.Printf("| %s | %s | %.0f | %.2f | %.2f | %.0f | %s | %s | %s |\n", c.key, c.desc, rps, p50, p99, errs, cpu, ratio,
			strings.Join(cell, "; "))
	}
	fmt.Println()
	fmt.Println("gateway CPU µs/req: user+system CPU time of the gateway process during the round divided by the")
	fmt.Println("requests wrk completed: the cost per request, less sensitive to a noisy neighbour than req/s.")
	printPlacement(cfgs)
	if len(ts) > 0 {
		fmt.Println()
		fmt.Println("Targets:")
		for _, t := range ts {
			fmt.Printf("- %s: %s\n", t.text, passMiss(t.ok))
		}
	}
	fmt.Println()
	fmt.Println("Per round (req/s):")
	for _, c := range cfgs {
		var rs []string
		for _, r := range c.rps {
			rs = append(rs, fmt.Sprintf("%.0f", r))
		}
		fmt.Printf("- %s: %s\n", c.key, strings.Join(rs, ", "))
	}
	printPairs(by)
}

// printPairs shows each target's comparison round by round: the host's
// speed drifts between rounds (on a shared machine by a third), so the
// ratio within a round, and the ratio of the gateways' CPU per request,
// say what the medians of req/s cannot on a noisy host. They inform; the
// targets stay on the medians.
func printPairs(by map[string]*benchConfig) {
	var lines []string
	for _, p := range ratioTargets {
		c, base := by[p.key], by[p.base]
		if c == nil || base == nil {
			continue
		}
		var perRound []float64
		var texts []string
		for i := range min(len(c.rps), len(base.rps)) {
			r := c.rps[i] / base.rps[i]
			perRound = append(perRound, r)
			texts = append(texts, fmt.Sprintf("%.2f", r))
		}
		cpu := median(base.cpuPerReq) / median(c.cpuPerReq)
		lines = append(lines, fmt.Sprintf("- %s/%s: %s (median %.2f×); CPU per request %.2f× (%.0f against %.0f µs)",
			p.key, p.base, strings.Join(texts, ", "), median(perRound), cpu, median(c.cpuPerReq), median(base.cpuPerReq)))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Println()
	fmt.Println("Targets round by round (req/s ratio within each round), and by CPU per request (the baseline's over the row's):")
	for _, l := range lines {
		fmt.Println(l)
	}
}

// printSignatureFloor puts the cost of signing one assertion next to bare
// Caddy's whole cost per request: their ratio bounds what a gateway that
// signs for every request (d0, m0: reuse 0s) can reach however lean the
// rest is, and is what reuse saves on every request it serves from its
// cache.
func printSignatureFloor(cfgs []*benchConfig) {
	bare := math.NaN()
	for _, c := range cfgs {
		if c.key == "b512" {
			bare = median(c.cpuPerReq)
		}
	}
	sign, alg, err := measureSigning()
	if err != nil {
		fmt.Fprintln(os.Stderr, "measuring the signature:", err)
		return
	}
	fmt.Printf("\nSignature floor: one %s assertion as d0 and m0 sign it for every request (go-jose, measured here after the rounds, one\n", alg)
	fmt.Printf("goroutine, median of 5 × 2000) costs %.1f µs of CPU.", sign)
	if !math.IsNaN(bare) && bare > 0 {
		fmt.Printf(" Bare Caddy's gateway needed %.0f µs per request, so a gateway\n", bare)
		fmt.Printf("that signs for every request needs at least %.0f µs and, where the gateway's CPU is the limit, carries\n", bare+sign)
		fmt.Printf("at most %.2f× bare Caddy's requests before any other work (routing, headers, metrics, context).\n", bare/(bare+sign))
	} else {
		fmt.Println()
	}
}

// measureSigning times the default (ephemeral) signer on claims shaped
// like configuration d's, and returns the median cost of one signature.
func measureSigning() (float64, string, error) {
	signer, err := assertion.NewEphemeralSigner()
	if err != nil {
		return 0, "", err
	}
	claims := assertion.Claims{Issuer: "Acme Outdoor", Audience: "nightdesk", Subject: "cust-42",
		ID: "bS1Jk0Rxq8Cq2fV3pWd5Ug", Journey: "support", Session: assertion.SessionFound,
		Context: []assertion.Field{{Name: "customer_id", Value: "cust-42"}, {Name: "first_name", Value: "Ada"}, {Name: "tier", Value: "gold"}}}
	const n = 2000
	var perSign []float64
	for range 5 {
		start := time.Now()
		for range n {
			if _, err := signer.Sign(claims, time.Now()); err != nil {
				return 0, "", err
			}
		}
		perSign = append(perSign, float64(time.Since(start).Microseconds())/n)
	}
	return median(perSign), signer.Algorithm(), nil
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// ---------------------------------------------------------------------------
// bench soak.

func runSoak(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	bin := fs.String("frontdoor", "", "the frontdoor binary (required)")
	dur := fs.Duration("duration", 600*time.Second, "how long to soak")
	flap := fs.Duration("flap", 30*time.Second, "period of the Redis and vendor outages")
	sample := fs.Duration("sample", 10*time.Second, "sampling interval")
	workers := fs.Int("workers", 16, "concurrent clients")
	pace := fs.Duration("pace", 5*time.Millisecond, "pause between two requests of a client")
	out := fs.String("out", "", "directory for the CSV and logs (default: a temp dir)")
	fs.Parse(args) //nolint:errcheck // ExitOnError
	if *bin == "" {
		return errors.New("-frontdoor is required")
	}
	if *dur < 30*time.Second || *dur > 24*time.Hour {
		return fmt.Errorf("duration %s: between 30s and 24h", *dur)
	}
	if *out == "" {
		d, err := os.MkdirTemp("", "frontdoor-soak-")
		if err != nil {
			return err
		}
		*out = d
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}

	inhouse, err := startServer("127.0.0.1:0", backendHandler("care-team"))
	if err != nil {
		return err
	}
	defer inhouse.close()
	vendor, err := startServer("127.0.0.1:0", backendHandler("nightdesk"))
	if err != nil {
		return err
	}
	defer vendor.close()
	rs, err := startRedis(*out)
	if err != nil {
		return err
	}
	defer rs.stop()

	site := "\tfrontdoor {\n" + brandBlock + sessionBlock(rs.url(), "2s") + fmt.Sprintf(`
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %[1]s
				context customer_id first_name tier
			}
			backend care-team {
				owner in-house
				to %[2]s
				context customer_id first_name tier email
			}
		}
		journey pages /pages* {
			backend nightdesk-pages {
				owner outsourced
				vendor "NightDesk BPO"
				to %[1]s
				context customer_id
			}
		}
		journey account /account* {
			backend account {
				owner in-house
				to %[2]s
				context customer_id email
			}
		}
		journey checkout /checkout* {
			on_error closed
			backend shop {
				owner in-house
				to %[2]s
				context customer_id
			}
		}
	}
	respond "brand home"`, vendor.url(), inhouse.url())
	gw, err := startGateway(*bin, *out, "soak", "", site)
	if err != nil {
		return err
	}
	defer kill(gw.cmd)

	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	start := time.Now()
	stats := newSoakStats()
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			soakClient(ctx, gw.url, w, *pace, stats)
		}()
	}

	// Flapping: within each period, Redis is down from 1/3 to 2/3 of it
	// and the vendor from 1/2 to 5/6, so that both are sometimes down at
	// once.
	var flaps atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		p := *flap
		type event struct {
			at time.Duration
			do func()
		}
		for cycle := 0; ; cycle++ {
			base := time.Duration(cycle) * p
			for _, e := range []event{
				{base + p/3, func() { rs.stop(); flaps.Add(1) }},
				{base + p/2, func() { vendor.close() }},
				{base + 2*p/3, func() {
					if err := rs.start(); err != nil {
						fmt.Fprintln(os.Stderr, "restarting redis:", err)
					}
				}},
				{base + 5*p/6, func() {
					if err := vendor.start(); err != nil {
						fmt.Fprintln(os.Stderr, "restarting vendor:", err)
					}
				}},
			} {
				select {
				case <-ctx.Done():
					// Leave everything up for the last sample.
					_ = vendor.start()
					if !rs.up {
						_ = rs.start()
					}
					return
				case <-time.After(time.Until(start.Add(e.at))):
					e.do()
				}
			}
		}
	}()

	csvPath := filepath.Join(*out, "soak.csv")
	csv, err := os.Create(csvPath)
	if err != nil {
		return err
	}
	defer csv.Close()
	fmt.Fprintln(csv, "seconds,rss_kb,goroutines,requests,transport_errors,status_2xx,status_4xx,status_5xx,redis_outages,max_latency_ms,loadavg1")
	var samples []soakSample
	take := func() {
		s := soakSample{at: time.Since(start)}
		s.rssKB, err = rssKB(gw.pid())
		if err != nil {
			fmt.Fprintln(os.Stderr, "rss:", err)
		}
		s.goroutines, err = goroutines(gw.admin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "goroutines:", err)
		}
		s.requests, s.errs, s.s2xx, s.s4xx, s.s5xx = stats.totals()
		maxLat := stats.takeIntervalMax()
		samples = append(samples, s)
		load := loadavg()
		fmt.Fprintf(csv, "%.0f,%d,%d,%d,%d,%d,%d,%d,%d,%d,%s\n", s.at.Seconds(), s.rssKB, s.goroutines,
			s.requests, s.errs, s.s2xx, s.s4xx, s.s5xx, flaps.Load(), maxLat.Milliseconds(), load)
		fmt.Fprintf(os.Stderr, "%4.0fs rss %7d kB goroutines %5d requests %8d errors %d 5xx %d max latency %s load %s\n",
			s.at.Seconds(), s.rssKB, s.goroutines, s.requests, s.errs, s.s5xx, maxLat.Round(time.Millisecond), load)
	}
	ticker := time.NewTicker(*sample)
	defer ticker.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-ticker.C:
			take()
		}
	}
	wg.Wait()
	// And once the load has stopped, with Redis and the vendor up: what
	// is left then and was not there after the first minute has leaked.
	time.Sleep(2 * time.Second)
	take()
	if gw.cmd.ProcessState != nil {
		return fmt.Errorf("the gateway exited during the soak: %v", gw.cmd.ProcessState)
	}
	return reportSoak(samples, csvPath, stats, flaps.Load())
}

type soakSample struct {
	at                               time.Duration
	rssKB                            int64
	goroutines                       int
	requests, errs, s2xx, s4xx, s5xx int64
}

type soakStats struct {
	mu          sync.Mutex
	codes       map[int]int64
	errs        int64
	errKinds    map[string]int64
	maxLat      time.Duration
	intervalMax time.Duration // since the last sample
}

// takeIntervalMax returns the highest latency of an answered request since
// the last call.
func (s *soakStats) takeIntervalMax() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.intervalMax
	s.intervalMax = 0
	return m
}

// loadavg is the machine's 1-minute load average, to tell a noisy
// neighbour from the gateway's own trouble.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.Fields(string(b))[0]
}

func newSoakStats() *soakStats {
	return &soakStats{codes: map[int]int64{}, errKinds: map[string]int64{}}
}

func (s *soakStats) add(status int, err error, lat time.Duration, expectCancel bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if expectCancel && errors.Is(err, context.DeadlineExceeded) {
			s.codes[-1]++ // a client that gave up on purpose
			return
		}
		s.errs++
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		s.errKinds[msg]++
		return
	}
	s.codes[status]++
	s.maxLat = max(s.maxLat, lat)
	s.intervalMax = max(s.intervalMax, lat)
}

func (s *soakStats) totals() (requests, errs, s2xx, s4xx, s5xx int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, n := range s.codes {
		requests += n
		switch {
		case c >= 200 && c < 400:
			s2xx += n
		case c >= 400 && c < 500:
			s4xx += n
		case c >= 500:
			s5xx += n
		}
	}
	return requests + s.errs, s.errs, s2xx, s4xx, s5xx
}

// soakClient sends a mix of requests until ctx ends: mostly GETs that fail
// over to the in-house team when the vendor is down, POSTs that never do,
// vendor HTML pages with the banner (some gzip), in-house pages with the
// session cookie, a checkout that fails closed when Redis is down, and
// clients that give up on a slow page.
func soakClient(ctx context.Context, base string, worker int, pace time.Duration, stats *soakStats) {
	tr := &http.Transport{MaxIdleConnsPerHost: 4, DialContext: (&net.Dialer{Timeout: 3 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	cookie := "theme=dark; " + sessionCookie + "=" + sessionID
	for i := worker; ctx.Err() == nil; i++ {
		method, path, body := http.MethodGet, "/support/text", ""
		timeout := 10 * time.Second
		headers := map[string]string{"Cookie": cookie}
		switch n := i % 50; {
		case n < 25:
		case n < 30:
			method, path, body = http.MethodPost, "/support/ticket", `{"subject":"help"}`
		case n < 37:
			path = "/pages/page"
			headers["Accept"] = "text/html"
		case n < 40:
			path = "/pages/page"
			headers["Accept-Encoding"] = "gzip"
		case n < 45:
			path = "/account/text"
		case n < 48:
			path = "/checkout/text"
		case n < 49:
			path = "/support/slow"
			timeout = 200 * time.Millisecond
		default:
			path = "/support/text"
			delete(headers, "Cookie")
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequestWithContext(rctx, method, base+path, rd)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		cancel()
		if ctx.Err() != nil {
			return // the soak is over; this request does not count
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		stats.add(status, err, time.Since(t0), timeout < time.Second)
		time.Sleep(pace)
	}
}

func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

// goroutines reads the first line of the admin endpoint's goroutine
// profile: "goroutine profile: total N".
func goroutines(admin string) (int, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, err
	}
	var n int
	if _, err := fmt.Sscanf(line, "goroutine profile: total %d", &n); err != nil {
		return 0, fmt.Errorf("%q: %w", line, err)
	}
	return n, nil
}

func reportSoak(samples []soakSample, csvPath string, stats *soakStats, outages int64) error {
	if len(samples) < 2 {
		return errors.New("too few samples")
	}
	// Baseline: the highest value sampled during the first minute (the
	// process has warmed up by then: pools filled, first outage seen).
	var baseRSS int64
	var baseG int
	for _, s := range samples {
		if s.at <= 61*time.Second || baseRSS == 0 {
			baseRSS = max(baseRSS, s.rssKB)
			baseG = max(baseG, s.goroutines)
		}
	}
	minR, maxR := samples[0].rssKB, samples[0].rssKB
	minG, maxG := samples[0].goroutines, samples[0].goroutines
	for _, s := range samples {
		minR, maxR = min(minR, s.rssKB), max(maxR, s.rssKB)
		minG, maxG = min(minG, s.goroutines), max(maxG, s.goroutines)
	}
	first, last := samples[0], samples[len(samples)-1]
	fmt.Printf("\n## soak: %s, %d samples, %d Redis outages (vendor down as often)\n\n", last.at.Round(time.Second), len(samples), outages)
	fmt.Println("| | min | max | first | last | first-minute baseline | last / baseline |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	fmt.Printf("| RSS kB | %d | %d | %d | %d | %d | %.2f× |\n", minR, maxR, first.rssKB, last.rssKB, baseRSS, float64(last.rssKB)/float64(baseRSS))
	fmt.Printf("| goroutines | %d | %d | %d | %d | %d | %.2f× |\n", minG, maxG, first.goroutines, last.goroutines, baseG, float64(last.goroutines)/float64(baseG))
	end := samples[len(samples)-2]
	fmt.Printf("\nLast sample under load (%s): RSS %d kB, %d goroutines; \"last\" is 2s after the load stopped.\n",
		end.at.Round(time.Second), end.rssKB, end.goroutines)
	stats.mu.Lock()
	codes := make([]int, 0, len(stats.codes))
	for c := range stats.codes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		name := strconv.Itoa(c)
		if c == -1 {
			name = "gave up (on purpose)"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, stats.codes[c]))
	}
	fmt.Printf("\nTraffic: %d requests: %s; transport errors %d", last.requests, strings.Join(parts, " "), stats.errs)
	for k, n := range stats.errKinds {
		fmt.Printf("\n  - %s ×%d", k, n)
	}
	fmt.Printf("\nMax latency of an answered request: %s\n", stats.maxLat.Round(time.Millisecond))
	stats.mu.Unlock()
	fmt.Println("CSV:", csvPath)

	// Checked: the last sample under load and the idle one after it.
	var fails []string
	for _, s := range samples[len(samples)-2:] {
		if float64(s.rssKB) > 1.5*float64(baseRSS) {
			fails = append(fails, fmt.Sprintf("RSS grew from %d kB to %d kB (> 50%%) at %s", baseRSS, s.rssKB, s.at.Round(time.Second)))
		}
		if float64(s.goroutines) > 2*float64(baseG) {
			fails = append(fails, fmt.Sprintf("goroutines grew from %d to %d (> 2×) at %s", baseG, s.goroutines, s.at.Round(time.Second)))
		}
	}
	if len(fails) > 0 {
		fmt.Println("\nFAIL:", strings.Join(fails, "; "))
		return errors.New(strings.Join(fails, "; "))
	}
	fmt.Println("\nPASS: RSS within 1.5× and goroutines within 2× of the first minute's baseline")
	return nil
}
