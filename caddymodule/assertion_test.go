package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/caddyserver/caddy/v2"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/frontdoor-dev/frontdoor/internal/assertion"
	"github.com/frontdoor-dev/frontdoor/internal/session"
	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

// TestEphemeralKeyIsES256: without keys, the key made at start signs
// ES256, the algorithm every vendor's JOSE library verifies.
func TestEphemeralKeyIsES256(t *testing.T) {
	h := provisionHandler(t, `
		brand "Acme Outdoor"
		journey support /support* {
			backend care {
				owner in-house
				to 127.0.0.1:1
			}
		}`, monday10)
	signer := h.signerAt(time.Now())
	if got := signer.Algorithm(); got != "ES256" {
		t.Errorf("ephemeral key signs %s, want ES256", got)
	}
	var jwks jose.JSONWebKeySet
	data, _ := h.jwks(context.Background(), time.Now())
	if err := json.Unmarshal(data, &jwks); err != nil {
		t.Fatal(err)
	}
	if keys := jwks.Key(signer.KeyID()); len(keys) != 1 || keys[0].Algorithm != "ES256" {
		t.Errorf("JWKS %s, want the ES256 key %s", data, signer.KeyID())
	}
}

// TestReuseKeyTellsClaimsApart: two different claims, or the same claims
// under another signing key, never share a reuse key; the same claims from
// another lookup do.
func TestReuseKeyTellsClaimsApart(t *testing.T) {
	fields := session.NewFieldSet([]string{"customer_id", "first_name"})
	ctxOf := func(hash ...string) *session.Context { return lookupTestContext(t, fields, hash...) }
	night := &backendRoute{journey: "support", name: "night", context: newContextFields([]string{"customer_id", "first_name"})}
	nightOther := &backendRoute{journey: "tracking", name: "night", context: night.context}
	care := &backendRoute{journey: "support", name: "care", context: night.context}
	const kidA, kidB = "kid-A", "kid-B"

	cases := map[string]struct {
		kid string
		b   *backendRoute
		cc  customerContext
	}{
		"none":                   {kidA, night, customerContext{state: sessionNone}},
		"none, key B":            {kidB, night, customerContext{state: sessionNone}},
		"none, no key":           {"", night, customerContext{state: sessionNone}},
		"unavailable":            {kidA, night, customerContext{state: sessionUnavailable}},
		"other backend":          {kidA, care, customerContext{state: sessionNone}},
		"same name, other route": {kidA, nightOther, customerContext{state: sessionNone}},
		"found C-1":              {kidA, night, customerContext{state: sessionFound, ctx: ctxOf("customer_id", "C-1")}},
		"found C-1, key B":       {kidB, night, customerContext{state: sessionFound, ctx: ctxOf("customer_id", "C-1")}},
		"found C-1 Ada":          {kidA, night, customerContext{state: sessionFound, ctx: ctxOf("customer_id", "C-1", "first_name", "Ada")}},
		"found C-1 empty name":   {kidA, night, customerContext{state: sessionFound, ctx: ctxOf("customer_id", "C-1", "first_name", "")}},
		"found C-1A da":          {kidA, night, customerContext{state: sessionFound, ctx: ctxOf("customer_id", "C-1A", "first_name", "da")}},
		"found no id, C-1 name":  {kidA, night, customerContext{state: sessionFound, ctx: ctxOf("first_name", "C-1")}},
	}
	seen := map[string]string{}
	for name, c := range cases {
		key := string(reuseKey(nil, c.kid, c.b, c.cc))
		if other, dup := seen[key]; dup {
			t.Errorf("%q and %q share the reuse key %q", name, other, key)
		}
		seen[key] = name
	}
	// And the same claims under the same key from another lookup share one.
	a := reuseKey(nil, kidA, night, customerContext{state: sessionFound, ctx: ctxOf("customer_id", "C-1", "first_name", "Ada")})
	b := reuseKey(nil, kidA, night, customerContext{state: sessionFound, ctx: ctxOf("customer_id", "C-1", "first_name", "Ada")})
	if string(a) != string(b) {
		t.Errorf("equal claims, keys %q and %q", a, b)
	}
}

