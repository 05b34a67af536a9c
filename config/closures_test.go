package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newYork(when string) []Hours { return []Hours{{When: when, Zone: "America/New_York"}} }

func TestClosedDates(t *testing.T) {
	cases := []struct {
		name   string
		hours  []Hours
		closed Closure
		at     string // in the zone below
		zone   string
		want   string // the reason, "" for open
	}{
		{"the day", nil, Closure{Dates: "2026-12-25", Reason: "Christmas Day"}, "2026-12-25 00:00", "UTC", "Christmas Day"},
		{"the day, last minute", nil, Closure{Dates: "2026-12-25"}, "2026-12-25 23:59", "UTC", "2026-12-25"},
		{"the day after", nil, Closure{Dates: "2026-12-25"}, "2026-12-26 00:00", "UTC", ""},
		{"another year", nil, Closure{Dates: "2026-12-25"}, "2027-12-25 12:00", "UTC", ""},
		{"range start", nil, Closure{Dates: "2026-12-24..2026-12-26", Reason: "Holidays"}, "2026-12-24 00:00", "UTC", "Holidays"},
		{"range end", nil, Closure{Dates: "2026-12-24..2026-12-26"}, "2026-12-26 23:59", "UTC", "2026-12-24..2026-12-26"},
		{"range over New Year", nil, Closure{Dates: "2026-12-31..2027-01-01"}, "2027-01-01 10:00", "UTC", "2026-12-31..2027-01-01"},
		{"before the range", nil, Closure{Dates: "2026-12-24..2026-12-26"}, "2026-12-23 23:59", "UTC", ""},
		{"yearly", nil, Closure{Dates: "*-12-25", Reason: "Christmas Day"}, "2031-12-25 08:00", "UTC", "Christmas Day"},
		{"yearly, other day", nil, Closure{Dates: "*-12-25"}, "2031-12-26 08:00", "UTC", ""},
		{"yearly range", nil, Closure{Dates: "*-12-24..*-12-26"}, "2030-12-26 08:00", "UTC", "*-12-24..*-12-26"},
		{"yearly range over New Year, December", nil, Closure{Dates: "*-12-31..*-01-01", Reason: "New Year"}, "2030-12-31 08:00", "UTC", "New Year"},
		{"yearly range over New Year, January", nil, Closure{Dates: "*-12-31..*-01-01", Reason: "New Year"}, "2031-01-01 08:00", "UTC", "New Year"},
		{"yearly range over New Year, after", nil, Closure{Dates: "*-12-31..*-01-01"}, "2031-01-02 00:00", "UTC", ""},
		{"leap day, leap year", nil, Closure{Dates: "*-02-29"}, "2028-02-29 12:00", "UTC", "*-02-29"},
		{"leap day, other year", nil, Closure{Dates: "*-02-29"}, "2027-03-01 12:00", "UTC", ""},
		// Days are the hours' days: 2026-12-25 in New York starts at 05:00 UTC.
		{"zone of the hours, before local midnight", newYork("Mon-Fri 08:00-20:00"), Closure{Dates: "2026-12-25"}, "2026-12-25 04:59", "UTC", ""},
		{"zone of the hours, after local midnight", newYork("Mon-Fri 08:00-20:00"), Closure{Dates: "2026-12-25"}, "2026-12-25 05:00", "UTC", "2026-12-25"},
		{"zone of the hours, end of the local day", newYork("Mon-Fri 08:00-20:00"), Closure{Dates: "2026-12-25"}, "2026-12-26 04:59", "UTC", "2026-12-25"},
		{"no hours: UTC", nil, Closure{Dates: "2026-12-25"}, "2026-12-24 23:30", "America/New_York", "2026-12-25"},
		// DST: the day of the spring change is 23 hours long, that of the fall change 25.
		{"spring DST day, last hour", newYork("daily 00:00-24:00"), Closure{Dates: "2026-03-08"}, "2026-03-08 23:30", "America/New_York", "2026-03-08"},
		{"spring DST day, after", newYork("daily 00:00-24:00"), Closure{Dates: "2026-03-08"}, "2026-03-09 00:00", "America/New_York", ""},
		{"fall DST day, last hour", newYork("daily 00:00-24:00"), Closure{Dates: "2026-11-01"}, "2026-11-01 23:30", "America/New_York", "2026-11-01"},
		{"fall DST day, before", newYork("daily 00:00-24:00"), Closure{Dates: "2026-11-01"}, "2026-10-31 23:59", "America/New_York", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, err := CompileClosures(c.hours, []Closure{c.closed}, nil)
			if err != nil {
				t.Fatal(err)
			}
			reason, closed := cl.At(at(t, c.zone, c.at))
			if closed != (c.want != "") || reason != c.want {
				t.Errorf("At(%s %s) = %q, %v; want %q", c.at, c.zone, reason, closed, c.want)
			}
		})
	}
}

