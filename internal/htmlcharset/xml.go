package htmlcharset

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
)

// DecideXML returns the encoding a browser decodes an XML document with
// (XML 1.0 appendix F, as browsers apply it): a byte order mark, then the
// charset of the Content-Type, then the encoding its XML declaration
// names, then UTF-8. frontdoor serves XML that a browser would render as
// a page as HTML, whose parser reads neither the declaration nor that
// default: an encoding that came from the document is always written in
// the Content-Type (Relabel).
func DecideXML(sample []byte, label string, hasLabel bool) Decision {
	if bomEncoding(sample) != "" || hasLabel && lookup(label) != "" {
		return Decide(sample, label, hasLabel)
	}
	declared := declaredEncoding(sample)
	if lookup(declared) == "" {
		declared = "utf-8"
	}
	d := Decide(sample, declared, true)
	d.Source, d.Relabel = FromDocument, true
	return d
}

// errDeclared stops the XML decoder once the declaration is read.
var errDeclared = errors.New("declaration read")

// declaredEncoding returns the encoding named by the XML declaration at
// the start of sample, or "" (none, or UTF-8). encoding/xml reads the
// declaration and hands any encoding other than UTF-8 to CharsetReader,
// which notes it and stops.
func declaredEncoding(sample []byte) string {
	if len(sample) > SampleLen {
		sample = sample[:SampleLen]
	}
	if !bytes.HasPrefix(sample, []byte("<?xml")) {
		return "" // the declaration is first or nowhere
	}
	var declared string
	dec := xml.NewDecoder(bytes.NewReader(sample))
	dec.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		declared = label
		return nil, errDeclared
	}
	dec.Token() //nolint:errcheck // errDeclared, or a declaration without an encoding
	return declared
}
