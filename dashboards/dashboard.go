package dashboards

// The Grafana dashboard as code, built with Grafana's typed builders
// (github.com/grafana/grafana-foundation-sdk/go). frontdoor.json is its output:
// edit this file, then run `go generate ./dashboards`; TestDashboardJSONIsGenerated
// fails while the committed JSON differs from what this code generates.

//go:generate go run ./gen frontdoor.json

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// DashboardUID is the dashboard's uid: provisioning, links and bookmarks use it.
const DashboardUID = "frontdoor-journeys"

// datasource is the dashboard's only datasource: the Prometheus chosen in its
// "Data source" variable. No datasource uid is hard-coded.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// Dashboard builds the Grafana dashboard "frontdoor: journeys, vendors and SLOs".
// Rows and panels flow left to right on Grafana's 24-column grid, and panels are
// numbered in the order they appear.
func Dashboard() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("frontdoor: journeys, vendors and SLOs").
		Uid(DashboardUID).
		Description("Per journey: traffic by owner, in-house vs outsourced errors and latency, each backend against its SLO, routing, customer-context lookups, banners and brand error pages. See dashboards/README.md.").
		Tags([]string{"frontdoor", "caddy", "slo"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Timezone(common.TimeZoneBrowser).
		Refresh("1m").
		Time("now-6h", "now").
		Version(1).
		Link(dashboard.NewDashboardLinkBuilder("Runbooks").
			Type(dashboard.DashboardLinkTypeLink).
			Url("https://github.com/frontdoor-dev/frontdoor/blob/main/dashboards/README.md").
			TargetBlank(true).
			Icon("doc").
			Tooltip("dashboards/README.md").
			AsDropdown(false).
			IncludeVars(false).
			KeepTime(false).
			Tags([]string{})).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus")).
		WithVariable(labelVariable("journey", "Journey", `label_values(frontdoor_requests_total, journey)`)).
		WithVariable(labelVariable("backend", "Backend", `label_values(frontdoor_requests_total{journey=~"$journey"}, backend)`)).
		WithVariable(labelVariable("instance", "Instance", `label_values(frontdoor_requests_total{journey=~"$journey"}, instance)`)).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("Routing overrides").
			Datasource(datasource).
			Enable(true).
			Hide(false).
			IconColor("orange").
			// The query goes in target, where Grafana's Prometheus plugin
			// moves a legacy top-level expr and step; the schema knows
			// no top-level query fields.
			Target(prometheus.NewDataqueryBuilder().
				Datasource(datasource).
				RefId("Anno").
				Expr(`sum by (journey, backend) (journey_backend_reason:frontdoor_routing_decisions:rate5m{journey=~"$journey", reason="override"}) > 0`).
				Interval("1m")))

	for _, row := range []func(*dashboard.DashboardBuilder){
		trafficRow, comparisonRow, serviceLevelRow, routingRow, contextRow, customerRow, experienceRow, rescueRow,
	} {
		row(b)
	}
	d, err := b.Build()
	if err != nil {
		return d, fmt.Errorf("building the dashboard: %w", err)
	}
	for i := range d.Templating.List {
		v := &d.Templating.List[i]
		if v.Type == dashboard.VariableTypeDatasource {
			v.Refresh = cog.ToPtr(dashboard.VariableRefreshOnDashboardLoad) // the builder has no Refresh for it
		}
		// The SDK sets the interval variable's auto fields on every
		// variable; Grafana's schema has them on none.
		v.Auto, v.AutoMin, v.AutoCount = nil, nil, nil
	}
	id := uint32(0)
	for _, p := range d.Panels {
		id++
		switch {
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		case p.Panel != nil:
			p.Panel.Id = cog.ToPtr(id)
			// The SDK gives every table the footer Grafana 12 replaced
			// with per-field footers; its schema no longer has it.
			if o, ok := p.Panel.Options.(*table.Options); ok {
				o.Footer = nil
			}
		}
	}
	return d, nil
}

// GenerateDashboardJSON returns the dashboard as written to frontdoor.json.
func GenerateDashboardJSON() ([]byte, error) {
	d, err := Dashboard()
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the dashboard: %w", err)
	}
	return append(out, '\n'), nil
}

// labelVariable is a multi-select variable over the values of a label, "All" (any value) by default.
func labelVariable(name, label, definition string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(datasource).
		Query(dashboard.StringOrMap{Map: map[string]any{
			"query": definition,
			"refId": "PrometheusVariableQueryEditor-VariableQuery",
		}}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		}).
		Regex("")
}

// query is a range query of a time series or stat panel.
func query(refID, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasource).
		RefId(refID).
		Expr(expr).
		LegendFormat(legend).
		EditorMode(prometheus.QueryEditorModeCode).
		Range()
}

// tableQuery is an instant query of a table panel, one row per series.
func tableQuery(refID, expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasource).
		RefId(refID).
		Expr(expr).
		LegendFormat("").
		EditorMode(prometheus.QueryEditorModeCode).
		Instant().
		Format(prometheus.PromQueryFormatTable)
}

func targets(qs []*prometheus.DataqueryBuilder) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(qs))
	for i, q := range qs {
		out[i] = q
	}
	return out
}