func TestNoClosuresNeverClosed(t *testing.T) {
	cl, err := CompileClosures(newYork("Mon-Fri 08:00-20:00"), nil, nil)
	if err != nil || cl != nil {
		t.Fatalf("CompileClosures without closures = %v, %v; want nil, nil", cl, err)
	}
	if _, closed := cl.At(time.Now()); closed {
		t.Error("a nil *Closures is closed")
	}
}

// The first closure written gives the reason when several apply.
func TestClosedReasonInOrderWritten(t *testing.T) {
	cl, err := CompileClosures(nil, []Closure{{Dates: "*-12-25", Reason: "Christmas Day"}, {Dates: "2026-12-20..2026-12-31", Reason: "Stocktake"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if reason, _ := cl.At(at(t, "UTC", "2026-12-25 10:00")); reason != "Christmas Day" {
		t.Errorf("reason %q, want the first written", reason)
	}
	if reason, _ := cl.At(at(t, "UTC", "2026-12-26 10:00")); reason != "Stocktake" {
		t.Errorf("reason %q, want Stocktake", reason)
	}
}

func TestClosureErrors(t *testing.T) {
	cases := []struct {
		hours  []Hours
		closed Closure
		want   string
	}{
		{nil, Closure{Dates: "2026-13-01"}, `closed "2026-13-01": want a day that exists as YYYY-MM-DD, or *-MM-DD for every year`},
		{nil, Closure{Dates: "2026-02-30"}, `closed "2026-02-30": want a day that exists`},
		{nil, Closure{Dates: "*-02-30"}, `closed "*-02-30": want a day that exists`},
		{nil, Closure{Dates: "*-04-31"}, `closed "*-04-31": want a day that exists`},
		{nil, Closure{Dates: "25/12/2026"}, `closed "25/12/2026": want a day`},
		{nil, Closure{Dates: "2026-12-25.."}, `closed "2026-12-25..": want a day`},
		{nil, Closure{Dates: ""}, `closed "": want a day`},
		{nil, Closure{Dates: "2026-12-26..2026-12-24"}, `closed "2026-12-26..2026-12-24": the range ends before it starts: write the earlier day first`},
		{nil, Closure{Dates: "*-12-26..*-12-24"}, `closed "*-12-26..*-12-24": the range ends before it starts (running over New Year it would close the backend 364 days a year)`},
		{nil, Closure{Dates: "*-12-24..2026-12-26"}, `write both ends yearly`},
		{nil, Closure{Dates: "2026-12-25", Reason: "Christmas\nDay"}, `closed "2026-12-25": reason "Christmas\nDay" contains a control character`},
		{nil, Closure{Dates: "2026-12-25", Reason: strings.Repeat("x", 201)}, `reason is 201 bytes`},
		{[]Hours{{When: "Mon-Fri 08:00-20:00", Zone: "America/New_York"}, {When: "Sat 08:00-12:00", Zone: "Europe/Paris"}}, Closure{Dates: "*-12-25"},
			"closed days are counted in the zone of the backend's hours, but its hours are in America/New_York and Europe/Paris"},
		{[]Hours{{When: "Mon-Fri 08:00-20:00"}, {When: "Sat 08:00-12:00", Zone: "Europe/Paris"}}, Closure{Dates: "*-12-25"},
			"its hours are in UTC and Europe/Paris"},
	}
	for _, c := range cases {
		_, err := CompileClosures(c.hours, []Closure{c.closed}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want it to contain %q", c.closed, err, c.want)
		}
	}
	// One zone for all hours, UTC written or not, is fine; so is a
	// yearly range over New Year.
	if _, err := CompileClosures([]Hours{{When: "Mon 08:00-20:00"}, {When: "Sat 08:00-12:00", Zone: "UTC"}}, []Closure{{Dates: "*-12-24..*-01-02"}}, nil); err != nil {
		t.Error(err)
	}
}

// writeICS writes a calendar of events (the lines between BEGIN:VCALENDAR
// and END:VCALENDAR) with CRLF line ends, as calendar apps do.
func writeICS(t testing.TB, events string) string {
	t.Helper()
	body := "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//frontdoor//test//EN\n" + strings.TrimSpace(events) + "\nEND:VCALENDAR\n"
	p := filepath.Join(t.TempDir(), "holidays.ics")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(body, "\n", "\r\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHolidaysCalendar(t *testing.T) {
	ics := writeICS(t, `
BEGIN:VEVENT
UID:christmas@acme
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20201225
DTEND;VALUE=DATE:20201226
RRULE:FREQ=YEARLY
EXDATE;VALUE=DATE:20281225
SUMMARY:Christmas Day
END:VEVENT
BEGIN:VEVENT
UID:thanksgiving@acme
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20251127
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH
SUMMARY:Thanksgiving\, closed
END:VEVENT
BEGIN:VEVENT
UID:offsite@acme
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Paris:20260615T090000
DTEND;TZID=Europe/Paris:20260615T170000
SUMMARY:Team offsite
END:VEVENT
BEGIN:VEVENT
UID:inventory@acme
DTSTAMP:20260101T000000Z
DTSTART:20260701
DURATION:P2D
SUMMARY:Inventory
END:VEVENT
BEGIN:VEVENT
UID:training@acme
DTSTAMP:20260101T000000Z
DTSTART;TZID=America/New_York:20260105T100000
DTEND;TZID=America/New_York:20260105T120000
RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20261231T235959Z
SUMMARY:Weekly training
END:VEVENT
BEGIN:VEVENT
UID:training@acme
DTSTAMP:20260101T000000Z
RECURRENCE-ID;TZID=America/New_York:20260608T100000
DTSTART;TZID=America/New_York:20260609T140000
DTEND;TZID=America/New_York:20260609T160000
SUMMARY:Weekly training (moved)
END:VEVENT
BEGIN:VEVENT
UID:training@acme
DTSTAMP:20260101T000000Z
RECURRENCE-ID;TZID=America/New_York:20260615T100000
DTSTART;TZID=America/New_York:20260615T100000
DTEND;TZID=America/New_York:20260615T120000
STATUS:CANCELLED
SUMMARY:Weekly training
END:VEVENT
BEGIN:VEVENT
UID:extra@acme
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20260410
RDATE;VALUE=DATE:20270326,20280414
SUMMARY:Good Friday
END:VEVENT
BEGIN:VEVENT
UID:cancelled@acme
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20260501
STATUS:CANCELLED
SUMMARY:Cancelled party
END:VEVENT
BEGIN:VEVENT
UID:springdst@acme
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20260308
SUMMARY:Spring change
END:VEVENT
BEGIN:VEVENT
UID:reminder@acme
DTSTAMP:20260101T000000Z
DTSTART:20260301T090000Z
SUMMARY:Zero-length reminder
END:VEVENT
`)
	cl, err := CompileClosures(newYork("Mon-Fri 08:00-20:00"), nil, []string{ics})
	if err != nil {
		t.Fatal(err)
	}
	ny := "America/New_York"
	cases := []struct {
		zone, at, want string
	}{
		// A yearly all-day event, every year since 2020, in the hours' zone.
		{ny, "2026-12-25 00:00", "Christmas Day"},
		{ny, "2026-12-25 23:59", "Christmas Day"},
		{ny, "2026-12-24 23:59", ""},
		{ny, "2026-12-26 00:00", ""},
		{"UTC", "2026-12-25 04:59", ""}, // still the 24th in New York
		{ny, "2035-12-25 12:00", "Christmas Day"},
		{ny, "2028-12-25 12:00", ""}, // EXDATE
		// An RRULE by weekday, with an escaped comma in the summary; no
		// DTEND on a date: one day.
		{ny, "2026-11-26 12:00", "Thanksgiving, closed"},
		{ny, "2027-11-25 12:00", "Thanksgiving, closed"},
		{ny, "2027-11-26 12:00", ""},
		// A timed event in another zone: 09:00-17:00 Paris is 03:00-11:00 New York.
		{ny, "2026-06-15 02:59", ""},
		{ny, "2026-06-15 03:00", "Team offsite"},
		{ny, "2026-06-15 10:59", "Team offsite"},
		{ny, "2026-06-15 11:00", ""},
		// A date without VALUE=DATE and a DURATION of two days.
		{ny, "2026-07-02 23:59", "Inventory"},
		{ny, "2026-07-03 00:00", ""},
		// A weekly timed event keeps its local time across DST (EST in
		// January, EDT in July), until UNTIL.
		{ny, "2026-01-12 10:30", "Weekly training"},
		{ny, "2026-07-13 10:30", "Weekly training"},
		{ny, "2026-07-13 12:00", ""},
		{ny, "2027-01-04 10:30", ""},
		// RECURRENCE-ID: one occurrence moved, one cancelled.
		{ny, "2026-06-08 10:30", ""},
		{ny, "2026-06-09 14:30", "Weekly training (moved)"},
		{ny, "2026-06-15 11:30", ""}, // (the offsite ended at 11:00)
		{ny, "2026-06-22 10:30", "Weekly training"},
		// RDATE: more days of a one-day event.
		{ny, "2026-04-10 12:00", "Good Friday"},
		{ny, "2027-03-26 12:00", "Good Friday"},
		{ny, "2028-04-14 12:00", "Good Friday"},
		{ny, "2027-04-10 12:00", ""},
		// A cancelled event and a zero-length one close nothing.
		{ny, "2026-05-01 12:00", ""},
		{"UTC", "2026-03-01 09:00", ""},
		// An all-day event on the 23-hour day of the spring DST change.
		{ny, "2026-03-08 23:30", "Spring change"},
		{ny, "2026-03-09 00:00", ""},
	}
	for _, c := range cases {
		fresh, err := CompileClosures(newYork("Mon-Fri 08:00-20:00"), nil, []string{ics})
		if err != nil {
			t.Fatal(err)
		}
		when := at(t, c.zone, c.at)
		for name, cl := range map[string]*Closures{"fresh": fresh, "kept": cl} {
			reason, closed := cl.At(when)
			if closed != (c.want != "") || reason != c.want {
				t.Errorf("%s: At(%s %s) = %q, %v; want %q", name, c.at, c.zone, reason, closed, c.want)
			}
		}
	}
}

// A holidays calendar without hours is read in UTC, floating times too.
func TestHolidaysWithoutHoursAreUTC(t *testing.T) {
	ics := writeICS(t, `
BEGIN:VEVENT
UID:a
DTSTART:20261225T080000
DTEND:20261225T100000
SUMMARY:Floating
END:VEVENT`)
	cl, err := CompileClosures(nil, nil, []string{ics})
	if err != nil {
		t.Fatal(err)
	}
	if _, closed := cl.At(at(t, "UTC", "2026-12-25 08:30")); !closed {
		t.Error("floating time not read in UTC")
	}
}

// The kept answer is the answer: walking back and forth across a year in
// 37-minute steps, a kept Closures agrees with a fresh evaluation.
func TestClosuresKeptAnswerMatchesFresh(t *testing.T) {
	ics := writeICS(t, `
BEGIN:VEVENT
UID:weekly
DTSTART;TZID=Europe/London:20260105T100000
DTEND;TZID=Europe/London:20260105T113000
RRULE:FREQ=WEEKLY;BYDAY=MO,TH
SUMMARY:Training
END:VEVENT
BEGIN:VEVENT
UID:xmas
DTSTART;VALUE=DATE:20201224
DTEND;VALUE=DATE:20201227
RRULE:FREQ=YEARLY
SUMMARY:Christmas
END:VEVENT`)
	hours := []Hours{{When: "daily 00:00-24:00", Zone: "Europe/London"}}
	kept, err := CompileClosures(hours, []Closure{{Dates: "*-03-29..*-04-02", Reason: "Easter"}, {Dates: "2026-10-25"}}, []string{ics})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var steps []time.Time
	for tm := start; tm.Before(start.AddDate(1, 0, 0)); tm = tm.Add(37 * time.Minute) {
		steps = append(steps, tm)
	}
	for i := len(steps) - 1; i >= 0; i -= 7 { // and backwards
		steps = append(steps, steps[i])
	}
	closedCount := 0
	for _, tm := range steps {
		gotReason, got := kept.At(tm)
		want := kept.evaluate(tm)
		if got != want.closed || gotReason != want.reason {
			t.Fatalf("At(%s) = %q, %v; fresh evaluation says %q, %v", tm, gotReason, got, want.reason, want.closed)
		}
		if got {
			closedCount++
		}
	}
	if closedCount == 0 {
		t.Fatal("never closed: the test checks nothing")
	}
}

func TestClosuresConcurrentUse(t *testing.T) {
	ics := writeICS(t, `
BEGIN:VEVENT
UID:a
DTSTART;VALUE=DATE:20201225
RRULE:FREQ=YEARLY
EXDATE;VALUE=DATE:20211225
SUMMARY:Christmas
END:VEVENT`)
	cl, err := CompileClosures(nil, []Closure{{Dates: "*-01-01"}}, []string{ics})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	start := time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				cl.At(start.Add(time.Duration(g*500+i) * 7 * time.Minute))
			}
		}()
	}
	wg.Wait()
}

func TestHolidaysErrors(t *testing.T) {
	dir := t.TempDir()
	notCal := filepath.Join(dir, "notes.txt")
	os.WriteFile(notCal, []byte("Christmas: closed\n"), 0o600)
	empty := filepath.Join(dir, "empty.ics")
	os.WriteFile(empty, nil, 0o600)
	cut := filepath.Join(dir, "cut.ics")
	os.WriteFile(cut, []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\n"), 0o600)
	cases := []struct {
		file, want string
	}{
		{filepath.Join(dir, "missing.ics"), "holidays: open " + filepath.Join(dir, "missing.ics") + ": no such file or directory"},
		{dir, "is a directory"},
		{notCal, `holidays "` + notCal + `": not an iCalendar file`},
		{empty, "not an iCalendar file: it is empty or ends before END:VCALENDAR"},
		{cut, "not an iCalendar file: it is empty or ends before END:VCALENDAR"},
		{writeICS(t, "BEGIN:VEVENT\nUID:x\nSUMMARY:No start\nEND:VEVENT"), `event "No start": it has no DTSTART`},
		{writeICS(t, "BEGIN:VEVENT\nUID:x\nDTSTART:2026-12-25\nSUMMARY:Bad date\nEND:VEVENT"), `event "Bad date": DTSTART "2026-12-25"`},
		{writeICS(t, "BEGIN:VEVENT\nUID:x\nDTSTART;TZID=Mars/Olympus:20261225T100000\nDTEND;TZID=Mars/Olympus:20261225T120000\nSUMMARY:Mars\nEND:VEVENT"), `event "Mars": DTSTART "20261225T100000"`},
		{writeICS(t, "BEGIN:VEVENT\nUID:x\nDTSTART:20261225T100000Z\nDTEND:20261225T090000Z\nSUMMARY:Backwards\nEND:VEVENT"), `event "Backwards": it ends (20261225T090000Z) before it starts (20261225T100000Z)`},
		{writeICS(t, "BEGIN:VEVENT\nUID:x\nDTSTART;VALUE=DATE:20261225\nRRULE:FREQ=SOMETIMES\nSUMMARY:Bad rule\nEND:VEVENT"), `event "Bad rule": RRULE "FREQ=SOMETIMES"`},
		{writeICS(t, "BEGIN:VEVENT\nUID:x\nDTSTART:20261225T100000Z\nDTEND:20261225T103000Z\nRRULE:FREQ=HOURLY\nSUMMARY:Hourly\nEND:VEVENT"), `RRULE "FREQ=HOURLY" repeats more often than daily`},
		{writeICS(t, "BEGIN:VEVENT\nUID:x\nDTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY\nEXDATE:soon\nSUMMARY:Bad exdate\nEND:VEVENT"), `EXDATE "soon"`},
		{writeICS(t, "BEGIN:VEVENT\nUID:x-uid\nDTSTART;VALUE=DATE:20261225\nDURATION:-P1D\nEND:VEVENT"), `event "x-uid": DURATION "-P1D" is negative`},
	}
	for _, c := range cases {
		_, err := CompileClosures(nil, nil, []string{c.file})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.file, err, c.want)
		}
		if err2 := CheckHolidays(c.file); (err2 == nil) != (err == nil) {
			t.Errorf("%s: CheckHolidays %v, CompileClosures %v", c.file, err2, err)
		}
	}
}

