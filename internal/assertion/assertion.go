// Package assertion signs the X-Frontdoor-Assertion JWT that frontdoor hands
// to every backend, and publishes the public keys vendors verify it with.
//
// A vendor must be able to check an assertion with any standard JOSE library,
// so tokens are plain compact JWS (RFC 7515) with a JWT payload (RFC 7519),
// signed with ES256 or EdDSA, and every header carries the RFC 7638
// thumbprint of the signing key as "kid" so the vendor can pick the key from
// the JWK Set served at JWKSPath.
//
// Tokens are signed by go-jose. Signing happens on many proxied requests, so
// the payload is written by a small purpose-built JSON encoder into a pooled
// buffer rather than through encoding/json; the tests verify every token with
// go-jose's own JWT parser exactly as a vendor would.
package assertion

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Names that are part of the contract with vendors (see "What a backend
// receives" in the design).
const (
	// Header is the request header that carries the assertion.
	Header = "X-Frontdoor-Assertion"
	// JWKSPath is where the JWK Set returned by Signer.JWKS is served.
	JWKSPath = "/.well-known/frontdoor/jwks.json"
)

// Values of Claims.Session, the same as the X-Frontdoor-Session header.
const (
	SessionFound       = "found"
	SessionNone        = "none"
	SessionUnavailable = "unavailable"
)

// DefaultAlgorithm is the JWS algorithm of the key made at start and of
// `frontdoor keygen` without --alg: ES256 (ECDSA on P-256), the one
// algorithm every JOSE library verifies. EdDSA signs faster but Node's most
// used JWT library, jsonwebtoken, cannot verify it.
const DefaultAlgorithm = "ES256"

const (
	// DefaultTTL is how long an assertion is valid unless WithTTL says
	// otherwise: long enough for a slow backend to check it after queueing,
	// short enough that a leaked token is of little use.
	DefaultTTL = 2 * time.Minute
	// MaxTTL is the longest lifetime the contract allows ("exp" at most
	// five minutes after "iat").
	MaxTTL = 5 * time.Minute
)

// Field is one customer-context field a backend is allowed to see.
type Field struct {
	Name  string // the session field name as written in the config, e.g. "customer_id"
	Value string
}

// Claims is what an assertion says about the proxied requests it serves.
//
// Context is an ordered slice rather than a map: the caller can fill it from
// the backend's "context" list into a reused slice without allocating, and the
// "ctx" object keeps the order of the config, which makes tokens reproducible.
// Names must be unique and non-empty.
type Claims struct {
	Issuer   string  // the brand name; "iss", required
	Audience string  // the backend name; "aud", required
	Subject  string  // the customer id when known; "sub", omitted when empty
	ID       string  // unique per signed token (not the request id: one token may serve several requests); "jti", omitted when empty
	Journey  string  // "journey"
	Session  string  // SessionFound, SessionNone or SessionUnavailable; "session"
	Context  []Field // the fields this backend may see; "ctx" object, omitted when empty
}

// validate catches mistakes of the caller that would otherwise produce a token
// that vendors reject or, worse, misread.
func (c *Claims) validate() error {
	if c.Issuer == "" {
		return errors.New("signing assertion: empty issuer (brand)")
	}
	if c.Audience == "" {
		return errors.New("signing assertion: empty audience (backend)")
	}
	switch c.Session {
	case SessionFound, SessionNone, SessionUnavailable:
	default:
		return fmt.Errorf("signing assertion: session must be %q, %q or %q, not %q",
			SessionFound, SessionNone, SessionUnavailable, c.Session)
	}
	// A JSON object with duplicate names is read differently by different
	// parsers (first wins, last wins, or error), so refuse to write one.
	// The list is a handful of configured fields: quadratic is cheapest.
	for i, f := range c.Context {
		if f.Name == "" {
			return fmt.Errorf("signing assertion: context field %d has an empty name", i)
		}
		for _, g := range c.Context[:i] {
			if g.Name == f.Name {
				return fmt.Errorf("signing assertion: duplicate context field %q", f.Name)
			}
		}
	}
	return nil
}

// Signer signs assertions with its first key and publishes all of its keys.
// Make one with LoadSigner or NewEphemeralSigner. A Signer never changes, so
// it is safe for concurrent use and may be shared by several configs; each
// takes its own lifetime with WithTTL.
type Signer struct {
	keys    []*key
	signing *key
	jwks    []byte
	ttl     int64 // seconds
}

func newSigner(keys []*key) (*Signer, error) {
	s := &Signer{keys: keys, signing: keys[0]}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, len(keys))}
	for i, k := range keys {
		set.Keys[i] = k.public
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encoding the JWK Set: %v", err)
	}
	s.jwks = jwks
	s.ttl = int64(DefaultTTL / time.Second)
	return s, nil
}

