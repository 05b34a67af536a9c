package caddymodule

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

func TestEscapeQuery(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"", ""},
		{"a=1&b=%20x", "a=1&b=%20x"}, // already encoded: unchanged
		{"q=a+b/c?d:e@f!$&'()*,;=~._-[]", "q=a+b/c?d:e@f!$&'()*,;=~._-[]"},
		{"x=1 HTTP/1.0", "x=1%20HTTP/1.0"},
		{"x=a\x85b\xa0c\xff", "x=a%85b%A0c%FF"},
		{"x=caf\xc3\xa9", "x=caf%C3%A9"},
		{"x=\t\x00\x7f", "x=%09%00%7F"},
		{"q={a|b}<c>\"d\"\\e^f`g#h", "q=%7Ba%7Cb%7D%3Cc%3E%22d%22%5Ce%5Ef%60g%23h"},
		{"x=100%", "x=100%"}, // a lone '%' is left as browsers leave it
	} {
		u := &url.URL{Path: "/support", RawQuery: c.raw}
		escapeQuery(u)
		if u.RawQuery != c.want {
			t.Errorf("escapeQuery(%q) = %q, want %q", c.raw, u.RawQuery, c.want)
		}
		if c.raw == c.want && testing.AllocsPerRun(10, func() { u.RawQuery = c.raw; escapeQuery(u) }) != 0 {
			t.Errorf("escapeQuery(%q) allocates for a query it leaves as it is", c.raw)
		}
	}
}

func TestScreenClientHeadersRefusesC1Controls(t *testing.T) {
	for _, c := range []struct {
		value   string
		refused bool
	}{
		{"plain ascii", false},
		{"Jos\xe9", false},                    // Latin-1 letters (obs-text)
		{"Z\xc3\xbcrich \xe2\x82\xac", false}, // UTF-8: "Zürich €", continuation bytes 0x80-0xBF
		{"\xa0nbsp", false},
		{"a\x85b", true},     // Latin-1 NEL
		{"\x9b31m", true},    // Latin-1 CSI
		{"a\xc2\x85b", true}, // U+0085 in UTF-8
		{"\xc2\x9f", true},   // U+009F
		{"\xc2\xa0", false},  // U+00A0
		{"\xe2\x82", true},   // a cut UTF-8 sequence: 0xE2 is Latin-1 "â", 0x82 a C1 control
	} {
		h := http.Header{"X-Note": {"ok", c.value}}
		if err := screenClientHeaders(h); (err != nil) != c.refused {
			t.Errorf("screenClientHeaders(%q) = %v, want refused %v", c.value, err, c.refused)
		}
	}
}

// A header frontdoor owns is removed whatever it holds, and the rest are
// screened: the request goes on without it.
func TestScreenClientHeadersRemovesReservedFirst(t *testing.T) {
	h := http.Header{"X-Frontdoor-Brand": {"a\x85b"}, "X_request_id": {"\x9b31m"}, "Accept": {"text/html"}}
	if err := screenClientHeaders(h); err != nil {
		t.Fatalf("screenClientHeaders = %v, want the reserved headers removed and no refusal", err)
	}
	if want := (http.Header{"Accept": {"text/html"}}); !reflect.DeepEqual(h, want) {
		t.Errorf("after screening: %v, want %v", h, want)
	}
}
