package banner

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func mustDefault() *Template {
	t, err := ParseTemplate(DefaultTemplate)
	if err != nil {
		panic(err)
	}
	return t
}

var acme = Data{
	Brand:     "Acme Outdoor",
	Phone:     "+1 (800) 555-0100",
	Email:     "help@acme.example",
	URL:       "https://acme.example/help",
	Reference: "7f3c9a1e",
}

func TestDefaultTemplateShowsTheContact(t *testing.T) {
	out, err := mustDefault().Render(acme)
	if err != nil {
		t.Fatal(err)
	}
	html := string(out)
	for _, want := range []string{
		`role="complementary"`,
		`aria-label="Acme Outdoor support contact"`,
		`<span class="frontdoor-brand">Acme Outdoor</span>`,
		`<a class="frontdoor-phone" href="tel:&#43;18005550100">&#43;1 (800) 555-0100</a>`,
		`<a class="frontdoor-email" href="mailto:help@acme.example">help@acme.example</a>`,
		`<a class="frontdoor-url" href="https://acme.example/help">`,
		`Reference <code>7f3c9a1e</code>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("banner lacks %s:\n%s", want, html)
		}
	}
}

func TestDefaultTemplateLeavesOutEmptyFields(t *testing.T) {
	out, err := mustDefault().Render(Data{Brand: "Acme Outdoor", Email: "help@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	html := string(out)
	for _, unwanted := range []string{"tel:", `href=""`, "frontdoor-url", "Reference"} {
		if strings.Contains(html, unwanted) {
			t.Errorf("banner without phone, URL and reference has %q:\n%s", unwanted, html)
		}
	}
	out, err = mustDefault().Render(Data{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `aria-label="support contact"`) {
		t.Errorf("banner without a brand is labelled badly:\n%s", out)
	}
}

func TestDefaultTemplateSurvivesStrictPages(t *testing.T) {
	out, err := mustDefault().Render(acme)
	if err != nil {
		t.Fatal(err)
	}
	html := strings.ToLower(string(out))
	if strings.Contains(html, "<script") || regexp.MustCompile(`\son\w+=`).MatchString(html) {
		t.Error("banner has a script or an event handler attribute")
	}
	if strings.Contains(html, " style=") {
		t.Error("banner has a style attribute, which a strict CSP blocks")
	}
	if n := strings.Count(html, "<style"); n != 1 {
		t.Errorf("banner has %d <style> elements; want 1", n)
	}
	for _, m := range regexp.MustCompile(`\s(?:id|class)="([^"]*)"`).FindAllStringSubmatch(html, -1) {
		for _, name := range strings.Fields(m[1]) {
			if !strings.HasPrefix(name, "frontdoor-") {
				t.Errorf("id or class %q could clash with the vendor's CSS", name)
			}
		}
	}
	// Declaration blocks are the innermost braces; what is left are the
	// selectors.
	selectors := regexp.MustCompile(`\{[^{}]*\}`).ReplaceAllString(styleOf(t, html), "{}")
	for _, selector := range strings.FieldsFunc(selectors, func(r rune) bool { return strings.ContainsRune("{},", r) }) {
		selector = strings.TrimSpace(selector)
		if selector != "" && !strings.HasPrefix(selector, "@media ") && !strings.HasPrefix(selector, "#frontdoor-") && !strings.HasPrefix(selector, ".frontdoor-") {
			t.Errorf("style rule for %q could restyle the vendor's page", selector)
		}
	}
}

// styleOf returns the text of the only <style> element of html.
func styleOf(t *testing.T, html string) string {
	t.Helper()
	texts := styleTexts([]byte(html))
	if len(texts) != 1 {
		t.Fatalf("%d <style> elements; want 1", len(texts))
	}
	return string(texts[0])
}

func TestDefaultTemplateIsReadable(t *testing.T) {
	style := styleOf(t, DefaultTemplate)
	// The bar's text and links against its background, as declared in the
	// style sheet.
	const background = "#1b1f24"
	for _, decl := range []string{"background:" + background, "color:#ffffff", "a{color:#ffd166"} {
		if !strings.Contains(style, decl) {
			t.Fatalf("style sheet lacks %q; update this test with the new colors", decl)
		}
	}
	for _, fg := range []string{"#ffffff", "#ffd166"} {
		if ratio := contrastRatio(fg, background); ratio < 4.5 {
			t.Errorf("contrast of %s on %s is %.2f:1; WCAG AA needs 4.5:1", fg, background, ratio)
		}
	}
}

