package mimetype

import (
	"mime"
	"strings"
	"testing"
)

// The cases of web-platform-tests' mimesniff/mime-types/resources/
// mime-types.json and the examples of the specification: input, then the
// serialization, "" for a failure.
var parseCases = []struct{ in, want string }{
	{"text/html;charset=gbk", "text/html;charset=gbk"},
	{"TEXT/HTML;CHARSET=GBK", "text/html;charset=GBK"},
	{"text/html;charset=gbk(", `text/html;charset="gbk("`},
	{"text/html;x=(;charset=gbk", `text/html;x="(";charset=gbk`},
	{"text/html;charset=gbk;charset=windows-1255", "text/html;charset=gbk"},
	{"text/html;charset=();charset=GBK", `text/html;charset="()"`},
	{"text/html;charset =gbk", "text/html"},
	{"text/html ;charset=gbk", "text/html;charset=gbk"},
	{"text/html; charset=gbk", "text/html;charset=gbk"},
	{"text/html;charset= gbk", `text/html;charset=" gbk"`},
	{`text/html;charset= "gbk"`, `text/html;charset=" \"gbk\""`},
	{"text/html;charset=\u000Bgbk", "text/html"},
	{"text/html;charset=\u000Cgbk", "text/html"},
	{"text/html;\u000Bcharset=gbk", "text/html"},
	{`text/html;charset="gbk"`, "text/html;charset=gbk"},
	{`text/html;charset="gbk`, "text/html;charset=gbk"},
	{`text/html;charset=gbk"`, `text/html;charset="gbk\""`},
	{`text/html;charset=" gbk"`, `text/html;charset=" gbk"`},
	{`text/html;charset="gbk "`, `text/html;charset="gbk "`},
	{`text/html;charset="\ gbk"`, `text/html;charset=" gbk"`},
	{`text/html;charset="\g\b\k"`, "text/html;charset=gbk"},
	{`text/html;charset="gbk"x`, "text/html;charset=gbk"},
	{`text/html;charset="";charset=GBK`, `text/html;charset=""`},
	{"text/html;charset=;charset=GBK", "text/html;charset=GBK"},
	{`text/html;charset="\`, `text/html;charset="\\"`},
	{"text/html;charset", "text/html"},
	{"text/html;charset=", "text/html"},
	{"text/html;charset==", `text/html;charset="="`},
	{"x/x;test", "x/x"},
	{`x/x;test="\`, `x/x;test="\\"`},
	{"x/x;x= ", "x/x"},
	{"x/x;x=\t", "x/x"},
	{"x/x\n\r\t ;x=x", "x/x;x=x"},
	{"\n\r\t x/x;x=x\n\r\t ", "x/x;x=x"},
	{"x/x;\n\r\t x=x\n\r\t ;x=y", "x/x;x=x"},
	{"text/html;test=\xff;charset=gbk", "text/html;test=\"\xff\";charset=gbk"},
	{"x/x;test=\x7f;x=x", "x/x;x=x"},
	{"x/x;test=\x00;x=x", "x/x;x=x"},
	{"x/x;\xff=x;x=x", "x/x;x=x"},
	{"x/x;test=\"\x00\";x=x", "x/x;x=x"},
	{"text/html;a=b;a=c", "text/html;a=b"},
	{"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ/!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ;!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ=!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz/!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz;!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz=!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
	{"x/x;x=\"\t !\\\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\"",
		"x/x;x=\"\t !\\\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\""},
	// Failures.
	{"", ""},
	{"\t", ""},
	{"/html", ""},
	{"text", ""},
	{"text/", ""},
	{"text /html", ""},
	{"te xt/html", ""},
	{"text/ html", ""},
	{"text/html(", ""},
	{"(/html", ""},
	{"text/html\u000B;charset=gbk", ""},
	{"\u000Btext/html", ""},
	{"*/*;x=y", "*/*;x=y"},
}

func TestParse(t *testing.T) {
	for _, c := range parseCases {
		m, ok := Parse(c.in)
		got := ""
		if ok {
			got = m.String()
		}
		if got != c.want {
			t.Errorf("Parse(%q) = %q; want %q", c.in, got, c.want)
		}
		if ok {
			// Serializing and parsing again gives the same.
			again, ok := Parse(got)
			if !ok || again.String() != got {
				t.Errorf("Parse(%q) does not round-trip: %q, %v", got, again.String(), ok)
			}
		}
	}
}

// The examples of the Fetch standard's "extract a MIME type", each a list
// of Content-Type field lines.
func TestExtract(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  string
	}{
		{[]string{"text/plain;charset=gbk", "text/html"}, "text/html"},
		{[]string{"text/plain", "text/html"}, "text/html"},
		{[]string{"text/html;charset=gbk", "text/html"}, "text/html;charset=gbk"},
		{[]string{"text/html;charset=gbk;x=foo", "text/plain"}, "text/plain"},
		{[]string{"text/html;charset=gbk", "text/plain", "text/html"}, "text/html"},
		{[]string{"text/html;charset=gbk", "*/*"}, "text/html;charset=gbk"},
		{[]string{"text/html;charset=gbk", ""}, "text/html;charset=gbk"},
		{[]string{"text/html;charset=gbk", `text/html;x=",text/plain"`}, `text/html;x=",text/plain";charset=gbk`},
		{[]string{`text/html;x=",text/plain`}, `text/html;x=",text/plain"`},
		{[]string{"text/plain, text/html"}, "text/html"},
		{[]string{"text/html, text/plain;nonsense"}, "text/plain;nonsense="},
		{[]string{"text/html;charset=utf-16le, bogus"}, "text/html;charset=utf-16le"},
		{[]string{"*/*"}, ""},
		{[]string{"bogus"}, ""},
		{[]string{""}, ""},
		{nil, ""},
	} {
		m, ok := Extract(c.lines)
		got := ""
		if ok {
			got = m.String()
		}
		if c.want == "text/plain;nonsense=" {
			c.want = "text/plain" // a parameter without a value is dropped
		}
		if got != c.want {
			t.Errorf("Extract(%q) = %q; want %q", c.lines, got, c.want)
		}
	}
}

func TestSniffedAndIsHTML(t *testing.T) {
	for _, c := range []struct {
		lines        []string
		sniff, isHTM bool
	}{
		{nil, true, false},
		{[]string{"bogus"}, true, false},
		{[]string{"*/*"}, true, false},
		{[]string{"unknown/unknown"}, true, false},
		{[]string{"Application/Unknown"}, true, false},
		{[]string{"text/html"}, false, true},
		{[]string{" TEXT/HTML ; charset=utf-8"}, false, true},
		{[]string{"application/xhtml+xml"}, false, true},
		{[]string{"text/plain", "text/html"}, false, true},
		{[]string{"text/html", "text/plain"}, false, false},
		{[]string{"text/plain"}, false, false},
		{[]string{"image/svg+xml"}, false, false},
	} {
		m, ok := Extract(c.lines)
		if got := Sniffed(m, ok); got != c.sniff {
			t.Errorf("Sniffed(%q) = %v", c.lines, got)
		}
		if got := ok && IsHTML(m); got != c.isHTM {
			t.Errorf("IsHTML(%q) = %v", c.lines, got)
		}
	}
}

func TestIsXML(t *testing.T) {
	for value, want := range map[string]bool{
		"text/xml": true, "Application/XML; charset=utf-8": true, "image/svg+xml": true, "application/rss+xml": true,
		"application/xhtml+xml": true, "text/html": false, "application/json": false, "text/xml-external-parsed-entity": false,
		"application/xml-dtd": false,
	} {
		m, ok := Parse(value)
		if got := ok && IsXML(m); got != want {
			t.Errorf("IsXML(%q) = %v, want %v", value, got, want)
		}
	}
}

// FuzzParse checks that whatever Parse accepts serializes to something it
// parses back to the same, and that it agrees with mime.ParseMediaType on
// the essence of what both accept without parameters.
func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		m, ok := Parse(in)
		if !ok {
			return
		}
		s := m.String()
		again, ok := Parse(s)
		if !ok || again.String() != s {
			t.Fatalf("Parse(%q) serializes to %q, which parses to %q, %v", in, s, again.String(), ok)
		}
		if !strings.ContainsAny(in, ";\"") {
			if mt, _, err := mime.ParseMediaType(in); err == nil && mt != m.Essence() {
				t.Fatalf("Parse(%q) has essence %q; mime.ParseMediaType says %q", in, m.Essence(), mt)
			}
		}
		// Extract of the one value is the parse, unless it is */* or has
		// a comma outside quotes.
		if !strings.Contains(in, ",") && m.Essence() != "*/*" {
			e, ok := Extract([]string{in})
			if !ok || e.String() != s {
				t.Fatalf("Extract(%q) = %q, %v; Parse gives %q", in, e.String(), ok, s)
			}
		}
	})
}
