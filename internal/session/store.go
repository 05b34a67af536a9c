// Package session looks up the customer context of a session in Redis: a
// hash, found by the brand's session cookie, whose fields the gateway
// hands to backends as headers.
//
// A lookup is on the path of every proxied request, so the Store keeps it
// cheap and bounded: at most one Redis round trip, none when the result is
// cached (a few hundred nanoseconds, no allocation), concurrent lookups of
// one session collapsed into one round trip, a hard timeout, and a circuit
// breaker that stops a dead Redis from costing that timeout on every
// request.
//
// Nothing in this package logs, and no error it returns contains a session
// id (a credential) or a password.
package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of Options.
const (
	DefaultKeyTemplate = "session:{id}"
	DefaultTimeout     = 50 * time.Millisecond
	DefaultCacheTTL    = 2 * time.Second
	DefaultCacheSize   = 100_000
)

// idPlaceholder is replaced by the session id in Options.KeyTemplate.
const idPlaceholder = "{id}"

// ExpandKey is the Redis key of a session's hash: the template with the
// session id in place of {id}. Every user of a session key expands it here.
func ExpandKey(template, id string) string { return strings.ReplaceAll(template, idPlaceholder, id) }

// Options configure a Store.
type Options struct {
	// KeyTemplate is the Redis key of a session's hash, in which {id}
	// stands for the session id (the cookie value). Default
	// DefaultKeyTemplate, "session:{id}". In a Redis Cluster,
	// "session:{{id}}" makes the id a hash tag.
	KeyTemplate string

	// Timeout bounds one lookup's Redis round trip. Default
	// DefaultTimeout; negative is invalid.
	Timeout time.Duration

	// CacheTTL is how long a lookup result, found or not, is served from
	// memory. Zero disables the cache: a caller wanting the default must
	// set DefaultCacheTTL. Negative is invalid.
	CacheTTL time.Duration

	// CacheSize is the maximum number of cached results. Default
	// DefaultCacheSize; negative is invalid.
	CacheSize int

	// Breaker is the circuit breaker of the store's Redis, shared with its
	// other users on the request path (see Breaker). Default: a breaker of
	// the store's own.
	Breaker *Breaker

	// Tracker, the one given to the client, lets the cache keep a
	// session found, once re-read under Redis's client-side caching (see
	// Tracker), until Redis reports a change to it or it expires (at most
	// TrackedMaxAge) instead of for CacheTTL; an answer it does not re-read
	// (a missing session, or one found while every re-read was taken) is
	// then kept for UntrackedAge at most. Without tracking (Sentinel,
	// Cluster, a server that refuses it) results keep CacheTTL. Ignored
	// when CacheTTL is zero. Default: none.
	Tracker *Tracker
}

// Result says how a lookup was answered. The values are the result label
// of the frontdoor_context_lookups_total metric.
type Result string

// The results of Store.Lookup.
const (
	// ResultHit: Redis has the session.
	ResultHit Result = "hit"
	// ResultMiss: no such session, or an id that cannot be one.
	ResultMiss Result = "miss"
	// ResultCached: answered from memory, found or not (see the Context).
	ResultCached Result = "cached"
	// ResultError: Redis failed, timed out or is being backed off from.
	ResultError Result = "error"
	// ResultNoCookie: the request has no session id.
	ResultNoCookie Result = "no_cookie"
)

// Local reports whether a lookup was answered without the store: from the
// cache, or at once for want of a session id. Every other lookup asked
// Redis, waited on another lookup that did, or was refused at once while
// the store backs off from a failing Redis.
func (r Result) Local() bool { return r == ResultCached || r == ResultNoCookie }

// ErrUnavailable is returned, wrapped, by lookups that fail at once
// because Redis failed recently and the store is backing off.
var ErrUnavailable = errors.New("redis unavailable, backing off")

// errNotHash is the error of a session key that is not a hash. It is a
// data problem of one customer, not a Redis failure: it does not open the
// circuit breaker.
var errNotHash = errors.New("looking up session context: the session key holds a value that is not a hash")

