package banner

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

const testBanner = "[[BANNER]]"

func TestInjectorPlacement(t *testing.T) {
	ws := strings.Repeat(" ", 200)
	for _, tc := range []struct {
		name   string
		input  string
		want   string
		result Result
	}{
		{"plain", "<html><body>hi</body></html>", "<html><body>hi[[BANNER]]</body></html>", Injected},
		{"upper case", "<BODY>hi</BODY></HTML>", "<BODY>hi[[BANNER]]</BODY></HTML>", Injected},
		{"mixed case", "x</bOdY>", "x[[BANNER]]</bOdY>", Injected},
		{"space before >", "x</body >y", "x[[BANNER]]</body >y", Injected},
		{"newline before >", "x</Body\n>y", "x[[BANNER]]</Body\n>y", Injected},
		{"any whitespace", "x</body" + ws + ">", "x[[BANNER]]</body" + ws + ">", Injected},
		{"attributes", `x</body a="</body>">`, `x[[BANNER]]</body a="</body>">`, Injected},
		{"self-closing", "x</body/>", "x[[BANNER]]</body/>", Injected},
		{"first of two", "a</body>b</body>c", "a[[BANNER]]</body>b</body>c", Injected},
		{"at start", "</body>", "[[BANNER]]</body>", Injected},
		{"after a lone <", "<</body>", "<[[BANNER]]</body>", Injected},
		{"after a broken tag", "</bo </body>", "</bo </body>[[BANNER]]", Appended},
		{"after a longer name", "</bodyx></body>", "</bodyx>[[BANNER]]</body>", Injected},
		{"longer name", "</bodyx>", "</bodyx>[[BANNER]]", Appended},
		{"space after slash", "</ body></body>", "</ body>[[BANNER]]</body>", Injected},
		{"vertical tab is part of the name", "</body\v>", "</body\v>[[BANNER]]", Appended},
		{"start tag", "<body>", "<body>[[BANNER]]", Appended},
		{"no tag", "plain text", "plain text[[BANNER]]", Appended},
		{"empty", "", "[[BANNER]]", Appended},
		{"non-ASCII around", "é</BODY>ü", "é[[BANNER]]</BODY>ü", Injected},
		{"letter that folds only in Unicode", "</bod\u028f>", "</bod\u028f>[[BANNER]]", Appended},

		// Where a browser's tokenizer sees no end tag.
		{"comment", "<!-- </body> --></body>", "<!-- </body> -->[[BANNER]]</body>", Injected},
		{"abrupt comment", "<!--></body>", "<!-->[[BANNER]]</body>", Injected},
		{"abrupt comment dash", "<!---></body>", "<!--->[[BANNER]]</body>", Injected},
		{"comment bang end", "<!-- --!></body>", "<!-- --!>[[BANNER]]</body>", Injected},
		{"comment end in dashes", "<!-- ---></body>", "<!-- --->[[BANNER]]</body>", Injected},
		{"not a comment end", "<!-- -- > </body> -->x", "<!-- -- > </body> -->x[[BANNER]]", Appended},
		{"bogus comment ?", "<? </body>x", "<? </body>x[[BANNER]]", Appended},
		{"bogus comment !", "<!x </body>x", "<!x </body>x[[BANNER]]", Appended},
		{"bogus end tag", "</1 </body>x", "</1 </body>x[[BANNER]]", Appended},
		{"doctype", "<!DOCTYPE html </body>", "<!DOCTYPE html </body>[[BANNER]]", Appended},
		{"cdata outside foreign content", "<![CDATA[ </body>x", "<![CDATA[ </body>x[[BANNER]]", Appended},
		{"double-quoted attribute", `<p title="</body>">x</body>`, `<p title="</body>">x[[BANNER]]</body>`, Injected},
		{"single-quoted attribute", `<p title='</body>'>x</body>`, `<p title='</body>'>x[[BANNER]]</body>`, Injected},
		{"unquoted attribute", `<p title=</body>x`, `<p title=</body>x[[BANNER]]`, Appended},
		{"attribute name", `<p </body>x`, `<p </body>x[[BANNER]]`, Appended},
		{"title", "<title></body></title></body>", "<title></body></title>[[BANNER]]</body>", Injected},
		{"textarea", "<TEXTAREA></body></textarea ></body>", "<TEXTAREA></body></textarea >[[BANNER]]</body>", Injected},
		{"style", "<style></body></style></body>", "<style></body></style>[[BANNER]]</body>", Injected},
		{"xmp", "<xmp></body></xmp></body>", "<xmp></body></xmp>[[BANNER]]</body>", Injected},
		{"iframe", "<iframe></body></iframe></body>", "<iframe></body></iframe>[[BANNER]]</body>", Injected},
		{"noembed", "<noembed></body></noembed></body>", "<noembed></body></noembed>[[BANNER]]</body>", Injected},
		{"noframes", "<noframes></body></noframes></body>", "<noframes></body></noframes>[[BANNER]]</body>", Injected},
		{"noscript", "<noscript></body></noscript></body>", "<noscript></body></noscript>[[BANNER]]</body>", Injected},
		{"script string", `<script>s="</body>"</script></body>`, `<script>s="</body>"</script>[[BANNER]]</body>`, Injected},
		{"script escaped", `<script><!-- </body> --></script></body>`, `<script><!-- </body> --></script>[[BANNER]]</body>`, Injected},
		{"script double escaped", `<script><!--<script></script></body>--></script></body>`,
			`<script><!--<script></script></body>--></script>[[BANNER]]</body>`, Injected},
		{"script not double escaped", `<script><!--<scripts></script></body>`, `<script><!--<scripts></script>[[BANNER]]</body>`, Injected},
		{"end tag of another raw element", "<title></style></body></title>x", "<title></style></body></title>x[[BANNER]]", Appended},
		{"template", "<template></body></template></body>", "<template></body></template>[[BANNER]]</body>", Injected},
		{"nested templates", "<template><template></template></body></template></body>",
			"<template><template></template></body></template>[[BANNER]]</body>", Injected},
		{"svg cdata", "<svg><![CDATA[ > </body> ]]></svg></body>", "<svg><![CDATA[ > </body> ]]></svg>[[BANNER]]</body>", Injected},
		{"svg title is an integration point", "<svg><title></body>", "<svg><title></body></title></svg>[[BANNER]]", Appended},
		{"svg style is not raw text", "<svg><style></body>", "<svg><style>[[BANNER]]</body>", Injected},
		{"foreignObject scope", "<svg><foreignObject></body></foreignObject></svg></body>",
			"<svg><foreignObject></body></foreignObject></svg>[[BANNER]]</body>", Injected},
		{"foreignObject raw text", "<svg><foreignObject><style></body></style></foreignObject></svg></body>",
			"<svg><foreignObject><style></body></style></foreignObject></svg>[[BANNER]]</body>", Injected},
		{"self-closing svg", "<svg/><![CDATA[ > </body>", "<svg/><![CDATA[ > [[BANNER]]</body>", Injected},
		{"breakout ends foreign content", "<math><p><![CDATA[ > </body>", "<math><p><![CDATA[ > [[BANNER]]</body>", Injected},
		{"plaintext", "<p><plaintext></body>", "<p>[[BANNER]]<plaintext></body>", Injected},
		{"plaintext with attributes", "<PLAINTEXT a=b></body>", "[[BANNER]]<PLAINTEXT a=b></body>", Injected},
		{"plaintext in template", "<template><plaintext>", "<template></template>[[BANNER]]<plaintext>", Injected},
		{"plaintext in svg", "<svg><plaintext></plaintext></svg></body>", "<svg><plaintext></plaintext></svg>[[BANNER]]</body>", Injected},
		{"plaintext at the end", "x<plaintext", "x[[BANNER]]<plaintext", Appended},

		// What is closed before an appended banner.
		{"open comment", "<!-- x", "<!-- x-->[[BANNER]]", Appended},
		{"open script", "<script>x", "<script>x</script>[[BANNER]]", Appended},
		{"open escaped script", "<script><!--", "<script><!----></script>[[BANNER]]", Appended},
		{"open double-escaped script", "<script><!--<script>", "<script><!--<script>--></script>[[BANNER]]", Appended},
		{"open attribute value", `<a href="x`, `<a href="x">[[BANNER]]`, Appended},
		{"open single-quoted value", `<a href='x`, `<a href='x'>[[BANNER]]`, Appended},
		{"open tag", `<a href=x`, `<a href=x>[[BANNER]]`, Appended},
		{"open tag that switches state", `<title`, `<title></title>[[BANNER]]`, Appended},
		{"open end tag", "x</", "x</>[[BANNER]]", Appended},
		{"lone < at end", "x<", "x< [[BANNER]]", Appended},
		{"open body end tag", "x</body", "x</body>[[BANNER]]", Appended},
		{"open template", "<template>x", "<template>x</template>[[BANNER]]", Appended},
		{"open templates and style", "<template><template><style>x", "<template><template><style>x</style></template></template>[[BANNER]]", Appended},
		{"open cdata", "<svg><![CDATA[x", "<svg><![CDATA[x]]></svg>[[BANNER]]", Appended},
		{"open foreignObject", "<svg><foreignObject>", "<svg><foreignObject></foreignObject></svg>[[BANNER]]", Appended},
		{"open doctype", "<!DOCTYPE", "<!DOCTYPE>[[BANNER]]", Appended},
		{"open bogus comment", "<?x", "<?x>[[BANNER]]", Appended},
		{"open markup declaration", "<!-", "<!->[[BANNER]]", Appended},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Every way of splitting the input in two, and byte by byte.
			for split := 0; split <= len(tc.input); split++ {
				got, result := injectChunks(t, []byte(tc.input), []int{split, len(tc.input)})
				if string(got) != tc.want || result != tc.result {
					t.Fatalf("split at %d: got %q, %v; want %q, %v", split, got, result, tc.want, tc.result)
				}
			}
			got, result := injectChunks(t, []byte(tc.input), []int{1})
			if string(got) != tc.want || result != tc.result {
				t.Fatalf("byte by byte: got %q, %v; want %q, %v", got, result, tc.want, tc.result)
			}
		})
	}
}

