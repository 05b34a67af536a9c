package session

import (
	"sync"
	"sync/atomic"
	"time"
)

// Backoff windows of the circuit breaker.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// breaker keeps lookups away from a Redis that just failed. After a
// failure it opens for a backoff window during which lookups fail at once;
// when the window has passed, one lookup at a time probes Redis: success
// closes the breaker, failure reopens it for twice as long, up to
// maxBackoff. So a dead Redis costs the lookup timeout on a few requests,
// not on every one, and the store recovers without anyone's help.
//
// The state a lookup reads is a single atomic: a closed breaker costs one
// load.
type breaker struct {
	openUntil atomic.Int64 // monotonic ns; 0 when closed
	probing   atomic.Bool  // a probe is in flight

	mu      sync.Mutex    // serialises state changes
	backoff time.Duration // length of the current window; guarded by mu
}

// allow reports whether a lookup may go to Redis, and whether it is the
// probe that decides to close or reopen the breaker.
func (b *breaker) allow(now int64) (ok, probe bool) {
	until := b.openUntil.Load()
	switch {
	case until == 0:
		return true, false
	case now < until:
		return false, false
	case b.probing.CompareAndSwap(false, true):
		return true, true
	default:
		return false, false // someone else is probing
	}
}

// isOpen reports whether lookups fail at once without even a probe: a
// cheap check before taking any lock.
func (b *breaker) isOpen(now int64) bool {
	until := b.openUntil.Load()
	return until != 0 && now < until
}

// success records that Redis answered: the breaker closes and the backoff
// starts over.
func (b *breaker) success(probe bool) {
	if !probe && b.openUntil.Load() == 0 {
		return
	}
	b.mu.Lock()
	b.openUntil.Store(0)
	b.backoff = 0
	b.mu.Unlock()
	if probe {
		b.probing.Store(false)
	}
}

// failure records that Redis failed. A failed probe doubles the window; a
// failure with the breaker closed opens it for minBackoff; other failures
// (lookups that were already under way when the breaker opened) change
// nothing.
func (b *breaker) failure(probe bool, now int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case probe:
		b.backoff = min(max(2*b.backoff, minBackoff), maxBackoff)
		b.openUntil.Store(now + int64(b.backoff))
		b.probing.Store(false)
	case b.openUntil.Load() == 0:
		b.backoff = minBackoff
		b.openUntil.Store(now + int64(b.backoff))
	}
}