// step is a threshold step above the base color.
type step struct {
	value float64
	color string
}

func at(value float64, color string) step { return step{value, color} }

// thresholds is base color from minus infinity, then each step from its value up.
func thresholds(base string, steps ...step) *dashboard.ThresholdsConfigBuilder {
	list := []dashboard.Threshold{{Value: nil, Color: base}}
	for _, s := range steps {
		list = append(list, dashboard.Threshold{Value: cog.ToPtr(s.value), Color: s.color})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(list)
}

// thresholdLines draws a panel's thresholds as lines with shaded areas (alert levels).
func thresholdLines() *common.GraphThresholdsStyleConfigBuilder {
	return common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLineAndArea)
}

// timeSeries is a line chart with a table legend (last and max value of each series).
func timeSeries(title, description, unit string, width, height uint32, fill float64, stacking common.StackingMode, qs []*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource).
		Span(width).
		Height(height).
		Targets(targets(qs)).
		Unit(unit).
		DrawStyle(common.GraphDrawStyleLine).
		LineWidth(1).
		FillOpacity(fill).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)}).
		Stacking(common.NewStackingConfigBuilder().Mode(stacking).Group("A")).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeOff)).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdPaletteClassic)).
		Thresholds(thresholds("green")).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true).
			Calcs([]string{"lastNotNull", "max"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
}

// lines: one line per series, to compare them.
func lines(title, description, unit string, width, height uint32, qs ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return timeSeries(title, description, unit, width, height, 0, common.StackingModeNone, qs)
}

// stacked: filled areas stacked on each other, parts of a whole (traffic by owner, by reason...).
func stacked(title, description, unit string, width, height uint32, qs ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return timeSeries(title, description, unit, width, height, 20, common.StackingModeNormal, qs)
}

// dashed draws the matching series dashed (objectives, alert thresholds), in color if one is given.
func dashed(color ...string) []dashboard.DynamicConfigValue {
	props := []dashboard.DynamicConfigValue{{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []float64{10, 10}}}}
	for _, c := range color {
		props = append(props, dashboard.DynamicConfigValue{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": c}})
	}
	return props
}

// statPanel is one big number per series (last value), colored by its thresholds.
func statPanel(title, description, unit string, width, height uint32, colors *dashboard.ThresholdsConfigBuilder, qs ...*prometheus.DataqueryBuilder) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource).
		Span(width).
		Height(height).
		Targets(targets(qs)).
		Unit(unit).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Thresholds(colors).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Fields("").Values(false)).
		ColorMode(common.BigValueColorModeValue).
		GraphMode(common.BigValueGraphModeArea).
		JustifyMode(common.BigValueJustifyModeAuto).
		Orientation(common.VizOrientationAuto).
		TextMode(common.BigValueTextModeAuto)
}

// budgetGauge is a horizontal bar per backend of the share of an error budget left
// (red below 0: spent, orange below 25%).
func budgetGauge(title, description string, width, height uint32, qs ...*prometheus.DataqueryBuilder) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource).
		Span(width).
		Height(height).
		Targets(targets(qs)).
		Unit("percentunit").
		Min(0).
		Max(1).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Thresholds(thresholds("red", at(0, "orange"), at(0.25, "green"))).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Fields("").Values(false)).
		Orientation(common.VizOrientationHorizontal).
		DisplayMode(common.BarGaugeDisplayModeGradient).
		ShowUnfilled(true).
		ValueMode(common.BarGaugeValueModeColor).
		NamePlacement(common.BarGaugeNamePlacementAuto).
		Sizing(common.BarGaugeSizingAuto).
		MinVizHeight(16).
		MinVizWidth(8).
		MaxVizHeight(300)
}

// tablePanel merges its instant queries into one row per label set; columns
// "Value #<refId>" are renamed by rename, and Time, __name__, job and instance are hidden.
func tablePanel(title, description string, width, height uint32, rename map[string]string, qs ...*prometheus.DataqueryBuilder) *table.PanelBuilder {
	renameByName := map[string]any{}
	for k, v := range rename {
		renameByName[k] = v
	}
	return table.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource).
		Span(width).
		Height(height).
		Targets(targets(qs)).
		Align(common.FieldTextAlignmentAuto).
		CellOptions(common.TableCellOptions{TableAutoCellOptions: &common.TableAutoCellOptions{Type: "auto"}}).
		Thresholds(thresholds("green")).
		ShowHeader(true).
		CellHeight(common.TableCellHeightSm).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true, "__name__": true, "job": true, "instance": true},
			"renameByName":  renameByName,
			"indexByName":   map[string]any{},
		}})
}

// unit sets a table column's unit.
func unit(u string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "unit", Value: u}}
}

// coloredCell sets a table column's unit and colors its text by thresholds.
func coloredCell(u string, colors *dashboard.ThresholdsConfigBuilder) []dashboard.DynamicConfigValue {
	t, err := colors.Build()
	if err != nil {
		panic(err) // thresholds() builds no invalid config
	}
	return []dashboard.DynamicConfigValue{
		{Id: "unit", Value: u},
		{Id: "thresholds", Value: t},
		{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}},
	}
}