// injectChunks runs input through an Injector with writes of the given sizes,
// repeating the last size until the input is used up.
func injectChunks(t *testing.T, input []byte, sizes []int) ([]byte, Result) {
	t.Helper()
	var out bytes.Buffer
	inj := NewInjector(&out, []byte(testBanner))
	for k := 0; len(input) > 0; k++ {
		n := min(sizes[min(k, len(sizes)-1)], len(input))
		if k >= len(sizes) && n == 0 {
			n = len(input)
		}
		written, err := inj.Write(input[:n])
		if err != nil || written != n {
			t.Fatalf("Write(%q) = %d, %v; want %d, nil", input[:n], written, err, n)
		}
		input = input[n:]
	}
	result, err := inj.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	return out.Bytes(), result
}

func TestInjectorStreamsEverythingButATagStart(t *testing.T) {
	var out bytes.Buffer
	inj := NewInjector(&out, []byte(testBanner))
	steps := []struct {
		write, wantOut string
	}{
		{"<html><body><p>one", "<html><body><p>one"},
		{"</p><", "<html><body><p>one</p>"},
		{"/BO", "<html><body><p>one</p>"},
		{"x>", "<html><body><p>one</p></BOx>"},
		{"two<pla", "<html><body><p>one</p></BOx>two"},
		{"y>", "<html><body><p>one</p></BOx>two<play>"},
		{"</bod", "<html><body><p>one</p></BOx>two<play>"},
		{"y\n", "<html><body><p>one</p></BOx>two<play>[[BANNER]]</body\n"},
		{"></html>", "<html><body><p>one</p></BOx>two<play>[[BANNER]]</body\n></html>"},
	}
	for _, step := range steps {
		if _, err := inj.Write([]byte(step.write)); err != nil {
			t.Fatal(err)
		}
		if err := inj.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != step.wantOut {
			t.Fatalf("after writing %q: destination has %q, want %q", step.write, out.String(), step.wantOut)
		}
	}
	if result, err := inj.Close(); err != nil || result != Injected {
		t.Fatalf("Close() = %v, %v; want injected", result, err)
	}
}

