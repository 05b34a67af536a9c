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

// The feedback links carry the request's token: spliced exactly as the
// template renders it, absent without a token, and falling back to the
// template for a token that is not plain letters and digits.
func TestBoundRendersFeedbackLinksLikeTheTemplate(t *testing.T) {
	tmpl, err := ParseTemplate(DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	data := Data{Brand: "Acme", Phone: "+1 800 555 0100",
		Escalate: "/.well-known/frontdoor/escalate?t=", Rate: "/.well-known/frontdoor/rate?t="}
	bound, err := tmpl.Bind(data)
	if err != nil {
		t.Fatal(err)
	}
	if bound.parts == nil || len(bound.parts) != 4 {
		t.Fatalf("the default banner with links splits in %d parts, want 4 (token twice, reference once)", len(bound.parts))
	}
	for _, token := range []string{"MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U", "", "a b", `"><x>`} {
		d := data
		d.Reference = "2HHMDN5WBS2NR"
		if token == "" {
			d.Escalate, d.Rate = "", ""
		} else {
			d.Escalate += token
			d.Rate += token
		}
		want, err := tmpl.Render(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := bound.RenderWith("2HHMDN5WBS2NR", token)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("token %q:\n got %s\nwant %s", token, got, want)
		}
		hasLinks := bytes.Contains(got, []byte(`class="frontdoor-escalate" href="/.well-known/frontdoor/escalate?t=`)) &&
			bytes.Contains(got, []byte(`class="frontdoor-rate" href="/.well-known/frontdoor/rate?t=`))
		if hasLinks != (token != "") {
			t.Errorf("token %q: links shown %v", token, hasLinks)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { bound.RenderWith("2HHMDN5WBS2NR", "MFRGGZDFMZTWQ2LK") }); allocs != 1 { //nolint:errcheck
		t.Errorf("RenderWith allocates %v times, want 1", allocs)
	}
}
