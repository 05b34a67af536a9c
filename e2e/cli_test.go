package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// frontdoorCmd runs the binary and returns its output with Caddy's JSON
// log lines replaced by their messages, as a person reading them sees them.
func frontdoorCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(out), "\n") {
		var entry struct{ Msg string }
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &entry) == nil && entry.Msg != "" {
			line = entry.Msg + "\n"
		}
		b.WriteString(line)
	}
	return b.String(), err
}

func TestListModulesShowsFrontdoor(t *testing.T) {
	t.Parallel()
	out, err := frontdoorCmd(t, "list-modules")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, mod := range []string{"http.handlers.frontdoor", "http.handlers.reverse_proxy"} {
		if !strings.Contains(out, mod+"\n") {
			t.Errorf("list-modules lacks %s", mod)
		}
	}
}

// TestVersionNamesFrontdoorAndCaddy checks that version prints frontdoor's
// version beside Caddy's, both as the binary's build info records them.
func TestVersionNamesFrontdoorAndCaddy(t *testing.T) {
	t.Parallel()
	info, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	var mainVersion, caddyVersion, revision, modified string
	for _, line := range strings.Split(string(info), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/frontdoor-dev/frontdoor":
			mainVersion = f[2]
		case len(f) >= 3 && f[0] == "dep" && f[1] == "github.com/caddyserver/caddy/v2":
			caddyVersion = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			revision = strings.TrimPrefix(f[1], "vcs.revision=")[:12]
		case len(f) == 2 && f[0] == "build" && f[1] == "vcs.modified=true":
			modified = "+dirty"
		}
	}
	want := mainVersion
	if want == "(devel)" && revision != "" {
		want += " " + revision + modified
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := frontdoorCmd(t, args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", args[0], err, out)
		}
		prefix := "frontdoor " + want + ", Caddy " + caddyVersion + " "
		if mainVersion == "" || caddyVersion == "" || !strings.HasPrefix(out, prefix) {
			t.Errorf("%s printed %q, want it to start with %q", args[0], out, prefix)
		}
	}
}

