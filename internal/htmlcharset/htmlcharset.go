// Package htmlcharset decides the character encoding of an HTML page the
// way a browser does (the WHATWG "determining the character encoding":
// a byte order mark, then the charset of the Content-Type, then a <meta>
// in the first 1024 bytes, then a default), with the maintained WHATWG
// Encoding implementations of golang.org/x/net/html/charset and
// golang.org/x/text, and turns pages whose encoding the banner cannot be
// put into as bytes into UTF-8, streaming.
package htmlcharset

import (
	"bytes"
	"io"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// SampleLen is how much of the start of a body a browser's prescan for a
// <meta> charset reads.
const SampleLen = 1024

// Source says where a Decision came from.
type Source int

const (
	FromBOM      Source = iota + 1 // a byte order mark: nothing overrides it
	FromHeader                     // the charset parameter of Content-Type
	FromDocument                   // a <meta> in the first 1024 bytes, or else a guess
)

// Decision is the encoding a browser decodes a page with, and what the
// banner needs done about it.
type Decision struct {
	// Name is the WHATWG name of the encoding (as in htmlindex).
	Name   string
	Source Source
	// Transcode is set when the page must be turned into UTF-8 before the
	// banner goes in: its encoding is not ASCII-compatible (UTF-16LE/BE,
	// whose '<' is two bytes), keeps a state across bytes (ISO-2022-JP,
	// whose escape sequences make ASCII bytes into other characters), or
	// is the replacement encoding (a browser shows a single U+FFFD for the
	// whole page). Anything else keeps ASCII bytes meaning ASCII, which
	// is all the banner's placement reads.
	Transcode bool
	// Relabel is set when the Content-Type should name the encoding
	// explicitly: with Transcode (as utf-8), and when it came from the
	// document (a <meta> or a guess), so that a browser's own guess, or a <meta>
	// beyond the prescan that a browser may still act on, cannot make it
	// decode the page differently from the gateway.
	Relabel bool

	enc encoding.Encoding
}

// Decide returns the encoding a browser uses for a page that starts with
// sample (at least its first SampleLen bytes, or all of it if shorter)
// and whose Content-Type has the given charset parameter (hasLabel false:
// none). An unknown label counts as none, as in browsers.
func Decide(sample []byte, label string, hasLabel bool) Decision {
	if len(sample) > SampleLen {
		sample = sample[:SampleLen]
	}
	var d Decision
	labeled := ""
	if hasLabel {
		labeled = lookup(label)
	}
	switch name := bomEncoding(sample); {
	case name != "":
		d.Name, d.Source = name, FromBOM
	case labeled != "":
		// The Content-Type decides: the <meta> prescan and the guess are
		// not run (WHATWG "determining the character encoding" stops at
		// the transport layer's answer), which saves every banner page
		// that is labeled the prescan's microseconds and allocations.
		d.Name, d.Source = labeled, FromHeader
	default:
		// DetermineEncoding without a Content-Type looks at the byte
		// order mark (none here), then the <meta> prescan, then guesses.
		_, d.Name, _ = charset.DetermineEncoding(sample, "")
		d.Source = FromDocument
		if bytes.IndexByte(sample, 0x1b) >= 0 && !bytes.Contains(bytes.ToLower(sample), []byte("charset")) {
			// An escape byte in a page that declares nothing: browsers'
			// detectors take it for ISO-2022-JP, whose escape sequences
			// make the ASCII bytes after them other characters. Decoding
			// it as that, as a browser would, keeps the banner out of them.
			d.Name = "iso-2022-jp"
		}
	}
	d.enc, _ = htmlindex.Get(d.Name)
	switch d.Name {
	case "utf-16le", "utf-16be", "iso-2022-jp", "replacement":
		d.Transcode = true
	}
	d.Relabel = d.Transcode || d.Source == FromDocument
	return d
}

// bomEncoding returns the encoding a byte order mark at the start of
// sample names (the WHATWG "BOM sniff": UTF-8, UTF-16BE, UTF-16LE), or "".
func bomEncoding(sample []byte) string {
	switch {
	case bytes.HasPrefix(sample, []byte{0xef, 0xbb, 0xbf}):
		return "utf-8"
	case bytes.HasPrefix(sample, []byte{0xfe, 0xff}):
		return "utf-16be"
	case bytes.HasPrefix(sample, []byte{0xff, 0xfe}):
		return "utf-16le"
	}
	return ""
}

// lookup returns the WHATWG name of an encoding label, or "". It is
// charset.Lookup without the wrapper that function allocates.
func lookup(label string) string {
	e, err := htmlindex.Get(label)
	if err != nil {
		return ""
	}
	name, _ := htmlindex.Name(e)
	return name
}

// NewTranscoder returns a writer that decodes what it is given with d's
// encoding and writes it to dst as UTF-8. A byte order mark, of any
// Unicode encoding, decides as it does for a browser, and is dropped.
// It holds at most a few bytes of an incomplete character and a buffer
// of x/text's fixed size, so memory is flat; Close writes out what is
// held (an incomplete character as U+FFFD) and does not close dst.
func (d Decision) NewTranscoder(dst io.Writer) io.WriteCloser {
	dec := d.enc.NewDecoder()
	return transform.NewWriter(dst, unicode.BOMOverride(dec))
}
