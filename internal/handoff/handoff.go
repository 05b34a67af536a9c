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

	lru "github.com/hashicorp/golang-lru/v2"
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

// Resolved origin sessions are kept in memory, so that a vendor origin's
// requests do not each cost a Redis round trip: an origin session never
// changes in Redis (it is written once and only expires), so an entry is
// kept no longer than the key lives in Redis (an anonymous session is
// asked for again when its minute is over, as before), and no longer
// than SessionCacheTTL, which bounds how long a key deleted in Redis by
// hand still resolves on an instance. A brand logout needs nothing here:
// the origin session points at the brand session, whose context every
// request looks up through the brand's key, so a logout ends the origin
// session at once whatever this cache holds.
const (
	// SessionCacheTTL is the longest an instance keeps a resolved origin
	// session without asking Redis again.
	SessionCacheTTL = 5 * time.Minute

	// SessionCacheSize bounds the resolved origin sessions kept (least
	// recently used go first): about 200 bytes each.
	SessionCacheSize = 16384
)

// Guard makes a Redis round trip, or refuses it at once while Redis is
// known to be failing: the session store's circuit breaker
// (session.Breaker). call's error is one only when Redis failed or did not
// answer; Do returns it, or its own refusal.
type Guard interface {
	Do(call func() error) error
}

// Store keeps codes and origin sessions in Redis under Prefix.
type Store struct {
	client redis.UniversalClient
	prefix string
	guard  Guard // nil: every round trip goes to Redis

	// sessions holds resolved origin sessions by the digest of their id.
	sessions *lru.Cache[string, cachedSession]
	now      func() time.Time // time.Now; tests set it
}

// cachedSession is a resolved origin session and when it stops counting.
type cachedSession struct {
	grant
	until time.Time
}

// DefaultPrefix starts every key the store writes.
const DefaultPrefix = "frontdoor:handoff:"

// NewStore returns a store writing under prefix ("" for DefaultPrefix).
func NewStore(client redis.UniversalClient, prefix string) *Store {
	return NewGuardedStore(client, prefix, nil)
}

// NewGuardedStore is NewStore whose Resolve, on the path of every request
// on a vendor origin, asks Redis through guard (nil for none): the
// breaker that context lookups of the same Redis go through, so that a
// Redis that does not answer costs an origin's requests no more than the
// brand host's. The handoff's own steps (Mint, Redeem, Open), one each
// per handoff, are left unguarded.
func NewGuardedStore(client redis.UniversalClient, prefix string, guard Guard) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	sessions, err := lru.New[string, cachedSession](SessionCacheSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Store{client: client, prefix: prefix, guard: guard, sessions: sessions, now: time.Now}
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
	key := digest(id)
	until := s.now().Add(min(ttl, SessionCacheTTL)) // before the key's own expiry starts
	if err := s.client.Set(ctx, s.prefix+"session:"+key, v, ttl).Err(); err != nil {
		return "", fmt.Errorf("storing origin session: %w", err)
	}
	// The customer's next request resolves it: on this instance, from
	// memory.
	s.sessions.Add(key, cachedSession{grant: grant{Origin: origin, Brand: brandSession}, until: until})
	return id, nil
}

// Resolve returns the brand session an origin session on origin points at
// ("" for an anonymous customer); found is false for an id that is
// unknown, expired or of another origin.
func (s *Store) Resolve(ctx context.Context, origin, id string) (brandSession string, found bool, err error) {
	if !WellFormed(id) {
		return "", false, nil
	}
	key := digest(id)
	now := s.now()
	if c, ok := s.sessions.Get(key); ok {
		if now.Before(c.until) {
			return c.Brand, c.Origin == origin, nil
		}
		s.sessions.Remove(key)
	}
	// The value and its remaining lifetime in one round trip: the entry
	// kept in memory expires no later than the key.
	var get *redis.StringCmd
	var pttl *redis.DurationCmd
	roundTrip := func() error {
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			get = p.Get(ctx, s.prefix+"session:"+key)
			pttl = p.PTTL(ctx, s.prefix+"session:"+key)
			return nil
		})
		if errors.Is(err, redis.Nil) {
			return nil // an answer: no such session
		}
		return err
	}
	if s.guard != nil {
		err = s.guard.Do(roundTrip)
	} else {
		err = roundTrip()
	}
	if err != nil {
		return "", false, fmt.Errorf("resolving origin session: %w", err)
	}
	v, getErr := get.Bytes()
	if errors.Is(getErr, redis.Nil) {
		return "", false, nil
	}
	var g grant
	if err := json.Unmarshal(v, &g); err != nil {
		return "", false, nil
	}
	// PTTL is -1 for a key without expiry (not one Open wrote) and -2 for
	// one that expired between the two commands.
	if ttl := pttl.Val(); ttl > 0 || ttl == -1 {
		lifetime := SessionCacheTTL
		if ttl > 0 {
			lifetime = min(ttl, lifetime)
		}
		s.sessions.Add(key, cachedSession{grant: g, until: now.Add(lifetime)})
	}
	if g.Origin != origin {
		return "", false, nil
	}
	return g.Brand, true, nil
}
