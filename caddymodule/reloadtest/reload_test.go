// Package reloadtest reloads a real Caddy config, in its own test binary
// (the running config is process-wide), while the secret shopper probes.
package reloadtest

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	_ "github.com/frontdoor-dev/frontdoor/caddymodule"
)

func init() {
	caddy.RegisterModule(watchTransport{})
}

var (
	// violations counts round trips of a transport Caddy had cleaned up
	// or was cleaning up.
	violations atomic.Int32
	// started receives the generation of each transport a round trip
	// starts in.
	started = make(chan int, 1000)
)

// watchTransport is a reverse_proxy transport that answers every round
// trip itself once its context ends, and tells the test when it is used
// after, or cleaned up during, a round trip.
type watchTransport struct {
	// Generation is the config the transport belongs to.
	Generation int `json:"generation"`

	inflight *atomic.Int32
	cleaned  *atomic.Bool
}

func (watchTransport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.transport.frontdoor_reload_watch",
		New: func() caddy.Module { return &watchTransport{inflight: new(atomic.Int32), cleaned: new(atomic.Bool)} },
	}
}

// RoundTrip holds the request until the probe run ends (the shopper's
// context is cancelled), like a vendor that takes its time.
func (t *watchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.cleaned.Load() {
		violations.Add(1)
	}
	t.inflight.Add(1)
	defer t.inflight.Add(-1)
	started <- t.Generation
	<-r.Context().Done()
	if t.cleaned.Load() {
		violations.Add(1)
	}
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: io.NopCloser(strings.NewReader("ok")), Request: r}, nil
}

// Cleanup marks the transport cleaned up; a round trip under way is a
// probe run that outlived its config's Stop.
func (t *watchTransport) Cleanup() error {
	t.cleaned.Store(true)
	if t.inflight.Load() > 0 {
		violations.Add(1)
	}
	return nil
}

func config(t *testing.T, listen string, generation int) []byte {
	t.Helper()
	proxy := map[string]any{
		"handler":   "reverse_proxy",
		"upstreams": []any{map[string]any{"dial": "127.0.0.1:1"}},
		"transport": map[string]any{"protocol": "frontdoor_reload_watch", "generation": generation},
	}
	cfg := map[string]any{
		"admin":   map[string]any{"disabled": true, "config": map[string]any{"persist": false}},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{"level": "FATAL"}}},
		"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"s": map[string]any{
			"listen": []string{listen},
			"routes": []any{map[string]any{"handle": []any{map[string]any{
				"handler": "frontdoor",
				"brand":   "Acme",
				"journeys": []any{map[string]any{
					"name":  "j",
					"paths": []string{"/j*"},
					"probes": []any{map[string]any{
						"name": "p", "every": "1s",
						"steps": []any{map[string]any{"method": "GET", "path": "/j"}},
					}},
					"backends": []any{map[string]any{"name": "b", "owner": "in-house", "proxy": proxy}},
				}},
			}}}},
		}}}},
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestReloadsUnderProbingNeverUseACleanedUpProxy reloads the config 100
// times, each time while a probe run of the running config is under way
// in its backend's reverse proxy. Caddy cleans up a replaced config's
// modules after stopping its apps: no probe run may still be in, or
// enter, a proxy transport that was cleaned up.
func TestReloadsUnderProbingNeverUseACleanedUpProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	t.Cleanup(func() { caddy.Stop() }) //nolint:errcheck

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const reloads = 100
	for gen := 0; gen <= reloads; gen++ {
		if err := caddy.Load(config(t, listen, gen), true); err != nil {
			t.Fatalf("load %d: %v", gen, err)
		}
		// Wait until a probe run of this config is in its proxy.
		for probing := false; !probing; {
			select {
			case g := <-started:
				probing = g == gen
			case <-ctx.Done():
				t.Fatalf("config %d: no probe run started", gen)
			}
		}
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := violations.Load(); n != 0 {
		t.Errorf("%d probe round trips used a reverse proxy transport that was cleaned up (or being cleaned up) over %d reloads", n, reloads)
	}
}
