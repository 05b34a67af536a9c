package htmlcharset

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

func utf16le(s string) []byte {
	b, _, err := transform.Bytes(unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder(), []byte(s))
	if err != nil {
		panic(err)
	}
	return b
}

func iso2022jp(s string) []byte {
	b, _, err := transform.Bytes(japanese.ISO2022JP.NewEncoder(), []byte(s))
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecide(t *testing.T) {
	page := "<!doctype html><html><body>Hello</body></html>"
	for _, c := range []struct {
		name      string
		sample    []byte
		label     string
		hasLabel  bool
		want      string
		source    Source
		transcode bool
		relabel   bool
	}{
		{"header", []byte(page), "ISO-8859-1", true, "windows-1252", FromHeader, false, false},
		{"header utf-8", []byte(page), " utf8 ", true, "utf-8", FromHeader, false, false},
		{"header utf-16le", utf16le(page), "utf-16le", true, "utf-16le", FromHeader, true, true},
		{"header utf-16 is le", utf16le(page), "UTF-16", true, "utf-16le", FromHeader, true, true},
		{"header utf-16be", []byte(page), "unicodefffe", true, "utf-16be", FromHeader, true, true},
		{"header iso-2022-jp", iso2022jp(page), "csISO2022JP", true, "iso-2022-jp", FromHeader, true, true},
		{"header replacement", []byte(page), "iso-2022-kr", true, "replacement", FromHeader, true, true},
		{"header shift_jis", []byte(page), "sjis", true, "shift_jis", FromHeader, false, false},
		{"bom beats header", append([]byte{0xff, 0xfe}, utf16le(page)...), "utf-8", true, "utf-16le", FromBOM, true, true},
		{"utf-8 bom beats header", append([]byte{0xef, 0xbb, 0xbf}, page...), "utf-16le", true, "utf-8", FromBOM, false, false},
		{"utf-16be bom", append([]byte{0xfe, 0xff}, page...), "", false, "utf-16be", FromBOM, true, true},
		{"unknown label is none", []byte(page), "bogus", true, "windows-1252", FromDocument, false, true},
		{"meta", []byte(`<meta charset="iso-2022-jp">` + page), "", false, "iso-2022-jp", FromDocument, true, true},
		{"meta http-equiv", []byte(`<meta http-equiv="Content-Type" content="text/html; charset=shift_jis">`), "", false, "shift_jis", FromDocument, false, true},
		{"meta utf-16 is utf-8", []byte(`<meta charset="utf-16le">`), "", false, "utf-8", FromDocument, false, true},
		{"meta after 1024 bytes", []byte(strings.Repeat(" ", 1024) + `<meta charset="iso-2022-jp">`), "", false, "windows-1252", FromDocument, false, true},
		{"header beats meta", []byte(`<meta charset="iso-2022-jp">`), "utf-8", true, "utf-8", FromHeader, false, false},
		{"guess utf-8", []byte("<p>héllo"), "", false, "utf-8", FromDocument, false, true},
		{"guess windows-1252", []byte("<p>h\xe9llo"), "", false, "windows-1252", FromDocument, false, true},
		{"escape sequences", iso2022jp("<p>日本</p>"), "", false, "iso-2022-jp", FromDocument, true, true},
	} {
		d := Decide(c.sample, c.label, c.hasLabel)
		if d.Name != c.want || d.Source != c.source || d.Transcode != c.transcode || d.Relabel != c.relabel {
			t.Errorf("%s: got %q from %v, transcode %v, relabel %v; want %q from %v, %v, %v",
				c.name, d.Name, d.Source, d.Transcode, d.Relabel, c.want, c.source, c.transcode, c.relabel)
		}
	}
}

// transcode writes in through a transcoder in writes of size n.
func transcode(t *testing.T, d Decision, in []byte, n int) string {
	t.Helper()
	var out bytes.Buffer
	w := d.NewTranscoder(&out)
	for len(in) > 0 {
		k := min(n, len(in))
		if _, err := w.Write(in[:k]); err != nil {
			t.Fatal(err)
		}
		in = in[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestTranscoder(t *testing.T) {
	page := "<html><body>日本語 – é</body></html>"
	for _, c := range []struct {
		name string
		in   []byte
		d    Decision
		want string
	}{
		{"utf-16le", utf16le(page), Decide(utf16le(page), "utf-16le", true), page},
		{"utf-16le with bom", append([]byte{0xff, 0xfe}, utf16le(page)...), Decide([]byte{0xff, 0xfe}, "", false), page},
		{"iso-2022-jp", iso2022jp("<body>日本語</body>"), Decide(nil, "iso-2022-jp", true), "<body>日本語</body>"},
		{"replacement", []byte(page), Decide(nil, "hz-gb-2312", true), "\ufffd"},
	} {
		for _, n := range []int{1, 3, 4096} {
			if got := transcode(t, c.d, c.in, n); got != c.want {
				t.Errorf("%s in writes of %d: got %q; want %q", c.name, n, got, c.want)
			}
		}
	}
	// The escape sequences of ISO-2022-JP cover a "</body>": decoded, it
	// is Japanese text, not markup.
	covered := []byte("<p>\x1b$B</body>!\x1b(B</p></body>")
	got := transcode(t, Decide(nil, "iso-2022-jp", true), covered, 2)
	if strings.Count(got, "</body>") != 1 || !strings.HasSuffix(got, "</p></body>") {
		t.Errorf("ISO-2022-JP escapes decode to %q", got)
	}
}

// FuzzTranscoder checks that transcoding does not depend on how the body
// is split into writes.
func FuzzTranscoder(f *testing.F) {
	f.Add(utf16le("<p>x</p>"), "utf-16le", uint8(3))
	f.Add(iso2022jp("<p>日本</p>"), "iso-2022-jp", uint8(1))
	f.Add([]byte{0xfe, 0xff, 0, '<'}, "utf-16be", uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, label string, n uint8) {
		d := Decide(in, label, true)
		if !d.Transcode {
			return
		}
		whole := transcode(t, d, in, len(in)+1)
		if split := transcode(t, d, in, int(n%16)+1); split != whole {
			t.Fatalf("in writes of %d: %q; whole: %q", n%16+1, split, whole)
		}
	})
}

// vendorPageStart is the first kilobyte of a vendor page as the banner
// sees it: a doctype, a head with a <meta charset> and styles, no BOM.
func vendorPageStart() []byte {
	head := `<!DOCTYPE html><html lang="en"><head><meta name="viewport" content="width=device-width">` +
		`<meta charset="utf-8"><title>Support</title><link rel="stylesheet" href="/static/app.css"></head><body>`
	return []byte(head + strings.Repeat("<div class=\"row\"><a href=\"/articles/1\">Article</a></div>\n", 16))[:SampleLen]
}

// BenchmarkDecide is the charset decision on every HTML response that gets
// a banner: "labeled" a Content-Type with a charset (the common case: the
// header decides, and only a BOM could override it), "unlabeled" none (the
// <meta> prescan decides).
func BenchmarkDecide(b *testing.B) {
	sample := vendorPageStart()
	for _, bc := range []struct {
		name     string
		label    string
		hasLabel bool
	}{{"labeled", "utf-8", true}, {"unlabeled", "", false}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d := Decide(sample, bc.label, bc.hasLabel); d.Name != "utf-8" {
					b.Fatalf("decided %q", d.Name)
				}
			}
		})
	}
}

