package banner

import (
	"bytes"
	"slices"
)

// Bound is a banner rendered once for fixed brand data, so that a request
// only has to put in its reference and its feedback token: executing
// html/template for every HTML page costs more than scanning the page for
// </body>.
//
// Splicing gives the bytes executing the template would: the reference
// and the token go in verbatim only when they are non-empty ASCII letters
// and digits (request ids and feedback tokens are), which every
// html/template context (text, attribute, URL, CSS, script) and the
// non-ASCII escaping of Render leave as they are, and only when two sets of
// probe values of different length and letters showed that the template
// shows them nowhere but verbatim (no slicing, no printf, no len).
// Otherwise Render executes the template. A Bound is safe for concurrent
// use.
type Bound struct {
	tmpl *Template
	data Data // Escalate and Rate hold the links without their token

	// parts is the markup between the places the reference or the token
	// go (one more than their number), slots which of the two goes before
	// each part but the first; parts is nil when the template must run
	// every time.
	parts [][]byte
	slots []slot
	size  int // total length of parts
}

type slot uint8

const (
	slotReference slot = iota
	slotToken
)

// Probe values for Bind: letters and digits, different from each other at
// every position and in length, and unlikely in any template text.
const (
	probeReferenceA = "Qz0fdRefProbeA7kX"
	probeReferenceB = "Wv9fdRefProbeBm4Yq"
	probeTokenA     = "Jx3fdTokProbeA9pQ"
	probeTokenB     = "Hn8fdTokProbeBc2Zrs"
)

// Bind renders t for d once. d.Reference is ignored: each call to
// [Bound.Render] supplies it. d.Escalate and d.Rate, if not empty, are the
// feedback links up to their token, which each call to
// [Bound.RenderWith] appends.
func (t *Template) Bind(d Data) (*Bound, error) {
	b := &Bound{tmpl: t, data: d}
	outA, err := t.Render(b.withValues(probeReferenceA, probeTokenA))
	if err != nil {
		return nil, err
	}
	outB, err := t.Render(b.withValues(probeReferenceB, probeTokenB))
	if err != nil {
		return nil, err
	}
	partsA, slotsA := split(outA, probeReferenceA, probeTokenA)
	partsB, slotsB := split(outB, probeReferenceB, probeTokenB)
	if slices.EqualFunc(partsA, partsB, bytes.Equal) && slices.Equal(slotsA, slotsB) {
		b.parts, b.slots = partsA, slotsA
		for _, p := range partsA {
			b.size += len(p)
		}
	}
	return b, nil
}

// withValues is the bound data with a reference and a token put in.
func (b *Bound) withValues(reference, token string) Data {
	d := b.data
	d.Reference = reference
	if token == "" {
		d.Escalate, d.Rate = "", ""
	}
	if d.Escalate != "" {
		d.Escalate += token
	}
	if d.Rate != "" {
		d.Rate += token
	}
	return d
}

// split cuts out at each occurrence of the reference or the token probe.
func split(out []byte, reference, token string) ([][]byte, []slot) {
	var parts [][]byte
	var slots []slot
	for {
		r, k := bytes.Index(out, []byte(reference)), bytes.Index(out, []byte(token))
		switch {
		case r < 0 && k < 0:
			return append(parts, out), slots
		case k < 0 || r >= 0 && r < k:
			parts, slots = append(parts, out[:r]), append(slots, slotReference)
			out = out[r+len(reference):]
		default:
			parts, slots = append(parts, out[:k]), append(slots, slotToken)
			out = out[k+len(token):]
		}
	}
}

// Render returns the banner markup with reference in it and no feedback
// links, the same bytes as t.Render would return for the bound data with
// that reference.
func (b *Bound) Render(reference string) ([]byte, error) {
	return b.RenderWith(reference, "")
}

// RenderWith returns the banner markup with reference in it and token
// appended to the bound feedback links (none when token is empty), the
// same bytes as t.Render would return for that data.
func (b *Bound) RenderWith(reference, token string) ([]byte, error) {
	links := b.data.Escalate != "" || b.data.Rate != ""
	if b.parts == nil || !isAlphanumeric(reference) || links && !isAlphanumeric(token) {
		return b.tmpl.Render(b.withValues(reference, token))
	}
	size := b.size
	for _, s := range b.slots {
		if s == slotReference {
			size += len(reference)
		} else {
			size += len(token)
		}
	}
	out := make([]byte, 0, size)
	for i, p := range b.parts {
		if i > 0 {
			if b.slots[i-1] == slotReference {
				out = append(out, reference...)
			} else {
				out = append(out, token...)
			}
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