func TestInjectorHoldsBackAtMostMaxHeld(t *testing.T) {
	var out bytes.Buffer
	inj := NewInjector(&out, []byte(testBanner))
	if _, err := inj.Write([]byte("abc<plaintext")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "abc" || inj.nheld != maxHeld {
		t.Fatalf("destination has %q and %d bytes held; want %q and %d", out.String(), inj.nheld, "abc", maxHeld)
	}
	if _, err := inj.Write([]byte("s")); err != nil {
		t.Fatal(err)
	}
	if out.String() != "abc<plaintexts" || inj.nheld != 0 {
		t.Fatalf("after a longer name, destination has %q and %d bytes held", out.String(), inj.nheld)
	}
}

// flushRecorder counts flushes like an http.Flusher.
type flushRecorder struct {
	bytes.Buffer
	flushes int
}

func (f *flushRecorder) Flush() { f.flushes++ }

// errFlushRecorder fails its flushes like a bufio.Writer whose writer fails.
type errFlushRecorder struct{ bytes.Buffer }

var errFlush = errors.New("flush failed")

func (*errFlushRecorder) Flush() error { return errFlush }

func TestInjectorFlushReachesDestination(t *testing.T) {
	var rec flushRecorder
	inj := NewInjector(&rec, []byte(testBanner))
	if _, err := inj.Write([]byte("data: 1\n\n")); err != nil {
		t.Fatal(err)
	}
	if err := inj.Flush(); err != nil {
		t.Fatal(err)
	}
	if rec.flushes != 1 || rec.String() != "data: 1\n\n" {
		t.Fatalf("destination flushed %d times with %q", rec.flushes, rec.String())
	}

	inj = NewInjector(&errFlushRecorder{}, []byte(testBanner))
	if err := inj.Flush(); !errors.Is(err, errFlush) {
		t.Fatalf("Flush() = %v; want %v", err, errFlush)
	}

	// A destination that cannot flush is fine.
	inj = NewInjector(io.Discard, []byte(testBanner))
	if err := inj.Flush(); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
}

// failingWriter accepts limit bytes, then fails.
type failingWriter struct {
	limit int
	short bool // fail by writing short without an error
}

var errWrite = errors.New("client went away")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= w.limit {
		w.limit -= len(p)
		return len(p), nil
	}
	n := w.limit
	w.limit = 0
	if w.short {
		return n, nil
	}
	return n, errWrite
}

