package assertion_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/frontdoor-dev/frontdoor/internal/assertion"
)

// FrontdoorClaims are the claims of an X-Frontdoor-Assertion besides the
// registered iss, sub, aud, iat, exp and jti.
type FrontdoorClaims struct {
	Journey string            `json:"journey"`
	Session string            `json:"session"` // "found", "none" or "unavailable"
	Ctx     map[string]string `json:"ctx"`     // the context fields your backend may see
}

// VerifyAssertion is what a vendor's backend runs on each request. jwks is
// the brand's JWK Set from https://BRAND-HOST/.well-known/frontdoor/jwks.json,
// cached for a few minutes and fetched again when a kid is not in it (that is
// how a key rotation shows up). backend is your backend's name in the brand's
// frontdoor config.
func VerifyAssertion(jwks *jose.JSONWebKeySet, header, brand, backend string) (*jwt.Claims, *FrontdoorClaims, error) {
	// Allow only the algorithms frontdoor signs with: never "none" or HMAC.
	tok, err := jwt.ParseSigned(header, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil {
		return nil, nil, err
	}
	keys := jwks.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		return nil, nil, errors.New("unknown kid: refetch the JWK Set")
	}
	var std jwt.Claims
	var fd FrontdoorClaims
	if err := tok.Claims(keys[0].Key, &std, &fd); err != nil {
		return nil, nil, err // bad signature
	}
	if std.Expiry == nil {
		return nil, nil, errors.New("assertion has no exp")
	}
	// Validate allows a minute of clock skew.
	err = std.Validate(jwt.Expected{
		Issuer:      brand,
		AnyAudience: jwt.Audience{backend}, // a token for another backend is not for you
		Time:        time.Now(),
	})
	if err != nil {
		return nil, nil, err
	}
	return &std, &fd, nil
}

// Example_vendor shows how a vendor verifies the X-Frontdoor-Assertion header
// in Go with github.com/go-jose/go-jose/v4. Any JOSE library that supports
// ES256 and EdDSA does the same job.
func Example_vendor() {
	// frontdoor's side: sign for the "nightdesk" backend and publish the keys.
	signer, err := assertion.NewEphemeralSigner()
	if err != nil {
		log.Fatal(err)
	}
	header, err := signer.Sign(assertion.Claims{
		Issuer:   "Acme Outdoor",
		Audience: "nightdesk",
		Subject:  "cus_42",
		ID:       "hT0kVz2sQ9mY4rN8cL1wGA",
		Journey:  "support",
		Session:  assertion.SessionFound,
		Context:  []assertion.Field{{Name: "customer_id", Value: "cus_42"}, {Name: "tier", Value: "gold"}},
	}, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	jwksJSON := signer.JWKS() // the body of GET /.well-known/frontdoor/jwks.json

	// The vendor's side.
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(jwksJSON, &jwks); err != nil {
		log.Fatal(err)
	}
	std, fd, err := VerifyAssertion(&jwks, header, "Acme Outdoor", "nightdesk")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("customer:", std.Subject, "token:", std.ID)
	fmt.Println("journey:", fd.Journey, "session:", fd.Session, "tier:", fd.Ctx["tier"])

	// The same token presented to another backend is refused.
	_, _, err = VerifyAssertion(&jwks, header, "Acme Outdoor", "shipco")
	fmt.Println("as shipco:", err)
	// Output:
	// customer: cus_42 token: hT0kVz2sQ9mY4rN8cL1wGA
	// journey: support session: found tier: gold
	// as shipco: go-jose/go-jose/jwt: validation failed, invalid audience claim (aud)
}
