package feedback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

var minted = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func claims() Claims {
	return Claims{Journey: "support", Backend: "nightdesk", Ref: "01HREF0000000000000000001", Minted: minted}
}

// TestTokenBinding: a token is good for its session only, within its
// validity, and says what it was minted for; any change to it, another
// session, no session or an old token is refused with its reason.
func TestTokenBinding(t *testing.T) {
	k := NewKeys(nil, nil)
	defer k.Close()
	token := k.Mint("sess-A", claims())
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			t.Fatalf("token %q has %q: it must go into URLs and markup unescaped", token, c)
		}
	}
	got, err := k.Verify(token, "sess-A", minted.Add(time.Hour))
	if err != nil {
		t.Fatalf("own session: %v", err)
	}
	if got.Journey != "support" || got.Backend != "nightdesk" || got.Ref != claims().Ref || !got.Minted.Equal(minted) || got.Anonymous || got.ID == "" {
		t.Errorf("claims %+v", got)
	}
	if strings.Contains(token, "sess-A") {
		t.Error("the token carries the session id")
	}

	cases := []struct {
		name, token, session string
		at                   time.Time
		want                 error
	}{
		{"another session", token, "sess-B", minted, ErrOtherCustomer},
		{"no session", token, "", minted, ErrOtherCustomer},
		{"expired", token, "sess-A", minted.Add(Validity), ErrExpired},
		{"minted in the future", token, "sess-A", minted.Add(-2 * time.Minute), ErrExpired},
		{"empty", "", "sess-A", minted, ErrForged},
		{"garbage", "not-a-token!", "sess-A", minted, ErrForged},
		{"truncated", token[:len(token)-4], "sess-A", minted, ErrForged},
		{"too long", strings.Repeat("A", maxTokenLen+8), "sess-A", minted, ErrForged},
		{"another fleet's key", NewKeys(nil, nil).Mint("sess-A", claims()), "sess-A", minted, ErrForged},
	}
	for _, c := range cases {
		if _, err := k.Verify(c.token, c.session, c.at); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Every single-character change is refused as forged.
	for i := range token {
		b := []byte(token)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if _, err := k.Verify(string(b), "sess-A", minted); err == nil {
			t.Fatalf("token changed at %d accepted", i)
		}
	}
	// Claims cannot be moved to another backend by re-encoding.
	other := claims()
	other.Backend = "care-team"
	if k.Mint("sess-A", other) == token {
		t.Error("tokens for two backends are the same")
	}

	anon := k.Mint("", claims())
	for _, session := range []string{"", "sess-B"} {
		got, err := k.Verify(anon, session, minted)
		if err != nil || !got.Anonymous {
			t.Errorf("anonymous token with session %q: %+v %v", session, got, err)
		}
	}
	if Reason(ErrOtherCustomer) != ReasonOtherCustomer || Reason(ErrExpired) != ReasonExpired || Reason(ErrForged) != ReasonForged {
		t.Error("reasons")
	}
}

// TestKeySourceSharedByTheFleet: instances started together on one Redis
// agree on one key, so a token minted by one is good on another; without
// Redis a process mints with its own key, and its tokens stay good on it
// once the fleet's key arrives.
func TestKeySourceSharedByTheFleet(t *testing.T) {
	defer func(refresh, retry time.Duration) { keyRefresh, keyRetry = refresh, retry }(keyRefresh, keyRetry)
	keyRefresh, keyRetry = 50*time.Millisecond, 50*time.Millisecond
	rs := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	fleet := make([]*Keys, 4)
	for i := range fleet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fleet[i] = NewKeys(redis.NewClient(&redis.Options{Addr: rs.Addr}), nil)
		}()
	}
	wg.Wait()
	for i, k := range fleet {
		defer k.Close()
		if !k.WaitShared(ctx) {
			t.Fatalf("instance %d never got the fleet's key", i)
		}
	}
	token := fleet[0].Mint("sess-A", claims())
	for i, k := range fleet[1:] {
		if _, err := k.Verify(token, "sess-A", minted); err != nil {
			t.Errorf("instance %d refuses instance 0's token: %v", i+1, err)
		}
	}

	// Redis down at start: the process's own key, then the fleet's.
	rs.Stop(t)
	late := NewKeys(redis.NewClient(&redis.Options{Addr: rs.Addr, MaxRetries: -1}), nil)
	defer late.Close()
	early := late.Mint("sess-A", claims())
	if _, err := late.Verify(early, "sess-A", minted); err != nil {
		t.Fatalf("a token minted without Redis: %v", err)
	}
	if _, err := fleet[0].Verify(early, "sess-A", minted); !errors.Is(err, ErrForged) {
		t.Errorf("another instance accepted a process-local token: %v", err)
	}
	// Redis came back without the key (it persists nothing): the fleet
	// sets one again and every instance reads it back.
	rs.Restart(t)
	if !late.WaitShared(ctx) {
		t.Fatal("the late instance never got the fleet's key")
	}
	testwait.For(t, 10*time.Second, 10*time.Millisecond, func() error {
		if _, err := fleet[0].Verify(late.Mint("sess-A", claims()), "sess-A", minted); err != nil {
			return fmt.Errorf("after Redis came back, tokens are not the fleet's: %w", err)
		}
		if _, err := late.Verify(fleet[0].Mint("sess-A", claims()), "sess-A", minted); err != nil {
			return fmt.Errorf("after Redis came back, tokens are not the fleet's: %w", err)
		}
		return nil
	})
	if _, err := late.Verify(early, "sess-A", minted); err != nil {
		t.Errorf("the process-local token is no longer accepted: %v", err)
	}
	if _, err := fleet[1].Verify(token, "sess-A", minted); err != nil {
		t.Errorf("a token of the fleet's previous key is no longer accepted: %v", err)
	}
}

