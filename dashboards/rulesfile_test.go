package dashboards

// A reader for the subset of YAML that rules/frontdoor.rules.yml uses (the tests use the standard
// library only; promtool checks the file itself): `- record:` / `- alert:` items with expr (plain
// or block scalar), for, labels and annotations (plain, 'single' or "double" quoted scalars).

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

type rule struct {
	Kind        string // "record" or "alert"
	Name        string
	Expr        string
	For         string
	Labels      map[string]string
	Annotations map[string]string
	Line        int
}

func indentOf(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func yamlScalar(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, "'"):
		if len(v) < 2 || !strings.HasSuffix(v, "'") {
			return "", fmt.Errorf("unterminated single-quoted string %s", v)
		}
		return strings.ReplaceAll(v[1:len(v)-1], "''", "'"), nil
	case strings.HasPrefix(v, `"`):
		return strconv.Unquote(v)
	default:
		if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		return v, nil
	}
}

func parseRules(data []byte) ([]rule, error) {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var rules []rule
	var cur *rule
	section := "" // "labels" or "annotations" while inside those maps
	sectionIndent := 0
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trim := strings.TrimSpace(line)
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		ind := indentOf(line)
		if section != "" && ind <= sectionIndent {
			section = ""
		}
		item := strings.TrimPrefix(trim, "- ")
		key, value, ok := strings.Cut(item, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if strings.HasPrefix(trim, "- ") && (key == "record" || key == "alert") {
			name, err := yamlScalar(value)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			rules = append(rules, rule{Kind: key, Name: name, Labels: map[string]string{}, Annotations: map[string]string{}, Line: i + 1})
			cur = &rules[len(rules)-1]
			section = ""
			continue
		}
		if cur == nil {
			continue
		}
		if section != "" {
			v, err := yamlScalar(value)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			if section == "labels" {
				cur.Labels[key] = v
			} else {
				cur.Annotations[key] = v
			}
			continue
		}
		switch key {
		case "expr":
			if strings.HasPrefix(value, "|") || strings.HasPrefix(value, ">") {
				var block []string
				for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" || indentOf(lines[i+1]) > ind) {
					i++
					block = append(block, lines[i])
				}
				cur.Expr = strings.Join(block, "\n")
			} else {
				v, err := yamlScalar(value)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", i+1, err)
				}
				cur.Expr = v
			}
		case "for":
			cur.For = value
		case "labels", "annotations":
			section, sectionIndent = key, ind
		}
	}
	return rules, nil
}

// alertTestCases reads a promtool test file and tells, per alertname, whether it has a case that
// expects the alert to fire (exp_alerts with items) and one that expects it not to (exp_alerts: []).
func alertTestCases(data []byte) (firing, quiet map[string]int) {
	firing, quiet = map[string]int{}, map[string]int{}
	current := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		trim := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "- "))
		switch {
		case strings.HasPrefix(trim, "alertname:"):
			current = strings.Trim(strings.TrimSpace(strings.TrimPrefix(trim, "alertname:")), `"'`)
		case strings.HasPrefix(trim, "exp_alerts:") && current != "":
			if strings.TrimSpace(strings.TrimPrefix(trim, "exp_alerts:")) == "[]" {
				quiet[current]++
			} else {
				firing[current]++
			}
			current = ""
		}
	}
	return firing, quiet
}
