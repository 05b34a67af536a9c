package caddymodule

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/internal/assertion"
)

// AssertionConfig configures the signed X-Frontdoor-Assertion JWT that
// lets vendors verify the brand headers and the customer's context.
type AssertionConfig struct {
	// Keys are PEM files of private keys (EC P-256 for ES256, Ed25519 for
	// EdDSA). The first signs; all are published at
	// /.well-known/frontdoor/jwks.json, so a new key can be published
	// before it signs. Several instances must share the same keys.
	// Default: an ES256 key made at start, with a warning.
	Keys []string `json:"keys,omitempty"`

	// TTL is how long an assertion is valid, from 1s to 5m, in whole
	// seconds. Default: 2m.
	TTL caddy.Duration `json:"ttl,omitempty"`

	// Reuse lets one signed assertion serve the requests of the same
	// customer (the same session state and context values) to the same
	// backend of the same journey for this long, instead of signing one per
	// request: signing is the largest cost frontdoor adds to a request.
	// Every signed token has its own unique "jti"; every request keeps its
	// own X-Request-Id. A reused token is only served while the key that
	// signed it is the first key. It must be at most half the TTL, so that
	// a reused token still has at least half its lifetime left. 0 signs a
	// fresh assertion for every request, for vendors that refuse a repeated
	// "jti". Default: 30s, or half the TTL when the TTL is under 1m.
	Reuse *caddy.Duration `json:"reuse,omitempty"`
}

// DefaultReuse is how long one assertion serves the same claims unless the
// config says otherwise (or the ttl is under twice as long).
const DefaultReuse = 30 * time.Second

func (h *Handler) provisionAssertion() error {
	var cfg AssertionConfig
	if h.Assertion != nil {
		cfg = *h.Assertion
	}
	var signer *assertion.Signer
	var err error
	if len(cfg.Keys) == 0 {
		if signer, err = ephemeralSigner(); err != nil {
			return fmt.Errorf("assertion: %w", err)
		}
		h.logger.Warn("no assertion keys configured: signing with a key made at start; "+
			"several instances, or a restart, need shared keys (assertion { key FILE })",
			zap.Strings("kid", signer.KeyIDs()))
	} else if signer, err = assertion.LoadSigner(cfg.Keys); err != nil {
		return fmt.Errorf("assertion: %w", err)
	}
	// The ephemeral signer is shared by every config of the process: this
	// handler's ttl goes into its own copy, never into the shared one.
	h.signer = signer
	if cfg.TTL != 0 {
		if h.signer, err = signer.WithTTL(time.Duration(cfg.TTL)); err != nil {
			return fmt.Errorf("assertion ttl: %w", err)
		}
	}
	h.kid = h.signer.KeyIDs()[0]
	reuse := defaultReuse(h.signer.TTL())
	if cfg.Reuse != nil {
		reuse = time.Duration(*cfg.Reuse)
		if err := checkReuse(reuse, h.signer.TTL()); err != nil {
			return err
		}
	}
	// The cache belongs to this handler, so a reload (other keys, other
	// claims) starts a new one.
	if reuse > 0 {
		h.tokens = newTokenCache(reuse, maxReusedTokens)
	}
	return nil
}

// defaultReuse is DefaultReuse, or half the ttl when that is shorter: a
// short ttl alone must not make the default invalid.
func defaultReuse(ttl time.Duration) time.Duration {
	return min(DefaultReuse, ttl/2)
}

// checkReuse keeps reused assertions far from expiry.
func checkReuse(reuse, ttl time.Duration) error {
	if reuse < 0 || reuse > ttl/2 {
		return fmt.Errorf("assertion reuse %v: must be between 0 and half the assertion ttl (%v)", reuse, ttl/2)
	}
	return nil
}

// maxReusedTokens bounds the reuse cache, whose entries are a signed token
// and its key each (some 700 bytes): about 23 MB at most, for three times
// the 10,000 customers per reuse window of a busy brand. Beyond that, the
// least recently used tokens are evicted and simply signed again.
const maxReusedTokens = 32_768

// ephemeralSigner is made once per process, not per config: a reload must
// not invalidate the keys vendors have cached. It is never changed; each
// handler signs with its own copy (Signer.WithTTL).
var ephemeralSigner = sync.OnceValues(assertion.NewEphemeralSigner)

