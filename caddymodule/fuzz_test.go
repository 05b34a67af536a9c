package caddymodule

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/cookieline"
)

// referenceReserved is the scrub rule written the obvious way: ASCII
// lower-case, '_' read as '-', then a prefix or equality test. Only ASCII
// is folded because header names are ASCII tokens: Go's server rejects any
// other byte in a name (so a name that strings.ToLower would fold into the
// namespace, such as "X-Request-\u0130d", never reaches the handler).
func referenceReserved(name string) bool {
	b := []byte(name)
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c == '_':
			b[i] = '-'
		}
	}
	n := string(b)
	return strings.HasPrefix(n, "x-frontdoor-") || n == "x-request-id"
}

// FuzzScrubReserved checks that after the scrub no header in frontdoor's
// namespace is left, however it is spelled, and that every other header is
// kept with its values.
func FuzzScrubReserved(f *testing.F) {
	for _, seed := range [][3]string{
		{"X-Frontdoor-Brand", "X_Frontdoor_Brand", "Accept"},
		{"x-request-id", "X_REQUEST_ID", "X-Request-Ids"},
		{"X-Frontdoor", "X-Frontdoorish", "x_frontdoor_context_customer_id"},
		{"X-FRONTDOOR-", "x-frontdoor_", "X-Frontdoo-Brand"},
		{"", "X-Request-\u0130d", "\xff-frontdoor-brand"},
	} {
		f.Add(seed[0], seed[1], seed[2], "value")
	}
	f.Fuzz(func(t *testing.T, a, b, c, value string) {
		h := http.Header{}
		want := http.Header{}
		for i, name := range []string{a, b, c} {
			// Raw keys as a server that does not canonicalize would
			// leave them, and canonical keys as Go's server makes them.
			for _, key := range []string{name, http.CanonicalHeaderKey(name)} {
				h[key] = append(h[key], value+string(rune('0'+i)))
			}
		}
		for k, v := range h {
			if !referenceReserved(k) {
				want[k] = slices.Clone(v)
			}
		}
		scrubReserved(h)
		for k := range h {
			if referenceReserved(k) {
				t.Errorf("reserved header %q survived the scrub", k)
			}
		}
		for k, v := range want {
			if !slices.Equal(h[k], v) {
				t.Errorf("header %q: %q after the scrub, want %q", k, h[k], v)
			}
		}
		if len(h) != len(want) {
			t.Errorf("after the scrub %d headers, want %d: %v", len(h), len(want), h)
		}
	})
}

// refCookieParts splits Cookie lines into their trimmed, non-empty parts:
// the fuzz test's own, simple reading, independent of the product's.
func refCookieParts(lines []string) []string {
	var parts []string
	for _, line := range lines {
		for _, p := range strings.Split(line, ";") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
	}
	return parts
}

// refCookieName is the name as servers read it: trimmed, so that
// "acme_session =x" is the session cookie.
func refCookieName(part string) string {
	name, _, _ := strings.Cut(part, "=")
	return strings.TrimSpace(name)
}

// refCarries reports whether a part is the cookie drop, or carries it to
// a parser that starts another cookie after a ',' or white space in a
// value; names are compared as cookieline.Canonical reads them (its own
// test covers that reading), in any case.
func refCarries(part, drop string) bool {
	_, value, _ := strings.Cut(part, "=")
	names := []string{refCookieName(part)}
	if i := strings.IndexAny(value, ", \t"); i >= 0 {
		for _, piece := range strings.FieldsFunc(value[i:], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if n, _, ok := strings.Cut(piece, "="); ok {
				names = append(names, n)
			}
		}
	}
	for _, n := range names {
		if n != "" && strings.EqualFold(cookieline.Canonical(n), cookieline.Canonical(drop)) {
			return true
		}
	}
	return false
}

