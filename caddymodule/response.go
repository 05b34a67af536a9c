package caddymodule

import (
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/frontdoor-dev/frontdoor/internal/banner"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
)

// attemptWriter watches one backend's response on its way to the customer:
// it keeps the request id authoritative, de-brands outsourced responses,
// holds back a vendor's 5xx so a brand error page can replace it, streams
// HTML through the banner injector, and records whether anything was sent,
// which decides whether failover is still possible.
type attemptWriter struct {
	caddyhttp.ResponseWriterWrapper
	h           *Handler
	req         *http.Request
	backend     *backendRoute
	requestID   string
	values      *valueSlab // the request's, for the headers this writer sets
	ownServer   []string
	customer    *customerContext
	wroteHeader bool
	status      int

	// swallowed is set when the backend's answer is replaced by a brand
	// error page: its body is read and dropped.
	swallowed bool

	// body is where the response body goes when it is transformed (the
	// banner injector, possibly behind a gunzip stage); nil streams as is.
	body     io.Writer
	injector *banner.Injector
	gunzip   *gunzipWriter
}

func (aw *attemptWriter) WriteHeader(status int) {
	if aw.wroteHeader {
		return
	}
	if status >= 100 && status <= 199 && status != http.StatusSwitchingProtocols {
		aw.ResponseWriter.WriteHeader(status) // informational: more headers follow
		return
	}
	aw.wroteHeader = true
	aw.status = status
	hdr := aw.Header()
	b := aw.backend
	if status >= 500 {
		b.stats.upstreamError(errStatus5xx)
	}
	if b.outsourced && status >= 500 {
		// The vendor's error page never reaches the customer; ServeHTTP
		// renders the brand's once the proxy is done.
		aw.recordTrail(hdr, status)
		aw.swallowed = true
		clearHeader(hdr)
		restoreGatewayHeaders(hdr, aw.requestID, aw.ownServer)
		return
	}
	aw.recordTrail(hdr, status)
	scrubReserved(hdr)
	aw.values.set(hdr, headerRequest, aw.requestID)
	if b.outsourced {
		debrand(hdr, aw.req, b.upstreams, aw.ownServer)
	}
	if b.banner {
		aw.prepareBanner(status, hdr)
	}
	aw.ResponseWriter.WriteHeader(status)
}

func (aw *attemptWriter) Write(p []byte) (int, error) {
	if !aw.wroteHeader {
		aw.WriteHeader(http.StatusOK)
	}
	switch {
	case aw.swallowed:
		return len(p), nil
	case aw.body != nil:
		return aw.body.Write(p)
	}
	return aw.ResponseWriter.Write(p)
}

// ReadFrom keeps io.Copy from going around Write (and so around the
// banner and the error page) through the wrapper's ReadFrom.
func (aw *attemptWriter) ReadFrom(r io.Reader) (int64, error) {
	if aw.wroteHeader && !aw.swallowed && aw.body == nil {
		return aw.ResponseWriterWrapper.ReadFrom(r)
	}
	return io.Copy(writerOnly{aw}, r)
}

// FlushError lets streamed responses (reverse_proxy's flush_interval,
// server-sent events) reach the customer through the injector.
func (aw *attemptWriter) FlushError() error {
	switch {
	case aw.swallowed:
		return nil
	case aw.gunzip != nil:
		// Only the decompressing goroutine may write to the customer;
		// it flushes once it has passed on what it was given.
		aw.gunzip.requestFlush()
		return nil
	case aw.injector != nil:
		if err := aw.injector.Flush(); err != nil {
			return err
		}
	}
	return http.NewResponseController(aw.ResponseWriter).Flush()
}

type writerOnly struct{ io.Writer }

// Headers a backend uses to leave a note on the customer's trail.
const (
	headerNote = "X-Frontdoor-Note"
	headerCase = "X-Frontdoor-Case"
)

// maxNoteLen bounds what one trail entry keeps of a note or case id.
const maxNoteLen = 1024

