package caddymodule

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

// loadEmptyConfig runs an empty Caddy config once per test binary: modules
// such as reverse_proxy need a context that belongs to a config (they ask
// it for the events app), which caddy.Context{} alone does not have. The
// admin endpoint is off and nothing is persisted, so tests touch no port
// and no file outside their temp dirs.
var loadEmptyConfig = sync.OnceValue(func() error {
	return caddy.Load([]byte(`{
		"admin": {"disabled": true, "config": {"persist": false}},
		"logging": {"logs": {"default": {"level": "ERROR"}}}
	}`), true)
})

// testContext returns a Caddy context of the running empty config,
// cancelled (and its modules cleaned up) when the test ends.
func testContext(t testing.TB) caddy.Context {
	t.Helper()
	if err := loadEmptyConfig(); err != nil {
		t.Fatalf("loading empty Caddy config: %v", err)
	}
	ctx, cancel := caddy.NewContext(caddy.ActiveContext())
	t.Cleanup(cancel)
	return ctx
}

// anotherConfig takes a test's handler out of the frontdoor app, which
// every handler of the test binary shares (they run in one empty config),
// before the test provisions the next: that one stands for another
// config, not for a second handler beside it, whose journeys of the same
// name would have to be the same journeys.
func anotherConfig(h *Handler) {
	h.app.remove(h)
}

// switchBreaker is a circuit breaker a test opens and closes: the only
// handle outside Caddy's package on whether an upstream counts as healthy.
type switchBreaker struct{ open atomic.Bool }

func (b *switchBreaker) OK() bool                        { return !b.open.Load() }
func (b *switchBreaker) RecordMetric(int, time.Duration) {}

// provisionedProxy returns a provisioned reverse proxy to dial addresses,
// whose upstreams are healthy while the returned breaker is closed.
func provisionedProxy(t testing.TB, dial ...string) (*reverseproxy.Handler, *switchBreaker) {
	t.Helper()
	br := new(switchBreaker)
	rp := &reverseproxy.Handler{CB: br}
	for _, d := range dial {
		rp.Upstreams = append(rp.Upstreams, &reverseproxy.Upstream{Dial: d})
	}
	if err := rp.Provision(testContext(t)); err != nil {
		t.Fatalf("provisioning reverse proxy: %v", err)
	}
	t.Cleanup(func() { rp.Cleanup() })
	return rp, br
}

// waitFor waits until check passes, checking every few milliseconds, and
// fails the test at the deadline with check's last error.
func waitFor(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	testwait.For(t, timeout, 5*time.Millisecond, check)
}
