package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// stockMain is Caddy's own cmd/caddy main with the module imported, as
// xcaddy generates it for `xcaddy build --with .../caddymodule`.
const stockMain = `package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/frontdoor-dev/frontdoor/caddymodule"
)

func main() {
	caddycmd.Main()
}
`

// buildStockCaddy builds stockMain in a module of its own that requires
// frontdoor, replaced by this checkout, with the checkout's requirements
// and checksums (xcaddy pins them the same way). It takes a minute or two
// with a warm build cache.
func buildStockCaddy(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	modLine := regexp.MustCompile(`(?m)^module \S+$`)
	if !modLine.Match(gomod) {
		t.Fatal("go.mod has no module line")
	}
	gomod = modLine.ReplaceAll(gomod, []byte("module example.com/stockcaddy"))
	gomod = append(gomod, fmt.Sprintf("\nrequire github.com/frontdoor-dev/frontdoor v0.0.0\n\nreplace github.com/frontdoor-dev/frontdoor => %s\n", root)...)
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range map[string][]byte{"go.mod": gomod, "go.sum": gosum, "main.go": []byte(stockMain)} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "caddy")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building stock Caddy with the module: %v\n%s", err, out)
	}
	t.Logf("built stock Caddy with the module in %s", time.Since(start).Round(time.Second))
	return bin
}

// TestStockCaddyBuildHasFrontdoor builds Caddy's own main with the module
// imported, as the README tells platform teams to, and checks that it has
// the handler and frontdoor's operator commands (caddy frontdoor ...).
func TestStockCaddyBuildHasFrontdoor(t *testing.T) {
	t.Parallel()
	caddy := buildStockCaddy(t)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(caddy, args...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("caddy %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	if out := run("list-modules"); !strings.Contains(out, "http.handlers.frontdoor\n") {
		t.Errorf("list-modules lacks http.handlers.frontdoor:\n%s", out)
	}
	if out := run("version"); !strings.HasPrefix(out, "v2.") {
		t.Errorf("version of the stock build: %q", out)
	}
	help := run("frontdoor", "--help")
	for _, sub := range []string{"keygen", "status", "override", "trail", "scorecard"} {
		if !regexp.MustCompile(`(?m)^\s+` + sub + `\s`).MatchString(help) {
			t.Errorf("caddy frontdoor --help lacks %s:\n%s", sub, help)
		}
	}

	key := filepath.Join(t.TempDir(), "assertion.pem")
	if out := run("frontdoor", "keygen", "--out", key); !strings.Contains(out, "wrote ES256 key to "+key) {
		t.Errorf("keygen printed %q", out)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}

	// The stock build runs the module with that key, and its status
	// command reads the running instance.
	vendor := startBackend(t, "vendor", nil)
	gw := startGatewayWith(t, caddy, frontdoorBlock(fmt.Sprintf(`
		assertion {
			key %s
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
			}
		}`, key, vendor.URL)))
	if resp, _ := do(t, "GET", gw.URL+"/support", nil, nil); resp.StatusCode != 200 || vendor.last(t).Header.Get("X-Frontdoor-Assertion") == "" {
		t.Fatalf("status %d, assertion %q", resp.StatusCode, vendor.last(t).Header.Get("X-Frontdoor-Assertion"))
	}
	status := run("frontdoor", "status", "--address", gw.AdminAddr)
	if !regexp.MustCompile(`(?m)^support\s+nightdesk\s+outsourced\s+NightDesk BPO\s`).MatchString(status) {
		t.Errorf("caddy frontdoor status printed:\n%s", status)
	}
}