// TestVerifyWhileTheFleetKeyChanges: Redis lost the fleet's key again and
// again (restarts without persistence, a FLUSHALL), so each instance
// adopted a new one each time. Verify stays safe on every request
// goroutine at once (the race detector watches the key list), accepts
// tokens of the last keptKeys fleet keys and of the process's own, and no
// older ones.
func TestVerifyWhileTheFleetKeyChanges(t *testing.T) {
	k := NewKeys(nil, nil)
	defer k.Close()
	local := k.Mint("sess-A", claims())
	var tokens []string // one per fleet key, oldest first
	for range keptKeys + 1 {
		k.adopt(randomKey())
		tokens = append(tokens, k.Mint("sess-A", claims()))
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				for _, token := range append([]string{local}, tokens[1:]...) {
					if _, err := k.Verify(token, "sess-A", minted); err != nil {
						t.Errorf("a token of a kept key is refused: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if _, err := k.Verify(tokens[0], "sess-A", minted); !errors.Is(err, ErrForged) {
		t.Errorf("a token of a key %d changes old is still accepted: %v", keptKeys, err)
	}
}

// TestTokenRedeemedOnceAcrossInstances: a token is used once per action
// across the fleet, however many instances it is presented to at once; a
// rating counts once per customer and backend in the window, and
// anonymous ratings of a backend are capped per minute.
func TestTokenRedeemedOnceAcrossInstances(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	keys := NewKeys(redis.NewClient(&redis.Options{Addr: rs.Addr}), nil)
	defer keys.Close()
	if !keys.WaitShared(ctx) {
		t.Fatal("no fleet key")
	}
	now := time.Now()
	c := claims()
	c.Minted = now
	token := keys.Mint("sess-A", c)

	const instances = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	redeemed := 0
	for range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := NewKeys(redis.NewClient(&redis.Options{Addr: rs.Addr}), nil)
			defer k.Close()
			k.WaitShared(ctx)
			got, err := k.Verify(token, "sess-A", now)
			if err != nil {
				t.Error(err)
				return
			}
			ok, err := NewLedger(redis.NewClient(&redis.Options{Addr: rs.Addr})).Redeem(ctx, ActionEscalate, got)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				redeemed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if redeemed != 1 {
		t.Fatalf("redeemed %d times across %d instances, want once", redeemed, instances)
	}
	ledger := NewLedger(rs.Client(t))
	got, _ := keys.Verify(token, "sess-A", now)
	if ok, err := ledger.Redeem(ctx, ActionRate, got); !ok || err != nil {
		t.Errorf("the same token for the other action: %v %v", ok, err)
	}
	ttl := rs.Client(t).TTL(ctx, "frontdoor:feedback:used:escalate:"+got.ID).Val()
	if ttl <= 0 || ttl > Validity+2*time.Minute {
		t.Errorf("redemption kept for %v", ttl)
	}

	if first, _ := ledger.FirstRating(ctx, "support", "nightdesk", "C-1", false, time.Hour); !first {
		t.Error("first rating not first")
	}
	if first, _ := ledger.FirstRating(ctx, "support", "nightdesk", "C-1", false, time.Hour); first {
		t.Error("second rating counted")
	}
	if first, _ := ledger.FirstRating(ctx, "support", "care-team", "C-1", false, time.Hour); !first {
		t.Error("a rating of another backend was taken for a repeat")
	}
	if first, _ := ledger.FirstRating(ctx, "support", "nightdesk", "C-1", true, time.Hour); !first {
		t.Error("an anonymous rater named like a customer was taken for them")
	}
	allowed := 0
	for range AnonymousPerMinute + 5 {
		if ok, err := ledger.AnonymousAllowed(ctx, "support", "nightdesk", now); err != nil {
			t.Fatal(err)
		} else if ok {
			allowed++
		}
	}
	if allowed != AnonymousPerMinute {
		t.Errorf("%d anonymous ratings allowed in a minute, want %d", allowed, AnonymousPerMinute)
	}
	if ok, _ := ledger.AnonymousAllowed(ctx, "support", "care-team", now); !ok {
		t.Error("the cap of one backend held another's")
	}

	rs.Stop(t)
	if _, err := ledger.Redeem(ctx, ActionRate, got); err == nil {
		t.Error("Redis down: no error")
	}
}

// BenchmarkMint is the cost a banner page pays for its feedback links.
func BenchmarkMint(b *testing.B) {
	k := NewKeys(nil, nil)
	defer k.Close()
	c := claims()
	b.ReportAllocs()
	for b.Loop() {
		k.Mint("sess-0123456789abcdef", c)
	}
}