// recordTrail queues the backend's note and case for the customer's trail
// (never blocking: a full queue drops the entry and counts it). The
// headers themselves are removed with the other X-Frontdoor-* headers
// before the customer sees the response.
func (aw *attemptWriter) recordTrail(hdr http.Header, status int) {
	note, caseID := hdr.Get(headerNote), hdr.Get(headerCase)
	if note == "" && caseID == "" {
		return
	}
	h, b := aw.h, aw.backend
	customerID, _ := aw.customer.ctx.Get(customerIDField)
	if h.trail == nil || customerID == "" {
		h.metrics.trailWrite("no_customer")
		return
	}
	entry := fleet.Entry{Time: time.Now(), Journey: b.journey, Backend: b.name, Owner: string(b.owner),
		Status: status, RequestID: aw.requestID, Note: truncate(note, maxNoteLen), Case: truncate(caseID, maxNoteLen)}
	sessionKey := strings.ReplaceAll(h.sessionKey, "{id}", aw.customer.sessionID)
	if h.trail.Record(customerID, sessionKey, entry) {
		h.metrics.trailWrite("queued")
	} else {
		h.metrics.trailWrite("dropped")
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (aw *attemptWriter) statusOrOK() int {
	if aw.status == 0 {
		return http.StatusOK
	}
	return aw.status
}

// isHTML reports whether a Content-Type is an HTML page, without the
// allocations of a full parse, which only pages need (for the charset).
func isHTML(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(mediaType)
	return strings.EqualFold(mediaType, "text/html") || strings.EqualFold(mediaType, "application/xhtml+xml")
}

// prepareBanner decides whether this response gets the brand banner and
// if so fixes the headers the change of body invalidates.
func (aw *attemptWriter) prepareBanner(status int, hdr http.Header) {
	contentType := hdr.Get("Content-Type")
	if !isHTML(contentType) {
		return
	}
	_, params, _ := mime.ParseMediaType(contentType)
	encoding := strings.ToLower(strings.TrimSpace(hdr.Get("Content-Encoding")))
	charset := strings.ToLower(params["charset"])
	disposition, _, _ := mime.ParseMediaType(hdr.Get("Content-Disposition"))
	switch {
	case aw.req.Method == http.MethodHead,
		status == http.StatusNoContent, status == http.StatusNotModified,
		status == http.StatusPartialContent, status == http.StatusSwitchingProtocols,
		status >= 300 && status < 400,
		disposition == "attachment",
		encoding != "" && encoding != "identity" && encoding != "gzip",
		strings.HasPrefix(charset, "utf-16"), strings.HasPrefix(charset, "utf-32"):
		aw.h.metrics.bannerResult(aw.backend, "skipped")
		return
	}

	page, err := aw.h.bannerPage.Render(aw.requestID)
	if err != nil {
		aw.h.logger.Error("rendering banner", zapError(err))
		aw.h.metrics.bannerResult(aw.backend, "skipped")
		return
	}
	aw.injector = injectorPool.Get().(*banner.Injector)
	aw.injector.Reset(aw.ResponseWriter, page)
	aw.body = aw.injector
	if encoding == "gzip" {
		injector, customer := aw.injector, aw.ResponseWriter
		aw.gunzip = newGunzipWriter(injector, func() {
			if injector.Flush() == nil {
				http.NewResponseController(customer).Flush() //nolint:errcheck // best effort, as a flush is
			}
		})
		aw.body = aw.gunzip
		hdr.Del("Content-Encoding")
		hdr.Del("Content-Length")
	} else if n, err := strconv.ParseInt(hdr.Get("Content-Length"), 10, 64); err == nil {
		hdr.Set("Content-Length", strconv.FormatInt(n+int64(len(page)), 10))
	}
	if etag := hdr.Get("Etag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		hdr.Set("Etag", "W/"+etag)
	}
	hdr.Del("Content-Md5")
	hdr.Del("Digest")
	hdr.Del("Repr-Digest")
	hdr.Del("Content-Digest")
	hdr.Set("Accept-Ranges", "none")
	for _, name := range []string{"Content-Security-Policy", "Content-Security-Policy-Report-Only"} {
		for i, policy := range hdr[name] {
			hdr[name][i] = banner.AllowStyle(policy, aw.h.bannerStyleHashes)
		}
	}
}

// finishBanner completes the page: the banner is appended if no </body>
// came. A body cut short by an upstream error gets no banner appended.
func (aw *attemptWriter) finishBanner(complete bool) {
	if aw.injector == nil {
		return
	}
	defer func() {
		aw.injector.Reset(nil, nil)
		injectorPool.Put(aw.injector)
		aw.injector, aw.body = nil, nil
	}()
	if aw.gunzip != nil {
		if err := aw.gunzip.Close(); err != nil {
			complete = false
		}
	}
	if !complete {
		aw.injector.Flush() //nolint:errcheck // the response is already broken
		return
	}
	result, err := aw.injector.Close()
	if err != nil {
		return
	}
	aw.h.metrics.bannerResult(aw.backend, result.String())
}

var injectorPool = sync.Pool{New: func() any { return banner.NewInjector(nil, nil) }}

// gunzipWriter decompresses a gzip body as it is written, feeding the
// plain bytes to dst. gzip.Reader pulls, the proxy pushes: a pipe and one
// goroutine per compressed page join the two with flat memory. From start
// to Close that goroutine is the only writer to the customer, so flushes
// are requested from it rather than done beside it.
type gunzipWriter struct {
	pw         *io.PipeWriter
	done       chan error
	flush      func()
	flushWants atomic.Bool
}

func newGunzipWriter(dst io.Writer, flush func()) *gunzipWriter {
	pr, pw := io.Pipe()
	g := &gunzipWriter{pw: pw, done: make(chan error, 1), flush: flush}
	go func() {
		err := g.copy(dst, pr)
		pr.CloseWithError(err) // unblocks the writer if decoding failed
		g.done <- err
	}()
	return g
}

func (g *gunzipWriter) copy(dst io.Writer, src io.Reader) error {
	zr, err := gzip.NewReader(src)
	if err != nil {
		return err
	}
	buf := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(buf)
	for {
		n, rerr := zr.Read(*buf)
		if n > 0 {
			if _, err := dst.Write((*buf)[:n]); err != nil {
				return err
			}
		}
		if g.flushWants.Swap(false) {
			g.flush()
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (g *gunzipWriter) Write(p []byte) (int, error) { return g.pw.Write(p) }

func (g *gunzipWriter) requestFlush() { g.flushWants.Store(true) }

func (g *gunzipWriter) Close() error {
	g.pw.Close()
	return <-g.done
}

func clearHeader(h http.Header) {
	for k := range h {
		delete(h, k)
	}
}

func restoreGatewayHeaders(h http.Header, requestID string, ownServer []string) {
	h.Set(headerRequest, requestID)
	if ownServer != nil {
		h["Server"] = ownServer
	}
}
