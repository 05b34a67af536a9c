package session

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

// fakeClock replaces a Store's clock, for tests of expiry without sleeping.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(int64(time.Hour)) // anything but zero
	return c
}

func (c *fakeClock) now() int64              { return c.ns.Load() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// recorder is a go-redis hook that records the session commands a client
// sends (EXISTS and HMGET, alone or pipelined) and can hold them back.
type recorder struct {
	mu    sync.Mutex
	cmds  [][]string
	trips atomic.Int64 // round trips: commands and pipelines
	delay time.Duration
}

func (r *recorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *recorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if r.record(cmd) {
			r.trip()
		}
		return next(ctx, cmd)
	}
}

func (r *recorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		recorded := false
		for _, cmd := range cmds {
			recorded = r.record(cmd) || recorded
		}
		if recorded {
			r.trip()
		}
		return next(ctx, cmds)
	}
}

// trip counts a round trip of session commands and holds it back by delay.
func (r *recorder) trip() {
	r.trips.Add(1)
	time.Sleep(r.delay) // time under test: a slow Redis
}

func (r *recorder) record(cmd redis.Cmder) bool {
	if name := cmd.Name(); name != "pttl" && name != "hmget" {
		return false
	}
	var args []string
	for _, a := range cmd.Args() {
		args = append(args, fmt.Sprint(a))
	}
	r.mu.Lock()
	r.cmds = append(r.cmds, args)
	r.mu.Unlock()
	return true
}

func (r *recorder) commands() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.cmds)
}

