package errorpage

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/frontdoor-dev/frontdoor/internal/banner"
)

func mustDefault(t *testing.T) *Template {
	t.Helper()
	tmpl, err := ParseTemplate(DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

var acme = Page{
	Status:    http.StatusBadGateway,
	Brand:     "Acme Outdoor",
	Phone:     "+1 800 555 0100",
	Email:     "help@acme.example",
	URL:       "https://acme.example/help",
	Reference: "0f8fad5b-d9cb-469f-a165-70867728950e",
	Journey:   "support",
}

// render renders p for a request with the given method and Accept header.
func render(t *testing.T, tmpl *Template, method, accept string, p Page) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "https://shop.example.com/support/chat", nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	if err := tmpl.Render(w, r, p); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestRenderHTML(t *testing.T) {
	w := render(t, mustDefault(t), http.MethodGet, "text/html,*/*;q=0.8", acme)

	if w.Code != http.StatusBadGateway {
		t.Errorf("status %d; want 502", w.Code)
	}
	for name, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Vary":                   "Accept",
		"Content-Length":         strconv.Itoa(w.Body.Len()),
	} {
		if got := w.Header().Get(name); got != want {
			t.Errorf("%s: %q; want %q", name, got, want)
		}
	}
	html := w.Body.String()
	for _, want := range []string{
		"<title>This service is temporarily unreachable - Acme Outdoor</title>",
		`<p class="frontdoor-brand">Acme Outdoor</p>`,
		"<h1>This service is temporarily unreachable</h1>",
		`<a href="tel:&#43;18005550100">&#43;1 800 555 0100</a>`,
		`<a href="mailto:help@acme.example">help@acme.example</a>`,
		`<a href="https://acme.example/help">https://acme.example/help</a>`,
		"Reference: <strong>0f8fad5b-d9cb-469f-a165-70867728950e</strong>",
		"Error 502",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %s:\n%s", want, html)
		}
	}
	lower := strings.ToLower(html)
	if strings.Contains(lower, "<script") || strings.Contains(lower, " style=") || regexp.MustCompile(`\son\w+=`).MatchString(lower) {
		t.Errorf("page has a script, an event handler or a style attribute:\n%s", html)
	}
}

func TestRenderHTMLPolicyAllowsItsOwnStyle(t *testing.T) {
	w := render(t, mustDefault(t), http.MethodGet, "", acme)
	hashes := banner.HashStyles(w.Body.Bytes())
	if len(hashes) != 1 {
		t.Fatalf("page has %d distinct <style> texts; want 1", len(hashes))
	}
	want := "default-src 'none'; style-src " + hashes[0]
	if got := w.Header().Get("Content-Security-Policy"); got != want {
		t.Fatalf("Content-Security-Policy: %q; want %q", got, want)
	}
}

func TestRenderHTMLEscapes(t *testing.T) {
	w := render(t, mustDefault(t), http.MethodGet, "", Page{
		Status:    http.StatusGatewayTimeout,
		Brand:     `<script>alert("brand")</script>`,
		Phone:     `"><img src=x onerror=alert(1)>`,
		Email:     `a@b" onmouseover="alert(1)`,
		URL:       `javascript:alert(1)`,
		Reference: `</strong><script>alert(2)</script>`,
	})
	html := w.Body.String()
	for _, unwanted := range []string{"<script", "<img", `" onmouseover`, `href="javascript:`} {
		if strings.Contains(html, unwanted) {
			t.Errorf("hostile page data came through as %q:\n%s", unwanted, html)
		}
	}
	if !strings.Contains(html, "&lt;script&gt;alert(&#34;brand&#34;)&lt;/script&gt;") {
		t.Errorf("hostile brand is not shown escaped:\n%s", html)
	}
}