// A summary is shown to operators: one line, no control characters,
// bounded.
func TestHolidaySummaryIsOneBoundedLine(t *testing.T) {
	long := strings.Repeat("é", 150)
	ics := writeICS(t, "BEGIN:VEVENT\nUID:a\nDTSTART;VALUE=DATE:20261225\nSUMMARY:Christmas\\nDay\t\x1b[31m\nEND:VEVENT\n"+
		"BEGIN:VEVENT\nUID:b\nDTSTART;VALUE=DATE:20261226\nSUMMARY:"+long+"\nEND:VEVENT\n"+
		"BEGIN:VEVENT\nUID:c\nDTSTART;VALUE=DATE:20261227\nEND:VEVENT")
	cl, err := CompileClosures(nil, nil, []string{ics})
	if err != nil {
		t.Fatal(err)
	}
	if reason, _ := cl.At(at(t, "UTC", "2026-12-25 12:00")); reason != "Christmas Day [31m" {
		t.Errorf("reason %q", reason)
	}
	if reason, _ := cl.At(at(t, "UTC", "2026-12-26 12:00")); len(reason) > maxReason || !strings.HasPrefix(long, reason) || len(reason) < maxReason-1 {
		t.Errorf("reason of %d bytes: %q", len(reason), reason)
	}
	if reason, _ := cl.At(at(t, "UTC", "2026-12-27 12:00")); reason != "holiday" {
		t.Errorf("reason without summary %q, want holiday", reason)
	}
}

