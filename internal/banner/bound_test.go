package banner

import (
	"bytes"
	"testing"
)

// A bound banner must give exactly what executing the template gives, for
// references that are spliced in and for those that make it fall back.
func TestBoundRendersLikeTheTemplate(t *testing.T) {
	data := Data{Brand: "Acme <Outdoor>", Phone: "+1 800 555 0100", Email: "help@acme.example", URL: "https://acme.example/help?a=1&b=2"}
	templates := map[string]string{
		"default":   DefaultTemplate,
		"no ref":    `<p>{{.Brand}}</p>`,
		"twice":     `<a href="https://help.example/case?ref={{.Reference}}" title="{{.Reference}}">{{.Reference}}</a>`,
		"in script": `<p data-x="{{.Brand}}">{{.Reference}}</p><script>var ref = {{.Reference}};</script>`,
		"sliced":    `<p>{{printf "%.3s" .Reference}}</p>`,
		"length":    `<p>{{len .Reference}}</p>`,
		"printf":    `<p>{{printf "%q" .Reference}}</p>`,
	}
	references := []string{"2HHMDN5WBS2NR", "", "0f8fad5b-d9cb-469f", "caf\u00e9", `"><script>x</script>`, "A"}
	for name, text := range templates {
		tmpl, err := ParseTemplate(text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		bound, err := tmpl.Bind(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, ref := range references {
			d := data
			d.Reference = ref
			want, err := tmpl.Render(d)
			if err != nil {
				t.Fatal(err)
			}
			got, err := bound.Render(ref)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s, reference %q:\n got %s\nwant %s", name, ref, got, want)
			}
		}
	}
}

// The point of binding: the default banner is spliced, not executed.
func TestBoundSplicesTheDefaultBanner(t *testing.T) {
	tmpl, err := ParseTemplate(DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	bound, err := tmpl.Bind(Data{Brand: "Acme", Phone: "+1 800 555 0100"})
	if err != nil {
		t.Fatal(err)
	}
	if len(bound.parts) != 2 {
		t.Fatalf("the default banner shows the reference once, so it splits in 2 parts; got %d", len(bound.parts))
	}
	if allocs := testing.AllocsPerRun(100, func() { bound.Render("2HHMDN5WBS2NR") }); allocs != 1 { //nolint:errcheck
		t.Errorf("Render allocates %v times, want 1", allocs)
	}
}

func TestBoundFallsBackWhenTheReferenceIsNotUsedVerbatim(t *testing.T) {
	for _, text := range []string{`<p>{{printf "%.3s" .Reference}}</p>`, `<p>{{len .Reference}}</p>`} {
		tmpl, err := ParseTemplate(text)
		if err != nil {
			t.Fatal(err)
		}
		bound, err := tmpl.Bind(Data{})
		if err != nil {
			t.Fatal(err)
		}
		if bound.parts != nil {
			t.Errorf("%s: spliced, but the template transforms the reference", text)
		}
	}
}
