package shopper

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The shopper's in-process client: it sends each step through the
// gateway's Serve as the gateway's server would hand it a customer's
// request, and keeps what a browser would have got.

// Browser-like request headers: a shopper looks like a customer.
const (
	UserAgent     = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
	browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

// stepBody is what a step's body sends, and its Content-Type: JSON as
// written; otherwise a form written as it reads ("message=Where is my
// order?"), each name and value form-encoded as a browser submits them,
// in the order written.
func stepBody(written string) (body, contentType string) {
	if b := strings.TrimSpace(written); strings.HasPrefix(b, "{") || strings.HasPrefix(b, "[") {
		return written, "application/json"
	}
	fields := strings.Split(written, "&")
	for i, f := range fields {
		name, value, ok := strings.Cut(f, "=")
		fields[i] = url.QueryEscape(name)
		if ok {
			fields[i] += "=" + url.QueryEscape(value)
		}
	}
	return strings.Join(fields, "&"), "application/x-www-form-urlencoded"
}

// fetchMetadata gives a step the headers a browser sends with it
// (Sec-Fetch-*, Fetch Metadata Request Headers; Upgrade-Insecure-Requests
// and Origin), as the customer's browser would for what the step is: a
// GET opens a page, a form is submitted from the backend's page, a JSON
// body or another method is a script's fetch() on it. The first step of
// a run is opened from outside the site (a bookmark, a link in an email).
// The page of an isolated backend is in an opaque origin (its sandbox):
// what it asks for is cross-site, from Origin null, as Chromium sends it
// (e2e TestShopperSendsWhatChromiumSends). A request without them is one
// no browser of the last years sends: a vendor that looks would know the
// shopper by it.
func fetchMetadata(h http.Header, method, contentType string, first, isolated bool, base *url.URL) {
	site, origin := "same-origin", base.Scheme+"://"+base.Host
	if isolated {
		site, origin = "cross-site", "null"
	}
	if fetchMode(method, contentType) == "cors" {
		h.Set("Accept", "*/*")
		h.Set("Origin", origin)
		h.Set("Sec-Fetch-Dest", "empty")
		h.Set("Sec-Fetch-Mode", "cors")
		h.Set("Sec-Fetch-Site", site) // a script of the backend's page
		return
	}
	if method == http.MethodPost {
		h.Set("Origin", origin) // a form is on the backend's page, even in a first step
	} else if first {
		site = "none"
	}
	h.Set("Accept", browserAccept)
	h.Set("Upgrade-Insecure-Requests", "1")
	h.Set("Sec-Fetch-Dest", "document")
	h.Set("Sec-Fetch-Mode", "navigate")
	h.Set("Sec-Fetch-Site", site)
	h.Set("Sec-Fetch-User", "?1")
}

// browserRequest is a request to u as the gateway's server hands it a
// browser's, from the client address from: what every request of the
// shopper's browser carries, whatever it is for.
func browserRequest(ctx context.Context, method string, u *url.URL, body io.Reader, from string, https bool) (*http.Request, error) {
	r, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if body == nil {
		r.Body = http.NoBody // as a server request has
	}
	r.RequestURI = u.RequestURI()
	r.RemoteAddr = from
	if https {
		r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true, ServerName: u.Hostname()}
	}
	r.Header.Set("User-Agent", UserAgent)
	r.Header.Set("Accept-Language", "en-US,en;q=0.5")
	r.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	return r, nil
}