// shippedCaddyfiles returns the Caddyfiles users copy from the repository:
// Caddyfile* files and the caddyfile code blocks of its Markdown files
// (written to temporary files, named FILE.md:LINE).
func shippedCaddyfiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	block := regexp.MustCompile("(?ms)^( *)```caddyfile\n(.*?)^ *```")
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || path == "../e2e/testdata/out") {
			return filepath.SkipDir
		}
		switch {
		case d.IsDir():
		case strings.HasPrefix(d.Name(), "Caddyfile"):
			files[path] = path
		case strings.HasSuffix(d.Name(), ".md"):
			md, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range block.FindAllSubmatchIndex(md, -1) {
				indent := string(md[m[2]:m[3]])
				var body strings.Builder
				for _, line := range strings.SplitAfter(string(md[m[4]:m[5]]), "\n") {
					body.WriteString(strings.TrimPrefix(line, indent))
				}
				name := fmt.Sprintf("%s:%d", path, 1+strings.Count(string(md[:m[0]]), "\n"))
				p := filepath.Join(t.TempDir(), "Caddyfile")
				if err := os.WriteFile(p, []byte(body.String()), 0o600); err != nil {
					return err
				}
				files[name] = p
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestShippedCaddyfilesAreFormatted checks that caddy fmt leaves every
// Caddyfile a user may copy unchanged, so none of them makes run, adapt or
// validate warn "Caddyfile input is not formatted".
func TestShippedCaddyfilesAreFormatted(t *testing.T) {
	t.Parallel()
	files := shippedCaddyfiles(t)
	if _, ok := files["../Caddyfile.example"]; !ok || len(files) < 3 {
		t.Fatalf("found only %v", files)
	}
	for name, p := range files {
		in, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(binary, "fmt", p).Output()
		if err != nil || string(out) != string(in) {
			diff, _ := frontdoorCmd(t, "fmt", "--diff", p)
			t.Errorf("%s is not caddy fmt clean (%v):\n%s", name, err, diff)
		}
	}
}

// TestDesignExampleAdapts adapts Caddyfile.example, which is the DESIGN.md
// example as caddy fmt writes it plus a secret shopper probe in each
// journey (DESIGN.md shows probes in a section of their own), and, where
// shared/DESIGN.md is checked out beside the repository (as in CI), the
// example in DESIGN.md itself.
func TestDesignExampleAdapts(t *testing.T) {
	t.Parallel()
	files := []string{"../Caddyfile.example"}
	if design, err := os.ReadFile("../../shared/DESIGN.md"); err == nil {
		m := regexp.MustCompile("(?s)```caddyfile\n(.*?)```").FindSubmatch(design)
		if m == nil {
			t.Fatal("DESIGN.md has no caddyfile example")
		}
		p := filepath.Join(t.TempDir(), "Caddyfile")
		os.WriteFile(p, m[1], 0o600)
		files = append(files, p)
		example, _ := os.ReadFile("../Caddyfile.example")
		formatted, err := exec.Command(binary, "fmt", p).Output()
		if withoutProbes(string(example)) != string(formatted) {
			t.Errorf("Caddyfile.example without its probes is not the DESIGN.md example as caddy fmt writes it (%v)", err)
		}
	}
	for _, f := range files {
		out, err := frontdoorCmd(t, "adapt", "--config", f, "--adapter", "caddyfile")
		if err != nil {
			t.Fatalf("adapt %s: %v\n%s", f, err, out)
		}
		for _, want := range []string{`"handler":"frontdoor"`, `"brand":"Acme Outdoor"`, `"handler":"reverse_proxy"`,
			`"name":"nightdesk"`, `"when":"Mon-Fri 08:00-20:00"`, `"zone":"America/New_York"`, `"availability":0.995`} {
			if !strings.Contains(out, want) {
				t.Errorf("adapted %s lacks %s", f, want)
			}
		}
		if f == "../Caddyfile.example" {
			for _, probe := range []string{`"name":"cart"`, `"name":"help-page"`, `"name":"track-order"`} {
				if !strings.Contains(out, probe) {
					t.Errorf("Caddyfile.example does not shop with probe %s", probe)
				}
			}
		}
		// frontdoor runs before respond without an order option.
		if strings.Index(out, `"handler":"frontdoor"`) > strings.Index(out, `"handler":"static_response"`) {
			t.Error("frontdoor is ordered after respond")
		}
	}
}

// withoutProbes removes the probe blocks of a formatted Caddyfile.
func withoutProbes(caddyfile string) string {
	var out strings.Builder
	closing := ""
	for _, line := range strings.SplitAfter(caddyfile, "\n") {
		switch {
		case closing != "":
			if line == closing {
				closing = ""
			}
		case strings.HasPrefix(strings.TrimLeft(line, "\t"), "probe ") && strings.HasSuffix(line, "{\n"):
			closing = line[:len(line)-len(strings.TrimLeft(line, "\t"))] + "}\n"
		default:
			out.WriteString(line)
		}
	}
	return out.String()
}

func TestBadConfigIsRejectedWithLineAndReason(t *testing.T) {
	t.Parallel()
	backend := func(body string) string {
		return "\t\t\tbackend b {\n" + body + "\n\t\t\t}\n"
	}
	cases := []struct {
		name, journeys string
		line           int // line of the Caddyfile the error must name
		reason         string
	}{
		{"unknown owner", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner partner\n\t\t\t\tto 127.0.0.1:1"), 4, `unknown owner "partner": use in-house or outsourced`},
		{"vendor in-house", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tvendor X\n\t\t\t\tto 127.0.0.1:1"), 4, `vendor "X" is set on an in-house backend`},
		{"no backends", "\t\tjourney j /j* {\n", 3, `journey "j" has no backend`},
		{"duplicate journey", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1") + "\t\t}\n\t\tjourney j /k* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1"), 9, `journey "j" is defined twice`},
		{"duplicate backend", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1") + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:2"), 8, `backend "b" is defined twice`},
		{"path claimed twice", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1") + "\t\t}\n\t\tjourney k /k* /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1"), 9, `path "/j*" is claimed by journeys "j" and "k"`},
		{"bad time zone", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1\n\t\t\t\thours \"Mon-Fri 08:00-20:00\" America/Nowhere"), 7, `unknown time zone "America/Nowhere"`},
		{"bad hours", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1\n\t\t\t\thours \"Mon-Fri 08:00-26:00\" UTC"), 7, `time "26:00"`},
		{"no upstream", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house"), 4, `no upstream: add to ADDRESS`},
		{"bad proxy option", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1\n\t\t\t\tlb_policy nonsense"), 7, `nonsense`},
		{"unknown option", "\t\tjourney j /j* {\n\t\t\tbakend b\n", 4, `unrecognized journey option "bakend"`},
		{"non-ASCII contact email", "\t\tcontact {\n\t\t\temail hjälp@acme.example\n\t\t}\n\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1"), 4,
			`contact email "hjälp@acme.example" has the non-ASCII character 'ä'`},
		{"non-ASCII contact url", "\t\tcontact {\n\t\t\tphone \"+1 800 555 0100\"\n\t\t\turl https://acme.example/hjälp\n\t\t}\n\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1"), 5,
			`percent-encode it`},
		{"tab in contact phone", "\t\tcontact {\n\t\t\tphone \"+1 800\t555 0100\"\n\t\t}\n\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1"), 4,
			`contact phone "+1 800\t555 0100" has a tab`},
		{"allow_redirect with a scheme", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner outsourced\n\t\t\t\tto 127.0.0.1:1\n\t\t\t\tallow_redirect pay.example https://pay.example/"), 7,
			`allow_redirect "https://pay.example/": want a host name such as pay.example or *.pay.example`},
		{"allow_redirect with a port", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner outsourced\n\t\t\t\tallow_redirect pay.example:443\n\t\t\t\tto 127.0.0.1:1"), 6,
			`allow_redirect "pay.example:443"`},
		{"allow_redirect without hosts", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner outsourced\n\t\t\t\tto 127.0.0.1:1\n\t\t\t\tallow_redirect"), 7,
			`allow_redirect needs the hosts`},
		{"origin on an in-house backend", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner in-house\n\t\t\t\torigin help.shop.example\n\t\t\t\tto 127.0.0.1:1"), 4,
			`origin "help.shop.example" is set on an in-house backend`},
		{"origin with a scheme", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner outsourced\n\t\t\t\torigin https://help.shop.example\n\t\t\t\tto 127.0.0.1:1"), 6,
			`origin "https://help.shop.example": want a brand subdomain`},
		{"origin shared by two backends", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner outsourced\n\t\t\t\torigin help.shop.example\n\t\t\t\tto 127.0.0.1:1") +
			"\t\t}\n\t\tjourney k /k* {\n\t\t\tbackend c {\n\t\t\t\towner outsourced\n\t\t\t\torigin Help.Shop.Example\n\t\t\t\tto 127.0.0.1:1\n\t\t\t}\n", 11,
			`origin "Help.Shop.Example" is already the origin of journey "j", backend "b"`},
		{"slo without %", "\t\tjourney j /j* {\n" + backend("\t\t\t\towner outsourced\n\t\t\t\tto 127.0.0.1:1\n\t\t\t\tslo availability 99.5"), 7, `needs a % sign`},
		{"probe regexp", "\t\tjourney j /j* {\n\t\t\tprobe p {\n\t\t\t\tstep GET /j\n\t\t\t\tforbid \"(?i\"\n\t\t\t}\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1"), 5, `journey "j", probe "p", step 1 (GET /j): forbid "(?i": error parsing regexp`},
		{"probe check before its step", "\t\tjourney j /j* {\n\t\t\tprobe p {\n\t\t\t\twithin 1s\n\t\t\t\tstep GET /j\n\t\t\t}\n" + backend("\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1"), 5, `within comes before any step`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := "http://127.0.0.1:1 {\n\tfrontdoor {\n" + c.journeys + "\t\t}\n\t}\n}\n"
			cfg = strings.Replace(cfg, "\tfrontdoor {\n", "\tfrontdoor {\n\t\tbrand Acme\n", 1)
			c.line++ // the brand line
			expectRejected(t, cfg, c.reason, c.line)
		})
	}
}