// trafficRow: how much of each journey the in-house team and each vendor carry, and what customers get.
func trafficRow(b *dashboard.DashboardBuilder) {
	b.
		WithRow(dashboard.NewRowBuilder("Traffic by owner")).
		WithPanel(stacked("Requests/s by owner",
			"Answers: how much of each journey's traffic the in-house team and the vendors carry. Source: journey_backend:frontdoor_requests:rate5m (all instances).",
			"reqps", 12, 8,
			query("A", `sum by (journey, owner) (journey_backend:frontdoor_requests:rate5m{journey=~"$journey", backend=~"$backend"})`, "{{journey}} · {{owner}}"),
		)).
		WithPanel(stacked("Requests/s by backend",
			"Answers: which backend serves each journey right now (opening hours, failovers and overrides move traffic). Source: journey_backend:frontdoor_requests:rate5m.",
			"reqps", 12, 8,
			query("A", `sum by (journey, backend, owner, vendor) (journey_backend:frontdoor_requests:rate5m{journey=~"$journey", backend=~"$backend"})`, "{{journey}} / {{backend}} ({{owner}} {{vendor}})"),
		)).
		WithPanel(statPanel("Outsourced share of traffic",
			"Answers: which part of each journey's requests a vendor answered over the last 5 minutes.",
			"percentunit", 6, 8, thresholds("blue"),
			query("A", `sum by (journey) (journey_backend:frontdoor_requests:rate5m{journey=~"$journey", backend=~"$backend", owner="outsourced"})
/
sum by (journey) (journey_backend:frontdoor_requests:rate5m{journey=~"$journey", backend=~"$backend"})`, "{{journey}}"),
		)).
		WithPanel(stacked("Responses/s by status code",
			"Answers: what status codes customers get, per gateway instance selection. Source: frontdoor_requests_total.",
			"reqps", 10, 8,
			query("A", `sum by (code) (rate(frontdoor_requests_total{journey=~"$journey", backend=~"$backend", instance=~"$instance"}[$__rate_interval]))`, "{{code}}"),
		)).
		WithPanel(lines("Requests/s by gateway instance",
			"Answers: is the load balancer spreading traffic evenly over the frontdoor instances. Source: frontdoor_requests_total.",
			"reqps", 8, 8,
			query("A", `sum by (instance) (rate(frontdoor_requests_total{journey=~"$journey", backend=~"$backend", instance=~"$instance"}[$__rate_interval]))`, "{{instance}}"),
		))
}

// comparisonRow: on the same journey, does the vendor fail more or answer more slowly than the in-house team?
func comparisonRow(b *dashboard.DashboardBuilder) {
	b.
		WithRow(dashboard.NewRowBuilder("In-house vs outsourced: errors and latency")).
		WithPanel(tablePanel("Same journey, in-house next to outsourced (last 5m)",
			"Answers: on each journey, how the vendors compare with the in-house team right now: traffic, share of 5xx answers, p50/p95/p99 latency. Source: journey_owner:* recording rules (all backends of that owner on the journey, all instances).",
			24, 7, map[string]string{"Value #A": "Requests/s", "Value #B": "Error ratio", "Value #C": "p50", "Value #D": "p95", "Value #E": "p99"},
			tableQuery("A", `max by (journey, owner) (journey_owner:frontdoor_requests:rate5m{journey=~"$journey"})`),
			tableQuery("B", `max by (journey, owner) (journey_owner:frontdoor_requests_errors:ratio_rate5m{journey=~"$journey"})`),
			tableQuery("C", `max by (journey, owner) (journey_owner:frontdoor_request_duration_seconds:p50_rate5m{journey=~"$journey"})`),
			tableQuery("D", `max by (journey, owner) (journey_owner:frontdoor_request_duration_seconds:p95_rate5m{journey=~"$journey"})`),
			tableQuery("E", `max by (journey, owner) (journey_owner:frontdoor_request_duration_seconds:p99_rate5m{journey=~"$journey"})`),
		).
			OverrideByName("Requests/s", unit("reqps")).
			OverrideByName("Error ratio", coloredCell("percentunit", thresholds("green", at(0.01, "orange"), at(0.05, "red")))).
			OverrideByName("p50", unit("s")).
			OverrideByName("p95", unit("s")).
			OverrideByName("p99", unit("s"))).
		WithPanel(lines("Error ratio by owner (5xx share, 5m)",
			"Answers: does the vendor fail more of the journey's requests than the in-house team? Error = 5xx answer to the customer. Source: journey_backend:frontdoor_requests_errors:rate5m / journey_backend:frontdoor_requests:rate5m.",
			"percentunit", 12, 8,
			query("A", `sum by (journey, owner) (journey_backend:frontdoor_requests_errors:rate5m{journey=~"$journey", backend=~"$backend"})
/
sum by (journey, owner) (journey_backend:frontdoor_requests:rate5m{journey=~"$journey", backend=~"$backend"})`, "{{journey}} · {{owner}}"),
		).Min(0)).
		WithPanel(lines("Vendor error ratio vs alert threshold",
			"Answers: how close each vendor is to FrontdoorVendorWorseThanInHouse, which fires when a vendor's error ratio stays above max(2 × in-house, in-house + 1%) of the same journey for 15 minutes (dashed line).",
			"percentunit", 12, 8,
			query("A", `journey_backend:frontdoor_requests_errors:ratio_rate5m{journey=~"$journey", backend=~"$backend", owner="outsourced"}`, "{{journey}} · {{vendor}}"),
			query("B", `journey_owner:frontdoor_requests_errors:ratio_rate5m{journey=~"$journey", owner="in-house"}`, "{{journey}} · in-house"),
			query("C", `journey_owner:frontdoor_requests_errors:ratio_rate5m{journey=~"$journey", owner="in-house"}
+ clamp_min(journey_owner:frontdoor_requests_errors:ratio_rate5m{journey=~"$journey", owner="in-house"}, 0.01)`, "{{journey}} · alert threshold"),
		).Min(0).
			OverrideByRegexp(".*alert threshold", dashed("red"))).
		WithPanel(ownerLatency("in-house", "outsourced")).
		WithPanel(ownerLatency("outsourced", "in-house")).
		WithPanel(lines("Error ratio by backend (5m)",
			"Answers: which backend fails. Source: journey_backend:frontdoor_requests_errors:ratio_rate5m.",
			"percentunit", 12, 8,
			query("A", `journey_backend:frontdoor_requests_errors:ratio_rate5m{journey=~"$journey", backend=~"$backend"}`, "{{journey}} / {{backend}}"),
		).Min(0)).
		WithPanel(lines("p95 latency by backend (5m)",
			"Answers: which backend is slow. Source: journey_backend:frontdoor_request_duration_seconds:p95_rate5m.",
			"s", 12, 8,
			query("A", `journey_backend:frontdoor_request_duration_seconds:p95_rate5m{journey=~"$journey", backend=~"$backend"}`, "{{journey}} / {{backend}}"),
		).Min(0))
}

