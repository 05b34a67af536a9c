package assertion

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// stdlibString is the reference appendString must match byte for byte.
func stdlibString(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

var stringSeeds = []string{
	"",
	"plain ascii",
	`"quoted" \back\slash\`,
	"</script><!-- & -->",
	"\x00\x01\x07\b\t\n\v\f\r\x1b\x1f\x7f",
	"Zoë 日本語 🏔️ \u00a0 \ufeff \ufffd",
	"\u2028\u2029",
	"\xff",
	"a\xc3",            // truncated sequence at the end
	"\xc3\x28",         // bad continuation
	"\xed\xa0\x80",     // UTF-16 surrogate half encoded as UTF-8
	"\xf4\x90\x80\x80", // above U+10FFFF
	"\xc0\xaf",         // overlong '/'
	strings.Repeat("x\"", 100),
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range stringSeeds {
		if got, want := appendString(nil, s), stdlibString(t, s); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
	// Every single byte and every rune of the BMP edges.
	for c := range 256 {
		s := string([]byte{byte(c)})
		if got, want := appendString(nil, s), stdlibString(t, s); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString([]byte("prefix"), s)
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("clobbered the buffer: %q", got)
		}
		got = got[len("prefix"):]
		if want := stdlibString(t, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// FuzzPayload checks that whatever the claims, the payload is one valid JSON
// object that reads back as what went in.
func FuzzPayload(f *testing.F) {
	f.Add("Acme", "nightdesk", "cus_1", "req", "support", "found", "customer_id", "v", int64(1741964966))
	f.Add("A\"", "\\", "", "", "", "none", "k\x00", "\xff</script>", int64(-1))
	f.Fuzz(func(t *testing.T, iss, aud, sub, jti, journey, session, name, value string, iat int64) {
		c := Claims{Issuer: iss, Audience: aud, Subject: sub, ID: jti, Journey: journey, Session: session,
			Context: []Field{{name, value}, {name + "2", value + value}}}
		p := appendPayload(nil, &c, iat, iat+120)
		var got struct {
			Iss, Sub, Aud, Jti, Journey, Session string
			Iat, Nbf, Exp                        int64
			Ctx                                  map[string]string
		}
		dec := json.NewDecoder(bytes.NewReader(p))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("payload %s: %v", p, err)
		}
		if dec.More() {
			t.Fatalf("payload %s: trailing data", p)
		}
		// Compare with what encoding/json would have made of the inputs,
		// which replaces invalid UTF-8 just as we do.
		norm := func(s string) string {
			var out string
			if err := json.Unmarshal(stdlibString(t, s), &out); err != nil {
				t.Fatal(err)
			}
			return out
		}
		if got.Iss != norm(iss) || got.Aud != norm(aud) || got.Sub != norm(sub) || got.Jti != norm(jti) ||
			got.Journey != norm(journey) || got.Session != norm(session) || got.Iat != iat || got.Nbf != iat || got.Exp != iat+120 {
			t.Errorf("payload %s read back as %+v", p, got)
		}
		if got.Ctx[norm(name)] != norm(value) || got.Ctx[norm(name+"2")] != norm(value+value) {
			t.Errorf("payload %s: ctx %q", p, got.Ctx)
		}
	})
}
