package session

import (
	"context"
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

// Tracker brings Redis's server-assisted client-side caching (RESP3
// CLIENT TRACKING) to Stores. Given to a client as its client-side cache,
// it makes go-redis turn tracking on for every pooled connection of a
// standalone client and hand it Redis's invalidation messages, and the
// connections that lose their tracking; it passes them to the Stores on
// the client. It stores no reply itself: every other read on the client
// (overrides, trails, handoffs) still goes to Redis, so no part of the
// gateway reads its own writes late. A Store then keeps a customer's
// context until Redis says the session changed (or was deleted) instead
// of for a TTL. Build one per client, pass it in ClientOptions and in
// Options of every Store on that client.
//
// go-redis tracks only on a standalone client on database 0; elsewhere
// (Sentinel, Cluster, another database, a server that refuses tracking)
// Stores keep their TTL cache.
type Tracker struct {
	attached atomic.Bool   // NewClientWithOptions wired it into a client
	tokens   atomic.Uint64 // reservation tokens go-redis asks for

	mu     sync.Mutex
	stores map[*Store]struct{}
	fed    map[uint64]struct{} // connections whose reads a Store may hold
}

// NewTracker returns a Tracker for one client.
func NewTracker() *Tracker {
	return &Tracker{stores: make(map[*Store]struct{}), fed: make(map[uint64]struct{})}
}

// Attached reports whether a client uses the Tracker: whether Stores on
// it read under tracking, unless the server refuses tracking.
func (t *Tracker) Attached() bool {
	return t != nil && t.attached.Load()
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

// fetchTracked reads the session's whole hash with HGETALL, which go-redis
// reads through the Tracker on a tracked connection: one command (go-redis
// tracks no pipelined reads), whose empty answer means no session (Redis
// has no empty hashes). It reports whether the read was tracked.
func (s *Store) fetchTracked(ctx context.Context, fs *FieldSet, id string) (*Context, Result, bool, error) {
	read := new(trackedRead)
	ctx, cancel := context.WithTimeout(context.WithValue(context.WithoutCancel(ctx), trackedReadKey{}, read), s.timeout)
	defer cancel()
	hash, err := s.client.HGetAll(ctx, strings.Join(s.keyParts, id)).Result()
	if err != nil {
		return nil, ResultError, false, s.fetchError(err)
	}
	if len(hash) == 0 {
		return nil, ResultMiss, read.tracked, nil
	}
	c := &Context{fs: fs, values: make([]value, len(fs.names))}
	for i, name := range fs.names {
		v, ok := hash[name]
		if !ok {
			continue
		}
		if !validValue(v) {
			s.dropped.Add(1)
			continue
		}
		c.values[i] = value{s: v, ok: true}
		c.n++
	}
	return c, ResultHit, read.tracked, nil
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
	if strings.Join(s.keyParts, id) != key {
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

// Close stops the Store from following its Tracker. The client stays open:
// the caller owns it.
func (s *Store) Close() {
	if s.tracker != nil {
		s.tracker.remove(s)
	}
}
