package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/frontdoor-dev/frontdoor/internal/assertion"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
)

// Every Caddy build that includes the module has frontdoor's operator
// commands under "frontdoor": caddy frontdoor keygen, status, override
// and trail. (Caddy modules may add subcommands; "frontdoor" keeps these
// names apart from Caddy's own and other modules'.)
func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "frontdoor",
		Usage: "keygen|status|probes|override|trail ...",
		Short: "Makes assertion keys and operates a running frontdoor",
		Long: `
frontdoor's operator commands: keygen makes a key for signing
X-Frontdoor-Assertion; status, probes, override and trail talk to a running
instance's admin endpoint. The frontdoor binary also has them at top level
(frontdoor status).`,
		CobraFunc: func(cmd *cobra.Command) {
			for _, c := range Commands() {
				sub := &cobra.Command{Use: c.Name + " " + c.Usage, Short: c.Short, Long: c.Long}
				c.CobraFunc(sub)
				cmd.AddCommand(sub)
			}
		},
	})
}

// Commands returns frontdoor's operator commands (keygen, status,
// probes, override, trail), each new, for a binary that registers them at
// top level with caddycmd.RegisterCommand as the frontdoor binary does.
func Commands() []caddycmd.Command {
	return []caddycmd.Command{keygenCommand(), statusCommand(), probesCommand(), overrideCommand(), trailCommand()}
}

