package main

import "testing"

// TestCPUCount holds the count of a taskset -c list, which the busy share
// divides by: a wrong count makes every pinned row look load-bound or
// more than fully busy.
func TestCPUCount(t *testing.T) {
	for _, tc := range []struct {
		list string
		want int
	}{
		{"0", 1},
		{"0-3", 4},
		{"0,2-3", 3},
		{"4-7,9", 5},
		{"", 0},
		{"3-1", 0},
		{"a", 0},
		{"0-", 0},
	} {
		if got := cpuCount(tc.list); got != tc.want {
			t.Errorf("cpuCount(%q) = %d, want %d", tc.list, got, tc.want)
		}
	}
}
