package session

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

// trackedStore is a Store on a real standalone Redis under tracking, with
// a TTL far longer than any test: only Redis's invalidations refresh it.
func trackedStore(t *testing.T, url string) (*Store, *Tracker) {
	t.Helper()
	tracker := NewTracker()
	client, err := NewClientWithOptions(url, ClientOptions{Tracker: tracker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	s, err := NewStore(client, Options{Timeout: time.Second, CacheTTL: time.Hour, Tracker: tracker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, tracker
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
	// A cached miss is tracked too: a login shows at once.
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
	}
}
