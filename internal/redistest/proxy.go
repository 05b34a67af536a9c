package redistest

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy in front of a plain Server that can answer slowly
// on the connections that asked Redis to track the keys they read
// (CLIENT TRACKING ON), and at full speed on the others: what a client
// sees when its tracked connections' replies come late, as on a gateway
// whose CPU is saturated, without slowing Redis itself.
type Proxy struct {
	target       string
	ln           net.Listener
	trackedDelay atomic.Int64 // nanoseconds each reply on a tracked connection is held

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Proxy starts a proxy to the server, closed when the test ends.
func (s *Server) Proxy(t testing.TB) *Proxy {
	t.Helper()
	if s.tlsConfig != nil {
		t.Fatal("redistest: Proxy forwards plain servers only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: proxy listen: %v", err)
	}
	p := &Proxy{target: s.Addr, ln: ln, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL returns redis://address/0 of the proxy.
func (p *Proxy) URL() string { return "redis://" + p.ln.Addr().String() + "/0" }

// DelayTrackedReplies holds every reply to a tracked connection for d
// (0: none) before passing it on, from now on.
func (p *Proxy) DelayTrackedReplies(d time.Duration) { p.trackedDelay.Store(int64(d)) }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(client, server) {
			return
		}
		var tracked atomic.Bool
		p.wg.Add(2)
		go p.pipe(server, client, func(b []byte) {
			if bytes.Contains(bytes.ToUpper(b), []byte("TRACKING")) {
				tracked.Store(true)
			}
		}, nil)
		go p.pipe(client, server, nil, func() time.Duration {
			if tracked.Load() {
				return time.Duration(p.trackedDelay.Load())
			}
			return 0
		})
	}
}

// track registers a connection pair, or closes it if the proxy is closed.
func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// pipe copies from src to dst until either ends; seen looks at what the
// client sends, delay says how long to hold what the server sends.
func (p *Proxy) pipe(dst, src net.Conn, seen func([]byte), delay func() time.Duration) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if seen != nil {
				seen(buf[:n])
			}
			if delay != nil {
				if d := delay(); d > 0 {
					time.Sleep(d) // the late reply is what this proxy is for
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	p.wg.Wait()
}
