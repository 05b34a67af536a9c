package htmlcharset

import "testing"

// TestDecideXML: an XML document's encoding is its byte order mark's, its
// Content-Type's, its declaration's or UTF-8, and one that came from the
// document is written in the Content-Type of the HTML it is served as.
func TestDecideXML(t *testing.T) {
	for _, c := range []struct {
		name, sample, label string
		hasLabel            bool
		want                string
		source              Source
		relabel             bool
	}{
		{"no declaration", `<svg xmlns="http://www.w3.org/2000/svg"/>`, "", false, "utf-8", FromDocument, true},
		{"declaration without encoding", `<?xml version="1.0"?><a/>`, "", false, "utf-8", FromDocument, true},
		{"declared", `<?xml version='1.0' encoding='ISO-8859-1'?><a/>`, "", false, "windows-1252", FromDocument, true},
		{"declared Shift_JIS", `<?xml version="1.0" encoding="Shift_JIS"?><a/>`, "", false, "shift_jis", FromDocument, true},
		{"unknown declared", `<?xml version="1.0" encoding="x-nonsense"?><a/>`, "", false, "utf-8", FromDocument, true},
		{"the header decides", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, "utf-8", true, "utf-8", FromHeader, false},
		{"an unknown header label is none", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, "bogus", true, "windows-1252", FromDocument, true},
		{"a BOM decides", "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>", "", false, "utf-8", FromBOM, false},
		{"no declaration but a processing instruction", `<?xml-stylesheet href="a.xsl"?><a/>`, "", false, "utf-8", FromDocument, true},
	} {
		d := DecideXML([]byte(c.sample), c.label, c.hasLabel)
		if d.Name != c.want || d.Source != c.source || d.Relabel != c.relabel {
			t.Errorf("%s: got %s from %d (relabel %v), want %s from %d (relabel %v)", c.name, d.Name, d.Source, d.Relabel, c.want, c.source, c.relabel)
		}
	}
}
