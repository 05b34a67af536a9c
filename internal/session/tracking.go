package session

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// TrackedMaxAge is how long a Store serves a context read under tracking
// without hearing from Redis: a backstop for an invalidation lost in a way
// go-redis cannot see. Redis normally reports a change within milliseconds.
const TrackedMaxAge = time.Minute

// UntrackedAge is how long a Store under tracking keeps an answer Redis
// will not report a change of. Redis reports changes only to keys a
// tracked connection read, and the Store reads under tracking only
// sessions that exist, and only while one of the Tracker's connections is
// free (see Tracker and trackedPoolSize). So the creation of a session it
// found missing goes unreported (a customer whose cookie came before
// their session's hash is seen logged in this soon), and so does a change
// to one it found while every re-read was taken, on a gateway too busy to
// re-read all its new customers at once: that customer's next lookup,
// after this, reads Redis and tries again.
const UntrackedAge = 50 * time.Millisecond

// Tracker brings Redis's server-assisted client-side caching (RESP3
// CLIENT TRACKING) to Stores. It has a client of its own, built by
// NewClientWithOptions, whose every pooled connection go-redis has Redis
// track, and it receives Redis's invalidation messages on them and the
// connections that lose their tracking, which it passes to the Stores.
// It stores no reply itself. A Store then keeps a customer's context
// until Redis says the session changed (or was deleted), or expires,
// instead of for a TTL.
//
// Redis remembers every key a tracked connection reads, whatever the
// command, in a table that counts against its memory. So only one read
// goes over the Tracker's client: the Store's re-read, off the request's
// path, of the fields of a session it has just found with the ordinary
// client. Everything else (a lookup's own read, and so every made-up
// session id a request names, overrides, trails, handoffs) stays on the
// ordinary, untracked client, which also spares the Stores' contexts the
// churn of its connections. Build one per client, pass it in
// ClientOptions and in Options of every Store on that client, and Close
// it after the client.
//
// go-redis tracks only on a standalone client on database 0; elsewhere
// (Sentinel, Cluster, another database, a server that refuses tracking)
// Stores keep their TTL cache.
type Tracker struct {
	client *redis.Client // tracked; nil until NewClientWithOptions attaches it
	tokens atomic.Uint64 // reservation tokens go-redis asks for

	// slots holds a token for each re-read under way, one per connection
	// of the client: a re-read that would have to queue for a connection
	// is not started (see Store.startTracking), so none waits out its
	// time in the pool and a burst of new customers cannot pile up.
	slots chan struct{}

	mu     sync.Mutex
	stores map[*Store]struct{}
	fed    map[uint64]struct{} // connections whose reads a Store may hold
}

// NewTracker returns a Tracker for one client.
func NewTracker() *Tracker {
	return &Tracker{
		stores: make(map[*Store]struct{}),
		fed:    make(map[uint64]struct{}),
		slots:  make(chan struct{}, trackedPoolSize),
	}
}

// trackedOptions are the options of a Tracker's client: those of the
// ordinary client o, with go-redis's client-side caching through the
// Tracker. The pool stays small: one read per session found, off the
// request's path, and no more of them at once than it has connections.
func trackedOptions(o redis.Options, sweep time.Duration) *redis.Options {
	o.Protocol = 3
	if sweep <= 0 {
		sweep = DefaultInvalidationSweep
	}
	// With ClientSideCache set, go-redis reads only DrainInterval of
	// this config.
	o.ClientSideCacheConfig = &redis.ClientSideCacheConfig{DrainInterval: sweep}
	o.PoolSize = min(o.PoolSize, trackedPoolSize)
	if o.PoolSize <= 0 {
		o.PoolSize = trackedPoolSize
	}
	o.MinIdleConns = min(o.MinIdleConns, 1)
	return &o
}

// trackedPoolSize bounds the connections of a Tracker's client, and so
// the re-reads under way at once (see Tracker.slots). A re-read waits
// most of its time to be scheduled on a busy gateway, not on Redis: with
// 4, a gateway on two saturated cores re-read about 400 sessions a
// second, and a burst of 10,000 new customers stayed on the TTL cache for
// half a minute; with 16, 10,000 were tracked within 5 seconds.
const trackedPoolSize = 16

// trackedReadTimeout bounds a re-read. It is off the request's path, so it
// need not be as short as a lookup's timeout, and it must not be: a
// re-read that times out mid-reply has go-redis close its tracked
// connection, and a tracked connection that goes takes every context read
// on it with it (Tracker.EvictByConn). On a gateway whose CPU is
// saturated, replies come tens of milliseconds late.
const trackedReadTimeout = time.Second

// attach gives the Tracker its client, built from o.
func (t *Tracker) attach(o *redis.Options) {
	o.ClientSideCache = t
	t.client = redis.NewClient(o)
}

