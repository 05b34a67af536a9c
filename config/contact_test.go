package config

import (
	"strings"
	"testing"

	"github.com/dunglas/httpsfv"
)

// TestContactHeaderValueParsesBack serializes contacts holding every
// printable ASCII character and reads them back with httpsfv's parser.
func TestContactHeaderValueParsesBack(t *testing.T) {
	var ascii strings.Builder
	for c := byte(0x20); c < 0x7f; c++ {
		ascii.WriteByte(c)
	}
	for _, c := range []Contact{
		{Phone: "+1 800 555 0100", Email: "help@acme.example", URL: "https://acme.example/help"},
		{Phone: ascii.String()},
		{Email: `a"b\c@acme.example`, URL: `https://acme.example/?q="x"\y`},
		{URL: "https://xn--hjlp-loa.example/%C3%A4"},
	} {
		if err := Validate("Acme", c, "", validConfig()); err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		v, err := c.HeaderValue()
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		d, err := httpsfv.UnmarshalDictionary([]string{v})
		if err != nil {
			t.Fatalf("%s does not parse: %v", v, err)
		}
		got := Contact{}
		for _, name := range d.Names() {
			m, _ := d.Get(name)
			s, _ := m.(httpsfv.Item).Value.(string)
			switch name {
			case "phone":
				got.Phone = s
			case "email":
				got.Email = s
			case "url":
				got.URL = s
			default:
				t.Errorf("%s has member %s", v, name)
			}
		}
		if got != c {
			t.Errorf("%s parses as %+v, want %+v", v, got, c)
		}
	}
}

// TestContactRefusesWhatAStructuredStringCannotHold: an RFC 9651 string is
// printable ASCII, so each of these is refused at validation, naming the
// field, the value and what to write instead.
func TestContactRefusesWhatAStructuredStringCannotHold(t *testing.T) {
	cases := []struct {
		c    Contact
		want string
	}{
		{Contact{Email: "hjälp@acme.example"}, `contact email "hjälp@acme.example" has the non-ASCII character 'ä'`},
		{Contact{Email: "help@acme.example", URL: "https://acme.example/hjälp"}, `contact url "https://acme.example/hjälp" has the non-ASCII character 'ä'`},
		{Contact{URL: "https://acme.example/hjälp"}, `percent-encode it (ä is %C3%A4)`},
		{Contact{URL: "https://hjälp.example/"}, `punycode`},
		{Contact{Phone: "+1 800\t555 0100"}, `contact phone "+1 800\t555 0100" has a tab`},
		{Contact{Phone: "+1 800 555 0100\x7f"}, `has a control character`},
		{Contact{Phone: "+1 800 555 0100\n"}, `has a control character`},
		{Contact{Phone: "+1 800 555 0100\xff"}, `is not valid UTF-8`},
		{Contact{Phone: "+1 800 555 0100"}, ""},
	}
	for _, c := range cases {
		err := Validate("Acme", c.c, "", validConfig())
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.c, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want it to contain %q", c.c, err, c.want)
		}
		if c.want != "" {
			if v, err := c.c.HeaderValue(); err == nil {
				t.Errorf("%+v serialized as %s", c.c, v)
			}
		}
	}
}