// NewEphemeralSigner returns a signer with a fresh DefaultAlgorithm (ES256)
// key that lives only as long as the process.
//
// The key changes at every start and differs between instances, so an
// ephemeral signer only suits a single instance, a demo or development.
// It is ES256 like the keys of `frontdoor keygen`, so that a vendor trying
// frontdoor out verifies the same kind of token it will get in production.
func NewEphemeralSigner() (*Signer, error) {
	priv, err := generateKey(DefaultAlgorithm)
	if err != nil {
		return nil, fmt.Errorf("generating ephemeral assertion key: %w", err)
	}
	k, err := newKey(priv)
	if err != nil {
		return nil, fmt.Errorf("generating ephemeral assertion key: %w", err)
	}
	return newSigner([]*key{k})
}

// WithTTL returns a signer with the same keys whose assertions are valid
// for d; s itself is unchanged. JWT times are whole seconds, so d is
// truncated to the second; CheckTTL says which lifetimes are allowed.
func (s *Signer) WithTTL(d time.Duration) (*Signer, error) {
	if err := CheckTTL(d); err != nil {
		return nil, err
	}
	c := *s
	c.ttl = int64(d / time.Second)
	return &c, nil
}

// CheckTTL reports whether d is an allowed assertion lifetime: at least one
// second and at most MaxTTL.
func CheckTTL(d time.Duration) error {
	if d < time.Second || d > MaxTTL {
		return fmt.Errorf("assertion lifetime %v out of range: must be between 1s and %v", d, MaxTTL)
	}
	return nil
}

// TTL returns the lifetime of assertions, in whole seconds.
func (s *Signer) TTL() time.Duration {
	return time.Duration(s.ttl) * time.Second
}

// JWKS returns the JWK Set of all public keys, the signing key first, as
// served at JWKSPath. The caller may modify the returned slice.
func (s *Signer) JWKS() []byte {
	return append([]byte(nil), s.jwks...)
}

// KeyIDs returns the "kid" of every key, in the order they were loaded; the
// first one signs.
func (s *Signer) KeyIDs() []string {
	ids := make([]string, len(s.keys))
	for i, k := range s.keys {
		ids[i] = k.public.KeyID
	}
	return ids
}

// KeyID returns the "kid" of the signing key.
func (s *Signer) KeyID() string {
	return s.signing.public.KeyID
}

// Algorithm returns the JWS algorithm of the signing key, "ES256" or "EdDSA".
func (s *Signer) Algorithm() string {
	return s.signing.public.Algorithm
}

// scratch holds the payload JSON while a token is signed.
var scratch = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// maxPooled keeps a token with a freak amount of context from pinning a big
// buffer in the pool forever.
const maxPooled = 16 << 10

// Sign returns a compact JWS for c, issued at now ("iat", and "nbf" with
// the same value, which libraries that insist on "nbf" want) and expiring
// TTL later ("exp"). The signing key remembers the latest "exp" it signed,
// so that Published keeps it listed until that token expires.
func (s *Signer) Sign(c Claims, now time.Time) (string, error) {
	if err := c.validate(); err != nil {
		return "", err
	}
	iat := now.Unix()
	exp := iat + s.ttl
	s.signing.signedUntil(exp)

	bp := scratch.Get().(*[]byte)
	payload := appendPayload((*bp)[:0], &c, iat, exp)
	token, err := s.signing.sign(payload)
	// The signature object that refers to payload is gone once serialized.
	if cap(payload) <= maxPooled {
		*bp = payload[:0]
		scratch.Put(bp)
	}
	return token, err
}

func (k *key) sign(payload []byte) (string, error) {
	jws, err := k.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing assertion with key %s: %v", k.public.KeyID, err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("serializing assertion signed with key %s: %v", k.public.KeyID, err)
	}
	return token, nil
}