// TestDecideLabeledSkipsPrescan: with a Content-Type charset the decision
// is the label's (or a BOM's) without running the <meta> prescan, which
// allocates; and it is the decision of the full algorithm
// (charset.DetermineEncoding, BOM first, then the label) for pages with
// and without a BOM, a <meta>, or escape bytes.
func TestDecideLabeledSkipsPrescan(t *testing.T) {
	sample := vendorPageStart()
	if n := testing.AllocsPerRun(100, func() { Decide(sample, "utf-8", true) }); n != 0 {
		t.Errorf("a labeled page costs %v allocations; want 0 (no prescan)", n)
	}
	pages := [][]byte{
		sample, []byte(`<meta charset="iso-2022-jp"><p>x`), iso2022jp("<p>日本</p>"), utf16le("<p>x</p>"),
		append([]byte{0xef, 0xbb, 0xbf}, sample...), append([]byte{0xfe, 0xff}, "\x00<"...),
		append([]byte{0xff, 0xfe}, utf16le("<p>x")...), {0xef, 0xbb}, {0xff}, nil,
	}
	for _, page := range pages {
		for _, label := range []string{"utf-8", "ISO-8859-1", "utf-16le", "csISO2022JP", "iso-2022-kr", "sjis"} {
			_, want, _ := charset.DetermineEncoding(page, "text/html; charset="+label)
			wantSource := FromHeader
			if _, _, bom := charset.DetermineEncoding(page, ""); bom {
				wantSource = FromBOM
			}
			if d := Decide(page, label, true); d.Name != want || d.Source != wantSource {
				t.Errorf("page %q, label %q: decided %q from %v; want %q from %v", page, label, d.Name, d.Source, want, wantSource)
			}
		}
	}
}