// Store looks up session contexts. It is safe for concurrent use.
type Store struct {
	client   redis.UniversalClient
	keyParts []string // KeyTemplate split around {id}
	timeout  time.Duration
	ttl      int64 // ns; 0 when caching is off
	cache    *cache
	breaker  *breaker // Options.Breaker's, or the store's own
	// oneServer: the client would send each command of a pipeline to a
	// server of its own choosing (see spreadsReads).
	oneServer bool
	dropped   atomic.Uint64
	now       func() int64 // monotonic ns; replaced in tests

	tracker   *Tracker                    // nil without tracking
	gen       atomic.Uint64               // bumped by every invalidation
	fieldSets atomic.Pointer[[]*FieldSet] // those the cache may hold

	trackMu  sync.Mutex     // guards closed against the start of a re-read
	closed   bool           // Close was called: no more re-reads
	tracking sync.WaitGroup // re-reads under tracking under way
}

// NewStore returns a Store reading through client, which the caller owns.
// It does not contact Redis: the gateway must start while Redis is down.
func NewStore(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("session store: no redis client")
	}
	if opts.KeyTemplate == "" {
		opts.KeyTemplate = DefaultKeyTemplate
	}
	if !strings.Contains(opts.KeyTemplate, idPlaceholder) {
		return nil, fmt.Errorf("session key template %q: must contain %s", opts.KeyTemplate, idPlaceholder)
	}
	switch {
	case opts.Timeout < 0:
		return nil, fmt.Errorf("session lookup timeout %s: must not be negative", opts.Timeout)
	case opts.Timeout == 0:
		opts.Timeout = DefaultTimeout
	}
	if opts.CacheTTL < 0 {
		return nil, fmt.Errorf("session cache TTL %s: must not be negative", opts.CacheTTL)
	}
	switch {
	case opts.CacheSize < 0:
		return nil, fmt.Errorf("session cache size %d: must not be negative", opts.CacheSize)
	case opts.CacheSize == 0:
		opts.CacheSize = DefaultCacheSize
	}
	s := &Store{
		client:   client,
		keyParts: strings.Split(opts.KeyTemplate, idPlaceholder),
		timeout:  opts.Timeout,
		ttl:      int64(opts.CacheTTL),
		// Without a TTL the cache holds no entry, but its shards still
		// track the lookups in flight.
		cache:     newCache(opts.CacheSize),
		breaker:   new(breaker),
		oneServer: spreadsReads(client),
		now:       monotime,
	}
	if opts.Breaker != nil {
		s.breaker = &opts.Breaker.b
	}
	if opts.Tracker.Attached() && opts.CacheTTL > 0 {
		s.tracker = opts.Tracker
		s.tracker.add(s)
	}
	return s, nil
}

// Tracking reports whether the store reads under Redis's client-side
// caching (unless the server refuses it).
func (s *Store) Tracking() bool {
	return s.tracker != nil
}

// epoch anchors monotime.
var epoch = time.Now()

// monotime returns monotonic nanoseconds: immune to wall clock steps.
func monotime() int64 {
	return int64(time.Since(epoch))
}

// Lookup returns the context of the session id, restricted to the fields of
// fs, which must not be nil. The Context is nil when there is no session (ResultMiss, or
// ResultCached for a cached miss) and on error; an empty id gives
// ResultNoCookie and an id that fails ValidID gives ResultMiss, neither
// touching Redis.
//
// A Redis failure or timeout gives ResultError and an error; so does every
// lookup during the backoff that follows, at once and with ErrUnavailable,
// except for the one probe that checks whether Redis is back. Lookups
// collapsed into another's round trip share its result. Lookups answered
// from the cache (ResultCached) still are during an outage.
//
// ctx carries values to the Redis call; its cancellation and deadline do
// not shorten the round trip, which the store bounds by its own Timeout
// and shares with other callers, but a caller waiting on another's round
// trip stops waiting when ctx is done.
func (s *Store) Lookup(ctx context.Context, fs *FieldSet, id string) (*Context, Result, error) {
	if id == "" {
		return nil, ResultNoCookie, nil
	}
	if !ValidID(id) {
		return nil, ResultMiss, nil
	}
	h := s.cache.hash(fs, id)
	sh := s.cache.shard(h)
	now := s.now()
	if s.ttl > 0 {
		if c, ok := sh.get(h, fs, id, now); ok {
			return c, ResultCached, nil
		}
	}
	if s.breaker.isOpen(now) {
		return nil, ResultError, fmt.Errorf("looking up session context: %w", ErrUnavailable)
	}

	sh.mu.Lock()
	// Another lookup may have filled the entry since the check above.
	if s.ttl > 0 {
		if c, ok := sh.getLocked(h, fs, id, now); ok {
			sh.mu.Unlock()
			return c, ResultCached, nil
		}
	}
	if cl := sh.inflight[h]; cl != nil && cl.fs == fs && cl.id == id {
		sh.mu.Unlock()
		select {
		case <-cl.done:
			return cl.ctx, cl.res, cl.err
		case <-ctx.Done():
			return nil, ResultError, fmt.Errorf("looking up session context: %w", ctx.Err())
		}
	}
	ok, probe := s.breaker.allow(now)
	if !ok {
		sh.mu.Unlock()
		return nil, ResultError, fmt.Errorf("looking up session context: %w", ErrUnavailable)
	}
	cl := &call{fs: fs, id: id, done: make(chan struct{})}
	// A colliding key already in flight keeps its slot; this lookup goes
	// alone.
	register := sh.inflight[h] == nil
	if register {
		sh.inflight[h] = cl
	}
	sh.mu.Unlock()

	s.lead(ctx, sh, h, cl, register, probe)
	return cl.ctx, cl.res, cl.err
}