func TestRenderHTMLWithoutContact(t *testing.T) {
	w := render(t, mustDefault(t), http.MethodGet, "", Page{Status: http.StatusServiceUnavailable, Brand: "Acme Outdoor"})
	html := w.Body.String()
	for _, unwanted := range []string{"contact us:", "<ul", "Reference", `href=""`} {
		if strings.Contains(html, unwanted) {
			t.Errorf("page without contact or reference has %q:\n%s", unwanted, html)
		}
	}
}

func TestRenderJSON(t *testing.T) {
	w := render(t, mustDefault(t), http.MethodGet, "application/json", acme)
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type: %q; want application/json", got)
	}
	for name, want := range map[string]string{
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"Vary":                    "Accept",
		"Content-Length":          strconv.Itoa(w.Body.Len()),
		"Content-Security-Policy": "",
	} {
		if got := w.Header().Get(name); got != want {
			t.Errorf("%s: %q; want %q", name, got, want)
		}
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, w.Body)
	}
	want := map[string]any{
		"error":     "This service is temporarily unreachable",
		"status":    float64(502),
		"reference": acme.Reference,
		"contact":   map[string]any{"phone": acme.Phone, "email": acme.Email, "url": acme.URL},
		"brand":     acme.Brand,
	}
	if gotJSON, wantJSON := mustJSON(t, got), mustJSON(t, want); gotJSON != wantJSON {
		t.Fatalf("got %s; want %s", gotJSON, wantJSON)
	}
}

func TestRenderJSONLeavesOutEmptyContactFields(t *testing.T) {
	w := render(t, mustDefault(t), http.MethodGet, "application/problem+json", Page{Status: http.StatusGatewayTimeout, Email: "help@acme.example"})
	want := `{"error":"This service took too long to answer","status":504,"reference":"","contact":{"email":"help@acme.example"},"brand":""}` + "\n"
	if w.Body.String() != want {
		t.Fatalf("got %s; want %s", w.Body, want)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRenderHEADHasNoBody(t *testing.T) {
	for _, accept := range []string{"text/html", "application/json"} {
		w := render(t, mustDefault(t), http.MethodHead, accept, acme)
		if w.Code != http.StatusBadGateway || w.Body.Len() != 0 {
			t.Errorf("HEAD with Accept %s: status %d and %d body bytes; want 502 and none", accept, w.Code, w.Body.Len())
		}
		if w.Header().Get("Content-Type") == "" || w.Header().Get("Content-Length") == "0" {
			t.Errorf("HEAD with Accept %s: headers %v are not those of GET", accept, w.Header())
		}
	}
}

func TestRenderRetryAfter(t *testing.T) {
	tmpl := mustDefault(t)
	for _, tc := range []struct {
		name   string
		status int
		preset string
		want   string
	}{
		{"503 gets one", http.StatusServiceUnavailable, "", "30"},
		{"503 keeps the caller's", http.StatusServiceUnavailable, "120", "120"},
		{"502 gets none", http.StatusBadGateway, "", ""},
		{"504 gets none", http.StatusGatewayTimeout, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if tc.preset != "" {
				w.Header().Set("Retry-After", tc.preset)
			}
			if err := tmpl.Render(w, httptest.NewRequest(http.MethodGet, "/", nil), Page{Status: tc.status}); err != nil {
				t.Fatal(err)
			}
			if got := w.Header().Get("Retry-After"); got != tc.want {
				t.Fatalf("Retry-After: %q; want %q", got, tc.want)
			}
		})
	}
}

func TestRenderStatus(t *testing.T) {
	tmpl := mustDefault(t)
	for give, want := range map[int]int{0: 502, 500: 500, 503: 503, 504: 504, 599: 599, 404: 404, 200: 500, 302: 500, 600: 500, -1: 500} {
		w := httptest.NewRecorder()
		if err := tmpl.Render(w, httptest.NewRequest(http.MethodGet, "/", nil), Page{Status: give}); err != nil {
			t.Fatal(err)
		}
		if w.Code != want {
			t.Errorf("Status %d answered %d; want %d", give, w.Code, want)
		}
	}
}

func TestRenderHeaders(t *testing.T) {
	w := httptest.NewRecorder()
	h := w.Header()
	// What a vendor's response would have left behind, and what the caller
	// set on purpose.
	h.Set("Content-Encoding", "gzip")
	h.Set("ETag", `"v1"`)
	h.Set("Content-Disposition", "attachment")
	h.Set("Content-Security-Policy", "default-src *")
	h.Set("Content-Length", "12345")
	h.Set("X-Request-Id", "abc")
	h.Set("Vary", "accept-encoding, ACCEPT")
	if err := mustDefault(t).Render(w, nil, acme); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Content-Encoding", "ETag", "Content-Disposition"} {
		if v := h.Get(name); v != "" {
			t.Errorf("%s: %q left on the error page", name, v)
		}
	}
	if h.Get("X-Request-Id") != "abc" {
		t.Error("caller's X-Request-Id was removed")
	}
	if got := h.Values("Vary"); len(got) != 1 {
		t.Errorf("Vary: %q; want Accept once", got)
	}
	if h.Get("Content-Length") != strconv.Itoa(w.Body.Len()) || !strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("Content-Length or CSP not replaced: %v", h)
	}
}