func TestInjectorWriteErrorsStick(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limit   int
		writes  []string
		wantErr error
	}{
		{"before the tag", 2, []string{"abcdef</body>"}, errWrite},
		{"in the banner", 3, []string{"abc</body>"}, errWrite},
		{"after the tag", 3 + len(testBanner) + 2, []string{"abc</body>", "more"}, errWrite},
		{"releasing a held tag start", 3, []string{"abc</bo", "x"}, errWrite},
		{"appending", 3, []string{"abc"}, errWrite},
		{"short write", 2, []string{"abc"}, io.ErrShortWrite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &failingWriter{limit: tc.limit, short: tc.wantErr == io.ErrShortWrite}
			inj := NewInjector(w, []byte(testBanner))
			var firstErr error
			for _, s := range tc.writes {
				n, err := inj.Write([]byte(s))
				if err != nil && n >= len(s) {
					t.Fatalf("Write returned %d with error %v; want fewer than %d", n, err, len(s))
				}
				if firstErr == nil {
					firstErr = err
				}
			}
			_, closeErr := inj.Close()
			if firstErr == nil {
				firstErr = closeErr
			}
			if !errors.Is(firstErr, tc.wantErr) || !errors.Is(closeErr, tc.wantErr) {
				t.Fatalf("got errors %v (first) and %v (Close); want %v", firstErr, closeErr, tc.wantErr)
			}
			if _, err := inj.Write([]byte("x")); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Write after failure = %v; want %v", err, tc.wantErr)
			}
			if err := inj.Flush(); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Flush after failure = %v; want %v", err, tc.wantErr)
			}
		})
	}
}

