package handoff

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

const origin = "help.shop.localhost"

func newStore(t *testing.T) (*Store, *redistest.Server) {
	rs := redistest.Start(t)
	return NewStore(rs.Client(t), ""), rs
}

func TestCodeIsSingleUseAndBoundToStateAndOrigin(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	state := NewSecret()

	code, err := s.Mint(ctx, state, origin, "brand-sid-A")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Redeem(ctx, code, state, origin)
	if err != nil || got != "brand-sid-A" {
		t.Fatalf("redeem = %q, %v; want the brand session", got, err)
	}
	if _, err := s.Redeem(ctx, code, state, origin); !errors.Is(err, ErrRefused) {
		t.Errorf("a replayed code was accepted: %v", err)
	}

	// Another state: refused, and the code is burnt for its own state too.
	code, _ = s.Mint(ctx, state, origin, "brand-sid-A")
	if _, err := s.Redeem(ctx, code, NewSecret(), origin); !errors.Is(err, ErrRefused) {
		t.Errorf("a code presented with another state was accepted: %v", err)
	}
	if _, err := s.Redeem(ctx, code, state, origin); !errors.Is(err, ErrRefused) {
		t.Errorf("a code presented once with a wrong state could still be redeemed: %v", err)
	}

	// Another origin: refused.
	code, _ = s.Mint(ctx, state, origin, "brand-sid-A")
	if _, err := s.Redeem(ctx, code, state, "other.shop.localhost"); !errors.Is(err, ErrRefused) {
		t.Errorf("a code minted for one origin was accepted on another: %v", err)
	}

	// Malformed input never reaches Redis as a key.
	for _, bad := range []string{"", "x", strings.Repeat("a", 44), "../../etc/passwd"} {
		if _, err := s.Redeem(ctx, bad, state, origin); !errors.Is(err, ErrRefused) {
			t.Errorf("Redeem(%q) = %v", bad, err)
		}
	}
}

func TestCodeExpires(t *testing.T) {
	s, rs := newStore(t)
	ctx := context.Background()
	client := rs.Client(t)
	state := NewSecret()
	code, err := s.Mint(ctx, state, origin, "brand-sid-A")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := client.Keys(ctx, DefaultPrefix+"code:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("code keys: %v, %v", keys, err)
	}
	if strings.Contains(keys[0], code) {
		t.Error("the code itself is in the Redis key")
	}
	ttl := client.PTTL(ctx, keys[0]).Val()
	if ttl <= 0 || ttl > CodeTTL {
		t.Errorf("code TTL %v, want at most %v", ttl, CodeTTL)
	}
	// Let Redis expire it now rather than wait out CodeTTL.
	client.PExpire(ctx, keys[0], time.Millisecond)
	testwait.For(t, 5*time.Second, 5*time.Millisecond, func() error {
		if client.Exists(ctx, keys[0]).Val() == 1 {
			return errors.New("redis did not expire the code")
		}
		return nil
	})
	if _, err := s.Redeem(ctx, code, state, origin); !errors.Is(err, ErrRefused) {
		t.Errorf("an expired code was accepted: %v", err)
	}
}

func TestOriginSessionResolvesToBrandSession(t *testing.T) {
	s, rs := newStore(t)
	ctx := context.Background()
	client := rs.Client(t)

	id, err := s.Open(ctx, origin, "brand-sid-A")
	if err != nil {
		t.Fatal(err)
	}
	brand, found, err := s.Resolve(ctx, origin, id)
	if err != nil || !found || brand != "brand-sid-A" {
		t.Fatalf("Resolve = %q, %v, %v", brand, found, err)
	}
	if _, found, _ := s.Resolve(ctx, "other.shop.localhost", id); found {
		t.Error("an origin session resolved on another origin")
	}
	if _, found, _ := s.Resolve(ctx, origin, NewSecret()); found {
		t.Error("an unknown origin session resolved")
	}

	anon, _ := s.Open(ctx, origin, "")
	brand, found, _ = s.Resolve(ctx, origin, anon)
	if !found || brand != "" {
		t.Errorf("anonymous session resolved to %q, %v", brand, found)
	}
	keys := client.Keys(ctx, DefaultPrefix+"session:*").Val()
	for _, k := range keys {
		if strings.Contains(k, id) || strings.Contains(k, anon) {
			t.Errorf("an origin session id is in the Redis key %s", k)
		}
		ttl := client.PTTL(ctx, k).Val()
		if ttl <= 0 || ttl > SessionTTL {
			t.Errorf("session key TTL %v", ttl)
		}
	}
}

