package shopper

// The scheduler: each probe runs at the start of each of its intervals,
// the intervals counted from the Unix epoch so that every instance of a
// fleet agrees on them. It knows only when; it takes its time from a
// Clock, so that tests drive it with a fake one and never sleep.

import (
	"context"
	"time"
)

// Clock is the scheduler's source of time.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

// Job is one probe as the scheduler sees it.
type Job struct {
	// Every is the probe's interval; it must be positive.
	Every time.Duration
	// Launch starts the run of interval slot (the number of intervals
	// since the Unix epoch). It must not block: the scheduler waits for
	// nothing but time.
	Launch func(ctx context.Context, slot int64)
}

// Schedule launches each probe at the start of each of its intervals until ctx
// is done. The interval under way when Schedule starts is launched at once:
// Schedule is called when the config starts to run, and a reload must not
// leave the interval it falls into unshopped.
func Schedule(ctx context.Context, clock Clock, probes []Job) {
	if len(probes) == 0 {
		return
	}
	next := make([]time.Time, len(probes))
	now := clock.Now()
	for i := range next {
		next[i] = now
	}
	for {
		wake := next[0]
		for _, n := range next[1:] {
			if n.Before(wake) {
				wake = n
			}
		}
		timer := clock.NewTimer(wake.Sub(clock.Now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C():
		}
		now := clock.Now()
		for i, p := range probes {
			if now.Before(next[i]) {
				continue
			}
			slot := now.UnixNano() / int64(p.Every)
			next[i] = time.Unix(0, (slot+1)*int64(p.Every))
			p.Launch(ctx, slot)
		}
	}
}
