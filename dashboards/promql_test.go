package dashboards

// A small PromQL scanner for the tests: it finds the metric names, functions and label names an
// expression uses, without a PromQL parser (the tests use the standard library only; promtool
// checks the syntax).

import (
	"fmt"
	"strings"
	"testing"
)

// promqlRefs is what an expression refers to.
type promqlRefs struct {
	Metrics   []string            // metric names (selectors)
	Functions []string            // functions and aggregation operators
	Labels    []string            // label names in matchers, by/without/on/ignoring/group_x lists
	Matchers  map[string][]string // metric name -> label names of its {...} matchers
}

var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"inf": true, "nan": true,
}

var promqlGrouping = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// scanPromQL lists the references of expr. It understands strings in double, single or back quotes, numbers,
// durations in [...] and after offset, {...} matchers and grouping label lists.
func scanPromQL(expr string) (promqlRefs, error) {
	refs := promqlRefs{Matchers: map[string][]string{}}
	i, n := 0, len(expr)
	skipSpace := func(j int) int {
		for j < n && (expr[j] == ' ' || expr[j] == '\t' || expr[j] == '\n' || expr[j] == '\r') {
			j++
		}
		return j
	}
	skipString := func(j int) (int, error) {
		q := expr[j]
		j++
		for j < n && expr[j] != q {
			if expr[j] == '\\' && q != '`' {
				j++
			}
			j++
		}
		if j >= n {
			return 0, fmt.Errorf("unterminated string in %q", expr)
		}
		return j + 1, nil
	}
	readIdent := func(j int) (string, int) {
		k := j
		for k < n && isIdentChar(expr[k]) {
			k++
		}
		return expr[j:k], k
	}
	// matchers scans {...} starting at expr[j] == '{' and returns the label names.
	matchers := func(j int) ([]string, int, error) {
		var names []string
		j++
		for {
			j = skipSpace(j)
			if j >= n {
				return nil, 0, fmt.Errorf("unterminated {} in %q", expr)
			}
			switch c := expr[j]; {
			case c == '}':
				return names, j + 1, nil
			case c == '"' || c == '\'' || c == '`':
				var err error
				if j, err = skipString(j); err != nil {
					return nil, 0, err
				}
			case isIdentStart(c):
				var name string
				name, j = readIdent(j)
				names = append(names, name)
			case c == ',' || c == '=' || c == '!' || c == '~':
				j++
			default:
				return nil, 0, fmt.Errorf("unexpected %q in matchers of %q", c, expr)
			}
		}
	}
	for i < n {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'' || c == '`':
			var err error
			if i, err = skipString(i); err != nil {
				return refs, err
			}
		case c == '[': // range or subquery duration
			j := strings.IndexByte(expr[i:], ']')
			if j < 0 {
				return refs, fmt.Errorf("unterminated [ in %q", expr)
			}
			i += j + 1
		case c == '{': // selector without a metric name
			names, j, err := matchers(i)
			if err != nil {
				return refs, err
			}
			refs.Labels = append(refs.Labels, names...)
			i = j
		case c >= '0' && c <= '9' || (c == '.' && i+1 < n && expr[i+1] >= '0' && expr[i+1] <= '9'):
			for i < n && (isIdentChar(expr[i]) || expr[i] == '.' ||
				((expr[i] == '+' || expr[i] == '-') && (expr[i-1] == 'e' || expr[i-1] == 'E'))) {
				i++
			}
		case isIdentStart(c):
			name, j := readIdent(i)
			i = j
			lower := strings.ToLower(name)
			k := skipSpace(i)
			switch {
			case promqlGrouping[lower]:
				if k < n && expr[k] == '(' {
					end := strings.IndexByte(expr[k:], ')')
					if end < 0 {
						return refs, fmt.Errorf("unterminated label list in %q", expr)
					}
					for _, l := range strings.Split(expr[k+1:k+end], ",") {
						if l = strings.TrimSpace(l); l != "" {
							refs.Labels = append(refs.Labels, l)
						}
					}
					i = k + end + 1
				}
			case lower == "offset":
				k = skipSpace(i)
				_, i = readIdent(k)
			case promqlKeywords[lower]:
			case k < n && expr[k] == '(':
				refs.Functions = append(refs.Functions, name)
			case k < n && isIdentStart(expr[k]) && aggregationWithModifier(expr[k:]):
				refs.Functions = append(refs.Functions, name) // sum by (...) (...)
			default:
				refs.Metrics = append(refs.Metrics, name)
				if k < n && expr[k] == '{' {
					names, j, err := matchers(k)
					if err != nil {
						return refs, err
					}
					refs.Labels = append(refs.Labels, names...)
					refs.Matchers[name] = append(refs.Matchers[name], names...)
					i = j
				}
			}
		default: // operators, parentheses, commas
			i++
		}
	}
	return refs, nil
}

// aggregationWithModifier tells whether s starts with "by (" or "without (".
func aggregationWithModifier(s string) bool {
	for _, kw := range []string{"by", "without"} {
		if strings.HasPrefix(strings.ToLower(s), kw) {
			rest := strings.TrimLeft(s[len(kw):], " \t\n\r")
			if strings.HasPrefix(rest, "(") {
				return true
			}
		}
	}
	return false
}

func TestScanPromQL(t *testing.T) {
	refs, err := scanPromQL(`sum by (journey, owner) (rate(frontdoor_requests_total{code=~"5..", backend!="a}b"}[5m] offset 1h))
		/ on (journey) group_left (vendor) max without (le) (x:y:z{le="+Inf"}) > bool 1e-3 and {__name__="up"}
		or label_replace(histogram_quantile(0.95, m), "le", "$1", "threshold", ` + "`(.+?)(\\.0)?`" + `) unless inf_metric`)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(refs.Metrics, refs.Functions, refs.Labels, refs.Matchers)
	want := "[frontdoor_requests_total x:y:z m inf_metric] [sum rate max label_replace histogram_quantile] " +
		"[journey owner code backend journey vendor le le __name__] " +
		"map[frontdoor_requests_total:[code backend] x:y:z:[le]]"
	if got != want {
		t.Errorf("scanPromQL:\n got %s\nwant %s", got, want)
	}
	for _, bad := range []string{`x{a="b}`, `x{a="b"`, `rate(x[5m)`} {
		if _, err := scanPromQL(bad); err == nil {
			t.Errorf("scanPromQL(%q): no error", bad)
		}
	}
}
