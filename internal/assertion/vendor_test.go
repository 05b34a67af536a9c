package assertion

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// These tests play the vendor: they see only the token and the JWK Set JSON,
// and check them with go-jose's public API, as any backend in Go would.

var testAlgs = []string{"ES256", "EdDSA"}

// testNow is a fixed instant so that expiry is under the test's control.
var testNow = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func testClaims() Claims {
	return Claims{
		Issuer:   "Acme Outdoor",
		Audience: "nightdesk",
		Subject:  "cus_42",
		ID:       "01JPQ7ZK3M8V",
		Journey:  "support",
		Session:  SessionFound,
		Context: []Field{
			{"customer_id", "cus_42"},
			{"first_name", "Zoë"},
			{"tier", "gold"},
		},
	}
}

// writeKey writes a PEM file into a test directory and returns its path.
func writeKey(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newKeyFile generates a key for alg and writes it as PKCS#8 PEM.
func newKeyFile(t testing.TB, alg string) string {
	t.Helper()
	data, err := GenerateKeyPEM(alg)
	if err != nil {
		t.Fatal(err)
	}
	return writeKey(t, alg+".pem", data)
}

func newTestSigner(t testing.TB, alg string) *Signer {
	t.Helper()
	s, err := LoadSigner([]string{newKeyFile(t, alg)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sign(t testing.TB, s *Signer, c Claims, now time.Time) string {
	t.Helper()
	tok, err := s.Sign(c, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// vendorJWKS is what a vendor gets from fetching JWKSPath.
func vendorJWKS(t testing.TB, jwksJSON []byte) *jose.JSONWebKeySet {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwksJSON, &set); err != nil {
		t.Fatalf("vendor cannot parse JWKS %s: %v", jwksJSON, err)
	}
	return &set
}

// frontdoorClaims are the private claims a vendor reads next to the
// registered ones.
type frontdoorClaims struct {
	Journey string            `json:"journey"`
	Session string            `json:"session"`
	Ctx     map[string]string `json:"ctx"`
}

var errUnknownKey = errors.New("kid not in JWKS")

// verify does what a careful vendor does: allow only the algorithms frontdoor
// uses, pick the key by kid, insist the header's alg is the key's, check the
// signature, then iss, aud and exp without leeway.
func verify(jwks *jose.JSONWebKeySet, token, audience string, now time.Time) (jwt.Claims, frontdoorClaims, error) {
	var std jwt.Claims
	var fd frontdoorClaims
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil {
		return std, fd, err
	}
	hdr := tok.Headers[0]
	keys := jwks.Key(hdr.KeyID)
	if len(keys) != 1 {
		return std, fd, fmt.Errorf("%w: %q", errUnknownKey, hdr.KeyID)
	}
	if keys[0].Algorithm != hdr.Algorithm {
		return std, fd, fmt.Errorf("alg %s in header, key is for %s", hdr.Algorithm, keys[0].Algorithm)
	}
	if err := tok.Claims(keys[0].Key, &std, &fd); err != nil {
		return std, fd, err
	}
	if std.Expiry == nil {
		return std, fd, errors.New("no exp")
	}
	err = std.ValidateWithLeeway(jwt.Expected{
		Issuer:      "Acme Outdoor",
		AnyAudience: jwt.Audience{audience},
		Time:        now,
	}, 0)
	return std, fd, err
}

func TestVendorVerifies(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			s := newTestSigner(t, alg)
			jwks := vendorJWKS(t, s.JWKS())
			c := testClaims()
			token := sign(t, s, c, testNow)

			tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
			if err != nil {
				t.Fatal(err)
			}
			hdr := tok.Headers[0]
			if hdr.Algorithm != alg || hdr.KeyID != s.KeyIDs()[0] || hdr.ExtraHeaders["typ"] != "JWT" {
				t.Errorf("header alg=%q kid=%q typ=%v, want %s %s JWT", hdr.Algorithm, hdr.KeyID, hdr.ExtraHeaders["typ"], alg, s.KeyIDs()[0])
			}

			std, fd, err := verify(jwks, token, "nightdesk", testNow)
			if err != nil {
				t.Fatalf("vendor rejects a good token: %v", err)
			}
			if std.Issuer != "Acme Outdoor" || std.Subject != "cus_42" || std.ID != "01JPQ7ZK3M8V" ||
				len(std.Audience) != 1 || std.Audience[0] != "nightdesk" {
				t.Errorf("registered claims = %+v", std)
			}
			if got, want := std.IssuedAt.Time(), testNow.Truncate(time.Second); !got.Equal(want) {
				t.Errorf("iat = %v, want %v", got, want)
			}
			if got := std.Expiry.Time().Sub(std.IssuedAt.Time()); got != DefaultTTL {
				t.Errorf("exp - iat = %v, want %v", got, DefaultTTL)
			}
			if std.NotBefore == nil || !std.NotBefore.Time().Equal(std.IssuedAt.Time()) {
				t.Errorf("nbf = %v, want iat %v", std.NotBefore, std.IssuedAt.Time())
			}
			want := frontdoorClaims{Journey: "support", Session: "found", Ctx: map[string]string{
				"customer_id": "cus_42", "first_name": "Zoë", "tier": "gold",
			}}
			if fmt.Sprint(fd) != fmt.Sprint(want) {
				t.Errorf("frontdoor claims = %+v, want %+v", fd, want)
			}

			// Still good at the last second, and within a vendor's leeway.
			if _, _, err := verify(jwks, token, "nightdesk", std.Expiry.Time()); err != nil {
				t.Errorf("at exp: %v", err)
			}
			if err := std.Validate(jwt.Expected{Time: std.Expiry.Time().Add(30 * time.Second)}); err != nil {
				t.Errorf("within the default leeway: %v", err)
			}
			// Handing go-jose the whole set also works: it picks by kid.
			if err := tok.Claims(jwks, new(jwt.Claims)); err != nil {
				t.Errorf("verifying against the JWK Set: %v", err)
			}
		})
	}
}

func TestVendorRejects(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			s := newTestSigner(t, alg)
			jwks := vendorJWKS(t, s.JWKS())
			token := sign(t, s, testClaims(), testNow)
			hdr, payload, sig := splitToken(t, token)

			t.Run("tampered payload", func(t *testing.T) {
				p := decodeSegment(t, payload)
				forged := strings.Replace(string(p), `"tier":"gold"`, `"tier":"platinum"`, 1)
				if forged == string(p) {
					t.Fatal("test did not tamper")
				}
				bad := hdr + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + sig
				if _, _, err := verify(jwks, bad, "nightdesk", testNow); !errors.Is(err, jose.ErrCryptoFailure) {
					t.Errorf("err = %v, want %v", err, jose.ErrCryptoFailure)
				}
			})
			t.Run("tampered signature", func(t *testing.T) {
				b := decodeSegment(t, sig)
				b[10] ^= 1
				bad := hdr + "." + payload + "." + base64.RawURLEncoding.EncodeToString(b)
				if _, _, err := verify(jwks, bad, "nightdesk", testNow); !errors.Is(err, jose.ErrCryptoFailure) {
					t.Errorf("err = %v, want %v", err, jose.ErrCryptoFailure)
				}
			})
			t.Run("stripped signature", func(t *testing.T) {
				if _, _, err := verify(jwks, hdr+"."+payload+".", "nightdesk", testNow); err == nil {
					t.Error("accepted")
				}
			})
			t.Run("wrong audience", func(t *testing.T) {
				if _, _, err := verify(jwks, token, "shipco", testNow); !errors.Is(err, jwt.ErrInvalidAudience) {
					t.Errorf("err = %v, want %v", err, jwt.ErrInvalidAudience)
				}
			})
			t.Run("expired", func(t *testing.T) {
				old := sign(t, s, testClaims(), testNow.Add(-DefaultTTL-time.Second))
				if _, _, err := verify(jwks, old, "nightdesk", testNow); !errors.Is(err, jwt.ErrExpired) {
					t.Errorf("err = %v, want %v", err, jwt.ErrExpired)
				}
				// Even a lenient vendor rejects it once the leeway is over.
				std, _, _ := verify(jwks, old, "nightdesk", testNow)
				if err := std.Validate(jwt.Expected{Time: testNow.Add(jwt.DefaultLeeway)}); !errors.Is(err, jwt.ErrExpired) {
					t.Errorf("with leeway: err = %v, want %v", err, jwt.ErrExpired)
				}
			})
			t.Run("signed by a key not in the JWKS", func(t *testing.T) {
				other := newTestSigner(t, alg)
				foreign := sign(t, other, testClaims(), testNow)
				if _, _, err := verify(jwks, foreign, "nightdesk", testNow); !errors.Is(err, errUnknownKey) {
					t.Errorf("err = %v, want %v", err, errUnknownKey)
				}
				tok, err := jwt.ParseSigned(foreign, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
				if err != nil {
					t.Fatal(err)
				}
				if err := tok.Claims(jwks, new(jwt.Claims)); err == nil {
					t.Error("go-jose accepted a foreign token against the JWK Set")
				}
				// An attacker with their own key who claims our kid.
				input := hdr + "." + payload
				forged := input + "." + rawSignature(t, alg, input)
				if _, _, err := verify(jwks, forged, "nightdesk", testNow); !errors.Is(err, jose.ErrCryptoFailure) {
					t.Errorf("forged kid: err = %v, want %v", err, jose.ErrCryptoFailure)
				}
			})
			t.Run("alg none", func(t *testing.T) {
				none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + s.KeyIDs()[0] + `","typ":"JWT"}`))
				for _, bad := range []string{none + "." + payload + ".", none + "." + payload + "." + sig} {
					if _, _, err := verify(jwks, bad, "nightdesk", testNow); err == nil {
						t.Errorf("accepted %s", bad)
					}
				}
			})
			t.Run("alg HS256 keyed with the public key", func(t *testing.T) {
				// The classic confusion: an attacker MACs with the published key.
				h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"` + s.KeyIDs()[0] + `","typ":"JWT"}`))
				if _, _, err := verify(jwks, h+"."+payload+"."+sig, "nightdesk", testNow); err == nil {
					t.Error("accepted")
				}
			})
		})
	}
}

func TestKeyRotation(t *testing.T) {
	// The new key (ES256) signs; the retiring one (EdDSA) is still published.
	newFile, oldFile := newKeyFile(t, "ES256"), newKeyFile(t, "EdDSA")
	retiring, err := LoadSigner([]string{oldFile})
	if err != nil {
		t.Fatal(err)
	}
	before := sign(t, retiring, testClaims(), testNow)

	rotated, err := LoadSigner([]string{newFile, oldFile})
	if err != nil {
		t.Fatal(err)
	}
	ids := rotated.KeyIDs()
	if len(ids) != 2 || ids[1] != retiring.KeyIDs()[0] || ids[0] == ids[1] {
		t.Fatalf("KeyIDs = %q, retiring key %q", ids, retiring.KeyIDs())
	}
	if rotated.Algorithm() != "ES256" {
		t.Errorf("signing algorithm = %s, want the first key's ES256", rotated.Algorithm())
	}
	jwks := vendorJWKS(t, rotated.JWKS())
	if len(jwks.Keys) != 2 || jwks.Keys[0].KeyID != ids[0] || jwks.Keys[1].KeyID != ids[1] {
		t.Fatalf("JWKS = %s", rotated.JWKS())
	}

	after := sign(t, rotated, testClaims(), testNow)
	tok, err := jwt.ParseSigned(after, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if kid := tok.Headers[0].KeyID; kid != ids[0] {
		t.Errorf("signed with %s, want the first key %s", kid, ids[0])
	}
	for name, token := range map[string]string{"new key": after, "retiring key": before} {
		if _, _, err := verify(jwks, token, "nightdesk", testNow); err != nil {
			t.Errorf("token signed by the %s: %v", name, err)
		}
	}
}

func TestConcurrentSign(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			s := newTestSigner(t, alg)
			jwks := vendorJWKS(t, s.JWKS())
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 25 {
						c := testClaims()
						c.ID = fmt.Sprintf("req-%d-%d", g, i)
						c.Context = append(c.Context, Field{"n", strings.Repeat("x", g*i)})
						token, err := s.Sign(c, testNow)
						if err != nil {
							t.Error(err)
							return
						}
						std, fd, err := verify(jwks, token, "nightdesk", testNow)
						if err != nil || std.ID != c.ID || len(fd.Ctx["n"]) != g*i {
							t.Errorf("token %s: %v, jti %q, n %d", c.ID, err, std.ID, len(fd.Ctx["n"]))
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

func TestValuesRoundTrip(t *testing.T) {
	values := map[string]string{
		"quote":     `say "hi"`,
		"backslash": `C:\temp\new \"x\" \u0041`,
		"unicode":   "Zoë Ñandú 日本語 🏔️ \u00a0 \ufffd",
		"script":    `</script><script>alert(1)</script>`,
		"html":      `<a href="x">&amp;</a>`,
		"controls":  "a\x00b\x01\x1f\x7f\b\f\n\r\tc",
		"separator": "line\u2028para\u2029end",
		"empty":     "",
		"long":      strings.Repeat("é\"\\", 3000), // bigger than the pooled buffer
	}
	var ctx []Field
	for k, v := range values {
		ctx = append(ctx, Field{k, v})
	}
	c := Claims{
		Issuer:   "Acme Outdoor",
		Audience: "nightdesk",
		Subject:  `"cus\42</script>`,
		ID:       "req\n1",
		Journey:  "support ✓",
		Session:  SessionUnavailable,
		Context:  ctx,
	}
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			s := newTestSigner(t, alg)
			token := sign(t, s, c, testNow)
			std, fd, err := verify(vendorJWKS(t, s.JWKS()), token, "nightdesk", testNow)
			if err != nil {
				t.Fatal(err)
			}
			if std.Subject != c.Subject || std.ID != c.ID || fd.Journey != c.Journey || fd.Session != c.Session {
				t.Errorf("got sub %q jti %q journey %q session %q", std.Subject, std.ID, fd.Journey, fd.Session)
			}
			if len(fd.Ctx) != len(values) {
				t.Errorf("ctx has %d fields, want %d", len(fd.Ctx), len(values))
			}
			for k, v := range values {
				if fd.Ctx[k] != v {
					t.Errorf("ctx[%q] = %q, want %q", k, fd.Ctx[k], v)
				}
			}
		})
	}
}

