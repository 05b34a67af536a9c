package caddymodule

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/assertion"
)

// These tests provision the real handler, with Caddy's real reverse
// proxies, against backends on the loopback interface: what ServeHTTP and
// the response writer do between the functions tested one by one above.

// recordingBackend is a loopback backend that answers with respond and
// keeps the requests it got.
type recordingBackend struct {
	*httptest.Server
	mu   sync.Mutex
	got  []*http.Request
	body []string
}

func newBackend(t *testing.T, respond http.HandlerFunc) *recordingBackend {
	t.Helper()
	b := &recordingBackend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.got = append(b.got, r)
		b.body = append(b.body, string(body))
		b.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *recordingBackend) requests() []*http.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*http.Request(nil), b.got...)
}

func (b *recordingBackend) addr() string { return strings.TrimPrefix(b.URL, "http://") }

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// provisionHandler parses a frontdoor block and provisions it as Caddy
// would, with the clock at now.
func provisionHandler(t testing.TB, caddyfileBody string, now time.Time) *Handler {
	t.Helper()
	h := mustParse(t, "frontdoor {\n"+caddyfileBody+"\n}")
	// Provisioning works on Caddy's JSON, as a real config load does.
	raw, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	h = new(Handler)
	if err := json.Unmarshal(raw, h); err != nil {
		t.Fatal(err)
	}
	h.now = func() time.Time { return now }
	if err := h.Provision(testContext(t)); err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	t.Cleanup(func() { h.Cleanup() })
	return h
}

// serve sends r through the handler as Caddy's server would, with next as
// the rest of the route.
func serve(t *testing.T, h *Handler, r *http.Request, next caddyhttp.Handler) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	repl := caddy.NewReplacer()
	r = caddyhttp.PrepareRequest(r, repl, w, &caddyhttp.Server{})
	if next == nil {
		next = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			t.Errorf("%s %s fell through to the next handler", r.Method, r.URL.Path)
			return nil
		})
	}
	if err := h.ServeHTTP(w, r, next); err != nil {
		// Caddy's server renders handler errors; tests see their status.
		status := http.StatusInternalServerError
		var herr caddyhttp.HandlerError
		if errors.As(err, &herr) && herr.StatusCode != 0 {
			status = herr.StatusCode
		}
		w.Code = status
		w.Header().Set("X-Test-Handler-Error", err.Error())
	}
	return w
}

const vendorPage = "<html><body><h1>NightDesk ticket</h1></body></html>"

func TestServeInHouse(t *testing.T) {
	care := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("X-Frontdoor-Note", "must not reach the customer")
		io.WriteString(w, "<html><body>care</body></html>")
	})
	h := provisionHandler(t, `
		brand "Acme Outdoor"
		contact {
			phone "+1 800 555 0100"
		}
		journey support /support* {
			backend care-team {
				owner in-house
				to `+care.addr()+`
			}
		}`, monday10)

	r := httptest.NewRequest(http.MethodGet, "http://shop.example.com/support/chat", nil)
	r.Header.Set("X-Frontdoor-Brand", "Evil Corp")
	r.Header.Set("X_Frontdoor_Context_Customer_Id", "victim")
	r.Header.Set("X-Request-Id", "CHOSEN")
	r.Header.Set("Cookie", "acme_session=s3cr3t")
	w := serve(t, h, r, nil)

	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "care") {
		t.Fatalf("status %d body %q", w.Code, w.Body)
	}
	got := care.requests()
	if len(got) != 1 {
		t.Fatalf("backend got %d requests", len(got))
	}
	in := got[0].Header
	want := map[string]string{
		"X-Frontdoor-Brand":           "Acme Outdoor",
		"X-Frontdoor-Support-Contact": `phone="+1 800 555 0100"`,
		"X-Frontdoor-Journey":         "support",
		"X-Frontdoor-Backend":         "care-team",
		"X-Frontdoor-Session":         "none",
		"Cookie":                      "acme_session=s3cr3t", // in-house sees the brand's cookie
	}
	for k, v := range want {
		if in.Get(k) != v {
			t.Errorf("backend got %s: %q, want %q", k, in.Get(k), v)
		}
	}
	if in.Get("X_Frontdoor_Context_Customer_Id") != "" || in.Get("X-Frontdoor-Context-Customer-Id") != "" {
		t.Error("client-sent context header reached the backend")
	}
	id := in.Get("X-Request-Id")
	if len(id) != 13 || id == "CHOSEN" {
		t.Errorf("backend got X-Request-Id %q", id)
	}
	if got := w.Header().Get("X-Request-Id"); got != id {
		t.Errorf("customer got reference %q, backend %q", got, id)
	}
	if in.Get(assertion.Header) == "" {
		t.Error("no assertion sent")
	}
	if w.Header().Get("X-Frontdoor-Note") != "" {
		t.Error("backend's X-Frontdoor-Note reached the customer")
	}
	if strings.Contains(w.Body.String(), "Acme Outdoor") {
		t.Error("in-house page got the banner, which is off by default for in-house")
	}
}