// TestOriginMustBeServedBySite: validate refuses an origin that is not an
// address of the frontdoor's own site (another site's included), naming
// the backend and the host; the same origin listed among the site's
// addresses passes.
func TestOriginMustBeServedBySite(t *testing.T) {
	t.Parallel()
	site := func(addresses string) string {
		return addresses + ` {
	frontdoor {
		brand Acme
		journey support /support* {
			backend desk {
				owner outsourced
				origin help.shop.example
				to 127.0.0.1:1
			}
		}
	}
}
http://help.shop.example {
	respond "another site"
}
`
	}
	validate := func(cfg string) (string, error) {
		p := filepath.Join(t.TempDir(), "Caddyfile")
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return frontdoorCmd(t, "validate", "--config", p, "--adapter", "caddyfile")
	}
	out, err := validate(site("http://shop.example"))
	if err == nil {
		t.Fatal("validate accepted an origin its site does not serve")
	}
	if want := `journey "support", backend "desk": origin "help.shop.example" is not an address of this site (it serves shop.example)`; !strings.Contains(out, want) {
		t.Errorf("validate output lacks %q:\n%s", want, lastLine(out))
	}
	cfg := strings.Replace(site("http://shop.example, http://help.shop.example"), "http://help.shop.example {\n\trespond \"another site\"\n}\n", "", 1)
	if out, err := validate(cfg); err != nil {
		t.Errorf("validate refused an origin among the site's addresses: %v\n%s", err, lastLine(out))
	}
}