// contrastRatio computes the WCAG 2 contrast ratio of two #rrggbb colors.
func contrastRatio(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	channel := func(k int) float64 {
		v, _ := strconv.ParseUint(hex[1+2*k:3+2*k], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*channel(0) + 0.7152*channel(1) + 0.0722*channel(2)
}

func TestRenderEscapesHostileData(t *testing.T) {
	out, err := mustDefault().Render(Data{
		Brand:     `<script>alert(1)</script>`,
		Phone:     `"><img src=x onerror=alert(1)>`,
		Email:     `a@b" onmouseover="alert(1)`,
		URL:       `javascript:alert(1)`,
		Reference: `</code></div></body>`,
	})
	if err != nil {
		t.Fatal(err)
	}
	html := string(out)
	for _, unwanted := range []string{"<script", "<img", `" onmouseover`, "javascript:", "</body>"} {
		if strings.Contains(html, unwanted) {
			t.Errorf("hostile data came through as %q:\n%s", unwanted, html)
		}
	}
}

func TestRenderIsASCII(t *testing.T) {
	out, err := mustDefault().Render(Data{Brand: "Café Zoë", Phone: "+33 1 23 45 67 89", Reference: "ü\xff"})
	if err != nil {
		t.Fatal(err)
	}
	if !isASCII(out) {
		t.Fatalf("banner is not ASCII:\n%s", out)
	}
	html := string(out)
	for _, want := range []string{`<span class="frontdoor-brand">Caf&#xe9; Zo&#xeb;</span>`, `aria-label="Caf&#xe9; Zo&#xeb; support contact"`, "<code>&#xfc;&#xfffd;</code>"} {
		if !strings.Contains(html, want) {
			t.Errorf("banner lacks %s:\n%s", want, html)
		}
	}
}

func TestEscapeNonASCIIKeepsStyleText(t *testing.T) {
	in := "é<style>a{content:\"é\"}</style>é<STYLE>b</STYLE>"
	want := "&#xe9;<style>a{content:\"é\"}</style>&#xe9;<STYLE>b</STYLE>"
	if got := string(escapeNonASCII([]byte(in))); got != want {
		t.Fatalf("got %q; want %q", got, want)
	}
}

func TestStyleHashes(t *testing.T) {
	tmpl := mustDefault()
	hashes := tmpl.StyleHashes()
	if len(hashes) != 1 {
		t.Fatalf("StyleHashes() = %q; want one hash", hashes)
	}
	out, err := tmpl.Render(acme)
	if err != nil {
		t.Fatal(err)
	}
	if got := HashStyles(out); len(got) != 1 || got[0] != hashes[0] {
		t.Fatalf("rendered banner hashes to %q; StyleHashes says %q", got, hashes)
	}
	if !regexp.MustCompile(`^'sha256-[A-Za-z0-9+/]{43}='$`).MatchString(hashes[0]) {
		t.Fatalf("%q is not a CSP sha256 source", hashes[0])
	}
	hashes[0] = "changed"
	if tmpl.StyleHashes()[0] == "changed" {
		t.Fatal("StyleHashes lets callers change the template's hashes")
	}

	plain, err := ParseTemplate(`<div class="frontdoor-x">{{.Brand}}</div>`)
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.StyleHashes(); got != nil {
		t.Fatalf("template without <style> has hashes %q", got)
	}
}

func TestHashStyles(t *testing.T) {
	// The known answer is the example of the CSP specification, whose hash
	// depends only on the element's text.
	const specText = "alert('Hello, world.');"
	const specHash = "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='"
	for _, tc := range []struct {
		name string
		doc  string
		want []string
	}{
		{"spec example", "<style>" + specText + "</style>", []string{specHash}},
		{"attributes and case", `<STYLE media="a>b" nonce='x'>` + specText + "</Style >", []string{specHash}},
		{"CRLF is hashed as LF", "<style>\r\n" + specText + "\r</style>", HashStyles([]byte("<style>\n" + specText + "\n</style>"))},
		{"duplicates once", "<style>" + specText + "</style><style>" + specText + "</style>", []string{specHash}},
		{"unterminated", "<style>" + specText, []string{specHash}},
		{"not a style tag", "<styles>x</styles><p>style</p>", nil},
		{"none", "<p>hi</p>", nil},
		{"empty", "<style></style>", []string{"'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := HashStyles([]byte(tc.doc))
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("HashStyles(%q) = %q; want %q", tc.doc, got, tc.want)
			}
		})
	}
}

func TestParseTemplateRejects(t *testing.T) {
	for _, tc := range []struct {
		name, text, wantErr string
	}{
		{"syntax", `{{.Brand`, "parsing banner template"},
		{"unknown field", `{{.Phnoe}}`, "can't evaluate field Phnoe"},
		{"data in style", `<style>.frontdoor-x::after{content:"{{.Brand}}"}</style>`, "must be static"},
		{"style only with data", `{{if .Phone}}<style>.frontdoor-x{}</style>{{end}}`, "must be static"},
		{"non-ASCII style", `<style>.frontdoor-x::after{content:"→"}</style>`, "must be ASCII"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTemplate(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseTemplate(%q) = %v; want an error with %q", tc.text, err, tc.wantErr)
			}
		})
	}
}

func TestTelURI(t *testing.T) {
	for in, want := range map[string]string{
		"+1 800 555 0100":         "+18005550100",
		"+1 (800) 555-0100":       "+18005550100",
		"+44.20.7946.0958":        "+442079460958",
		"0800 123 456":            "0800123456",
		"+1 800 555 0100 ext. 12": "+18005550100",
		"1+2":                     "12",
		"":                        "",
	} {
		if got := TelURI(in); got != want {
			t.Errorf("TelURI(%q) = %q; want %q", in, got, want)
		}
	}
}
