package contentcoding

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

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
		w = brotli.NewWriter(&buf)
	case "zstd":
		w, err = zstd.NewWriter(&buf)
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
