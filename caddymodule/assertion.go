package caddymodule

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
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
	// EdDSA), for teams that manage keys themselves. The first signs; all
	// are published at /.well-known/frontdoor/jwks.json, so a new key can
	// be published before it signs. Default: keys frontdoor makes itself
	// (see Rotate), kept in Caddy's storage.
	Keys []string `json:"keys,omitempty"`

	// Rotate is how long each key frontdoor makes signs before the next
	// one takes over. The next key is made and published a whole period
	// before it signs, so that vendors' cached JWK Sets hold it by then,
	// and a key that stopped signing stays published until its last token
	// expires. At least 10s; cannot be combined with Keys. Default: no
	// rotation, one ES256 key made at first start and kept in Caddy's
	// storage.
	Rotate caddy.Duration `json:"rotate,omitempty"`

	// TTL is how long an assertion is valid, from 1s to 5m, in whole
	// seconds. Default: 2m.
	TTL caddy.Duration `json:"ttl,omitempty"`

	// Reuse lets one signed assertion serve the requests of the same
	// customer (the same session state and context values) to the same
	// backend of the same journey for this long, instead of signing one per
	// request: signing is the largest cost frontdoor adds to a request.
	// Every signed token has its own unique "jti"; every request keeps its
	// own X-Request-Id. A reused token is only served while the key that
	// signed it is the signing key. It must be at most half the TTL, so that
	// a reused token still has at least half its lifetime left. 0 signs a
	// fresh assertion for every request, for vendors that refuse a repeated
	// "jti". Default: 30s, or half the TTL when the TTL is under 1m.
	Reuse *caddy.Duration `json:"reuse,omitempty"`
}

// DefaultReuse is how long one assertion serves the same claims unless the
// config says otherwise (or the ttl is under twice as long).
const DefaultReuse = 30 * time.Second

// jwksMaxAge is the Cache-Control max-age of the JWK Set without rotation:
// a key file published ahead, or a new instance's key, reaches caches
// within it.
const jwksMaxAge = 5 * time.Minute

// publishedKeys lists the public keys of the process: every config's, and
// those a reload or a rotation let go until their last token expires. It
// holds no resources, so it is made once and lives with the process.
var publishedKeys = sync.OnceValue(assertion.NewPublished)

// rings shares the keys frontdoor makes itself between configs: a reload
// keeps signing with the key vendors have. One ring per rotation period.
var rings = caddy.NewUsagePool()

type ringDestructor struct{ *assertion.Ring }

func (r ringDestructor) Destruct() error {
	r.Close()
	return nil
}

