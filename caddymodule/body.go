package caddymodule

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/banner"
	"github.com/frontdoor-dev/frontdoor/internal/contentcoding"
	"github.com/frontdoor-dev/frontdoor/internal/htmlcharset"
	"github.com/frontdoor-dev/frontdoor/internal/mimetype"
	"go.uber.org/zap"
)

// bodyPlan is what happens to a banner backend's response body.
type bodyPlan int

const (
	bodyAsIs        bodyPlan = iota // not a page, or one that must not change
	bodyBanner                      // a page: the start of the body decides its charset, and the banner goes in
	bodySniffed                     // no usable Content-Type: the start of the body decides its type
	bodyRefused                     // a page in a coding frontdoor cannot read, or a body no browser should render
	bodyRevalidated                 // a 304 for a page: no body, and the headers the banner's page had
	bodyHeadOfPage                  // a HEAD for a page: no body, and the headers its GET goes out with
)

// planBody decides whether a final response of a banner backend gets the
// brand banner. A vendor cannot dodge the banner: every coding a browser
// reads is decoded, a body without a Content-Type is sniffed as a browser
// would, and a body a browser would render but frontdoor cannot read is
// refused. The type is what a browser takes from all the Content-Type
// lines (WHATWG "extract a MIME type"): a vendor cannot send text/plain
// to the gateway and text/html to the browser. A 304 revalidating a page
// keeps the headers the banner gave it, and so does a HEAD for a page:
// its headers are those of its GET (RFC 9110 section 9.3.2), which is
// decided as the GET would be. It returns the coding to decode ("" for
// none).
func (p *responsePolicy) planBody(x *exchangeScope, status int, hdr http.Header) (plan bodyPlan, coding string, page mimetype.MIMEType) {
	page, typed := mimetype.Extract(hdr["Content-Type"])
	typed = typed && !mimetype.Sniffed(page, typed)
	if typed && !rendersAsPage(page, x.req) {
		return bodyAsIs, "", page
	}
	switch {
	case status == http.StatusPartialContent && x.req.Header.Get("Range") == "":
		// A part of a page nobody asked a part of: browsers render a 206
		// as they would a 200, so it cannot go out without the banner,
		// and the banner cannot go into a part.
		return bodyRefused, "", page
	case status == http.StatusNoContent, status == http.StatusNotModified,
		status == http.StatusPartialContent,
		isRedirect(status) && hasLocation(hdr["Location"]),
		isAttachment(hdr["Content-Disposition"]):
		if typed {
			p.stats.banner("skipped")
		}
		if status == http.StatusNotModified && isNavigation(x.req) {
			// The browser renders the page it cached, banner and all,
			// under this answer's headers (RFC 9111 section 4.3.4).
			return bodyRevalidated, "", page
		}
		return bodyAsIs, "", page
	}
	coding, single := contentcoding.Normalize(hdr["Content-Encoding"]...)
	if coding == "identity" {
		coding = ""
	}
	if !single || coding != "" && !contentcoding.Decodable(coding) {
		return bodyRefused, "", page
	}
	switch {
	case x.req.Method == http.MethodHead:
		// No body to sniff or put the banner in: a page's HEAD counts
		// as skipped.
		if !typed {
			return bodyAsIs, "", page
		}
		p.stats.banner("skipped")
		return bodyHeadOfPage, coding, page
	case !typed:
		return bodySniffed, coding, page
	}
	return bodyBanner, coding, page
}

// headOfPage gives the answer to a HEAD for a page, in coding, the
// headers its GET goes out with, as far as they do not depend on the
// body: the banner's (patchHeaders: the vendor's length, strong ETag and
// ranges go), no coding (the GET is decoded), and the page's type as the
// GET serves it, with the charset its Content-Type decides. A charset the
// GET takes from the body is not known without it, and not named.
func (b *bannerPolicy) headOfPage(hdr http.Header, coding string, page mimetype.MIMEType) {
	b.patchHeaders(hdr)
	if coding != "" {
		hdr.Del("Content-Encoding")
	}
	charset := pageCharset(page, nil)
	if charset.Source != htmlcharset.FromHeader {
		charset = htmlcharset.Decision{}
	}
	hdr.Set("Content-Type", servedType(page, charset))
}

