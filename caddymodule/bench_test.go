package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// The hot path, function by function and whole. BenchmarkServeHTTP runs
// bare Caddy reverse_proxy and frontdoor against the same loopback backend
// in one run, so their ratio is measured, not assumed:
//
//	go test -run '^$' -bench . -benchmem ./caddymodule/
//	go test -run '^$' -bench 'ServeHTTP' -cpuprofile cpu.out ./caddymodule/

// browserHeaders is what a browser sends on a navigation, plus one spoofed
// header of each form the scrubber must catch.
func browserHeaders() http.Header {
	return http.Header{
		"Accept":                    {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Encoding":           {"gzip, deflate, br"},
		"Accept-Language":           {"en-US,en;q=0.5"},
		"Cookie":                    {"acme_session=s3cr3t-session-id-0001; theme=dark"},
		"Sec-Fetch-Dest":            {"document"},
		"Sec-Fetch-Mode":            {"navigate"},
		"Upgrade-Insecure-Requests": {"1"},
		"User-Agent":                {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		"X-Frontdoor-Brand":         {"spoofed"},
		"X_frontdoor_journey":       {"spoofed"},
	}
}

func BenchmarkScrubReserved(b *testing.B) {
	template := browserHeaders()
	h := make(http.Header, len(template))
	b.ReportAllocs()
	for b.Loop() {
		for k, v := range template {
			h[k] = v
		}
		scrubReserved(h)
	}
}

func BenchmarkScrubReservedClean(b *testing.B) {
	h := browserHeaders()
	scrubReserved(h) // nothing left to remove: the common case
	b.ReportAllocs()
	for b.Loop() {
		scrubReserved(h)
	}
}

func BenchmarkPlan(b *testing.B) {
	// 15:00 UTC is 10:00 in New York: both backends are open, and both
	// schedules are evaluated.
	at := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	h := provisionHandler(b, `
		brand "Acme Outdoor"
		journey support /support* {
			backend care-team {
				owner in-house
				to 127.0.0.1:1
				hours "Mon-Fri 08:00-20:00" America/New_York
			}
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to 127.0.0.1:2
			}
		}`, at)
	j := h.routes[0]
	var buf [maxBackends]candidate
	b.ReportAllocs()
	for b.Loop() {
		if got := j.plan(at, "", buf[:]); len(got) != 2 {
			b.Fatalf("plan has %d backends, want 2", len(got))
		}
	}
}

// BenchmarkSignAssertion is the assertion of a known customer's request:
// "reused" a hit in the reuse cache (the default: the reuse key built,
// one map read under a read lock), "signed" a fresh ES256 token each time
// (reuse 0s).
func BenchmarkSignAssertion(b *testing.B) {
	site := `
		brand "Acme Outdoor"
		session {
			redis redis://127.0.0.1:1/0
			cookie acme_session
		}
		assertion {
			%s
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to 127.0.0.1:1
				context customer_id first_name tier
			}
		}`
	for _, bc := range []struct{ name, assertion string }{{"reused", ""}, {"signed", "reuse 0s"}} {
		b.Run(bc.name, func(b *testing.B) {
			h := provisionHandler(b, fmt.Sprintf(site, bc.assertion), monday10)
			j := h.routes[0]
			cc := customerContext{state: sessionFound, ctx: lookupTestContext(b, j.fields,
				"customer_id", "C-1001", "first_name", "Dana", "tier", "gold")}
			first, err := h.sign(j.backends[0], j.name, cc)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				token, err := h.sign(j.backends[0], j.name, cc)
				if err != nil || (h.tokens != nil && token != first) {
					b.Fatalf("token %q, %v", token, err)
				}
			}
		})
	}
}

// discardWriter is the cheapest http.ResponseWriter: what the benchmark
// measures is the handler, not a recorder's buffers.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkServeHTTP sends the same GET through bare reverse_proxy and
// through frontdoor with its defaults (an outsourced backend: brand
// headers, cookie filter, a reused assertion, banner check, metrics) to one
// loopback backend, and through frontdoor signing an assertion per request
// (assertion { reuse 0s }).
func BenchmarkServeHTTP(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello from the vendor\n")
	}))
	defer backend.Close()
	addr := strings.TrimPrefix(backend.URL, "http://")

	bare := &reverseproxy.Handler{
		Upstreams: reverseproxy.UpstreamPool{{Dial: addr}},
		TransportRaw: caddyconfigJSON(b, map[string]any{
			"protocol":   "http",
			"keep_alive": map[string]any{"max_idle_conns_per_host": 512},
		}),
	}
	if err := bare.Provision(testContext(b)); err != nil {
		b.Fatal(err)
	}
	defer bare.Cleanup()
	site := `
		brand "Acme Outdoor"
		contact {
			phone "+1 800 555 0100"
			email help@acme.example
			url https://acme.example/help
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to ` + addr + `
				context customer_id first_name tier
			}
		}`
	// Each is a config of its own: one config holds one journey per name.
	fd := provisionHandler(b, site, monday10)
	anotherConfig(fd)
	fdSigned := provisionHandler(b, site+"\nassertion {\n\treuse 0s\n}", monday10)
	anotherConfig(fdSigned)
	fdNoBodyBound := provisionHandler(b, strings.Replace(site, "context customer_id", "response_body_timeout 0\n\t\t\t\tcontext customer_id", 1), monday10)
	anotherConfig(fdNoBodyBound)
	fdAssertionOnly := provisionHandler(b, strings.Replace(site, "context customer_id", "headers assertion\n\t\t\t\tcontext customer_id", 1), monday10)

	noNext := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return nil
	})
	run := func(b *testing.B, handle func(w http.ResponseWriter, r *http.Request) error) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &discardWriter{header: make(http.Header)}
			for pb.Next() {
				clear(w.header)
				w.status = 0
				r := httptest.NewRequest(http.MethodGet, "http://shop.example.com/support/text", nil)
				r.Header = browserHeaders()
				r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
				if err := handle(w, r); err != nil {
					b.Fatal(err)
				}
				if w.status != 0 && w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		run(b, func(w http.ResponseWriter, r *http.Request) error { return bare.ServeHTTP(w, r, noNext) })
	})
	b.Run("frontdoor", func(b *testing.B) {
		run(b, func(w http.ResponseWriter, r *http.Request) error { return fd.ServeHTTP(w, r, noNext) })
	})
	b.Run("frontdoor-no-body-bound", func(b *testing.B) {
		run(b, func(w http.ResponseWriter, r *http.Request) error { return fdNoBodyBound.ServeHTTP(w, r, noNext) })
	})
	b.Run("frontdoor-assertion-only", func(b *testing.B) {
		run(b, func(w http.ResponseWriter, r *http.Request) error { return fdAssertionOnly.ServeHTTP(w, r, noNext) })
	})
	b.Run("frontdoor-signed", func(b *testing.B) {
		run(b, func(w http.ResponseWriter, r *http.Request) error { return fdSigned.ServeHTTP(w, r, noNext) })
	})
}

