// Package handoff hands a customer's brand session over to a vendor origin
// (a brand subdomain the gateway serves for one vendor) without the brand's
// session cookie ever reaching that origin, in the way of OAuth's
// authorization code: the origin makes a random state, the brand host mints
// a one-time code bound to that state and to the brand session, and the
// origin redeems the code for an origin session of its own that points at
// the brand session server-side.
//
// Everything lives in Redis, so a handoff started on one gateway instance
// completes on any other sharing the store. Keys hold a SHA-256 of the
// code or session id, never the secret itself: a Redis dump or MONITOR
// does not hand out live codes or sessions.
package handoff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lifetimes of what a handoff leaves in Redis.
const (
	// CodeTTL is how long a minted code can be redeemed: the two
	// redirects between mint and redeem take a browser well under that.
	CodeTTL = 30 * time.Second

	// SessionTTL is how long an origin session of a known customer lasts.
	// It ends sooner when the brand session it points at does (logout),
	// because every request resolves the context through the brand's key.
	SessionTTL = 12 * time.Hour

	// AnonymousTTL is how long an origin session of an anonymous customer
	// lasts: short, so that a customer who signs in on the brand is known
	// on the origin at their next navigation after it ends.
	AnonymousTTL = time.Minute
)

// ErrRefused is returned for a code that is unknown, already used,
// expired, or presented with another state or on another origin. The
// cases are not told apart: a caller learns nothing by trying.
var ErrRefused = errors.New("handoff code refused: unknown, used, expired or bound to another state")

// Store keeps codes and origin sessions in Redis under Prefix.
type Store struct {
	client redis.UniversalClient
	prefix string
}

// DefaultPrefix starts every key the store writes.
const DefaultPrefix = "frontdoor:handoff:"

// NewStore returns a store writing under prefix ("" for DefaultPrefix).
func NewStore(client redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{client: client, prefix: prefix}
}

// NewSecret returns 256 random bits, base64url-encoded without padding
// (43 characters): a state, code or session id.
func NewSecret() string {
	var b [32]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// WellFormed reports whether s could be a secret NewSecret made, so that
// anything else is refused before it costs a Redis round trip or lands in
// a key.
func WellFormed(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// grant is what a code or an origin session stands for.
type grant struct {
	State  string `json:"state,omitempty"` // digest of the state a code is bound to
	Origin string `json:"origin"`          // the origin host it is valid on
	Brand  string `json:"brand"`           // the brand session id; "" for an anonymous customer
}

// Mint makes a one-time code for the brand session (or "" for an
// anonymous customer) bound to state and origin.
func (s *Store) Mint(ctx context.Context, state, origin, brandSession string) (string, error) {
	if !WellFormed(state) {
		return "", ErrRefused
	}
	code := NewSecret()
	v, err := json.Marshal(grant{State: digest(state), Origin: origin, Brand: brandSession})
	if err != nil {
		return "", err
	}
	if err := s.client.SetNX(ctx, s.prefix+"code:"+digest(code), v, CodeTTL).Err(); err != nil {
		return "", fmt.Errorf("storing handoff code: %w", err)
	}
	return code, nil
}

// Redeem consumes a code presented with state on origin and returns the
// brand session it was minted for. The code is gone whatever the outcome
// (GETDEL): one presentation with the wrong state burns it.
func (s *Store) Redeem(ctx context.Context, code, state, origin string) (brandSession string, err error) {
	if !WellFormed(code) || !WellFormed(state) {
		return "", ErrRefused
	}
	v, err := s.client.GetDel(ctx, s.prefix+"code:"+digest(code)).Bytes()
	if errors.Is(err, redis.Nil) {
		return "", ErrRefused
	}
	if err != nil {
		return "", fmt.Errorf("redeeming handoff code: %w", err)
	}
	var g grant
	if err := json.Unmarshal(v, &g); err != nil {
		return "", ErrRefused
	}
	if subtle.ConstantTimeCompare([]byte(g.State), []byte(digest(state))) != 1 || g.Origin != origin {
		return "", ErrRefused
	}
	return g.Brand, nil
}

// Open makes an origin session on origin pointing at the brand session
// ("" for an anonymous customer) and returns its id.
func (s *Store) Open(ctx context.Context, origin, brandSession string) (string, error) {
	id := NewSecret()
	v, err := json.Marshal(grant{Origin: origin, Brand: brandSession})
	if err != nil {
		return "", err
	}
	ttl := SessionTTL
	if brandSession == "" {
		ttl = AnonymousTTL
	}
	if err := s.client.Set(ctx, s.prefix+"session:"+digest(id), v, ttl).Err(); err != nil {
		return "", fmt.Errorf("storing origin session: %w", err)
	}
	return id, nil
}

// Resolve returns the brand session an origin session on origin points at
// ("" for an anonymous customer); found is false for an id that is
// unknown, expired or of another origin.
func (s *Store) Resolve(ctx context.Context, origin, id string) (brandSession string, found bool, err error) {
	if !WellFormed(id) {
		return "", false, nil
	}
	v, err := s.client.Get(ctx, s.prefix+"session:"+digest(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("resolving origin session: %w", err)
	}
	var g grant
	if err := json.Unmarshal(v, &g); err != nil || g.Origin != origin {
		return "", false, nil
	}
	return g.Brand, true, nil
}