// A config from JSON is validated like a Caddyfile: the error is about
// the backend, so the adapter can name its line.
func TestValidateRejectsBadClosures(t *testing.T) {
	for name, mutate := range map[string]func(b *Backend){
		"bad date":     func(b *Backend) { b.Closed = []Closure{{Dates: "2026-12-32"}} },
		"missing file": func(b *Backend) { b.Holidays = []string{filepath.Join(t.TempDir(), "none.ics")} },
		"mixed zones": func(b *Backend) {
			b.Hours = append(b.Hours, Hours{When: "Sat 10:00-12:00"})
			b.Closed = []Closure{{Dates: "*-12-25"}}
		},
		"control chars": func(b *Backend) { b.Closed = []Closure{{Dates: "*-12-25", Reason: "X\x1b[2J"}} },
	} {
		js := validConfig()
		b := js[1].Backends[0]
		mutate(b)
		err := Validate("Acme", Contact{}, "", js)
		var ve *Error
		if !errors.As(err, &ve) || ve.Elem != b || !strings.HasPrefix(err.Error(), `journey "support", backend "care": `) {
			t.Errorf("%s: error %v, want one about the backend", name, err)
		}
	}
	js := validConfig()
	js[1].Backends[0].Closed = []Closure{{Dates: "*-12-25", Reason: "Christmas Day"}}
	if err := Validate("Acme", Contact{}, "", js); err != nil {
		t.Error(err)
	}
}

