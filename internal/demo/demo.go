package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// The demo customers, seeded into the embedded context store: the first
// walks through a rescue, the second through an escalation (a rescued
// customer goes to the care team for a day, and would not see the vendor's
// banner to escalate from).
const (
	SessionCookie   = "acme_session"
	SessionID       = "demo-session-0001"
	SecondSessionID = "demo-session-0002"
)

// checkFree refuses an address another process listens on. Caddy listens
// with SO_REUSEPORT, so a second demo on the same ports would start, and
// share the customers' and the CLI's requests with the first; a plain
// listen fails there.
func checkFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("demo: %s is in use (is another demo running?): %w", addr, err)
	}
	return ln.Close()
}

// Options configure the demo.
type Options struct {
	Listen string    // gateway address, e.g. localhost:8080
	Admin  string    // Caddy admin address, e.g. localhost:2019
	Redis  string    // context store URL; empty starts an embedded one
	Out    io.Writer // where the URLs to try are printed
}

// Run starts the demo and blocks until ctx is done.
func Run(ctx context.Context, opts Options) error {
	if host, port, err := net.SplitHostPort(opts.Listen); err == nil && host == "" {
		opts.Listen = net.JoinHostPort("localhost", port) // the printed URLs and the bind need a host
	}
	for _, addr := range []string{opts.Listen, opts.Admin} {
		if err := checkFree(addr); err != nil {
			return err
		}
	}
	redisURL := opts.Redis
	if redisURL == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("starting embedded redis: %w", err)
		}
		defer mr.Close()
		seed(mr)
		redisURL = "redis://" + mr.Addr() + "/0"
		fmt.Fprintf(opts.Out, "embedded Redis-protocol server on %s, seeded with sessions %s and %s\n", mr.Addr(), SessionID, SecondSessionID)
	}

	backends := map[string]*backend{
		"shop-core": {Name: "shop-core", Title: "Acme Outdoor Checkout", Color: "#1b5e20"},
		"care-team": {Name: "care-team", Title: "Acme Outdoor Care Team", Color: "#1b5e20"},
		"nightdesk": {Name: "nightdesk", Title: "NightDesk BPO Helpdesk", Vendor: "NightDesk BPO", Color: "#6a1b9a"},
		"shipco":    {Name: "shipco", Title: "ShipCo Parcel Tracking", Vendor: "ShipCo", Color: "#e65100"},
	}
	for _, b := range backends {
		if err := b.start(); err != nil {
			return err
		}
		defer b.server.Close()
	}
	home := &http.Server{Handler: homePage(opts.Listen)}
	homeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo home page: %w", err)
	}
	go home.Serve(homeLn) //nolint:errcheck // closed on return
	defer home.Close()

	caddyfile := Caddyfile(opts.Listen, opts.Admin, redisURL, homeLn.Addr().String(), map[string]string{
		"shop-core": backends["shop-core"].Addr, "care-team": backends["care-team"].Addr,
		"nightdesk": backends["nightdesk"].Addr, "shipco": backends["shipco"].Addr,
	})
	adapter := caddyconfig.GetAdapter("caddyfile")
	cfgJSON, warnings, err := adapter.Adapt([]byte(caddyfile), map[string]any{"filename": "demo.Caddyfile"})
	if err != nil {
		return fmt.Errorf("adapting demo config: %w", err)
	}
	for _, w := range warnings {
		fmt.Fprintf(opts.Out, "warning: %s\n", w.String())
	}
	if err := caddy.Load(cfgJSON, true); err != nil {
		return fmt.Errorf("starting gateway: %w", err)
	}
	defer caddy.Stop() //nolint:errcheck // best effort on exit

	base := "http://" + opts.Listen
	fmt.Fprintf(opts.Out, `
frontdoor demo is running: Acme Outdoor at %[1]s

  %[1]s/demo/login          log in as the demo customer (sets the %[2]s cookie)
  %[1]s/checkout            checkout, in-house (shop-core)
  %[1]s/support             support: care-team in business hours, NightDesk BPO (vendor) otherwise
  %[1]s/chat/stream         (logged in) NightDesk BPO's chat hangs up on the customer; then
  %[1]s/chat                the care team rescues them: X-Frontdoor-Rescue names the vendor and reference
  %[1]s/demo/login?customer=2 then %[1]s/chat
                            as a second customer, whom no vendor dropped: NightDesk BPO's page, whose
                            banner's "Talk to our own team" takes the customer to the care team
                            (no script needed), "Did this solve your
                            problem?" rates NightDesk; frontdoor_escalations_total, frontdoor_ratings_total
  frontdoor orphans --address %[3]s
                            the customers vendors dropped, for the brand's callbacks
  %[1]s/track/order-1001    tracking, outsourced to ShipCo: vendor page, brand headers, no Server/X-Powered-By
  %[1]s/track/login         a vendor redirect to its own address, rewritten to this host
  %[4]s/demo/login then %[4]s/track/order-1001
                            ShipCo on its own origin (%[5]s): the navigation goes there, the
                            customer follows through a one-time-code handoff, the brand's
                            cookies stay on %[4]s (*.localhost is loopback in browsers)
  %[1]s/track/broken        a vendor 500
  %[1]s/                    the brand home page (no journey claims it: next handler)
  http://%[3]s/metrics      Prometheus metrics (frontdoor_*)
  frontdoor probes --address %[3]s
                            the secret shopper walks /support through both support backends
                            every 10s: NightDesk BPO fails it (its own name is on the page)

Each page lists the X-Frontdoor-* headers its backend received. Ctrl-C stops the demo.
`, base, SessionCookie, opts.Admin, "http://shop.localhost:"+port(opts.Listen), "http://track.shop.localhost:"+port(opts.Listen))

	<-ctx.Done()
	return nil
}

