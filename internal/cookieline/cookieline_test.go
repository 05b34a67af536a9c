package cookieline

import (
	"maps"
	"slices"
	"testing"
)

func TestPartsTrimsNamesAsServersDo(t *testing.T) {
	got := maps.Collect(Parts([]string{"a=1; b =2;;", " c=3=4", "=5"}))
	want := map[string]string{"a": "a=1", "b": "b =2", "c": "c=3=4", "": "=5"}
	if !maps.Equal(got, want) {
		t.Errorf("Parts = %q, want %q", got, want)
	}
}

func TestMatchingPaths(t *testing.T) {
	for _, c := range []struct {
		path string
		max  int
		want []string
	}{
		{"/", 16, []string{"/"}},
		{"/own/account", 16, []string{"/", "/own", "/own/", "/own/account"}},
		{"/own/", 16, []string{"/", "/own", "/own/"}},
		{"/a/b/c/d", 3, []string{"/", "/a", "/a/"}},
		// A path cannot add attributes to the Set-Cookie it ends up in.
		{"/own;Domain=evil/x", 16, []string{"/", "/own"}},
		{"/own\x00/x", 16, []string{"/", "/own"}},
	} {
		if got := MatchingPaths(c.path, c.max); !slices.Equal(got, c.want) {
			t.Errorf("MatchingPaths(%q, %d) = %q, want %q", c.path, c.max, got, c.want)
		}
	}
}

func TestValue(t *testing.T) {
	for _, c := range []struct {
		lines    []string
		value    string
		conflict bool
	}{
		{[]string{"a=1; sid=x"}, "x", false},
		{[]string{`sid="x"`, "sid=x"}, "x", false},
		{[]string{"sid=x; sid=y"}, "", true},
		{[]string{"sid=; sid=y"}, "", true},
		{[]string{"a=1"}, "", false},
	} {
		if v, conflict := Value(c.lines, "sid"); v != c.value || conflict != c.conflict {
			t.Errorf("Value(%q) = %q, %v; want %q, %v", c.lines, v, conflict, c.value, c.conflict)
		}
	}
}

func TestCanonical(t *testing.T) {
	for name, want := range map[string]string{
		"acme_session":     "acme_session",
		"acme.session":     "acme_session",
		"acme session":     "acme_session",
		"acme+session":     "acme_session",
		"acme%5Fsession":   "acme_session",
		"acme%5fsession":   "acme_session",
		"acme%2Esession":   "acme_session",
		"acme_session[0]":  "acme_session",
		"acme_session[]":   "acme_session",
		"acme[session":     "acme_session",
		"acme%5Bx%5D":      "acme",
		"100%":             "100%",
		"acme%2Bsession":   "acme+session", // an encoded "+" is one
		"a%zz":             "a%zz",
		"JSESSIONID":       "JSESSIONID", // case is the comparison's
		"__Host-acme.sess": "__Host-acme_sess",
	} {
		if got := Canonical(name); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestNames(t *testing.T) {
	for part, want := range map[string][]string{
		"acme_session=x":              {"acme_session"},
		"acme.session =x":             {"acme_session"},
		"lang=en, acme_session=x":     {"lang", "acme_session"},
		"lang=en,acme.session=x":      {"lang", "acme_session"},
		"lang=en acme_session=x, b=2": {"lang", "acme_session", "b"},
		"lang=en\tacme_session=x":     {"lang", "acme_session"},
		"next=acme_session=x":         {"next"}, // no separator: one value
		"list=a,b c":                  {"list"},
		"q=\"a, acme_session=x\"":     {"q", "acme_session"}, // quoted or not, some parser splits it
		"=v":                          {""},
	} {
		if got := slices.Collect(Names(part)); !slices.Equal(got, want) {
			t.Errorf("Names(%q) = %q, want %q", part, got, want)
		}
	}
}
