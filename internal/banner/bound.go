package banner

import (
	"bytes"
	"slices"
)

// Bound is a banner rendered once for fixed brand data, so that a request
// only has to put its reference in: executing html/template for every HTML
// page costs more than scanning the page for </body>.
//
// Splicing gives the bytes executing the template would: the reference goes
// in verbatim only when it is non-empty ASCII letters and digits (request
// ids are), which every html/template context (text, attribute, URL, CSS,
// script) and the non-ASCII escaping of Render leave as they are, and only
// when two probe references of different length and letters showed that
// the template shows the reference nowhere but verbatim (no slicing, no
// printf, no len). Otherwise Render executes the template. A Bound is safe
// for concurrent use.
type Bound struct {
	tmpl *Template
	data Data

	// parts is the markup between the places the reference goes (one more
	// than their number), or nil when the template must run every time.
	parts [][]byte
	size  int // total length of parts
}

// Probe references for Bind: letters and digits, different from each other
// at every position and in length, and unlikely in any template text.
const (
	probeReferenceA = "Qz0fdRefProbeA7kX"
	probeReferenceB = "Wv9fdRefProbeBm4Yq"
)

// Bind renders t for d once. d.Reference is ignored: each call to
// [Bound.Render] supplies it.
func (t *Template) Bind(d Data) (*Bound, error) {
	b := &Bound{tmpl: t, data: d}
	d.Reference = probeReferenceA
	outA, err := t.Render(d)
	if err != nil {
		return nil, err
	}
	d.Reference = probeReferenceB
	outB, err := t.Render(d)
	if err != nil {
		return nil, err
	}
	partsA := bytes.Split(outA, []byte(probeReferenceA))
	partsB := bytes.Split(outB, []byte(probeReferenceB))
	if slices.EqualFunc(partsA, partsB, bytes.Equal) {
		b.parts = partsA
		for _, p := range partsA {
			b.size += len(p)
		}
	}
	return b, nil
}

// Render returns the banner markup with reference in it, the same bytes
// as t.Render would return for the bound data with that reference.
func (b *Bound) Render(reference string) ([]byte, error) {
	if b.parts == nil || !isAlphanumeric(reference) {
		d := b.data
		d.Reference = reference
		return b.tmpl.Render(d)
	}
	out := make([]byte, 0, b.size+(len(b.parts)-1)*len(reference))
	for i, p := range b.parts {
		if i > 0 {
			out = append(out, reference...)
		}
		out = append(out, p...)
	}
	return out, nil
}

func isAlphanumeric(s string) bool {
	if s == "" {
		return false // {{with .Reference}} would drop the markup around it
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
