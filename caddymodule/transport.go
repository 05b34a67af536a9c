package caddymodule

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

func init() {
	caddy.RegisterModule(upstreamTransport{})
}

// upstreamTransport is Caddy's HTTP transport (every option of
// `transport http` keeps working: TLS to upstreams, h2, keep-alive,
// dial timeouts, health checks) that adds the headers frontdoor sends a
// backend as the request leaves for it. Caddy's reverse_proxy builds its
// "upstream roundtrip" logger with every request header, JSON-encoded on
// every request whatever the log level and written at debug: headers
// added here are in neither, so the customer's context and the assertion
// (a bearer token a vendor accepts) never reach a log line and cost no
// encoding there.
//
// Each backend's reverse proxy gets this transport when its own is
// Caddy's http transport (see withUpstreamTransport); the headers come
// from the request's context, so a health check or any request frontdoor
// did not route gets none.
type upstreamTransport struct {
	*reverseproxy.HTTPTransport
}

// CaddyModule returns the Caddy module information.
func (upstreamTransport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.transport.frontdoor",
		New: func() caddy.Module { return new(upstreamTransport) },
	}
}

// Provision sets up the wrapped HTTP transport.
func (t *upstreamTransport) Provision(ctx caddy.Context) error {
	if t.HTTPTransport == nil {
		t.HTTPTransport = new(reverseproxy.HTTPTransport)
	}
	return t.HTTPTransport.Provision(ctx)
}

// Cleanup closes the wrapped transport's idle connections.
func (t *upstreamTransport) Cleanup() error {
	if t.HTTPTransport == nil {
		return nil
	}
	return t.HTTPTransport.Cleanup()
}

// RoundTrip sends the request with the attempt's frontdoor headers added
// to a copy of its header map (the proxy logs the request it holds after
// the round trip, which must not see them), and gives the attempt's body
// watch the response body to close if it stalls.
func (t *upstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	bw, _ := req.Context().Value(attemptKey{}).(*bodyWatch)
	if bw == nil {
		return t.HTTPTransport.RoundTrip(req)
	}
	if up := bw.upstream; up != nil && len(up.keys) > 0 {
		out := *req
		out.Header = make(http.Header, len(req.Header)+len(up.keys))
		maps.Copy(out.Header, req.Header)
		up.applyTo(out.Header)
		req = &out
	}
	res, err := t.HTTPTransport.RoundTrip(req)
	if err == nil {
		bw.body = res.Body
	}
	return res, err
}

// withUpstreamTransport replaces Caddy's http transport of a backend's
// proxy config by upstreamTransport, with the same options. It reports
// false for another transport (fastcgi, a plugin's), which cannot be
// wrapped: the handler then adds the headers to the request itself.
func withUpstreamTransport(raw json.RawMessage) (json.RawMessage, bool, error) {
	var proxy map[string]json.RawMessage
	if err := json.Unmarshal(raw, &proxy); err != nil {
		return nil, false, fmt.Errorf("decoding proxy config: %v", err)
	}
	transport := map[string]json.RawMessage{}
	if t, ok := proxy["transport"]; ok {
		if err := json.Unmarshal(t, &transport); err != nil {
			return nil, false, fmt.Errorf("decoding proxy transport: %v", err)
		}
	}
	var protocol string
	if p, ok := transport["protocol"]; ok {
		if err := json.Unmarshal(p, &protocol); err != nil {
			return nil, false, fmt.Errorf("decoding proxy transport protocol: %v", err)
		}
	}
	switch protocol {
	case "", "http":
	case "frontdoor":
		return raw, true, nil
	default:
		return raw, false, nil
	}
	transport["protocol"] = json.RawMessage(`"frontdoor"`)
	t, err := json.Marshal(transport)
	if err != nil {
		return nil, false, err
	}
	proxy["transport"] = t
	out, err := json.Marshal(proxy)
	return out, err == nil, err
}

// Interface guards: the proxy looks for these on its transport.
var (
	_ caddy.Provisioner                                = (*upstreamTransport)(nil)
	_ caddy.CleanerUpper                               = (*upstreamTransport)(nil)
	_ http.RoundTripper                                = (*upstreamTransport)(nil)
	_ reverseproxy.TLSTransport                        = (*upstreamTransport)(nil)
	_ reverseproxy.H2CTransport                        = (*upstreamTransport)(nil)
	_ reverseproxy.HealthCheckSchemeOverriderTransport = (*upstreamTransport)(nil)
	_ reverseproxy.ProxyProtocolTransport              = (*upstreamTransport)(nil)
)