func TestInvalidUTF8BecomesReplacementChar(t *testing.T) {
	s := newTestSigner(t, "EdDSA")
	c := testClaims()
	c.Context = []Field{{"name", "a\xffb\xc3"}, {"bad\xfekey", "v"}}
	token := sign(t, s, c, testNow)
	_, fd, err := verify(vendorJWKS(t, s.JWKS()), token, "nightdesk", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if fd.Ctx["name"] != "a\ufffdb\ufffd" || fd.Ctx["bad\ufffdkey"] != "v" {
		t.Errorf("ctx = %q", fd.Ctx)
	}
}

func splitToken(t testing.TB, token string) (hdr, payload, sig string) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", token, len(parts))
	}
	return parts[0], parts[1], parts[2]
}

func decodeSegment(t testing.TB, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		t.Fatalf("segment %q: %v", seg, err)
	}
	return b
}

// rawSignature signs input with a fresh key of alg, outside any JOSE
// library: the signature an attacker with their own key would attach.
func rawSignature(t *testing.T, alg, input string) string {
	t.Helper()
	var sig []byte
	switch alg {
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		sig = ed25519.Sign(priv, []byte(input))
	case "ES256":
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64) // JWS ES256 is R||S, 32 bytes each
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		t.Fatalf("no raw signer for %s", alg)
	}
	return base64.RawURLEncoding.EncodeToString(sig)
}
