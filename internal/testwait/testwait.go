// Package testwait is how tests wait for an event: they check for it
// (a metric value, a log line, a status field) until a deadline, instead of
// sleeping for a time that stands in for it.
package testwait

import (
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