// TestReuseKeyNamesTheSigningKey: the handler's reuse keys carry the kid of
// the key that signs, so a token in the cache can only ever be served for
// the key that signed it.
func TestReuseKeyNamesTheSigningKey(t *testing.T) {
	h := provisionHandler(t, `
		brand "Acme Outdoor"
		journey support /support* {
			backend care {
				owner in-house
				to 127.0.0.1:1
			}
		}`, monday10)
	kid := h.signerAt(time.Now()).KeyID()
	b := h.routes[0].backends[0]
	if _, err := h.sign(b, "support", customerContext{state: sessionNone}); err != nil {
		t.Fatal(err)
	}
	if h.tokens.len() != 1 {
		t.Fatalf("%d cached tokens, want 1", h.tokens.len())
	}
	for _, shard := range h.tokens.shards {
		for _, e := range shard.Values() {
			if !strings.HasPrefix(e.key, string(appendKeyPart(nil, kid))) {
				t.Errorf("reuse key %q does not start with the kid %q", e.key, kid)
			}
		}
	}
}

func durationPtr(d time.Duration) *caddy.Duration {
	v := caddy.Duration(d)
	return &v
}

// TestReuseDefault: reuse is on unless turned off, 30s or half the ttl,
// whichever is shorter, so that a short ttl does not make the default
// config invalid.
func TestReuseDefault(t *testing.T) {
	for _, tc := range []struct {
		block string
		want  time.Duration // 0: no reuse cache
	}{
		{"", 30 * time.Second},
		{"ttl 5m", 30 * time.Second},
		{"ttl 60s", 30 * time.Second},
		{"ttl 40s", 20 * time.Second},
		{"ttl 1s", 500 * time.Millisecond},
		{"reuse 10s", 10 * time.Second},
		{"ttl 4m\n reuse 2m", 2 * time.Minute},
		{"reuse 0s", 0},
		{"ttl 20s\n reuse 0s", 0},
	} {
		h := provisionHandler(t, `
		brand "Acme Outdoor"
		assertion {
			`+tc.block+`
		}
		journey support /support* {
			backend care {
				owner in-house
				to 127.0.0.1:1
			}
		}`, monday10)
		got := time.Duration(0)
		if h.tokens != nil {
			got = time.Duration(h.tokens.reuse)
		}
		if got != tc.want {
			t.Errorf("assertion { %s }: reuse %v, want %v", tc.block, got, tc.want)
		}
	}
}

func TestTokenCacheExpiresAndStaysBounded(t *testing.T) {
	c := newTokenCache(10*time.Second, 16)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	c.put([]byte("k"), "token-1", t0)
	if got, ok := c.get([]byte("k"), t0.Add(9*time.Second)); !ok || got != "token-1" {
		t.Errorf("within the window: %q %v", got, ok)
	}
	if _, ok := c.get([]byte("k"), t0.Add(10*time.Second)); ok {
		t.Error("reused at the end of the window")
	}
	if _, ok := c.get([]byte("k"), t0.Add(-time.Second)); ok {
		t.Error("reused a token from the future (clock stepped back)")
	}
	for i := range 1000 {
		c.put(fmt.Appendf(nil, "k%d", i), "t", t0.Add(time.Duration(i)*time.Millisecond))
		if n := c.len(); n > 16 {
			t.Fatalf("%d entries after %d puts, max 16", n, i+1)
		}
	}
	if _, ok := c.get([]byte("k999"), t0.Add(time.Second)); !ok {
		t.Error("the newest token was evicted")
	}
}

// TestTokenCacheKeepsTheWorkingSet: a full cache that keeps taking one-off
// customers' tokens keeps the tokens of the customers who come back.
func TestTokenCacheKeepsTheWorkingSet(t *testing.T) {
	const limit, hot = 1024, 200
	c := newTokenCache(time.Minute, limit)
	now := time.Now()
	for i := range hot {
		c.put(fmt.Appendf(nil, "hot%d", i), "t", now)
	}
	for i := range 20 * limit {
		c.put(fmt.Appendf(nil, "cold%d", i), "t", now)
		if i%32 == 0 {
			for j := range hot {
				key := fmt.Appendf(nil, "hot%d", j)
				if _, ok := c.get(key, now); !ok {
					t.Fatalf("after %d one-off tokens, a returning customer's token (%s) is gone", i+1, key)
				}
			}
		}
		if n := c.len(); n > limit {
			t.Fatalf("%d entries, max %d", n, limit)
		}
	}
}

func TestTokenCacheConcurrent(t *testing.T) {
	c := newTokenCache(time.Second, 64)
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			now := time.Now()
			for i := range 2000 {
				key := fmt.Appendf(nil, "k%d", (i*7+g)%100)
				if tok, ok := c.get(key, now); ok && tok != string(key) {
					t.Errorf("key %s read token %s", key, tok)
					return
				}
				c.put(key, string(key), now)
			}
		}()
	}
	for range 4 {
		<-done
	}
	if n := c.len(); n > 64 {
		t.Errorf("%d entries, max 64", n)
	}
}