// expectRejected writes a Caddyfile and checks that both validate and
// adapt refuse it, giving the reason and naming the line.
func expectRejected(t *testing.T, cfg, reason string, line int) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"validate", "adapt"} {
		out, err := frontdoorCmd(t, cmd, "--config", p, "--adapter", "caddyfile")
		if err == nil {
			t.Fatalf("%s accepted the config:\n%s", cmd, cfg)
		}
		if !strings.Contains(out, reason) {
			t.Errorf("%s: output lacks the reason %q:\n%s", cmd, reason, lastLine(out))
		}
		if at := fmt.Sprintf("%s:%d", p, line); !strings.Contains(out, at) {
			t.Errorf("%s: output does not name line %s:\n%s\nconfig:\n%s", cmd, at, lastLine(out), numbered(cfg))
		}
	}
}

func TestBadJSONConfigIsRejected(t *testing.T) {
	t.Parallel()
	cfg := `{"apps":{"http":{"servers":{"s":{"listen":[":0"],"routes":[{"handle":[{"handler":"frontdoor","brand":"Acme",
		"journeys":[{"name":"j","paths":["/j*"],"backends":[{"name":"b","owner":"vendor","proxy":{"handler":"reverse_proxy"}}]}]}]}]}}}}}`
	p := filepath.Join(t.TempDir(), "caddy.json")
	os.WriteFile(p, []byte(cfg), 0o600)
	out, err := frontdoorCmd(t, "validate", "--config", p)
	if err == nil || !strings.Contains(out, `unknown owner "vendor"`) {
		t.Errorf("validate: %v\n%s", err, lastLine(out))
	}
}