func TestServeFallsThroughAndScrubs(t *testing.T) {
	h := provisionHandler(t, `
		brand Acme
		journey support /support* {
			backend care {
				owner in-house
				to `+refusedAddr(t)+`
			}
		}`, monday10)
	r := httptest.NewRequest(http.MethodGet, "http://shop.example.com/", nil)
	r.Header.Set("X-Frontdoor-Brand", "Evil Corp")
	r.Header.Set("Accept", "text/html")
	var nextGot http.Header
	w := serve(t, h, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		nextGot = r.Header.Clone()
		io.WriteString(w, "brand home")
		return nil
	}))
	if w.Body.String() != "brand home" {
		t.Fatalf("body %q", w.Body)
	}
	if nextGot.Get("X-Frontdoor-Brand") != "" || nextGot.Get("Accept") != "text/html" {
		t.Errorf("next handler got %v", nextGot)
	}
	if w.Header().Get("X-Request-Id") != "" {
		t.Error("a request no journey claims got a frontdoor reference")
	}
}

func TestServeVendor(t *testing.T) {
	var vendorAddr string
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "NightDesk/2.1")
		w.Header().Set("X-Powered-By", "PHP/8")
		switch r.URL.Path {
		case "/support/redirect":
			w.Header().Set("Location", "http://"+vendorAddr+"/support/ticket")
			w.WriteHeader(http.StatusFound)
		case "/support/gzip":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, vendorPage)
			zw.Close()
		case "/support/json":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok":true}`)
		default:
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", fmt.Sprint(len(vendorPage)))
			w.Header().Add("Set-Cookie", "vsid=1; Domain=nightdesk.example; Path=/")
			io.WriteString(w, vendorPage)
		}
	})
	vendorAddr = vendor.addr()
	h := provisionHandler(t, `
		brand "Acme Outdoor"
		contact {
			phone "+1 800 555 0100"
		}
		session {
			redis redis://`+refusedAddr(t)+`/0
			cookie acme_session
			timeout 20ms
			strip_cookies acme_csrf
		}
		journey support /support* {
			backend nightdesk {
				owner outsourced
				vendor NightDesk
				to `+vendorAddr+`
				context customer_id
			}
		}`, monday10)

	get := func(path string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "http://shop.example.com"+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return serve(t, h, r, nil)
	}

	t.Run("page", func(t *testing.T) {
		w := get("/support/page", "Cookie", "acme_session=s3cr3t12345; theme=dark; acme_csrf=x", "Accept-Encoding", "br")
		reqs := vendor.requests()
		in := reqs[len(reqs)-1].Header
		if c := in.Get("Cookie"); c != "theme=dark" {
			t.Errorf("vendor got Cookie %q", c)
		}
		// Redis is down: the vendor must not treat the customer as anonymous.
		if s := assertionClaims(in)["session"]; s != "unavailable" {
			t.Errorf("vendor's assertion says session %q", s)
		}
		if ae := in.Get("Accept-Encoding"); ae != "identity" {
			t.Errorf("vendor got Accept-Encoding %q, want identity for a customer without gzip", ae)
		}
		if w.Header().Get("Server") != "" || w.Header().Get("X-Powered-By") != "" {
			t.Errorf("vendor identity reached the customer: %v", w.Header())
		}
		if c := w.Header().Get("Set-Cookie"); c != "fd-jar~support~nightdesk~vsid=1; Path=/support" {
			t.Errorf("Set-Cookie %q", c)
		}
		body := w.Body.String()
		if strings.Count(body, `id="frontdoor-banner"`) != 1 || !strings.HasSuffix(body, "</body></html>") {
			t.Errorf("banner not injected once before </body>: %q", body)
		}
		if ref := w.Header().Get("X-Request-Id"); !strings.Contains(body, "<code>"+ref+"</code>") {
			t.Errorf("banner does not show the reference %q", ref)
		}
		// What closes an open page and transcoding change the length by
		// more than the banner: the vendor's Content-Length goes, and the
		// page, held whole, gets the length of what it became.
		if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(len(body)) {
			t.Errorf("Content-Length %q for a body of %d bytes", cl, len(body))
		}
	})

	t.Run("gzip page", func(t *testing.T) {
		w := get("/support/gzip", "Accept-Encoding", "gzip, br")
		if ce := w.Header().Get("Content-Encoding"); ce != "" {
			t.Fatalf("Content-Encoding %q: the banner page is sent decoded", ce)
		}
		if !strings.Contains(w.Body.String(), "NightDesk ticket") || strings.Count(w.Body.String(), `id="frontdoor-banner"`) != 1 {
			t.Errorf("body %q", w.Body)
		}
	})

	t.Run("json untouched", func(t *testing.T) {
		w := get("/support/json")
		if w.Body.String() != `{"ok":true}` {
			t.Errorf("body %q", w.Body)
		}
		// Isolation covers every type a browser might render as a document.
		if csp := w.Header().Values("Content-Security-Policy"); len(csp) != 1 || csp[0] != config.IsolationPolicy {
			t.Errorf("Content-Security-Policy %q, want the isolation policy", csp)
		}
	})

	t.Run("redirect", func(t *testing.T) {
		w := get("/support/redirect")
		if loc := w.Header().Get("Location"); loc != "http://shop.example.com/support/ticket" {
			t.Errorf("Location %q", loc)
		}
	})
}