// visit sends one step through the gateway, from the client address
// from; first is the run's first step, which the customer opens from
// outside the site.
func (s *Shopper) visit(ctx context.Context, t *Target, st *step, base *url.URL, https bool, jar http.CookieJar, from string, first bool) (out stepOutcome) {
	u := base.ResolveReference(st.url)
	var body io.Reader
	var contentType string
	if st.cfg.Body != "" {
		var sent string
		sent, contentType = stepBody(st.cfg.Body)
		body = strings.NewReader(sent)
	}
	visit := &Visit{Journey: t.probe.journey, Backend: t.backend.Name}
	r, err := browserRequest(WithVisit(ctx, visit), st.cfg.Method, u, body, from, https)
	if err != nil {
		out.failure = err.Error()
		return out
	}
	if body != nil {
		r.Header.Set("Content-Type", contentType)
	}
	isolated := t.backend.Backend != nil && t.backend.IsolateEnabled() && t.backend.Origin == "" // on its own origin, no sandbox
	fetchMetadata(r.Header, st.cfg.Method, contentType, first, isolated, base)
	cors := crossOrigin(st.cfg.Method, contentType, isolated)
	out.cookieless = cors
	if !cors { // a cross-origin fetch() goes without the site's cookies
		for _, c := range jar.Cookies(u) {
			r.AddCookie(c)
		}
	}
	w := newRecorder()

	start := time.Now()
	if cors {
		a := s.preflight(ctx, t, u, st.cfg.Method, contentType, from, https)
		if ctx.Err() != nil || a.err != nil || a.errorPage != 0 || a.status >= 500 || a.refused != "" {
			// The browser goes no further: what failed is the step's.
			out.elapsed = time.Since(start)
			out.status, out.header, out.errorPage, out.corsRefused = a.status, a.header, a.errorPage, a.refused
			out.requestID = a.header.Get("X-Request-Id")
			switch {
			case ctx.Err() != nil:
				out.timedOut = true
				out.failure = "no complete answer to the preflight (OPTIONS) before the run's deadline"
			case a.err != nil:
				out.failure = "the preflight (OPTIONS): " + a.err.Error()
			}
			return out
		}
	}
	err = s.cfg.Gateway.Serve(w, r)
	out.elapsed = time.Since(start)
	out.status, out.header = w.result()
	out.requestID = out.header.Get("X-Request-Id")
	out.errorPage = visit.ErrorPage()
	out.noContext = visit.lookupHasFailed()
	out.body = w.decodedBody(s.cfg.Decode)
	if cors && out.errorPage == 0 {
		if why := originRefused(out.header); why != "" {
			out.corsRefused = "the page's script cannot read the answer: " + why
		}
	}
	if c := (&http.Response{Header: out.header}).Cookies(); len(c) > 0 && !cors {
		jar.SetCookies(u, c)
	}
	switch {
	case ctx.Err() != nil:
		out.timedOut = true
		out.failure = "no complete answer before the run's deadline"
	case err != nil:
		// The server would answer with the error's status.
		out.failure = err.Error()
		if !w.wroteHeader() {
			out.status = statusOf(err)
		}
	}
	return out
}

// StatusError is an error of Serve with the status the gateway's server
// answers it with.
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// statusOf is the status the server answers an error of Serve with: its
// own, else 500.
func statusOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) && se.Status != 0 {
		return se.Status
	}
	return http.StatusInternalServerError
}

// Bounds of what the shopper keeps of a page: its start, and its end
// (where the banner goes) when it is longer.
const (
	bodyHead = 1 << 20
	bodyTail = 64 << 10
)

// recorder is the shopper's ResponseWriter: it keeps the status, the
// headers and a bounded copy of the body, whatever the page's size.
type recorder struct {
	mu     sync.Mutex
	header http.Header
	status int
	head   []byte
	tail   []byte // the last bodyTail bytes after head, once head is full
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status != 0 || status >= 100 && status <= 199 && status != http.StatusSwitchingProtocols {
		return // already written, or an informational answer (more headers follow)
	}
	w.status = status
}

func (w *recorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if room := bodyHead - len(w.head); room > 0 {
		k := min(room, len(p))
		w.head = append(w.head, p[:k]...)
		p = p[k:]
	}
	if len(p) > 0 {
		w.tail = append(w.tail, p...)
		if over := len(w.tail) - bodyTail; over > 0 {
			w.tail = append(w.tail[:0], w.tail[over:]...)
		}
	}
	return n, nil
}

// FlushError lets streamed responses through (there is nothing to flush).
func (w *recorder) FlushError() error { return nil }

func (w *recorder) wroteHeader() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status != 0
}

// result returns the status (200 if only a body was written, 0 if
// nothing) and the headers.
func (w *recorder) result() (int, http.Header) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status, w.header
}

// decodedBody returns what the shopper keeps of the body, decoded with
// decode if it came in a content coding (as it may from a backend without
// the banner, which gets the customer's Accept-Encoding).
func (w *recorder) decodedBody(decode Decoder) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if coding := strings.Join(w.header["Content-Encoding"], ", "); coding != "" && decode != nil {
		r, release, err := decode(coding, bytes.NewReader(append(w.head, w.tail...)))
		if err != nil {
			return nil
		}
		if r != nil {
			defer release()
			decoded, _ := io.ReadAll(io.LimitReader(r, bodyHead)) // what decodes, if cut short
			return decoded
		}
	}
	if len(w.tail) == 0 {
		return w.head
	}
	// A gap is marked so that no match spans it.
	return bytes.Join([][]byte{w.head, w.tail}, []byte("\n\x00\n"))
}