// serviceLevelRow: does each backend meet its contract, and how much error budget is left?
func serviceLevelRow(b *dashboard.DashboardBuilder) {
	b.
		WithRow(dashboard.NewRowBuilder("Service levels: each backend against its SLO (30-day window)")).
		WithPanel(tablePanel("SLO status per backend (last 30 days)",
			"Answers: does each backend meet the service levels of its contract (the Caddyfile's slo lines) over 30 days, and how much error budget is left (1 = untouched, 0 = spent, below 0 = SLO missed). Backends without an SLO show only their measured values. Latency compliance = share of requests within the SLO threshold, read from the histogram bucket at that threshold.",
			24, 8, map[string]string{"Value #A": "Availability 30d", "Value #B": "Availability objective", "Value #C": "Availability budget left", "Value #D": "Within latency threshold 30d", "Value #E": "Latency objective", "Value #F": "Latency budget left"},
			tableQuery("A", `1 - journey_backend:frontdoor_requests_errors:ratio_rate30d{journey=~"$journey", backend=~"$backend"}`),
			tableQuery("B", `max by (journey, backend, owner, vendor) (frontdoor_backend_slo_objective{journey=~"$journey", backend=~"$backend", slo="availability"})`),
			tableQuery("C", `max by (journey, backend, owner, vendor) (journey_backend:frontdoor_availability_budget_remaining:ratio30d{journey=~"$journey", backend=~"$backend"})`),
			tableQuery("D", `max by (journey, backend, owner, vendor) (journey_backend:frontdoor_latency_slo_good:ratio_rate30d{journey=~"$journey", backend=~"$backend"})`),
			tableQuery("E", `max by (journey, backend, owner, vendor) (frontdoor_backend_slo_objective{journey=~"$journey", backend=~"$backend", slo="latency"})`),
			tableQuery("F", `max by (journey, backend, owner, vendor) (journey_backend:frontdoor_latency_budget_remaining:ratio30d{journey=~"$journey", backend=~"$backend"})`),
		).
			OverrideByName("Availability 30d", unit("percentunit")).
			OverrideByName("Availability objective", unit("percentunit")).
			OverrideByName("Availability budget left", coloredCell("percentunit", thresholds("red", at(0, "orange"), at(0.25, "green")))).
			OverrideByName("Within latency threshold 30d", unit("percentunit")).
			OverrideByName("Latency objective", unit("percentunit")).
			OverrideByName("Latency budget left", coloredCell("percentunit", thresholds("red", at(0, "orange"), at(0.25, "green"))))).
		WithPanel(budgetGauge("Availability error budget left (30d)",
			"Answers: how much of its 30-day availability error budget each backend with an availability SLO has left. Source: journey_backend:frontdoor_availability_budget_remaining:ratio30d.",
			12, 8,
			query("A", `journey_backend:frontdoor_availability_budget_remaining:ratio30d{journey=~"$journey", backend=~"$backend"}`, "{{journey}} / {{backend}}"),
		)).
		WithPanel(budgetGauge("Latency error budget left (30d)",
			"Answers: how much of its 30-day latency error budget each backend with a latency SLO has left. Source: journey_backend:frontdoor_latency_budget_remaining:ratio30d.",
			12, 8,
			query("A", `journey_backend:frontdoor_latency_budget_remaining:ratio30d{journey=~"$journey", backend=~"$backend"}`, "{{journey}} / {{backend}}"),
		)).
		WithPanel(lines("Availability (1h) vs objective",
			"Answers: is each backend above its availability objective right now. Solid: 1 - journey_backend:frontdoor_requests_errors:ratio_rate1h; dashed: the objective.",
			"percentunit", 12, 8,
			query("A", `1 - journey_backend:frontdoor_requests_errors:ratio_rate1h{journey=~"$journey", backend=~"$backend"}`, "{{journey}} / {{backend}}"),
			query("B", `journey_backend:frontdoor_slo_availability_objective:max{journey=~"$journey", backend=~"$backend"}`, "{{journey}} / {{backend}} objective"),
		).Max(1).
			OverrideByRegexp(".* objective", dashed())).
		WithPanel(lines("Latency SLO compliance (1h) vs objective",
			"Answers: which share of each backend's requests is answered within its latency SLO threshold (bucket le = threshold), against the objective (dashed). Source: journey_backend:frontdoor_latency_slo_good:ratio_rate1h.",
			"percentunit", 12, 8,
			query("A", `journey_backend:frontdoor_latency_slo_good:ratio_rate1h{journey=~"$journey", backend=~"$backend"}`, "{{journey}} / {{backend}}"),
			query("B", `journey_backend_threshold:frontdoor_slo_latency_objective:max{journey=~"$journey", backend=~"$backend"}`, "{{journey}} / {{backend}} objective (≤ {{threshold}}s)"),
		).Max(1).
			OverrideByRegexp(".* objective .*", dashed())).
		WithPanel(lines("Availability error budget burn rate (1h)",
			"Answers: how fast each backend spends its availability error budget (1 = exactly on budget for 30 days). The page alert fires at 14.4× over 1h and 5m, or 6× over 6h and 30m.",
			"suffix:x", 12, 8,
			query("A", `journey_backend:frontdoor_requests_errors:ratio_rate1h{journey=~"$journey", backend=~"$backend"}
/ on (journey, backend) group_left ()
(1 - journey_backend:frontdoor_slo_availability_objective:max{journey=~"$journey", backend=~"$backend"})`, "{{journey}} / {{backend}}"),
		).Min(0).
			Thresholds(thresholds("green", at(6, "orange"), at(14.4, "red"))).ThresholdsStyle(thresholdLines())).
		WithPanel(lines("Latency error budget burn rate (1h)",
			"Answers: how fast each backend spends its latency error budget (requests over the threshold). The page alert fires at 14.4× over 1h and 5m, or 6× over 6h and 30m.",
			"suffix:x", 12, 8,
			query("A", `(1 - journey_backend:frontdoor_latency_slo_good:ratio_rate1h{journey=~"$journey", backend=~"$backend"})
/ on (journey, backend) group_left ()
(1 - journey_backend:frontdoor_slo_latency_objective:max{journey=~"$journey", backend=~"$backend"})`, "{{journey}} / {{backend}}"),
		).Min(0).
			Thresholds(thresholds("green", at(6, "orange"), at(14.4, "red"))).ThresholdsStyle(thresholdLines()))
}

