package caddymodule

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// headHold keeps a backend's answer of announced length from the
// customer until it has shown progress (progressUnit bytes of body) or
// ended, so that a backend that stalls, trickles or hangs up before then
// is answered with the brand error page (or the next backend) instead of
// a status line and a broken body. Such an answer is not flushed by the
// proxy anyway, and the server buffers more than that before it sends
// anything: the hold costs nothing in latency. Answers the backend
// streams (without a Content-Length: chunked pages, event streams),
// interim (1xx) and upgrade (101) responses pass at once: a page that
// sends its first part early keeps doing so. Flushes of a held answer
// wait for the hold to end (the proxy flushes an answer it is about to
// abort). It sits between the attempt's writer and the customer's.
//
// A page the banner goes into, of announced length, is held whole, up to
// wholePageHold bytes and as long as it keeps coming (wholePageWait): its
// length changes, and held whole it goes out with the Content-Length of
// what it became, in one piece, where streaming it would cost chunk
// framing and a last write for the terminator. A longer or slower one
// streams from there, chunked.
type headHold struct {
	http.ResponseWriter // the customer's
	status              int
	held                []byte
	head                *[progressUnit]byte  // the buffer of a head held until progress
	page                *[wholePageHold]byte // the buffer of a page held whole
	pageSince           time.Duration        // since waitEpoch, when the page's hold began
	streamed            bool                 // set by the body watch: the backend streams its answer
	wholePage           bool                 // hold the page whole (see holdWholePage)
	holding             bool                 // a final head is held
	passed              bool                 // a final head went to the customer
	lost                bool                 // writing to the customer failed: they left
}

// wholePageHold is how much of a page the hold keeps to send it whole:
// most vendor pages, uncompressed, fit; memory per page in flight stays
// bounded, and the buffers are reused.
const wholePageHold = 64 << 10

// wholePageWait is how long a page is held whole: a backend that sends
// the rest of it later than that has the customer see what came so far
// with its next bytes, as a page that was never held.
const wholePageWait = 100 * time.Millisecond

// The hold's buffers are pooled: a held answer lives for a round trip,
// and a kilobyte in every request's own allocation is a kilobyte the
// allocator clears and the collector visits on every request.
var (
	headHolds = sync.Pool{New: func() any { return new([progressUnit]byte) }}
	pageHolds = sync.Pool{New: func() any { return new([wholePageHold]byte) }}
)

func (hh *headHold) reset(w http.ResponseWriter) {
	hh.ResponseWriter, hh.status, hh.held = w, 0, nil
	hh.streamed, hh.wholePage, hh.holding, hh.passed, hh.lost = false, false, false, false, false
}

// holdWholePage asks the hold to keep the final answer whole, as long as
// it fits, and to send it with its length: the body pipeline changes the
// page (the banner) and so drops the backend's Content-Length. An answer
// the backend streams keeps streaming.
func (hh *headHold) holdWholePage() {
	hh.wholePage = !hh.streamed
}

func (hh *headHold) WriteHeader(status int) {
	switch {
	case hh.holding, hh.passed:
		return
	case status < 200:
		hh.passed = status == http.StatusSwitchingProtocols
		hh.ResponseWriter.WriteHeader(status)
	case hh.streamed:
		hh.passed = true
		hh.ResponseWriter.WriteHeader(status)
	case hh.wholePage:
		hh.page = pageHolds.Get().(*[wholePageHold]byte)
		hh.pageSince = time.Since(waitEpoch)
		hh.status, hh.holding, hh.held = status, true, hh.page[:0]
	default:
		hh.head = headHolds.Get().(*[progressUnit]byte)
		hh.status, hh.holding, hh.held = status, true, hh.head[:0]
	}
}

func (hh *headHold) Write(p []byte) (int, error) {
	if !hh.holding && !hh.passed {
		hh.WriteHeader(http.StatusOK)
	}
	if hh.holding {
		if len(hh.held)+len(p) <= cap(hh.held) && !hh.pageLate() {
			hh.held = append(hh.held, p...)
			return len(p), nil
		}
		if err := hh.release(); err != nil {
			return 0, err
		}
	}
	n, err := hh.ResponseWriter.Write(p)
	if err != nil {
		hh.lost = true
	}
	return n, err
}

// pageLate reports whether a page held whole has been held too long, once
// it made the progress any held answer must make before it passes.
func (hh *headHold) pageLate() bool {
	return hh.page != nil && len(hh.held) >= progressUnit && time.Since(waitEpoch)-hh.pageSince > wholePageWait
}

// release sends the held head and body on: the answer made progress, or
// it is under way and cannot be held any longer.
func (hh *headHold) release() error {
	return hh.releaseHeld(false)
}

// end sends on what is still held of an answer that ended: a page held
// whole goes with its length.
func (hh *headHold) end() error {
	return hh.releaseHeld(true)
}

func (hh *headHold) releaseHeld(ended bool) error {
	if !hh.holding {
		return nil
	}
	hh.holding, hh.passed = false, true
	if ended && hh.page != nil {
		hh.ResponseWriter.Header().Set("Content-Length", strconv.Itoa(len(hh.held)))
	}
	hh.ResponseWriter.WriteHeader(hh.status)
	var err error
	if len(hh.held) > 0 {
		if _, err = hh.ResponseWriter.Write(hh.held); err != nil {
			hh.lost = true
		}
	}
	hh.held = nil
	hh.putBuffers()
	return err
}

// discard drops the held answer: the customer gets another.
func (hh *headHold) discard() {
	hh.holding, hh.held, hh.status = false, nil, 0
	hh.putBuffers()
}

// putBuffers gives the hold's buffer back once nothing refers to it. An
// answer the proxy aborts while held keeps its buffer for the collector.
func (hh *headHold) putBuffers() {
	if hh.head != nil {
		headHolds.Put(hh.head)
		hh.head = nil
	}
	if hh.page != nil {
		pageHolds.Put(hh.page)
		hh.page = nil
	}
}

// FlushError flushes what has passed; a held answer stays held.
func (hh *headHold) FlushError() error {
	if !hh.passed {
		return nil
	}
	return http.NewResponseController(hh.ResponseWriter).Flush()
}

// ReadFrom keeps the customer's writer's ReadFrom once the hold is over.
func (hh *headHold) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := hh.ResponseWriter.(io.ReaderFrom); ok && hh.passed {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{hh}, r)
}

// Hijack hands over the customer's connection for an upgrade.
func (hh *headHold) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(hh.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the customer's writer.
func (hh *headHold) Unwrap() http.ResponseWriter { return hh.ResponseWriter }