// FuzzCookieFilter checks the filter that keeps the brand session cookie
// from vendors: the dropped cookie never survives, every other cookie does,
// in order, and the filter adds no line break a header could be split at.
func FuzzCookieFilter(f *testing.F) {
	f.Add("acme_session=s3cr3t; theme=dark", "lang=en", "acme_session")
	f.Add("theme=dark;acme_session=s3cr3t;acme_session=again", "", "acme_session")
	f.Add("  ;; x=1 ; acme_session ; y=\"q\" ", "acme_session=", "acme_session")
	f.Add("next=acme_session=s3cr3t", "acme_session2=x", "acme_session")
	f.Add("a=1\r\nX-Evil: 1; acme_session=s", "b=2\n", "acme_session")
	f.Add("=v; acme_session=s", "", "")
	f.Add("lang=en, acme_session=s; acme.session=t", "acme%5Fsession=u; Acme_Session[0]=v", "acme_session")
	f.Fuzz(func(t *testing.T, line1, line2, drop string) {
		lines := []string{line1, line2}
		if strings.Contains(line1+line2, jarPrefix) || drop == "" {
			t.Skip("jar cookies are FuzzCookieJar's; no cookie name is empty")
		}
		out := cookiesFor(lines, testVendor, brandCookieNames(drop))
		if slices.Equal(out, lines) {
			out = slices.DeleteFunc(slices.Clone(out), func(l string) bool { return len(refCookieParts([]string{l})) == 0 })
			if len(out) == 0 {
				out = nil
			}
		}

		for _, p := range refCookieParts(out) {
			if refCarries(p, drop) {
				t.Errorf("dropped cookie %q still sent: %q", drop, out)
			}
		}
		var want []string
		for _, p := range refCookieParts(lines) {
			if !refCarries(p, drop) {
				want = append(want, p)
			}
		}
		if got := refCookieParts(out); !slices.Equal(got, want) {
			t.Errorf("kept cookies %q, want %q (from %q)", got, want, lines)
		}
		for _, line := range out {
			if line == "" {
				t.Errorf("empty Cookie line in %q", out)
			}
		}
		if out != nil && len(out) > len(lines) {
			t.Errorf("%d lines from %d", len(out), len(lines))
		}
		in, got := strings.Join(lines, ""), strings.Join(out, "")
		for _, c := range []string{"\r", "\n"} {
			if strings.Count(got, c) > strings.Count(in, c) {
				t.Errorf("output %q has more %q than input %q", out, c, lines)
			}
		}
		// The cheap check that guards the filter agrees with it. (An
		// empty name also matches the empty parts between two ';', which
		// the filter skips anyway; no cookie name is ever empty.)
		if had := hasAnyCookie(lines, brandCookieNames(drop)); drop != "" && had != (len(want) != len(refCookieParts(lines))) {
			t.Errorf("hasAnyCookie = %v for %q dropping %q", had, lines, drop)
		}
	})
}

// FuzzCaddyfile feeds arbitrary tokens to the frontdoor directive: parsing
// must never panic, and whatever it accepts must be a valid model that
// encodes to JSON Caddy can load.
func FuzzCaddyfile(f *testing.F) {
	f.Add(strings.TrimSuffix(strings.TrimPrefix(designExample, "frontdoor {"), "}"))
	for _, seed := range []string{
		"brand Acme\njourney j /j* {\nbackend b {\nowner in-house\nto 127.0.0.1:1\n}\n}",
		"brand Acme\njourney j /j* {\nbackend b {\nowner outsourced\nvendor V\nto 127.0.0.1:1\nlb_policy first\nhealth_uri /h\ntransport http {\ndial_timeout 1s\n}\nbanner off\n}\n}",
		"journey j /j* {\nbackend b {\nslo availability 99.5%\nslo latency 95% 800ms\nhours \"daily 20:00-08:00\" Europe/Paris\n}\n}",
		"session {\ncookie s\nkey s:{id}\ntimeout 1ms\ncache 0\nstrip_cookies a b\n}\nassertion {\nkey a.pem\nttl 1m\n}",
		"journey j /j* {\nbackend b {\nto\n}\n}",
		"journey {\n}\n}\n{",
		"brand",
		"journey j /j* {\nbackend b {\nhandle_response {\nrespond 500\n}\n}\n}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		tokens, err := caddyfile.Tokenize([]byte("frontdoor {\n"+body+"\n}\n"), "Fuzzfile")
		if err != nil {
			return // not a Caddyfile at all (e.g. an unterminated quote)
		}
		h := new(Handler)
		if err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			if err.Error() == "" {
				t.Error("empty error message")
			}
			return
		}
		onError := ""
		if h.Session != nil {
			onError = h.Session.OnError
		}
		if err := config.Validate(h.Brand, h.Contact, onError, h.Journeys); err != nil {
			t.Errorf("accepted a config that does not validate: %v", err)
		}
		raw, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("accepted config does not encode: %v", err)
		}
		var back Handler
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Errorf("accepted config does not decode: %v\n%s", err, raw)
		}
		for _, j := range h.Journeys {
			for _, b := range j.Backends {
				var proxy struct {
					Handler string `json:"handler"`
				}
				if err := json.Unmarshal(b.ProxyRaw, &proxy); err != nil || proxy.Handler != "reverse_proxy" {
					t.Errorf("backend %s: proxy %s (%v)", b.Name, b.ProxyRaw, err)
				}
				if _, err := proxyDefaults(b.ProxyRaw, true); err != nil {
					t.Errorf("backend %s: %v", b.Name, err)
				}
			}
		}
	})
}

