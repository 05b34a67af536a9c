// Package contentcoding decodes HTTP content codings (RFC 9110 section 8.4) the
// way browsers do: gzip, deflate (zlib-wrapped or raw), br and zstd, with
// the memory a vendor's stream can make the decoder hold bounded. A
// [Writer] turns the pushed body of a proxied response into the pulled
// input a decoder needs, with flat memory.
package contentcoding

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// Decodable reports whether frontdoor can decode a response body in
// this content coding to put the banner into it: the codings a vendor
// answering a browser may use. "" and identity need no decoding.
func Decodable(coding string) bool {
	switch coding {
	case "gzip", "x-gzip", "deflate", "br", "zstd":
		return true
	}
	return false
}

// Normalize reads a Content-Encoding field, given its lines, as one
// lower-case coding, or reports that the body is in several codings
// (which no browser is offered and frontdoor does not decode). The lines
// are one value, joined with commas, as a browser reads them: a second
// line is a second coding.
func Normalize(lines ...string) (coding string, single bool) {
	coding = strings.ToLower(strings.TrimSpace(strings.Join(lines, ",")))
	return coding, !strings.Contains(coding, ",")
}

// maxWindow bounds the window of a br or zstd stream: the decoded bytes a
// later part may copy from, which its decoder keeps, so what a page in
// flight costs the gateway. A stream declares its window (br up to 16 MiB,
// zstd up to 8 MiB for HTTP, RFC 9659), and one that declares more than
// maxWindow is refused as undecodable. frontdoor asks banner backends for
// gzip alone, whose window is 32 KiB: a vendor that answers in br or zstd
// anyway gets 1 MiB (ngx_brotli's default window is 512 KiB). zstd's
// decoder holds twice a window this small, brotli's at most one.
const maxWindow = 1 << 20

// errWindowTooLarge refuses a stream whose window is over maxWindow.
var errWindowTooLarge = errors.New("content coding window over 1 MiB")

// NewReader returns a reader of the decoded body and a function that
// releases what the decoder holds.
func NewReader(coding string, src io.Reader) (io.Reader, func(), error) {
	switch coding {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil //nolint:errcheck // nothing to report
	case "deflate":
		// "deflate" means zlib-wrapped deflate (RFC 9110), but servers have
		// long sent raw deflate under that name and browsers accept both:
		// so does frontdoor, or a vendor could hide its page behind it.
		br := bufio.NewReader(src)
		if head, err := br.Peek(2); err == nil && isZlibHeader(head) {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, nil, err
			}
			return zr, func() { zr.Close() }, nil //nolint:errcheck
		}
		fr := flate.NewReader(br)
		return fr, func() { fr.Close() }, nil //nolint:errcheck
	case "br":
		return newBrotliReader(src)
	case "zstd":
		zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxWindow))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return nil, nil, errors.New("unsupported content coding " + coding)
}

// newBrotliReader reads a br stream whose window is at most maxWindow.
// The brotli package reads any window a stream declares, up to 16 MiB:
// the first byte, which declares it, is checked first.
func newBrotliReader(src io.Reader) (io.Reader, func(), error) {
	var first [1]byte
	if _, err := io.ReadFull(src, first[:]); err != nil {
		return nil, nil, err
	}
	if brotliWindow(first[0]) > maxWindow {
		return nil, nil, errWindowTooLarge
	}
	return brotli.NewReader(io.MultiReader(bytes.NewReader(first[:]), src)), func() {}, nil
}

// brotliWindow is the window a br stream that starts with byte b declares:
// (1 << WBITS) - 16 bytes, WBITS read from the low bits up (RFC 7932
// section 9.1): a 0 bit is 16; else the next 3 bits n, if not 0, are
// 17 + n; else the next 3 bits n are 17 for 0, 8 + n for 2 to 7, and 1
// is the large-window extension, whose WBITS (up to 30) comes later and
// which browsers do not read.
func brotliWindow(b byte) int {
	var wbits int
	switch n, m := b>>1&7, b>>4&7; {
	case b&1 == 0:
		wbits = 16
	case n != 0:
		wbits = 17 + int(n)
	case m == 0:
		wbits = 17
	case m == 1:
		wbits = 30
	default:
		wbits = 8 + int(m)
	}
	return 1<<wbits - 16
}

// isZlibHeader reports whether two bytes start a zlib stream: deflate
// method, a window of at most 32 KiB and a valid header check.
func isZlibHeader(b []byte) bool {
	return b[0]&0x0f == 8 && b[0]>>4 <= 7 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}

// Writer decodes a compressed body as it is written, feeding the
// plain bytes to dst. Decoders pull, the proxy pushes: a pipe and one
// goroutine per compressed page join the two with flat memory. From start
// to Close that goroutine is the only writer to the customer, so flushes
// are requested from it rather than done beside it. Close (or Abort) waits
// for the goroutine: it never outlives the handler that started it.
type Writer struct {
	pw         *io.PipeWriter
	done       chan error
	flush      func()
	flushWants atomic.Bool
	written    bool // a compressed byte came
}

// NewWriter starts decoding a body in the coding (one [Decodable] names)
// into dst; flush is called on the decoding goroutine after the bytes
// decoded when a flush was requested have been written.
func NewWriter(coding string, dst io.Writer, flush func()) *Writer {
	pr, pw := io.Pipe()
	d := &Writer{pw: pw, done: make(chan error, 1), flush: flush}
	go func() {
		err := d.copy(coding, dst, pr)
		pr.CloseWithError(err) // unblocks the writer if decoding failed
		d.done <- err
	}()
	return d
}

// errBodyAborted ends the decoding of a body that will not be completed.
var errBodyAborted = errors.New("response body aborted")

func (d *Writer) copy(coding string, dst io.Writer, src io.Reader) error {
	zr, release, err := NewReader(coding, src)
	if err != nil {
		return err
	}
	defer release()
	buf := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(buf)
	for {
		n, rerr := zr.Read(*buf)
		if n > 0 {
			if _, err := dst.Write((*buf)[:n]); err != nil {
				return err
			}
		}
		if d.flushWants.Swap(false) {
			d.flush()
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

// Write passes compressed bytes to the decoding goroutine.
func (d *Writer) Write(p []byte) (int, error) {
	d.written = d.written || len(p) > 0
	return d.pw.Write(p)
}

// RequestFlush asks the decoding goroutine to flush once the bytes it has
// read so far are written: it alone writes to the destination.
func (d *Writer) RequestFlush() { d.flushWants.Store(true) }

// Close ends the compressed body and waits until all of it has been
// decoded and passed on; it returns the decoding or writing error. An
// empty body is an empty page in any coding, as browsers take it, though
// it holds no stream.
func (d *Writer) Close() error {
	d.pw.Close()
	err := <-d.done
	if !d.written {
		return nil
	}
	return err
}

// Abort stops decoding a body that will not be completed and waits for
// the goroutine to end.
func (d *Writer) Abort() {
	d.pw.CloseWithError(errBodyAborted)
	<-d.done
}
