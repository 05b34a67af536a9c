package assertion

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// FleetKey is the Redis sorted set of the fleet's public keys: each member
// is a public JWK, its score the time (unix milliseconds) it stays listed
// until. Only public keys are ever written there.
const FleetKey = "frontdoor:jwks"

// FleetMaxAgeKey is the Redis sorted set of the Cache-Control max-age each
// instance wants for the JWK Set (seconds), scored like FleetKey: as every
// instance serves the keys of all, each serves the shortest, so that a
// cache following any of them sees a rotating instance's next key in time.
const FleetMaxAgeKey = "frontdoor:jwks:max-age"

const (
	// fleetTick is how often a process writes its keys to Redis and drops
	// the expired ones of the fleet.
	fleetTick = 5 * time.Second
	// fleetCacheFor is how long a JWK Set read from Redis is served
	// before it is read again.
	fleetCacheFor = 2 * time.Second
	// fleetMargin keeps a key listed a little past the expiry of its last
	// token, for vendors whose clock runs behind (a common leeway is 60 s).
	fleetMargin = time.Minute
	// heldFor is how long past the latest write a held key stays listed
	// should the process stop without letting it go: the longest token it
	// may have signed, plus a write that did not happen.
	heldFor = MaxTTL + 2*fleetTick
	// maxFleetKeys bounds what is read from Redis.
	maxFleetKeys = 256
)

// Fleet publishes a process's keys through Redis and serves the JWK Set of
// the whole fleet: the keys every instance sharing the Redis holds, and
// those whose last token has not expired. A key is written with the time
// it stays listed until, so a key stays listed across restarts, and one
// whose process died without letting it go drops out on its own.
type Fleet struct {
	client redis.UniversalClient
	pub    *Published
	logger *zap.Logger

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	maxAge atomic.Int64 // seconds: the shortest this process asks for; 0 for none

	mu           sync.Mutex
	cached       []byte
	cachedMaxAge time.Duration
	cachedAt     time.Time
	others       []jose.JSONWebKey // the other instances' keys, as last read
	othersMaxAge time.Duration
	othersRead   bool // others were read at least once
}

// AskMaxAge asks that the fleet's JWK Set be cached for at most d: a
// rotating instance asks for a fraction of its period. The process asks
// for the shortest any of its configs did.
func (f *Fleet) AskMaxAge(d time.Duration) {
	secs := max(int64(d/time.Second), 1)
	for {
		cur := f.maxAge.Load()
		if cur != 0 && cur <= secs || f.maxAge.CompareAndSwap(cur, secs) {
			break
		}
	}
	f.Publish()
}

// NewFleet starts writing pub's keys to Redis every few seconds, until
// Close.
func NewFleet(client redis.UniversalClient, pub *Published, logger *zap.Logger) *Fleet {
	f := &Fleet{client: client, pub: pub, logger: logger,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go f.run()
	return f
}

// Publish asks for the keys to be written now, without waiting: a key
// made at start must reach the fleet before vendors ask for it.
func (f *Fleet) Publish() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

func (f *Fleet) run() {
	defer close(f.done)
	t := time.NewTicker(fleetTick)
	defer t.Stop()
	for {
		if err := f.write(time.Now()); err != nil {
			f.logger.Warn("assertion keys not published to Redis; other instances' JWK Sets miss them until it works",
				zap.Error(err))
		}
		select {
		case <-f.stop:
			// A last write with the keys let go records when their last
			// tokens expire.
			if err := f.write(time.Now()); err != nil {
				f.logger.Warn("assertion keys not published to Redis at shutdown", zap.Error(err))
			}
			return
		case <-t.C:
		case <-f.kick:
		}
	}
}

func (f *Fleet) write(now time.Time) error {
	listed := f.pub.Listed(now)
	members := make([]redis.Z, 0, len(listed))
	for _, l := range listed {
		until := l.Until.Add(fleetMargin)
		if l.Held {
			until = now.Add(heldFor + fleetMargin)
		}
		members = append(members, redis.Z{Score: float64(until.UnixMilli()), Member: l.JWK})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := f.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if len(members) > 0 {
			p.ZAdd(ctx, FleetKey, members...)
		}
		if secs := f.maxAge.Load(); secs > 0 {
			p.ZAdd(ctx, FleetMaxAgeKey, redis.Z{Score: float64(now.Add(heldFor + fleetMargin).UnixMilli()), Member: secs})
		}
		p.ZRemRangeByScore(ctx, FleetKey, "-inf", strconv.FormatInt(now.UnixMilli(), 10))
		p.ZRemRangeByScore(ctx, FleetMaxAgeKey, "-inf", strconv.FormatInt(now.UnixMilli(), 10))
		return nil
	})
	return err
}

