// Package redistest runs real redis-server processes for tests: a standalone
// server that can be stopped and restarted on the same port to simulate an
// outage, a Redis Cluster and a Sentinel. Nothing is mocked, because what
// matters is how the client the gateway really uses behaves against the
// server it really talks to (timeouts, reconnects, redirects).
//
// Every process listens on a free loopback port, keeps its files in a
// t.TempDir, persists nothing, and is killed by t.Cleanup.
package redistest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long a redis-server may take to answer PING.
const startTimeout = 15 * time.Second

// Server is a redis-server process owned by one test.
type Server struct {
	// Addr is the address the server listens on, "127.0.0.1:port".
	Addr string
	// Port is the port of Addr.
	Port int
	// Dir is the server's working directory, a t.TempDir.
	Dir string
	// CAFile is the PEM file of the certificate of a server started by
	// StartTLS, to trust; empty for plain servers.
	CAFile string

	tlsConfig *tls.Config // client side, trusting CAFile; nil for plain servers

	bin  string
	argv []string // complete argument list, reused by Restart
	log  string   // file receiving the server's stdout and stderr

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been reaped
	admin  *redis.Client // for CommandCalls and the cluster setup
}

// Start runs a standalone redis-server on a free loopback port and waits
// until it answers PING. Extra args are appended to the command line, so
// they override the defaults (e.g. "--requirepass", "secret"). The server
// is killed when the test ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	return launch(t, "redis", false, func(s *Server) []string {
		return append(baseArgs(s.Port, s.Dir), args...)
	})
}

// StartTLS is Start for a server that speaks TLS only, with a self-signed
// certificate for 127.0.0.1 and localhost (in CAFile) and no client
// certificates required. Its URL is rediss://.
func StartTLS(t testing.TB, args ...string) *Server {
	t.Helper()
	return launch(t, "redis-tls", false, func(s *Server) []string {
		cert, key, err := writeCert(s.Dir)
		if err != nil {
			t.Fatalf("redistest: making a TLS certificate: %v", err)
		}
		pool := x509.NewCertPool()
		pem, _ := os.ReadFile(cert)
		pool.AppendCertsFromPEM(pem)
		s.CAFile = cert
		s.tlsConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		argv := baseArgs(s.Port, s.Dir)
		argv[1] = "0" // no plain TCP port
		return append(argv,
			"--tls-port", strconv.Itoa(s.Port),
			"--tls-cert-file", cert,
			"--tls-key-file", key,
			"--tls-ca-cert-file", cert,
			"--tls-auth-clients", "no",
		)
	})
}

// baseArgs are the arguments every server in this package starts with: a
// loopback-only listener and no persistence, so a restarted server comes
// back empty, like a cache node that lost its memory.
func baseArgs(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", "",
	}
}

// launch starts a server on a free port, retrying with another port if the
// chosen one was taken in the meantime by another process. setup gets a
// Server with Addr, Port and Dir set, and returns the arguments. cluster
// asks for a port whose cluster bus port (+10000) is free too.
func launch(t testing.TB, name string, cluster bool, setup func(s *Server) []string) *Server {
	t.Helper()
	bin := serverBinary(t)
	var lastErr error
	for range 5 {
		port, err := freePort(cluster)
		if err != nil {
			t.Fatalf("redistest: finding a free port: %v", err)
		}
		dir := t.TempDir()
		s := &Server{
			Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Port: port,
			Dir:  dir,
			bin:  bin,
			log:  filepath.Join(dir, name+".log"),
		}
		s.argv = setup(s)
		if err := s.start(); err != nil {
			lastErr = err
			continue
		}
		t.Cleanup(s.shutdown)
		return s
	}
	t.Fatalf("redistest: starting %s: %v", name, lastErr)
	return nil
}

// serverBinary finds redis-server: $REDIS_SERVER if set, else $PATH.
func serverBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("REDIS_SERVER"); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redistest: redis-server not found in $PATH: these tests need a real Redis " +
			"(install it, e.g. apt-get install redis-server, or set REDIS_SERVER to its path)")
	}
	return bin
}

// freePort returns a loopback port that was free a moment ago. With
// cluster, port+10000 (the cluster bus) must be free as well.
func freePort(cluster bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !cluster {
			l.Close()
			return port, nil
		}
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		l.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port, nil
	}
	return 0, errors.New("no port with a free cluster bus port found")
}