// BenchmarkClosuresAt is the per-request cost: a kept answer.
func BenchmarkClosuresAt(b *testing.B) {
	ics := writeICS(b, `
BEGIN:VEVENT
UID:xmas
DTSTART;VALUE=DATE:20001225
RRULE:FREQ=YEARLY
SUMMARY:Christmas Day
END:VEVENT`)
	cl, err := CompileClosures(newYork("Mon-Fri 08:00-20:00"), []Closure{{Dates: "*-07-04"}, {Dates: "*-12-31..*-01-01"}}, []string{ics})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		cl.At(now.Add(time.Duration(i%1000) * time.Millisecond))
	}
}

// BenchmarkClosuresEvaluate is the cost of a new answer (at most a few
// times a day): 20 yearly holidays since 2000 and a weekly event.
func BenchmarkClosuresEvaluate(b *testing.B) {
	var events strings.Builder
	for i := range 20 {
		events.WriteString("BEGIN:VEVENT\nUID:h" + string(rune('a'+i)) + "\nDTSTART;VALUE=DATE:2000" + time.Date(2000, time.Month(1+i%12), 1+i, 0, 0, 0, 0, time.UTC).Format("0102") + "\nRRULE:FREQ=YEARLY\nSUMMARY:Holiday\nEND:VEVENT\n")
	}
	events.WriteString("BEGIN:VEVENT\nUID:w\nDTSTART;TZID=America/New_York:20200106T100000\nDTEND;TZID=America/New_York:20200106T110000\nRRULE:FREQ=WEEKLY\nSUMMARY:Training\nEND:VEVENT\n")
	ics := writeICS(b, events.String())
	cl, err := CompileClosures(newYork("Mon-Fri 08:00-20:00"), nil, []string{ics})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		cl.evaluate(now)
	}
}