// servedType is the Content-Type of a bannered page of type page whose
// body goes out in charset: the browser's reading of the vendor's one,
// served as HTML (XHTML and XML too: the parser the banner was placed
// for), naming the charset when it is utf-8 for a transcoded page, or one
// the document decided.
func servedType(page mimetype.MIMEType, charset htmlcharset.Decision) string {
	if charset.Transcode {
		page.SetParam("charset", "utf-8")
	} else if charset.Relabel {
		page.SetParam("charset", charset.Name)
	}
	page.Type, page.Subtype = "text", "html"
	return page.String()
}

// isRedirect reports whether a browser follows a response's Location: on
// any other status it renders the body, whatever the headers say.
func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// hasLocation reports whether a response's Location makes it a redirect
// to a browser: Chromium follows the first Location line that is not
// empty, and renders the body of a redirect status without one.
func hasLocation(lines []string) bool {
	for _, line := range lines {
		if strings.Trim(line, " \t") != "" {
			return true
		}
	}
	return false
}

// isAttachment reports whether a browser saves a response instead of
// rendering it: its Content-Disposition, all lines read as one value (as
// a browser joins them, with ", "), is of type attachment. The type is
// what comes before ";" without the spaces and tabs around it (RFC 6266,
// as Chromium reads it): a type with other white space around it, or two
// lines, is no token, and the browser renders the page.
func isAttachment(lines []string) bool {
	typ, _, _ := strings.Cut(strings.Join(lines, ", "), ";")
	return strings.EqualFold(strings.Trim(typ, " \t"), "attachment")
}

// rendersAsPage reports whether a browser renders a response of type m to
// r as a page the banner goes into: HTML, and XML asked for as a page,
// which a browser would render as a document of its XHTML, SVG or MathML
// (or of an XSLT transform) that no banner goes into. frontdoor serves
// such XML as HTML, as it does XHTML; XML a script fetches is data and
// passes as it is.
func rendersAsPage(m mimetype.MIMEType, r *http.Request) bool {
	return mimetype.IsHTML(m) || mimetype.IsXML(m) && isNavigation(r)
}

// isHTML reports whether a Content-Type value is an HTML page.
func isHTML(contentType string) bool {
	m, ok := mimetype.Parse(contentType)
	return ok && mimetype.IsHTML(m)
}

// bodyPipeline carries a page's body to the customer through its stages:
// decode (the content coding) → sniff (the type of a body without one,
// the charset of a page; a page the banner cannot go into as bytes is
// transcoded to UTF-8) → inject (the banner). It is built once, when the headers are known, and
// alone holds the stages: the writer hands it every byte and finishes it
// once. With a decoder, the stages after it run on the decoder's goroutine
// until finish, which waits for that goroutine; so nothing of the pipeline
// touches the customer's response after finish returns.
type bodyPipeline struct {
	policy    *responsePolicy
	dst       http.ResponseWriter // the customer's
	req       *http.Request       // the customer's
	status    int
	requestID string
	customer  *customerContext // the feedback links are minted for

	in       io.Writer // the first stage
	decoder  *contentcoding.Writer
	sniffer  *pageSniffer
	injector *banner.Injector // set once the body is known to be a page
}

// newBodyPipeline wires the stages for a page (typed: its Content-Type,
// as planBody extracted it, is page) or a body to sniff, in the given
// coding. The headers are sent by the sniffer, once the start of the body
// shows the type and charset.
func newBodyPipeline(p *responsePolicy, dst http.ResponseWriter, x *exchangeScope, status int, customer *customerContext, coding string, page mimetype.MIMEType, typed bool) *bodyPipeline {
	bp := &bodyPipeline{policy: p, dst: dst, req: x.req, status: status, requestID: x.requestID, customer: customer}
	hdr := dst.Header()
	if coding != "" {
		hdr.Del("Content-Encoding")
		hdr.Del("Content-Length")
	}
	bp.sniffer = &pageSniffer{pipeline: bp}
	if typed {
		bp.sniffer.page, bp.sniffer.typed = page, true
	}
	bp.in = bp.sniffer
	if coding != "" {
		bp.decoder = contentcoding.NewWriter(coding, bp.in, func() { bp.flushStages() }) //nolint:errcheck // best effort, as a flush is
		bp.in = bp.decoder
	}
	return bp
}

