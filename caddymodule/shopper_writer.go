package caddymodule

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// Bounds of what the shopper keeps of a page: its start, and its end
// (where the banner goes) when it is longer.
const (
	shopBodyHead = 1 << 20
	shopBodyTail = 64 << 10
)

// shopRecorder is the shopper's ResponseWriter: it keeps the status, the
// headers and a bounded copy of the body, whatever the page's size.
type shopRecorder struct {
	mu     sync.Mutex
	header http.Header
	status int
	head   []byte
	tail   []byte // the last shopBodyTail bytes after head, once head is full
	more   bool   // bytes were dropped between head and tail
}

func newShopRecorder() *shopRecorder { return &shopRecorder{header: http.Header{}} }

func (w *shopRecorder) Header() http.Header { return w.header }

func (w *shopRecorder) WriteHeader(status int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status != 0 || status >= 100 && status <= 199 && status != http.StatusSwitchingProtocols {
		return // already written, or an informational answer (more headers follow)
	}
	w.status = status
}

func (w *shopRecorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if room := shopBodyHead - len(w.head); room > 0 {
		k := min(room, len(p))
		w.head = append(w.head, p[:k]...)
		p = p[k:]
	}
	if len(p) > 0 {
		w.tail = append(w.tail, p...)
		if over := len(w.tail) - shopBodyTail; over > 0 {
			w.more = true
			w.tail = append(w.tail[:0], w.tail[over:]...)
		}
	}
	return n, nil
}

// FlushError lets streamed responses through (there is nothing to flush).
func (w *shopRecorder) FlushError() error { return nil }

func (w *shopRecorder) wroteHeader() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status != 0
}

// result returns the status (200 if only a body was written, 0 if
// nothing) and the headers.
func (w *shopRecorder) result() (int, http.Header) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status, w.header
}

// decodedBody returns what the shopper keeps of the body, decoded if it
// came compressed (as it may from a backend without the banner, which
// gets the customer's Accept-Encoding).
func (w *shopRecorder) decodedBody() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	coding, single := normalizeCoding(w.header.Get("Content-Encoding"))
	if coding == "" || coding == "identity" || !single || !decodableCoding(coding) {
		if len(w.tail) == 0 {
			return w.head
		}
		// A gap is marked so that no match spans it.
		return bytes.Join([][]byte{w.head, w.tail}, []byte("\n\x00\n"))
	}
	r, release, err := newDecoder(coding, bytes.NewReader(append(w.head, w.tail...)))
	if err != nil {
		return nil
	}
	defer release()
	decoded, _ := io.ReadAll(io.LimitReader(r, shopBodyHead)) // what decodes, if cut short
	return decoded
}