// setup starts a redis-server and returns a store on it with opts, the
// server, a client to write sessions with, and a recorder of the store's
// commands. Unless opts says otherwise, lookups time out after a second:
// the tests that are not about timing must not fail on a machine made slow
// by the race detector and other tests.
func setup(t *testing.T, opts Options) (*Store, *redistest.Server, *redis.Client, *recorder) {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	srv := redistest.Start(t)
	client, err := NewClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	// A warm connection, so that the first lookup of a test does not
	// time out dialing on a machine busy running the race detector.
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	client.AddHook(rec)
	s, err := NewStore(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, srv, srv.Client(t), rec
}

// hset writes a session hash.
func hset(t *testing.T, c redis.Cmdable, key string, fields ...string) {
	t.Helper()
	args := make([]any, len(fields))
	for i, f := range fields {
		args[i] = f
	}
	if err := c.HSet(context.Background(), key, args...).Err(); err != nil {
		t.Fatalf("HSET %s: %v", key, err)
	}
}

// fields returns all the fields of c, via Fields.
func fields(c *Context) map[string]string {
	m := map[string]string{}
	for k, v := range c.Fields() {
		m[k] = v
	}
	return m
}

func lookup(t *testing.T, s *Store, fs *FieldSet, id string) (*Context, Result) {
	t.Helper()
	c, res, err := s.Lookup(context.Background(), fs, id)
	if err != nil {
		t.Fatalf("Lookup(%s): %v", id, err)
	}
	return c, res
}

func TestLookupFound(t *testing.T) {
	s, srv, rc, rec := setup(t, Options{CacheTTL: time.Minute})
	hset(t, rc, "session:abcdef0123", "customer_id", "C-42", "first_name", "Zoë", "tier", "gold",
		"email", "zoe@example.com", "card_last4", "4242")
	fs := NewFieldSet([]string{"customer_id", "first_name", "tier"})

	c, res := lookup(t, s, fs, "abcdef0123")
	if res != ResultHit {
		t.Fatalf("result = %s, want hit", res)
	}
	want := map[string]string{"customer_id": "C-42", "first_name": "Zoë", "tier": "gold"}
	if got := fields(c); !maps.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
	if v, ok := c.Get("tier"); !ok || v != "gold" {
		t.Errorf(`Get("tier") = %q, %v`, v, ok)
	}
	// Fields outside the set are not fetched, whatever the hash holds.
	for _, f := range []string{"email", "card_last4", "Tier", ""} {
		if v, ok := c.Get(f); ok {
			t.Errorf("Get(%q) = %q, want nothing", f, v)
		}
	}
	if c.Len() != 3 {
		t.Errorf("Len() = %d, want 3", c.Len())
	}
	// Exactly one round trip, asking for exactly the set's fields (and
	// the session's time to live, which also says whether it exists).
	wantCmds := [][]string{
		{"pttl", "session:abcdef0123"},
		{"hmget", "session:abcdef0123", "customer_id", "first_name", "tier"},
	}
	if got := rec.commands(); !slices.EqualFunc(got, wantCmds, slices.Equal) {
		t.Errorf("commands = %v, want %v", got, wantCmds)
	}
	if rec.trips.Load() != 1 {
		t.Errorf("%d round trips, want 1", rec.trips.Load())
	}
	if n := srv.CommandCalls(t, "hmget"); n != 1 {
		t.Errorf("Redis ran HMGET %d times, want 1", n)
	}
}

func TestLookupOrderAndPartialFields(t *testing.T) {
	s, _, rc, _ := setup(t, Options{})
	hset(t, rc, "session:partial-id", "b", "2", "d", "4")
	fs := NewFieldSet([]string{"d", "a", "b", "c"})
	c, res := lookup(t, s, fs, "partial-id")
	if res != ResultHit {
		t.Fatalf("result = %s, want hit", res)
	}
	var order []string
	for k := range c.Fields() {
		order = append(order, k)
	}
	if !slices.Equal(order, []string{"d", "b"}) {
		t.Errorf("Fields order = %v, want [d b] (the set's order, present fields only)", order)
	}
	if _, ok := c.Get("a"); ok {
		t.Error("absent field a reported present")
	}
}

// TestLookupSessionWithoutTheFields checks that a session whose hash has
// none of the fields asked for is found, not missing: the customer is
// logged in, and a backend must not treat them as anonymous.
func TestLookupSessionWithoutTheFields(t *testing.T) {
	s, _, rc, _ := setup(t, Options{})
	hset(t, rc, "session:other-fields", "unrelated", "x")
	c, res := lookup(t, s, NewFieldSet([]string{"customer_id", "tier"}), "other-fields")
	if res != ResultHit || c == nil {
		t.Fatalf("result = %s, context %v; want a hit", res, c)
	}
	if c.Len() != 0 {
		t.Errorf("Len() = %d, want 0", c.Len())
	}
}

func TestLookupEmptyFieldSet(t *testing.T) {
	s, _, rc, rec := setup(t, Options{})
	hset(t, rc, "session:exists-only", "customer_id", "C-1")
	fs := NewFieldSet(nil)
	c, res := lookup(t, s, fs, "exists-only")
	if res != ResultHit || c == nil || c.Len() != 0 {
		t.Errorf("existing session: %s, %v", res, c)
	}
	if c, res := lookup(t, s, fs, "not-there"); res != ResultMiss || c != nil {
		t.Errorf("missing session: %s, %v", res, c)
	}
	for _, cmd := range rec.commands() {
		if cmd[0] != "pttl" {
			t.Errorf("sent %v; an empty set needs PTTL only", cmd)
		}
	}
}

func TestLookupMiss(t *testing.T) {
	s, srv, _, _ := setup(t, Options{CacheTTL: time.Minute})
	fs := NewFieldSet([]string{"customer_id"})
	c, res := lookup(t, s, fs, "no-such-session")
	if res != ResultMiss || c != nil {
		t.Fatalf("result = %s, context %v; want miss, nil", res, c)
	}
	// A nil context is usable: it has no fields.
	if _, ok := c.Get("customer_id"); ok || c.Len() != 0 || len(fields(c)) != 0 {
		t.Error("nil context has fields")
	}
	// Misses are cached too.
	c, res = lookup(t, s, fs, "no-such-session")
	if res != ResultCached || c != nil {
		t.Errorf("second lookup: %s, %v; want cached, nil", res, c)
	}
	if n := srv.CommandCalls(t, "pttl"); n != 1 {
		t.Errorf("Redis ran %d lookups, want 1", n)
	}
}

func TestLookupNoCookieAndInvalidIDs(t *testing.T) {
	s, srv, _, rec := setup(t, Options{CacheTTL: time.Minute})
	fs := NewFieldSet([]string{"customer_id"})
	if c, res, err := s.Lookup(context.Background(), fs, ""); res != ResultNoCookie || c != nil || err != nil {
		t.Errorf("empty id: %s, %v, %v; want no_cookie", res, c, err)
	}
	for _, id := range []string{
		"short",
		strings.Repeat("a", 257),
		"has space1",
		"crlf\r\nX-Injected: 1",
		"percent%20id",
		"{hashtag}x",
		"session*glob",
		"ünïcödé-id",
		"nul\x00byte-id",
		"semicolon;id",
	} {
		if c, res, err := s.Lookup(context.Background(), fs, id); res != ResultMiss || c != nil || err != nil {
			t.Errorf("Lookup(%q) = %s, %v, %v; want miss", id, res, c, err)
		}
	}
	if n := rec.trips.Load(); n != 0 {
		t.Errorf("%d round trips for ids that cannot be sessions, want 0: %v", n, rec.commands())
	}
	if n := srv.CommandCalls(t, "pttl") + srv.CommandCalls(t, "hmget"); n != 0 {
		t.Errorf("Redis saw %d lookups, want 0", n)
	}
}

func TestValidID(t *testing.T) {
	for _, id := range []string{
		"abcdefgh",
		strings.Repeat("Z", 256),
		"3f2a9c1e-7b4d-4e8a-9f0c-2d1b5a6e7c8f",
		"dGhpcyBpcyBhIHNlc3Npb24=",
		"a.b_c~d+e/f=g-h",
		"0123456789",
	} {
		if !ValidID(id) {
			t.Errorf("ValidID(%q) = false", id)
		}
	}
	for _, id := range []string{
		"", "abcdefg", strings.Repeat("Z", 257),
		"abcdefg\x00", "abcdefg\t", "abcdefg ", "abcdefg\n", "abcdefg\x7f",
		"abcdefg%", "abcdefg{", "abcdefg}", "abcdefg*", "abcdefg?", "abcdefg[",
		"abcdefg:", "abcdefg;", "abcdefg,", "abcdefg\"", "abcdefg'", "abcdefg\\",
		"abcdefg\xc3\xa9", "abcdefg\xff",
	} {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
}

func TestDroppedValues(t *testing.T) {
	s, _, rc, _ := setup(t, Options{})
	long := strings.Repeat("x", MaxValueLen)
	good := map[string]string{
		"plain":   "gold",
		"empty":   "",
		"unicode": "Zoë – 東京 🚀",
		"maxlen":  long,
		"symbols": `a"b'c<d>e&f;g=h`,
		"fffd":    "\ufffd",
	}
	bad := map[string]string{
		"cr":          "a\rb",
		"lf":          "a\nX-Frontdoor-Admin: yes",
		"crlf":        "gold\r\nX-Injected: 1",
		"tab":         "a\tb",
		"nul":         "a\x00b",
		"bell":        "a\x07",
		"esc":         "\x1b[31mred",
		"del":         "a\x7f",
		"c1_nel":      "a\u0085b",
		"c1_csi":      "a\u009bb",
		"invalid":     "a\xffb",
		"truncated":   "a\xe6\x9d",
		"overlong":    "\xc0\xaf",
		"surrogate":   "\xed\xa0\x80",
		"too_long":    long + "x",
		"too_long_mb": strings.Repeat("é", MaxValueLen/2) + "x",
	}
	var names, args []string
	for k, v := range good {
		names = append(names, k)
		args = append(args, k, v)
	}
	for k, v := range bad {
		names = append(names, k)
		args = append(args, k, v)
	}
	hset(t, rc, "session:dropped-values", args...)

	c, res := lookup(t, s, NewFieldSet(names), "dropped-values")
	if res != ResultHit {
		t.Fatalf("result = %s, want hit", res)
	}
	if got := fields(c); !maps.Equal(got, good) {
		t.Errorf("fields = %q, want %q", got, good)
	}
	if got := s.DroppedValues(); got != uint64(len(bad)) {
		t.Errorf("DroppedValues() = %d, want %d", got, len(bad))
	}
}

func TestValidValue(t *testing.T) {
	for r := rune(0); r < 0x20; r++ {
		if validValue("a" + string(r)) {
			t.Errorf("control %U accepted", r)
		}
	}
	for r := rune(0x7f); r <= 0x9f; r++ {
		if validValue(string(r)) {
			t.Errorf("control %U accepted", r)
		}
	}
	for _, v := range []string{"", " ", "~", "\u00a0", "\u00ff", "\u2028", "\U0010ffff"} {
		if !validValue(v) {
			t.Errorf("validValue(%q) = false", v)
		}
	}
}

func TestCacheTTL(t *testing.T) {
	s, srv, rc, _ := setup(t, Options{CacheTTL: 2 * time.Second})
	clock := newFakeClock()
	s.now = clock.now
	fs := NewFieldSet([]string{"tier"})
	hset(t, rc, "session:cached-session", "tier", "gold")

	if c, res := lookup(t, s, fs, "cached-session"); res != ResultHit || fields(c)["tier"] != "gold" {
		t.Fatalf("first lookup: %s %v", res, fields(c))
	}
	hset(t, rc, "session:cached-session", "tier", "platinum")
	clock.advance(1999 * time.Millisecond)
	c, res := lookup(t, s, fs, "cached-session")
	if res != ResultCached || fields(c)["tier"] != "gold" {
		t.Errorf("within the TTL: %s %v; want cached gold", res, fields(c))
	}
	if n := srv.CommandCalls(t, "hmget"); n != 1 {
		t.Errorf("Redis ran HMGET %d times within the TTL, want 1", n)
	}
	clock.advance(time.Millisecond)
	c, res = lookup(t, s, fs, "cached-session")
	if res != ResultHit || fields(c)["tier"] != "platinum" {
		t.Errorf("after the TTL: %s %v; want a fresh hit, platinum", res, fields(c))
	}
	if c, res = lookup(t, s, fs, "cached-session"); res != ResultCached || fields(c)["tier"] != "platinum" {
		t.Errorf("after the refresh: %s %v; want cached platinum", res, fields(c))
	}
}

// TestCacheTTLRealClock is TestCacheTTL on the real clock, which the store
// uses in production.
func TestCacheTTLRealClock(t *testing.T) {
	s, _, rc, _ := setup(t, Options{CacheTTL: 150 * time.Millisecond})
	fs := NewFieldSet([]string{"tier"})
	hset(t, rc, "session:real-clock", "tier", "gold")
	if _, res := lookup(t, s, fs, "real-clock"); res != ResultHit {
		t.Fatalf("first lookup: %s", res)
	}
	if _, res := lookup(t, s, fs, "real-clock"); res != ResultCached {
		t.Fatalf("second lookup: %s, want cached", res)
	}
	time.Sleep(200 * time.Millisecond) // time under test: the cache TTL runs out on the real clock
	if _, res := lookup(t, s, fs, "real-clock"); res != ResultHit {
		t.Errorf("after the TTL: %s, want hit", res)
	}
}

func TestNegativeCache(t *testing.T) {
	s, _, rc, _ := setup(t, Options{CacheTTL: 2 * time.Second})
	clock := newFakeClock()
	s.now = clock.now
	fs := NewFieldSet([]string{"tier"})

	if _, res := lookup(t, s, fs, "logs-in-later"); res != ResultMiss {
		t.Fatalf("first lookup: %s, want miss", res)
	}
	hset(t, rc, "session:logs-in-later", "tier", "gold")
	clock.advance(time.Second)
	if c, res := lookup(t, s, fs, "logs-in-later"); res != ResultCached || c != nil {
		t.Errorf("within the TTL: %s %v; want the cached miss", res, c)
	}
	clock.advance(time.Second)
	if c, res := lookup(t, s, fs, "logs-in-later"); res != ResultHit || fields(c)["tier"] != "gold" {
		t.Errorf("after the TTL: %s %v; want hit", res, fields(c))
	}
}

func TestCacheDisabled(t *testing.T) {
	s, srv, rc, _ := setup(t, Options{CacheTTL: 0})
	fs := NewFieldSet([]string{"tier"})
	hset(t, rc, "session:uncached-id", "tier", "gold")
	for range 5 {
		if _, res := lookup(t, s, fs, "uncached-id"); res != ResultHit {
			t.Fatalf("result = %s, want hit every time", res)
		}
	}
	if n := srv.CommandCalls(t, "hmget"); n != 5 {
		t.Errorf("Redis ran HMGET %d times, want 5", n)
	}
	if n := s.cache.len(); n != 0 {
		t.Errorf("cache holds %d entries, want 0", n)
	}
}

// TestCacheKeyedByFieldSet checks that a session looked up through two
// field sets gets each its own fields: one journey's cached context never
// leaks fields to another's backends.
func TestCacheKeyedByFieldSet(t *testing.T) {
	s, _, rc, _ := setup(t, Options{CacheTTL: time.Minute})
	hset(t, rc, "session:two-journeys", "customer_id", "C-7", "tier", "gold")
	support := NewFieldSet([]string{"customer_id", "tier"})
	tracking := NewFieldSet([]string{"customer_id"})
	for range 2 {
		if c, _ := lookup(t, s, support, "two-journeys"); !maps.Equal(fields(c), map[string]string{"customer_id": "C-7", "tier": "gold"}) {
			t.Errorf("support fields = %v", fields(c))
		}
		if c, _ := lookup(t, s, tracking, "two-journeys"); !maps.Equal(fields(c), map[string]string{"customer_id": "C-7"}) {
			t.Errorf("tracking fields = %v", fields(c))
		}
	}
}

func TestCacheBounded(t *testing.T) {
	for _, size := range []int{1, 10, 1000, 5000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			s, _, _, _ := setup(t, Options{CacheTTL: time.Hour, CacheSize: size})
			fs := NewFieldSet([]string{"tier"})
			for i := range 2 * size {
				lookup(t, s, fs, fmt.Sprintf("bounded-%06d", i))
				if n := s.cache.len(); n > size {
					t.Fatalf("after %d lookups the cache holds %d entries, more than %d", i+1, n, size)
				}
			}
			// Recent entries survive: the cache still caches.
			last := fmt.Sprintf("bounded-%06d", 2*size-1)
			if _, res := lookup(t, s, fs, last); res != ResultCached {
				t.Errorf("latest entry: %s, want cached", res)
			}
		})
	}
}

