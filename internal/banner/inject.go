package banner

import (
	"errors"
	"io"
	"strconv"
	"sync"
)

// Result says where an [Injector] put the banner.
type Result int

const (
	// Injected means the banner went in just before the first </body> tag.
	Injected Result = iota + 1
	// Appended means the page had no </body> tag, so the banner was added
	// at the end, where browsers still render it inside the body.
	Appended
)

// String returns the name used for the result in metrics labels.
func (r Result) String() string {
	switch r {
	case Injected:
		return "injected"
	case Appended:
		return "appended"
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// maxHeld is the most bytes an Injector ever holds back: "<plaintext", the
// longest start of a tag whose fate decides where the banner goes, which is
// known when the byte after it arrives.
const maxHeld = len("<plaintext")

// errClosed is returned when an Injector is used after Close.
var errClosed = errors.New("banner injector: use after close")

// Injector copies an HTML body to a writer and inserts a banner exactly once,
// where a browser renders it: just before the first end tag token "body" (in
// any letter case, its name ended by whitespace, '/' or '>') that ends the
// body, or just before a <plaintext> start tag, after which everything is
// text; failing both, at the end of the body, after markup that closes
// whatever the page left open (a tag, an attribute value, a comment, a
// script, a template...).
//
// It follows the WHATWG HTML tokenizer byte by byte (see tokenizer.go), so
// a "</body>" in a comment, an attribute value, a script string, a title,
// a textarea, a style or a CDATA section is text, as it is to a browser,
// and a "</body>" inside a <template> or an svg <foreignObject> does not
// count, as the browser ignores it. <noscript> is raw text, as in a browser
// with scripting enabled, unless [Injector.SetScripting] says otherwise.
//
// Everything is written through at once except a possible start of such a
// tag at the end of a write, at most maxHeld bytes, so memory is flat and
// streamed responses keep streaming. The body must be in an ASCII-compatible
// encoding (see package charset) and not compressed.
//
// An Injector is not safe for concurrent use. The zero value is not usable;
// create one with [NewInjector] or [Injector.Reset].
type Injector struct {
	dst    io.Writer
	banner []byte
	tok    tokenizer

	// held is the possible start of a tag that decides where the banner
	// goes, seen at the end of the last write.
	held  [maxHeld]byte
	nheld int

	result Result // Injected once the banner has been written
	closed bool
	err    error // the first error from dst; every later call returns it

	// stepOnly turns the tokenizer's skip-ahead off, so that every byte is
	// stepped: the reference the fast path is fuzzed against (tests only).
	stepOnly bool
}

// NewInjector returns an Injector that writes to dst. The banner slice is
// not copied and must not be modified until Close returns.
func NewInjector(dst io.Writer, banner []byte) *Injector {
	return &Injector{dst: dst, banner: banner}
}

// Reset discards all state and makes i write to dst with the given banner,
// as if it were new. This allows Injectors to be reused with a sync.Pool;
// call Reset(nil, nil) before putting one back so it keeps nothing alive.
func (i *Injector) Reset(dst io.Writer, banner []byte) {
	*i = Injector{dst: dst, banner: banner}
}

// SetScripting tells the Injector whether the page runs with scripting
// enabled (the default): with scripts disabled (a sandbox without
// allow-scripts), a <noscript> element's content is markup, not text. Call
// it before the first Write.
func (i *Injector) SetScripting(enabled bool) { i.tok.scriptingOff = !enabled }

// Write writes p to the destination, except for a possible start of a tag
// that decides where the banner goes at the end of p, which is held until
// the next Write or Close. It returns len(p) unless the destination fails;
// that error is then returned by every later call.
func (i *Injector) Write(p []byte) (int, error) {
	if i.err != nil {
		return 0, i.err
	}
	if i.closed {
		return 0, errClosed
	}
	if i.result == Injected {
		return i.pass(p)
	}
	hold := -1 // where in p the held candidate starts; -1: in i.held, or none
	holding := i.nheld > 0
	for k := 0; k < len(p); k++ {
		if !holding && !i.stepOnly {
			if k = i.tok.skip(p, k); k == len(p) {
				break
			}
		}
		switch ev := i.tok.step(p[k]); ev {
		case evHold:
			holding, hold = true, k
		case evRelease, evRehold:
			if i.nheld > 0 {
				if err := i.out(i.held[:i.nheld]); err != nil {
					return 0, err
				}
				i.nheld = 0
			}
			holding, hold = ev == evRehold, k
		case evBodyEnd, evPlaintext:
			if err := i.injectAt(p, hold, ev == evPlaintext); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	if !holding {
		return i.pass(p)
	}
	n := len(p)
	if hold >= 0 {
		if err := i.out(p[:hold]); err != nil {
			return 0, err
		}
		p = p[hold:]
	}
	// A candidate is decided by the byte after maxHeld bytes at most.
	i.nheld += copy(i.held[i.nheld:], p)
	return n, nil
}

// Flush asks the destination to flush, when it can. Write already passes on
// everything that cannot be the start of the end tag, so the only bytes that
// stay behind are such a start, which is released by the next Write or Close.
// The destination is flushed if it has a Flush() error method (bufio.Writer,
// gzip.Writer) or a Flush() method (http.Flusher).
func (i *Injector) Flush() error {
	if i.err != nil {
		return i.err
	}
	switch f := i.dst.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}

// Close writes out what is held back and, if the banner has not gone in
// yet, closes what the page left open and appends the banner. It does not
// close the destination. The Result is meaningful only when the error is
// nil.
func (i *Injector) Close() (Result, error) {
	if i.closed {
		return i.result, errClosed
	}
	i.closed = true
	if i.err != nil {
		return i.result, i.err
	}
	if i.result == Injected {
		return Injected, nil
	}
	if i.tok.cand == candPlain && i.tok.nameIs("plaintext") {
		// "<plaintext" at the very end: a closing '>' would make
		// everything after it text, so the banner goes before it.
		held := i.nheld
		i.nheld = 0
		if err := i.closeAndBanner(true); err != nil {
			return i.result, err
		}
		if err := i.out(i.held[:held]); err != nil {
			return i.result, err
		}
		i.result = Appended
		return Appended, nil
	}
	if err := i.out(i.held[:i.nheld]); err != nil {
		return i.result, err
	}
	i.nheld = 0
	if err := i.closeAndBanner(false); err != nil {
		return i.result, err
	}
	i.result = Appended
	return Appended, nil
}

// closeAndBanner writes the markup that closes what is open (see
// tokenizer.closer), then the banner. beforeTag says the banner goes
// before the tag being read, which is then not closed.
func (i *Injector) closeAndBanner(beforeTag bool) error {
	t := &i.tok
	t.cand = candNone
	if beforeTag {
		t.state = sData
	}
	// Every closer ends a state, a template or a foreign element; this
	// bounds the loop whatever the tokenizer does with them.
	for n := t.templates + t.nforeign + t.deep + 16; n > 0; n-- {
		c := t.closer()
		if c == "" {
			break
		}
		if _, err := io.WriteString(writerFunc(i.out), c); err != nil {
			return err
		}
		for k := 0; k < len(c); k++ {
			t.step(c[k])
		}
	}
	return i.out(i.banner)
}

// writerFunc adapts out to io.Writer.
type writerFunc func([]byte) error

func (f writerFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// injectAt writes the banner before the candidate tag that starts at
// p[at] (or, when at is -1, in the held bytes, which p continues) and
// everything after it. Before a <plaintext> tag the open templates and
// foreign content are closed first. When the tag starts in p, p and the
// banner go out in a single write: three writes would cost the customer's
// connection an extra system call. The copy comes from a pool and is made
// only of a chunk the size of a proxy's read buffer; a larger write is
// passed on in pieces, so memory stays flat whatever the writer does.
func (i *Injector) injectAt(p []byte, at int, plaintext bool) error {
	i.result = Injected
	if plaintext || at < 0 || len(p)+len(i.banner) > maxPooledSplice {
		if at >= 0 {
			if err := i.out(p[:at]); err != nil {
				return err
			}
			p = p[at:]
		}
		if plaintext {
			if err := i.closeAndBanner(true); err != nil {
				return err
			}
		} else if err := i.out(i.banner); err != nil {
			return err
		}
		held := i.nheld
		i.nheld = 0
		if err := i.out(i.held[:held]); err != nil {
			return err
		}
		return i.out(p)
	}
	bp := spliceBuffers.Get().(*[]byte)
	b := append((*bp)[:0], p[:at]...)
	b = append(b, i.banner...)
	b = append(b, p[at:]...)
	err := i.out(b) // an io.Writer does not keep b
	*bp = b[:0]
	spliceBuffers.Put(bp)
	return err
}

// maxPooledSplice bounds the chunk injectAt copies, and so the buffers in
// its pool: Caddy's reverse proxy reads 32 KiB at a time, plus a banner.
const maxPooledSplice = 64 << 10

var spliceBuffers = sync.Pool{New: func() any { b := make([]byte, 0, maxPooledSplice); return &b }}

// pass writes all of p, as Write must report it.
func (i *Injector) pass(p []byte) (int, error) {
	if err := i.out(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// out writes b to the destination and remembers the first failure.
func (i *Injector) out(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := i.dst.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		i.err = err
	}
	return err
}