// routingRow: why requests went where they went (first choice, opening hours, failover, override) and how backends fail.
func routingRow(b *dashboard.DashboardBuilder) {
	b.
		WithRow(dashboard.NewRowBuilder("Routing: reasons, failovers, upstream errors")).
		WithPanel(stacked("Routing decisions/s by reason",
			"Answers: why requests went where they went: first = first backend in order, hours = an earlier backend was closed (after-hours to the vendor), failover = an earlier backend failed or was unhealthy, override = an operator override. Source: journey_backend_reason:frontdoor_routing_decisions:rate5m.",
			"reqps", 12, 8,
			query("A", `sum by (journey, reason) (journey_backend_reason:frontdoor_routing_decisions:rate5m{journey=~"$journey", backend=~"$backend"})`, "{{journey}} · {{reason}}"),
		)).
		WithPanel(lines("Failovers/s by backend that took over",
			"Answers: which backend is absorbing failovers (the backend label is the one that served the request).",
			"reqps", 12, 8,
			query("A", `sum by (journey, backend) (journey_backend_reason:frontdoor_routing_decisions:rate5m{journey=~"$journey", backend=~"$backend", reason="failover"})`, "{{journey}} → {{backend}}"),
		)).
		WithPanel(statPanel("Failovers in range",
			"Requests that failed over to a later backend during the dashboard's time range.",
			"short", 6, 5, thresholds("blue"),
			query("A", `sum(increase(frontdoor_routing_decisions_total{journey=~"$journey", backend=~"$backend", instance=~"$instance", reason="failover"}[$__range]))`, "__auto"),
		).Decimals(0)).
		WithPanel(statPanel("Requests routed by an override in range",
			"Requests sent by an operator override (PUT /frontdoor/overrides/{journey}).",
			"short", 6, 5, thresholds("blue"),
			query("A", `sum(increase(frontdoor_routing_decisions_total{journey=~"$journey", backend=~"$backend", instance=~"$instance", reason="override"}[$__range]))`, "__auto"),
		).Decimals(0)).
		WithPanel(statPanel("Requests routed by opening hours in range",
			"Requests that skipped a closed backend (hours) and went to the next one.",
			"short", 6, 5, thresholds("blue"),
			query("A", `sum(increase(frontdoor_routing_decisions_total{journey=~"$journey", backend=~"$backend", instance=~"$instance", reason="hours"}[$__range]))`, "__auto"),
		).Decimals(0)).
		WithPanel(statPanel("Failover share (5m)",
			"Share of routing decisions that were failovers over the last 5 minutes.",
			"percentunit", 6, 5, thresholds("green", at(0.01, "orange"), at(0.05, "red")),
			query("A", `sum(journey_backend_reason:frontdoor_routing_decisions:rate5m{journey=~"$journey", backend=~"$backend", reason="failover"})
/
sum(journey_backend_reason:frontdoor_routing_decisions:rate5m{journey=~"$journey", backend=~"$backend"})`, "__auto"),
		)).
		WithPanel(stacked("Upstream errors/s by backend and kind",
			"Answers: how backends fail: dial (connection refused/unreachable), timeout (no first byte, or no progress sending the request or reading the answer), status_5xx (the backend answered 5xx; the customer saw a brand error page or a failover), aborted (the backend cut its answer off; counted as a 502 in the error ratio). Source: journey_backend_kind:frontdoor_upstream_errors:rate5m.",
			"reqps", 24, 8,
			query("A", `sum by (journey, backend, kind) (journey_backend_kind:frontdoor_upstream_errors:rate5m{journey=~"$journey", backend=~"$backend"})`, "{{journey}} / {{backend}} · {{kind}}"),
		))
}

