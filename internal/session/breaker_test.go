package session

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/testwait"
)

func TestBreakerBackoff(t *testing.T) {
	var b breaker
	now := int64(time.Hour)
	at := func(d time.Duration) int64 { return now + int64(d) }

	if ok, probe := b.allow(now); !ok || probe {
		t.Fatalf("closed breaker: allow = %v, %v; want true, false", ok, probe)
	}
	b.failure(false, now)

	// The first probe goes out at once, one at a time.
	if ok, probe := b.allow(now); !ok || !probe {
		t.Fatalf("just opened: allow = %v, %v; want a probe at once", ok, probe)
	}
	if ok, _ := b.allow(now); ok {
		t.Fatal("second lookup allowed while the probe is under way")
	}
	b.failure(true, now)

	// Each failed probe doubles the window, up to the maximum.
	for _, window := range []time.Duration{25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond} {
		if ok, _ := b.allow(at(window - time.Millisecond)); ok {
			t.Fatalf("allowed %s into a %s window", window-time.Millisecond, window)
		}
		if !b.isOpen(at(window - time.Millisecond)) {
			t.Fatalf("not open %s into a %s window", window-time.Millisecond, window)
		}
		now = at(window)
		ok, probe := b.allow(now)
		if !ok || !probe {
			t.Fatalf("after a %s window: allow = %v, %v; want a probe", window, ok, probe)
		}
		// One probe at a time.
		if ok, _ := b.allow(now); ok {
			t.Fatalf("second probe allowed after a %s window", window)
		}
		b.failure(true, now)
	}

	// A successful probe closes the breaker and resets the backoff.
	now = at(250 * time.Millisecond)
	if ok, probe := b.allow(now); !ok || !probe {
		t.Fatal("no probe after the last window")
	}
	b.success(true)
	if ok, probe := b.allow(now); !ok || probe || b.isOpen(now) {
		t.Fatalf("after a successful probe: allow = %v, %v; want true, false", ok, probe)
	}
	b.failure(false, now)
	b.allow(now)
	b.failure(true, now)
	if ok, _ := b.allow(at(24 * time.Millisecond)); ok {
		t.Error("allowed within the first window after a reset")
	}
	if ok, _ := b.allow(at(25 * time.Millisecond)); !ok {
		t.Error("backoff not reset to 25ms by the success")
	}
}

// TestBreakerLateFailures checks that failures of lookups that were under
// way when the breaker opened neither extend nor shorten the window.
func TestBreakerLateFailures(t *testing.T) {
	var b breaker
	now := int64(time.Hour)
	b.failure(false, now)
	b.failure(false, now+int64(400*time.Millisecond))
	if ok, _ := b.allow(now + int64(500*time.Millisecond)); !ok {
		t.Error("a late failure extended the window")
	}
}

// TestBreakerLateSuccess checks that a lookup that succeeds while the
// breaker is open closes it: Redis answers.
func TestBreakerLateSuccess(t *testing.T) {
	var b breaker
	now := int64(time.Hour)
	b.failure(false, now)
	b.success(false)
	if ok, probe := b.allow(now); !ok || probe {
		t.Errorf("allow after a success = %v, %v; want true, false", ok, probe)
	}
}

func TestBreakerOneProbe(t *testing.T) {
	var b breaker
	now := int64(time.Hour)
	b.failure(false, now)
	now += int64(time.Second)

	var probes atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if ok, probe := b.allow(now); ok {
				if !probe {
					t.Error("allowed without probing while open")
				}
				probes.Add(1)
			}
		})
	}
	wg.Wait()
	if probes.Load() != 1 {
		t.Errorf("%d probes, want 1", probes.Load())
	}
}

// TestBreakerDo: a round trip made through Do that fails opens the breaker
// for every user of it, a store's lookups included: the next call is the
// probe, and while it is under way the others are refused at once without
// reaching Redis. A probe that panics does not leave the breaker waiting
// for it forever.
func TestBreakerDo(t *testing.T) {
	client, err := NewClient("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	b := NewBreaker()
	s, err := NewStore(client, Options{Breaker: b})
	if err != nil {
		t.Fatal(err)
	}
	down := errors.New("dial tcp: connection refused")
	if err := b.Do(func() error { return down }); err != down {
		t.Fatalf("Do = %v, want the call's error", err)
	}
	probing, release, probed := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() { probed <- b.Do(func() error { close(probing); <-release; return down }) }()
	<-probing
	if _, _, err := s.Lookup(context.Background(), NewFieldSet([]string{"tier"}), "session-0001"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a lookup of a store sharing the breaker while its probe is under way: %v, want ErrUnavailable", err)
	}
	called := false
	if err := b.Do(func() error { called = true; return nil }); !errors.Is(err, ErrUnavailable) || called {
		t.Errorf("Do while the probe is under way = %v (called %v), want ErrUnavailable without calling", err, called)
	}
	close(release)
	if err := <-probed; err != down {
		t.Errorf("the probe's Do = %v, want its call's error", err)
	}

	var none *Breaker // what a handler without a session Redis would pass
	if err := none.Do(func() error { return down }); err != down {
		t.Errorf("a nil Breaker's Do = %v, want the call's error", err)
	}

	b = NewBreaker()
	b.Do(func() error { return down }) //nolint:errcheck // opens it
	func() {
		defer func() { _ = recover() }()
		b.Do(func() error { panic("client bug") }) //nolint:errcheck // the probe panics
	}()
	testwait.For(t, 5*time.Second, 5*time.Millisecond, func() error {
		return b.Do(func() error { return nil })
	})
}