// TestHolidaysOutlookWindowsZones: Outlook and Exchange export their zones
// under Windows names (TZID="Eastern Standard Time"), which the CLDR
// windowsZones table maps to IANA zones.
func TestHolidaysOutlookWindowsZones(t *testing.T) {
	cl, err := CompileClosures(newYork("Mon-Fri 08:00-20:00"), nil, []string{filepath.Join("testdata", "outlook.ics")})
	if err != nil {
		t.Fatal(err)
	}
	ny := "America/New_York"
	for _, c := range []struct{ zone, at, want string }{
		{ny, "2026-11-24 08:59", ""},
		{ny, "2026-11-24 09:00", "All-hands training"},
		{ny, "2026-11-24 16:59", "All-hands training"},
		{ny, "2026-11-24 17:00", ""},
		// 09:00-12:00 in Paris (W. Europe) is 03:00-06:00 in New York, on
		// three Thursdays.
		{"Europe/Paris", "2026-12-10 09:00", "Paris site visit"},
		{ny, "2026-12-17 03:00", "Paris site visit"},
		{ny, "2026-12-17 06:00", ""},
		{ny, "2026-12-24 05:59", "Paris site visit"},
		{ny, "2026-12-31 04:00", ""},
		{ny, "2026-12-25 12:00", "Christmas Day"},
	} {
		reason, closed := cl.At(at(t, c.zone, c.at))
		if closed != (c.want != "") || reason != c.want {
			t.Errorf("At(%s %s) = %q, %v; want %q", c.at, c.zone, reason, closed, c.want)
		}
	}
}

