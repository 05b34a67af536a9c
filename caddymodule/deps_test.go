package caddymodule

import (
	"os/exec"
	"strings"
	"testing"
)

// TestModuleDoesNotLinkTheDashboardGenerator: every Caddy build with the
// module links what caddymodule imports; the Grafana dashboard generator
// belongs to `go generate`, not to the gateway.
func TestModuleDoesNotLinkTheDashboardGenerator(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "grafana-foundation-sdk") || strings.HasSuffix(pkg, "/frontdoor/dashboards") {
			t.Errorf("caddymodule depends on %s", pkg)
		}
	}
}