// start runs the process and waits until it answers PING. On failure the
// process is gone and the error carries the end of its log.
func (s *Server) start() error {
	logFile, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.argv...)
	cmd.Dir = s.Dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("running %s: %w", s.bin, err)
	}
	logFile.Close() // the child has its own copy
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()

	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	if err := waitPing(s.Addr, s.tlsConfig, exited, startTimeout); err != nil {
		s.kill()
		return fmt.Errorf("%s on %s: %w\n%s", s.bin, s.Addr, err, s.logTail())
	}
	return nil
}

// waitPing polls addr with PING until it answers PONG, the process exits
// or the timeout passes. A server still loading its data answers -LOADING,
// which counts as not ready.
func waitPing(addr string, tlsConfig *tls.Config, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exited:
			return errors.New("exited before answering PING")
		default:
		}
		if ping(addr, tlsConfig) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %s", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping speaks just enough RESP to check that a server is up, without a
// client library and its pools and retries in the way.
func ping(addr string, tlsConfig *tls.Config) error {
	dialer := &net.Dialer{Timeout: 200 * time.Millisecond}
	var (
		conn net.Conn
		err  error
	)
	if tlsConfig != nil {
		conn, err = tls.DialWithDialer(dialer, "tcp", addr, tlsConfig)
	} else {
		conn, err = dialer.Dial("tcp", addr)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	// A server with requirepass answers -NOAUTH: it is up all the same.
	if strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH") {
		return nil
	}
	return fmt.Errorf("unexpected reply %q", strings.TrimSpace(line))
}

// logTail returns the last lines the server wrote, for failure messages.
func (s *Server) logTail() string {
	data, err := os.ReadFile(s.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "redis-server log:\n\t" + strings.Join(lines, "\n\t")
}

// kill sends SIGKILL and reaps the process; it is a no-op when the server
// is not running. SIGKILL rather than a clean SHUTDOWN because an outage is
// what Stop simulates: clients see connections reset, nothing is flushed.
func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// shutdown is the t.Cleanup of a server.
func (s *Server) shutdown() {
	s.mu.Lock()
	admin := s.admin
	s.admin = nil
	s.mu.Unlock()
	if admin != nil {
		_ = admin.Close()
	}
	s.kill()
}

// Stop kills the server, as in an outage: connections are reset and new
// ones are refused. Stopping a stopped server is a no-op.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.kill()
}

// Restart starts a stopped server again on the same port, empty (nothing is
// persisted), and waits until it answers PING. A running server is killed
// first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.kill()
	if err := s.start(); err != nil {
		t.Fatalf("redistest: restarting redis-server: %v", err)
	}
}

// URL returns the server's URL, redis://127.0.0.1:port/0, or rediss://
// for a server started by StartTLS.
func (s *Server) URL() string {
	if s.tlsConfig != nil {
		return "rediss://" + s.Addr + "/0"
	}
	return "redis://" + s.Addr + "/0"
}

// TLSConfig returns a client TLS configuration trusting a server started
// by StartTLS, or nil for a plain server.
func (s *Server) TLSConfig() *tls.Config {
	if s.tlsConfig == nil {
		return nil
	}
	return s.tlsConfig.Clone()
}

// Client returns a new go-redis client for the server, closed when the test
// ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: s.TLSConfig()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// adminClient is a client kept for the harness's own commands.
func (s *Server) adminClient() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		s.admin = redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: s.TLSConfig(), MaxRetries: 3})
	}
	return s.admin
}

// CommandCalls returns how many times the server executed cmd (e.g. "hmget")
// since it started or since ResetStats, from INFO commandstats. Comparing it
// before and after an operation shows whether that operation reached Redis.
func (s *Server) CommandCalls(t testing.TB, cmd string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := s.adminClient().Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatalf("redistest: INFO commandstats on %s: %v", s.Addr, err)
	}
	return parseCalls(info, cmd)
}

// parseCalls extracts the calls count of cmd from INFO commandstats, whose
// lines look like "cmdstat_hmget:calls=3,usec=12,...". A command never
// executed has no line: zero calls.
func parseCalls(info, cmd string) int64 {
	prefix := "cmdstat_" + strings.ToLower(cmd) + ":"
	for line := range strings.Lines(info) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix)
		if !ok {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
	}
	return 0
}

// ResetStats zeroes the server's statistics (CONFIG RESETSTAT), including
// the counts CommandCalls reads.
func (s *Server) ResetStats(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.adminClient().ConfigResetStat(ctx).Err(); err != nil {
		t.Fatalf("redistest: CONFIG RESETSTAT on %s: %v", s.Addr, err)
	}
}
