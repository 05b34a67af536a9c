package shopper

import (
	"context"
	"testing"
	"time"
)

type launch struct {
	probe string
	slot  int64
}

// runScheduler runs Schedule on a fake clock and returns the launches as they
// happen, and a stop that cancels it and waits for it to return.
func runScheduler(t *testing.T, clock *FakeClock, every map[string]time.Duration) (<-chan launch, func()) {
	t.Helper()
	launches := make(chan launch, 100)
	var probes []Job
	for _, name := range []string{"fast", "slow"} {
		if d, ok := every[name]; ok {
			probes = append(probes, Job{Every: d, Launch: func(_ context.Context, slot int64) {
				launches <- launch{name, slot}
			}})
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Schedule(ctx, clock, probes)
	}()
	stop := func() {
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return launches, stop
}

func expect(t *testing.T, launches <-chan launch, want ...launch) {
	t.Helper()
	got := map[launch]bool{}
	for range want {
		got[<-launches] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Fatalf("launches %v, want %v", got, want)
		}
	}
	select {
	case l := <-launches:
		t.Fatalf("unexpected launch %v", l)
	default:
	}
}

func TestScheduleLaunchesTheIntervalUnderWayThenEachIntervalStart(t *testing.T) {
	start := time.Date(2026, 12, 4, 10, 0, 0, 500_000_000, time.UTC)
	clock := NewFakeClock(start)
	launches, stop := runScheduler(t, clock, map[string]time.Duration{"fast": time.Second, "slow": 10 * time.Second})
	s := start.Unix()

	// The intervals under way when the config starts to run: at once.
	expect(t, launches, launch{"fast", s}, launch{"slow", s / 10})

	// Nothing before the next interval starts.
	clock.WaitForTimers(1, nil)
	clock.Advance(499 * time.Millisecond)
	expect(t, launches)

	// At the start of each interval (counted from the epoch, not from the
	// start): half a second after the start, then every second.
	clock.Advance(time.Millisecond)
	expect(t, launches, launch{"fast", s + 1})
	for i := int64(2); i <= 9; i++ {
		clock.WaitForTimers(1, nil)
		clock.Advance(time.Second)
		expect(t, launches, launch{"fast", s + i})
	}
	clock.WaitForTimers(1, nil)
	clock.Advance(time.Second)
	expect(t, launches, launch{"fast", s + 10}, launch{"slow", s/10 + 1})

	// Stopped, it launches nothing more.
	stop()
	clock.Advance(time.Minute)
	expect(t, launches)
}

func TestScheduleSkipsIntervalsItSlept(t *testing.T) {
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	clock := NewFakeClock(start)
	launches, _ := runScheduler(t, clock, map[string]time.Duration{"fast": time.Second})
	expect(t, launches, launch{"fast", start.Unix()})
	// A machine that was suspended for a minute shops the interval it
	// wakes in, once, not the sixty it missed.
	clock.WaitForTimers(1, nil)
	clock.Advance(time.Minute + 300*time.Millisecond)
	expect(t, launches, launch{"fast", start.Unix() + 60})
}

func TestScheduleWithoutProbesReturns(t *testing.T) {
	Schedule(context.Background(), NewFakeClock(time.Now()), nil)
}
