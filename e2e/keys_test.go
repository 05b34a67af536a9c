package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	gojwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// joseVersion is the npm jose release that plays a Node vendor, with
// createRemoteJWKSet's defaults: a set is kept 10 min, and refetched on an
// unknown kid at most every 30 s.
const joseVersion = "6.2.19"

// Timings of TestKeysRotateWithoutVendorsNoticing, short so that the test
// sees two rotations.
const (
	keysRotate = 40 * time.Second // longer than jose's 30 s cooldown
	keysTTL    = 10 * time.Second
	keysLoad   = 2*keysRotate + 15*time.Second
)

// vendorVerifier checks one token against the JWK Set at a URL, as a
// vendor's own library does, and says why it rejects it.
type vendorVerifier interface {
	verify(jwksURL, token string) error
}

// lineVerifier runs a verifier program that reads "URL TOKEN" lines and
// answers "ok" or the reason, one line each.
type lineVerifier struct {
	mu  sync.Mutex
	in  io.Writer
	out *bufio.Scanner
}

func startLineVerifier(t *testing.T, cmd *exec.Cmd) *lineVerifier {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait() //nolint:errcheck
	})
	return &lineVerifier{in: in, out: bufio.NewScanner(out)}
}

func (v *lineVerifier) verify(jwksURL, token string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, err := fmt.Fprintf(v.in, "%s %s\n", jwksURL, token); err != nil {
		return err
	}
	if !v.out.Scan() {
		return fmt.Errorf("verifier stopped: %v", v.out.Err())
	}
	if line := v.out.Text(); line != "ok" {
		return fmt.Errorf("%s", line)
	}
	return nil
}

// startJose plays a Node vendor with npm's jose, createRemoteJWKSet with
// its defaults, one per JWK Set URL.
func startJose(t *testing.T) *lineVerifier {
	t.Helper()
	dir := t.TempDir()
	install := exec.Command("npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--prefix", dir, "jose@"+joseVersion)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install jose: %v\n%s", err, out)
	}
	script := filepath.Join(dir, "verify.mjs")
	os.WriteFile(script, []byte(`
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as readline from 'node:readline';
const sets = new Map();
const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
	const [url, token] = line.split(' ');
	if (!sets.has(url)) sets.set(url, createRemoteJWKSet(new URL(url)));
	try {
		await jwtVerify(token, sets.get(url), { issuer: 'Acme Outdoor', audience: 'nightdesk', algorithms: ['ES256', 'EdDSA'] });
		console.log('ok');
	} catch (e) {
		console.log('jose: ' + (e.code || '') + ' ' + e.message);
	}
}
`), 0o600)
	return startLineVerifier(t, exec.Command("node", script))
}

// pythonWithJWT finds a Python that imports PyJWT: the one on PATH, or
// Debian's, where scripts/deps.sh installs python3-jwt.
func pythonWithJWT(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import jwt, cryptography").Run() == nil {
			return py
		}
	}
	t.Fatal("no python3 with PyJWT and cryptography: run scripts/deps.sh")
	return ""
}

// startPyJWT plays a Python vendor with PyJWT's PyJWKClient and its
// defaults (the set kept 300 s, refetched on an unknown kid).
func startPyJWT(t *testing.T) *lineVerifier {
	t.Helper()
	script := filepath.Join(t.TempDir(), "verify.py")
	os.WriteFile(script, []byte(`
import sys, jwt
clients = {}
for line in sys.stdin:
    url, token = line.split()
    client = clients.setdefault(url, jwt.PyJWKClient(url))
    try:
        key = client.get_signing_key_from_jwt(token)
        jwt.decode(token, key.key, algorithms=["ES256", "EdDSA"], audience="nightdesk", issuer="Acme Outdoor",
                   options={"require": ["exp", "iat", "nbf"]})
        print("ok", flush=True)
    except Exception as e:
        print("pyjwt: %s: %s" % (type(e).__name__, e), flush=True)
`), 0o600)
	return startLineVerifier(t, exec.Command(pythonWithJWT(t), script))
}

// jwxVerifier plays a Go vendor with lestrrat-go/jwx's jwk.Cache. Its
// default refresh interval is at least 15 min; the test lets it follow the
// JWK Set's Cache-Control instead (at least 1 s), as the rotation here is
// seconds, not hours.
type jwxVerifier struct {
	ctx   context.Context
	cache *jwk.Cache
	mu    sync.Mutex
}

