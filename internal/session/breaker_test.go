package session

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
