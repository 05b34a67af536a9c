package scorecard

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Markdown writes the report as Markdown that pastes into a ticket: a summary of the missed
// objectives, then a table per journey with the in-house team first.
func (r *Report) Markdown(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# frontdoor scorecard: last %s\n\n", r.Range)
	fmt.Fprintf(&b, "%s to %s, from Prometheus at %s.\n\n", stamp(r.From), stamp(r.To), mdCell(r.Prometheus))
	if c := r.Coverage(); c != "" {
		fmt.Fprintf(&b, "**Partial period: %s** (since %s); the figures cover that much only.\n\n", c, stamp(r.DataFrom))
	}
	missed := r.missedLines()
	if len(missed) == 0 {
		b.WriteString("**Every backend met its objectives.**\n\n")
	} else {
		b.WriteString("**Missed objectives:**\n\n")
		for _, m := range missed {
			fmt.Fprintf(&b, "- %s\n", mdCell(m))
		}
		b.WriteString("\n")
	}
	cols := r.columns()
	for _, j := range r.Journeys {
		fmt.Fprintf(&b, "## Journey %s\n\n", mdCell(j.Name))
		var head, align []string
		for _, c := range cols {
			head = append(head, c.title)
			if c.right {
				align = append(align, "---:")
			} else {
				align = append(align, "---")
			}
		}
		fmt.Fprintf(&b, "| %s |\n| %s |\n", strings.Join(head, " | "), strings.Join(align, " | "))
		for _, be := range j.Backends {
			var cells []string
			for _, c := range cols {
				cell := c.cell(be)
				if c.verdict != nil && c.verdict(be) == Missed {
					cell = "**" + cell + "**"
				}
				cells = append(cells, mdCell(cell))
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		}
		b.WriteString("\n")
	}
	b.WriteString(legend(r))
	_, err := w.Write(b.Bytes())
	return err
}

// column is one column of the per-journey table.
type column struct {
	title   string
	right   bool
	cell    func(Backend) string
	verdict func(Backend) Verdict // set for the columns that say met or missed
}

func (r *Report) columns() []column {
	cols := []column{
		{title: "Backend", cell: func(b Backend) string { return b.Name }},
		{title: "Owner", cell: owner},
		{title: "Requests", right: true, cell: func(b Backend) string { return count(b.Requests) }},
		{title: "Availability", right: true, cell: func(b Backend) string { return ratio(b.Availability) }},
		{title: "Availability SLO", cell: func(b Backend) string { return slo(b.AvailabilityVerdict(), b.AvailabilityObjective) },
			verdict: Backend.AvailabilityVerdict},
		{title: "Error budget", right: true, cell: func(b Backend) string { return budget(b.AvailabilityBudgetLeft()) }},
		{title: "Within latency threshold", right: true, cell: func(b Backend) string {
			if b.LatencyCompliance == nil {
				return "—"
			}
			return ratio(b.LatencyCompliance) + " ≤ " + b.LatencyThreshold.String()
		}},
		{title: "Latency SLO", cell: func(b Backend) string { return slo(b.LatencyVerdict(), b.LatencyObjective) },
			verdict: Backend.LatencyVerdict},
		{title: "Error budget", right: true, cell: func(b Backend) string { return budget(b.LatencyBudgetLeft()) }},
		{title: "p95 latency", right: true, cell: func(b Backend) string {
			if b.P95 == nil {
				return "—"
			}
			return latency(*b.P95)
		}},
	}
	if r.ShopperPassRate {
		cols = append(cols, column{title: "Secret-shopper pass rate", right: true, cell: func(b Backend) string { return ratio(b.ShopperPassRate) }})
	}
	if r.FirstContactResolution {
		cols = append(cols, column{title: "First-contact resolution", right: true, cell: func(b Backend) string { return ratio(b.FirstContactResolution) }})
	}
	if r.HangupShare {
		cols = append(cols, column{title: "Hang-up share", right: true, cell: func(b Backend) string { return ratio(b.HangupShare) }})
	}
	if r.OrphanRate {
		cols = append(cols, column{title: "Orphans per contact", right: true, cell: func(b Backend) string {
			if b.OrphanObjective == nil || b.OrphanRate == nil {
				return ratio(b.OrphanRate)
			}
			return ratio(b.OrphanRate) + " (≤ " + objective(*b.OrphanObjective) + ")"
		}, verdict: Backend.OrphanVerdict})
	}
	if r.EscalationRate {
		cols = append(cols, column{title: "Escalations per contact", right: true, cell: func(b Backend) string { return ratio(b.EscalationRate) }})
	}
	if r.RatedResolution {
		cols = append(cols, column{title: "Customer-rated resolution", right: true, cell: func(b Backend) string { return ratio(b.RatedResolution) }})
	}
	return cols
}

// missedLines says, for each objective missed, who missed it and by how much.
func (r *Report) missedLines() []string {
	var out []string
	for _, j := range r.Journeys {
		for _, b := range j.Backends {
			who := fmt.Sprintf("%s / %s (%s)", j.Name, b.Name, owner(b))
			if b.AvailabilityVerdict() == Missed {
				out = append(out, fmt.Sprintf("%s: availability %s, objective %s, error budget %s", who, ratio(b.Availability),
					objective(*b.AvailabilityObjective), budget(b.AvailabilityBudgetLeft())))
			}
			if b.LatencyVerdict() == Missed {
				out = append(out, fmt.Sprintf("%s: %s of requests within %s, objective %s, error budget %s", who, ratio(b.LatencyCompliance),
					b.LatencyThreshold, objective(*b.LatencyObjective), budget(b.LatencyBudgetLeft())))
			}
			if b.OrphanVerdict() == Missed {
				out = append(out, fmt.Sprintf("%s: %s orphans per contact, objective at most %s", who, ratio(b.OrphanRate), objective(*b.OrphanObjective)))
			}
		}
	}
	return out
}

func legend(r *Report) string {
	s := "Availability: share of the requests not answered with a 5xx. Error budget: the failures the objective allows " +
		"in the period; \"spent 42×\" is 42 times as many as allowed, and the objective is missed past \"all spent\". Within latency threshold: share of the requests answered " +
		"within the `slo latency` duration. Objectives are the Caddyfile's `slo` lines; \"no SLO\" backends show what was measured."
	if r.ShopperPassRate {
		s += " Secret-shopper pass rate: share of the period the backend's probes passed."
	}
	if r.FirstContactResolution {
		s += " First-contact resolution: 1 − repeat contacts / contacts."
	}
	if r.HangupShare {
		s += " Hang-up share: share of chats and event streams the backend closed."
	}
	if r.OrphanRate {
		s += " Orphans per contact: customers the backend dropped (hung up, brand error page, repeat contact) per contact it took, against its `slo orphans` ceiling."
	}
	if r.EscalationRate {
		s += " Escalations per contact: customers who left its page for the brand's own team, per contact it took."
	}
	if r.RatedResolution {
		s += " Customer-rated resolution: share of known customers who answered yes to \"did this solve your problem?\"; anonymous answers are left out."
	}
	return s + "\n"
}

func owner(b Backend) string {
	if b.Owner == "outsourced" && b.Vendor != "" {
		return "outsourced: " + b.Vendor
	}
	return b.Owner
}

func slo(v Verdict, obj *float64) string {
	if obj == nil {
		return "no SLO"
	}
	return v.String() + " (≥ " + objective(*obj) + ")"
}

// ratio is a share as a percentage with two decimals, or a dash.
func ratio(f *float64) string {
	if f == nil {
		return "—"
	}
	return strconv.FormatFloat(*f*100, 'f', 2, 64) + "%"
}

// objective is a percentage as written in the Caddyfile: 99.5%, 95%.
func objective(f float64) string {
	return strconv.FormatFloat(math.Round(f*1e6)/1e4, 'f', -1, 64) + "%"
}

// budget says in words how much of its error budget a backend spent: "12% spent", "all
// spent", "spent 42×", from the budget left (1 untouched, 0 spent, below 0 overspent).
func budget(f *float64) string {
	if f == nil {
		return "—"
	}
	spent := 1 - *f
	switch {
	case spent <= 0:
		return "none spent"
	case spent < 0.995:
		return strconv.FormatFloat(math.Round(spent*100), 'f', 0, 64) + "% spent"
	case spent < 1.05:
		return "all spent"
	case spent < 10:
		return "spent " + strconv.FormatFloat(math.Round(spent*10)/10, 'f', -1, 64) + "×"
	default:
		return "spent " + strconv.FormatFloat(math.Round(spent), 'f', 0, 64) + "×"
	}
}

// count is a whole number with thousands separators.
func count(f float64) string {
	s := strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func latency(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
}

// clip shortens s to n characters for the chart's label column (the table has it whole).
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// mdCell makes a value safe in a Markdown table cell: no control characters, no cell breaks.
func mdCell(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.NewReplacer(`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}

//go:embed scorecard.html.tmpl
var htmlTemplate string

var page = template.Must(template.New("scorecard").Funcs(template.FuncMap{
	"stamp": stamp,
}).Parse(htmlTemplate))

// HTML writes the report as one self-contained page: inline CSS and SVG bars, no script and
// nothing loaded from the network, laid out to print.
func (r *Report) HTML(w io.Writer) error {
	type cell struct {
		Text          string
		Right, Missed bool
		// Verdict cells ("missed (≥ 99.5%)") break between words only.
		Verdict bool
	}
	type journey struct {
		Name  string
		Chart chart
		Rows  [][]cell
	}
	data := struct {
		*Report
		Missed   []string
		Headers  []cell
		Journeys []journey
		Legend   string
	}{Report: r, Missed: r.missedLines(), Legend: legend(r)}
	cols := r.columns()
	for _, c := range cols {
		data.Headers = append(data.Headers, cell{Text: c.title, Right: c.right})
	}
	for _, j := range r.Journeys {
		hj := journey{Name: j.Name, Chart: newChart(j)}
		for _, b := range j.Backends {
			var row []cell
			for _, c := range cols {
				row = append(row, cell{Text: c.cell(b), Right: c.right, Verdict: c.verdict != nil, Missed: c.verdict != nil && c.verdict(b) == Missed})
			}
			hj.Rows = append(hj.Rows, row)
		}
		data.Journeys = append(data.Journeys, hj)
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		return fmt.Errorf("rendering the scorecard: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// chart is a journey's bars: each backend's availability and share within its latency threshold,
// against its objective (a dashed tick).
type chart struct {
	Width, Height int
	Panels        []panel
	Rows          []chartRow
}

type panel struct {
	Title      string
	X, Width   float64
	Low, High  string // axis labels
	Empty      string // said instead of bars when no backend has the measure
	ValueX     float64
	AxisY      float64
	BarsHidden bool
}

type chartRow struct {
	Y             float64
	Name, Owner   string
	Bars          []bar
	TextY, OwnerY float64
}

type bar struct {
	X, Y, Width, Height      float64
	TrackX, TrackWidth       float64
	Class                    string // met, missed, none
	Objective                bool
	ObjectiveX               float64
	ObjectiveY1, ObjectiveY2 float64
	Text                     string
	TextX, TextY             float64
	Shown                    bool // the panel draws bars (some backend has the measure)
	Hidden                   bool // this backend has no value
}

const (
	labelWidth = 230.0
	trackWidth = 250.0
	valueWidth = 125.0
	rowHeight  = 38.0
	headHeight = 28.0
	barHeight  = 16.0
)

func newChart(j Journey) chart {
	measures := []struct {
		title string
		value func(Backend) *float64
		obj   func(Backend) *float64
		verd  func(Backend) Verdict
		empty string
	}{
		{"Availability", func(b Backend) *float64 { return b.Availability }, func(b Backend) *float64 { return b.AvailabilityObjective },
			Backend.AvailabilityVerdict, "no requests"},
		{"Within latency threshold", func(b Backend) *float64 { return b.LatencyCompliance }, func(b Backend) *float64 { return b.LatencyObjective },
			Backend.LatencyVerdict, "no backend has a latency SLO"},
	}
	c := chart{Width: int(labelWidth + float64(len(measures))*(trackWidth+valueWidth)), Height: int(headHeight + float64(len(j.Backends))*rowHeight + 18)}
	for i, b := range j.Backends {
		y := headHeight + float64(i)*rowHeight
		c.Rows = append(c.Rows, chartRow{Y: y, Name: clip(b.Name, 30), Owner: clip(owner(b), 36), TextY: y + 15, OwnerY: y + 30})
	}
	for m, ms := range measures {
		x := labelWidth + float64(m)*(trackWidth+valueWidth)
		low := 1.0
		for _, b := range j.Backends {
			for _, v := range []*float64{ms.value(b), ms.obj(b)} {
				if v != nil {
					low = math.Min(low, *v)
				}
			}
		}
		floor := axisFloor(low)
		p := panel{Title: ms.title, X: x, Width: trackWidth, Low: objective(floor), High: "100%", ValueX: x + trackWidth + 6,
			AxisY: headHeight + float64(len(j.Backends))*rowHeight + 12}
		any := false
		scale := func(v float64) float64 { return x + math.Max(0, math.Min(1, (v-floor)/(1-floor)))*trackWidth }
		for i, b := range j.Backends {
			y := headHeight + float64(i)*rowHeight + 4
			br := bar{X: x, Y: y, Height: barHeight, TrackX: x, TrackWidth: trackWidth, TextX: x + trackWidth + 6, TextY: y + 12}
			v, o := ms.value(b), ms.obj(b)
			if v == nil {
				br.Hidden = true
				br.Text = "—"
			} else {
				any = true
				br.Width = scale(*v) - x
				br.Text = ratio(v)
			}
			switch ms.verd(b) {
			case Met:
				br.Class = "met"
				br.Text += " met"
			case Missed:
				br.Class = "missed"
				br.Text += " MISSED"
			default:
				br.Class = "none"
			}
			if o != nil {
				br.Objective, br.ObjectiveX, br.ObjectiveY1, br.ObjectiveY2 = true, scale(*o), y-4, y+barHeight+4
			}
			c.Rows[i].Bars = append(c.Rows[i].Bars, br)
		}
		if !any {
			p.Empty, p.BarsHidden = ms.empty, true
		}
		for i := range c.Rows {
			c.Rows[i].Bars[m].Shown = any
		}
		c.Panels = append(c.Panels, p)
	}
	return c
}

// axisFloor is where a chart's bars start: the highest of 0, 50, 80, 90, 95, 98, 99, 99.5 and
// 99.9% that leaves the lowest value (or objective) a bar of at least a sixth of the track, so
// that 99.3% and 99.9% do not look alike and no bar vanishes. The axis says where it starts.
func axisFloor(low float64) float64 {
	floor := 0.0
	for _, f := range []float64{0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999} {
		if (low-f)/(1-f) >= 1.0/6 {
			floor = f
		}
	}
	return floor
}

// Formats are the output formats of Write.
var Formats = []string{"md", "html"}

// Write collects the report and writes it in format (md or html) to the file out, or to stdout
// when out is empty. Nothing is written when Prometheus cannot give the report.
func Write(ctx context.Context, opts Options, format, out string, stdout io.Writer) error {
	if !slices.Contains(Formats, format) {
		return fmt.Errorf("format %q: want md or html", format)
	}
	r, err := Collect(ctx, opts)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if format == "html" {
		err = r.HTML(&b)
	} else {
		err = r.Markdown(&b)
	}
	if err != nil {
		return err
	}
	if out == "" {
		_, err = stdout.Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the scorecard: %w", err)
	}
	return nil
}
