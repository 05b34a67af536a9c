// Package scripts holds the tests of the repository's shell scripts.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeMachine is a PATH holding only stub commands: id (reports uid), sudo
// (passwordless or not), apt-get (logs its calls and, on install, puts the
// packages' commands on PATH, as Debian's packages do) and the tools the
// machine already has. Nothing is installed for real.
type fakeMachine struct {
	dir, log string
}

// packageTools is what each Debian (bookworm) package puts on PATH.
var packageTools = map[string][]string{
	"redis-server": {"redis-server"},
	"redis-tools":  {"redis-cli"},
	"prometheus":   {"prometheus", "promtool"},
	"chromium":     {"chromium"},
	"nodejs":       {"node"},
	"npm":          {"npm"},
	// The stub python3 imports anything: PyJWT is there once installed.
	"python3-jwt":          {"python3"},
	"python3-cryptography": {},
}

func newFakeMachine(t *testing.T, uid string, sudo bool, aptInstalls bool, has ...string) *fakeMachine {
	t.Helper()
	m := &fakeMachine{dir: t.TempDir()}
	m.log = filepath.Join(m.dir, "calls.log")
	chmod, err := exec.LookPath("chmod")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(m.dir, name), []byte("#!/bin/bash\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("id", `[[ $1 == -u ]] && echo `+uid+"\n")
	if sudo {
		write("sudo", `echo "sudo $*" >>`+m.log+`
[[ $1 == -n ]] && shift
while [[ $1 == *=* ]]; do export "$1"; shift; done
"$@"
`)
	} else {
		write("sudo", `echo "sudo $*" >>`+m.log+`
echo "sudo: a password is required" >&2
exit 1
`)
	}
	install := ""
	if aptInstalls {
		install = `for pkg in "$@"; do
	case $pkg in -*|install) continue ;; esac
	for tool in $(tools_of "$pkg"); do printf '#!/bin/bash\n' >"` + m.dir + `/$tool"; ` + chmod + ` +x "` + m.dir + `/$tool"; done
done`
	}
	var cases strings.Builder
	for pkg, tools := range packageTools {
		cases.WriteString("\t" + pkg + ") echo " + strings.Join(tools, " ") + " ;;\n")
	}
	write("apt-get", `echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND apt-get $*" >>`+m.log+`
tools_of() {
	case $1 in
`+cases.String()+`	esac
}
[[ $1 == install ]] || exit 0
`+install+"\n")
	for _, tool := range has {
		write(tool, "")
	}
	return m
}

func (m *fakeMachine) run(t *testing.T) (calls []string, out string, err error) {
	t.Helper()
	bash, lookErr := exec.LookPath("bash")
	if lookErr != nil {
		t.Fatal(lookErr)
	}
	cmd := exec.Command(bash, "deps.sh")
	cmd.Env = []string{"PATH=" + m.dir, "HOME=" + m.dir, "FRONTDOOR_PYTHONS=python3"}
	b, err := cmd.CombinedOutput()
	log, _ := os.ReadFile(m.log)
	if s := strings.TrimSpace(string(log)); s != "" {
		calls = strings.Split(s, "\n")
	}
	return calls, string(b), err
}

const aptInstall = "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "

func TestDepsInstallsWhatIsMissingAsRoot(t *testing.T) {
	m := newFakeMachine(t, "0", false, true)
	calls, out, err := m.run(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []string{
		"DEBIAN_FRONTEND=noninteractive apt-get update -qq",
		aptInstall + "redis-server redis-tools prometheus chromium nodejs npm python3-jwt python3-cryptography",
	}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s\noutput:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"), out)
	}
}

func TestDepsInstallsOnlyTheMissingPackages(t *testing.T) {
	// redis-cli and promtool come with packages of their own name's cousins.
	m := newFakeMachine(t, "0", false, true, "redis-server", "prometheus", "chromium", "node", "npm", "python3")
	calls, out, err := m.run(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(calls) != 2 || calls[1] != aptInstall+"redis-tools prometheus" {
		t.Errorf("calls: %q\n%s", calls, out)
	}
}

func TestDepsDoesNothingWhenAllIsThere(t *testing.T) {
	m := newFakeMachine(t, "1000", false, false, "redis-server", "redis-cli", "prometheus", "promtool", "chromium", "node", "npm", "python3")
	calls, out, err := m.run(t)
	if err != nil || len(calls) != 0 {
		t.Errorf("err %v, calls %q\n%s", err, calls, out)
	}
}

func TestDepsUsesPasswordlessSudo(t *testing.T) {
	m := newFakeMachine(t, "1000", true, true, "redis-server", "redis-cli", "node", "npm", "python3")
	calls, out, err := m.run(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []string{
		"sudo -n true",
		"sudo -n DEBIAN_FRONTEND=noninteractive apt-get update -qq",
		"DEBIAN_FRONTEND=noninteractive apt-get update -qq",
		"sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus chromium",
		aptInstall + "prometheus chromium",
	}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s\noutput:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"), out)
	}
}

func TestDepsPrintsTheCommandWithoutRoot(t *testing.T) {
	m := newFakeMachine(t, "1000", false, true, "redis-server", "redis-cli", "node", "npm", "python3")
	calls, out, err := m.run(t)
	if err == nil {
		t.Fatalf("exit 0 without installing anything\n%s", out)
	}
	for _, c := range calls {
		if strings.Contains(c, "apt-get") {
			t.Errorf("ran %s", c)
		}
	}
	want := "sudo apt-get update && sudo apt-get install -y --no-install-recommends prometheus chromium"
	if !strings.Contains(out, want) || !strings.Contains(out, "missing: prometheus promtool chromium") {
		t.Errorf("output lacks the missing tools or %q:\n%s", want, out)
	}
}

func TestDepsFailsWhenInstallLeavesSomethingMissing(t *testing.T) {
	m := newFakeMachine(t, "0", false, false, "redis-server", "redis-cli", "prometheus", "promtool", "node", "npm")
	_, out, err := m.run(t)
	if err == nil || !strings.Contains(out, "still missing after apt-get: chromium") {
		t.Errorf("err %v\n%s", err, out)
	}
}

func TestDepsWithoutAptGetNamesTheTools(t *testing.T) {
	m := newFakeMachine(t, "0", false, false, "redis-server", "redis-cli", "prometheus", "promtool", "chromium")
	os.Remove(filepath.Join(m.dir, "apt-get"))
	_, out, err := m.run(t)
	if err == nil || !strings.Contains(out, "missing: node npm") {
		t.Errorf("err %v\n%s", err, out)
	}
}

func TestTestScriptRunsDeps(t *testing.T) {
	for _, f := range []string{"test.sh", "../.ci/run"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if f == "test.sh" && !strings.Contains(s, "\n\"$(dirname \"$0\")\"/deps.sh\n") && !strings.Contains(s, "\n./scripts/deps.sh\n") {
			t.Errorf("%s does not run deps.sh", f)
		}
		if f != "test.sh" && strings.Contains(s, "apt-get") {
			t.Errorf("%s installs packages itself; scripts/test.sh does", f)
		}
	}
}
