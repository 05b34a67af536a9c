package caddymodule

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/frontdoor-dev/frontdoor/internal/assertion"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/scorecard"
)

// Every Caddy build that includes the module has frontdoor's operator
// commands under "frontdoor": caddy frontdoor keygen, status, override,
// trail and scorecard. (Caddy modules may add subcommands; "frontdoor" keeps these
// names apart from Caddy's own and other modules'.)
func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "frontdoor",
		Usage: "keygen|status|probes|override|trail|orphans|scorecard ...",
		Short: "Makes assertion keys and operates a running frontdoor",
		Long: `
frontdoor's operator commands: keygen makes a key for signing
X-Frontdoor-Assertion; status, probes, override and trail talk to a running
instance's admin endpoint; scorecard reports every vendor against its
contract from Prometheus. The frontdoor binary also has them at top level
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
// probes, override, trail, scorecard), each new, for a binary that registers
// them at top level with caddycmd.RegisterCommand as the frontdoor binary does.
func Commands() []caddycmd.Command {
	return []caddycmd.Command{keygenCommand(), statusCommand(), probesCommand(), overrideCommand(), trailCommand(), orphansCommand(), scorecardCommand()}
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

// showStatus runs a command that reads GET /frontdoor/status and prints it
// with print, or as the raw JSON with --json.
func showStatus(print func(io.Writer, Status)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
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
		print(os.Stdout, st)
		return nil
	}
}

func statusCommand() caddycmd.Command {
	return caddycmd.Command{
		Name:  "status",
		Usage: "[--address <admin>] [--json]",
		Short: "Shows journeys, backends, health, overrides and recent errors",
		CobraFunc: func(cmd *cobra.Command) {
			addressFlag(cmd)
			cmd.Flags().Bool("json", false, "print the raw JSON")
			cmd.RunE = showStatus(printStatus)
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
					fmt.Printf("journey %s now goes to %s until %s (%s)\n", printable(o.Journey), printable(o.Backend),
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
					fmt.Printf("journey %s is back to normal routing\n", printable(args[0]))
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
					fmt.Printf("no trail for customer %s\n", printable(args[0]))
					return nil
				}
				return printTrail(os.Stdout, t.Entries)
			}
		},
	}
}

func scorecardCommand() caddycmd.Command {
	return caddycmd.Command{
		Name:  "scorecard",
		Usage: "--prometheus <url> [--range 30d] [--journey <name>] [--format md|html] [--out <file>]",
		Short: "Writes the vendor review's scorecard from Prometheus",
		Long: `
Reads the Prometheus that scrapes frontdoor and loads its recording rules
(dashboards/rules/frontdoor.rules.yml) and writes, per journey, every
backend next to the in-house team against its contract over the range:
requests, availability and latency against the slo lines (met or missed,
error budget left), and the secret-shopper pass rate, first-contact
resolution and hang-up share where those metrics exist. Markdown pastes into
a ticket; HTML is one printable page (inline SVG, no script, no network):

	frontdoor scorecard --prometheus http://prometheus:9090 --range 30d --format html --out scorecard.html`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("prometheus", "", "base URL of the Prometheus API (required)")
			cmd.Flags().String("range", "30d", "period reported, ending now: a Prometheus duration (30d, 1w, 12h)")
			cmd.Flags().String("journey", "", "report one journey (default: every journey with requests)")
			cmd.Flags().String("format", "md", "md (Markdown) or html")
			cmd.Flags().String("out", "", "file to write (default: standard output)")
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				var opts scorecard.Options
				opts.Prometheus, _ = cmd.Flags().GetString("prometheus")
				opts.Range, _ = cmd.Flags().GetString("range")
				opts.Journey, _ = cmd.Flags().GetString("journey")
				format, _ := cmd.Flags().GetString("format")
				out, _ := cmd.Flags().GetString("out")
				ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
				defer cancel()
				return scorecard.Write(ctx, opts, format, out, os.Stdout)
			}
		},
	}
}

