package banner

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPage returns an HTML page of about size bytes that ends with
// "</body></html>", shaped like a vendor's support page: many small tags.
func testPage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Support</title>" +
		"<link rel=\"stylesheet\" href=\"/static/app.css\"></head>\n<body class=\"support\">\n<main>\n")
	for k := 0; b.Len() < size-len("</main>\n</body></html>\n")-100; k++ {
		fmt.Fprintf(&b, "<div class=\"row\"><a href=\"/articles/%d\">Article %d</a> <span class=\"muted\">updated today</span></div>\n", k, k)
	}
	b.WriteString("</main>\n</body></html>\n")
	return b.Bytes()
}

// injectorPool is how the integrator is expected to reuse Injectors.
var injectorPool = sync.Pool{New: func() any { return new(Injector) }}

func benchmarkInjector(b *testing.B, page []byte, chunkSize int) {
	benchmarkInjectorMode(b, page, chunkSize, false)
}

func benchmarkInjectorMode(b *testing.B, page []byte, chunkSize int, stepOnly bool) {
	banner, err := mustDefault().Render(Data{Brand: "Acme Outdoor", Phone: "+1 800 555 0100", Reference: "abc"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		inj := injectorPool.Get().(*Injector)
		inj.Reset(io.Discard, banner)
		inj.stepOnly = stepOnly
		for chunk := range slices.Chunk(page, chunkSize) {
			if _, err := inj.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := inj.Close(); err != nil {
			b.Fatal(err)
		}
		inj.Reset(nil, nil)
		injectorPool.Put(inj)
	}
}

// BenchmarkInjector20KB streams a typical 20 KB page in 4 KiB writes, as a
// proxy reading from the network would.
func BenchmarkInjector20KB(b *testing.B) {
	benchmarkInjector(b, testPage(20<<10), 4<<10)
}

// BenchmarkInjector20KBStepped is BenchmarkInjector20KB with the
// tokenizer stepping every byte: the reference the skip-ahead is measured
// (and fuzzed, FuzzSkipAhead) against.
func BenchmarkInjector20KBStepped(b *testing.B) {
	benchmarkInjectorMode(b, testPage(20<<10), 4<<10, true)
}

// BenchmarkInjector20KBProse is a 20 KB article: long runs of text between
// few tags, which the scan for '<' crosses in long strides.
func BenchmarkInjector20KBProse(b *testing.B) {
	var page bytes.Buffer
	page.WriteString("<!DOCTYPE html>\n<html><head><title>Returns</title></head>\n<body>\n<article>\n")
	sentence := "Items bought online can be returned within thirty days, in their original packaging, with the receipt or the order number. "
	for page.Len() < 20<<10-200 {
		page.WriteString("<p>" + strings.Repeat(sentence, 4) + "</p>\n")
	}
	page.WriteString("</article>\n</body></html>\n")
	benchmarkInjector(b, page.Bytes(), 4<<10)
}

// BenchmarkInjector20KBNearMisses is the worst case for the matcher: almost
// every byte is part of something that looks like the end tag.
func BenchmarkInjector20KBNearMisses(b *testing.B) {
	page := []byte(strings.Repeat("</bod", 20<<10/5))
	benchmarkInjector(b, page, 4<<10)
}

// countingWriter discards what it is given and counts it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// TestInjectorFlatMemory100MB streams 100 MB through an Injector and checks
// that it allocates next to nothing: memory must not grow with the page.
func TestInjectorFlatMemory100MB(t *testing.T) {
	// A pattern full of things that look like the end tag, and writes of an
	// odd size so that they split it everywhere; the page is whole patterns.
	pattern := bytes.Repeat([]byte(`<p>x</p></bo></bodyx><!-- </body> --><b title="</BODY>"></b><script>"</body>"</script><plaintextx>`), 1<<10)
	total := int64(100<<20) / int64(len(pattern)) * int64(len(pattern))
	const writeSize = 4093

	banner := []byte(testBanner)
	out := &countingWriter{}
	inj := NewInjector(out, banner)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()

	var written int64
	for off := 0; written < total; {
		n := min(writeSize, len(pattern)-off, int(total-written))
		if _, err := inj.Write(pattern[off : off+n]); err != nil {
			t.Fatal(err)
		}
		written += int64(n)
		off = (off + n) % len(pattern)
	}
	if _, err := inj.Write([]byte("</body></html>")); err != nil {
		t.Fatal(err)
	}
	written += int64(len("</body></html>"))
	result, err := inj.Close()
	if err != nil {
		t.Fatal(err)
	}

	elapsed := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)

	if result != Injected || out.n != written+int64(len(banner)) {
		t.Fatalf("got %v and %d bytes out of %d in; want injected and %d", result, out.n, written, written+int64(len(banner)))
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	heapGrowth := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("streamed %d MB in %v: %d bytes allocated, heap in use grew by %d bytes", written>>20, elapsed, allocated, heapGrowth)
	const limit = 32 << 20
	if allocated >= limit || heapGrowth >= limit {
		t.Fatalf("memory grew with the page: %d bytes allocated, heap in use grew by %d bytes", allocated, heapGrowth)
	}
}

// BenchmarkBannerRender compares executing the default banner template per
// page with splicing the reference into a banner bound once per config.
func BenchmarkBannerRender(b *testing.B) {
	tmpl, err := ParseTemplate(DefaultTemplate)
	if err != nil {
		b.Fatal(err)
	}
	data := Data{Brand: "Acme Outdoor", Phone: "+1 800 555 0100", Email: "help@acme.example", URL: "https://acme.example/help"}
	bound, err := tmpl.Bind(data)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("execute", func(b *testing.B) {
		b.ReportAllocs()
		d := data
		d.Reference = "2HHMDN5WBS2NR"
		for b.Loop() {
			if _, err := tmpl.Render(d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bound", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bound.Render("2HHMDN5WBS2NR"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