func newJWXVerifier(t *testing.T) *jwxVerifier {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cache, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		t.Fatal(err)
	}
	return &jwxVerifier{ctx: ctx, cache: cache}
}

func (v *jwxVerifier) verify(jwksURL, token string) error {
	v.mu.Lock()
	if !v.cache.IsRegistered(v.ctx, jwksURL) {
		if err := v.cache.Register(v.ctx, jwksURL, jwk.WithMinInterval(time.Second)); err != nil {
			v.mu.Unlock()
			return fmt.Errorf("jwx: register: %v", err)
		}
	}
	v.mu.Unlock()
	set, err := v.cache.Lookup(v.ctx, jwksURL)
	if err != nil {
		return fmt.Errorf("jwx: lookup: %v", err)
	}
	if _, err := jwt.Parse([]byte(token), jwt.WithKeySet(set), jwt.WithValidate(true),
		jwt.WithIssuer("Acme Outdoor"), jwt.WithAudience("nightdesk")); err != nil {
		return fmt.Errorf("jwx: %v", err)
	}
	return nil
}

// TestKeysRotateWithoutVendorsNoticing runs three instances sharing a
// Redis, each with keys it made itself: one rotates every 40 s, one is
// restarted, all under load. Vendors on jose, PyJWT and jwx each verify
// every token against the JWK Set of another instance than the one that
// signed it, and no token is rejected; once each token has expired, it
// still verifies (at its last valid second) against every instance's JWK
// Set.
func TestKeysRotateWithoutVendorsNoticing(t *testing.T) {
	// Its minutes are the keys' own schedule, and its margins seconds:
	// other tests may run meanwhile.
	t.Parallel()
	rs := redistest.Start(t)
	var tokens chan string = make(chan string, 100_000)
	vendor := startBackend(t, "vendor", func(w http.ResponseWriter, r *http.Request) {
		tokens <- r.Header.Get("X-Frontdoor-Assertion")
	})
	site := func(assertion string) string {
		return frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
		}
		assertion {
			ttl %s
			reuse 0s
			%s
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
			}
		}`, rs.URL(), keysTTL, assertion, vendor.URL))
	}
	gws := []*gateway{
		startGateway(t, site("")),                                   // restarted
		startGateway(t, site(fmt.Sprintf("rotate %s", keysRotate))), // rotates
		startGateway(t, site("")),
	}
	jwksURL := func(i int) string { return gws[i%len(gws)].URL + "/.well-known/frontdoor/jwks.json" }
	kids := func(i int) (map[string]bool, string, error) {
		resp, err := http.Get(jwksURL(i))
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		var set jose.JSONWebKeySet
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			return nil, "", err
		}
		out := map[string]bool{}
		for _, k := range set.Keys {
			out[k.KeyID] = true
		}
		return out, resp.Header.Get("Cache-Control"), nil
	}
	// Each instance's first token names its key: every instance's JWK
	// Set lists the three (and the rotating one's next key).
	first := map[string]bool{}
	for _, g := range gws {
		resp, _ := do(t, "GET", g.URL+"/support/hello", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", g.URL, resp.StatusCode)
		}
		first[kidOf(t, <-tokens)] = true
	}
	if len(first) != 3 {
		t.Fatalf("the three instances sign with %d keys, want their own each", len(first))
	}
	for i := range gws {
		waitFor(t, 15*time.Second, func() error {
			got, _, err := kids(i)
			if err != nil {
				return err
			}
			for kid := range first {
				if !got[kid] {
					return fmt.Errorf("%s lists %v, missing %s", jwksURL(i), got, kid)
				}
			}
			return nil
		})
	}
	// Every instance serves the rotating one's keys, so each asks caches
	// to refetch within a quarter of its period.
	for i := range gws {
		waitFor(t, 15*time.Second, func() error {
			if _, cc, _ := kids(i); cc != "public, max-age=10" {
				return fmt.Errorf("instance %d's JWK Set Cache-Control %q, want a quarter of the 40s period", i, cc)
			}
			return nil
		})
	}

	verifiers := []struct {
		name string
		v    vendorVerifier
	}{{"jose", startJose(t)}, {"pyjwt", startPyJWT(t)}, {"jwx", newJWXVerifier(t)}}

	// Load: each instance in turn; each token is verified by every
	// vendor against another instance's JWK Set than the signer's.
	type issued struct {
		token string
		by    int
	}
	var (
		collected []issued
		rejected  atomic.Int64
		verified  atomic.Int64
		rejects   = make(chan string, 100)
	)
	stop := time.Now().Add(keysLoad)
	restartAt := time.Now().Add(keysRotate + keysRotate/2)
	restarted := false
	client := &http.Client{Timeout: 5 * time.Second}
	kidsSeen := map[string]bool{}
	for n := 0; time.Now().Before(stop); n++ {
		if !restarted && time.Now().After(restartAt) {
			restarted = true
			gws[0].restart(t)
		}
		by := n % len(gws)
		resp, err := client.Get(gws[by].URL + "/support/load")
		if err != nil {
			t.Fatalf("request to instance %d: %v", by, err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("instance %d: status %d", by, resp.StatusCode)
		}
		token := <-tokens
		kidsSeen[kidOf(t, token)] = true
		collected = append(collected, issued{token, by})
		for k, v := range verifiers {
			url := jwksURL(by + 1 + k%2)
			if err := v.v.verify(url, token); err != nil {
				rejected.Add(1)
				select {
				case rejects <- fmt.Sprintf("%s against %s (token of instance %d, kid %s): %v", v.name, url, by, kidOf(t, token), err):
				default:
				}
			} else {
				verified.Add(1)
			}
		}
		time.Sleep(20 * time.Millisecond) // pacing the load, not waiting for a condition
	}
	close(rejects)
	for r := range rejects {
		t.Error(r)
	}
	if n := rejected.Load(); n > 0 {
		t.Errorf("vendors rejected %d of %d verifications", n, n+verified.Load())
	}
	if !restarted {
		t.Fatal("the load ended before the restart")
	}
	// The rotating instance signed with three keys: two rotations.
	if len(kidsSeen) < 5 {
		t.Errorf("tokens were signed with %d keys, want at least 5 (two rotations)", len(kidsSeen))
	}

	// Late: each token, once it has expired, still finds its key in the
	// JWK Set of every instance (checked at its last valid second).
	last := collected[len(collected)-1]
	exp := expiryOf(t, last.token)
	if wait := time.Until(exp); wait > 0 {
		time.Sleep(wait) // the tokens' own lifetime, a fixed point in time
	}
	for i := range gws {
		resp, body := do(t, "GET", jwksURL(i), nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("JWK Set of instance %d: %d", i, resp.StatusCode)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(body), &set); err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, it := range collected {
			if expiryOf(t, it.token).Before(time.Now().Add(-time.Minute)) {
				continue // long expired: its key may rightly be gone
			}
			parsed, err := gojwt.ParseSigned(it.token, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			var claims gojwt.Claims
			if err := parsed.Claims(&set, &claims); err == nil {
				err = claims.ValidateWithLeeway(gojwt.Expected{Issuer: "Acme Outdoor", AnyAudience: gojwt.Audience{"nightdesk"},
					Time: claims.Expiry.Time().Add(-time.Second)}, 0)
			}
			if err != nil {
				failed++
			}
		}
		if failed > 0 {
			t.Errorf("a full ttl after issue, %d tokens do not verify against instance %d's JWK Set", failed, i)
		}
	}
	t.Logf("%d tokens, %d keys, %d verifications by jose, PyJWT and jwx, %d rejected",
		len(collected), len(kidsSeen), verified.Load()+rejected.Load(), rejected.Load())
}

// restart stops the gateway's process and starts it again with the same
// config and data directory, as an orchestrator restarting it would.
func (g *gateway) restart(t *testing.T) {
	t.Helper()
	g.cmd.Process.Signal(os.Interrupt) //nolint:errcheck
	g.cmd.Wait()                       //nolint:errcheck
	g.launch(t, binary, "run", "--config", filepath.Join(g.dir, "Caddyfile"), "--adapter", "caddyfile")
}

func claimsOf(t *testing.T, token string) (string, gojwt.Claims) {
	t.Helper()
	parsed, err := gojwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("token %q: %v", token, err)
	}
	var claims gojwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&claims); err != nil {
		t.Fatal(err)
	}
	return parsed.Headers[0].KeyID, claims
}

func kidOf(t *testing.T, token string) string {
	kid, _ := claimsOf(t, token)
	return kid
}

func expiryOf(t *testing.T, token string) time.Time {
	_, c := claimsOf(t, token)
	return c.Expiry.Time()
}