func caddyconfigJSON(b testing.TB, v any) json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkTokenCache: a busy brand's reuse cache on all cores, 12,000
// customers coming back in turn (the bench's "m" row has 10,000): a
// miss costs a signature (~50 µs) on the request.
func BenchmarkTokenCache(b *testing.B) {
	const customers = 12_000
	c := newTokenCache(time.Minute, maxReusedTokens)
	now := time.Now()
	keys := make([][]byte, customers)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "kid\x00support\x00nightdesk\x00found\x00customer-%08d", i)
		c.put(keys[i], "token", now)
	}
	var misses atomic.Int64
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := keys[(next.Add(1)*7919)%customers]
			if _, ok := c.get(key, now); !ok {
				misses.Add(1)
				c.put(key, "token", now)
			}
		}
	})
	b.ReportMetric(float64(misses.Load())/float64(b.N), "misses/op")
}

// BenchmarkServeHTTPManyCustomers is the shape of e2e/bench's "m" row: the
// defaults (context from a standalone Redis, client-side cached; the
// assertion only, reused) with each request from one of 10,000 customers
// picked at random, beside bare reverse_proxy to the same backend. Its
// CPU profile says where frontdoor's own time goes with many customers:
//
//	go test -run '^$' -bench ManyCustomers -benchtime 3s -cpuprofile cpu.out ./caddymodule/
func BenchmarkServeHTTPManyCustomers(b *testing.B) {
	const customers = 10_000
	srv := redistest.Start(b)
	client := srv.Client(b)
	ctx := context.Background()
	pipe := client.Pipeline()
	for i := range customers {
		pipe.HSet(ctx, fmt.Sprintf("session:many-%05d", i), "customer_id", fmt.Sprintf("C-%05d", i),
			"first_name", "Dana", "tier", "gold")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello from the vendor\n")
	}))
	defer backend.Close()
	addr := strings.TrimPrefix(backend.URL, "http://")
	bare := &reverseproxy.Handler{
		Upstreams: reverseproxy.UpstreamPool{{Dial: addr}},
		TransportRaw: caddyconfigJSON(b, map[string]any{
			"protocol":   "http",
			"keep_alive": map[string]any{"max_idle_conns_per_host": 512},
		}),
	}
	if err := bare.Provision(testContext(b)); err != nil {
		b.Fatal(err)
	}
	defer bare.Cleanup()
	fd := provisionHandler(b, `
		brand "Acme Outdoor"
		session {
			redis `+srv.URL()+`
			cookie acme_session
			key "session:{id}"
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to `+addr+`
				context customer_id first_name tier
				banner off
			}
		}`, time.Now())
	noNext := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	run := func(b *testing.B, handle func(w http.ResponseWriter, r *http.Request) error) {
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &discardWriter{header: make(http.Header)}
			for pb.Next() {
				clear(w.header)
				w.status = 0
				r := httptest.NewRequest(http.MethodGet, "http://shop.example.com/support/text", nil)
				r.Header = browserHeaders()
				r.Header["Cookie"] = []string{fmt.Sprintf("theme=dark; acme_session=many-%05d", (next.Add(1)*7919)%customers)}
				r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, &caddyhttp.Server{})
				if err := handle(w, r); err != nil {
					b.Fatal(err)
				}
				if w.status != 0 && w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		run(b, func(w http.ResponseWriter, r *http.Request) error { return bare.ServeHTTP(w, r, noNext) })
	})
	b.Run("frontdoor", func(b *testing.B) {
		run(b, func(w http.ResponseWriter, r *http.Request) error { return fd.ServeHTTP(w, r, noNext) })
	})
}

// BenchmarkBackendCookies is the Cookie header an outsourced backend gets
// from a customer with the brand's session and one other cookie: every
// part read for the brand's names in their spellings, the session left out.
func BenchmarkBackendCookies(b *testing.B) {
	jar := newCookieJar(&config.Journey{Name: "support", Paths: []string{"/support*"}},
		&config.Backend{Name: "nightdesk", Owner: config.Outsourced})
	brand := brandCookieNames("acme_session", "acme_csrf")
	lines := []string{"theme=dark; acme_session=s3cr3t-session-id-0001; consent=yes"}
	b.ReportAllocs()
	for b.Loop() {
		if out, _ := backendCookies(lines, jar, brand); len(out) != 1 || out[0] != "theme=dark; consent=yes" {
			b.Fatalf("backend cookies %q", out)
		}
	}
}
