package contentcoding

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

func encode(t *testing.T, coding string, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch coding {
	case "gzip", "x-gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "raw-deflate":
		w, err = flate.NewWriter(&buf, flate.DefaultCompression)
	case "br":
		w = brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: 6, LGWin: 20}) // maxWindow
	case "zstd":
		w, err = zstd.NewWriter(&buf, zstd.WithWindowSize(maxWindow))
	default:
		t.Fatalf("no encoder for %q", coding)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWriterDecodesWhatBrowsersRead pushes each coding a browser reads
// through a Writer in small pieces, as the proxy does, and gets the page.
func TestWriterDecodesWhatBrowsersRead(t *testing.T) {
	plain := []byte(strings.Repeat("<p>hello, customer</p>", 2000))
	for _, c := range []struct{ name, coding string }{
		{"gzip", "gzip"}, {"x-gzip", "x-gzip"}, {"deflate", "deflate"},
		{"raw-deflate", "deflate"}, {"br", "br"}, {"zstd", "zstd"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !Decodable(c.coding) {
				t.Fatalf("Decodable(%q) = false", c.coding)
			}
			compressed := encode(t, c.name, plain)
			var out bytes.Buffer
			var flushes atomic.Int32
			w := NewWriter(c.coding, &out, func() { flushes.Add(1) })
			for rest := compressed; len(rest) > 0; {
				n := min(len(rest), 97)
				if _, err := w.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
				w.RequestFlush()
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), plain) {
				t.Fatalf("decoded %d bytes, want the %d of the page", out.Len(), len(plain))
			}
			if flushes.Load() == 0 {
				t.Fatal("a requested flush never ran")
			}
		})
	}
}

// TestWriterReportsABrokenBody: a body that is not in its coding is an
// error from Close, and Abort ends the goroutine of a body cut short.
func TestWriterReportsABrokenBody(t *testing.T) {
	w := NewWriter("gzip", io.Discard, func() {})
	w.Write([]byte("not gzip at all")) //nolint:errcheck // the decoder may have failed already
	if err := w.Close(); err == nil {
		t.Fatal("Close of a broken gzip body returned nil")
	}
	w = NewWriter("br", io.Discard, func() {})
	if _, err := w.Write(encode(t, "br", []byte("part"))[:3]); err != nil {
		t.Fatal(err)
	}
	w.Abort() // returns only once the goroutine has ended
	if _, err := w.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, errBodyAborted) {
		t.Fatalf("Write after Abort = %v", err)
	}
}

// TestWriterTakesAnEmptyBodyAsEmpty: a body of no bytes holds no stream
// of its coding, and browsers render it as an empty page: Close reports
// no error for it.
func TestWriterTakesAnEmptyBodyAsEmpty(t *testing.T) {
	for _, coding := range []string{"gzip", "deflate", "br", "zstd"} {
		var out bytes.Buffer
		if err := NewWriter(coding, &out, func() {}).Close(); err != nil || out.Len() != 0 {
			t.Errorf("%s: an empty body gave %q, %v", coding, out.Bytes(), err)
		}
	}
}

func TestNormalizeAndDecodable(t *testing.T) {
	for _, c := range []struct {
		lines  []string
		coding string
		single bool
	}{
		{[]string{" GZip "}, "gzip", true}, {[]string{"br"}, "br", true}, {[]string{"gzip, br"}, "gzip, br", false},
		{[]string{""}, "", true}, {nil, "", true}, {[]string{"identity", "gzip"}, "identity,gzip", false},
	} {
		coding, single := Normalize(c.lines...)
		if coding != c.coding || single != c.single {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", c.lines, coding, single, c.coding, c.single)
		}
	}
	for _, coding := range []string{"compress", "identity", "", "exi"} {
		if Decodable(coding) {
			t.Errorf("Decodable(%q) = true", coding)
		}
	}
}

// variedPage is an HTML page of size bytes with enough variety that a
// compressor uses its whole window.
func variedPage(size int) []byte {
	rng := rand.New(rand.NewSource(1))
	var b bytes.Buffer
	b.WriteString("<!doctype html><html><body>")
	words := []string{"ticket", "parcel", "refund", "NightDesk", "order", "status", "delivered", "customer"}
	for b.Len() < size {
		fmt.Fprintf(&b, "<p>%s %d %s</p>\n", words[rng.Intn(len(words))], rng.Intn(1e9), words[rng.Intn(len(words))])
	}
	return b.Bytes()
}

// encodeWindow encodes plain in br or zstd with a window of 1<<bits bytes.
func encodeWindow(t *testing.T, coding string, plain []byte, bits int) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "br":
		w = brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: 4, LGWin: bits})
	case "zstd":
		var err error
		if w, err = zstd.NewWriter(&buf, zstd.WithWindowSize(1<<bits), zstd.WithEncoderLevel(zstd.SpeedFastest)); err != nil {
			t.Fatal(err)
		}
	}
	w.Write(plain) //nolint:errcheck // a bytes.Buffer
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDecoderWindowIsBounded: what a page in flight costs the gateway is
// its decoder's window, which a br or zstd stream declares (br up to 16
// MiB, zstd more). A stream that declares more than maxWindow is refused
// as undecodable, and pages in flight at the bound (the vendor sent 256
// KiB and takes its time) hold little more than it each (zstd's decoder
// keeps two windows).
func TestDecoderWindowIsBounded(t *testing.T) {
	for bits := 10; bits <= 24; bits++ {
		first := encodeWindow(t, "br", []byte("<p>hello</p>"), bits)[0]
		if got := brotliWindow(first); got != 1<<bits-16 {
			t.Errorf("a br stream of WBITS %d starting %#x: window %d, want %d", bits, first, got, 1<<bits-16)
		}
	}
	page := variedPage(8 << 20)
	for _, c := range []struct {
		coding       string
		bound, large int // window bits
	}{
		{"br", 20, 24}, {"zstd", 20, 23},
	} {
		t.Run(c.coding, func(t *testing.T) {
			large := encodeWindow(t, c.coding, page, c.large)
			w := NewWriter(c.coding, io.Discard, func() {})
			_, werr := w.Write(large)
			if err := w.Close(); werr == nil && err == nil {
				t.Errorf("a stream with a window of %d MiB was decoded", 1<<c.large>>20)
			}

			body := encodeWindow(t, c.coding, page, c.bound)
			w = NewWriter(c.coding, io.Discard, func() {})
			if _, err := w.Write(body); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("a stream with a window of %d KiB: %v", 1<<c.bound>>10, err)
			}

			const pages = 20
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var ws []*Writer
			for range pages {
				w := NewWriter(c.coding, io.Discard, func() {})
				if _, err := w.Write(body[:256<<10]); err != nil {
					t.Fatal(err)
				}
				ws = append(ws, w)
			}
			time.Sleep(100 * time.Millisecond) // the decoders are waiting for more
			runtime.GC()
			runtime.ReadMemStats(&after)
			for _, w := range ws {
				w.Abort()
			}
			per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / pages
			t.Logf("heap held per page in flight: %d KiB", per>>10)
			if per > 2*maxWindow+maxWindow/4 {
				t.Errorf("a page in flight holds %d KiB of the gateway's heap", per>>10)
			}
		})
	}
}
