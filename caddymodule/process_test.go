package caddymodule

import (
	"sync"
	"sync/atomic"
	"testing"
)

// A retired config's shared state is released once, after the last
// request under way at the retire has ended, however begin, end and
// retire interleave.
func TestLiveStreamsReleaseOnceAfterTheLastRequest(t *testing.T) {
	for range 200 {
		var inFlight, releases atomic.Int64
		var early atomic.Bool
		l := &liveStreams{}
		l.release = func() {
			releases.Add(1)
			if inFlight.Load() != 0 {
				early.Store(true)
			}
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			inFlight.Add(1)
			l.begin()
			wg.Go(func() {
				<-start
				inFlight.Add(-1) // before end: what release sees is then never an ended request
				l.end()
			})
		}
		wg.Go(func() {
			<-start
			l.retire()
		})
		close(start)
		wg.Wait()
		if got := releases.Load(); got != 1 {
			t.Fatalf("released %d times, want once", got)
		}
		if early.Load() {
			t.Fatal("released while a request was under way")
		}
	}
}
