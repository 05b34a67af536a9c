package main

import (
	"fmt"
	"os"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/frontdoor-dev/frontdoor/internal/assertion"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
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
	})
}
