package config

import (
	"strings"
	"testing"
	"time"
)

func mustTime(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("Mon 2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestScheduleOpen(t *testing.T) {
	// 2026-11-23 is a Monday.
	cases := []struct {
		hours []Hours
		at    string // in America/New_York
		open  bool
	}{
		{[]Hours{{When: "Mon-Fri 08:00-20:00", Zone: "America/New_York"}}, "Mon 2026-11-23 08:00", true},
		{[]Hours{{When: "Mon-Fri 08:00-20:00", Zone: "America/New_York"}}, "Mon 2026-11-23 07:59", false},
		{[]Hours{{When: "Mon-Fri 08:00-20:00", Zone: "America/New_York"}}, "Mon 2026-11-23 20:00", false},
		{[]Hours{{When: "Mon-Fri 08:00-20:00", Zone: "America/New_York"}}, "Sat 2026-11-28 12:00", false},
		// The same instant seen from another zone: 13:00 UTC is 08:00 in New York.
		{[]Hours{{When: "Mon-Fri 13:00-14:00", Zone: "UTC"}}, "Mon 2026-11-23 08:30", true},
		// Overnight: Friday's shift runs into Saturday morning, Monday's does not start on Sunday.
		{[]Hours{{When: "Mon-Fri 20:00-08:00", Zone: "America/New_York"}}, "Sat 2026-11-28 07:00", true},
		{[]Hours{{When: "Mon-Fri 20:00-08:00", Zone: "America/New_York"}}, "Mon 2026-11-23 07:00", false},
		{[]Hours{{When: "Mon-Fri 20:00-08:00", Zone: "America/New_York"}}, "Mon 2026-11-23 23:30", true},
		{[]Hours{{When: "Mon-Fri 20:00-08:00", Zone: "America/New_York"}}, "Sat 2026-11-28 20:30", false},
		// Wrapping day range and several windows.
		{[]Hours{{When: "Fri-Mon 10:00-16:00", Zone: "America/New_York"}}, "Sun 2026-11-29 12:00", true},
		{[]Hours{{When: "Fri-Mon 10:00-16:00", Zone: "America/New_York"}}, "Wed 2026-11-25 12:00", false},
		{[]Hours{{When: "Mon 09:00-10:00", Zone: "America/New_York"}, {When: "Wed,Thu 09:00-10:00", Zone: "America/New_York"}}, "Thu 2026-11-26 09:15", true},
		{[]Hours{{When: "daily 00:00-24:00", Zone: "America/New_York"}}, "Sun 2026-11-29 23:59", true},
		{nil, "Sun 2026-11-29 03:00", true},
	}
	for _, c := range cases {
		s, err := Compile(c.hours)
		if err != nil {
			t.Fatalf("%v: %v", c.hours, err)
		}
		if got := s.Open(mustTime(t, "America/New_York", c.at)); got != c.open {
			t.Errorf("%v at %s: open=%v, want %v", c.hours, c.at, got, c.open)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		h    Hours
		want string
	}{
		{Hours{When: "Mon-Fri 08:00-20:00", Zone: "Mars/Olympus"}, `unknown time zone "Mars/Olympus"`},
		{Hours{When: "Mon-Fry 08:00-20:00"}, `unknown day "Fry"`},
		{Hours{When: "Mon-Fri 8:00-20:00"}, `time "8:00"`},
		{Hours{When: "Mon-Fri 08:00-25:00"}, `time "25:00"`},
		{Hours{When: "Mon-Fri 24:00-08:00"}, `24:00 can only end a range`},
		{Hours{When: "Mon-Fri 08:00"}, `needs a '-'`},
		{Hours{When: "08:00-20:00"}, `want DAYS HH:MM-HH:MM`},
		{Hours{When: "daily 09:00-09:00"}, `range is empty`},
	}
	for _, c := range cases {
		_, err := Compile([]Hours{c.h})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want it to contain %q", c.h, err, c.want)
		}
	}
}

func TestContactHeaderValue(t *testing.T) {
	c := Contact{Phone: "+1 800 555 0100", Email: "help@acme.example", URL: `https://acme.example/"help"`}
	want := `phone="+1 800 555 0100", email="help@acme.example", url="https://acme.example/\"help\""`
	if got, err := c.HeaderValue(); got != want || err != nil {
		t.Errorf("got %s (%v)\nwant %s", got, err, want)
	}
	if got, err := (Contact{Email: "a@b"}).HeaderValue(); got != `email="a@b"` || err != nil {
		t.Errorf("got %s (%v)", got, err)
	}
}

func TestClockRejectsSigns(t *testing.T) {
	for _, when := range []string{"Mon-Fri +8:00-20:00", "Mon-Fri 08:00--0:00", "Mon-Fri 08:+1-20:00", "Mon-Fri ٠٨:00-20:00"} {
		if _, err := Compile([]Hours{{When: when}}); err == nil {
			t.Errorf("Compile(%q) accepted", when)
		}
	}
}
