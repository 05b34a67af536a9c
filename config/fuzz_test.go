package config

import (
	"strings"
	"testing"
	"time"
)

// FuzzHours checks the business-hours language on arbitrary input: Compile
// never panics, a compiled schedule answers for any instant, an all-day
// window in an accepted zone is always open, and a range and its reverse
// split every day between them, DST days included.
func FuzzHours(f *testing.F) {
	for _, seed := range []struct {
		when, zone string
		unix       int64
	}{
		{"Mon-Fri 08:00-20:00", "America/New_York", 1795435200},
		{"daily 20:00-08:00", "Europe/Paris", 0},
		{"Fri-Mon 10:00-16:00", "", -62135596800},
		{"Sat,Sun 00:00-24:00", "UTC", 253402300799},
		{"daily 02:00-03:00", "America/New_York", 1772953200}, // spring forward 2026
		{"mon-FRI 23:59-00:01", "Australia/Lord_Howe", 1775404800},
		{"Mon 24:00-08:00", "Local", 1},
		{"daily 09:00-09:00", "", 1},
		{"Mon--Fri 08:00-20:00", "", 1},
		{"Mon-Fri -1:00-20:00", "", 1},
		{"Mon-Fri +8:00-20:00", "", 1},
		{"Mon-Fri 08:60-20:00", "../../etc/passwd", 1},
	} {
		f.Add(seed.when, seed.zone, seed.unix)
	}
	f.Fuzz(func(t *testing.T, when, zone string, unix int64) {
		at := time.Unix(unix, 0)
		s, err := Compile([]Hours{{When: when, Zone: zone}})
		if err != nil {
			if err.Error() == "" {
				t.Error("empty error message")
			}
			return
		}
		s.Open(at)

		allDay, err := Compile([]Hours{{When: "daily 00:00-24:00", Zone: zone}})
		if err != nil {
			t.Fatalf("zone %q accepted with %q but not with daily 00:00-24:00: %v", zone, when, err)
		}
		if !allDay.Open(at) {
			t.Errorf("daily 00:00-24:00 in %q is closed at %s", zone, at.UTC())
		}

		fields := strings.Fields(when)
		from, to, _ := strings.Cut(fields[1], "-")
		forward, err1 := Compile([]Hours{{When: "daily " + from + "-" + to, Zone: zone}})
		backward, err2 := Compile([]Hours{{When: "daily " + to + "-" + from, Zone: zone}})
		if err1 != nil || err2 != nil {
			return // 24:00 can only end a range, so it has no reverse
		}
		if forward.Open(at) == backward.Open(at) {
			t.Errorf("daily %s-%s open %v and daily %s-%s open %v at %s in %q: want exactly one",
				from, to, forward.Open(at), to, from, backward.Open(at), at.UTC(), zone)
		}
	})
}