func TestServeBrandErrorPages(t *testing.T) {
	failing := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "NightDesk stack trace")
	})
	care := newBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "care") })
	dead := refusedAddr(t)

	t.Run("vendor 5xx replaced", func(t *testing.T) {
		h := provisionHandler(t, `
			brand Acme
			contact {
				email help@acme.example
			}
			journey support /support* {
				backend nightdesk {
					owner outsourced
					vendor NightDesk
					to `+failing.addr()+`
				}
			}`, monday10)
		w := serve(t, h, httptest.NewRequest(http.MethodGet, "http://shop.example.com/support", nil), nil)
		body := w.Body.String()
		if w.Code != http.StatusInternalServerError || strings.Contains(body, "NightDesk") {
			t.Errorf("status %d body %q", w.Code, body)
		}
		ref := w.Header().Get("X-Request-Id")
		if len(ref) != 13 || !strings.Contains(body, ref) || !strings.Contains(body, "help@acme.example") {
			t.Errorf("brand page without reference %q or contact: %q", ref, body)
		}
	})

	t.Run("refused GET fails over", func(t *testing.T) {
		h := provisionHandler(t, `
			brand Acme
			journey support /support* {
				backend nightdesk {
					owner outsourced
					vendor NightDesk
					to `+dead+`
				}
				backend care {
					owner in-house
					to `+care.addr()+`
				}
			}`, monday10)
		w := serve(t, h, httptest.NewRequest(http.MethodGet, "http://shop.example.com/support", nil), nil)
		if w.Code != http.StatusOK || w.Body.String() != "care" {
			t.Errorf("status %d body %q", w.Code, w.Body)
		}
	})

	t.Run("refused POST is not replayed", func(t *testing.T) {
		before := len(care.requests())
		h := provisionHandler(t, `
			brand Acme
			journey checkout /checkout* {
				backend shop {
					owner in-house
					to `+dead+`
				}
				backend spare {
					owner in-house
					to `+care.addr()+`
				}
			}`, monday10)
		r := httptest.NewRequest(http.MethodPost, "http://shop.example.com/checkout", strings.NewReader("order=1"))
		r.Header.Set("Accept", "application/json")
		w := serve(t, h, r, nil)
		if w.Code != http.StatusBadGateway {
			t.Errorf("status %d, want 502", w.Code)
		}
		if n := len(care.requests()) - before; n != 0 {
			t.Errorf("the order was replayed to the next backend (%d requests)", n)
		}
		var page map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
			t.Errorf("JSON client got %q: %v", w.Body, err)
		}
	})

	t.Run("closed journey", func(t *testing.T) {
		h := provisionHandler(t, `
			brand Acme
			journey support /support* {
				backend care {
					owner in-house
					to `+care.addr()+`
					hours "Sat,Sun 08:00-20:00"
				}
			}`, monday10)
		w := serve(t, h, httptest.NewRequest(http.MethodGet, "http://shop.example.com/support", nil), nil)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", w.Code)
		}
	})
}

