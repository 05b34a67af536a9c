package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/frontdoor-dev/frontdoor/internal/contentcoding"
	"github.com/frontdoor-dev/frontdoor/internal/shopper"
)

// The secret shopper (internal/shopper) reaches the handler through this
// adapter: it serves the shopper's requests through the handler's own
// ServeHTTP, lists a journey's backends and finds the site. A shopper
// request carries a *shopper.Visit in its context, which no client can
// set: it makes the plan the shopped backend alone, through a copy of the
// backend that counts nothing (backendRoute.visitor), so the request is
// in no customer metric, recent error or trail; the runs have metrics of
// their own (probeSink).

// shopperPlan is the shopped backend alone, whatever its hours, health or
// an override: every backend is shopped.
func shopperPlan(v *shopper.Visit, j *journeyRoute, buf []candidate) []candidate {
	buf = buf[:0]
	if j.name != v.Journey {
		return buf
	}
	for _, b := range j.backends {
		if b.name == v.Backend && b.visitor != nil {
			return append(buf, candidate{backend: b.visitor, reason: reasonFirst})
		}
	}
	return buf
}

// provisionShopper compiles the journeys' probes. It starts nothing: the
// app starts the shopper when the config runs.
func (h *Handler) provisionShopper(ctx caddy.Context) error {
	if err := checkProbeSessions(h); err != nil {
		return err
	}
	sink := &probeSink{stats: map[string]*probeStats{}}
	for i, j := range h.Journeys {
		if len(j.Probes) == 0 {
			continue
		}
		for k, b := range h.routes[i].backends {
			visitor := *b
			visitor.stats = b.stats.uncounted()
			visitor.counts = new(backendCounts)
			visitor.response = b.response.forShopper(visitor.stats)
			b.visitor = &visitor
			for _, p := range j.Probes {
				sink.stats[probeKey(j.Name, p.Name, b.name)] = h.metrics.forProbe(j.Name, j.Backends[k], p.Name)
			}
		}
	}
	gw := &shopperGateway{h: h}
	gw.server, _ = ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	cfg := shopper.Config{
		Gateway:  gw,
		Sink:     sink,
		Redis:    h.redis,
		Decode:   decodeForShopper,
		Instance: instanceName(),
		Logger:   h.logger,
	}
	if h.Session != nil {
		cfg.SessionKey, cfg.SessionCookie = h.sessionKey, h.Session.Cookie
	}
	s, err := shopper.New(cfg, h.Journeys, h.claims)
	if err != nil {
		return err
	}
	h.shopper = s
	return nil
}

// instanceName names this instance in the runs it makes.
func instanceName() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(os.Getpid())
}

// claims checks that the journey claims a probe step's request: a probe
// shops its own journey.
func (h *Handler) claims(journey, method string, u *url.URL) error {
	req := (&http.Request{Method: method, URL: u, Header: http.Header{}}).
		WithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
	claimed, err := h.match(req)
	if err != nil {
		return err
	}
	if claimed != nil && claimed.name == journey {
		return nil
	}
	var paths []string
	for _, j := range h.Journeys {
		if j.Name == journey {
			paths = j.Paths
		}
	}
	return fmt.Errorf("path %s is not claimed by journey %q (paths %s): a probe shops its own journey",
		u.Path, journey, strings.Join(paths, " "))
}

// shopperGateway is the handler as the shopper's gateway.
type shopperGateway struct {
	h      *Handler
	server *caddyhttp.Server // the handler's; nil in tests

	siteOnce sync.Once
	host     string
	https    bool
}

// Serve runs ServeHTTP as Caddy's server would, turning the panic with
// which a proxy aborts a response it cannot complete into an error.
func (g *shopperGateway) Serve(w http.ResponseWriter, r *http.Request) (err error) {
	srv := g.server
	if srv == nil {
		srv = &caddyhttp.Server{}
	}
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, srv)
	defer func() {
		if p := recover(); p != nil {
			err = &shopper.StatusError{Status: http.StatusBadGateway, Err: fmt.Errorf("response aborted: %v", p)}
		}
	}()
	err = g.h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNotFound) // no journey claims the path
		return nil
	}))
	var herr caddyhttp.HandlerError
	if errors.As(err, &herr) {
		return &shopper.StatusError{Status: herr.StatusCode, Err: err}
	}
	return err
}

// Backends lists the journey's backends with their hours and banner.
func (g *shopperGateway) Backends(journey string) []shopper.Backend {
	h := g.h
	for i, j := range h.Journeys {
		if j.Name != journey {
			continue
		}
		var out []shopper.Backend
		for k, b := range h.routes[i].backends {
			sb := shopper.Backend{Backend: j.Backends[k], Open: func() bool { return b.schedule.Open(h.now()) }}
			if b.banner {
				sb.Banner = h.bannerPage.Render
			}
			out = append(out, sb)
		}
		return out
	}
	return nil
}

// Site is the host customers reach the handler's site by, from the host
// matchers of the routes leading to the handler, and whether the site is
// served over TLS.
func (g *shopperGateway) Site() (string, bool) {
	g.siteOnce.Do(func() {
		g.host = "localhost"
		srv := g.server
		if srv == nil {
			return
		}
		g.https = len(srv.TLSConnPolicies) > 0
		if hosts, ok := hostsTo(srv.Routes, g.h); ok {
			for _, host := range hosts {
				if !strings.ContainsAny(host, "*{") {
					g.host = host
					break
				}
			}
		}
		if len(srv.Listen) > 0 {
			if addr, err := caddy.ParseNetworkAddress(srv.Listen[0]); err == nil && addr.StartPort != 0 {
				defaultPort := uint(80)
				if g.https {
					defaultPort = 443
				}
				if addr.StartPort != defaultPort {
					g.host += ":" + strconv.FormatUint(uint64(addr.StartPort), 10)
				}
			}
		}
	})
	return g.host, g.https
}

// hostsTo finds h in the routes, subroutes included, and returns the
// hosts of the host matchers on the way to it.
func hostsTo(routes caddyhttp.RouteList, h *Handler) ([]string, bool) {
	for _, r := range routes {
		var hosts []string
		for _, set := range r.MatcherSets {
			for _, m := range set {
				if mh, ok := m.(caddyhttp.MatchHost); ok {
					hosts = append(hosts, mh...)
				}
			}
		}
		for _, handler := range r.Handlers {
			switch x := handler.(type) {
			case *Handler:
				if x == h {
					return hosts, true
				}
			case *caddyhttp.Subroute:
				if inner, ok := hostsTo(x.Routes, h); ok {
					return append(inner, hosts...), true
				}
			}
		}
	}
	return nil, false
}

// decodeForShopper reads a body in the codings frontdoor decodes for the
// banner; others are checked as they come.
func decodeForShopper(contentEncoding string, body io.Reader) (io.Reader, func(), error) {
	coding, single := contentcoding.Normalize(contentEncoding)
	if coding == "" || coding == "identity" || !single || !contentcoding.Decodable(coding) {
		return nil, nil, nil
	}
	return contentcoding.NewReader(coding, body)
}
