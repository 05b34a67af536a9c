package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// openMinutes counts the minutes of [from, to) at which s is open,
// stepping in real (UTC) minutes, and returns the first and the last.
func openMinutes(s Schedule, from, to time.Time) (n int, first, last time.Time) {
	for t := from; t.Before(to); t = t.Add(time.Minute) {
		if s.Open(t) {
			if n == 0 {
				first = t
			}
			last = t
			n++
		}
	}
	return n, first, last
}

// Hours are wall-clock hours in their zone: on the day clocks spring
// forward, a window over the missing hour is shorter, and a window in the
// repeated hour of the fall-back day is open both times round.
func TestScheduleAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 2026-03-08: 02:00 EST becomes 03:00 EDT. 2026-11-01: 02:00 EDT becomes 01:00 EST.
	spring := time.Date(2026, 3, 8, 0, 0, 0, 0, ny)
	fall := time.Date(2026, 11, 1, 0, 0, 0, 0, ny)
	cases := []struct {
		name     string
		when     string
		day      time.Time
		minutes  int
		from, to string // first and last open minute, local
	}{
		// 02:30 never happens on the spring-forward day: the window opens
		// at 03:00 EDT, the first wall-clock minute inside it.
		{"window at 02:30 on spring-forward day", "daily 02:30-03:30", spring, 30, "03:00 EDT", "03:29 EDT"},
		{"window inside the missing hour", "Sun 02:00-03:00", spring, 0, "", ""},
		{"ordinary day for comparison", "daily 02:30-03:30", spring.AddDate(0, 0, 1), 60, "02:30 EDT", "03:29 EDT"},
		{"window in the repeated hour", "daily 01:30-02:00", fall, 60, "01:30 EDT", "01:59 EST"},
		{"business day across fall-back", "Sun 00:00-24:00", fall, 25 * 60, "00:00 EDT", "23:59 EST"},
		{"business day across spring-forward", "Sun 00:00-24:00", spring, 23 * 60, "00:00 EST", "23:59 EDT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Compile([]Hours{{When: c.when, Zone: "America/New_York"}})
			if err != nil {
				t.Fatal(err)
			}
			// Scan from 22:00 the day before to 01:00 the day after, so
			// a window cannot leak outside its day unnoticed.
			y, m, d := c.day.Date()
			n, first, last := openMinutes(s, c.day.Add(-2*time.Hour), time.Date(y, m, d+1, 1, 0, 0, 0, ny))
			if n != c.minutes {
				t.Errorf("open %d minutes, want %d", n, c.minutes)
			}
			if n == 0 {
				return
			}
			const layout = "15:04 MST"
			if got := first.In(ny).Format(layout); got != c.from {
				t.Errorf("opens at %s, want %s", got, c.from)
			}
			if got := last.In(ny).Format(layout); got != c.to {
				t.Errorf("last open minute %s, want %s", got, c.to)
			}
		})
	}
}

// An overnight shift that spans the spring-forward night is an hour
// shorter in real time, and still belongs to the day it started on.
func TestOvernightAcrossDST(t *testing.T) {
	s, err := Compile([]Hours{{When: "Sat 22:00-06:00", Zone: "America/New_York"}})
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	saturday := time.Date(2026, 3, 7, 12, 0, 0, 0, ny)
	n, first, last := openMinutes(s, saturday, saturday.Add(24*time.Hour))
	if n != 7*60 {
		t.Errorf("open %d minutes, want %d (22:00 EST to 06:00 EDT)", n, 7*60)
	}
	if got := first.In(ny).Format("Mon 15:04 MST"); got != "Sat 22:00 EST" {
		t.Errorf("opens %s", got)
	}
	if got := last.In(ny).Format("Mon 15:04 MST"); got != "Sun 05:59 EDT" {
		t.Errorf("last open minute %s", got)
	}
}

