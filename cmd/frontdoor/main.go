// Command frontdoor is Caddy with the frontdoor module: every Caddy command
// (run, validate, adapt, reload, list-modules, version...), the module's
// operator commands at top level (keygen, status, override, trail; any
// Caddy build with the module has them as caddy frontdoor ...) and demo.
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/frontdoor-dev/frontdoor/caddymodule"
	"github.com/frontdoor-dev/frontdoor/internal/demo"
)

func init() {
	for _, c := range caddymodule.Commands() {
		caddycmd.RegisterCommand(c)
	}
	flags := flag.NewFlagSet("demo", flag.ExitOnError)
	flags.String("listen", "localhost:8080", "address the demo gateway listens on")
	flags.String("admin", "localhost:2019", "address of Caddy's admin endpoint")
	flags.String("redis", "", "context store URL; default: an embedded Redis-protocol server")
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "demo",
		Usage: "[--listen <addr>] [--admin <addr>] [--redis <url>]",
		Short: "Runs frontdoor with demo in-house and vendor backends",
		Long: `
Starts demo in-house and vendor backends, an embedded Redis-protocol server
seeded with a demo customer (unless --redis is given), and the gateway in
front of them, then prints the URLs to try.`,
		Flags: flags,
		Func: func(fl caddycmd.Flags) (int, error) {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := demo.Run(ctx, demo.Options{
				Listen: fl.String("listen"), Admin: fl.String("admin"), Redis: fl.String("redis"), Out: os.Stdout,
			})
			if err != nil {
				return caddy.ExitCodeFailedStartup, err
			}
			return caddy.ExitCodeSuccess, nil
		},
	})
}

func main() { caddycmd.Main() }
