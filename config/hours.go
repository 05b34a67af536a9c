package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Hours is one business-hours window, such as "Mon-Fri 08:00-20:00" in
// America/New_York.
type Hours struct {
	// When is the days and the time range, e.g. "Mon-Fri 08:00-20:00",
	// "Sat,Sun 10:00-16:00", "daily 20:00-08:00". Days are Mon..Sun (ranges
	// may wrap, like Fri-Mon) or "daily". A range whose end is before its
	// start runs overnight into the next day, which counts as part of the
	// day it started on. "24:00" may end a range. Required.
	When string `json:"when"`

	// Zone is the IANA time zone the hours are in, e.g. "Europe/Paris".
	// Default: UTC.
	Zone string `json:"zone,omitempty"`
}

// Schedule is a compiled set of Hours: the backend is open when any window
// is. A nil or empty Schedule is always open.
type Schedule []window

type window struct {
	days       [7]bool // indexed by time.Weekday
	start, end int     // minutes after midnight; end may be 1440
	loc        *time.Location
}

// Compile parses the hours into a Schedule, with an error that quotes the
// part a newcomer got wrong.
func Compile(hours []Hours) (Schedule, error) {
	var s Schedule
	for _, h := range hours {
		w, err := parseWindow(h)
		if err != nil {
			return nil, err
		}
		s = append(s, w)
	}
	return s, nil
}

// Open reports whether t falls in any window of the schedule.
func (s Schedule) Open(t time.Time) bool {
	if len(s) == 0 {
		return true
	}
	for i := range s {
		if s[i].open(t) {
			return true
		}
	}
	return false
}

func (w *window) open(t time.Time) bool {
	local := t.In(w.loc)
	day := local.Weekday()
	minute := local.Hour()*60 + local.Minute()
	if w.start < w.end {
		return w.days[day] && minute >= w.start && minute < w.end
	}
	// Overnight: the evening part belongs to today, the early-morning part
	// to the shift that started yesterday.
	yesterday := (day + 6) % 7
	return (w.days[day] && minute >= w.start) || (w.days[yesterday] && minute < w.end)
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseWindow(h Hours) (window, error) {
	w := window{loc: time.UTC}
	if h.Zone != "" {
		loc, err := time.LoadLocation(h.Zone)
		if err != nil {
			return w, fmt.Errorf("unknown time zone %q: use an IANA name such as America/New_York", h.Zone)
		}
		w.loc = loc
	}
	fields := strings.Fields(h.When)
	if len(fields) != 2 {
		return w, fmt.Errorf("hours %q: want DAYS HH:MM-HH:MM, e.g. \"Mon-Fri 08:00-20:00\"", h.When)
	}
	if err := parseDays(fields[0], &w.days); err != nil {
		return w, fmt.Errorf("hours %q: %v", h.When, err)
	}
	from, to, ok := strings.Cut(fields[1], "-")
	if !ok {
		return w, fmt.Errorf("hours %q: time range %q needs a '-', e.g. 08:00-20:00", h.When, fields[1])
	}
	var err error
	if w.start, err = parseClock(from, false); err != nil {
		return w, fmt.Errorf("hours %q: %v", h.When, err)
	}
	if w.end, err = parseClock(to, true); err != nil {
		return w, fmt.Errorf("hours %q: %v", h.When, err)
	}
	if w.start == w.end {
		return w, fmt.Errorf("hours %q: the range is empty; for all day write 00:00-24:00", h.When)
	}
	return w, nil
}

func parseDays(spec string, days *[7]bool) error {
	if strings.EqualFold(spec, "daily") {
		for i := range days {
			days[i] = true
		}
		return nil
	}
	for _, part := range strings.Split(spec, ",") {
		first, last, isRange := strings.Cut(part, "-")
		a, ok := dayNames[strings.ToLower(first)]
		if !ok {
			return fmt.Errorf("unknown day %q: use Mon, Tue, Wed, Thu, Fri, Sat, Sun or daily", first)
		}
		b := a
		if isRange {
			if b, ok = dayNames[strings.ToLower(last)]; !ok {
				return fmt.Errorf("unknown day %q: use Mon, Tue, Wed, Thu, Fri, Sat, Sun or daily", last)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			days[d] = true
			if d == b {
				break
			}
		}
	}
	return nil
}

// parseClock reads HH:MM; 24:00 is allowed only as the end of a range.
func parseClock(s string, isEnd bool) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, errH := strconv.Atoi(hh)
	m, errM := strconv.Atoi(mm)
	if !ok || !twoDigits(hh) || !twoDigits(mm) || errH != nil || errM != nil || m > 59 || h > 24 {
		return 0, fmt.Errorf("time %q: want HH:MM between 00:00 and 24:00", s)
	}
	if h == 24 && (m != 0 || !isEnd) {
		return 0, fmt.Errorf("time %q: 24:00 can only end a range", s)
	}
	return h*60 + m, nil
}

// twoDigits accepts exactly two ASCII digits (Atoi alone would take "+8").
func twoDigits(s string) bool {
	return len(s) == 2 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9'
}