// contextRow: is the session store (Redis) healthy and fast, and how often is the in-process cache used?
func contextRow(b *dashboard.DashboardBuilder) {
	b.
		WithRow(dashboard.NewRowBuilder("Customer context lookups (session store)")).
		WithPanel(stacked("Context lookups/s by result",
			"Answers: how requests find the customer's context: hit/miss = asked the session store, cached = in-process cache, error = the store failed, no_cookie = no brand session cookie. Source: instance_result:frontdoor_context_lookups:rate5m.",
			"reqps", 8, 8,
			query("A", `sum by (result) (instance_result:frontdoor_context_lookups:rate5m{instance=~"$instance"})`, "{{result}}"),
		)).
		WithPanel(lines("Session store error ratio by instance",
			"Answers: is the session store (Redis) failing, and for which instance. Share of lookups that reached the store (hit + miss + error) that failed; FrontdoorContextStoreErrors fires above 5% for 5 minutes.",
			"percentunit", 8, 8,
			query("A", `instance:frontdoor_context_lookups_errors:ratio_rate5m{instance=~"$instance"}`, "{{instance}}"),
		).Min(0).
			Thresholds(thresholds("green", at(0.05, "red"))).ThresholdsStyle(thresholdLines())).
		WithPanel(lines("Context lookup latency by instance: p50 / p95 / p99",
			"Answers: how long a lookup that reaches the session store takes (compare with the session timeout). Lookups answered from the in-process cache are not timed; their share is in Context lookups/s by result. Source: instance:frontdoor_context_lookup_duration_seconds:p50/p95/p99_rate5m.",
			"s", 8, 8,
			query("A", `instance:frontdoor_context_lookup_duration_seconds:p50_rate5m{instance=~"$instance"}`, "{{instance}} p50"),
			query("B", `instance:frontdoor_context_lookup_duration_seconds:p95_rate5m{instance=~"$instance"}`, "{{instance}} p95"),
			query("C", `instance:frontdoor_context_lookup_duration_seconds:p99_rate5m{instance=~"$instance"}`, "{{instance}} p99"),
		).Min(0)).
		WithPanel(statPanel("Session store error ratio (5m)",
			"Failed store lookups / lookups that reached the store, selected instances.",
			"percentunit", 6, 5, thresholds("green", at(0.05, "red")),
			query("A", `sum(instance_result:frontdoor_context_lookups:rate5m{instance=~"$instance", result="error"})
/
sum(instance_result:frontdoor_context_lookups:rate5m{instance=~"$instance", result=~"hit|miss|error"})`, "__auto"),
		)).
		WithPanel(statPanel("Answered from the in-process cache (5m)",
			"Lookups answered by the in-process cache / lookups of requests with a session cookie.",
			"percentunit", 6, 5, thresholds("blue"),
			query("A", `sum(instance_result:frontdoor_context_lookups:rate5m{instance=~"$instance", result="cached"})
/
sum(instance_result:frontdoor_context_lookups:rate5m{instance=~"$instance", result!="no_cookie"})`, "__auto"),
		)).
		WithPanel(statPanel("Session not found (5m)",
			"Cookie present but no such session in the store (miss) / lookups of requests with a session cookie.",
			"percentunit", 6, 5, thresholds("blue"),
			query("A", `sum(instance_result:frontdoor_context_lookups:rate5m{instance=~"$instance", result="miss"})
/
sum(instance_result:frontdoor_context_lookups:rate5m{instance=~"$instance", result!="no_cookie"})`, "__auto"),
		)).
		WithPanel(statPanel("Requests without a session cookie (5m)",
			"no_cookie / all lookups.",
			"percentunit", 6, 5, thresholds("blue"),
			query("A", `sum(instance_result:frontdoor_context_lookups:rate5m{instance=~"$instance", result="no_cookie"})
/
sum(instance_result:frontdoor_context_lookups:rate5m{instance=~"$instance"})`, "__auto"),
		))
}

