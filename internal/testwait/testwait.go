// Package testwait is how tests wait for an event: they check for it
// (a metric value, a log line, a status field) until a deadline, instead of
// sleeping for a time that stands in for it.
package testwait

import (
	"fmt"
	"testing"
	"time"
)

// For waits until check passes, checking every tick, and fails the test at
// the deadline with check's last error.
func For(t testing.TB, timeout, tick time.Duration, check func() error) {
	t.Helper()
	if err := Until(timeout, tick, check); err != nil {
		t.Fatalf("timed out after %s: %v", timeout, err)
	}
}

// Until waits until check passes, checking every tick, and returns check's
// last error if it still fails at the deadline.
func Until(timeout, tick time.Duration, check func() error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-deadline.C:
			return err
		case <-ticker.C:
		}
	}
}

// Settled waits until read gives the same value n times in a row, tick
// apart, and returns it: what was under way has ended and the value holds
// still (a process's goroutines after a reload, say). It fails the test if
// the value does not settle by the deadline.
func Settled[T comparable](t testing.TB, timeout, tick time.Duration, n int, read func() (T, error)) T {
	t.Helper()
	var last T
	same := 0
	For(t, timeout, tick, func() error {
		v, err := read()
		if err != nil {
			same = 0
			return err
		}
		if same > 0 && v == last {
			same++
		} else {
			last, same = v, 1
		}
		if same < n {
			return fmt.Errorf("read %v %d times in a row, want %d", v, same, n)
		}
		return nil
	})
	return last
}