func TestInjectorUseAfterClose(t *testing.T) {
	inj := NewInjector(io.Discard, []byte(testBanner))
	if _, err := inj.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := inj.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if _, err := inj.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

func TestInjectorResetReuses(t *testing.T) {
	var first, second bytes.Buffer
	inj := NewInjector(&first, []byte("A"))
	// Leave it mid-tag, as a response cut short would.
	if _, err := inj.Write([]byte("x</bo")); err != nil {
		t.Fatal(err)
	}
	inj.Reset(&second, []byte("B"))
	if _, err := inj.Write([]byte("dy></body>")); err != nil {
		t.Fatal(err)
	}
	if result, err := inj.Close(); err != nil || result != Injected {
		t.Fatalf("Close() = %v, %v", result, err)
	}
	if first.String() != "x" || second.String() != "dy>B</body>" {
		t.Fatalf("got %q and %q; want %q and %q", first.String(), second.String(), "x", "dy>B</body>")
	}
}

func TestInjectorWriteDoesNotAllocate(t *testing.T) {
	page := testPage(20 << 10)
	banner := []byte(testBanner)
	// One injector reset for each page, as a pool hands one out: a
	// sync.Pool itself would make the count flaky under the race detector,
	// which drops a random share of what is put back.
	inj := new(Injector)
	allocs := testing.AllocsPerRun(100, func() {
		inj.Reset(io.Discard, banner)
		for chunk := range slices.Chunk(page, 1000) {
			if _, err := inj.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := inj.Close(); err != nil {
			t.Fatal(err)
		}
		inj.Reset(nil, nil)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per page; want 0", allocs)
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{Injected: "injected", Appended: "appended", 0: "Result(0)"} {
		if got := r.String(); got != want {
			t.Errorf("Result(%d).String() = %q; want %q", int(r), got, want)
		}
	}
}

type recordingWriter struct {
	bytes.Buffer
	writes int
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// The chunk that holds the end tag and the banner leave in one write, so
// that the customer's connection does not pay a system call per piece.
// A write larger than a proxy's read buffer is not copied (memory stays
// flat whatever the writer does): it is passed on in three pieces.
func TestInjectorSplicesInOneWrite(t *testing.T) {
	for _, c := range []struct {
		size, writes int
	}{{20 << 10, 1}, {maxPooledSplice, 3}} {
		page := []byte("<html><body>" + strings.Repeat("x", c.size) + "</body></html>")
		var dst recordingWriter
		inj := NewInjector(&dst, []byte("<div>banner</div>"))
		if _, err := inj.Write(page); err != nil {
			t.Fatal(err)
		}
		if res, err := inj.Close(); err != nil || res != Injected {
			t.Fatalf("Close = %v, %v", res, err)
		}
		if dst.writes != c.writes {
			t.Errorf("%d byte page: %d writes to the destination, want %d", len(page), dst.writes, c.writes)
		}
		want := strings.Replace(string(page), "</body>", "<div>banner</div></body>", 1)
		if dst.String() != want {
			t.Errorf("%d byte page changed beyond the banner", len(page))
		}
	}
}

// TestTrackedNames holds tracked's first-letter filter to the names it
// reports, in any letter case the tokenizer lowers: a name the filter
// dropped would let the fast path skip a tag that changes the tokenizer's
// state (a <script> whose "</body>" is text, a </body> that ends the body).
func TestTrackedNames(t *testing.T) {
	for _, name := range []string{"svg", "math", "template", "title", "textarea", "style", "xmp", "iframe",
		"noembed", "noframes", "noscript", "script", "plaintext"} {
		if !tracked([]byte(name), false) {
			t.Errorf("start tag %q is not tracked", name)
		}
	}
	for _, name := range []string{"body", "template"} {
		if !tracked([]byte(name), true) {
			t.Errorf("end tag %q is not tracked", name)
		}
	}
	for _, name := range []string{"div", "a", "span", "b", "bod", "bodyx", "scrip", "tbody", "p", "pre", "i", ""} {
		if tracked([]byte(name), false) || tracked([]byte(name), true) {
			t.Errorf("%q is tracked", name)
		}
	}
}

// TestIndexByte holds indexByte to bytes.IndexByte on both sides of its
// inline prefix.
func TestIndexByte(t *testing.T) {
	for n := 0; n <= 40; n++ {
		p := bytes.Repeat([]byte{'a'}, n)
		if got := indexByte(p, '<'); got != -1 {
			t.Errorf("len %d without '<': %d, want -1", n, got)
		}
		for at := 0; at < n; at++ {
			q := bytes.Clone(p)
			q[at] = '<'
			if len(q) > at+1 {
				q[len(q)-1] = '<'
			}
			if got, want := indexByte(q, '<'), bytes.IndexByte(q, '<'); got != want {
				t.Errorf("len %d, '<' at %d: %d, want %d", n, at, got, want)
			}
		}
	}
}
