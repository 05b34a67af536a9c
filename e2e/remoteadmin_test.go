package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// testCert is a certificate made in the test, with its key and the files
// the CLI reads.
type testCert struct {
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	certFile string // the certificate, then the chain above it
	keyFile  string
}

// makeCert issues a certificate: a CA when isCA, else a TLS client
// certificate; self-signed when parent is nil.
func makeCert(t *testing.T, dir, cn string, isCA bool, parent *testCert) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Acme Outdoor"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	if isCA {
		// Caddy's CA makes an intermediate for 7 days: the root must outlive it.
		tmpl.NotAfter = time.Now().Add(10 * 365 * 24 * time.Hour)
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	c := &testCert{cert: cert, key: key,
		certFile: filepath.Join(dir, cn+".pem"), keyFile: filepath.Join(dir, cn+".key")}
	chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if parent != nil && parent.cert.Subject.String() != parent.cert.Issuer.String() {
		// an intermediate: the client sends it with its own certificate
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: parent.cert.Raw})...)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(c.certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *testCert) publicKey() string { return base64.StdEncoding.EncodeToString(c.cert.Raw) }

// startGatewayRemoteAdmin runs frontdoor with the site written as a
// Caddyfile, adapted, and admin and pki set in the JSON (Caddy's
// Caddyfile has no remote admin): the remote admin endpoint listens on
// remote with the access control given, and its server certificate is
// issued by Caddy's internal issuer from the test's root CA.
func startGatewayRemoteAdmin(t *testing.T, site, remote string, root *testCert, access []map[string]any) *gateway {
	t.Helper()
	g := &gateway{dir: t.TempDir(), AdminAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	port := freePort(t)
	g.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	g.writeConfig(t, site, port)
	out, err := exec.Command(binary, "adapt", "--config", filepath.Join(g.dir, "Caddyfile"), "--adapter", "caddyfile").Output()
	if err != nil {
		t.Fatalf("adapt: %v\n%s", err, out)
	}
	var cfg map[string]any
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["admin"] = map[string]any{
		"listen": g.AdminAddr,
		"config": map[string]any{"persist": false},
		"identity": map[string]any{
			"identifiers": []string{"127.0.0.1"},
			"issuers":     []any{map[string]any{"module": "internal"}},
		},
		"remote": map[string]any{"listen": remote, "access_control": access},
	}
	apps := cfg["apps"].(map[string]any)
	apps["pki"] = map[string]any{"certificate_authorities": map[string]any{"local": map[string]any{
		"install_trust": false,
		"root":          map[string]any{"certificate": root.certFile, "private_key": root.keyFile},
	}}}
	raw, _ := json.MarshalIndent(cfg, "", "\t")
	cfgFile := filepath.Join(g.dir, "caddy.json")
	if err := os.WriteFile(cfgFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	g.launch(t, binary, "run", "--config", cfgFile)
	return g
}

// mtlsClient is an HTTPS client presenting cert (nil: none) and trusting
// root.
func mtlsClient(t *testing.T, cert *testCert, root *testCert) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(root.cert)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		pair, err := tls.LoadX509KeyPair(cert.certFile, cert.keyFile)
		if err != nil {
			t.Fatal(err)
		}
		// Present it even when its issuer is not among the CAs the server
		// names, as for a listed leaf certificate (Go's default would not).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func mtlsDo(t *testing.T, c *http.Client, method, url, body string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestRemoteAdminWithClientCertificates runs the admin routes on Caddy's
// remote admin endpoint with mutual TLS: ops (any certificate of the ops
// CA) may change overrides, support (one listed certificate) may read
// trails and status, and nothing else gets in. An override's by is the
// certificate's name, whatever the body says.
func TestRemoteAdminWithClientCertificates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := makeCert(t, dir, "Acme Test Root", true, nil)
	opsCA := makeCert(t, dir, "Acme Ops CA", true, root)
	alice := makeCert(t, dir, "ops-alice", false, opsCA)
	bob := makeCert(t, dir, "support-bob", false, root)
	mallory := makeCert(t, dir, "mallory", false, root) // the brand's CA, but not listed
	stranger := makeCert(t, dir, "stranger", false, makeCert(t, dir, "Other CA", true, nil))

	rs := redistest.Start(t)
	seedSession(t, rs, sessionID, "customer_id", "C-1001")
	care := startBackend(t, "care-team", nil)
	night := startBackend(t, "nightdesk", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frontdoor-Note", "promised a callback")
		fmt.Fprint(w, "hello from nightdesk")
	})
	remote := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	gw := startGatewayRemoteAdmin(t, opsSite(rs.URL(), care, night), remote, root, []map[string]any{
		{"public_keys": []string{opsCA.publicKey()}, "permissions": []map[string]any{
			{"paths": []string{"/frontdoor/overrides/"}, "methods": []string{"PUT", "DELETE"}},
			{"paths": []string{"/frontdoor/status", "/frontdoor/overrides"}, "methods": []string{"GET"}},
		}},
		{"public_keys": []string{bob.publicKey()}, "permissions": []map[string]any{
			{"paths": []string{"/frontdoor/trail/", "/frontdoor/status"}, "methods": []string{"GET"}},
		}},
	})
	do(t, "GET", gw.URL+"/support", nil, withCookie(sessionID)) // a note on C-1001's trail
	base := "https://" + remote

	// The identity certificate is issued in the background.
	opsClient, bobClient := mtlsClient(t, alice, root), mtlsClient(t, bob, root)
	waitFor(t, 15*time.Second, func() error {
		_, _, err := mtlsDo(t, bobClient, "GET", base+"/frontdoor/status", "")
		return err
	})

	cli := func(c *testCert, args ...string) (string, error) {
		return frontdoorCmd(t, append(args, "--address", remote, "--cert", c.certFile, "--key", c.keyFile, "--ca", root.certFile)...)
	}

	t.Run("ops sets and clears overrides, signed by the certificate", func(t *testing.T) {
		out, err := cli(alice, "override", "set", "support", "care-team", "--for", "1h", "--reason", "NightDesk outage", "--by", "mallory")
		if err != nil || !strings.Contains(out, "journey support now goes to care-team") {
			t.Fatalf("override set with the ops certificate: %v\n%s", err, out)
		}
		if who := whoServes(t, gw); who != "care-team" {
			t.Errorf("override not obeyed: %s", who)
		}
		if out, err := cli(alice, "override", "clear", "support"); err != nil {
			t.Fatalf("override clear: %v\n%s", err, out)
		}
		code, body, err := mtlsDo(t, opsClient, "GET", base+"/frontdoor/overrides", "")
		if err != nil || code != 200 {
			t.Fatalf("reading the audit: %d %v %s", code, err, body)
		}
		var list struct{ Audit []map[string]any }
		json.Unmarshal([]byte(body), &list) //nolint:errcheck
		if len(list.Audit) < 2 {
			t.Fatalf("audit: %s", body)
		}
		for _, entry := range list.Audit[:2] { // the clear, then the set
			if by := fmt.Sprint(entry["by"]); !strings.HasPrefix(by, "ops-alice ") || strings.Contains(by, "mallory") {
				t.Errorf("audit %s by %q, want the certificate's name ops-alice", entry["action"], by)
			}
		}
	})

	t.Run("ops may not read trails", func(t *testing.T) {
		out, err := cli(alice, "trail", "C-1001")
		if err == nil || !strings.Contains(out, "403") || strings.Contains(out, "promised a callback") {
			t.Errorf("ops read a trail: %v\n%s", err, out)
		}
	})

	t.Run("support reads trails and status, changes nothing", func(t *testing.T) {
		out, err := cli(bob, "trail", "C-1001")
		if err != nil || !strings.Contains(out, "promised a callback") {
			t.Errorf("support trail: %v\n%s", err, out)
		}
		if out, err := cli(bob, "status"); err != nil || !strings.Contains(out, "nightdesk") {
			t.Errorf("support status: %v\n%s", err, out)
		}
		out, err = cli(bob, "override", "set", "support", "care-team", "--for", "1h")
		if err == nil || !strings.Contains(out, "403") {
			t.Errorf("support set an override: %v\n%s", err, out)
		}
		// Around the path check: Caddy cleans the path before matching it.
		for _, path := range []string{"/frontdoor/trail/../overrides/support", "/frontdoor/trail/..%2Foverrides%2Fsupport",
			"//frontdoor/overrides/support", "/frontdoor/trail/%2e%2e/overrides/support"} {
			code, body, err := mtlsDo(t, bobClient, "PUT", base+path, `{"backend":"care-team","ttl":"1h"}`)
			if err != nil || code != http.StatusForbidden {
				t.Errorf("PUT %s with the support certificate: %d %v %s, want 403", path, code, err, body)
			}
		}
		// Caddy's own routes hold the whole config, Redis URL included.
		for _, c := range []struct {
			client       *http.Client
			method, path string
		}{{bobClient, "GET", "/config/"}, {opsClient, "GET", "/config/"}, {opsClient, "POST", "/stop"}, {bobClient, "GET", "/debug/pprof/"}} {
			if code, body, err := mtlsDo(t, c.client, c.method, base+c.path, ""); err != nil || code != http.StatusForbidden {
				t.Errorf("%s %s: %d %v %s, want 403", c.method, c.path, code, err, body)
			}
		}
		if who := whoServes(t, gw); who != "nightdesk" {
			t.Errorf("support changed the routing: %s", who)
		}
	})

	t.Run("nobody else gets in", func(t *testing.T) {
		for name, c := range map[string]*http.Client{
			"no certificate":                  mtlsClient(t, nil, root),
			"a certificate of the brand's CA": mtlsClient(t, mallory, root),
			"a certificate of another CA":     mtlsClient(t, stranger, root),
		} {
			if code, body, err := mtlsDo(t, c, "GET", base+"/frontdoor/status", ""); err == nil {
				t.Errorf("%s: %d %s, want the TLS handshake refused", name, code, body)
			}
		}
		// Plain HTTP on the remote port is not the admin API either.
		if resp, err := http.Get("http://" + remote + "/frontdoor/status"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Errorf("plain HTTP on the remote admin port: %d %s", resp.StatusCode, b)
			}
		}
	})
}
