package session

import (
	"hash/maphash"
	"sync"
)

// Cache geometry. Shards spread the locking so that lookups on different
// cores rarely meet on one lock; minPerShard keeps small caches in few
// shards, so that every shard still has room for a useful number of
// entries.
const (
	maxShards   = 64
	minPerShard = 64
	// evictSample is how many entries an insert into a full shard looks
	// at to choose one to evict (the one expiring first).
	evictSample = 5
)

// cache maps (FieldSet, session id) to the result of a lookup, found or
// not, for a TTL, and tracks the lookups in flight so that concurrent ones
// for the same key share one Redis round trip. It holds at most size
// entries.
type cache struct {
	seed   maphash.Seed
	shards []shard
	mask   uint64
}

// shard is one lock's worth of the cache. Entries are keyed by the 64-bit
// hash of their key and carry the key itself: a collision, rare and not
// under an attacker's control (the seed is random), reads as an absent
// entry and is overwritten.
type shard struct {
	mu       sync.RWMutex
	entries  map[uint64]entry
	inflight map[uint64]*call
	capacity int
	_        [40]byte // keeps neighbouring shards' locks off one cache line
}

// entry is a cached lookup result; ctx is nil for a session that does not
// exist.
type entry struct {
	fs      *FieldSet
	id      string
	ctx     *Context
	expires int64 // monotonic nanoseconds
}

// call is a lookup in flight. Lookups for the same key arriving meanwhile
// wait for done and then read the result fields, written before done is
// closed.
type call struct {
	fs   *FieldSet
	id   string
	done chan struct{}

	ctx *Context
	res Result
	err error

	gen   uint64 // the store's invalidation count before the read
	until int64  // monotonic ns when the session expires in Redis; 0: never
}

func newCache(size int) *cache {
	n := 1
	for n < maxShards && n*2*minPerShard <= size {
		n *= 2
	}
	c := &cache{
		seed:   maphash.MakeSeed(),
		shards: make([]shard, n),
		mask:   uint64(n - 1),
	}
	for i := range c.shards {
		// Spread size exactly, so that the total never exceeds it.
		capacity := size / n
		if i < size%n {
			capacity++
		}
		c.shards[i] = shard{
			entries:  make(map[uint64]entry),
			inflight: make(map[uint64]*call),
			capacity: capacity,
		}
	}
	return c
}

// hash returns the key hash of (fs, id).
func (c *cache) hash(fs *FieldSet, id string) uint64 {
	h := maphash.String(c.seed, id)
	// Mix in the field set with a multiplicative constant (2^64/phi) so
	// that ids looked up through several field sets land apart.
	return h ^ (fs.id * 0x9e3779b97f4a7c15)
}

func (c *cache) shard(h uint64) *shard {
	// The low bits pick the shard; the map hashes the whole key again.
	return &c.shards[h&c.mask]
}

// get returns the cached context for (fs, id) if there is a fresh entry.
func (s *shard) get(h uint64, fs *FieldSet, id string, now int64) (*Context, bool) {
	s.mu.RLock()
	e, ok := s.entries[h]
	s.mu.RUnlock()
	if !ok || e.fs != fs || e.id != id || now >= e.expires {
		return nil, false
	}
	return e.ctx, true
}

// getLocked is get for a caller holding s.mu.
func (s *shard) getLocked(h uint64, fs *FieldSet, id string, now int64) (*Context, bool) {
	e, ok := s.entries[h]
	if !ok || e.fs != fs || e.id != id || now >= e.expires {
		return nil, false
	}
	return e.ctx, true
}

// putLocked stores an entry, evicting one first if the shard is full. The
// caller holds s.mu.
func (s *shard) putLocked(h uint64, e entry, now int64) {
	if _, ok := s.entries[h]; !ok && len(s.entries) >= s.capacity {
		s.evictLocked(now)
	}
	s.entries[h] = e
}

// evictLocked removes the expired entries among a few picked at random
// (Go randomises where map iteration starts), or else the one of them that
// expires first: approximately the oldest, since all entries live for the
// same TTL, at a constant cost.
func (s *shard) evictLocked(now int64) {
	var (
		victim  uint64
		soonest int64
		seen    int
		freed   bool
	)
	for h, e := range s.entries {
		if e.expires <= now {
			delete(s.entries, h)
			freed = true
		} else if seen == 0 || e.expires < soonest {
			victim, soonest = h, e.expires
		}
		seen++
		if seen >= evictSample {
			break
		}
	}
	if !freed && seen > 0 {
		delete(s.entries, victim)
	}
}

// len returns the number of entries, expired ones included.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}
