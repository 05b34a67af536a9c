package assertion

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// rfc8037Key is the Ed25519 key of RFC 8037 Appendix A.1, whose thumbprint
// the RFC gives in A.3. Ed25519 signatures are deterministic, so with it a
// whole token can be checked byte for byte.
func rfc8037Key(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	seed, err := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func rfc8037Signer(t testing.TB) *Signer {
	t.Helper()
	k, err := newKey(rfc8037Key(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSigner([]*key{k})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestThumbprintRFC8037(t *testing.T) {
	s := rfc8037Signer(t)
	if got, want := s.KeyIDs()[0], "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("kid = %s, want %s (RFC 8037 A.3)", got, want)
	}
	want := `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",` +
		`"kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k","alg":"EdDSA","use":"sig"}]}`
	// Member order is the encoder's business; the members are the contract.
	var got, wantSet any
	if err := json.Unmarshal(s.JWKS(), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &wantSet); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantSet) {
		t.Errorf("JWKS =\n%s\nwant\n%s", s.JWKS(), want)
	}
}

// TestGoldenToken pins the exact bytes of a token, so that any change to the
// wire format is a deliberate one.
func TestGoldenToken(t *testing.T) {
	s := rfc8037Signer(t)
	got := sign(t, s, testClaims(), testNow)
	const want = "eyJhbGciOiJFZERTQSIsImtpZCI6ImtQcktfcW14VldhWVZBOXd3QkY2SXVvM3ZWeno3VHhIQ1R3WEJ5Z3JTNGsiLCJ0eXAiOiJKV1QifQ." +
		"eyJpc3MiOiJBY21lIE91dGRvb3IiLCJzdWIiOiJjdXNfNDIiLCJhdWQiOiJuaWdodGRlc2siLCJpYXQiOjE3NDE5NjQ5NjYsIm5iZiI6MTc0MTk2NDk2NiwiZXhwIjoxNzQxOTY1MDg2LCJqdGkiOiIwMUpQUTdaSzNNOFYiLCJqb3VybmV5Ijoic3VwcG9ydCIsInNlc3Npb24iOiJmb3VuZCIsImN0eCI6eyJjdXN0b21lcl9pZCI6ImN1c180MiIsImZpcnN0X25hbWUiOiJab8OrIiwidGllciI6ImdvbGQifX0." +
		"8UrO_S5_Bq1qzBqqTgWW6vOUco78NiTs5qIRrGLA8kehmI639kGnvxUqsZOLMgYfkUWmRErjnPMeI_2t2cvFAA"
	if got != want {
		t.Errorf("token =\n%s\nwant\n%s", got, want)
	}
	if _, _, err := verify(vendorJWKS(t, s.JWKS()), got, "nightdesk", testNow); err != nil {
		t.Error(err)
	}
}

func TestTokenShape(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			s := newTestSigner(t, alg)
			hdr, payload, sig := splitToken(t, sign(t, s, testClaims(), testNow))
			wantHdr := `{"alg":"` + alg + `","kid":"` + s.KeyIDs()[0] + `","typ":"JWT"}`
			if got := string(decodeSegment(t, hdr)); got != wantHdr {
				t.Errorf("header = %s, want %s", got, wantHdr)
			}
			wantPayload := `{"iss":"Acme Outdoor","sub":"cus_42","aud":"nightdesk","iat":1741964966,"nbf":1741964966,"exp":1741965086,` +
				`"jti":"01JPQ7ZK3M8V","journey":"support","session":"found",` +
				`"ctx":{"customer_id":"cus_42","first_name":"Zoë","tier":"gold"}}`
			if got := string(decodeSegment(t, payload)); got != wantPayload {
				t.Errorf("payload = %s, want %s", got, wantPayload)
			}
			if n := len(decodeSegment(t, sig)); n != 64 {
				t.Errorf("signature is %d bytes, want 64", n)
			}
		})
	}
}