func (bp *bodyPipeline) Write(p []byte) (int, error) { return bp.in.Write(p) }

// flush passes on what the stages hold. With a decoder, only its goroutine
// may write to the customer: the flush is asked of it.
func (bp *bodyPipeline) flush() error {
	if bp.decoder != nil {
		bp.decoder.RequestFlush()
		return nil
	}
	return bp.flushStages()
}

// flushStages runs on the goroutine that writes the page.
func (bp *bodyPipeline) flushStages() error {
	if s := bp.sniffer; s != nil {
		if !s.decided && !s.decidable() {
			return nil // the headers wait for the sample, as the browser does
		}
		if err := s.decide(); err != nil {
			return err
		}
	}
	if bp.injector != nil {
		if err := bp.injector.Flush(); err != nil {
			return err
		}
	}
	return http.NewResponseController(bp.dst).Flush()
}

// startBanner puts the injector in front of the customer and fixes the
// headers the change of body invalidates. It reports false if the banner
// could not be rendered.
func (bp *bodyPipeline) startBanner(hdr http.Header) bool {
	b := bp.policy.banner
	page, err := b.render(bp.requestID, bp.customer)
	if err != nil {
		bp.policy.logger.Error("rendering banner", zap.Error(err))
		bp.policy.stats.banner("skipped")
		return false
	}
	bp.injector = injectorPool.Get().(*banner.Injector)
	bp.injector.Reset(bp.dst, page)
	bp.injector.SetScripting(b.patchHeaders(hdr))
	if hold, ok := bp.dst.(*headHold); ok {
		hold.holdWholePage() // it sends a page it kept whole with its new length
	}
	return true
}

// finish completes the body: the decoder drains (or is stopped, for a body
// the proxy did not finish), a sniffed body shorter than the sniffing
// length is decided, and the banner is appended if no </body> came. A
// body cut short gets the banner too, with what closes what it left open:
// a browser renders the part that came, and the banner is flushed to the
// customer before the response is cut off. It runs once, in the
// handler's goroutine, and releases every stage.
//
// It returns the error of a body the proxy finished that could not be
// decoded to its end (a coding broken, cut short or followed by more) or
// passed on: a browser renders such a page as far as it decodes, so it
// goes out with its banner, as a page that ended, and the response must
// then be cut off, not ended as complete (see attemptWriter.serve).
func (bp *bodyPipeline) finish(complete bool) error {
	var err error
	if bp.decoder != nil {
		if complete {
			err = bp.decoder.Close()
		} else {
			bp.decoder.Abort()
		}
		bp.decoder = nil
	}
	if bp.sniffer != nil {
		passErr := bp.sniffer.decide()
		if passErr == nil && bp.sniffer.transcoder != nil {
			passErr = bp.sniffer.transcoder.Close()
		}
		if err == nil {
			err = passErr
		}
	}
	if bp.injector == nil {
		return err
	}
	defer func() {
		bp.injector.Reset(nil, nil)
		injectorPool.Put(bp.injector)
		bp.injector, bp.in = nil, nil
	}()
	result, closeErr := bp.injector.Close()
	if closeErr != nil {
		return closeErr
	}
	bp.policy.stats.banner(result.String())
	if err != nil || !complete {
		bp.lingerOnBanner()
	}
	return err
}

// cutOffLinger is how long a page cut off after its head passed is kept
// open once its banner is sent. A browser stops parsing a page whose load
// fails and drops what it received but had not parsed yet, the banner
// last: Chromium parsed the 100 KB before the banner of a page cut off at
// once in time in 4 runs of 4 with it, in 2 of 4 without.
const cutOffLinger = 250 * time.Millisecond