// lead makes the round trip of call cl, records its outcome with the
// breaker and the cache, and releases the lookups waiting for it.
func (s *Store) lead(ctx context.Context, sh *shard, h uint64, cl *call, registered, probe bool) {
	finished := false
	defer func() {
		if finished {
			return
		}
		// fetch panicked (in the Redis client, presumably): the
		// waiters and the breaker must not stay stuck on this call.
		cl.ctx, cl.res, cl.err = nil, ResultError, errors.New("looking up session context: redis client panicked")
		s.breaker.failure(probe, s.now())
		s.finish(sh, h, cl, registered, 0)
	}()

	cl.gen = s.gen.Load()
	start := s.now()
	var left time.Duration
	cl.ctx, cl.res, left, cl.err = s.fetch(ctx, cl.fs, cl.id)
	if left >= 0 {
		cl.until = start + int64(left)
	}
	finished = true

	now := s.now()
	if cl.err == nil || errors.Is(cl.err, errNotHash) {
		// Redis answered, even if with a key of the wrong type.
		s.breaker.success(probe)
	} else {
		s.breaker.failure(probe, now)
	}
	s.finish(sh, h, cl, registered, now)
}

// finish ends call cl: its result goes to the cache if it is one to keep
// (now is then the current time), new lookups no longer join it, and
// those that did get its result.
func (s *Store) finish(sh *shard, h uint64, cl *call, registered bool, now int64) {
	keep := s.ttl > 0 && cl.err == nil
	expires := now + s.ttl
	reread := false
	if s.tracker != nil && keep {
		// Known before the entry can be, so an invalidation finds it.
		s.noteFieldSet(cl.fs)
		if reread = cl.ctx != nil && s.claimReread(); !reread {
			expires = now + min(s.ttl, int64(UntrackedAge))
		}
	}
	if cl.until > 0 && cl.until < expires {
		expires = cl.until // the session expires in Redis first
	}
	kept := false
	if keep || registered {
		sh.mu.Lock()
		// A read that an invalidation (or a Forget) may have overtaken
		// is not kept: Redis will not report that change again, and the
		// writer that forgot wants its write seen. Both bump gen before
		// they take this lock to delete.
		if keep && s.gen.Load() == cl.gen {
			sh.putLocked(h, entry{fs: cl.fs, id: cl.id, ctx: cl.ctx, expires: expires}, now)
			kept = true
		}
		if registered {
			delete(sh.inflight, h)
		}
		sh.mu.Unlock()
	}
	close(cl.done)
	switch {
	case kept && reread:
		go s.track(h, cl.fs, cl.id, cl.ctx, cl.until)
	case reread:
		s.releaseReread()
	}
}

// claimReread reserves the re-read under tracking of a session a lookup
// found, unless the Store is closed or every connection of the Tracker
// is taken by another re-read (the lookup's answer is then kept for
// UntrackedAge only). A claim is ended by track, or by releaseReread.
func (s *Store) claimReread() bool {
	s.trackMu.Lock()
	defer s.trackMu.Unlock()
	if s.closed {
		return false
	}
	select {
	case s.tracker.slots <- struct{}{}:
	default:
		return false
	}
	s.tracking.Add(1)
	return true
}

// releaseReread ends a claim whose re-read is not made.
func (s *Store) releaseReread() {
	<-s.tracker.slots
	s.tracking.Done()
}