func TestOptionalClaimsOmitted(t *testing.T) {
	s := rfc8037Signer(t)
	c := Claims{Issuer: "Acme Outdoor", Audience: "shop-core", Journey: "checkout", Session: SessionNone}
	_, payload, _ := splitToken(t, sign(t, s, c, testNow))
	want := `{"iss":"Acme Outdoor","aud":"shop-core","iat":1741964966,"nbf":1741964966,"exp":1741965086,"journey":"checkout","session":"none"}`
	if got := string(decodeSegment(t, payload)); got != want {
		t.Errorf("payload = %s, want %s", got, want)
	}
	c.Context = []Field{} // empty, not nil
	_, payload2, _ := splitToken(t, sign(t, s, c, testNow))
	if payload2 != payload {
		t.Errorf("empty context gives %s", decodeSegment(t, payload2))
	}
}

func TestSignRejectsBadClaims(t *testing.T) {
	s := rfc8037Signer(t)
	for name, tc := range map[string]struct {
		edit func(*Claims)
		want string
	}{
		"no issuer":        {func(c *Claims) { c.Issuer = "" }, "empty issuer"},
		"no audience":      {func(c *Claims) { c.Audience = "" }, "empty audience"},
		"no session":       {func(c *Claims) { c.Session = "" }, `session must be "found", "none" or "unavailable", not ""`},
		"bad session":      {func(c *Claims) { c.Session = "Found" }, `not "Found"`},
		"empty field name": {func(c *Claims) { c.Context[1].Name = "" }, "context field 1 has an empty name"},
		"duplicate field":  {func(c *Claims) { c.Context[2].Name = "customer_id" }, `duplicate context field "customer_id"`},
	} {
		t.Run(name, func(t *testing.T) {
			c := testClaims()
			tc.edit(&c)
			tok, err := s.Sign(c, testNow)
			if err == nil || !strings.Contains(err.Error(), tc.want) || tok != "" {
				t.Errorf("Sign = %q, %v; want error containing %q", tok, err, tc.want)
			}
		})
	}
}

func TestTTL(t *testing.T) {
	s := rfc8037Signer(t)
	if s.TTL() != DefaultTTL {
		t.Errorf("default TTL = %v, want %v", s.TTL(), DefaultTTL)
	}
	for _, d := range []time.Duration{0, -time.Minute, time.Second - 1, MaxTTL + time.Second, MaxTTL + 1, time.Hour} {
		if c, err := s.WithTTL(d); err == nil || c != nil {
			t.Errorf("WithTTL(%v) accepted", d)
		}
		if err := CheckTTL(d); err == nil {
			t.Errorf("CheckTTL(%v) accepted", d)
		}
	}
	for d, want := range map[time.Duration]time.Duration{
		time.Second:                           time.Second,
		30*time.Second + 900*time.Millisecond: 30 * time.Second,
		MaxTTL:                                MaxTTL,
	} {
		c, err := s.WithTTL(d)
		if err != nil {
			t.Errorf("WithTTL(%v): %v", d, err)
			continue
		}
		if c.TTL() != want || c.KeyIDs()[0] != s.KeyIDs()[0] {
			t.Errorf("WithTTL(%v): ttl %v, kid %v", d, c.TTL(), c.KeyIDs())
		}
		// A "now" just before the next second must not stretch the lifetime.
		now := testNow.Truncate(time.Second).Add(999 * time.Millisecond)
		tok, err := jwt.ParseSigned(sign(t, c, testClaims(), now), []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			t.Fatal(err)
		}
		var std jwt.Claims
		if err := tok.Claims(rfc8037Key(t).Public(), &std); err != nil {
			t.Fatal(err)
		}
		if got := std.Expiry.Time().Sub(std.IssuedAt.Time()); got != want {
			t.Errorf("WithTTL(%v): exp - iat = %v, want %v", d, got, want)
		}
	}
	// The original keeps its lifetime: configs sharing a key each keep theirs.
	if s.TTL() != DefaultTTL {
		t.Errorf("WithTTL changed the original's TTL to %v", s.TTL())
	}
}