// TestJourneyNameIsOneJourneyAcrossSites: two sites whose frontdoors
// define a journey of one name differently are refused by validate and
// adapt, naming both lines and what differs (overrides and the status view
// go by journey name: an override for one moved the other); the same
// journey imported into both sites from a snippet passes.
func TestJourneyNameIsOneJourneyAcrossSites(t *testing.T) {
	t.Parallel()
	cfg := `http://shop.example {
	frontdoor {
		brand Acme
		journey support /support* {
			backend care {
				owner in-house
				to 127.0.0.1:1
			}
		}
	}
}

http://help.example {
	frontdoor {
		brand Acme
		journey support /help* {
			backend care {
				owner in-house
				to 127.0.0.1:1
			}
		}
	}
}
`
	expectRejected(t, cfg, `journey "support" is defined differently in another frontdoor handler, at `, 16)
	expectRejected(t, cfg, `:4 (they differ in paths): overrides and the status view go by journey name`, 16)

	shared := `(support) {
	journey support /support* {
		backend care {
			owner in-house
			to 127.0.0.1:1
		}
	}
}

http://shop.example {
	frontdoor {
		brand Acme
		import support
	}
}

http://help.example {
	frontdoor {
		brand Acme
		import support
	}
}
`
	p := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(p, []byte(shared), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := frontdoorCmd(t, "validate", "--config", p, "--adapter", "caddyfile"); err != nil {
		t.Errorf("validate refused one journey imported into two sites: %v\n%s", err, lastLine(out))
	}
}

// TestDemoKeepsToItsAddress: a second demo on the same ports started
// beside the first (Caddy listens with SO_REUSEPORT) and split the
// customers' and the CLI's requests with it; --listen 127.0.0.1:P bound
// every interface; the demo left its config in ~/.config/caddy/autosave.json
// for a later caddy run --resume; and --listen :P failed on an error about
// vendor origins.
func TestDemoKeepsToItsAddress(t *testing.T) {
	port := freePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	home := t.TempDir()
	first := startDemo(t, home, "--listen", listen, "--admin", admin)

	// The second must end at once; one that starts runs until the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, binary, "demo", "--listen", listen, "--admin", admin)
	second.Env = append(os.Environ(), "HOME="+t.TempDir())
	second.Cancel = func() error { return second.Process.Signal(os.Interrupt) }
	out, err := second.CombinedOutput()
	if ctx.Err() != nil || !strings.Contains(string(out), "is in use") {
		t.Errorf("a second demo on the same ports: %v (still running at the deadline: %v)\n%s", err, ctx.Err() != nil, lastLine(string(out)))
	}
	for table, anyAddr := range map[string]string{"/proc/net/tcp": "00000000", "/proc/net/tcp6": strings.Repeat("0", 32)} {
		sockets, err := os.ReadFile(table)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(sockets), "\n") {
			if f := strings.Fields(line); len(f) > 3 && f[1] == fmt.Sprintf("%s:%04X", anyAddr, port) && f[3] == "0A" { // 0A: LISTEN
				t.Errorf("--listen %s listens on every interface: %s", listen, line)
			}
		}
	}
	first.stop(t)
	if _, err := os.Stat(filepath.Join(home, ".config", "caddy", "autosave.json")); err == nil {
		t.Errorf("the demo left Caddy's autosave.json behind")
	}

	noHost := startDemo(t, t.TempDir(), "--listen", fmt.Sprintf(":%d", freePort(t)), "--admin", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if !strings.Contains(noHost.printed, "http://localhost:") {
		t.Errorf("--listen :PORT: the demo prints no localhost URL:\n%s", noHost.printed)
	}
	noHost.stop(t)
}

// runningDemo is a frontdoor demo the test started, and what it printed.
type runningDemo struct {
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	printed string
}

// startDemo starts frontdoor demo with args and HOME=home, and waits for
// its printed URLs.
func startDemo(t *testing.T, home string, args ...string) *runningDemo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, append([]string{"demo"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // Ctrl-C
	stdout, _ := cmd.StdoutPipe()
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &runningDemo{cmd: cmd, cancel: cancel}
	t.Cleanup(func() { d.stop(t) })
	printed := make(chan string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Ctrl-C stops the demo") {
				printed <- all.String()
			}
		}
	}()
	select {
	case d.printed = <-printed:
	case <-time.After(20 * time.Second):
		t.Fatalf("demo printed no URLs; logs:\n%s", logs.String())
	}
	return d
}

// stop ends the demo as Ctrl-C does, and waits for it.
func (d *runningDemo) stop(t *testing.T) {
	if d.cmd.ProcessState != nil {
		return
	}
	d.cancel()
	d.cmd.Wait() //nolint:errcheck // interrupted
}