// JWKS returns the JWK Set of the fleet at now: this process's keys, then
// those the other instances published, read from Redis at most every
// fleetCacheFor; and the shortest max-age an instance asked for (0 when
// none did). When Redis fails the other instances' keys are those last
// read; before any read succeeded the set is this process's keys alone,
// which vendors may cache for fleetCacheFor only. The read is the
// fleet's, not the asking client's: its leaving does not end it.
func (f *Fleet) JWKS(ctx context.Context, now time.Time) ([]byte, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cached != nil && now.Sub(f.cachedAt) < fleetCacheFor && !now.Before(f.cachedAt) {
		return f.cached, f.cachedMaxAge
	}
	local := f.pub.Listed(now)
	others, maxAge, err := f.read(context.WithoutCancel(ctx), now)
	switch {
	case err == nil:
		f.others, f.othersMaxAge, f.othersRead = others, maxAge, true
	case f.othersRead:
		others, maxAge = f.others, f.othersMaxAge
		f.logger.Warn("reading the fleet's assertion keys from Redis: serving the other instances' keys as last read", zap.Error(err))
	default:
		maxAge = fleetCacheFor
		f.logger.Warn("reading the fleet's assertion keys from Redis: serving this instance's keys only, for vendors to cache briefly", zap.Error(err))
	}
	if secs := f.maxAge.Load(); secs > 0 && (maxAge == 0 || time.Duration(secs)*time.Second < maxAge) {
		maxAge = time.Duration(secs) * time.Second
	}
	f.cached, f.cachedMaxAge, f.cachedAt = encodeSet(local, others), maxAge, now
	return f.cached, f.cachedMaxAge
}

func (f *Fleet) read(ctx context.Context, now time.Time) ([]jose.JSONWebKey, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	live := redis.ZRangeArgs{ByScore: true, Start: "(" + strconv.FormatInt(now.UnixMilli(), 10), Stop: "+inf", Count: maxFleetKeys}
	var keysCmd, agesCmd *redis.StringSliceCmd
	_, err := f.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		live.Key = FleetKey
		keysCmd = p.ZRangeArgs(ctx, live)
		live.Key = FleetMaxAgeKey
		agesCmd = p.ZRangeArgs(ctx, live)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	var maxAge time.Duration
	for _, a := range agesCmd.Val() {
		if secs, err := strconv.ParseInt(a, 10, 32); err == nil && secs > 0 {
			if d := time.Duration(secs) * time.Second; maxAge == 0 || d < maxAge {
				maxAge = d
			}
		}
	}
	members := keysCmd.Val()
	keys := make([]jose.JSONWebKey, 0, len(members))
	for _, m := range members {
		if k, ok := parseFleetKey(m); ok {
			keys = append(keys, k)
		}
	}
	return keys, maxAge, nil
}

// parseFleetKey accepts a member of FleetKey only if it is a public
// signing key of an algorithm frontdoor signs with, under its RFC 7638
// thumbprint: whatever else is in Redis is not served to vendors.
func parseFleetKey(member string) (jose.JSONWebKey, bool) {
	var k jose.JSONWebKey
	if err := json.Unmarshal([]byte(member), &k); err != nil || !k.IsPublic() || !k.Valid() {
		return k, false
	}
	if k.Algorithm != string(jose.ES256) && k.Algorithm != string(jose.EdDSA) || k.Use != "sig" {
		return k, false
	}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil || base64.RawURLEncoding.EncodeToString(sum) != k.KeyID {
		return k, false
	}
	return k, true
}

// Close stops publishing after a last write, and waits for it.
func (f *Fleet) Close() {
	close(f.stop)
	<-f.done
}