// fetch reads the session's hash: in one round trip, how long the key has
// left to live (PTTL, which also says whether it exists) and the values
// of the fields in fs. HMGET alone cannot tell a missing session from one
// that lacks all the fields asked for, and the latter is a customer who is
// logged in. left is negative unless a session was found that expires.
func (s *Store) fetch(ctx context.Context, fs *FieldSet, id string) (c *Context, res Result, left time.Duration, err error) {
	// The round trip is shared by the lookups collapsed into it, so the
	// first caller going away must not cancel it; Timeout bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	key := s.keyOf(id)

	var vals []any
	if len(fs.names) == 0 {
		left, err = s.client.PTTL(ctx, key).Result()
	} else {
		var (
			pttl  *redis.DurationCmd
			hmget *redis.SliceCmd
		)
		pipelined := s.client.Pipelined
		if s.oneServer {
			// PTTL and HMGET must be answered by one server: one that
			// no longer has the session and one that still has it would
			// make it found without its fields.
			pipelined = s.client.TxPipelined
		}
		_, err = pipelined(ctx, func(p redis.Pipeliner) error {
			pttl = p.PTTL(ctx, key)
			hmget = p.HMGet(ctx, key, fs.names...)
			return nil
		})
		if err == nil {
			left, vals = pttl.Val(), hmget.Val()
		}
	}
	if err != nil {
		return nil, ResultError, -1, s.fetchError(err)
	}
	if left == -2 { // PTTL's answer for a missing key
		return nil, ResultMiss, -1, nil
	}
	c, dropped := contextOf(fs, vals)
	if dropped > 0 {
		s.dropped.Add(uint64(dropped))
	}
	return c, ResultHit, left, nil
}

// spreadsReads reports whether client spreads reads over a master and its
// replicas command by command: go-redis's cluster client with ReadOnly,
// which the Sentinel form's route_randomly and route_by_latency also make
// (ClusterOptions.init sets ReadOnly for both). It picks a server for each
// read-only command of a pipeline on its own (ClusterClient.mapCmdsByNode,
// through slotReadOnlyNode and, with route_randomly, slotRandomNode, in
// go-redis v9.23.0's osscluster.go), but sends a MULTI/EXEC transaction
// to one server, the master of its slot (processTxPipeline). Any other
// client sends a pipeline down one connection, to one server.
func spreadsReads(client redis.UniversalClient) bool {
	c, ok := client.(*redis.ClusterClient)
	return ok && c.Options().ReadOnly
}

// contextOf is the context of the values HMGET read for the fields of fs,
// without those unfit for a header, and how many it dropped.
func contextOf(fs *FieldSet, vals []any) (c *Context, dropped int) {
	c = &Context{fs: fs, values: make([]value, len(fs.names))}
	for i, v := range vals {
		if i >= len(c.values) {
			break
		}
		if v == nil {
			continue // the hash has no such field
		}
		str, ok := v.(string)
		if !ok || !validValue(str) {
			dropped++
			continue
		}
		c.values[i] = value{s: str, ok: true}
		c.n++
	}
	return c, dropped
}

// keyOf is the Redis key of session id: the key template expanded, as
// ExpandKey does, from its parts split once.
func (s *Store) keyOf(id string) string { return strings.Join(s.keyParts, id) }

// fetchError wraps a failed read: a key of the wrong type, a timeout, or
// anything else Redis or the connection said.
func (s *Store) fetchError(err error) error {
	if redis.HasErrorPrefix(err, "WRONGTYPE") {
		return errNotHash
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout() {
		return fmt.Errorf("looking up session context: no answer from redis within %s: %w", s.timeout, err)
	}
	return fmt.Errorf("looking up session context: %w", err)
}

// DroppedValues returns how many values lookups have dropped because they
// were unfit for a header: control characters, invalid UTF-8, or longer
// than MaxValueLen.
func (s *Store) DroppedValues() uint64 {
	return s.dropped.Load()
}

// Reasons a lookup failed, for metrics and logs: a fixed set.
const (
	ReasonTimeout     = "timeout"      // Redis did not answer within the lookup timeout
	ReasonBreakerOpen = "breaker_open" // a recent failure: Redis is not asked for a moment
	ReasonCanceled    = "canceled"     // the customer's request ended before the lookup
	ReasonWrongType   = "wrong_type"   // the session key holds something other than a hash
	ReasonRedis       = "redis"        // Redis answered with an error, or the connection failed
)

// ErrorReason says why a lookup failed, as one of the Reason constants.
func ErrorReason(err error) string {
	switch {
	case errors.Is(err, ErrUnavailable):
		return ReasonBreakerOpen
	case errors.Is(err, errNotHash):
		return ReasonWrongType
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return ReasonTimeout
	}
	return ReasonRedis
}