func TestDemoServesTheJourneys(t *testing.T) {
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	out := startDemo(t, t.TempDir(), "--listen", listen, "--admin", admin).printed
	base := "http://" + listen
	for _, path := range []string{"/checkout", "/support", "/track/order-1001", "/track/login", "/"} {
		if !strings.Contains(out, base+path) {
			t.Errorf("demo does not print %s", base+path)
		}
	}
	checks := map[string]string{
		"/checkout":         "Acme Outdoor Checkout",
		"/track/order-1001": "ShipCo Parcel Tracking",
		"/":                 "The brand's own site",
	}
	for path, want := range checks {
		resp, body := do(t, "GET", base+path, nil, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("demo %s: %d, body lacks %q", path, resp.StatusCode, want)
		}
	}
	resp, body := do(t, "GET", base+"/support", nil, nil)
	if resp.StatusCode != 200 || !(strings.Contains(body, "Care Team") || strings.Contains(body, "NightDesk")) {
		t.Errorf("demo /support: %d %q", resp.StatusCode, body)
	}
	resp, _ = do(t, "GET", base+"/track/login", nil, nil)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), base+"/") {
		t.Errorf("demo vendor redirect: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// ShipCo runs on its own origin: a navigation on the brand host goes
	// there, and the origin asks the brand host for the customer.
	_, port, _ := net.SplitHostPort(listen)
	nav := newBrowserClient(t)
	resp, _ = nav.do(http.MethodGet, "http://shop.localhost:"+port+"/track/order-1001", nil, true)
	if want := "http://track.shop.localhost:" + port + "/track/order-1001"; resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Errorf("demo navigation to ShipCo: %d to %q, want %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	resp, _ = nav.do(http.MethodGet, "http://track.shop.localhost:"+port+"/track/order-1001", nil, true)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "http://shop.localhost:"+port+"/.well-known/frontdoor/handoff?") {
		t.Errorf("demo ShipCo origin without a session: %d to %q, want the handoff", resp.StatusCode, loc)
	}

	// NightDesk's chat page offers escalation to the logged-in customer;
	// escalating reaches the care team.
	if !strings.Contains(out, base+"/chat") || !strings.Contains(out, "Talk to our own team") {
		t.Errorf("demo does not print the escalation walk-through:\n%s", out)
	}
	resp, _ = do(t, "GET", base+"/demo/login", nil, nil)
	var session string
	for _, c := range resp.Cookies() {
		if c.Name == "acme_session" {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatal("demo login set no session cookie")
	}
	if _, body := do(t, "GET", base+"/chat", nil, withCookie(session)); !strings.Contains(body, "NightDesk BPO Helpdesk") {
		t.Fatalf("demo /chat before escalating: %q", body)
	}
	token := tokenOn(t, base+"/chat", session, escalateLink)
	if status := submit(t, base, "escalate", session, url.Values{"t": {token}}, nil); status != http.StatusSeeOther {
		t.Fatalf("demo escalation: %d, want 303", status)
	}
	if _, body := do(t, "GET", base+"/chat", nil, withCookie(session)); !strings.Contains(body, "Acme Outdoor Care Team") ||
		!strings.Contains(body, "cause=escalated") {
		t.Errorf("demo /chat after escalating did not reach the care team told why: %q", body)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func numbered(s string) string {
	var b strings.Builder
	for i, l := range strings.Split(s, "\n") {
		fmt.Fprintf(&b, "%3d %s\n", i+1, l)
	}
	return b.String()
}

func TestKeygenKeysSignAssertions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var keys []string
	for _, alg := range []string{"EdDSA", "ES256"} {
		p := filepath.Join(dir, alg+".pem")
		if out, err := frontdoorCmd(t, "keygen", "--alg", alg, "--out", p); err != nil {
			t.Fatalf("keygen %s: %v\n%s", alg, err, out)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("key file %s: %v %v", p, fi.Mode(), err)
		}
		keys = append(keys, p)
	}
	if _, err := frontdoorCmd(t, "keygen", "--out", keys[0]); err == nil {
		t.Error("keygen overwrote an existing key")
	}
	if out, err := frontdoorCmd(t, "keygen", "--out", filepath.Join(dir, "default.pem")); err != nil || !strings.Contains(out, "wrote ES256 key") {
		t.Errorf("keygen without --alg: %v %s, want an ES256 key", err, out)
	}
	vendor := startBackend(t, "vendor", nil)
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		assertion {
			key %s %s
			ttl 1m
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor V
				to %s
			}
		}`, keys[0], keys[1], vendor.URL)))
	do(t, "GET", gw.URL+"/support", nil, nil)
	token := vendor.last(t).Header.Get("X-Frontdoor-Assertion")
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if !strings.Contains(string(header), `"alg":"EdDSA"`) {
		t.Errorf("assertion not signed by the first key: %s", header)
	}
	_, jwks := do(t, "GET", gw.URL+"/.well-known/frontdoor/jwks.json", nil, nil)
	if strings.Count(jwks, `"kid"`) != 2 {
		t.Errorf("JWKS does not publish both keys: %s", jwks)
	}
}