// FuzzCookieJar checks the vendor cookie jars in both directions: whatever
// a vendor sets lands in its own jar, comes back to it alone, and never
// becomes a brand cookie for anyone, the vendor included, unless the vendor
// named its own cookie so (it then sees its own, never the brand's).
func FuzzCookieJar(f *testing.F) {
	f.Add("acme_session=VENDORCHOSEN; Path=/own", "acme_session=REAL; theme=dark")
	f.Add("=acme_session=x", "acme_session=REAL")
	f.Add("__Host-sid=1; Path=/; Secure", "fd-jar~support~shipco~parcel=9; x=1")
	f.Add("fd-jar~support~shipco~parcel=evil", "fd-jar~support~shipco~parcel=9")
	f.Add(" sid =1\r\nX: y", "__secure-fd-jar~support~nightdesk~a=1")
	f.Add("x.sid=1", "fd-jar~support~rawv.x~sid=2")
	f.Add("sid=1", "fd-jar~tracking~nightdesk~sid=2")
	brand := brandCookies{"acme_session"}
	vendor := testJar("support", "nightdesk")
	// Names that once spelled each other's jars: a dotted backend, and
	// the same backend name in another journey.
	others := []*cookieJar{testJar("support", "shipco"), testJar("support", "rawv"), testJar("support", "rawv.x"),
		testJar("support", "nightdesk.x"), testJar("tracking", "nightdesk"), nil}
	f.Fuzz(func(t *testing.T, setCookie, customer string) {
		h := http.Header{"Set-Cookie": {setCookie}}
		vendor.store(h, 0, jarUsage{}, nil)
		stored := ""
		for _, line := range h["Set-Cookie"] {
			stored, _, _ = strings.Cut(line, ";")
			name := refCookieName(stored)
			if owner, _, ok := jarOf(name); !ok || owner != vendor.id {
				t.Fatalf("vendor cookie %q stored as %q, outside its jar", setCookie, name)
			}
			if brand.has(name) || strings.ContainsAny(name, "\r\n;= \t") {
				t.Fatalf("vendor cookie stored under name %q", name)
			}
			if !strings.Contains(line, "; Path=/support") && !strings.Contains(line, "; Path=/help") {
				t.Fatalf("vendor cookie %q stored outside the journey's paths: %q", setCookie, line)
			}
		}
		// The desk's cookie alone gives the other backends nothing.
		if stored != "" {
			for _, jar := range others {
				if got := cookiesFor([]string{stored}, jar, brand); got != nil {
					t.Errorf("%v received %q from the desk's cookie %q", jar, got, stored)
				}
			}
		}
		browser := []string{customer}
		if stored != "" {
			browser = append(browser, stored)
		}
		for _, jar := range append(others, vendor) {
			got := cookiesFor(browser, jar, brand)
			in, out := strings.Join(browser, ""), strings.Join(got, "")
			if strings.Count(out, "\n")+strings.Count(out, "\r") > strings.Count(in, "\n")+strings.Count(in, "\r") {
				t.Errorf("%v: line breaks added: %q from %q", jar, got, browser)
			}
			for _, part := range refCookieParts(got) {
				name := refCookieName(part)
				if id, _, ok := jarOf(name); ok && jar != vendor && (jar == nil || id != jar.id) {
					t.Errorf("%v received jar cookie %q", jar, part)
				}
				if jar != nil && brand.has(name) && !strings.Contains(in, jarName(jar.id, name)) {
					t.Errorf("%s received the brand cookie %q from %q", jar.id, part, browser)
				}
			}
		}
		// A cookie stored for the desk reaches the desk under its name.
		if stored != "" {
			name, _, _ := strings.Cut(stored, "=")
			_, original, _ := jarOf(name)
			if got := strings.Join(cookiesFor([]string{stored}, vendor, brand), ""); !strings.HasPrefix(got, original+"=") {
				t.Errorf("the desk's cookie %q came back as %q", stored, got)
			}
		}
	})
}
