package banner

import (
	"bytes"
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

// maxTagWhitespace bounds the whitespace accepted between "</body" and ">".
// A candidate tag has to be held back until it is known to match, so this
// bound is what keeps the injector's memory fixed; real pages put at most a
// newline or two there. A tag with more whitespace is not treated as a match.
const maxTagWhitespace = 64

// maxHeld is the most bytes an Injector ever holds back: "</body" followed
// by the most whitespace allowed, which is one byte short of a decision.
const maxHeld = len(endTagName) + maxTagWhitespace

// endTagName is what a matching end tag starts with; the letters of "body"
// match in any case.
const endTagName = "</body"

// errClosed is returned when an Injector is used after Close.
var errClosed = errors.New("banner injector: use after close")

// Injector copies an HTML body to a writer and inserts a banner exactly once:
// just before the first end tag "</body" followed by optional ASCII whitespace
// and ">" (in any letter case), or at the end of the body if there is none.
//
// It does not parse HTML: a "</body>" inside a script or a comment counts.
// Everything is written through at once except a possible start of the end
// tag at the end of a write, at most 70 bytes, so memory is flat and streamed
// responses keep streaming. The output is always exactly len(banner) bytes
// longer than the input. The body must be in an ASCII-compatible
// encoding (not UTF-16) and not compressed.
//
// An Injector is not safe for concurrent use. The zero value is not usable;
// create one with [NewInjector] or [Injector.Reset].
type Injector struct {
	dst    io.Writer
	banner []byte

	// held is the possible start of the end tag seen at the end of the last
	// write. It has one spare byte so that, when the next write continues
	// it, enough of the next write fits to reach a verdict.
	held  [maxHeld + 1]byte
	nheld int

	result Result // Injected once the banner has been written
	closed bool
	err    error // the first error from dst; every later call returns it
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

// Write writes p to the destination, except for a possible start of the end
// tag at the end of p, which is held until the next Write or Close. It
// returns len(p) unless the destination fails; that error is then returned
// by every later call.
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

	if i.nheld > 0 {
		// Continue the held candidate with the start of p. Copying at most
		// one byte more than a partial match can be long is enough to
		// decide, and only the held part is ever kept.
		n := copy(i.held[i.nheld:], p)
		switch matchEndTag(i.held[:i.nheld+n]) {
		case partialMatch:
			i.nheld += n // n == len(p): otherwise it could not be partial
			return len(p), nil
		case fullMatch:
			held := i.nheld
			i.nheld = 0
			if err := i.inject(i.held[:held], p); err != nil {
				return 0, err
			}
			return len(p), nil
		}
		// Not the end tag. No other candidate can start inside the held
		// bytes, since only their first byte is '<', so release them and
		// scan p from its start.
		if err := i.out(i.held[:i.nheld]); err != nil {
			return 0, err
		}
		i.nheld = 0
	}

	for off := 0; ; {
		lt := bytes.IndexByte(p[off:], '<')
		if lt < 0 {
			break
		}
		lt += off
		switch matchEndTag(p[lt:]) {
		case fullMatch:
			if err := i.injectAt(p, lt); err != nil {
				return 0, err
			}
			return len(p), nil
		case partialMatch:
			// A partial match is never longer than maxHeld, so it fits.
			if err := i.out(p[:lt]); err != nil {
				return 0, err
			}
			i.nheld = copy(i.held[:], p[lt:])
			return len(p), nil
		}
		off = lt + 1
	}
	return i.pass(p)
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

// Close writes out what is held back and, if the end tag was never seen,
// appends the banner. It does not close the destination. The Result is
// meaningful only when the error is nil.
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
	if err := i.out(i.held[:i.nheld]); err != nil {
		return i.result, err
	}
	i.nheld = 0
	if err := i.out(i.banner); err != nil {
		return i.result, err
	}
	i.result = Appended
	return Appended, nil
}

// inject writes the banner followed by the end tag (split between held and
// rest), after which everything is passed through.
func (i *Injector) inject(held, rest []byte) error {
	if err := i.out(i.banner); err != nil {
		return err
	}
	i.result = Injected
	if err := i.out(held); err != nil {
		return err
	}
	return i.out(rest)
}

// injectAt writes p with the banner inserted before p[at], in a single
// write: the chunk of the page that holds the end tag and the banner then
// leave in one send, where three writes would cost the customer's
// connection an extra system call. The copy comes from a pool and is made
// only of a chunk the size of a proxy's read buffer; a larger write is
// passed on in three pieces, so memory stays flat whatever the writer does.
func (i *Injector) injectAt(p []byte, at int) error {
	if len(p)+len(i.banner) > maxPooledSplice {
		if err := i.out(p[:at]); err != nil {
			return err
		}
		return i.inject(nil, p[at:])
	}
	bp := spliceBuffers.Get().(*[]byte)
	b := append((*bp)[:0], p[:at]...)
	b = append(b, i.banner...)
	b = append(b, p[at:]...)
	i.result = Injected
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

// match is the verdict on whether bytes starting with '<' begin an end tag.
type match int

const (
	noMatch      match = iota
	partialMatch       // b is a proper prefix of a possible end tag
	fullMatch          // b starts with a complete end tag
)

// matchEndTag tells whether b, which starts with '<', begins with "</body",
// up to maxTagWhitespace ASCII whitespace bytes and ">", with the letters in
// any case. A partial match is never longer than maxHeld bytes.
func matchEndTag(b []byte) match {
	for k := 0; k < len(endTagName); k++ {
		if k == len(b) {
			return partialMatch
		}
		c := b[k]
		if k >= 2 {
			// Setting 0x20 lower-cases an ASCII letter; no other byte
			// becomes one of the lower-case letters of "body" this way.
			c |= 0x20
		}
		if c != endTagName[k] {
			return noMatch
		}
	}
	for k := len(endTagName); k < len(b); k++ {
		c := b[k]
		if c == '>' {
			return fullMatch
		}
		if !isHTMLSpace(c) || k >= maxHeld {
			return noMatch
		}
	}
	return partialMatch
}

// isHTMLSpace reports whether c is ASCII whitespace as HTML defines it:
// tab, line feed, form feed, carriage return or space.
func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}
