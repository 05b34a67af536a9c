package caddymodule

import (
	"bufio"
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

// decodableCoding reports whether frontdoor can decode a response body in
// this content coding to put the banner into it: the codings a vendor
// answering a browser may use. "" and identity need no decoding.
func decodableCoding(coding string) bool {
	switch coding {
	case "gzip", "x-gzip", "deflate", "br", "zstd":
		return true
	}
	return false
}

// normalizeCoding reads a Content-Encoding value as one lower-case coding,
// or reports that the body is in several codings (which no browser is
// offered and frontdoor does not decode).
func normalizeCoding(value string) (coding string, single bool) {
	coding = strings.ToLower(strings.TrimSpace(value))
	return coding, !strings.Contains(coding, ",")
}

// zstdMaxWindow bounds the memory a vendor's zstd stream can make the
// decoder hold: 8 MiB is what RFC 8878 asks HTTP decoders to support.
const zstdMaxWindow = 8 << 20

// newDecoder returns a reader of the decoded body and a function that
// releases what the decoder holds.
func newDecoder(coding string, src io.Reader) (io.Reader, func(), error) {
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
		return brotli.NewReader(src), func() {}, nil
	case "zstd":
		zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return nil, nil, errors.New("unsupported content coding " + coding)
}

// isZlibHeader reports whether two bytes start a zlib stream: deflate
// method, a window of at most 32 KiB and a valid header check.
func isZlibHeader(b []byte) bool {
	return b[0]&0x0f == 8 && b[0]>>4 <= 7 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}

// decodeWriter decodes a compressed body as it is written, feeding the
// plain bytes to dst. Decoders pull, the proxy pushes: a pipe and one
// goroutine per compressed page join the two with flat memory. From start
// to Close that goroutine is the only writer to the customer, so flushes
// are requested from it rather than done beside it. Close (or Abort) waits
// for the goroutine: it never outlives the handler that started it.
type decodeWriter struct {
	pw         *io.PipeWriter
	done       chan error
	flush      func()
	flushWants atomic.Bool
}

func newDecodeWriter(coding string, dst io.Writer, flush func()) *decodeWriter {
	pr, pw := io.Pipe()
	d := &decodeWriter{pw: pw, done: make(chan error, 1), flush: flush}
	go func() {
		err := d.copy(coding, dst, pr)
		pr.CloseWithError(err) // unblocks the writer if decoding failed
		d.done <- err
	}()
	return d
}

// errBodyAborted ends the decoding of a body that will not be completed.
var errBodyAborted = errors.New("response body aborted")

func (d *decodeWriter) copy(coding string, dst io.Writer, src io.Reader) error {
	zr, release, err := newDecoder(coding, src)
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

func (d *decodeWriter) Write(p []byte) (int, error) { return d.pw.Write(p) }

func (d *decodeWriter) requestFlush() { d.flushWants.Store(true) }

// Close ends the compressed body and waits until all of it has been
// decoded and passed on; it returns the decoding or writing error.
func (d *decodeWriter) Close() error {
	d.pw.Close()
	return <-d.done
}

// Abort stops decoding a body that will not be completed and waits for
// the goroutine to end.
func (d *decodeWriter) Abort() {
	d.pw.CloseWithError(errBodyAborted)
	<-d.done
}