func keygenCommand() caddycmd.Command {
	return caddycmd.Command{
		Name:  "keygen",
		Usage: "[--alg EdDSA|ES256] --out <file>",
		Short: "Makes a private key for signing X-Frontdoor-Assertion",
		Long: `
Writes a new PKCS#8 private key (mode 0600) for the assertion block:

	frontdoor keygen --out /etc/frontdoor/assertion-2026.pem
	assertion { key /etc/frontdoor/assertion-2026.pem }

Every instance must use the same key files.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("alg", assertion.DefaultAlgorithm, "ES256 (P-256, supported by every JOSE library) or EdDSA (Ed25519, faster)")
			cmd.Flags().String("out", "", "file to write; refuses to overwrite one")
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				alg, _ := cmd.Flags().GetString("alg")
				out, _ := cmd.Flags().GetString("out")
				if out == "" {
					return fmt.Errorf("--out is required: the private key is not printed to the terminal")
				}
				pem, err := assertion.GenerateKeyPEM(alg)
				if err != nil {
					return err
				}
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return fmt.Errorf("writing key: %w", err)
				}
				if _, err := f.Write(pem); err != nil {
					f.Close()
					return fmt.Errorf("writing key: %w", err)
				}
				if err := f.Close(); err != nil {
					return fmt.Errorf("writing key: %w", err)
				}
				fmt.Printf("wrote %s key to %s\n", alg, out)
				return nil
			}
		},
	}
}

// The ops commands talk to a running frontdoor's admin endpoint.

func statusCommand() caddycmd.Command {
	return caddycmd.Command{
		Name:  "status",
		Usage: "[--address <admin>] [--json]",
		Short: "Shows journeys, backends, health, overrides and recent errors",
		CobraFunc: func(cmd *cobra.Command) {
			addressFlag(cmd)
			cmd.Flags().Bool("json", false, "print the raw JSON")
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				body, err := adminRequest(cmd, http.MethodGet, "/frontdoor/status", nil)
				if err != nil {
					return err
				}
				if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
					_, err := os.Stdout.Write(body)
					return err
				}
				var st Status
				if err := json.Unmarshal(body, &st); err != nil {
					return fmt.Errorf("decoding status: %w", err)
				}
				printStatus(os.Stdout, st)
				return nil
			}
		},
	}
}

func overrideCommand() caddycmd.Command {
	return caddycmd.Command{
		Name:  "override",
		Usage: "set <journey> <backend> --for <ttl> --reason <text> | clear <journey>",
		Short: "Sends a journey to one backend on every instance, or back to normal",
		Long: `
An override sends every request of a journey to one backend, whatever its
hours, on every gateway instance sharing the session Redis, within a second.
It expires after --for, and every change is audited. Example, during a
vendor outage:

	frontdoor override set support care-team --for 2h --reason "NightDesk outage"
	frontdoor override clear support`,
		CobraFunc: func(cmd *cobra.Command) {
			set := &cobra.Command{
				Use:   "set <journey> <backend>",
				Short: "Sends the journey to the backend until --for runs out",
				Args:  cobra.ExactArgs(2),
				RunE: func(cmd *cobra.Command, args []string) error {
					ttl, _ := cmd.Flags().GetDuration("for")
					reason, _ := cmd.Flags().GetString("reason")
					by, _ := cmd.Flags().GetString("by")
					req, _ := json.Marshal(map[string]string{"backend": args[1], "ttl": ttl.String(), "reason": reason, "by": by})
					body, err := adminRequest(cmd, http.MethodPut, "/frontdoor/overrides/"+url.PathEscape(args[0]), req)
					if err != nil {
						return err
					}
					var o fleet.Override
					if err := json.Unmarshal(body, &o); err != nil {
						return fmt.Errorf("decoding override: %w", err)
					}
					fmt.Printf("journey %s now goes to %s until %s (%s)\n", o.Journey, o.Backend,
						o.ExpiresAt.Local().Format(time.DateTime), time.Until(o.ExpiresAt).Round(time.Second))
					return nil
				},
			}
			addressFlag(set)
			set.Flags().Duration("for", time.Hour, "how long the override lasts (10s to 168h)")
			set.Flags().String("reason", "", "why, for the audit log and the status page")
			set.Flags().String("by", os.Getenv("USER"), "who, for the audit log")
			clear := &cobra.Command{
				Use:   "clear <journey>",
				Short: "Returns the journey to normal routing",
				Args:  cobra.ExactArgs(1),
				RunE: func(cmd *cobra.Command, args []string) error {
					if _, err := adminRequest(cmd, http.MethodDelete, "/frontdoor/overrides/"+url.PathEscape(args[0]), nil); err != nil {
						return err
					}
					fmt.Printf("journey %s is back to normal routing\n", args[0])
					return nil
				},
			}
			addressFlag(clear)
			cmd.AddCommand(set, clear)
		},
	}
}

func trailCommand() caddycmd.Command {
	return caddycmd.Command{
		Name:  "trail",
		Usage: "<customer_id> [--address <admin>]",
		Short: "Shows a customer's interaction trail, newest first",
		CobraFunc: func(cmd *cobra.Command) {
			addressFlag(cmd)
			cmd.Args = cobra.ExactArgs(1)
			cmd.RunE = func(cmd *cobra.Command, args []string) error {
				body, err := adminRequest(cmd, http.MethodGet, "/frontdoor/trail/"+url.PathEscape(args[0]), nil)
				if err != nil {
					return err
				}
				var t struct {
					Entries []fleet.Entry `json:"entries"`
				}
				if err := json.Unmarshal(body, &t); err != nil {
					return fmt.Errorf("decoding trail: %w", err)
				}
				if len(t.Entries) == 0 {
					fmt.Printf("no trail for customer %s\n", args[0])
					return nil
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tJOURNEY\tBACKEND\tOWNER\tSTATUS\tCASE\tNOTE\tREFERENCE")
				for _, e := range t.Entries {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime),
						e.Journey, e.Backend, e.Owner, e.Status, dash(e.Case), dash(e.Note), e.RequestID)
				}
				return tw.Flush()
			}
		},
	}
}

func addressFlag(cmd *cobra.Command) {
	cmd.Flags().String("address", "localhost:2019", "address of frontdoor's admin endpoint")
}

func adminRequest(cmd *cobra.Command, method, path string, body []byte) ([]byte, error) {
	address, _ := cmd.Flags().GetString("address")
	var r io.Reader
	headers := http.Header{}
	if body != nil {
		r = bytes.NewReader(body)
		headers.Set("Content-Type", "application/json")
	}
	resp, err := caddycmd.AdminAPIRequest(address, method, path, headers, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func printStatus(w io.Writer, st Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOURNEY\tBACKEND\tOWNER\tVENDOR\tOPEN NOW\tHEALTHY\tREQUESTS\tERRORS\tOVERRIDE")
	for _, j := range st.Journeys {
		for _, b := range j.Backends {
			override := ""
			if j.Override != nil && j.Override.Backend == b.Name {
				override = fmt.Sprintf("until %s: %s", j.Override.ExpiresAt.Local().Format(time.TimeOnly), j.Override.Reason)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", j.Name, b.Name, b.Owner, dash(b.Vendor),
				yesNo(b.OpenNow), yesNo(b.Healthy), b.Requests, b.Errors, dash(override))
		}
	}
	tw.Flush()
	if len(st.RecentErrors) > 0 {
		fmt.Fprintln(w, "\nRecent errors:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tJOURNEY\tBACKEND\tSTATUS\tKIND\tREFERENCE")
		for _, e := range st.RecentErrors {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.Time.Local().Format(time.TimeOnly), e.Journey, e.Backend, e.Status, dash(e.Kind), e.RequestID)
		}
		tw.Flush()
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