// sign makes the backend's assertion: the brand, the journey and exactly
// the context fields the backend may see, under a new unique "jti"; with
// reuse on, a token signed by the same key for the same claims within the
// reuse window instead.
func (h *Handler) sign(b *backendRoute, journey string, cc customerContext, fields []assertion.Field) (string, error) {
	now := time.Now()
	if h.tokens == nil {
		return h.signNew(b, journey, cc, fields, now)
	}
	var keyBuf [256]byte
	key := reuseKey(keyBuf[:0], h.kid, b, cc)
	if token, ok := h.tokens.get(key, now); ok {
		return token, nil
	}
	token, err := h.signNew(b, journey, cc, fields, now)
	if err == nil {
		// The token's "iat" is now in whole seconds: its age counts from
		// there, so that it is never served with less than ttl - reuse
		// left.
		h.tokens.put(key, token, now.Truncate(time.Second))
	}
	return token, err
}

// reuseKey identifies what an assertion says apart from its id and times,
// and the key that signs it: the kid, the journey and backend (the
// audience), the session state and the values of the backend's context
// fields, each length-prefixed and each field marked present or absent, so
// that no two different claims, nor the same claims signed by two keys,
// share a key.
func reuseKey(buf []byte, kid string, b *backendRoute, cc customerContext) []byte {
	buf = appendKeyPart(buf, kid)
	buf = appendKeyPart(buf, b.journey)
	buf = appendKeyPart(buf, b.name)
	buf = appendKeyPart(buf, cc.state)
	for _, f := range b.context {
		v, ok := cc.ctx.Get(f.name)
		if !ok {
			buf = append(buf, 0) // absent, unlike an empty value
			continue
		}
		buf = append(buf, 1)
		buf = appendKeyPart(buf, v)
	}
	return buf
}

func appendKeyPart(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func (h *Handler) signNew(b *backendRoute, journey string, cc customerContext, fields []assertion.Field, now time.Time) (string, error) {
	fields = fields[:0]
	subject := ""
	for _, f := range b.context {
		if v, ok := cc.ctx.Get(f.name); ok {
			fields = append(fields, assertion.Field{Name: f.claim, Value: v})
			if f.name == customerIDField {
				subject = v
			}
		}
	}
	return h.signer.Sign(assertion.Claims{
		Issuer: h.Brand, Audience: b.name, Subject: subject, ID: newTokenID(),
		Journey: journey, Session: cc.state, Context: fields,
	}, now)
}

// newTokenID returns a token's "jti": 128 random bits in base64url, 22
// characters, unique among all tokens ever signed for all practical
// purposes. Like request ids it comes from the runtime's lock-free ChaCha8
// generator: uniqueness, not secrecy, is what is needed.
func newTokenID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenCache holds signed assertions for reuse: a least-recently-used
// cache (hashicorp/golang-lru) split into shards, each under its own lock,
// so that a full cache evicts one token per insert instead of scanning,
// and lookups on different cores rarely meet. Entries are keyed by a
// seeded 64-bit hash of the reuse key and carry the key itself: a
// collision, rare and not under a client's control, reads as a miss and
// is overwritten.
type tokenCache struct {
	reuse  int64 // nanoseconds
	seed   maphash.Seed
	shards [tokenShards]*lru.Cache[uint64, reusedToken]
}

// tokenShards spreads the locking; a power of two.
const tokenShards = 16

type reusedToken struct {
	key      string
	token    string
	signedAt int64 // unix nanoseconds
}

func newTokenCache(reuse time.Duration, limit int) *tokenCache {
	c := &tokenCache{reuse: int64(reuse), seed: maphash.MakeSeed()}
	for i := range c.shards {
		// Spread limit exactly, so that the total never exceeds it (a
		// limit under tokenShards gets one per shard).
		size := limit / tokenShards
		if i < limit%tokenShards {
			size++
		}
		shard, err := lru.New[uint64, reusedToken](max(size, 1))
		if err != nil {
			panic(err) // only for a size below 1
		}
		c.shards[i] = shard
	}
	return c
}

func (c *tokenCache) shard(h uint64) *lru.Cache[uint64, reusedToken] {
	return c.shards[h&(tokenShards-1)]
}

func (c *tokenCache) get(key []byte, now time.Time) (string, bool) {
	h := maphash.Bytes(c.seed, key)
	e, ok := c.shard(h).Get(h)
	if !ok || e.key != string(key) || now.UnixNano()-e.signedAt >= c.reuse || now.UnixNano() < e.signedAt {
		return "", false
	}
	return e.token, true
}

func (c *tokenCache) put(key []byte, token string, now time.Time) {
	h := maphash.Bytes(c.seed, key)
	c.shard(h).Add(h, reusedToken{key: string(key), token: token, signedAt: now.UnixNano()})
}

// serveJWKS publishes the public keys vendors verify assertions with.
func (h *Handler) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(h.jwks) //nolint:errcheck
	}
}