// customerRow: do vendor pages carry the brand banner, and how many brand error pages do customers see?
func customerRow(b *dashboard.DashboardBuilder) {
	b.
		WithRow(dashboard.NewRowBuilder("What customers see: banners and brand error pages")).
		WithPanel(stacked("Brand banners/s by result",
			"Answers: do vendor HTML pages carry the brand contact banner: injected (before </body>), appended (no </body>), skipped (not HTML or banner off). Source: journey_backend_result:frontdoor_banner_injections:rate5m.",
			"reqps", 12, 8,
			query("A", `sum by (journey, backend, result) (journey_backend_result:frontdoor_banner_injections:rate5m{journey=~"$journey", backend=~"$backend"})`, "{{journey}} / {{backend}} · {{result}}"),
		)).
		WithPanel(lines("Banner coverage",
			"Answers: which share of the responses that went through the banner filter got the banner (injected + appended).",
			"percentunit", 12, 8,
			query("A", `sum by (journey, backend) (journey_backend_result:frontdoor_banner_injections:rate5m{journey=~"$journey", backend=~"$backend", result=~"injected|appended"})
/
sum by (journey, backend) (journey_backend_result:frontdoor_banner_injections:rate5m{journey=~"$journey", backend=~"$backend"})`, "{{journey}} / {{backend}}"),
		).Min(0).Max(1)).
		WithPanel(stacked("Brand error pages/s by code",
			"Answers: how often customers see a brand error page instead of a vendor's (5xx, timeout, refused connection) and for which journey/backend. FrontdoorBrandErrorPagesSpike fires on a spike. Source: journey_backend_code:frontdoor_error_pages:rate5m.",
			"reqps", 12, 8,
			query("A", `sum by (journey, backend, code) (journey_backend_code:frontdoor_error_pages:rate5m{journey=~"$journey", backend=~"$backend"})`, "{{journey}} / {{backend}} · {{code}}"),
		)).
		WithPanel(statPanel("Brand error pages shown in range",
			"Brand error pages served to customers during the dashboard's time range.",
			"short", 6, 8, thresholds("green", at(1, "orange")),
			query("A", `sum(increase(frontdoor_error_pages_total{journey=~"$journey", backend=~"$backend", instance=~"$instance"}[$__range]))`, "__auto"),
		).Decimals(0)).
		WithPanel(statPanel("Brand error pages per 1000 requests (5m)",
			"Brand error pages / requests, selected journeys and backends.",
			"short", 6, 8, thresholds("green", at(1, "orange"), at(10, "red")),
			query("A", `1000 * sum(journey_backend:frontdoor_error_pages:rate5m{journey=~"$journey", backend=~"$backend"})
/
sum(journey_backend:frontdoor_requests:rate5m{journey=~"$journey", backend=~"$backend"})`, "__auto"),
		)).
		WithPanel(tablePanel("Brand error pages in range by journey, backend and code",
			"Which journey/backend/status code produced the brand error pages of the time range.",
			24, 7, map[string]string{"Value": "Error pages"},
			tableQuery("A", `sum by (journey, backend, code) (increase(frontdoor_error_pages_total{journey=~"$journey", backend=~"$backend", instance=~"$instance"}[$__range])) > 0`),
		).
			OverrideByName("Error pages", unit("short")))
}

// experienceRow: do customers come back, and who ends their chats? Each vendor next to the
// in-house team on the same journey.
func experienceRow(b *dashboard.DashboardBuilder) {
	b.
		WithRow(dashboard.NewRowBuilder("Experience: first-contact resolution and chat hang-ups")).
		WithPanel(lines("First-contact resolution by backend (1d)",
			"Answers: which share of each backend's contacts (the journey's contact requests) did not bring the customer back within the repeat window; a repeat counts against the backend of the previous contact. FrontdoorVendorRepeatContacts fires when a vendor is 10 points below the in-house team. Source: journey_backend:frontdoor_first_contact_resolution:ratio_1d.",
			"percentunit", 12, 8,
			query("A", `journey_backend:frontdoor_first_contact_resolution:ratio_1d{journey=~"$journey", backend=~"$backend"}`, "{{journey}} / {{backend}} ({{owner}})"),
		).Min(0).Max(1)).
		WithPanel(lines("Chats ended by the backend (1d)",
			"Answers: which share of each backend's WebSocket chats and event streams the backend ended itself (not the customer, not a reload). FrontdoorVendorHangsUpChats fires when a vendor is 10 points above the in-house team. Source: journey_backend:frontdoor_stream_hangups:ratio_1d.",
			"percentunit", 12, 8,
			query("A", `journey_backend:frontdoor_stream_hangups:ratio_1d{journey=~"$journey", backend=~"$backend"}`, "{{journey}} / {{backend}} ({{owner}})"),
		).Min(0).Max(1))
}