// Attached reports whether a client uses the Tracker: whether Stores on
// it read under tracking, unless the server refuses tracking.
func (t *Tracker) Attached() bool {
	return t != nil && t.client != nil
}

// Close closes the Tracker's client, if it has one.
func (t *Tracker) Close() error {
	if t == nil || t.client == nil {
		return nil
	}
	return t.client.Close()
}

// trackedRead marks a read that went through go-redis's client-side cache
// path, which go-redis takes only while tracking is on: its answer is one
// Redis will invalidate.
type trackedRead struct{ tracked bool }

type trackedReadKey struct{}

// Get is go-redis's cache lookup: always a miss. It marks the Store's
// read as tracked.
func (t *Tracker) Get(ctx context.Context, _ string) ([]byte, bool) {
	if r, ok := ctx.Value(trackedReadKey{}).(*trackedRead); ok {
		r.tracked = true
	}
	return nil, false
}

// Reserve lets every read fetch: the Stores collapse their own.
func (t *Tracker) Reserve(string, []string) (uint64, bool) {
	return t.tokens.Add(1), true
}

// FulfillOwned is go-redis offering a reply read on a tracked connection,
// which the Tracker does not keep; it remembers the connection: losing it
// must drop what the Stores read on it.
func (t *Tracker) FulfillOwned(_ string, _, ownerConnID uint64, _ []byte) bool {
	t.mu.Lock()
	t.fed[ownerConnID] = struct{}{}
	t.mu.Unlock()
	return false
}

// Cancel has no reservation to release.
func (t *Tracker) Cancel(string, uint64) bool { return false }

// DeleteByCacheKey has nothing to delete.
func (t *Tracker) DeleteByCacheKey(string) bool { return false }

// DeleteByRedisKey applies Redis's invalidation of a key. go-redis passes
// the key behind its namespace (database and user, ending in a NUL byte).
func (t *Tracker) DeleteByRedisKey(redisKey string) int {
	key := redisKey[strings.LastIndexByte(redisKey, 0)+1:]
	t.each(func(s *Store) { s.invalidate(key) })
	return 0
}

// EvictByConn drops what was read on a connection that lost its tracking
// (closed, or set up again): Redis will not report changes to it. The
// Stores do not know which connection read which context, so they drop
// every tracked one, which happens only when a connection that served
// reads goes; reads under way are not kept either way.
func (t *Tracker) EvictByConn(connID uint64) int {
	t.mu.Lock()
	_, fed := t.fed[connID]
	delete(t.fed, connID)
	t.mu.Unlock()
	t.each(func(s *Store) { s.invalidateAll(fed) })
	return 0
}

// Flush applies Redis's flush of everything tracked (FLUSHDB, FLUSHALL).
func (t *Tracker) Flush() int {
	t.each(func(s *Store) { s.invalidateAll(true) })
	return 0
}

func (t *Tracker) add(s *Store) {
	t.mu.Lock()
	t.stores[s] = struct{}{}
	t.mu.Unlock()
}

func (t *Tracker) remove(s *Store) {
	t.mu.Lock()
	delete(t.stores, s)
	t.mu.Unlock()
}

// each calls f for every Store, outside the Tracker's lock.
func (t *Tracker) each(f func(*Store)) {
	t.mu.Lock()
	stores := make([]*Store, 0, len(t.stores))
	for s := range t.stores {
		stores = append(stores, s)
	}
	t.mu.Unlock()
	for _, s := range stores {
		f(s)
	}
}

// Interface guard.
var _ redis.Cache = (*Tracker)(nil)

