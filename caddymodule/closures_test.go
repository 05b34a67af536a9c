package caddymodule

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/frontdoor-dev/frontdoor/config"
)

const christmasICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//frontdoor//test//EN\r\nBEGIN:VEVENT\r\nUID:xmas\r\nDTSTAMP:20260101T000000Z\r\n" +
	"DTSTART;VALUE=DATE:20201225\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:Christmas Day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCaddyfileClosedAndHolidays(t *testing.T) {
	ics := writeFile(t, "holidays.ics", christmasICS)
	b := mustParse(t, `frontdoor {
	brand Acme
	journey j /j* {
		backend b {
			owner in-house
			to 127.0.0.1:9001
			hours "Mon-Fri 08:00-20:00" America/New_York
			closed *-12-25 "Christmas Day"
			closed 2026-12-24..2026-12-26
			closed *-12-31..*-01-01 "New Year"
			holidays `+ics+`
		}
	}
}`).Journeys[0].Backends[0]
	wantClosed := []config.Closure{
		{Dates: "*-12-25", Reason: "Christmas Day"},
		{Dates: "2026-12-24..2026-12-26"},
		{Dates: "*-12-31..*-01-01", Reason: "New Year"},
	}
	if !reflect.DeepEqual(b.Closed, wantClosed) {
		t.Errorf("closed %+v, want %+v", b.Closed, wantClosed)
	}
	if !reflect.DeepEqual(b.Holidays, []string{ics}) {
		t.Errorf("holidays %q, want %q", b.Holidays, ics)
	}
}

func TestCaddyfileClosedErrors(t *testing.T) {
	ics := writeFile(t, "holidays.ics", christmasICS)
	notICS := writeFile(t, "holidays.txt", "25 December: Christmas\n")
	missing := filepath.Join(t.TempDir(), "nowhere.ics")
	backend := func(lines string) string {
		return "frontdoor {\n\tbrand Acme\n\tjourney j /j* {\n\t\tbackend b {\n\t\t\towner in-house\n\t\t\tto 127.0.0.1:1\n" + lines + "\n\t\t}\n\t}\n}"
	}
	cases := []struct {
		name, input, want string
	}{
		{"bad date", backend("\t\t\tclosed 2026-02-30"), `backend b: closed "2026-02-30": want a day that exists as YYYY-MM-DD, or *-MM-DD for every year, e.g. 2026-12-25 or *-12-25, at Testfile:7`},
		{"reversed range", backend("\t\t\thours \"daily 08:00-20:00\"\n\t\t\tclosed 2026-12-26..2026-12-24 Holidays"), `backend b: closed "2026-12-26..2026-12-24": the range ends before it starts: write the earlier day first, at Testfile:8`},
		{"reason not quoted", backend("\t\t\tclosed *-12-25 Christmas Day"), `closed: quote the reason, e.g. closed *-12-25 "Christmas Day", at Testfile:7`},
		{"closed without date", backend("\t\t\tclosed"), `closed wants DATE or DATE..DATE and an optional reason, e.g. closed *-12-25 "Christmas Day", at Testfile:7`},
		{"holidays missing", backend("\t\t\tholidays " + missing), "backend b: holidays: open " + missing + ": no such file or directory, at Testfile:7"},
		{"holidays not a calendar", backend("\t\t\tholidays " + notICS), `backend b: holidays "` + notICS + `": not an iCalendar file`},
		{"holidays not a calendar line", backend("\t\t\tholidays " + notICS), "Testfile:7"},
		{"holidays without file", backend("\t\t\tholidays"), "holidays wants one iCalendar file, e.g. holidays /etc/frontdoor/holidays.ics, at Testfile:7"},
		{"holidays two files", backend("\t\t\tholidays " + ics + " " + ics), "holidays wants one iCalendar file"},
		// Known only once the whole backend is read: at the backend's line.
		{"hours in two zones", backend("\t\t\thours \"Mon-Fri 08:00-20:00\" America/New_York\n\t\t\thours \"Sat 08:00-12:00\" Europe/Paris\n\t\t\tclosed *-12-25"),
			`journey "j", backend "b": closed days are counted in the zone of the backend's hours, but its hours are in America/New_York and Europe/Paris: write them in one zone, at Testfile:4`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseFrontdoor(c.input)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// A backend closed now is skipped like one out of hours, whatever its
// hours say, and the one chosen instead is there because of the closure.
// An override still wins.
func TestPlanClosures(t *testing.T) {
	const outOfHours = "Sat,Sun 08:00-20:00" // monday10 is a Monday
	cases := []struct {
		name     string
		backends []testBackend
		closed   map[string]string // backend -> closed dates
		override string
		want     string
	}{
		{"first closed today", []testBackend{{name: "a"}, {name: "b"}}, map[string]string{"a": "2026-11-23"}, "",
			"b:closed"},
		{"closed yearly", []testBackend{{name: "a"}, {name: "b"}}, map[string]string{"a": "*-11-23"}, "",
			"b:closed"},
		{"closed yesterday", []testBackend{{name: "a"}, {name: "b"}}, map[string]string{"a": "2026-11-22"}, "",
			"a:first b:failover"},
		{"closures win over hours", []testBackend{{name: "a", hours: "Mon-Fri 08:00-20:00"}, {name: "b"}}, map[string]string{"a": "2026-11-20..2026-11-27"}, "",
			"b:closed"},
		{"closed then out of hours", []testBackend{{name: "a"}, {name: "b", hours: outOfHours}, {name: "c"}}, map[string]string{"a": "2026-11-23"}, "",
			"c:closed"},
		{"out of hours then closed", []testBackend{{name: "a", hours: outOfHours}, {name: "b"}, {name: "c"}}, map[string]string{"b": "2026-11-23"}, "",
			"c:closed"},
		{"closed then unhealthy", []testBackend{{name: "a"}, {name: "b", sick: true}, {name: "c"}}, map[string]string{"a": "2026-11-23"}, "",
			"c:failover"},
		{"all closed", []testBackend{{name: "a"}, {name: "b"}}, map[string]string{"a": "2026-11-23", "b": "*-11-23"}, "",
			""},
		{"override wins over a closure", []testBackend{{name: "a"}, {name: "b"}}, map[string]string{"a": "2026-11-23"}, "a",
			"a:override b:failover"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := planJourney(t, c.backends...)
			for _, b := range j.backends {
				if dates, ok := c.closed[b.name]; ok {
					cl, err := config.CompileClosures(nil, []config.Closure{{Dates: dates}}, nil)
					if err != nil {
						t.Fatal(err)
					}
					b.closures = cl
				}
			}
			var buf [maxBackends]candidate
			if got := describePlan(j.plan(monday10, c.override, buf[:])); got != c.want {
				t.Errorf("plan = %q, want %q", got, c.want)
			}
		})
	}
}

func TestStatusPrintsWhyClosed(t *testing.T) {
	var out strings.Builder
	printStatus(&out, Status{Journeys: []JourneyStatus{{Name: "support", Backends: []BackendStatus{
		{Name: "care-team", Owner: "in-house", ClosedReason: "Christmas Day"},
		{Name: "nightdesk", Owner: "outsourced", Vendor: "NightDesk", OpenNow: true, Healthy: true},
	}}}})
	lines := strings.Split(out.String(), "\n")
	if len(lines) < 3 || !strings.Contains(lines[1], "care-team") || !strings.Contains(lines[1], "no (closed: Christmas Day)") ||
		!strings.Contains(lines[2], "nightdesk") || strings.Contains(lines[2], "closed") {
		t.Errorf("status output:\n%s", out.String())
	}
}
