// Package dashboards ships frontdoor's Grafana dashboard, Prometheus recording and alerting rules
// and their provisioning files, and gives tests access to them: the embedded files, and every
// PromQL query of the dashboard ready to run against a real Prometheus.
package dashboards

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// DashboardJSON is dashboards/frontdoor.json, the Grafana dashboard.
//
//go:embed frontdoor.json
var DashboardJSON []byte

// RulesYAML is dashboards/rules/frontdoor.rules.yml, the Prometheus recording and alerting rules.
//
//go:embed rules/frontdoor.rules.yml
var RulesYAML []byte

// RulesTestYAML is dashboards/rules/frontdoor.rules.test.yml, the promtool unit tests of RulesYAML
// (it refers to the rules as "frontdoor.rules.yml", next to it).
//
//go:embed rules/frontdoor.rules.test.yml
var RulesTestYAML []byte

// PrometheusYAML is dashboards/prometheus.yml, the example Prometheus configuration.
//
//go:embed prometheus.yml
var PrometheusYAML []byte

// Query is one PromQL query of the dashboard.
type Query struct {
	// PanelID and PanelTitle name the panel; PanelID is 0 for an annotation query.
	PanelID    int
	PanelTitle string
	// RefID is the target's refId ("A", "B", ...).
	RefID string
	// Template is the expression as written in the dashboard, with Grafana variables.
	Template string
	// Expr is Template with every variable replaced so that Prometheus can run it: template
	// variables by their "All" value (a match-everything regex), $__rate_interval and $__interval
	// by 1m, $__range by 1h (and $__range_s, $__range_ms, $__interval_ms accordingly).
	Expr string
	// Instant is true when Grafana runs the query as an instant query (tables); false means a
	// range query.
	Instant bool
}

// BuiltinVariables are the values Queries gives Grafana's global variables.
var BuiltinVariables = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "1m",
	"__interval_ms":   "60000",
	"__range":         "1h",
	"__range_s":       "3600",
	"__range_ms":      "3600000",
}

type dashboardModel struct {
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"` // legacy, before Grafana moved it into target
			// Target is the annotation's query, as Grafana stores it.
			Target struct {
				Expr string `json:"expr"`
			} `json:"target"`
		} `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []templateVar `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type templateVar struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	AllValue   string `json:"allValue"`
	IncludeAll bool   `json:"includeAll"`
}

type panel struct {
	ID      int      `json:"id"`
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Panels  []panel  `json:"panels"`
	Targets []target `json:"targets"`
}

type target struct {
	RefID   string `json:"refId"`
	Expr    string `json:"expr"`
	Instant bool   `json:"instant"`
	Range   *bool  `json:"range"`
	Format  string `json:"format"`
}

// variableRef matches ${name}, ${name:format}, [[name]] and $name.
var variableRef = regexp.MustCompile(`\$\{(\w+)(?::[\w]+)?\}|\[\[(\w+)(?::[\w]+)?\]\]|\$(\w+)`)

// Queries returns every PromQL expression of the Grafana dashboard dashboardJSON (panel targets,
// also of panels inside collapsed rows, and annotation queries) in panel order, with the variables
// substituted as documented on Query.Expr. A variable that the dashboard does not define is an error.
func Queries(dashboardJSON []byte) ([]Query, error) {
	var d dashboardModel
	if err := json.Unmarshal(dashboardJSON, &d); err != nil {
		return nil, fmt.Errorf("dashboard JSON: %w", err)
	}
	values := map[string]string{}
	for k, v := range BuiltinVariables {
		values[k] = v
	}
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			continue // only used as a datasource uid, never inside an expression
		case "query", "custom", "textbox", "constant", "interval":
		default:
			return nil, fmt.Errorf("template variable %q has unsupported type %q", v.Name, v.Type)
		}
		all := v.AllValue
		if all == "" {
			all = ".*"
		}
		values[v.Name] = all
	}
	substitute := func(expr string) (string, error) {
		var missing []string
		out := variableRef.ReplaceAllStringFunc(expr, func(m string) string {
			sub := variableRef.FindStringSubmatch(m)
			name := sub[1] + sub[2] + sub[3]
			if strings.Trim(name, "0123456789") == "" {
				return m // $1 in a label_replace replacement, not a variable
			}
			v, ok := values[name]
			if !ok {
				missing = append(missing, name)
				return m
			}
			return v
		})
		if len(missing) > 0 {
			sort.Strings(missing)
			return "", fmt.Errorf("undefined variable(s) %s in %q", strings.Join(missing, ", "), expr)
		}
		return out, nil
	}

	var queries []Query
	var walk func([]panel) error
	walk = func(panels []panel) error {
		for _, p := range panels {
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					continue
				}
				expr, err := substitute(t.Expr)
				if err != nil {
					return fmt.Errorf("panel %d %q target %s: %w", p.ID, p.Title, t.RefID, err)
				}
				instant := t.Instant && (t.Range == nil || !*t.Range)
				queries = append(queries, Query{PanelID: p.ID, PanelTitle: p.Title, RefID: t.RefID,
					Template: t.Expr, Expr: expr, Instant: instant})
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	for _, a := range d.Annotations.List {
		if a.Target.Expr != "" {
			a.Expr = a.Target.Expr
		}
		if strings.TrimSpace(a.Expr) == "" {
			continue
		}
		expr, err := substitute(a.Expr)
		if err != nil {
			return nil, fmt.Errorf("annotation %q: %w", a.Name, err)
		}
		queries = append(queries, Query{PanelTitle: "annotation: " + a.Name, RefID: "Anno", Template: a.Expr, Expr: expr})
	}
	return queries, nil
}