func TestStatusText(t *testing.T) {
	for code, want := range map[int]string{
		500: "Something went wrong on our side",
		501: "Something went wrong on our side",
		502: "This service is temporarily unreachable",
		503: "This service is temporarily unavailable",
		504: "This service took too long to answer",
		599: "Something went wrong on our side",
		404: "This page could not be found",
		429: "Too many requests right now",
		400: "This request could not be completed",
	} {
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q; want %q", code, got, want)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	for _, tc := range []struct {
		name, text, wantErr string
	}{
		{"syntax", `{{.Brand`, "parsing error page template"},
		{"unknown field", `{{.Phnoe}}`, "can't evaluate field Phnoe"},
		{"style depends on status", `<style>h1::after{content:"{{.Status}}"}</style>`, "must be static"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTemplate(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseTemplate(%q) = %v; want an error with %q", tc.text, err, tc.wantErr)
			}
		})
	}

	plain, err := ParseTemplate(`<p>{{.Message}} ({{.Journey}})</p>`)
	if err != nil {
		t.Fatal(err)
	}
	w := render(t, plain, http.MethodGet, "", acme)
	if got := w.Header().Get("Content-Security-Policy"); got != "default-src 'none'" {
		t.Errorf("page without style has CSP %q", got)
	}
	if got := w.Body.String(); got != "<p>This service is temporarily unreachable (support)</p>" {
		t.Errorf("custom page is %q", got)
	}
}

func TestRenderFailsBeforeWriting(t *testing.T) {
	// The sample pages checked by ParseTemplate do not use status 500.
	tmpl, err := ParseTemplate(`{{if eq .Status 500}}{{index .Brand 99}}{{end}}ok`)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := tmpl.Render(w, httptest.NewRequest(http.MethodGet, "/", nil), Page{Status: 500}); err == nil {
		t.Fatal("Render succeeded")
	}
	if w.Code != http.StatusOK || w.Body.Len() != 0 || len(w.Header()) != 0 || w.Flushed {
		t.Fatalf("Render wrote %d %v %q before failing", w.Code, w.Header(), w.Body)
	}
}

// brokenWriter fails writes as a connection closed by the client does.
type brokenWriter struct{ *httptest.ResponseRecorder }

var errGone = errors.New("client went away")

func (brokenWriter) Write([]byte) (int, error) { return 0, errGone }

func TestRenderReportsWriteErrors(t *testing.T) {
	w := brokenWriter{httptest.NewRecorder()}
	if err := mustDefault(t).Render(w, httptest.NewRequest(http.MethodGet, "/", nil), acme); !errors.Is(err, errGone) {
		t.Fatalf("Render = %v; want %v", err, errGone)
	}
}