func TestServeJWKS(t *testing.T) {
	h := provisionHandler(t, `
		brand Acme
		journey support /support* {
			backend care {
				owner in-house
				to `+refusedAddr(t)+`
			}
		}`, monday10)
	w := serve(t, h, httptest.NewRequest(http.MethodGet, "http://shop.example.com"+assertion.JWKSPath, nil), nil)
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &jwks) != nil || len(jwks.Keys) == 0 {
		t.Errorf("status %d body %q", w.Code, w.Body)
	}
	w = serve(t, h, httptest.NewRequest(http.MethodPost, "http://shop.example.com"+assertion.JWKSPath, bytes.NewReader(nil)), nil)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

// TestAssertionOnlyBackend: a backend with headers assertion gets the
// signed assertion and the request id, no plain context header; failing
// over from it to a backend with plain headers gives that one all of them.
func TestAssertionOnlyBackend(t *testing.T) {
	lean := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close() // hangs up before answering: the request fails over
		}
	})
	plain := newBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }) //nolint:errcheck
	h := provisionHandler(t, `brand "Acme Outdoor"
		contact {
			phone "+1 800 555 0100"
		}
		journey support /support* {
			backend lean {
				owner in-house
				to `+lean.addr()+`
				headers assertion
				context customer_id
			}
			backend plain {
				owner in-house
				to `+plain.addr()+`
				context customer_id
			}
		}`, monday10)
	serve(t, h, httptest.NewRequest("GET", "http://shop.example.com/support/x", nil), nil)
	got := lean.requests()
	if len(got) != 1 {
		t.Fatalf("lean backend got %d requests", len(got))
	}
	for name := range got[0].Header {
		if strings.HasPrefix(name, "X-Frontdoor-") && name != "X-Frontdoor-Assertion" {
			t.Errorf("assertion-only backend received %s", name)
		}
	}
	if got[0].Header.Get("X-Frontdoor-Assertion") == "" || got[0].Header.Get("X-Request-Id") == "" {
		t.Errorf("assertion-only backend lacks the assertion or the request id: %v", got[0].Header)
	}
	if len(plain.requests()) == 0 {
		t.Fatal("no failover to the plain backend")
	}
	after := plain.requests()[0].Header
	for _, name := range []string{"X-Frontdoor-Brand", "X-Frontdoor-Support-Contact", "X-Frontdoor-Journey", "X-Frontdoor-Backend", "X-Frontdoor-Session", "X-Frontdoor-Assertion"} {
		if after.Get(name) == "" {
			t.Errorf("after failover the plain backend lacks %s", name)
		}
	}
}

// assertionClaims reads the claims of the request's assertion without
// verifying it, as a test vendor that trusts its link would: the
// assertion is where an outsourced backend finds the customer's context
// by default.
func assertionClaims(h http.Header) map[string]any {
	parts := strings.Split(h.Get(assertion.Header), ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil {
		return nil
	}
	return claims
}

// assertedField is one context field of the request's assertion, "" when
// absent.
func assertedField(h http.Header, field string) string {
	ctx, _ := assertionClaims(h)["ctx"].(map[string]any)
	v, _ := ctx[field].(string)
	return v
}