func seed(mr *miniredis.Miniredis) {
	mr.HSet("session:"+SessionID,
		"customer_id", "C-1001", "first_name", "Dana", "tier", "gold", "email", "dana@example.com")
	mr.SetTTL("session:"+SessionID, 24*time.Hour)
	mr.HSet("session:"+SecondSessionID,
		"customer_id", "C-1002", "first_name", "Sam", "tier", "silver", "email", "sam@example.com")
	mr.SetTTL("session:"+SecondSessionID, 24*time.Hour)
}

// Caddyfile is the demo's configuration: the DESIGN.md example with the
// demo's addresses.
func Caddyfile(listen, admin, redisURL, home string, addr map[string]string) string {
	r := strings.NewReplacer(
		"{LISTEN}", listen, "{ADMIN}", admin, "{REDIS}", redisURL, "{HOME}", home,
		"{SHOP}", addr["shop-core"], "{CARE}", addr["care-team"],
		"{NIGHT}", addr["nightdesk"], "{SHIP}", addr["shipco"],
		"{ZONE}", localZone(), "{PORT}", port(listen), "{BIND}", bindHost(listen))
	return r.Replace(demoTemplate)
}

// port is the port of the listen address, which the demo's host names
// (shop.localhost, track.shop.localhost) share.
func port(listen string) string {
	if _, p, err := net.SplitHostPort(listen); err == nil {
		return p
	}
	return "80"
}

// bindHost is the host the demo gateway binds: the one --listen names,
// so that a demo on localhost is not reachable from the network.
func bindHost(listen string) string {
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" {
		return host
	}
	return "localhost"
}

func localZone() string {
	if z := time.Local.String(); z != "" && z != "Local" {
		return z
	}
	return "UTC"
}

const demoTemplate = `{
	admin {ADMIN}
	metrics
	persist_config off
	default_bind {BIND}
}

http://shop.localhost:{PORT}, http://track.shop.localhost:{PORT}, http://{LISTEN} {
	frontdoor {
		brand "Acme Outdoor"
		contact {
			phone "+1 800 555 0100"
			email help@acme.example
			url https://acme.example/help
		}
		session {
			redis {REDIS}
			cookie acme_session
			key "session:{id}"
			timeout 50ms
			cache 2s
			on_error open
		}
		journey checkout /checkout* /cart* {
			backend shop-core {
				owner in-house
				to http://{SHOP}
			}
		}
		journey support /support* /help* {
			probe help-page {
				every 10s
				customer {
					customer_id P-0001
					first_name Quinn
				}
				step GET /support
				expect status 200
				forbid "(?i)nightdesk"
			}
			backend care-team {
				owner in-house
				to http://{CARE}
				hours "Mon-Fri 08:00-20:00" {ZONE}
			}
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to http://{NIGHT}
				context customer_id first_name tier
				slo availability 99.5%
				slo latency 95% 800ms
			}
		}
		journey chat /chat* {
			contact GET /chat/stream
			rescue care-team 24h
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to http://{NIGHT}
				context customer_id first_name
				slo orphans 5%
			}
			backend care-team {
				owner in-house
				to http://{CARE}
				context customer_id first_name
			}
		}
		journey tracking /track* {
			backend shipco {
				owner outsourced
				vendor ShipCo
				origin track.shop.localhost
				to http://{SHIP}
				context customer_id
			}
		}
	}
	reverse_proxy {HOME}
}
`
