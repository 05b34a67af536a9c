package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
	"github.com/yaegashi/wtz.go"
)

// Closure is a day or a range of days on which a backend is closed
// whatever its hours: a public holiday, an inventory day, a team event.
type Closure struct {
	// Dates is the closed day or inclusive range of days: "2026-12-25",
	// "2026-12-24..2026-12-26", or the yearly forms "*-12-25" and
	// "*-12-24..*-12-26" (a yearly range may run over New Year, as
	// "*-12-31..*-01-01" does). A day runs from midnight to midnight in the
	// zone of the backend's hours, UTC when it has none. Required.
	Dates string `json:"dates"`

	// Reason says why, e.g. "Christmas Day"; the status endpoint shows it
	// while the closure applies. Printable text, at most 200 bytes.
	// Default: the dates.
	Reason string `json:"reason,omitempty"`
}

// maxReason bounds a closure's reason, from the config or from a
// calendar event's SUMMARY.
const maxReason = 200

// maxCalendar bounds the size of a holidays file: a public-holiday
// calendar for several countries and years is a few hundred KiB.
const maxCalendar = 4 << 20

// Closures is a backend's compiled closed dates and holiday calendars. A
// nil *Closures is never closed. It is safe for concurrent use.
type Closures struct {
	loc    *time.Location
	ranges []dateRange
	events []holiday
	state  atomic.Pointer[closedState] // the answer for a span of time
	mu     sync.Mutex                  // one evaluation at a time: rrule-go does not promise its sets are safe for concurrent use
}

// closedState is the answer of At for every instant in [from, until)
// that falls on the local day date (when the backend has dated closures).
type closedState struct {
	from, until time.Time
	date        int // yyyymmdd in the closures' zone
	closed      bool
	reason      string
}

// CompileClosures compiles a backend's closed dates and reads its holiday
// calendars, in the zone of its hours. It returns nil, and no error, when
// there are neither.
func CompileClosures(hours []Hours, closed []Closure, holidays []string) (*Closures, error) {
	if len(closed) == 0 && len(holidays) == 0 {
		return nil, nil
	}
	loc, err := closureZone(hours)
	if err != nil {
		return nil, err
	}
	c := &Closures{loc: loc}
	for _, cl := range closed {
		r, err := parseClosure(cl)
		if err != nil {
			return nil, err
		}
		c.ranges = append(c.ranges, r)
	}
	for _, path := range holidays {
		events, err := loadHolidays(path, loc)
		if err != nil {
			return nil, err
		}
		c.events = append(c.events, events...)
	}
	return c, nil
}

// CheckClosure reports what is wrong with a closed line, so the
// Caddyfile adapter can name its line.
func CheckClosure(c Closure) error {
	_, err := parseClosure(c)
	return err
}

// CheckHolidays reads and parses a holidays file, so the Caddyfile
// adapter can name the line of a missing or invalid one.
func CheckHolidays(path string) error {
	_, err := loadHolidays(path, time.UTC)
	return err
}

// closureZone is the zone closed days are counted in: that of the
// backend's hours, which must then all be in one zone, or UTC.
func closureZone(hours []Hours) (*time.Location, error) {
	name := ""
	for i, h := range hours {
		z := h.Zone
		if z == "" {
			z = "UTC"
		}
		if i > 0 && z != name {
			return nil, fmt.Errorf("closed days are counted in the zone of the backend's hours, but its hours are in %s and %s: write them in one zone", name, z)
		}
		name = z
	}
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as America/New_York", name)
	}
	return loc, nil
}

