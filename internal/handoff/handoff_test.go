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
