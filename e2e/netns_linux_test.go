//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// netnsEnv names, in the environment of a test binary re-run by
// inOwnNetns, the test that binary runs inside its own network namespace.
const netnsEnv = "FRONTDOOR_E2E_NETNS"

// inOwnNetns runs the calling (top-level) test in a network namespace of
// its own, with loopback up and the given sysctls (e.g.
// "net.ipv4.tcp_migrate_req": "1") set there, so the test can set kernel
// network settings without changing the machine's. It re-runs the test
// binary, for that test only, in a new namespace: in that child it returns
// true and the test goes on; in the parent it returns false once the child
// has run, having failed the test if the child failed, and the test must
// return.
//
// A new network namespace needs root (CAP_SYS_ADMIN), which CI has. Where
// the namespace cannot be made or set up, the test fails, saying why: it
// never silently runs elsewhere or skips.
func inOwnNetns(t *testing.T, sysctls map[string]string) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == t.Name() {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			t.Fatalf("bringing loopback up in the test's network namespace (needs iproute2's ip): %v: %s", err, out)
		}
		for name, value := range sysctls {
			path := filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/"))
			if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
				t.Fatalf("setting %s=%s in the test's network namespace (Linux 5.14+ for tcp_migrate_req): %v", name, value, err)
			}
			got, err := os.ReadFile(path)
			if err != nil || strings.TrimSpace(string(got)) != value {
				t.Fatalf("%s is %q after setting it to %s: %v", name, got, value, err)
			}
		}
		return true
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s runs in a network namespace of its own, which needs root (CI runs as root); run the e2e tests as root", t.Name())
	}
	child := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v")
	// The child reuses the frontdoor binary built for this run.
	child.Env = append(os.Environ(), netnsEnv+"="+t.Name(), "FRONTDOOR_BINARY="+binary)
	child.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	out, err := child.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in its own network namespace: %v\n%s", t.Name(), err, out)
	}
	t.Logf("%s in its own network namespace:\n%s", t.Name(), out)
	return false
}