// track re-reads, over the Tracker's client and off the request's path,
// the fields of session id that a lookup has just found (its answer in
// the cache under h, kept for the TTL until this read says more), so that
// Redis reports the session's next change. HMGET reads only the fields of
// fs, like the lookup's own read: the rest of the session never leaves
// Redis. The answer replaces the lookup's, kept until Redis reports a
// change, TrackedMaxAge, or until, the session's expiry as the lookup
// read it (Redis reports an expiry only when it gets to the key, which in
// a large keyspace can be long after). A read that an invalidation may
// have overtaken, or that finds the session gone, drops the answer: the
// next lookup reads again.
func (s *Store) track(h uint64, fs *FieldSet, id string, found *Context, until int64) {
	defer s.releaseReread()
	gen := s.gen.Load()
	read := new(trackedRead)
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), trackedReadKey{}, read), trackedReadTimeout)
	defer cancel()
	key := s.keyOf(id)
	var c *Context
	gone := false
	if len(fs.names) == 0 {
		n, err := s.tracker.client.Exists(ctx, key).Result()
		if err != nil {
			return // the lookup's answer stays for the TTL
		}
		c, _ = contextOf(fs, nil)
		gone = n == 0
	} else {
		vals, err := s.tracker.client.HMGet(ctx, key, fs.names...).Result()
		if err != nil {
			return
		}
		c, _ = contextOf(fs, vals) // the lookup counted what it dropped
		// HMGET cannot tell a session deleted since the lookup from
		// one without these fields; the lookup could.
		gone = c.n == 0 && found.n > 0
	}
	if !read.tracked && !gone {
		return // go-redis did not track it: the lookup's answer stays for the TTL
	}
	now := s.now()
	sh := s.cache.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !gone && s.gen.Load() == gen {
		expires := now + int64(TrackedMaxAge)
		if until > 0 && until < expires {
			expires = until
		}
		sh.putLocked(h, entry{fs: fs, id: id, ctx: c, expires: expires}, now)
		return
	}
	// An invalidation came meanwhile (of this session, which then
	// deletes its entries itself, or of another, or a connection set
	// up): this read may be older than a change, so it is not kept. The
	// lookup's answer may stay for its TTL if this read confirms it;
	// Redis now reports the session's changes.
	if e, ok := sh.entries[h]; ok && e.fs == fs && e.id == id && (gone || !sameValues(e.ctx, c)) {
		delete(sh.entries, h)
	}
}

// sameValues reports whether two contexts of one field set hold the same
// values.
func sameValues(a, b *Context) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.values, b.values)
}

// idOf returns the session id of a Redis key made from the key template.
func (s *Store) idOf(key string) (string, bool) {
	prefix := s.keyParts[0]
	if !strings.HasPrefix(key, prefix) {
		return "", false
	}
	rest := key[len(prefix):]
	end := len(rest)
	if len(s.keyParts) > 1 {
		if end = strings.Index(rest, s.keyParts[1]); end < 0 || s.keyParts[1] == "" {
			end = len(rest)
		}
	}
	id := rest[:end]
	if s.keyOf(id) != key {
		return "", false
	}
	return id, true
}

// noteFieldSet remembers a field set whose contexts the cache may hold,
// so that an invalidation can find them.
func (s *Store) noteFieldSet(fs *FieldSet) {
	for {
		old := s.fieldSets.Load()
		if old != nil && containsFieldSet(*old, fs) {
			return
		}
		var sets []*FieldSet
		if old != nil {
			sets = append(sets, *old...)
		}
		sets = append(sets, fs)
		if s.fieldSets.CompareAndSwap(old, &sets) {
			return
		}
	}
}

func containsFieldSet(sets []*FieldSet, fs *FieldSet) bool {
	for _, f := range sets {
		if f == fs {
			return true
		}
	}
	return false
}

// invalidate drops the cached contexts of the session a Redis key holds.
func (s *Store) invalidate(key string) {
	id, ok := s.idOf(key)
	if !ok {
		return
	}
	s.gen.Add(1) // reads under way may have read the old value
	sets := s.fieldSets.Load()
	if sets == nil {
		return
	}
	for _, fs := range *sets {
		h := s.cache.hash(fs, id)
		sh := s.cache.shard(h)
		sh.mu.Lock()
		if e, ok := sh.entries[h]; ok && e.fs == fs && e.id == id {
			delete(sh.entries, h)
		}
		sh.mu.Unlock()
	}
}

// Forget drops the cached context of session id read through fs, and
// keeps a read of it under way from being cached: for a writer that must
// see its own write on the next lookup (a customer it just sent to
// another backend), whatever the cache's TTL or how soon Redis reports the
// change.
func (s *Store) Forget(fs *FieldSet, id string) {
	s.gen.Add(1)
	h := s.cache.hash(fs, id)
	sh := s.cache.shard(h)
	sh.mu.Lock()
	if e, ok := sh.entries[h]; ok && e.fs == fs && e.id == id {
		delete(sh.entries, h)
	}
	sh.mu.Unlock()
}

// invalidateAll makes reads under way uncacheable and, with drop, drops
// every cached context.
func (s *Store) invalidateAll(drop bool) {
	s.gen.Add(1)
	if !drop {
		return
	}
	for i := range s.cache.shards {
		sh := &s.cache.shards[i]
		sh.mu.Lock()
		clear(sh.entries)
		sh.mu.Unlock()
	}
}

// Close stops the Store from following its Tracker, and waits for its
// re-reads under way (each bounded by trackedReadTimeout). The clients
// stay open: the caller owns them.
func (s *Store) Close() {
	if s.tracker == nil {
		return
	}
	s.tracker.remove(s)
	s.trackMu.Lock()
	s.closed = true
	s.trackMu.Unlock()
	s.tracking.Wait()
}