// TestServeReusesAssertions runs the handler with reuse off and with the
// default against a vendor that keeps the assertions it got: by default,
// one token serves a customer's repeated requests while another customer,
// and a visitor without a session, get their own; every token verifies with
// go-jose against the published keys, and each token has its own jti,
// which is not any request's id.
func TestServeReusesAssertions(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.HSet("session:aaaaaaaa1111", "customer_id", "C-1")
	mr.HSet("session:bbbbbbbb2222", "customer_id", "C-2")
	vendor := newBackend(t, func(http.ResponseWriter, *http.Request) {})
	cookies := []string{"acme_session=aaaaaaaa1111", "acme_session=aaaaaaaa1111", "acme_session=bbbbbbbb2222", ""}
	tokenID := regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)
	for _, tc := range []struct {
		name   string
		reuse  string
		sameAs []int // the earliest request whose token each request got
	}{
		{"reuse off", "reuse 0s", []int{0, 1, 2, 3}},
		{"default", "", []int{0, 0, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(vendor.requests())
			h := provisionHandler(t, `
		brand "Acme Outdoor"
		session {
			redis redis://`+mr.Addr()+`/0
			cookie acme_session
		}
		assertion {
			`+tc.reuse+`
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to `+vendor.addr()+`
				context customer_id
			}
		}`, monday10)
			requestIDs := map[string]bool{}
			for _, cookie := range cookies {
				r := httptest.NewRequest(http.MethodGet, "http://shop.example.com/support/chat", nil)
				if cookie != "" {
					r.Header.Set("Cookie", cookie)
				}
				w := serve(t, h, r, nil)
				if w.Code != http.StatusOK {
					t.Fatalf("status %d", w.Code)
				}
				requestIDs[w.Header().Get(headerRequest)] = true
			}
			if len(requestIDs) != len(cookies) {
				t.Errorf("%d distinct X-Request-Id for %d requests", len(requestIDs), len(cookies))
			}
			var tokens []string
			for _, r := range vendor.requests()[before:] {
				tokens = append(tokens, r.Header.Get(assertion.Header))
			}
			if len(tokens) != len(cookies) {
				t.Fatalf("vendor got %d requests, want %d", len(tokens), len(cookies))
			}
			var jwks jose.JSONWebKeySet
			data, _ := h.jwks(context.Background(), time.Now())
			if err := json.Unmarshal(data, &jwks); err != nil {
				t.Fatal(err)
			}
			wantSub := []string{"C-1", "C-1", "C-2", ""}
			jtiOf := map[string]string{} // token by jti
			for i, tok := range tokens {
				if tok != tokens[tc.sameAs[i]] {
					t.Errorf("token %d is not token %d", i, tc.sameAs[i])
				}
				for j := range i {
					if tc.sameAs[j] != tc.sameAs[i] && tokens[j] == tok {
						t.Errorf("requests %d and %d share a token", j, i)
					}
				}
				parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256})
				if err != nil {
					t.Fatal(err)
				}
				var claims jwt.Claims
				if err := parsed.Claims(&jwks, &claims); err != nil {
					t.Fatalf("token %d does not verify: %v", i, err)
				}
				if err := claims.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{"nightdesk"}, Time: time.Now()}, 0); err != nil {
					t.Errorf("token %d: %v", i, err)
				}
				if claims.Subject != wantSub[i] {
					t.Errorf("token %d: sub %q, want %q", i, claims.Subject, wantSub[i])
				}
				if !tokenID.MatchString(claims.ID) || requestIDs[claims.ID] {
					t.Errorf("token %d: jti %q, want 128 random bits in base64url, not a request id", i, claims.ID)
				}
				if other, ok := jtiOf[claims.ID]; ok && other != tok {
					t.Errorf("token %d: jti %q names another token too", i, claims.ID)
				}
				jtiOf[claims.ID] = tok
			}
		})
	}
}

// len returns the number of tokens held, expired ones included.
func (c *tokenCache) len() int {
	n := 0
	for _, s := range c.shards {
		n += s.Len()
	}
	return n
}