func TestJWKS(t *testing.T) {
	files := []string{newKeyFile(t, "ES256"), newKeyFile(t, "EdDSA")}
	s, err := LoadSigner(files)
	if err != nil {
		t.Fatal(err)
	}
	raw := s.JWKS()
	if bytes.Contains(raw, []byte(`"d"`)) {
		t.Fatalf("JWKS leaks a private key: %s", raw)
	}
	if !json.Valid(raw) {
		t.Fatalf("JWKS is not JSON: %s", raw)
	}
	set := vendorJWKS(t, raw)
	wantAlg := []string{"ES256", "EdDSA"}
	for i, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			t.Errorf("key %d: valid %v, public %v", i, k.Valid(), k.IsPublic())
		}
		if k.Use != "sig" || k.Algorithm != wantAlg[i] || k.KeyID != s.KeyIDs()[i] {
			t.Errorf("key %d: use %q alg %q kid %q", i, k.Use, k.Algorithm, k.KeyID)
		}
		// go-jose's own RFC 7638 thumbprint must be our kid.
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got := base64.RawURLEncoding.EncodeToString(tp); got != k.KeyID {
			t.Errorf("key %d: thumbprint %s, kid %s", i, got, k.KeyID)
		}
	}
	// Computed once, and callers cannot spoil it.
	raw[0] = 'X'
	if s.JWKS()[0] != '{' {
		t.Error("modifying the returned JWKS changed the signer's")
	}
}

func TestGenerateKeyPEM(t *testing.T) {
	for _, alg := range testAlgs {
		data, err := GenerateKeyPEM(alg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
			t.Errorf("%s: not PKCS#8 PEM: %s", alg, data)
		}
		s, err := LoadSigner([]string{writeKey(t, "k.pem", data)})
		if err != nil {
			t.Fatal(err)
		}
		if s.Algorithm() != alg {
			t.Errorf("generated %s, loaded %s", alg, s.Algorithm())
		}
		again, _ := GenerateKeyPEM(alg)
		if bytes.Equal(data, again) {
			t.Errorf("%s: two keys are the same", alg)
		}
	}
	for _, alg := range []string{"", "RS256", "ES384", "es256", "Ed25519"} {
		if _, err := GenerateKeyPEM(alg); err == nil || !strings.Contains(err.Error(), "want ES256 or EdDSA") {
			t.Errorf("GenerateKeyPEM(%q) = %v", alg, err)
		}
	}
}

// TestDefaultAlgorithm pins the default: ES256 is the one algorithm every
// JOSE library a vendor may use verifies (Node's jsonwebtoken cannot verify
// EdDSA).
func TestDefaultAlgorithm(t *testing.T) {
	if DefaultAlgorithm != "ES256" {
		t.Errorf("DefaultAlgorithm = %q, want ES256", DefaultAlgorithm)
	}
}

func TestEphemeralSigner(t *testing.T) {
	a, err := NewEphemeralSigner()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewEphemeralSigner()
	if err != nil {
		t.Fatal(err)
	}
	if a.Algorithm() != DefaultAlgorithm || len(a.KeyIDs()) != 1 || a.KeyIDs()[0] == b.KeyIDs()[0] {
		t.Errorf("ephemeral signers: %s %q and %q", a.Algorithm(), a.KeyIDs(), b.KeyIDs())
	}
	token := sign(t, a, testClaims(), testNow)
	if _, _, err := verify(vendorJWKS(t, a.JWKS()), token, "nightdesk", testNow); err != nil {
		t.Error(err)
	}
}

// TestDERToJOSE covers r and s shorter than 32 bytes, which a signature hits
// only once in 256 and random tests would rarely see.
