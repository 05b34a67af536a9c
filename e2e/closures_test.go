package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// todayIn picks a zone where now is well inside a day, so that "today"
// there stays today for the length of a test, and returns it with today's
// date there.
func todayIn(t *testing.T) (zone string, today time.Time) {
	t.Helper()
	for _, zone := range []string{"America/New_York", "Asia/Tokyo"} { // 13 or 14 hours apart
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().In(loc)
		if m := now.Hour()*60 + now.Minute(); m >= 10 && m < 23*60+50 {
			return zone, now
		}
	}
	t.Fatal("no zone away from midnight")
	return "", time.Time{}
}

// holidaysFile writes a calendar whose weekly all-day event, started 52
// weeks ago, falls today: a recurring holiday, as calendars write them.
func holidaysFile(t *testing.T, today time.Time, summary string) string {
	t.Helper()
	first := today.AddDate(0, 0, -364)
	ics := strings.Join([]string{
		"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Acme//Holidays//EN",
		"BEGIN:VEVENT", "UID:weekly-closure@acme.example", "DTSTAMP:20260101T000000Z",
		"DTSTART;VALUE=DATE:" + first.Format("20060102"), "DTEND;VALUE=DATE:" + first.AddDate(0, 0, 1).Format("20060102"),
		"RRULE:FREQ=WEEKLY", "SUMMARY:" + summary, "END:VEVENT",
		"END:VCALENDAR", "",
	}, "\r\n")
	p := filepath.Join(t.TempDir(), "holidays.ics")
	if err := os.WriteFile(p, []byte(ics), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type statusBackend struct {
	Name         string `json:"name"`
	OpenNow      bool   `json:"open_now"`
	ClosedReason string `json:"closed_reason"`
}

func backendStatus(t *testing.T, gw *gateway, journey, backend string) statusBackend {
	t.Helper()
	_, body := do(t, "GET", "http://"+gw.AdminAddr+"/frontdoor/status", nil, nil)
	var st struct {
		Journeys []struct {
			Name     string          `json:"name"`
			Backends []statusBackend `json:"backends"`
		} `json:"journeys"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, body)
	}
	for _, j := range st.Journeys {
		for _, b := range j.Backends {
			if j.Name == journey && b.Name == backend {
				return b
			}
		}
	}
	t.Fatalf("status has no backend %s/%s:\n%s", journey, backend, body)
	return statusBackend{}
}

// A backend closed today, by a closed date or by a holiday in its
// calendar, sends the journey to the next backend with the reason
// "closed", though its hours say open; status says why; an override still
// takes the journey to it.
func TestClosedDateAndHolidaySendJourneyToNextBackend(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	zone, today := todayIn(t)
	ics := holidaysFile(t, today, "Founders Day")
	care := startBackend(t, "care-team", nil)
	night := startBackend(t, "nightdesk", nil)
	returns := startBackend(t, "returns-team", nil)
	ship := startBackend(t, "shipco", nil)
	gw := startGateway(t, frontdoorBlock(fmt.Sprintf(`
		session {
			redis %s
			cookie acme_session
		}
		journey support /support* {
			backend care-team {
				owner in-house
				to %s
				hours "daily 00:00-24:00" %s
				closed %s "Christmas Day"
				closed *-%s..*-%s
			}
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to %s
			}
		}
		journey returns /returns* {
			backend returns-team {
				owner in-house
				to %s
				hours "daily 00:00-24:00" %s
				holidays %s
			}
			backend shipco {
				owner outsourced
				vendor ShipCo
				to %s
			}
		}`, rs.URL(), care.URL, zone, today.Format("2006-01-02"),
		today.AddDate(0, 0, -40).Format("01-02"), today.AddDate(0, 0, -30).Format("01-02"), // a yearly closure that is over
		night.URL, returns.URL, zone, ics, ship.URL)))

	if _, body := do(t, "GET", gw.URL+"/support", nil, nil); body != "hello from nightdesk" {
		t.Errorf("support on a closed date: %q, want nightdesk", body)
	}
	if _, body := do(t, "GET", gw.URL+"/returns", nil, nil); body != "hello from shipco" {
		t.Errorf("returns on a holiday: %q, want shipco", body)
	}
	if care.count() != 0 || returns.count() != 0 {
		t.Errorf("closed backends were sent %d and %d requests", care.count(), returns.count())
	}
	m := gw.metrics(t)
	for series, want := range map[string]float64{
		`frontdoor_routing_decisions_total{backend="nightdesk",journey="support",reason="closed"}`: 1,
		`frontdoor_routing_decisions_total{backend="shipco",journey="returns",reason="closed"}`:    1,
		`frontdoor_routing_decisions_total{backend="nightdesk",journey="support",reason="hours"}`:  0,
	} {
		if v, _ := metricValue(m, series); v != want {
			t.Errorf("%s = %v, want %v\n%s", series, v, want, grep(m, "routing_decisions"))
		}
	}

	// Status says why, in JSON and through the CLI.
	for _, c := range []struct{ journey, backend, reason string }{
		{"support", "care-team", "Christmas Day"},
		{"returns", "returns-team", "Founders Day"},
	} {
		if b := backendStatus(t, gw, c.journey, c.backend); b.OpenNow || b.ClosedReason != c.reason {
			t.Errorf("status of %s: open_now %v, closed_reason %q; want closed: %s", c.backend, b.OpenNow, b.ClosedReason, c.reason)
		}
	}
	if b := backendStatus(t, gw, "support", "nightdesk"); !b.OpenNow || b.ClosedReason != "" {
		t.Errorf("status of nightdesk: %+v", b)
	}
	out, err := frontdoorCmd(t, "status", "--address", gw.AdminAddr)
	if err != nil || !strings.Contains(out, "no (closed: Christmas Day)") || !strings.Contains(out, "no (closed: Founders Day)") {
		t.Errorf("status: %v\n%s", err, out)
	}

	// An override wins over a closure.
	if out, err := frontdoorCmd(t, "override", "set", "support", "care-team", "--for", "1m", "--reason", "drill", "--address", gw.AdminAddr); err != nil {
		t.Fatalf("override set: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, func() error {
		if _, body := do(t, "GET", gw.URL+"/support", nil, nil); body != "hello from care-team" {
			return fmt.Errorf("with an override to care-team: %q", body)
		}
		return nil
	})
	if v, _ := metricValue(gw.metrics(t), `frontdoor_routing_decisions_total{backend="care-team",journey="support",reason="override"}`); v < 1 {
		t.Errorf("routing reason override = %v", v)
	}
}

// A bad closed date or holidays file fails validate and adapt with the
// file, the line and what is wrong.
func TestBadClosureIsRejectedWithLineAndReason(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notICS := filepath.Join(dir, "holidays.ics")
	os.WriteFile(notICS, []byte("Christmas: 25 December\n"), 0o600)
	noStart := filepath.Join(dir, "nostart.ics")
	os.WriteFile(noStart, []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Boxing Day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), 0o600)
	missing := filepath.Join(dir, "missing.ics")
	cases := []struct {
		name, line, reason string
	}{
		{"bad date", `closed 2026-02-30 "Leap"`, `closed "2026-02-30": want a day that exists as YYYY-MM-DD, or *-MM-DD for every year`},
		{"reversed range", `closed 2026-12-26..2026-12-24`, `closed "2026-12-26..2026-12-24": the range ends before it starts`},
		{"unquoted reason", `closed *-12-25 Christmas Day`, `closed: quote the reason`},
		{"missing file", "holidays " + missing, "holidays: open " + missing + ": no such file or directory"},
		{"not a calendar", "holidays " + notICS, `holidays "` + notICS + `": not an iCalendar file`},
		{"event without start", "holidays " + noStart, `event "Boxing Day": it has no DTSTART`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := "http://127.0.0.1:1 {\n\tfrontdoor {\n\t\tbrand Acme\n\t\tjourney j /j* {\n\t\t\tbackend b {\n\t\t\t\towner in-house\n\t\t\t\tto 127.0.0.1:1\n" +
				"\t\t\t\thours \"Mon-Fri 08:00-20:00\" Europe/Paris\n\t\t\t\t" + c.line + "\n\t\t\t}\n\t\t}\n\t}\n}\n"
			expectRejected(t, cfg, c.reason, 9)
		})
	}
}
