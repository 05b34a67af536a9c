package caddymodule

import (
	"encoding/json"
	"fmt"
	"time"
)

// A backend is a Caddy reverse_proxy whose config frontdoor completes with
// defaults made for the edge, each only where the user set nothing of
// their own. They are written into the JSON because the proxy builds its
// transport and health checks when it is provisioned.

// proxyDefault sets one default in a decoded reverse_proxy config and
// reports whether it changed it.
type proxyDefault func(proxy map[string]json.RawMessage) (bool, error)

// proxyDefaults gives a backend's proxy config frontdoor's defaults:
// the edge keep-alive pool and bounded waits, the stream close delay, and for a backend
// that has another to fail over to, passive health checks.
func proxyDefaults(raw json.RawMessage, failover bool) (json.RawMessage, error) {
	defaults := []proxyDefault{edgeTransport, streamCloseDelay}
	if failover {
		defaults = append(defaults, passiveHealth)
	}
	return editProxy(raw, defaults...)
}

// editProxy decodes a proxy config once, applies the defaults and encodes
// it again if one of them changed it.
func editProxy(raw json.RawMessage, defaults ...proxyDefault) (json.RawMessage, error) {
	var proxy map[string]json.RawMessage
	if err := json.Unmarshal(raw, &proxy); err != nil {
		return nil, fmt.Errorf("decoding proxy config: %v", err)
	}
	if proxy == nil {
		return nil, fmt.Errorf("decoding proxy config: not an object: %s", raw)
	}
	changed := false
	for _, d := range defaults {
		c, err := d(proxy)
		if err != nil {
			return nil, err
		}
		changed = changed || c
	}
	if !changed {
		return raw, nil
	}
	return json.Marshal(proxy)
}

// edgeIdleConnsPerHost replaces reverse_proxy's default idle pool of 32 per
// host: at the edge, more concurrent clients than that made the backend
// accept a new connection for most requests.
const edgeIdleConnsPerHost = 512

// defaultMaxResponseHeaderSize bounds the headers a backend may answer
// with, where Go's transport would take 10 MiB: a browser refuses far
// less (Chromium 256 KiB) and shows its own error instead of the brand
// page, and every request to such a vendor would hold them. Envoy's
// default is 60 KiB.
const defaultMaxResponseHeaderSize = 64 << 10

// edgeTransport gives an HTTP transport frontdoor's edge defaults where
// the user set none: a larger upstream idle-connection pool, bounds on
// the wait for the first response byte and on each write of the request
// (see waits.go), and on the size of the response's headers.
func edgeTransport(proxy map[string]json.RawMessage) (bool, error) {
	transport := map[string]any{"protocol": "http"}
	if t, ok := proxy["transport"]; ok {
		if err := json.Unmarshal(t, &transport); err != nil {
			return false, fmt.Errorf("decoding proxy transport: %v", err)
		}
		if transport["protocol"] != "http" {
			return false, nil
		}
	}
	changed := false
	keepAlive, _ := transport["keep_alive"].(map[string]any)
	if keepAlive == nil {
		keepAlive = map[string]any{}
	}
	if _, set := keepAlive["max_idle_conns_per_host"]; !set {
		keepAlive["max_idle_conns_per_host"] = edgeIdleConnsPerHost
		transport["keep_alive"] = keepAlive
		changed = true
	}
	for _, bound := range []struct {
		name  string
		value int64
	}{
		{"response_header_timeout", int64(defaultResponseHeaderTimeout)},
		{"write_timeout", int64(defaultWriteTimeout)},
		{"max_response_header_size", defaultMaxResponseHeaderSize},
	} {
		if _, set := transport[bound.name]; !set {
			transport[bound.name] = bound.value
			changed = true
		}
	}
	if !changed {
		return false, nil
	}
	t, err := json.Marshal(transport)
	if err != nil {
		return false, err
	}
	proxy["transport"] = t
	return true, nil
}

// Passive health defaults for a backend that has another to fail over to:
// after passiveMaxFails failed connections or round trips within
// passiveFailDuration, its upstream counts as down until the failures age
// out. Requests then go straight to the next backend instead of each
// waiting out a dial timeout on a vendor whose packets are dropped. A
// journey's only backend gets none: marking it down would refuse every
// customer while it might have served some.
const (
	passiveFailDuration = "10s"
	passiveMaxFails     = 5
)

// passiveHealth adds the passive health defaults to a proxy whose config
// has no health checks of its own.
func passiveHealth(proxy map[string]json.RawMessage) (bool, error) {
	if _, set := proxy["health_checks"]; set {
		return false, nil
	}
	hc, err := json.Marshal(map[string]any{
		"passive": map[string]any{"fail_duration": passiveFailDuration, "max_fails": passiveMaxFails},
	})
	if err != nil {
		return false, err
	}
	proxy["health_checks"] = hc
	return true, nil
}

// defaultStreamCloseDelay is how long a reload leaves the old config's
// upgraded connections open (Caddy's reverse_proxy stream_close_delay,
// whose default closes them at once): long enough for a support chat to
// end by itself instead of being cut by a config change.
const defaultStreamCloseDelay = time.Hour

// streamCloseDelay gives a proxy config without its own stream_close_delay
// frontdoor's default.
func streamCloseDelay(proxy map[string]json.RawMessage) (bool, error) {
	if _, set := proxy["stream_close_delay"]; set {
		return false, nil
	}
	proxy["stream_close_delay"] = json.RawMessage(fmt.Sprint(int64(defaultStreamCloseDelay)))
	return true, nil
}
