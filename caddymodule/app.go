package caddymodule

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/internal/shopper"
)

func init() {
	caddy.RegisterModule(new(App))
}

// App is the frontdoor app of one config. It needs no configuration: the
// first frontdoor handler of a config loads it (ctx.App("frontdoor")) and
// every handler of the config registers with it. It holds what belongs to
// the config as a whole: its handlers, read by the admin API and by the
// collectors that export per-config state, and the secret shoppers, which
// run from Start to Stop. Caddy starts the apps of a config only once the
// config runs (never one that is only validated), and stops them before
// it cancels the config's context and cleans up its modules, so a probe
// run never outlives the reverse proxies it goes through.
type App struct {
	ctx    caddy.Context
	logger *zap.Logger

	mu       sync.Mutex
	handlers []*Handler // in the order provisioned
	started  bool
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "frontdoor",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision registers the collectors that export the config's state (SLO
// objectives, probe results, refused context values) in the config's
// metrics registry: a reload that removes a backend or a probe removes
// its series with the config.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	registry := ctx.GetMetricsRegistry()
	if registry == nil {
		return nil
	}
	for _, c := range a.collectors() {
		if err := registry.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return fmt.Errorf("frontdoor: registering metrics: %w", err)
			}
		}
	}
	return nil
}

// appOf returns the frontdoor app of the config being provisioned, loading
// it if this is the config's first frontdoor handler.
func appOf(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("frontdoor")
	if err != nil {
		return nil, err
	}
	app, ok := v.(*App)
	if !ok {
		return nil, fmt.Errorf("frontdoor app is %T", v)
	}
	return app, nil
}

// runningApp returns the frontdoor app of the config that runs now, or
// nil if that config has no frontdoor handler. The admin API asks for it
// per request, as Caddy's own admin routes find their app.
func runningApp() *App {
	v, err := caddy.ActiveContext().AppIfConfigured("frontdoor")
	if err != nil {
		return nil
	}
	app, _ := v.(*App)
	return app
}

// add registers a provisioned handler. A handler added to an app that is
// running already (tests load handlers into a running config) starts its
// shopper at once.
func (a *App) add(h *Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.handlers = append(a.handlers, h)
	if a.started && h.shopper != nil {
		h.shopper.Start(a.ctx)
	}
}

// remove forgets a handler that Caddy cleans up, stopping its shopper if
// it still runs.
func (a *App) remove(h *Handler) {
	a.mu.Lock()
	a.handlers = slices.DeleteFunc(a.handlers, func(x *Handler) bool { return x == h })
	a.mu.Unlock()
	if h.shopper != nil {
		h.shopper.Stop()
	}
}

// Handlers returns the config's handlers, in the order provisioned.
func (a *App) Handlers() []*Handler {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.handlers)
}

// Start starts the secret shoppers, which carry over the latest probe runs
// of the config this one replaces (still the running one while Start is
// called).
func (a *App) Start() error {
	var previous []*shopper.Shopper
	if old := runningApp(); old != a {
		for _, h := range old.Handlers() {
			if h.shopper != nil {
				previous = append(previous, h.shopper)
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.started = true
	for _, h := range a.handlers {
		if h.shopper != nil {
			h.shopper.KeepResults(previous)
			h.shopper.Start(a.ctx)
		}
	}
	return nil
}

// Stop stops the secret shoppers and waits for their runs, which their
// cancelled context cuts short.
func (a *App) Stop() error {
	a.mu.Lock()
	a.started = false
	handlers := slices.Clone(a.handlers)
	a.mu.Unlock()
	for _, h := range handlers {
		if h.shopper != nil {
			h.shopper.Stop()
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
)