// TestCalendarCannotStallARequest: an event whose rule never occurs
// (February 30th) loaded fine, and each evaluation of the closures, under
// their lock on a request's path, ran its iterator to the year 9999: a
// 200 KiB file of such events held every request of the backend for
// minutes. Such a rule is refused when the calendar loads, and so is a
// calendar of more events than a closure calendar has.
func TestCalendarCannotStallARequest(t *testing.T) {
	never := "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\nEND:VEVENT\n"
	ics := writeICS(t, strings.TrimSuffix(never, "\n"))
	if err := CheckHolidays(ics); err == nil || !strings.Contains(err.Error(), "never occurs") {
		t.Errorf("an event that never occurs: %v", err)
	}
	var b strings.Builder
	for i := range maxHolidayEvents + 1 {
		fmt.Fprintf(&b, "BEGIN:VEVENT\nUID:%d\nDTSTART;VALUE=DATE:20260101\nSUMMARY:day\nEND:VEVENT\n", i)
	}
	many := writeICS(t, strings.TrimSuffix(b.String(), "\n"))
	if err := CheckHolidays(many); err == nil || !strings.Contains(err.Error(), "events") {
		t.Errorf("a calendar of %d events: %v", maxHolidayEvents+1, err)
	}
	start := time.Now()
	cl, err := CompileClosures(newYork("Mon-Fri 08:00-20:00"), nil, []string{writeICS(t,
		"BEGIN:VEVENT\nUID:a\nDTSTART;VALUE=DATE:19000101\nRRULE:FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25\nSUMMARY:Christmas\nEND:VEVENT")})
	if err != nil {
		t.Fatal(err)
	}
	if _, closed := cl.At(at(t, "America/New_York", "2026-12-25 12:00")); !closed || time.Since(start) > time.Second {
		t.Errorf("a yearly holiday since 1900: closed %v after %v", closed, time.Since(start))
	}
}