// At reports whether the backend is closed at t, and why. Answers are
// kept until the next change (the next local midnight, the start or end of
// a calendar event), so a request pays two time comparisons and, with
// dated closures, one zone conversion.
func (c *Closures) At(t time.Time) (reason string, closed bool) {
	if c == nil {
		return "", false
	}
	if s := c.state.Load(); c.holds(s, t) {
		return s.reason, s.closed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.state.Load()
	if !c.holds(s, t) {
		s = c.evaluate(t)
		c.state.Store(s)
	}
	return s.reason, s.closed
}

// holds reports whether the kept answer s is the answer at t.
func (c *Closures) holds(s *closedState, t time.Time) bool {
	return s != nil && !t.Before(s.from) && t.Before(s.until) &&
		(len(c.ranges) == 0 || localDate(t, c.loc) == s.date)
}

func localDate(t time.Time, loc *time.Location) int {
	y, m, d := t.In(loc).Date()
	return y*10000 + int(m)*100 + d
}

var endOfTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// evaluate works out the answer at t and until when it holds: closed
// dates first, then calendar events, each in the order written.
func (c *Closures) evaluate(t time.Time) *closedState {
	s := &closedState{from: t, until: endOfTime, date: localDate(t, c.loc)}
	for _, r := range c.ranges {
		if r.contains(s.date) {
			s.closed, s.reason = true, r.reason
			break
		}
	}
	for i := range c.events {
		h := &c.events[i]
		active, change := h.at(t)
		if active && !s.closed {
			s.closed, s.reason = true, h.reason
		}
		if !change.IsZero() && change.Before(s.until) {
			s.until = change
		}
	}
	return s
}

// dateRange is a compiled Closure.
type dateRange struct {
	yearly   bool
	from, to int // yyyymmdd, or mmdd when yearly; to < from wraps over New Year
	reason   string
}

func (r dateRange) contains(date int) bool {
	if r.yearly {
		date %= 10000
		if r.to < r.from {
			return date >= r.from || date <= r.to
		}
	}
	return date >= r.from && date <= r.to
}

func parseClosure(c Closure) (dateRange, error) {
	spec := strings.TrimSpace(c.Dates)
	first, last, isRange := strings.Cut(spec, "..")
	if !isRange {
		last = first
	}
	r := dateRange{reason: c.Reason}
	fromYearly, from, err := parseDay(first)
	if err != nil {
		return r, fmt.Errorf("closed %q: %v", c.Dates, err)
	}
	toYearly, to, err := parseDay(last)
	if err != nil {
		return r, fmt.Errorf("closed %q: %v", c.Dates, err)
	}
	if fromYearly != toYearly {
		return r, fmt.Errorf("closed %q: write both ends yearly (*-12-24..*-12-26) or both with a year (2026-12-24..2026-12-26)", c.Dates)
	}
	r.yearly, r.from, r.to = fromYearly, from, to
	if to < from {
		if !r.yearly {
			return r, fmt.Errorf("closed %q: the range ends before it starts: write the earlier day first", c.Dates)
		}
		// A yearly range may run over New Year; one that would close the
		// backend for most of the year is a reversed range.
		start := time.Date(2001, time.Month(from/100), from%100, 0, 0, 0, 0, time.UTC)
		end := time.Date(2002, time.Month(to/100), to%100, 0, 0, 0, 0, time.UTC)
		if days := int(end.Sub(start).Hours()/24) + 1; days > 183 {
			return r, fmt.Errorf("closed %q: the range ends before it starts (running over New Year it would close the backend %d days a year): write the earlier day first", c.Dates, days)
		}
	}
	if r.reason == "" {
		r.reason = spec
	}
	if err := checkReason(c.Reason); err != nil {
		return r, fmt.Errorf("closed %q: %v", c.Dates, err)
	}
	return r, nil
}

// parseDay reads YYYY-MM-DD as yyyymmdd, or *-MM-DD (every year) as mmdd.
func parseDay(s string) (yearly bool, key int, err error) {
	layout := "2006-01-02"
	if rest, ok := strings.CutPrefix(s, "*-"); ok {
		yearly, s = true, "2000-"+rest // a leap year, so *-02-29 is a day
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return false, 0, fmt.Errorf("want a day that exists as YYYY-MM-DD, or *-MM-DD for every year, e.g. 2026-12-25 or *-12-25")
	}
	if yearly {
		return true, int(t.Month())*100 + t.Day(), nil
	}
	return false, t.Year()*10000 + int(t.Month())*100 + t.Day(), nil
}

func checkReason(r string) error {
	if !utf8.ValidString(r) {
		return fmt.Errorf("reason %q is not valid UTF-8", r)
	}
	for _, c := range r {
		if unicode.IsControl(c) {
			return fmt.Errorf("reason %q contains a control character", r)
		}
	}
	if len(r) > maxReason {
		return fmt.Errorf("reason is %d bytes: keep it under %d", len(r), maxReason)
	}
	return nil
}

// holiday is one event of a holidays calendar: a single occurrence or a
// recurrence set.
type holiday struct {
	reason string
	start  time.Time      // the first occurrence; of an all-day event, its date's midnight in UTC
	allDay bool           // its occurrences are dates, floating: each is that day in loc
	loc    *time.Location // the zone of the backend's hours, where an all-day event's days are
	days   int            // calendar days of its length
	length time.Duration  // the exact rest of its length
	set    *rrule.Set     // nil for a single occurrence
}

// end is when the occurrence starting at start ends: its days are
// calendar days (an all-day event ends at a local midnight, a timed one of
// DURATION:P1D at the same local time the next day, whatever a DST change
// did to the day's length), then its exact length.
func (h *holiday) end(start time.Time) time.Time {
	return start.AddDate(0, 0, h.days).Add(h.length)
}

// span is when the occurrence at occ runs. An all-day event's occurrence
// is a date (its midnight in UTC, where no day is skipped: recurrences are
// worked out on dates, as RFC 5545's floating dates are): it runs from the
// first instant of that day in loc to the first instant of the day its
// days end on, whatever a DST change did to the midnights between.
func (h *holiday) span(occ time.Time) (start, end time.Time) {
	if !h.allDay {
		return occ, h.end(occ)
	}
	y, m, d := occ.Date()
	return firstInstant(y, m, d, h.loc), firstInstant(y, m, d+h.days, h.loc).Add(h.length)
}

// firstInstant is the first instant of a day in loc: its midnight, or,
// where the zone skips that midnight (Santiago, Havana, Beirut move their
// clocks at 00:00), the instant the day begins at.
func firstInstant(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if t.Hour() == 0 && t.Minute() == 0 {
		return t
	}
	start, _ := time.Date(y, m, d, 12, 0, 0, 0, loc).ZoneBounds()
	return start
}

// at reports whether an occurrence covers t, and the next instant after t
// at which that may change (zero for never).
func (h *holiday) at(t time.Time) (active bool, change time.Time) {
	earliest := func(v time.Time) {
		if change.IsZero() || v.Before(change) {
			change = v
		}
	}
	if h.set == nil {
		start, end := h.span(h.start)
		switch {
		case t.Before(start):
			return false, start
		case t.Before(end):
			return true, end
		}
		return false, time.Time{}
	}
	next := h.set.Iterator()
	for {
		occ, ok := next()
		if !ok {
			break
		}
		start, end := h.span(occ)
		if start.After(t) {
			earliest(start)
			break
		}
		if t.Before(end) {
			active = true
			earliest(end)
		}
	}
	return active, change
}

// loadHolidays reads an iCalendar file: each event closes the backend
// while it runs. Dates and floating times are in loc.
func loadHolidays(path string, loc *time.Location) ([]holiday, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("holidays: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCalendar+1))
	if err != nil {
		return nil, fmt.Errorf("holidays: %v", err)
	}
	if len(data) > maxCalendar {
		return nil, fmt.Errorf("holidays %q: over %d MiB: is it a calendar?", path, maxCalendar>>20)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(data)).Decode()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("holidays %q: not an iCalendar file: it is empty or ends before END:VCALENDAR", path)
	}
	if err != nil {
		return nil, fmt.Errorf("holidays %q: not an iCalendar file: %v", path, err)
	}
	var out []holiday
	masters := map[string]int{} // UID -> index in out, of recurring events
	type instance struct {
		uid string
		id  time.Time
		ev  ical.Event
	}
	var instances []instance // RECURRENCE-ID: one changed occurrence of a recurring event
	for _, ev := range cal.Events() {
		ianaZones(ev.Props)
		name := eventName(ev)
		uid, _ := ev.Props.Text(ical.PropUID)
		if rid := ev.Props.Get(ical.PropRecurrenceID); rid != nil {
			id, _, err := propTime(*rid, loc)
			if err != nil {
				return nil, fmt.Errorf("holidays %q: event %q: RECURRENCE-ID %q: %v", path, name, rid.Value, err)
			}
			instances = append(instances, instance{uid, id, ev})
			continue
		}
		if cancelled(ev) {
			continue
		}
		h, err := parseEvent(ev, loc)
		if err != nil {
			return nil, fmt.Errorf("holidays %q: event %q: %v", path, name, err)
		}
		if h == nil {
			continue
		}
		if h.set != nil && uid != "" {
			masters[uid] = len(out)
		}
		if out = append(out, *h); len(out) > maxHolidayEvents {
			return nil, fmt.Errorf("holidays %q: over %d events: a closure calendar holds the days a backend is closed, and each event is evaluated on the request path", path, maxHolidayEvents)
		}
	}
	// A changed occurrence replaces the one of its recurring event;
	// a cancelled one just removes it.
	for _, in := range instances {
		if i, ok := masters[in.uid]; ok {
			out[i].set.ExDate(in.id)
		}
		if cancelled(in.ev) {
			continue
		}
		h, err := parseEvent(in.ev, loc)
		if err != nil {
			return nil, fmt.Errorf("holidays %q: event %q: %v", path, eventName(in.ev), err)
		}
		if h != nil {
			h.set = nil // an instance is a single occurrence
			out = append(out, *h)
		}
	}
	return out, nil
}

func cancelled(ev ical.Event) bool {
	s, _ := ev.Props.Text(ical.PropStatus)
	return strings.EqualFold(s, string(ical.EventCancelled))
}

// eventName names an event in errors: its summary, else its UID.
func eventName(ev ical.Event) string {
	if s := summary(ev); s != "" {
		return s
	}
	uid, _ := ev.Props.Text(ical.PropUID)
	return uid
}

// summary is the event's SUMMARY unescaped, on one line, bounded: it is
// shown to operators as the reason the backend is closed.
func summary(ev ical.Event) string {
	p := ev.Props.Get(ical.PropSummary)
	if p == nil {
		return ""
	}
	text := p.Value
	if parts, err := p.TextList(); err == nil {
		text = strings.Join(parts, ",") // SUMMARY is one text: its commas are not a list
	}
	text = strings.Join(strings.FieldsFunc(strings.ToValidUTF8(text, "?"), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	for len(text) > maxReason {
		_, size := utf8.DecodeLastRuneInString(text)
		text = text[:len(text)-size]
	}
	return text
}

// parseEvent compiles one event, or returns nil for one that closes
// nothing (a timed event without end or duration lasts no time).
func parseEvent(ev ical.Event, loc *time.Location) (*holiday, error) {
	h := &holiday{reason: summary(ev)}
	if h.reason == "" {
		h.reason = "holiday"
	}
	sp := ev.Props.Get(ical.PropDateTimeStart)
	if sp == nil {
		return nil, errors.New("it has no DTSTART")
	}
	start, allDay, err := propTime(*sp, loc)
	if err != nil {
		return nil, fmt.Errorf("DTSTART %q: %v", sp.Value, err)
	}
	h.start, h.allDay, h.loc = start, allDay, loc
	switch ep, dp := ev.Props.Get(ical.PropDateTimeEnd), ev.Props.Get(ical.PropDuration); {
	case ep != nil:
		end, endAllDay, err := propTime(*ep, loc)
		if err != nil {
			return nil, fmt.Errorf("DTEND %q: %v", ep.Value, err)
		}
		if allDay && endAllDay {
			h.days = daysBetween(start, end)
		} else {
			h.length = end.Sub(start)
		}
		if end.Before(start) {
			return nil, fmt.Errorf("it ends (%s) before it starts (%s)", ep.Value, sp.Value)
		}
	case dp != nil:
		d, err := dp.Duration()
		if err != nil {
			return nil, fmt.Errorf("DURATION %q: %v", dp.Value, err)
		}
		if d < 0 {
			return nil, fmt.Errorf("DURATION %q is negative", dp.Value)
		}
		// Its weeks and days are nominal, as RFC 5545 counts them
		// (3.3.6), for timed events too; the rest is exact.
		h.days = nominalDays(dp.Value)
		h.length = d - time.Duration(h.days)*24*time.Hour
	case allDay:
		h.days = 1
	}
	if h.days == 0 && h.length == 0 {
		return nil, nil
	}
	return h, parseRecurrence(ev, h, loc)
}

// Bounds of a holidays calendar: how many events it may hold, and how
// soon after its start each recurring event must occur. The closures are
// evaluated on the request path: a rule that never occurs (February 30th)
// would have its iterator run to the year 9999 each time.
const (
	maxHolidayEvents  = 1000
	occurrenceHorizon = 10 // years
)

// occursSoon reports whether a rule occurs within occurrenceHorizon years
// of its start. The check's copy of the rule ends there (rrule-go's
// iterator looks for the next occurrence until UNTIL, or the year 9999).
func occursSoon(opt rrule.ROption) bool {
	horizon := opt.Dtstart.AddDate(occurrenceHorizon, 0, 0)
	if opt.Until.IsZero() || opt.Until.After(horizon) {
		opt.Until = horizon
	}
	rule, err := rrule.NewRRule(opt)
	if err != nil {
		return false
	}
	_, ok := rule.Iterator()()
	return ok
}

// parseRecurrence gives h its recurrence set when the event has RRULE or
// RDATE, less its EXDATEs. DTSTART is always the first occurrence.
func parseRecurrence(ev ical.Event, h *holiday, loc *time.Location) error {
	rr := ev.Props.Get(ical.PropRecurrenceRule)
	rdates := ev.Props.Values(ical.PropRecurrenceDates)
	if rr == nil && len(rdates) == 0 {
		return nil
	}
	set := &rrule.Set{}
	if rr != nil {
		opt, err := rrule.StrToROptionInLocation(rr.Value, h.start.Location())
		if err != nil {
			return fmt.Errorf("RRULE %q: %v", rr.Value, err)
		}
		if opt.Freq > rrule.DAILY {
			return fmt.Errorf("RRULE %q repeats more often than daily: a closure calendar is made of days and events, not hourly slots", rr.Value)
		}
		opt.Dtstart = h.start
		rule, err := rrule.NewRRule(*opt)
		if err != nil {
			return fmt.Errorf("RRULE %q: %v", rr.Value, err)
		}
		if !occursSoon(*opt) {
			return fmt.Errorf("RRULE %q never occurs within %d years of DTSTART (a date no month has?): its iterator would run to the year 9999 on every evaluation", rr.Value, occurrenceHorizon)
		}
		set.RRule(rule)
	}
	set.DTStart(h.start)
	set.RDate(h.start)
	for _, p := range rdates {
		times, err := propTimes(p, loc)
		if err != nil {
			return fmt.Errorf("RDATE %q: %v", p.Value, err)
		}
		for _, t := range times {
			set.RDate(t)
		}
	}
	for _, p := range ev.Props.Values(ical.PropExceptionDates) {
		times, err := propTimes(p, loc)
		if err != nil {
			return fmt.Errorf("EXDATE %q: %v", p.Value, err)
		}
		for _, t := range times {
			set.ExDate(t)
		}
	}
	h.set = set
	return nil
}

// ianaZones rewrites each TZID that names a Windows zone, as Outlook and
// Exchange write them ("Eastern Standard Time"), to the IANA zone that
// CLDR's windowsZones table gives for it, so that the times read as the
// calendar meant them. IANA names are left as they are: no Windows name
// is one.
func ianaZones(props ical.Props) {
	for _, ps := range props {
		for _, p := range ps {
			if iana, ok := wtz.WindowsToUnixMap[p.Params.Get(ical.ParamTimezoneID)]; ok {
				p.Params.Set(ical.ParamTimezoneID, iana)
			}
		}
	}
}

// propTime reads a DATE or DATE-TIME property: a date is its midnight in
// UTC (a floating date, which holiday.span places in loc); a floating time
// is in loc; a time with TZID or Z is that instant. A date written without
// VALUE=DATE, as some calendars do, is a date too.
func propTime(p ical.Prop, loc *time.Location) (time.Time, bool, error) {
	allDay := p.ValueType() == ical.ValueDate
	if !allDay && len(p.Value) == 8 && p.Params.Get(ical.ParamValue) == "" {
		allDay = true
		p = ical.Prop{Name: p.Name, Params: ical.Params{ical.ParamValue: {string(ical.ValueDate)}}, Value: p.Value}
	}
	if allDay {
		loc = time.UTC // a date, floating: its midnight in UTC (see holiday.span)
	}
	t, err := p.DateTime(loc)
	if err != nil {
		return time.Time{}, false, err
	}
	return t, allDay, nil
}

// propTimes reads a property that lists several dates or times.
func propTimes(p ical.Prop, loc *time.Location) ([]time.Time, error) {
	var out []time.Time
	for _, v := range strings.Split(p.Value, ",") {
		q := p
		q.Value = strings.TrimSpace(v)
		t, _, err := propTime(q, loc)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// nominalDays is the days a DURATION value's week or day part counts
// ("P2W" 14, "P1DT12H" 1, "PT36H" 0).
func nominalDays(value string) int {
	v := strings.TrimLeft(value, "+-")
	v, _, _ = strings.Cut(strings.TrimPrefix(v, "P"), "T")
	unit := 1
	switch {
	case strings.HasSuffix(v, "W"):
		v, unit = strings.TrimSuffix(v, "W"), 7
	case strings.HasSuffix(v, "D"):
		v = strings.TrimSuffix(v, "D")
	default:
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return n * unit
}

// daysBetween counts the calendar days from a's date to b's.
func daysBetween(a, b time.Time) int {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return int(time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC).Sub(time.Date(ay, am, ad, 0, 0, 0, 0, time.UTC)).Hours() / 24)
}