func TestCompileAccepts(t *testing.T) {
	for _, when := range []string{
		"daily 00:00-24:00",
		"DAILY 08:00-09:00",
		"mon-fri 08:00-20:00", // day names in any case
		"Sun-Sat 00:00-00:01",
		"Sat-Sat 10:00-11:00",
		"Mon,Wed,Fri 23:00-01:00",
		"Fri-Mon,Wed 10:00-16:00",
		"  Mon   08:00-09:00  ", // any spacing
		"Mon 00:00-23:59",
	} {
		if _, err := Compile([]Hours{{When: when}}); err != nil {
			t.Errorf("%q: %v", when, err)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, when := range []string{
		"",
		"Mon",
		"Mon 08:00-20:00 extra",
		"Mon, 08:00-20:00",
		"Mon,,Tue 08:00-20:00",
		"Mon- 08:00-20:00",
		"Monday 08:00-20:00",
		"daily 08:00-",
		"daily -20:00",
		"daily 08-20",
		"daily 8:00-20:00",
		"daily 08:0-20:00",
		"daily 08:00-20:60",
		"daily 24:00-24:00",
		"daily 00:00-00:00",
		"daily 23:00-24:01",
		"daily 08:00-20:00-21:00",
	} {
		if _, err := Compile([]Hours{{When: when}}); err == nil {
			t.Errorf("%q accepted", when)
		}
	}
}

func TestScheduleMinuteBoundaries(t *testing.T) {
	s, err := Compile([]Hours{{When: "Mon 08:00-20:00"}})
	if err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at   time.Duration
		open bool
	}{
		{8*time.Hour - time.Nanosecond, false},
		{8 * time.Hour, true},
		{20*time.Hour - time.Nanosecond, true}, // 19:59:59.999: still the 19:59 minute
		{20 * time.Hour, false},
	} {
		if got := s.Open(monday.Add(c.at)); got != c.open {
			t.Errorf("at %s: open %v, want %v", monday.Add(c.at).Format("15:04:05.000"), got, c.open)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, 800 * time.Millisecond, 2 * time.Second, 90 * time.Minute} {
		raw, err := json.Marshal(Duration(d))
		if err != nil {
			t.Fatal(err)
		}
		if want := `"` + d.String() + `"`; string(raw) != want {
			t.Errorf("%s marshals as %s, want %s", d, raw, want)
		}
		var back Duration
		if err := json.Unmarshal(raw, &back); err != nil || time.Duration(back) != d {
			t.Errorf("%s round trip: %s, %v", d, time.Duration(back), err)
		}
	}

	// Caddy's own JSON writes durations as integer nanoseconds.
	var d Duration
	if err := json.Unmarshal([]byte(`800000000`), &d); err != nil || time.Duration(d) != 800*time.Millisecond {
		t.Errorf("nanoseconds: %s, %v", time.Duration(d), err)
	}
	for _, bad := range []string{`"fast"`, `"800"`, `1.5`, `true`, `"1s`, `{}`} {
		var d Duration
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%s accepted as %s", bad, time.Duration(d))
		}
	}
	var slo SLO
	if err := json.Unmarshal([]byte(`{"latency_target":0.95,"latency_threshold":"800ms"}`), &slo); err != nil {
		t.Fatal(err)
	}
	if slo.LatencyThreshold != Duration(800*time.Millisecond) {
		t.Errorf("threshold in an SLO: %s", time.Duration(slo.LatencyThreshold))
	}
}

func TestBannerEnabled(t *testing.T) {
	on, off := true, false
	cases := []struct {
		b    Backend
		want bool
	}{
		{Backend{Owner: Outsourced}, true},
		{Backend{Owner: InHouse}, false},
		{Backend{Owner: Outsourced, Banner: &off}, false},
		{Backend{Owner: InHouse, Banner: &on}, true},
	}
	for _, c := range cases {
		if got := c.b.BannerEnabled(); got != c.want {
			t.Errorf("owner %s banner %v: %v, want %v", c.b.Owner, c.b.Banner, got, c.want)
		}
	}
}

func TestContactHeaderValueEdgeCases(t *testing.T) {
	if got, err := (Contact{}).HeaderValue(); got != "" || err != nil {
		t.Errorf("empty contact: %q (%v)", got, err)
	}
	if !(Contact{}).IsZero() || (Contact{URL: "u"}).IsZero() {
		t.Error("IsZero")
	}
	got, err := Contact{Phone: `a\b`, URL: "u"}.HeaderValue()
	if want := `phone="a\\b", url="u"`; got != want || err != nil {
		t.Errorf("got %s (%v), want %s", got, err, want)
	}
}

func TestValidateMore(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(js []*Journey)
		want   string // "" means valid
	}{
		{"suffix path", func(js []*Journey) { js[0].Paths = []string{"*.php"} }, ""},
		{"dotted names", func(js []*Journey) { js[0].Name = "check.out"; js[0].Backends[0].Name = "shop.v2" }, ""},
		{"empty path", func(js []*Journey) { js[0].Paths = []string{""} }, `path "" must start with '/'`},
		{"no paths", func(js []*Journey) { js[0].Paths = nil }, `claims no path`},
		{"empty backend name", func(js []*Journey) { js[0].Backends[0].Name = "" }, "backend name is required"},
		{"backend name with slash", func(js []*Journey) { js[0].Backends[0].Name = "a/b" }, `backend name "a/b"`},
		{"vendor with newline", func(js []*Journey) { js[1].Backends[1].Vendor = "Night\nDesk" }, "control character"},
		{"vendor with DEL", func(js []*Journey) { js[1].Backends[1].Vendor = "Night\x7fDesk" }, "control character"},
		{"vendor with tab and accents", func(js []*Journey) { js[1].Backends[1].Vendor = "Nuit\tBPO Café" }, ""},
		{"outsourced without vendor", func(js []*Journey) { js[1].Backends[1].Vendor = "" }, ""},
		{"empty context field", func(js []*Journey) { js[0].Backends[0].Context = []string{""} }, "field name is empty"},
		{"latency target without threshold", func(js []*Journey) { js[1].Backends[1].SLO.LatencyThreshold = 0 }, "not a histogram bucket"},
		{"threshold without target", func(js []*Journey) { js[1].Backends[1].SLO.LatencyTarget = 0 }, "latency target 0%"},
		{"latency target 1", func(js []*Journey) { js[1].Backends[1].SLO.LatencyTarget = 1 }, "latency target 100%"},
		{"negative availability", func(js []*Journey) { js[1].Backends[1].SLO.Availability = -0.5 }, "availability -50%"},
		{"every bucket is a threshold", func(js []*Journey) {
			js[1].Backends[1].SLO.LatencyThreshold = Duration(30 * time.Second)
		}, ""},
		{"empty slo", func(js []*Journey) { js[1].Backends[1].SLO = &SLO{} }, ""},
		{"journey on_error closed", func(js []*Journey) { js[0].OnError = "closed" }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			js := validConfig()
			c.mutate(js)
			err := Validate("Acme", Contact{}, "", js)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
	if err := Validate("Acme", Contact{}, "closed", validConfig()); err != nil {
		t.Errorf("session on_error closed: %v", err)
	}
	if err := Validate("Acme", Contact{URL: "https://x/\x00"}, "", validConfig()); err == nil {
		t.Error("NUL in contact url accepted")
	}
	if err := Validate("  ", Contact{}, "", validConfig()); err == nil {
		t.Error("blank brand accepted")
	}
	if err := Validate("Acme", Contact{}, "", nil); err == nil || !strings.Contains(err.Error(), "no journey") {
		t.Errorf("no journeys: %v", err)
	}
}

// Every histogram bucket is accepted as a latency threshold, despite the
// float to Duration conversion (0.075 s is 74999999.99... ns).
func TestEveryBucketIsAThreshold(t *testing.T) {
	for _, b := range LatencyBuckets {
		d := Duration(time.Duration(b * float64(time.Second)))
		if err := validateSLO(&SLO{LatencyTarget: 0.9, LatencyThreshold: d}); err != nil {
			t.Errorf("bucket %v (%s): %v", b, time.Duration(d), err)
		}
	}
}