// TestTimedEventDurationInDaysIsNominal: RFC 5545 counts a DURATION's
// days in calendar days; a timed event of DURATION:P1D that spans the end
// of daylight saving time ended an hour early (24 exact hours).
func TestTimedEventDurationInDaysIsNominal(t *testing.T) {
	ics := writeICS(t, "BEGIN:VEVENT\nUID:a\nDTSTART;TZID=America/New_York:20261031T120000\nDURATION:P1D\nSUMMARY:Stocktake\nEND:VEVENT")
	cl, err := CompileClosures(newYork("daily 00:00-24:00"), nil, []string{ics})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   string
		want bool
	}{{"2026-10-31 12:00", true}, {"2026-11-01 11:30", true}, {"2026-11-01 12:00", false}} {
		if _, got := cl.At(at(t, "America/New_York", c.at)); got != c.want {
			t.Errorf("closed at %s New York = %v, want %v", c.at, got, c.want)
		}
	}
	for value, want := range map[string]int{"P1D": 1, "P2W": 14, "P1DT12H": 1, "PT36H": 0, "-P3D": 3, "P": 0} {
		if got := nominalDays(value); got != want {
			t.Errorf("nominalDays(%q) = %d, want %d", value, got, want)
		}
	}
}

// TestAllDayHolidaysOnASkippedMidnight: where DST starts at midnight
// (America/Santiago on 2026-09-06), an all-day holiday on that day closed
// the backend from 23:00 the day before (go-ical placed the date at the
// skipped midnight, normalised back an hour), and a weekly one from an
// earlier date closed Saturday instead of Sunday (rrule-go's occurrence
// that week). A closed day runs from the first instant of the day to the
// next, as closed YYYY-MM-DD does.
func TestAllDayHolidaysOnASkippedMidnight(t *testing.T) {
	const z = "America/Santiago"
	hours := []Hours{{When: "daily 00:00-24:00", Zone: z}}
	for name, ev := range map[string]string{
		"one day":                      "DTSTART;VALUE=DATE:20260906",
		"weekly, from an earlier date": "DTSTART;VALUE=DATE:20260104\nRRULE:FREQ=WEEKLY",
	} {
		cl, err := CompileClosures(hours, nil, []string{writeICS(t, "BEGIN:VEVENT\nUID:a\n"+ev+"\nSUMMARY:Closed\nEND:VEVENT")})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			at   string
			want bool
		}{
			{"2026-09-05 12:00", false}, {"2026-09-05 23:30", false},
			{"2026-09-06 01:00", true}, {"2026-09-06 12:00", true}, {"2026-09-06 23:30", true},
			{"2026-09-07 00:30", false},
		} {
			if _, got := cl.At(at(t, z, c.at)); got != c.want {
				t.Errorf("%s: closed at %s %s = %v, want %v", name, c.at, z, got, c.want)
			}
		}
	}
}
