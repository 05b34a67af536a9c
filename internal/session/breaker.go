package session

import (
	"sync"
	"sync/atomic"
	"time"
)

// Backoff windows of the circuit breaker: a Redis stall must cost a
// fail-closed journey no more than the stall itself and a fraction of a
// second, so a probe goes out at once after the first failure and the
// wait between failed probes stays short.
const (
	minBackoff = 25 * time.Millisecond
	maxBackoff = 250 * time.Millisecond
)

// breaker keeps lookups away from a Redis that just failed. After a
// failure it opens: the next lookup is a probe and the others fail at once
// while it is under way. A successful probe (or any lookup that succeeds)
// closes the breaker; a failed probe keeps it open for a backoff window,
// twice as long as the last one, from minBackoff up to maxBackoff, after
// which the next lookup probes again. So a dead Redis costs the lookup
// timeout on a few requests, not on every one, and the store is back
// within a lookup of Redis answering again.
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

// failure records that Redis failed. A failed probe doubles the window; a failure with the breaker
// closed opens it for a probe at once; other failures (lookups that were
// already under way when the breaker opened) change nothing.
func (b *breaker) failure(probe bool, now int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case probe:
		b.backoff = min(max(2*b.backoff, minBackoff), maxBackoff)
		b.openUntil.Store(now + int64(b.backoff))
		b.probing.Store(false)
	case b.openUntil.Load() == 0:
		b.backoff = 0
		b.openUntil.Store(max(now, 1)) // open, and due for a probe
	}
}

// Breaker is the circuit breaker of one Redis, for every user of it on
// the request path: the stores given it in Options.Breaker, and other
// round trips made through Do (the vendor origins' sessions). One breaker
// per Redis, so that the first failure of any of them keeps all of them
// from waiting their timeout on a Redis that does not answer.
type Breaker struct{ b breaker }

// NewBreaker returns a closed breaker.
func NewBreaker() *Breaker { return new(Breaker) }

// Do makes call, a round trip to the breaker's Redis, unless the breaker
// keeps requests away from Redis now: then it returns ErrUnavailable at
// once, without calling. call returns an error only when Redis failed or
// did not answer (an answer that the key does not exist is none); such an
// error opens the breaker, and anything else closes it. A nil Breaker
// makes every call.
func (b *Breaker) Do(call func() error) (err error) {
	if b == nil {
		return call()
	}
	ok, probe := b.b.allow(monotime())
	if !ok {
		return ErrUnavailable
	}
	finished := false
	defer func() {
		if !finished {
			// call panicked: the breaker must not stay stuck on a probe
			// that never ends.
			b.b.failure(probe, monotime())
		}
	}()
	err = call()
	finished = true
	if err != nil {
		b.b.failure(probe, monotime())
	} else {
		b.b.success(probe)
	}
	return err
}