// lingerOnBanner sends what the stages passed on of a page the proxy
// aborts (the server drops what it buffers of a response it aborts), and
// gives a customer who got the page's head time to parse it.
func (bp *bodyPipeline) lingerOnBanner() {
	http.NewResponseController(bp.dst).Flush() //nolint:errcheck // the response is cut off anyway
	if hold, ok := bp.dst.(*headHold); ok && hold.passed && !hold.lost {
		linger := time.NewTimer(cutOffLinger)
		defer linger.Stop()
		select {
		case <-linger.C:
		case <-bp.req.Context().Done(): // the customer left: nobody to parse it
		}
	}
}

var injectorPool = sync.Pool{New: func() any { return banner.NewInjector(nil, nil) }}

// pageSniffer holds back the start of a banner backend's page until it
// shows what a browser takes it for: the type of a body that came without
// a usable Content-Type, sniffed as a browser would, and the charset of
// an HTML page (a byte order mark or a <meta> may decide it). It then
// writes the headers with the type and charset it found (so the browser
// does not decide differently) and passes the body on: through the
// injector if it is a page, after a transcoder to UTF-8 if the banner
// cannot go into its encoding as bytes. Where it passes the body is
// decided once.
type pageSniffer struct {
	pipeline   *bodyPipeline
	page       mimetype.MIMEType // the vendor's type, when typed
	typed      bool
	held       [htmlcharset.SampleLen]byte
	n          int
	decided    bool
	out        io.Writer
	transcoder io.WriteCloser
	err        error
}

func (s *pageSniffer) Write(p []byte) (int, error) {
	if s.decided {
		return s.out.Write(p)
	}
	n := copy(s.held[s.n:], p)
	s.n += n
	if s.n < len(s.held) {
		return len(p), nil
	}
	if err := s.decide(); err != nil {
		return 0, err
	}
	if _, err := s.out.Write(p[n:]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// decide writes the headers for what the body held so far is, and the
// held bytes after them. Later calls return the first one's error.
func (s *pageSniffer) decide() error {
	if s.decided {
		return s.err
	}
	s.decided = true
	bp := s.pipeline
	hdr := bp.dst.Header()
	page := s.page
	if !s.typed {
		// DetectContentType's charset is a guess no browser makes: the
		// page's own decides.
		page, _ = mimetype.Parse(http.DetectContentType(s.held[:s.n]))
		page.Params = nil
		hdr.Set("Content-Type", page.String())
	}
	s.out = bp.dst
	if rendersAsPage(page, bp.req) && bp.startBanner(hdr) {
		s.out = bp.injector
		charset := pageCharset(page, s.held[:s.n])
		if charset.Transcode {
			s.transcoder = charset.NewTranscoder(bp.injector)
			s.out = s.transcoder
		}
		hdr.Set("Content-Type", servedType(page, charset))
	}
	bp.dst.WriteHeader(bp.status)
	_, s.err = s.out.Write(s.held[:s.n])
	return s.err
}

// pageCharset decides the charset of a page of type page that starts
// with sample, as the browser does.
func pageCharset(page mimetype.MIMEType, sample []byte) htmlcharset.Decision {
	label, hasLabel := page.Param("charset")
	decide := htmlcharset.Decide
	if mimetype.IsXML(page) {
		decide = htmlcharset.DecideXML // XHTML too: the browser read it as XML
	}
	return decide(sample, label, hasLabel)
}

// decidable reports whether what the sniffer holds, short of its sample,
// already decides the page as the browser will: a flush then sends the
// headers and what came. A sniffed type and a charset from the document
// (the <meta> prescan, the guess) need the whole sample, which the
// browser waits for too; a byte order mark, once its bytes are in, or the
// charset of the vendor's Content-Type decides at once. A flush before
// then is held (a few bytes) until the sample fills or the body ends.
func (s *pageSniffer) decidable() bool {
	if !s.typed || s.n < len("\xef\xbb\xbf") {
		return false
	}
	return pageCharset(s.page, s.held[:s.n]).Source != htmlcharset.FromDocument
}

// banner counts where the banner went on one of the backend's pages.
func (s *backendStats) banner(result string) {
	if !s.counted {
		return
	}
	if c, ok := s.banners[result]; ok {
		c.Inc()
	}
}