func TestSingleflight(t *testing.T) {
	s, srv, rc, rec := setup(t, Options{CacheTTL: time.Minute, Timeout: 5 * time.Second})
	rec.delay = 200 * time.Millisecond // long enough for all to pile up
	hset(t, rc, "session:popular-session", "tier", "gold")
	fs := NewFieldSet([]string{"tier"})

	const n = 50
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make(chan Result, n)
	)
	for range n {
		wg.Go(func() {
			<-start
			c, res, err := s.Lookup(context.Background(), fs, "popular-session")
			if err != nil || fields(c)["tier"] != "gold" {
				t.Errorf("Lookup: %v, %v", fields(c), err)
			}
			results <- res
		})
	}
	close(start)
	wg.Wait()
	close(results)
	counts := map[Result]int{}
	for r := range results {
		counts[r]++
	}
	if rec.trips.Load() != 1 {
		t.Errorf("%d round trips for %d concurrent lookups, want 1", rec.trips.Load(), n)
	}
	if got := srv.CommandCalls(t, "hmget"); got != 1 {
		t.Errorf("Redis ran HMGET %d times, want 1", got)
	}
	// Those that joined the round trip share its result; latecomers find
	// it cached.
	if counts[ResultHit]+counts[ResultCached] != n || counts[ResultHit] == 0 {
		t.Errorf("results %v; want %d hits or cached, some hits", counts, n)
	}
}