// fakeClock is a Store's clock that a test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestResolvedSessionsAreKeptNoLongerThanTheKey: an instance resolves an
// origin session from memory (the key deleted behind its back still
// resolves) until the key would have expired in Redis or SessionCacheTTL
// has passed, whichever comes first; then it asks Redis again.
func TestResolvedSessionsAreKeptNoLongerThanTheKey(t *testing.T) {
	s, rs := newStore(t)
	ctx := context.Background()
	client := rs.Client(t)
	clock := &fakeClock{t: time.Now()}
	s.now = clock.now
	keyOf := func(id string) string { return DefaultPrefix + "session:" + digest(id) }

	// Known customer: Open keeps it for SessionCacheTTL (the key lives 12 h).
	id, err := s.Open(ctx, origin, "brand-sid-A")
	if err != nil {
		t.Fatal(err)
	}
	client.Del(ctx, keyOf(id))
	if brand, found, err := s.Resolve(ctx, origin, id); err != nil || !found || brand != "brand-sid-A" {
		t.Fatalf("Resolve from memory = %q, %v, %v", brand, found, err)
	}
	if _, found, _ := s.Resolve(ctx, "other.shop.localhost", id); found {
		t.Error("a kept origin session resolved on another origin")
	}
	clock.t = clock.t.Add(SessionCacheTTL)
	if _, found, _ := s.Resolve(ctx, origin, id); found {
		t.Error("an origin session was kept past SessionCacheTTL")
	}

	// Anonymous: kept no longer than its minute in Redis.
	anon, _ := s.Open(ctx, origin, "")
	client.Del(ctx, keyOf(anon))
	if _, found, _ := s.Resolve(ctx, origin, anon); !found {
		t.Fatal("an anonymous session just opened did not resolve from memory")
	}
	clock.t = clock.t.Add(AnonymousTTL)
	if _, found, _ := s.Resolve(ctx, origin, anon); found {
		t.Error("an anonymous origin session was kept past its lifetime in Redis")
	}

	// Another instance resolves through Redis and keeps the entry no longer
	// than the key's remaining lifetime.
	other := NewStore(client, "")
	other.now = clock.now
	id, _ = s.Open(ctx, origin, "brand-sid-B")
	client.PExpire(ctx, keyOf(id), 10*time.Second)
	if brand, found, err := other.Resolve(ctx, origin, id); err != nil || !found || brand != "brand-sid-B" {
		t.Fatalf("Resolve on another instance = %q, %v, %v", brand, found, err)
	}
	client.Del(ctx, keyOf(id))
	if _, found, _ := other.Resolve(ctx, origin, id); !found {
		t.Error("another instance did not keep the session it resolved")
	}
	clock.t = clock.t.Add(10 * time.Second)
	if _, found, _ := other.Resolve(ctx, origin, id); found {
		t.Error("another instance kept the session past the key's expiry")
	}
}

// BenchmarkResolve is a vendor origin's request resolving its customer's
// origin session.
func BenchmarkResolve(b *testing.B) {
	rs := redistest.Start(b)
	s := NewStore(rs.Client(b), "")
	ctx := context.Background()
	id, err := s.Open(ctx, origin, "brand-sid-A")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, found, err := s.Resolve(ctx, origin, id); !found || err != nil {
			b.Fatal(found, err)
		}
	}
}