func (h *Handler) provisionAssertion(ctx caddy.Context) error {
	var cfg AssertionConfig
	if h.Assertion != nil {
		cfg = *h.Assertion
	}
	h.ttl = assertion.DefaultTTL
	if cfg.TTL != 0 {
		h.ttl = time.Duration(cfg.TTL)
		if err := assertion.CheckTTL(h.ttl); err != nil {
			return fmt.Errorf("assertion ttl: %w", err)
		}
		h.ttl = h.ttl.Truncate(time.Second)
	}
	h.jwksMaxAge = jwksMaxAge
	switch {
	case len(cfg.Keys) > 0 && cfg.Rotate != 0:
		return fmt.Errorf("assertion: rotate makes its keys in the process and cannot rotate key files: use one or the other")
	case len(cfg.Keys) > 0:
		signer, err := assertion.LoadSigner(cfg.Keys)
		if err != nil {
			return fmt.Errorf("assertion: %w", err)
		}
		if signer, err = signer.WithTTL(h.ttl); err != nil {
			return fmt.Errorf("assertion ttl: %w", err)
		}
		h.signer = publishedKeys().Hold(signer)
	default:
		if err := h.provisionRing(ctx, time.Duration(cfg.Rotate)); err != nil {
			return err
		}
	}
	reuse := defaultReuse(h.ttl)
	if cfg.Reuse != nil {
		reuse = time.Duration(*cfg.Reuse)
		if err := checkReuse(reuse, h.ttl); err != nil {
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

// provisionRing signs with keys frontdoor makes itself, kept in Caddy's
// storage so that a restart signs with a key vendors already have.
func (h *Handler) provisionRing(ctx caddy.Context, every time.Duration) error {
	h.ringKey = "ring/" + assertion.DefaultAlgorithm + "/" + every.String()
	logger := caddy.Log().Named("frontdoor.assertion")
	val, loaded, err := rings.LoadOrNew(h.ringKey, func() (caddy.Destructor, error) {
		r, err := assertion.NewRing(assertion.DefaultAlgorithm, every, ctx.Storage(), publishedKeys(),
			func(err error) { logger.Error("assertion keys", zap.Error(err)) }, time.Now())
		if err != nil {
			return nil, err
		}
		return ringDestructor{r}, nil
	})
	if err != nil {
		h.ringKey = ""
		return fmt.Errorf("assertion: %w", err)
	}
	h.ring = val.(ringDestructor).Ring
	h.ringSigner = new(atomic.Pointer[ttlSigner])
	if every > 0 {
		// A cache that honours max-age sees the next key long before it
		// signs: it is published a whole period ahead.
		h.jwksMaxAge = min(jwksMaxAge, every/4)
		if every < minVendorRotation && !loaded {
			h.logger.Warn("assertion rotate is shorter than vendors' JWK Set caches may hold a set: "+
				"a vendor whose cache refreshes less often than the period rejects new keys' tokens",
				zap.Duration("rotate", every), zap.Duration("advised_at_least", minVendorRotation))
		}
	}
	if !loaded {
		h.logger.Info("signing assertions with keys made by frontdoor", zap.String("kid", h.ring.Signer(time.Now()).KeyID()),
			zap.Duration("rotate", every), zap.String("storage", assertion.RingPath))
	}
	return nil
}

// minVendorRotation is the shortest rotation no common JWK Set cache
// notices: lestrrat-go/jwx's jwk.Cache refreshes at most every 15 min by
// default, jose's createRemoteJWKSet keeps a set 10 min, PyJWT's
// PyJWKClient 5 min; the next key is published a whole period ahead.
const minVendorRotation = 20 * time.Minute

// signerAt returns the signer for a token issued at now, with this
// handler's ttl.
func (h *Handler) signerAt(now time.Time) *assertion.Signer {
	if h.ring == nil {
		return h.signer
	}
	base := h.ring.Signer(now)
	if c := h.ringSigner.Load(); c != nil && c.base == base {
		return c.signer
	}
	s, err := base.WithTTL(h.ttl)
	if err != nil {
		return base // checked at provision: cannot happen
	}
	h.ringSigner.Store(&ttlSigner{base: base, signer: s})
	return s
}

// ttlSigner is a ring's signer with a handler's ttl.
type ttlSigner struct {
	base, signer *assertion.Signer
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

// sign makes the backend's assertion: the brand, the journey and exactly
// the context fields the backend may see, under a new unique "jti"; with
// reuse on, a token signed by the same key for the same claims within the
// reuse window instead.
func (h *Handler) sign(b *backendRoute, journey string, cc customerContext) (string, error) {
	now := time.Now()
	signer := h.signerAt(now)
	if h.tokens == nil {
		return h.signNew(signer, b, journey, cc, now)
	}
	var keyBuf [256]byte
	key := reuseKey(keyBuf[:0], signer.KeyID(), b, cc)
	if token, ok := h.tokens.get(key, now); ok {
		return token, nil
	}
	token, err := h.signNew(signer, b, journey, cc, now)
	if err == nil {
		// The token's "iat" is now in whole seconds: its age counts from
		// there, so that it is never served with less than ttl - reuse
		// left.
		h.tokens.put(key, token, now.Truncate(time.Second))
	}
	return token, err
}

// reuseKey identifies what an assertion says apart from its id and times,
// whom it was signed for, and the key that signs it: the kid, the journey
// and backend (the audience), the session state, the customer's session
// (a keyed hash of its id: two customers whose fields the backend sees are
// equal must not share one token, one jti), and the values of the
// backend's context fields, each length-prefixed and each field marked
// present or absent, so that no two different claims, nor the same claims
// signed by two keys or for two customers, share a key.
func reuseKey(buf []byte, kid string, b *backendRoute, cc customerContext) []byte {
	buf = appendKeyPart(buf, kid)
	buf = appendKeyPart(buf, b.journey)
	buf = appendKeyPart(buf, b.name)
	buf = appendKeyPart(buf, cc.state)
	if cc.state == sessionFound {
		buf = binary.BigEndian.AppendUint64(buf, maphash.String(sessionHashSeed, cc.sessionID))
	}
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

// sessionHashSeed keys the hash of session ids in reuse keys, so that the
// cache holds no session id, nor a hash of one anybody else can compute.
var sessionHashSeed = maphash.MakeSeed()

func appendKeyPart(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func (h *Handler) signNew(signer *assertion.Signer, b *backendRoute, journey string, cc customerContext, now time.Time) (string, error) {
	// The claims escape into the signer: their one allocation comes with
	// a signature, which costs far more, and not with a reused token.
	fields := make([]assertion.Field, 0, len(b.context))
	subject := ""
	for _, f := range b.context {
		if v, ok := cc.ctx.Get(f.name); ok {
			fields = append(fields, assertion.Field{Name: f.claim, Value: v})
			if f.name == customerIDField {
				subject = v
			}
		}
	}
	return signer.Sign(assertion.Claims{
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

// serveJWKS publishes the public keys vendors verify assertions with: the
// fleet's when a Redis is configured, else this process's.
func (h *Handler) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	jwks, maxAge := h.jwks(r.Context(), time.Now())
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(jwks) //nolint:errcheck
	}
}

// jwks is the JWK Set served at now and how long it may be cached: this
// handler's max-age, or a shorter one another instance of the fleet asks
// for, as its keys are in the set too.
func (h *Handler) jwks(ctx context.Context, now time.Time) ([]byte, time.Duration) {
	if h.ring != nil {
		h.ring.Signer(now) // a rotation that is due happens before it is listed
	}
	if h.fleet == nil {
		return publishedKeys().JWKS(now), h.jwksMaxAge
	}
	set, fleetMaxAge := h.fleet.JWKS(ctx, now)
	if fleetMaxAge > 0 && fleetMaxAge < h.jwksMaxAge {
		return set, fleetMaxAge
	}
	return set, h.jwksMaxAge
}