// TestAssertionTTLIsPerHandler provisions two handlers, as two configs (or
// two site blocks) sharing the process's ephemeral key would be, with
// different ttls: each signs with its own, whichever was provisioned last.
func TestAssertionTTLIsPerHandler(t *testing.T) {
	site := func(ttl string) string {
		return `
		brand "Acme Outdoor"
		assertion {
			ttl ` + ttl + `
		}
		journey support /support* {
			backend care {
				owner in-house
				to 127.0.0.1:1
			}
		}`
	}
	short := provisionHandler(t, site("1m"), monday10)
	long := provisionHandler(t, site("3m"), monday10)
	if short.signerAt(time.Now()).KeyID() != long.signerAt(time.Now()).KeyID() {
		t.Fatal("the two handlers do not share the key made at start")
	}
	for _, tc := range []struct {
		h    *Handler
		want time.Duration
	}{{short, time.Minute}, {long, 3 * time.Minute}, {short, time.Minute}} {
		b := tc.h.routes[0].backends[0]
		token, err := tc.h.sign(b, "support", customerContext{state: sessionNone})
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		var claims jwt.Claims
		if err := parsed.UnsafeClaimsWithoutVerification(&claims); err != nil {
			t.Fatal(err)
		}
		if got := claims.Expiry.Time().Sub(claims.IssuedAt.Time()); got != tc.want {
			t.Errorf("handler with ttl %v signed exp - iat = %v", tc.want, got)
		}
	}
}

// TestReloadKeepsOldKeyListed: a reload that swaps the key files drops the
// old key from signing, not from the JWK Set: it stays listed until the
// last token it signed expires, for vendors that verify late.
func TestReloadKeepsOldKeyListed(t *testing.T) {
	dir := t.TempDir()
	site := func(file string) string {
		pemData, err := assertion.GenerateKeyPEM("ES256")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, pemData, 0o600); err != nil {
			t.Fatal(err)
		}
		return `
		brand "Acme Outdoor"
		assertion {
			key ` + path + `
			ttl 3s
		}
		journey support /support* {
			backend care {
				owner in-house
				to 127.0.0.1:1
			}
		}`
	}
	before := provisionHandler(t, site("old.pem"), monday10)
	oldKid := before.signerAt(time.Now()).KeyID()
	if _, err := before.sign(before.routes[0].backends[0], "support", customerContext{state: sessionNone}); err != nil {
		t.Fatal(err)
	}
	after := provisionHandler(t, site("new.pem"), monday10)
	before.Cleanup()
	listed := func() error {
		var set jose.JSONWebKeySet
		data, _ := after.jwks(context.Background(), time.Now())
		if err := json.Unmarshal(data, &set); err != nil {
			return err
		}
		if len(set.Key(oldKid)) == 1 {
			return fmt.Errorf("the old key %s is listed", oldKid)
		}
		return nil
	}
	if listed() == nil {
		t.Fatal("the old key left the JWK Set at the reload, while its token is valid")
	}
	// The token expires 3s after it was signed: then the key goes.
	testwait.For(t, 10*time.Second, 100*time.Millisecond, listed)
}

// TestReusedAssertionIsOneCustomers: a reused token serves only the
// customer it was signed for. The reuse key held what the token says, and
// a backend whose context leaves out customer_id (context tier) sees two
// customers of one tier as equal: the second was served the first's token,
// one jti for two customers.
func TestReusedAssertionIsOneCustomers(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.HSet("session:aaaaaaaa1111", "customer_id", "C-1", "tier", "gold")
	mr.HSet("session:bbbbbbbb2222", "customer_id", "C-2", "tier", "gold")
	vendor := newBackend(t, func(http.ResponseWriter, *http.Request) {})
	h := provisionHandler(t, `
		brand "Acme Outdoor"
		session {
			redis redis://`+mr.Addr()+`/0
			cookie acme_session
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to `+vendor.addr()+`
				context tier
			}
		}`, monday10)
	for _, cookie := range []string{"acme_session=aaaaaaaa1111", "acme_session=bbbbbbbb2222", "acme_session=aaaaaaaa1111"} {
		r := httptest.NewRequest(http.MethodGet, "http://shop.example.com/support/chat", nil)
		r.Header.Set("Cookie", cookie)
		if w := serve(t, h, r, nil); w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	}
	reqs := vendor.requests()
	if len(reqs) != 3 {
		t.Fatalf("vendor got %d requests, want 3", len(reqs))
	}
	first, second, again := reqs[0].Header.Get(assertion.Header), reqs[1].Header.Get(assertion.Header), reqs[2].Header.Get(assertion.Header)
	if first == "" || first == second {
		t.Errorf("customer C-2 was served the token signed for customer C-1 (same jti)")
	}
	if again != first {
		t.Errorf("customer C-1's second request got a new token: reuse must still serve one customer's requests")
	}
}
