package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// structuredHeadersVersion is the npm structured-headers release the
// contact header is checked with: an RFC 9651 parser written apart from
// frontdoor and from the Go library that serializes the header.
const structuredHeadersVersion = "2.1.0"

// parseDictionaryWithNode parses a structured-field dictionary with npm's
// structured-headers and returns each member's string value. It installs
// the package into a temporary directory; a machine without node or npm
// fails the test (scripts/deps.sh installs them).
func parseDictionaryWithNode(t *testing.T, value string) (map[string]string, error) {
	t.Helper()
	dir := t.TempDir()
	install := exec.Command("npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--prefix", dir,
		"structured-headers@"+structuredHeadersVersion)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install structured-headers: %v\n%s", err, out)
	}
	script := filepath.Join(dir, "parse.mjs")
	os.WriteFile(script, []byte(`
import { parseDictionary } from 'structured-headers';
let input = '';
for await (const chunk of process.stdin) input += chunk;
const members = {};
for (const [key, [item]] of parseDictionary(input)) {
	if (typeof item !== 'string') throw new Error(key + ' is not a string');
	members[key] = item;
}
console.log(JSON.stringify(members));
`), 0o600)
	cmd := exec.Command("node", script)
	cmd.Stdin = strings.NewReader(value)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var members map[string]string
	if err := json.Unmarshal(out, &members); err != nil {
		t.Fatalf("node printed %q: %v", out, err)
	}
	return members, nil
}

// TestContactHeaderParsesAsStructuredField sends a contact with the
// characters a structured-field string must escape and checks what a vendor
// gets with an independent parser.
func TestContactHeaderParsesAsStructuredField(t *testing.T) {
	t.Parallel()
	vendor := startBackend(t, "vendor", nil)
	want := map[string]string{
		"phone": `+1 (800) 555-0100 ext. "7"`,
		"email": `help@acme.example`,
		"url":   `https://acme.example/help?topic=a\b&q=%C3%A4`,
	}
	gw := startGateway(t, fmt.Sprintf(`	frontdoor {
		brand "Acme Outdoor"
		contact {
			phone %q
			email %s
			url %s
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				headers all
				to %s
			}
		}
	}`, want["phone"], want["email"], want["url"], vendor.URL))
	if resp, _ := do(t, "GET", gw.URL+"/support/chat", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	header := vendor.last(t).Header.Get("X-Frontdoor-Support-Contact")
	got, err := parseDictionaryWithNode(t, header)
	if err != nil {
		t.Fatalf("structured-headers rejects %s: %v", header, err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("structured-headers read %s as %v, want %v", header, got, want)
	}
	// The parser is strict: what frontdoor refuses at validation, it refuses.
	if _, err := parseDictionaryWithNode(t, `email="hjälp@acme.example"`); err == nil || !strings.Contains(err.Error(), "ASCII") {
		t.Errorf("structured-headers accepted a non-ASCII string: %v", err)
	}
}
