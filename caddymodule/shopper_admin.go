package caddymodule

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/frontdoor-dev/frontdoor/internal/shopper"
)

// ProbeRun is the outcome of one probe run against one backend, as the
// status endpoint shows it.
type ProbeRun = shopper.Run

// CheckFailure is one failed check of a probe run's step.
type CheckFailure = shopper.CheckFailure

// probeRuns returns the latest run of each probe of the journey through
// the backend, for the status endpoint.
func (h *Handler) probeRuns(journey, backend string) []ProbeRun {
	if h.shopper == nil {
		return nil
	}
	var out []ProbeRun
	for _, t := range h.shopper.Targets() {
		if t.Journey() != journey || t.Backend().Name != backend {
			continue
		}
		if run := t.Last(); run != nil {
			out = append(out, *run)
		} else {
			out = append(out, ProbeRun{Probe: t.Probe(), Result: "pending"})
		}
	}
	return out
}

func probesCommand() caddycmd.Command {
	return caddycmd.Command{
		Name:  "probes",
		Usage: "[--address <admin>] [--json]",
		Short: "Shows the latest secret shopper run through every backend",
		Long: `
Shows, for each probe and backend, the latest secret shopper run: when, its
result, whether the backend was open by its hours, and for a failed run the
step, the checks it failed and the request's reference (its X-Request-Id,
to look up in the vendor's own logs).`,
		CobraFunc: func(cmd *cobra.Command) {
			addressFlag(cmd)
			cmd.Flags().Bool("json", false, "print the raw JSON of the status endpoint")
			cmd.RunE = showStatus(printProbes)
		},
	}
}

func printProbes(w io.Writer, st Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOURNEY\tBACKEND\tOWNER\tVENDOR\tPROBE\tOPEN\tRESULT\tTIME\tTOOK\tFAILED CHECKS\tSTEP\tREFERENCE")
	var failures []string
	n := 0
	for _, j := range st.Journeys {
		for _, b := range j.Backends {
			for _, p := range b.Probes {
				n++
				when, took, open := "-", "-", "-"
				if !p.Time.IsZero() {
					when = p.Time.Local().Format(time.DateTime)
					took = (time.Duration(p.Duration * float64(time.Second))).Round(time.Millisecond).String()
					open = yesNo(p.Open)
				}
				var checks []string
				journey, backend, probe := printable(j.Name), printable(b.Name), printable(p.Probe)
				for _, f := range p.Failed {
					checks = append(checks, printable(f.Check))
					failures = append(failures, fmt.Sprintf("%s/%s/%s %s: %s", journey, backend, probe, printable(f.Check), printable(f.Detail)))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", journey, backend, printable(b.Owner), dash(b.Vendor),
					probe, open, printable(p.Result), when, took, dash(strings.Join(checks, ",")), dash(printable(p.Step)), dash(p.RequestID))
			}
		}
	}
	tw.Flush()
	if n == 0 {
		fmt.Fprintln(w, "no probe configured: add probe NAME { step GET PATH } to a journey")
		return
	}
	if len(failures) > 0 {
		fmt.Fprintln(w, "\nFailed checks:")
		for _, f := range failures {
			fmt.Fprintln(w, "  "+f)
		}
	}
}
