// Package errorpage renders the brand's error page, shown instead of a
// vendor's when the vendor fails: a 5xx answer, a refused connection (502), a
// timeout (504) or an unavailable session store (503). The page names the
// brand, says what happened in plain words, gives the support contact and the
// request reference, and is JSON for clients that ask for it.
package errorpage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/frontdoor-dev/frontdoor/internal/banner"
)

// Page is what an error page shows.
type Page struct {
	// Status is the HTTP status code to answer with; 0 means 502, and
	// anything else that is not a 4xx or 5xx code means 500.
	Status int
	Brand  string
	Phone  string
	Email  string
	URL    string
	// Reference identifies the request (its X-Request-Id) so that an agent
	// can find it when the customer reads it out.
	Reference string
	// Journey is the name of the journey that failed; the default page does
	// not show it, but custom templates may.
	Journey string
}

// DefaultTemplate is the built-in error page. It has no script and a single
// static <style> element, so it can be served with a CSP of default-src 'none'.
const DefaultTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Message}}{{with .Brand}} - {{.}}{{end}}</title>
<style>
html{background:#f4f5f7;color:#1b1f24;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
body{margin:0;padding:2rem 1rem}
main{max-width:36rem;margin:0 auto;background:#ffffff;border-top:6px solid #1b1f24;border-radius:4px;padding:1.5rem 2rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}
.frontdoor-brand{margin:0;font-weight:700;letter-spacing:.02em}
h1{font-size:1.6rem;line-height:1.25;margin:.75rem 0}
ul{padding:0;list-style:none}
li{margin:.35rem 0}
a{color:#0b57d0}
a:focus-visible{outline:2px solid #0b57d0;outline-offset:2px}
.frontdoor-reference{margin:1.5rem 0 .25rem;padding:.75rem 1rem;background:#fff4d6;border-left:4px solid #b26a00;font-size:1.1rem}
.frontdoor-reference strong{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:1.25rem;letter-spacing:.05em;overflow-wrap:anywhere}
.frontdoor-status{color:#4a5360;font-size:.9rem}
</style>
</head>
<body>
<main>
{{with .Brand}}<p class="frontdoor-brand">{{.}}</p>{{end}}
<h1>{{.Message}}</h1>
<p>Please try again in a few minutes.{{if or .Phone .Email .URL}} If you need help now, contact us:{{end}}</p>
{{if or .Phone .Email .URL}}<ul class="frontdoor-contact">
{{with .Phone}}<li>Phone: <a href="tel:{{tel .}}">{{.}}</a></li>{{end}}
{{with .Email}}<li>Email: <a href="mailto:{{.}}">{{.}}</a></li>{{end}}
{{with .URL}}<li>Help center: <a href="{{.}}">{{.}}</a></li>{{end}}
</ul>{{end}}
{{with .Reference}}<p class="frontdoor-reference">Reference: <strong>{{.}}</strong></p>
<p>Please quote this reference when you contact us.</p>{{end}}
<p class="frontdoor-status">Error {{.Status}}</p>
</main>
</body>
</html>
`

// StatusText returns what a status code means to a customer, in plain words
// rather than HTTP's ("Bad Gateway" means nothing to most people).
func StatusText(code int) string {
	switch code {
	case http.StatusBadGateway:
		return "This service is temporarily unreachable"
	case http.StatusServiceUnavailable:
		return "This service is temporarily unavailable"
	case http.StatusGatewayTimeout:
		return "This service took too long to answer"
	case http.StatusNotFound:
		return "This page could not be found"
	case http.StatusTooManyRequests:
		return "Too many requests right now"
	}
	if code >= 400 && code < 500 {
		return "This request could not be completed"
	}
	return "Something went wrong on our side"
}

// Template renders error pages. Create it with [ParseTemplate]; it is safe
// for concurrent use.
type Template struct {
	tmpl *template.Template
	// csp is the Content-Security-Policy of the HTML page: nothing allowed
	// but its own <style> elements.
	csp string
}

// templateData is what the HTML template sees: the Page and its message.
type templateData struct {
	Page
	Message string
}

// probes are rendered when a template is parsed, to catch execution errors
// early and to make sure the <style> text, whose hash goes in the CSP, does
// not depend on the page.
var probes = []Page{
	{Status: http.StatusBadGateway},
	{
		Status:    http.StatusGatewayTimeout,
		Brand:     "Acme Outdoor",
		Phone:     "+1 800 555 0100",
		Email:     "help@acme.example",
		URL:       "https://acme.example/help",
		Reference: "0f8fad5b-d9cb-469f-a165-70867728950e",
		Journey:   "support",
	},
	{
		Status:    http.StatusServiceUnavailable,
		Brand:     `</style><script>"x"</script>`,
		Phone:     `'; } * { color: red`,
		Email:     `}</style>@example`,
		URL:       `javascript:alert(1)`,
		Reference: "caf\u00e9",
		Journey:   `{}`,
	},
}

// ParseTemplate parses an error page template written for html/template. It
// sees the fields of [Page] and .Message (the [StatusText] of the status),
// and has a "tel" function that turns a phone number as written for people
// into the digits of a tel: link.
//
// The page is served with a CSP that allows nothing but its own <style>
// elements, so it must be self-contained (no scripts, images or fonts from
// elsewhere) and the text of its <style> elements must be static.
// ParseTemplate renders the template with sample pages and returns an error
// if that fails or if the style text changes with the page.
func ParseTemplate(text string) (*Template, error) {
	tmpl, err := template.New("errorpage").Funcs(template.FuncMap{"tel": banner.TelURI}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parsing error page template: %w", err)
	}
	t := &Template{tmpl: tmpl}
	var styleHashes []string
	for k, p := range probes {
		out, err := t.renderHTML(p)
		if err != nil {
			return nil, fmt.Errorf("checking error page template: %w", err)
		}
		hashes := banner.HashStyles(out)
		if k == 0 {
			styleHashes = hashes
		} else if !slices.Equal(hashes, styleHashes) {
			return nil, errors.New("checking error page template: <style> text must be static, not depend on the page, so that its CSP hash is known")
		}
	}
	t.csp = "default-src 'none'"
	if len(styleHashes) > 0 {
		t.csp += "; style-src " + strings.Join(styleHashes, " ")
	}
	return t, nil
}

// renderHTML executes the template for p, whose Status is already valid.
func (t *Template) renderHTML(p Page) ([]byte, error) {
	var buf bytes.Buffer
	if err := t.tmpl.Execute(&buf, templateData{Page: p, Message: StatusText(p.Status)}); err != nil {
		return nil, fmt.Errorf("rendering error page: %w", err)
	}
	return buf.Bytes(), nil
}

// jsonError is the JSON error body, for API clients.
type jsonError struct {
	Error     string      `json:"error"`
	Status    int         `json:"status"`
	Reference string      `json:"reference"`
	Contact   jsonContact `json:"contact"`
	Brand     string      `json:"brand"`
}

type jsonContact struct {
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

// staleHeaders describe a body other than the error page, such as the one
// the vendor sent, and would be wrong on it.
var staleHeaders = []string{
	"Content-Disposition",
	"Content-Encoding",
	"Content-Language",
	"Content-Location",
	"Content-Range",
	"Content-Security-Policy",
	"ETag",
	"Expires",
	"Last-Modified",
	"Transfer-Encoding",
}

// Render writes the error page for p to w as the whole response: HTML, or
// JSON if the request's Accept header prefers application/json (or another
// application/*+json type). It sets Content-Type, Content-Length,
// Cache-Control: no-store, X-Content-Type-Options: nosniff and, for HTML, a
// Content-Security-Policy that allows only the page's own style; it adds
// Accept to Vary, and Retry-After: 30 to a 503 unless the caller set one.
// Headers that describe another body, such as the vendor's Content-Encoding
// or ETag, are removed; other headers already in w are kept. A HEAD request
// gets the headers only.
//
// If the page cannot be rendered, Render returns an error before writing
// anything, so the caller can still answer some other way.
func (t *Template) Render(w http.ResponseWriter, r *http.Request, p Page) error {
	switch {
	case p.Status == 0:
		p.Status = http.StatusBadGateway
	case p.Status < 400 || p.Status > 599:
		p.Status = http.StatusInternalServerError
	}

	var (
		body        []byte
		contentType string
		err         error
	)
	if r != nil && prefersJSON(r.Header.Values("Accept")) {
		contentType = "application/json"
		body, err = json.Marshal(jsonError{
			Error:     StatusText(p.Status),
			Status:    p.Status,
			Reference: p.Reference,
			Contact:   jsonContact{Phone: p.Phone, Email: p.Email, URL: p.URL},
			Brand:     p.Brand,
		})
		if err != nil {
			return fmt.Errorf("encoding error page: %w", err)
		}
		body = append(body, '\n')
	} else {
		contentType = "text/html; charset=utf-8"
		if body, err = t.renderHTML(p); err != nil {
			return err
		}
	}

	h := w.Header()
	for _, name := range staleHeaders {
		h.Del(name)
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(contentType, "text/html") {
		h.Set("Content-Security-Policy", t.csp)
	}
	addVary(h, "Accept")
	if p.Status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "30")
	}
	w.WriteHeader(p.Status)

	if r != nil && r.Method == http.MethodHead {
		return nil
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("writing error page: %w", err)
	}
	return nil
}

// addVary adds field to the Vary header unless it is already listed.
func addVary(h http.Header, field string) {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, field) {
				return
			}
		}
	}
	h.Add("Vary", field)
}
