package session

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

// trackedStore is a Store on a real standalone Redis under tracking, with
// a TTL far longer than any test: only Redis's invalidations refresh it.
func trackedStore(t *testing.T, url string) (*Store, *Tracker) {
	return trackedStoreWith(t, url, time.Second)
}

// trackedStoreWith is trackedStore with the given lookup timeout.
func trackedStoreWith(t *testing.T, url string, timeout time.Duration) (*Store, *Tracker) {
	t.Helper()
	tracker := NewTracker()
	client, err := NewClientWithOptions(url, ClientOptions{Tracker: tracker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); tracker.Close() })
	s, err := NewStore(client, Options{Timeout: timeout, CacheTTL: time.Hour, Tracker: tracker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, tracker
}

// redisInfo returns the value of one field of Redis's INFO.
func redisInfo(t *testing.T, rdb *redis.Client, section, field string) string {
	t.Helper()
	info, err := rdb.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// within looks up id until check accepts the context, for at most d.
func within(t *testing.T, d time.Duration, s *Store, fs *FieldSet, id string, check func(*Context) error) {
	t.Helper()
	testwait.For(t, d, time.Millisecond, func() error {
		c, _, err := s.Lookup(context.Background(), fs, id)
		if err != nil {
			return err
		}
		return check(c)
	})
}

func TestTrackedContextFollowsRedis(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	ctx := context.Background()
	const id = "sess-tracked-0001"
	if err := rdb.HSet(ctx, "session:"+id, "customer_id", "C-1", "tier", "gold").Err(); err != nil {
		t.Fatal(err)
	}
	s, _ := trackedStore(t, rs.URL())
	if !s.Tracking() {
		t.Fatal("a standalone Redis on database 0 is not tracked")
	}
	fs := NewFieldSet([]string{"customer_id", "tier"})
	wide := NewFieldSet([]string{"tier", "first_name"})
	for _, f := range []*FieldSet{fs, wide} {
		if c, res, err := s.Lookup(ctx, f, id); err != nil || res != ResultHit || c.Len() == 0 {
			t.Fatalf("first lookup: %v %v %v", c, res, err)
		}
		// A read while a pooled connection is being set up is not kept
		// (its tracking may not cover it): the next one is.
		deadline := time.Now().Add(time.Second)
		for {
			_, res, _ := s.Lookup(ctx, f, id)
			if res == ResultCached {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("never answered from memory: %v", res)
			}
		}
	}
	tier := func(want string) func(*Context) error {
		return func(c *Context) error {
			if got, _ := c.Get("tier"); got != want || c == nil {
				return fmt.Errorf("tier %q, want %q", got, want)
			}
			return nil
		}
	}
	if err := rdb.HSet(ctx, "session:"+id, "tier", "platinum").Err(); err != nil {
		t.Fatal(err)
	}
	within(t, 100*time.Millisecond, s, fs, id, tier("platinum"))
	within(t, 100*time.Millisecond, s, wide, id, tier("platinum")) // every field set of the session
	if _, res, _ := s.Lookup(ctx, fs, id); res != ResultCached {
		t.Errorf("after the change: %v, want cached again", res)
	}

	if err := rdb.Del(ctx, "session:"+id).Err(); err != nil {
		t.Fatal(err)
	}
	within(t, 100*time.Millisecond, s, fs, id, func(c *Context) error {
		if c != nil {
			return fmt.Errorf("the session was deleted, still found %v", c)
		}
		return nil
	})
	// A cached miss is kept for UntrackedAge only: a login shows at
	// once.
	if err := rdb.HSet(ctx, "session:"+id, "tier", "silver").Err(); err != nil {
		t.Fatal(err)
	}
	within(t, 100*time.Millisecond, s, fs, id, tier("silver"))

	// Losing the connection that read them drops the contexts (its
	// invalidations could be lost); FLUSHALL too.
	if err := rdb.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	within(t, 100*time.Millisecond, s, fs, id, func(c *Context) error {
		if c != nil {
			return fmt.Errorf("flushed, still found %v", c)
		}
		return nil
	})
}

// TestTrackingOnlyWhereRedisCan: Sentinel, Cluster, another database and
// RESP2 keep the TTL cache.
func TestTrackingOnlyWhereRedisCan(t *testing.T) {
	for url, want := range map[string]bool{
		"redis://127.0.0.1:1/0":                        true,
		"unix:///run/redis.sock":                       true,
		"redis://127.0.0.1:1/2":                        false,
		"redis://127.0.0.1:1/0?protocol=2":             false,
		"redis-sentinel://127.0.0.1:1/0?master_name=m": false,
		"redis-cluster://127.0.0.1:1,127.0.0.1:2":      false,
	} {
		tracker := NewTracker()
		client, err := NewClientWithOptions(url, ClientOptions{Tracker: tracker, MinIdleConns: -1})
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		s, err := NewStore(client, Options{CacheTTL: time.Second, Tracker: tracker})
		if err != nil {
			t.Fatal(err)
		}
		if s.Tracking() != want {
			t.Errorf("%s: tracking %v, want %v", url, s.Tracking(), want)
		}
		s.Close()
		client.Close()
		tracker.Close()
	}
}

// A tracked lookup reads the fields its journeys may see, as an untracked
// one does, not the whole session: the rest (a cart kept in the session,
// say) never leaves Redis, and a big session costs no more than a small
// one.
func TestTrackedLookupReadsOnlyItsFields(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	ctx := context.Background()
	const id = "sess-bigcart-0001"
	if err := rdb.HSet(ctx, "session:"+id, "customer_id", "C-1", "cart", strings.Repeat("sku|", 1<<16)).Err(); err != nil {
		t.Fatal(err)
	}
	s, _ := trackedStore(t, rs.URL())
	fs := NewFieldSet([]string{"customer_id"})
	testwait.For(t, time.Second, time.Millisecond, func() error {
		c, res, err := s.Lookup(ctx, fs, id)
		if v, _ := c.Get("customer_id"); err != nil || v != "C-1" || res != ResultCached {
			return fmt.Errorf("lookup: %q %v %v, want C-1 from memory", v, res, err)
		}
		return nil
	})
	if stats := redisInfo(t, rdb, "commandstats", "cmdstat_hgetall"); stats != "" {
		t.Errorf("the tracked store read whole sessions: %s", stats)
	}
}

// Redis reports a session's expiry only when it gets to the key, which in
// a large keyspace can be long after (here never: active expiry is off).
// The store does not serve a session past the expiry it read.
func TestTrackedSessionEndsWhenItExpires(t *testing.T) {
	rs := redistest.Start(t, "--enable-debug-command", "local")
	rdb := rs.Client(t)
	ctx := context.Background()
	if err := rdb.Do(ctx, "DEBUG", "SET-ACTIVE-EXPIRE", "0").Err(); err != nil {
		t.Fatal(err)
	}
	const id = "sess-expiring-0001"
	key := "session:" + id
	if err := rdb.HSet(ctx, key, "customer_id", "C-1").Err(); err != nil {
		t.Fatal(err)
	}
	const life = 400 * time.Millisecond
	expires := time.Now().Add(life)
	if err := rdb.PExpire(ctx, key, life).Err(); err != nil {
		t.Fatal(err)
	}
	s, _ := trackedStore(t, rs.URL())
	fs := NewFieldSet([]string{"customer_id"})
	testwait.For(t, 200*time.Millisecond, time.Millisecond, func() error {
		if _, res, err := s.Lookup(ctx, fs, id); res != ResultCached {
			return fmt.Errorf("lookup: %v %v, want an answer from memory", res, err)
		}
		return nil
	})
	testwait.For(t, time.Until(expires)+100*time.Millisecond, 5*time.Millisecond, func() error {
		if c, res, err := s.Lookup(ctx, fs, id); c != nil || err != nil {
			return fmt.Errorf("%s after the session expired: %v %v %v", time.Since(expires).Round(time.Millisecond), c, res, err)
		}
		return nil
	})
	if time.Now().Before(expires) {
		t.Errorf("the session ended %s before it expired", time.Until(expires))
	}
}

// A lookup of a session id that is none (a made-up cookie) leaves nothing
// in Redis's tracking table: otherwise anyone could fill Redis's memory,
// and evict the real sessions, with cookies.
func TestUnknownSessionsAreNotTracked(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	ctx := context.Background()
	const id = "sess-real-0001"
	if err := rdb.HSet(ctx, "session:"+id, "customer_id", "C-1").Err(); err != nil {
		t.Fatal(err)
	}
	s, _ := trackedStore(t, rs.URL())
	fs := NewFieldSet([]string{"customer_id"})
	testwait.For(t, time.Second, time.Millisecond, func() error {
		if _, res, err := s.Lookup(ctx, fs, id); res != ResultCached {
			return fmt.Errorf("lookup: %v %v, want an answer from memory", res, err)
		}
		return nil
	})
	for i := range 1000 {
		if c, _, err := s.Lookup(ctx, fs, fmt.Sprintf("sess-made-up-%06d", i)); c != nil || err != nil {
			t.Fatalf("made-up session %d: %v %v", i, c, err)
		}
	}
	if n := redisInfo(t, rdb, "stats", "tracking_total_keys"); n != "1" {
		t.Errorf("Redis tracks %s keys after 1000 made-up session ids, want 1 (the real session)", n)
	}
}

// A tracked re-read that Redis answers late must not cost the other
// customers their contexts. On a gateway whose CPU is saturated the
// re-reads of a burst of new customers queued for the Tracker's few
// connections with the lookup's 50 ms timeout; one that timed out
// mid-reply closed its connection, and a closed tracked connection drops
// every tracked context, so the next lookups all went to Redis and
// started more re-reads: the cache collapsed under load (the bench's many
// customers row at 0.57× bare Caddy).
func TestLateTrackedReadsKeepOtherContexts(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	proxy := rs.Proxy(t)
	ctx := context.Background()
	const customers = 40
	for i := range customers + 1 {
		if err := rdb.HSet(ctx, fmt.Sprintf("session:sess-%03d", i), "customer_id", fmt.Sprintf("C-%d", i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := trackedStoreWith(t, proxy.URL(), 50*time.Millisecond)
	fs := NewFieldSet([]string{"customer_id"})

	// The first customer's context is tracked: it is served from memory
	// until Redis reports a change.
	if c, _, err := s.Lookup(ctx, fs, "sess-000"); c == nil || err != nil {
		t.Fatalf("first customer: %v %v", c, err)
	}
	reReadsEnd(t, s)

	// Replies on tracked connections now come 80 ms late (the lookups'
	// own connections answer at once), and a burst of new customers comes.
	proxy.DelayTrackedReplies(80 * time.Millisecond)
	for i := 1; i <= customers; i++ {
		if c, _, err := s.Lookup(ctx, fs, fmt.Sprintf("sess-%03d", i)); c == nil || err != nil {
			t.Fatalf("customer %d: %v %v", i, c, err)
		}
	}
	reReadsEnd(t, s)
	if _, res, err := s.Lookup(ctx, fs, "sess-000"); res != ResultCached {
		t.Errorf("first customer after the burst's late re-reads: %v %v, want an answer from memory", res, err)
	}
}

// reReadsEnd waits for the tracked re-reads a Store has started to end.
func reReadsEnd(t *testing.T, s *Store) {
	t.Helper()
	done := make(chan struct{})
	go func() { s.tracking.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the tracked re-reads did not end within 10s")
	}
}

// A session found while every re-read under tracking was taken is not
// tracked, so Redis will not report its change: its context is kept for
// UntrackedAge only, not for the TTL.
func TestUntrackedContextIsKeptBriefly(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	ctx := context.Background()
	const id = "sess-000"
	if err := rdb.HSet(ctx, "session:"+id, "tier", "silver").Err(); err != nil {
		t.Fatal(err)
	}
	s, tracker := trackedStore(t, rs.URL())
	fs := NewFieldSet([]string{"tier"})

	// Every connection of the Tracker is taken by a re-read (of other
	// customers, on a busy gateway) when the customer's lookup finds
	// their session.
	for range trackedPoolSize {
		tracker.slots <- struct{}{}
	}
	t.Cleanup(func() {
		for range trackedPoolSize {
			<-tracker.slots
		}
	})
	if c, _, err := s.Lookup(ctx, fs, id); c == nil || err != nil {
		t.Fatalf("lookup: %v %v", c, err)
	}
	if err := rdb.HSet(ctx, "session:"+id, "tier", "gold").Err(); err != nil {
		t.Fatal(err)
	}
	within(t, 10*UntrackedAge, s, fs, id, func(c *Context) error {
		if v, _ := c.Get("tier"); v != "gold" {
			return fmt.Errorf("tier %q, want the new gold", v)
		}
		return nil
	})
}