// rescueRow: what happens to the customers a backend drops, and what customers say themselves.
// Each vendor next to the in-house team on the same journey, per contact each backend took.
func rescueRow(b *dashboard.DashboardBuilder) {
	sel := `{journey=~"$journey", backend=~"$backend"}`
	b.
		WithRow(dashboard.NewRowBuilder("Rescue: orphans, escalations and customer ratings")).
		WithPanel(lines("Orphans per contact by backend (1d) vs objective",
			"Answers: how many customers each backend dropped (hung up their chat, a brand error page for its failure, a repeat contact) per contact it took over the last day, against its slo orphans objective (dashed). FrontdoorOrphanRateOverSLO opens a ticket above the objective. Source: journey_backend:frontdoor_orphans_per_contact:ratio_1d.",
			"percentunit", 8, 8,
			query("A", `journey_backend:frontdoor_orphans_per_contact:ratio_1d`+sel, "{{journey}} / {{backend}} ({{owner}})"),
			query("B", `journey_backend:frontdoor_slo_orphans_objective:max`+sel, "{{journey}} / {{backend}} objective"),
		).Min(0).
			OverrideByRegexp(".* objective", dashed())).
		WithPanel(lines("Escalations per contact by backend (1d)",
			"Answers: how often customers left a backend's page for the brand's own team (the banner's escalation) per contact the backend took over the last day. Source: journey_backend:frontdoor_escalations_per_contact:ratio_1d.",
			"percentunit", 8, 8,
			query("A", `journey_backend:frontdoor_escalations_per_contact:ratio_1d`+sel, "{{journey}} / {{backend}} ({{owner}})"),
		).Min(0)).
		WithPanel(lines("Customer-rated resolution by backend (known customers, 1d)",
			"Answers: which share of the known customers who answered \"did this solve your problem?\" about a backend said yes over the last day. Anonymous answers are left out so they cannot swamp known customers; a backend nobody rated shows no line. Source: journey_backend:frontdoor_rated_resolution:ratio_1d.",
			"percentunit", 8, 8,
			query("A", `journey_backend:frontdoor_rated_resolution:ratio_1d`+sel, "{{journey}} / {{backend}} ({{owner}})"),
		).Min(0).Max(1)).
		WithPanel(tablePanel("Rescue per backend (last 30 days)",
			"Answers: per backend over 30 days, orphans and escalations per contact it took, against its slo orphans objective, and the customers' own verdict: the share of known customers' answers that were yes, and how many answers that rests on. Backends without an objective or without ratings leave those cells empty.",
			24, 8, map[string]string{"Value #A": "Orphans per contact 30d", "Value #B": "Orphan objective", "Value #C": "Escalations per contact 30d", "Value #D": "Rated resolution 30d (known)", "Value #E": "Answers 30d (known)", "Value #F": "Answers 30d (anonymous)"},
			tableQuery("A", `max by (journey, backend, owner, vendor) (journey_backend:frontdoor_orphans_per_contact:ratio_30d`+sel+`)`),
			tableQuery("B", `max by (journey, backend, owner, vendor) (frontdoor_backend_slo_objective{journey=~"$journey", backend=~"$backend", slo="orphans"})`),
			tableQuery("C", `max by (journey, backend, owner, vendor) (journey_backend:frontdoor_escalations_per_contact:ratio_30d`+sel+`)`),
			tableQuery("D", `max by (journey, backend, owner, vendor) (journey_backend:frontdoor_rated_resolution:ratio_30d`+sel+`)`),
			tableQuery("E", `sum by (journey, backend, owner, vendor) (increase(frontdoor_ratings_total{journey=~"$journey", backend=~"$backend", customer="known"}[30d]))`),
			tableQuery("F", `sum by (journey, backend, owner, vendor) (increase(frontdoor_ratings_total{journey=~"$journey", backend=~"$backend", customer="anonymous"}[30d]))`),
		).
			OverrideByName("Orphans per contact 30d", unit("percentunit")).
			OverrideByName("Orphan objective", unit("percentunit")).
			OverrideByName("Escalations per contact 30d", unit("percentunit")).
			OverrideByName("Rated resolution 30d (known)", coloredCell("percentunit", thresholds("red", at(0.6, "orange"), at(0.8, "green")))).
			OverrideByName("Answers 30d (known)", unit("short")).
			OverrideByName("Answers 30d (anonymous)", unit("short")))
}

// ownerLatency is the p50/p95/p99 panel of one owner's backends on the
// journey, to read beside the other owner's.
func ownerLatency(owner, other string) *timeseries.PanelBuilder {
	q := func(refID, quantile string) *prometheus.DataqueryBuilder {
		return query(refID, `journey_owner:frontdoor_request_duration_seconds:`+quantile+`_rate5m{journey=~"$journey", owner="`+owner+`"}`, "{{journey}} "+quantile)
	}
	return lines("Latency "+owner+": p50 / p95 / p99",
		"Answers: how fast the "+owner+" backends answer this journey, to read side by side with the "+other+" panel. Source: journey_owner:frontdoor_request_duration_seconds:p50/p95/p99_rate5m.",
		"s", 12, 8, q("A", "p50"), q("B", "p95"), q("C", "p99"),
	).Min(0)
}
