package session

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// cachedStore returns a store whose cache holds n sessions, and their ids.
func cachedStore(tb testing.TB, n int) (*Store, *FieldSet, []string) {
	tb.Helper()
	srv := redistest.Start(tb)
	client, err := NewClient(srv.URL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close() })
	s, err := NewStore(client, Options{CacheTTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	admin := srv.Client(tb)
	fs := NewFieldSet([]string{"customer_id", "first_name", "tier"})
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c2Vzc2lvbi1pZC1mb3ItYmVuY2htYXJr-%08d", i)
		if i%2 == 0 { // half the sessions exist, half are cached misses
			admin.HSet(ctx, "session:"+ids[i], "customer_id", fmt.Sprint("C-", i), "first_name", "Ann", "tier", "gold")
		}
		if _, _, err := s.Lookup(ctx, fs, ids[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return s, fs, ids
}

func TestLookupCachedNoAllocs(t *testing.T) {
	s, fs, ids := cachedStore(t, 16)
	ctx := context.Background()
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		_, res, _ := s.Lookup(ctx, fs, ids[i%len(ids)])
		if res != ResultCached {
			t.Fatalf("result %s, want cached", res)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per cached lookup, want 0", allocs)
	}
}

func BenchmarkLookupCached(b *testing.B) {
	s, fs, ids := cachedStore(b, 10_000)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, res, _ := s.Lookup(ctx, fs, ids[i%len(ids)]); res != ResultCached {
			b.Fatalf("result %s, want cached", res)
		}
		i++
	}
}

func BenchmarkLookupCachedParallel(b *testing.B) {
	s, fs, ids := cachedStore(b, 10_000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, res, _ := s.Lookup(ctx, fs, ids[i%len(ids)]); res != ResultCached {
				b.Errorf("result %s, want cached", res)
				return
			}
			i += 7
		}
	})
}

// BenchmarkLookupCachedParallelOneSession is the worst case of the
// sharding: every lookup on the same entry, hence the same shard lock.
func BenchmarkLookupCachedParallelOneSession(b *testing.B) {
	s, fs, ids := cachedStore(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Lookup(ctx, fs, ids[0])
		}
	})
}

func redisStore(b *testing.B) (*Store, *FieldSet) {
	b.Helper()
	srv := redistest.Start(b)
	client, err := NewClient(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	s, err := NewStore(client, Options{CacheTTL: 0})
	if err != nil {
		b.Fatal(err)
	}
	srv.Client(b).HSet(context.Background(), "session:benchmark-session", "customer_id", "C-1", "first_name", "Ann", "tier", "gold")
	return s, NewFieldSet([]string{"customer_id", "first_name", "tier"})
}

// BenchmarkLookupRedis measures a lookup that goes to Redis (caching off):
// one pipelined EXISTS and HMGET over loopback.
func BenchmarkLookupRedis(b *testing.B) {
	s, fs := redisStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, res, err := s.Lookup(ctx, fs, "benchmark-session"); res != ResultHit {
			b.Fatalf("result %s, %v; want hit", res, err)
		}
	}
}

// BenchmarkLookupRedisParallel runs lookups of distinct sessions from
// concurrent goroutines (so none collapse): the throughput of the pool.
func BenchmarkLookupRedisParallel(b *testing.B) {
	s, fs := redisStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprintf("benchmark-%p", pb)
		for pb.Next() {
			if _, res, err := s.Lookup(ctx, fs, id); res != ResultMiss {
				b.Errorf("result %s, %v; want miss", res, err)
				return
			}
		}
	})
}

func BenchmarkValidID(b *testing.B) {
	id := "c2Vzc2lvbi1pZC1mb3ItYmVuY2htYXJr-00000042"
	for b.Loop() {
		if !ValidID(id) {
			b.Fatal("invalid")
		}
	}
}
