package caddymodule

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/fleet"
)

func TestPrintableEscapesControls(t *testing.T) {
	for in, want := range map[string]string{
		"plain note":            "plain note",
		"Zoë 返金":                "Zoë 返金",
		"\x1b[2Jclear":          `\x1b[2Jclear`,
		"a\tb":                  `a\tb`,
		"a\nb\r":                `a\nb\r`,
		"c1 \u009b31m":          `c1 \u009b31m`,
		"bidi \u202eevil\u202c": `bidi \u202eevil\u202c`,
		"iso \u2066x\u2069":     `iso \u2066x\u2069`,
		"bad \xff byte":         `bad \xff byte`,
		"del\x7f":               `del\x7f`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// The status table shows an override's reason, and a trail its notes,
// without a control character reaching the terminal.
func TestOperatorOutputHasNoControls(t *testing.T) {
	evil := "\x1b[2J\x1b[H\tshifted \u202eevil"
	var out bytes.Buffer
	printStatus(&out, Status{Journeys: []JourneyStatus{{Name: "support",
		Override: &fleet.Override{Backend: "care", Reason: evil, ExpiresAt: time.Now().Add(time.Hour)},
		Backends: []BackendStatus{{Name: "care", Owner: "in-house", Vendor: evil}}}},
		RecentErrors: []recentError{{Journey: "support", Backend: "care", Kind: evil}}})
	printTrail(&out, []fleet.Entry{{Journey: "support", Backend: "nightdesk", Owner: "outsourced", Note: evil, Case: evil, RequestID: evil}})
	s := out.String()
	for _, bad := range []string{"\x1b", "\t", "\u202e"} {
		if strings.Contains(s, bad) {
			t.Errorf("operator output contains %q:\n%s", bad, s)
		}
	}
	if !strings.Contains(s, `\x1b[2J\x1b[H\tshifted \u202eevil`) {
		t.Errorf("the reason is not shown escaped:\n%s", s)
	}
}

// TestStatusAndProbesEscapeWhatTheyReceive: frontdoor status printed a
// closure's reason (a holiday calendar's SUMMARY) as it came, and frontdoor
// probes most of its columns: an escape sequence or a right-to-left
// override reached the operator's terminal.
func TestStatusAndProbesEscapeWhatTheyReceive(t *testing.T) {
	evil := "x\x1b[2J\u202eevil"
	var status, probes bytes.Buffer
	printStatus(&status, Status{Journeys: []JourneyStatus{{Name: "support",
		Backends: []BackendStatus{{Name: "care", Owner: "in-house", ClosedReason: evil}}}}})
	printProbes(&probes, Status{Journeys: []JourneyStatus{{Name: evil,
		Backends: []BackendStatus{{Name: evil, Owner: evil, Probes: []ProbeRun{{Probe: evil, Result: evil,
			Time: time.Now(), Failed: []CheckFailure{{Check: evil, Detail: "d"}}}}}}}}})
	for name, out := range map[string]string{"status": status.String(), "probes": probes.String()} {
		for _, bad := range []string{"\x1b", "\u202e"} {
			if strings.Contains(out, bad) {
				t.Errorf("frontdoor %s prints %q raw:\n%q", name, bad, out)
			}
		}
	}
}
