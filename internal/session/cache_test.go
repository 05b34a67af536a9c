package session

import (
	"fmt"
	"testing"
	"time"
)

func TestCacheGeometry(t *testing.T) {
	for _, tc := range []struct{ size, shards int }{
		{1, 1}, {100, 1}, {128, 2}, {1000, 8}, {DefaultCacheSize, maxShards}, {10_000_000, maxShards},
	} {
		c := newCache(tc.size)
		if len(c.shards) != tc.shards {
			t.Errorf("size %d: %d shards, want %d", tc.size, len(c.shards), tc.shards)
		}
		total := 0
		for i := range c.shards {
			total += c.shards[i].capacity
		}
		if total != tc.size {
			t.Errorf("size %d: capacities add up to %d", tc.size, total)
		}
	}
}

func TestCacheEvictsExpiredFirst(t *testing.T) {
	c := newCache(4)
	s := &c.shards[0]
	fs := NewFieldSet(nil)
	now := int64(time.Hour)
	for i := range 4 {
		expires := now + int64(time.Minute)
		if i == 2 {
			expires = now - 1 // already expired
		}
		s.putLocked(uint64(i), entry{fs: fs, id: fmt.Sprint(i), expires: expires}, now)
	}
	s.putLocked(99, entry{fs: fs, id: "new", expires: now + int64(time.Minute)}, now)
	if len(s.entries) > 4 {
		t.Fatalf("%d entries, capacity 4", len(s.entries))
	}
	if _, ok := s.entries[2]; ok {
		t.Error("the expired entry survived; a live one was evicted instead")
	}
	if _, ok := s.get(99, fs, "new", now); !ok {
		t.Error("new entry missing")
	}
}

func TestCacheEvictsSoonestExpiring(t *testing.T) {
	c := newCache(evictSample) // the sample covers the whole shard
	s := &c.shards[0]
	fs := NewFieldSet(nil)
	now := int64(time.Hour)
	for i := range evictSample {
		s.putLocked(uint64(i), entry{fs: fs, id: fmt.Sprint(i), expires: now + int64(i+1)*int64(time.Second)}, now)
	}
	s.putLocked(99, entry{fs: fs, id: "new", expires: now + int64(time.Minute)}, now)
	if _, ok := s.entries[0]; ok {
		t.Error("the entry expiring first survived")
	}
	if len(s.entries) != evictSample {
		t.Errorf("%d entries, want %d", len(s.entries), evictSample)
	}
}

// TestCacheCollision checks that two keys with the same hash do not see
// each other's entries.
func TestCacheCollision(t *testing.T) {
	c := newCache(10)
	s := &c.shards[0]
	fs, other := NewFieldSet(nil), NewFieldSet(nil)
	now := int64(time.Hour)
	ctx := &Context{fs: fs}
	s.putLocked(7, entry{fs: fs, id: "session-a", ctx: ctx, expires: now + 1}, now)
	if got, ok := s.get(7, fs, "session-a", now); !ok || got != ctx {
		t.Error("entry not found under its own key")
	}
	if _, ok := s.get(7, fs, "session-b", now); ok {
		t.Error("entry found under another id with the same hash")
	}
	if _, ok := s.get(7, other, "session-a", now); ok {
		t.Error("entry found under another field set with the same hash")
	}
	if _, ok := s.get(7, fs, "session-a", now+1); ok {
		t.Error("expired entry found")
	}
}

func TestCacheHashSpreads(t *testing.T) {
	c := newCache(DefaultCacheSize)
	fs := NewFieldSet(nil)
	counts := make([]int, len(c.shards))
	const n = 64_000
	for i := range n {
		counts[c.hash(fs, fmt.Sprintf("session-%08d", i))&c.mask]++
	}
	for i, got := range counts {
		// Expect 1000 per shard; a good hash stays well within 20%.
		if got < 800 || got > 1200 {
			t.Errorf("shard %d got %d of %d keys", i, got, n)
		}
	}
	if c.hash(fs, "same-session") == c.hash(NewFieldSet(nil), "same-session") {
		t.Error("two field sets hash an id alike")
	}
}