// addressFlag adds the flags that say how to reach the admin endpoint:
// the local one (Caddy's, localhost:2019 or a unix socket) by default, or
// the remote one over mutual TLS with --cert and --key.
func addressFlag(cmd *cobra.Command) {
	cmd.Flags().String("address", "localhost:2019", "address of frontdoor's admin endpoint; with --cert, of Caddy's remote admin endpoint (default localhost:2021)")
	cmd.Flags().String("cert", "", "PEM file of the client certificate (and its intermediates) for Caddy's remote admin endpoint; its name is recorded as who made a change")
	cmd.Flags().String("key", "", "PEM file of the client certificate's private key")
	cmd.Flags().String("ca", "", "PEM file of the CA that issued the remote admin endpoint's certificate (default: the system's roots)")
}

func adminRequest(cmd *cobra.Command, method, path string, body []byte) ([]byte, error) {
	address, _ := cmd.Flags().GetString("address")
	certFile, _ := cmd.Flags().GetString("cert")
	keyFile, _ := cmd.Flags().GetString("key")
	caFile, _ := cmd.Flags().GetString("ca")
	var r io.Reader
	headers := http.Header{}
	if body != nil {
		r = bytes.NewReader(body)
		headers.Set("Content-Type", "application/json")
	}
	if certFile == "" && keyFile == "" {
		if caFile != "" {
			return nil, fmt.Errorf("--ca is for the remote admin endpoint: give --cert and --key too")
		}
		resp, err := caddycmd.AdminAPIRequest(address, method, path, headers, r)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	if !cmd.Flags().Changed("address") {
		address = "localhost" + caddy.DefaultRemoteAdminListen
	}
	client, err := remoteAdminClient(certFile, keyFile, caFile)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, "https://"+address+path, r)
	if err != nil {
		return nil, fmt.Errorf("remote admin request: %w", err)
	}
	req.Header = headers
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("remote admin request: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("remote admin request: reading the answer: %w", err)
	}
	if resp.StatusCode >= 400 {
		return nil, fmt.Errorf("remote admin endpoint answered HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(answer))
	}
	return answer, nil
}

// remoteAdminClient is an HTTPS client for Caddy's remote admin endpoint
// that proves who it is with the client certificate in certFile.
func remoteAdminClient(certFile, keyFile, caFile string) (*http.Client, error) {
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("the remote admin endpoint needs both --cert and --key")
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the client certificate: %w", err)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Always present the certificate: Caddy asks for the CAs of its
		// access_control list, and a listed certificate issued by a CA
		// that is not listed would otherwise not be sent.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil },
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading --ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s holds no PEM certificate", caFile)
		}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}, nil
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", printable(j.Name), printable(b.Name), printable(b.Owner),
				dash(b.Vendor), openNow(b), yesNo(b.Healthy), b.Requests, b.Errors, dash(override))
		}
	}
	tw.Flush()
	if len(st.RecentErrors) > 0 {
		fmt.Fprintln(w, "\nRecent errors:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tJOURNEY\tBACKEND\tSTATUS\tKIND\tREFERENCE")
		for _, e := range st.RecentErrors {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.Time.Local().Format(time.TimeOnly),
				printable(e.Journey), printable(e.Backend), e.Status, dash(e.Kind), printable(e.RequestID))
		}
		tw.Flush()
	}
}

// openNow says whether a backend takes traffic now, and why not when a
// closure shuts it: "no (closed: Christmas Day)".
func openNow(b BackendStatus) string {
	if b.ClosedReason != "" {
		return "no (closed: " + printable(b.ClosedReason) + ")"
	}
	return yesNo(b.OpenNow)
}

// printTrail prints a customer's trail entries as a table.
func printTrail(w io.Writer, entries []fleet.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tJOURNEY\tBACKEND\tOWNER\tSTATUS\tCASE\tNOTE\tREFERENCE")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime),
			printable(e.Journey), printable(e.Backend), printable(e.Owner), e.Status, dash(e.Case), dash(e.Note), printable(e.RequestID))
	}
	return tw.Flush()
}

// printable escapes what a terminal must not be given from a note, a
// reason or any other text the admin endpoint returns: a character that
// is not printable (controls, tabs, line breaks, bidirectional formatting)
// is written as Go escapes it (\x1b, \t, \u202e), and so is each byte of
// invalid UTF-8. Text stored by this version has none (fleet.CleanText);
// older entries or other writers might.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// dash shows text for a table cell: escaped, or "-" when blank.
func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return printable(s)
}