// TestSingleflightWaiterGivesUp checks that a lookup waiting for another's
// round trip stops when its own context is done, and that the round trip
// goes on for the others.
func TestSingleflightWaiterGivesUp(t *testing.T) {
	s, _, rc, rec := setup(t, Options{CacheTTL: time.Minute, Timeout: 5 * time.Second})
	rec.delay = 300 * time.Millisecond
	hset(t, rc, "session:slow-session", "tier", "gold")
	fs := NewFieldSet([]string{"tier"})

	leader := make(chan Result)
	go func() {
		_, res, _ := s.Lookup(context.Background(), fs, "slow-session")
		leader <- res
	}()
	// Wait until the leader's round trip is under way.
	testwait.For(t, 5*time.Second, time.Millisecond, func() error {
		if rec.trips.Load() == 0 {
			return errors.New("the leader's round trip has not started")
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, res, err := s.Lookup(ctx, fs, "slow-session")
	if res != ResultError || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter: %s, %v; want error, deadline exceeded", res, err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("waiter gave up after %s; want about 20ms", d)
	}
	if res := <-leader; res != ResultHit {
		t.Errorf("leader: %s, want hit", res)
	}
}

// TestLeaderCancelled checks that the caller whose lookup goes to Redis
// going away does not fail the lookup (for itself, and for those it
// collapses with).
func TestLeaderCancelled(t *testing.T) {
	s, _, rc, _ := setup(t, Options{})
	hset(t, rc, "session:impatient", "tier", "gold")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, res, err := s.Lookup(ctx, NewFieldSet([]string{"tier"}), "impatient")
	if err != nil || res != ResultHit || fields(c)["tier"] != "gold" {
		t.Errorf("Lookup with a cancelled context: %s, %v, %v; want a hit", res, fields(c), err)
	}
}

func TestWrongType(t *testing.T) {
	s, _, rc, _ := setup(t, Options{})
	if err := rc.Set(context.Background(), "session:string-key", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	hset(t, rc, "session:good-session", "tier", "gold")
	fs := NewFieldSet([]string{"tier"})
	_, res, err := s.Lookup(context.Background(), fs, "string-key")
	if res != ResultError || err == nil || !strings.Contains(err.Error(), "not a hash") {
		t.Errorf("Lookup of a string key: %s, %v; want an error", res, err)
	}
	if strings.Contains(err.Error(), "string-key") {
		t.Errorf("error %q reveals the session id", err)
	}
	// One customer's bad key is not an outage: no backoff for others.
	if _, res := lookup(t, s, fs, "good-session"); res != ResultHit {
		t.Errorf("next lookup: %s, want hit", res)
	}
}

func TestKeyTemplate(t *testing.T) {
	s, _, rc, rec := setup(t, Options{KeyTemplate: "brand:{id}:ctx"})
	hset(t, rc, "brand:templated-id:ctx", "tier", "gold")
	if c, res := lookup(t, s, NewFieldSet([]string{"tier"}), "templated-id"); res != ResultHit || fields(c)["tier"] != "gold" {
		t.Errorf("Lookup: %s %v", res, fields(c))
	}
	if cmds := rec.commands(); len(cmds) == 0 || cmds[0][1] != "brand:templated-id:ctx" {
		t.Errorf("commands = %v", cmds)
	}
}

func TestNewStoreOptions(t *testing.T) {
	client, err := NewClient("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s, err := NewStore(client, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.timeout != DefaultTimeout || s.ttl != 0 || strings.Join(s.keyParts, "{id}") != DefaultKeyTemplate {
		t.Errorf("defaults: timeout %s, ttl %d, key %v", s.timeout, s.ttl, s.keyParts)
	}
	if _, err := NewStore(client, Options{KeyTemplate: "{{id}}:{id}"}); err != nil {
		t.Errorf("template with two {id}: %v", err)
	}
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{KeyTemplate: "session:"}, "must contain {id}"},
		{Options{KeyTemplate: "session:{ID}"}, "must contain {id}"},
		{Options{Timeout: -time.Second}, "must not be negative"},
		{Options{CacheTTL: -time.Second}, "must not be negative"},
		{Options{CacheSize: -1}, "must not be negative"},
	} {
		if _, err := NewStore(client, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewStore(%+v) = %v, want an error containing %q", tc.opts, err, tc.want)
		}
	}
	if _, err := NewStore(nil, Options{}); err == nil {
		t.Error("NewStore(nil) succeeded")
	}
}

// TestOutage stops Redis under a store, then restarts it: the first lookups
// fail within the timeout, the following ones at once, and lookups succeed
// again on their own once Redis is back.
func TestOutage(t *testing.T) {
	const timeout = 50 * time.Millisecond
	s, srv, rc, _ := setup(t, Options{Timeout: timeout, CacheTTL: time.Minute})
	fs := NewFieldSet([]string{"tier"})
	hset(t, rc, "session:cached-before", "tier", "gold")
	if _, res := lookup(t, s, fs, "cached-before"); res != ResultHit {
		t.Fatalf("before the outage: %s", res)
	}

	srv.Stop(t)

	start := time.Now()
	_, res, err := s.Lookup(context.Background(), fs, "first-during-outage")
	elapsed := time.Since(start)
	if res != ResultError || err == nil {
		t.Fatalf("first lookup in the outage: %s, %v; want an error", res, err)
	}
	// Timers fire late on a busy machine: allow some slack.
	if elapsed > 2*timeout {
		t.Errorf("first lookup in the outage took %s; want at most the timeout, %s", elapsed, timeout)
	}
	if strings.Contains(err.Error(), "first-during-outage") {
		t.Errorf("error %q reveals the session id", err)
	}
	t.Logf("first lookup in the outage: %s: %v", elapsed, err)

	start = time.Now()
	unavailable := 0
	for i := range 50 {
		_, res, err := s.Lookup(context.Background(), fs, fmt.Sprintf("during-outage-%d", i))
		if res != ResultError || err == nil {
			t.Errorf("lookup %d in the outage: %s, %v; want an error", i, res, err)
		}
		if errors.Is(err, ErrUnavailable) {
			unavailable++
		}
	}
	elapsed = time.Since(start)
	t.Logf("50 lookups in the outage: %s, %d failed fast", elapsed, unavailable)
	if elapsed >= 3*timeout {
		t.Errorf("50 lookups in the outage took %s; want less than %s", elapsed, 3*timeout)
	}
	if unavailable < 48 {
		t.Errorf("%d of 50 lookups failed fast, want nearly all", unavailable)
	}
	// The cache still answers.
	if _, res := lookup(t, s, fs, "cached-before"); res != ResultCached {
		t.Errorf("cached session in the outage: %s, want cached", res)
	}

	// Lookups go on until the failed probes have grown the backoff to its
	// longest, then Redis comes back.
	testwait.For(t, 5*time.Second, 10*time.Millisecond, func() error {
		s.Lookup(context.Background(), fs, "while-down")
		s.breaker.mu.Lock()
		defer s.breaker.mu.Unlock()
		if b := s.breaker.backoff; b < maxBackoff {
			return fmt.Errorf("breaker backoff %s, want %s", b, maxBackoff)
		}
		return nil
	})
	srv.Restart(t)
	hset(t, rc, "session:after-restart", "tier", "platinum")
	restarted := time.Now()
	testwait.For(t, 6*time.Second, 10*time.Millisecond, func() error {
		c, res, err := s.Lookup(context.Background(), fs, "after-restart")
		if err != nil {
			return fmt.Errorf("lookups still fail after Redis came back: %w", err)
		}
		if res != ResultHit || fields(c)["tier"] != "platinum" {
			t.Errorf("after the restart: %s %v; want hit platinum", res, fields(c))
		}
		return nil
	})
	t.Logf("lookups succeed again %s after Redis came back", time.Since(restarted))
}

// TestHungRedis points a store at a server that accepts connections and
// never answers, like a frozen or blackholed Redis: lookups must fail
// within the timeout, then fast.
func TestHungRedis(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()

	const timeout = 50 * time.Millisecond
	client, err := NewClient("redis://" + l.Addr().String() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s, err := NewStore(client, Options{Timeout: timeout, CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	fs := NewFieldSet([]string{"tier"})

	start := time.Now()
	_, res, err := s.Lookup(context.Background(), fs, "hung-redis-1")
	elapsed := time.Since(start)
	if res != ResultError || err == nil {
		t.Fatalf("lookup: %s, %v; want an error", res, err)
	}
	// Timers fire late on a busy machine: allow some slack.
	if elapsed < timeout-5*time.Millisecond || elapsed > 2*timeout {
		t.Errorf("lookup failed after %s; want the timeout, %s", elapsed, timeout)
	}
	t.Logf("first lookup: %s: %v", elapsed, err)

	start = time.Now()
	for i := range 50 {
		if _, res, _ := s.Lookup(context.Background(), fs, fmt.Sprintf("hung-redis-x%d", i)); res != ResultError {
			t.Errorf("lookup %d: %s, want error", i, res)
		}
	}
	if elapsed := time.Since(start); elapsed >= 3*timeout {
		t.Errorf("50 lookups took %s; want less than %s", elapsed, 3*timeout)
	} else {
		t.Logf("50 more lookups: %s", elapsed)
	}
}

// TestConcurrentOutage hammers a store from many goroutines while Redis is
// down: few lookups reach the Redis client, the rest fail at once.
func TestConcurrentOutage(t *testing.T) {
	const timeout = 50 * time.Millisecond
	s, srv, _, rec := setup(t, Options{Timeout: timeout, CacheTTL: time.Minute})
	fs := NewFieldSet([]string{"tier"})
	srv.Stop(t)

	const goroutines = 16
	var total atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(1200 * time.Millisecond)
	for g := range goroutines {
		wg.Go(func() {
			for i := 0; time.Now().Before(stop); i++ {
				s.Lookup(context.Background(), fs, fmt.Sprintf("concurrent-%d-%d", g, i))
				total.Add(1)
				time.Sleep(time.Millisecond) // pacing the lookups
			}
		})
	}
	wg.Wait()
	// Those under way when the breaker opened, at most one per
	// goroutine, then one probe at once and one per window: 25ms,
	// 50ms, 100ms, 200ms, then 250ms.
	trips := rec.trips.Load()
	t.Logf("%d lookups, %d reached the Redis client", total.Load(), trips)
	if trips > goroutines+10 {
		t.Errorf("%d of %d lookups reached the Redis client; want at most %d", trips, total.Load(), goroutines+10)
	}
}

func TestCluster(t *testing.T) {
	ctx := context.Background()
	cl := redistest.StartCluster(t, 3)
	client, err := NewClient(cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, ok := client.(*redis.ClusterClient); !ok {
		t.Fatalf("NewClient(%s) = %T, want a cluster client", cl.URL(), client)
	}
	// A generous timeout: the first lookup loads the slot map, and this test is about the URL
	// form, not timing.
	s, err := NewStore(client, Options{CacheTTL: time.Minute, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	admin := cl.Client(t)
	const n = 30
	for i := range n {
		if err := admin.HSet(ctx, fmt.Sprintf("session:cluster-%04d", i), "customer_id", fmt.Sprint("C-", i), "secret", "x").Err(); err != nil {
			t.Fatal(err)
		}
	}
	fs := NewFieldSet([]string{"customer_id"})
	for i := range n {
		c, res := lookup(t, s, fs, fmt.Sprintf("cluster-%04d", i))
		if res != ResultHit || fields(c)["customer_id"] != fmt.Sprint("C-", i) || c.Len() != 1 {
			t.Errorf("session %d: %s %v", i, res, fields(c))
		}
	}
	if _, res := lookup(t, s, fs, "cluster-missing"); res != ResultMiss {
		t.Errorf("missing session: %s, want miss", res)
	}
	// The keys are spread over the masters, each lookup one HMGET on the
	// master owning its key (the missing session's included).
	if got := cl.CommandCalls(t, "hmget"); got != n+1 {
		t.Errorf("the cluster ran HMGET %d times, want %d", got, n+1)
	}
	for _, srv := range cl.Servers {
		if srv.CommandCalls(t, "hmget") == 0 {
			t.Errorf("master %s served no lookup", srv.Addr)
		}
	}
}

func TestSentinel(t *testing.T) {
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, master, "mymaster")
	client, err := NewClient(sentinel.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// A generous timeout: the first lookup asks the Sentinel for the master, and this test is about the URL
	// form, not timing.
	s, err := NewStore(client, Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hset(t, master.Client(t), "session:via-sentinel", "tier", "gold")
	c, res := lookup(t, s, NewFieldSet([]string{"tier"}), "via-sentinel")
	if res != ResultHit || fields(c)["tier"] != "gold" {
		t.Errorf("Lookup: %s %v", res, fields(c))
	}
	if master.CommandCalls(t, "hmget") != 1 {
		t.Error("the lookup did not reach the master")
	}
}

// TestLookupReadsOneServerWhenReadsSpread: with reads spread over the
// master and its replicas (route_randomly), go-redis sends each command of
// a pipeline to a server of its own choosing, so a lookup's PTTL and HMGET
// could be answered by two servers that disagree: a replica that no
// longer has a session and a master that still has it made the session
// found without its fields (PTTL from the master, HMGET from the
// replica). A lookup reads both from one server.
func TestLookupReadsOneServerWhenReadsSpread(t *testing.T) {
	ctx := context.Background()
	master := redistest.Start(t)
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", fmt.Sprint(master.Port), "--replica-read-only", "no",
		"--repl-diskless-sync-delay", "0")
	hset(t, master.Client(t), "session:spread-reads", "tier", "gold")
	testwait.For(t, 10*time.Second, 10*time.Millisecond, func() error {
		if v := replica.Client(t).HGet(ctx, "session:spread-reads", "tier").Val(); v != "gold" {
			return fmt.Errorf("the replica has tier %q, want gold", v)
		}
		return nil
	})
	sentinel := redistest.StartSentinel(t, master, "mymaster")
	client, err := NewClient(sentinel.URL() + "&route_randomly=true")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// Wait until the client spreads reads over both servers: the Sentinel
	// has found the replica and the client, asking it again (ForEachSlave
	// reloads what the client knows), has too.
	testwait.For(t, 20*time.Second, 20*time.Millisecond, func() error {
		replicas := 0
		client.(*redis.ClusterClient).ForEachSlave(ctx, func(context.Context, *redis.Client) error { //nolint:errcheck // counted
			replicas++
			return nil
		})
		client.Exists(ctx, "probe:replica") //nolint:errcheck // counted below
		if replicas == 0 || replica.CommandCalls(t, "exists") == 0 {
			return fmt.Errorf("the client knows %d replicas, and no read reached the replica yet", replicas)
		}
		return nil
	})
	// The replica falls behind the master in the worst way: it no longer
	// has the session (a logout it has not yet seen would be the reverse).
	if err := replica.Client(t).Del(ctx, "session:spread-reads").Err(); err != nil {
		t.Fatal(err)
	}
	master.ResetStats(t)
	replica.ResetStats(t)

	s, err := NewStore(client, Options{Timeout: 2 * time.Second}) // no cache: every lookup reads
	if err != nil {
		t.Fatal(err)
	}
	fs := NewFieldSet([]string{"tier"})
	const n = 40
	for range n {
		c, res, err := s.Lookup(ctx, fs, "spread-reads")
		if err != nil {
			t.Fatal(err)
		}
		if res == ResultHit && fields(c)["tier"] != "gold" {
			t.Fatalf("a lookup found the session without its tier (%v): its PTTL and HMGET were answered by different servers", fields(c))
		}
	}
	for _, srv := range []*redistest.Server{master, replica} {
		if pttl, hmget := srv.CommandCalls(t, "pttl"), srv.CommandCalls(t, "hmget"); pttl != hmget {
			t.Errorf("%s answered %d PTTL and %d HMGET of %d lookups, want as many of each", srv.Addr, pttl, hmget, n)
		}
	}
}

// TestSpreadsReads: the clients that pick a server for each read of a
// pipeline are those of the URLs that spread reads over replicas.
func TestSpreadsReads(t *testing.T) {
	for url, want := range map[string]bool{
		"redis://127.0.0.1:1/0":                                              false,
		"redis-sentinel://127.0.0.1:1/0?master_name=m":                       false,
		"redis-sentinel://127.0.0.1:1/0?master_name=m&replica_only=true":     false, // one replica per connection
		"redis-sentinel://127.0.0.1:1/0?master_name=m&route_randomly=true":   true,
		"redis-sentinel://127.0.0.1:1/0?master_name=m&route_by_latency=true": true,
		"redis-cluster://127.0.0.1:1,127.0.0.1:2":                            false,
		"redis-cluster://127.0.0.1:1,127.0.0.1:2?read_only=true":             true,
		"redis-cluster://127.0.0.1:1,127.0.0.1:2?route_randomly=true":        true,
	} {
		c, err := NewClient(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if got := spreadsReads(c); got != want {
			t.Errorf("%s (%T): spreadsReads = %v, want %v", url, c, got, want)
		}
		c.Close()
	}
}

func TestTLS(t *testing.T) {
	srv := redistest.StartTLS(t)
	client, err := NewClient(srv.URL() + "?skip_verify=true")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// A generous timeout: the first lookup waits for a TLS handshake, and this test is about the URL
	// form, not timing.
	s, err := NewStore(client, Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hset(t, srv.Client(t), "session:over-tls-id", "tier", "gold")
	if c, res := lookup(t, s, NewFieldSet([]string{"tier"}), "over-tls-id"); res != ResultHit || fields(c)["tier"] != "gold" {
		t.Errorf("Lookup: %s %v", res, fields(c))
	}
}

func TestErrorReason(t *testing.T) {
	cases := map[string]error{
		ReasonBreakerOpen: fmt.Errorf("looking up session context: %w", ErrUnavailable),
		ReasonWrongType:   errNotHash,
		ReasonTimeout:     fmt.Errorf("x: %w", context.DeadlineExceeded),
		ReasonCanceled:    fmt.Errorf("x: %w", context.Canceled),
		ReasonRedis:       errors.New("ERR something"),
	}
	for want, err := range cases {
		if got := ErrorReason(err); got != want {
			t.Errorf("ErrorReason(%v) = %q, want %q", err, got, want)
		}
	}
	// A dial or read that timed out, as net reports it.
	if got := ErrorReason(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}); got != ReasonTimeout {
		t.Errorf("net timeout: %q", got)
	}
}

// TestForgetSeesTheWriteAtOnce: a writer that forgets a session's cached
// context gets its own write on the next lookup, within the cache's TTL.
func TestForgetSeesTheWriteAtOnce(t *testing.T) {
	s, _, rc, _ := setup(t, Options{CacheTTL: time.Hour})
	fs := NewFieldSet([]string{"tier"})
	other := NewFieldSet([]string{"tier"})
	hset(t, rc, "session:forget-me", "tier", "gold")
	lookup(t, s, fs, "forget-me")
	lookup(t, s, other, "forget-me")
	hset(t, rc, "session:forget-me", "tier", "platinum")
	if c, res := lookup(t, s, fs, "forget-me"); res != ResultCached || fields(c)["tier"] != "gold" {
		t.Fatalf("before Forget: %s %v, want cached gold", res, fields(c))
	}
	s.Forget(fs, "forget-me")
	if c, res := lookup(t, s, fs, "forget-me"); res != ResultHit || fields(c)["tier"] != "platinum" {
		t.Errorf("after Forget: %s %v, want a fresh platinum", res, fields(c))
	}
	if c, res := lookup(t, s, fs, "forget-me"); res != ResultCached || fields(c)["tier"] != "platinum" {
		t.Errorf("the fresh read is cached again: %s %v", res, fields(c))
	}
	if _, res := lookup(t, s, other, "forget-me"); res != ResultCached {
		t.Errorf("Forget dropped another field set's entry: %s", res)
	}
}
