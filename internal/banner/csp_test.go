package banner

import (
	"bytes"
	"testing"
)

func TestAllowStyle(t *testing.T) {
	h := []string{"'sha256-AAA='"}
	for _, tc := range []struct {
		name, policy, want string
		hashes             []string
	}{
		{
			name:   "style-src with a nonce",
			policy: "default-src 'none'; style-src 'nonce-abc'",
			want:   "default-src 'none'; style-src 'nonce-abc' 'sha256-AAA='",
		},
		{
			name:   "style-src-elem comes first",
			policy: "style-src 'self'; style-src-elem 'self' https://cdn.example",
			want:   "style-src 'self'; style-src-elem 'self' https://cdn.example 'sha256-AAA='",
		},
		{
			name:   "default-src is copied, not loosened",
			policy: "default-src 'self' https://cdn.example; img-src *",
			want:   "default-src 'self' https://cdn.example; img-src *; style-src 'self' https://cdn.example 'sha256-AAA='",
		},
		{
			name:   "default-src 'none'",
			policy: "default-src 'none'",
			want:   "default-src 'none'; style-src 'sha256-AAA='",
		},
		{
			name:   "default-src with a trailing semicolon",
			policy: "default-src 'self';  ",
			want:   "default-src 'self'; style-src 'self' 'sha256-AAA='  ",
		},
		{
			name:   "no directive for styles",
			policy: "script-src 'self'; frame-ancestors 'none'",
			want:   "script-src 'self'; frame-ancestors 'none'",
		},
		{
			name:   "unsafe-inline already allows it",
			policy: "style-src 'self' 'unsafe-inline'",
			want:   "style-src 'self' 'unsafe-inline'",
		},
		{
			name:   "unsafe-inline in default-src already allows it",
			policy: "default-src 'self' 'Unsafe-Inline'",
			want:   "default-src 'self' 'Unsafe-Inline'",
		},
		{
			name:   "unsafe-inline with a hash is switched off",
			policy: "style-src 'unsafe-inline' 'sha256-BBB='",
			want:   "style-src 'unsafe-inline' 'sha256-BBB=' 'sha256-AAA='",
		},
		{
			name:   "unsafe-inline with a nonce is switched off",
			policy: "style-src 'unsafe-inline' 'nonce-xyz'",
			want:   "style-src 'unsafe-inline' 'nonce-xyz' 'sha256-AAA='",
		},
		{
			name:   "none is replaced",
			policy: "style-src 'none'; script-src 'none'",
			want:   "style-src 'sha256-AAA='; script-src 'none'",
		},
		{
			name:   "none in any case",
			policy: "style-src-elem 'NONE' ; img-src 'self'",
			want:   "style-src-elem 'sha256-AAA=' ; img-src 'self'",
		},
		{
			name:   "empty source list",
			policy: "style-src; img-src 'self'",
			want:   "style-src 'sha256-AAA='; img-src 'self'",
		},
		{
			name:   "directive names in any case",
			policy: "Default-Src 'none'; STYLE-SRC 'self'",
			want:   "Default-Src 'none'; STYLE-SRC 'self' 'sha256-AAA='",
		},
		{
			name:   "only the first of repeated directives counts",
			policy: "style-src 'self'; style-src 'none'",
			want:   "style-src 'self' 'sha256-AAA='; style-src 'none'",
		},
		{
			name:   "hash already there",
			policy: "style-src 'sha256-AAA='",
			want:   "style-src 'sha256-AAA='",
		},
		{
			name:   "whitespace kept",
			policy: " style-src\t'self'\t; report-uri /csp ",
			want:   " style-src\t'self' 'sha256-AAA='\t; report-uri /csp ",
		},
		{
			name:   "several policies patched one by one",
			policy: "default-src 'self', style-src 'none', img-src *",
			want:   "default-src 'self'; style-src 'self' 'sha256-AAA=', style-src 'sha256-AAA=', img-src *",
		},
		{
			name:   "several hashes",
			policy: "style-src 'none'",
			hashes: []string{"'sha256-AAA='", "'sha256-BBB='"},
			want:   "style-src 'sha256-AAA=' 'sha256-BBB='",
		},
		{
			name:   "no hashes",
			policy: "style-src 'none'",
			hashes: []string{},
			want:   "style-src 'none'",
		},
		{
			name:   "empty policy",
			policy: "",
			want:   "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hashes := h
			if tc.hashes != nil {
				hashes = tc.hashes
			}
			if got := AllowStyle(tc.policy, hashes); got != tc.want {
				t.Fatalf("AllowStyle(%q)\n got %q\nwant %q", tc.policy, got, tc.want)
			}
		})
	}
}

func TestScriptingEnabled(t *testing.T) {
	for _, c := range []struct {
		policies []string
		want     bool
	}{
		{nil, true},
		{[]string{"default-src 'self'"}, true},
		{[]string{"sandbox allow-scripts allow-forms"}, true},
		{[]string{"default-src 'none'; SANDBOX Allow-Scripts"}, true},
		{[]string{"sandbox"}, false},
		{[]string{"sandbox allow-forms"}, false},
		{[]string{"sandbox allow-scripts", "sandbox allow-forms"}, false},
		{[]string{"script-src 'none', sandbox"}, false},
		{[]string{"script-src 'none'"}, true},
	} {
		if got := ScriptingEnabled(c.policies); got != c.want {
			t.Errorf("ScriptingEnabled(%q) = %v; want %v", c.policies, got, c.want)
		}
	}
}

func TestInjectorWithoutScripting(t *testing.T) {
	var out bytes.Buffer
	inj := NewInjector(&out, []byte("[B]"))
	inj.SetScripting(false)
	if _, err := inj.Write([]byte("<noscript><!--</noscript></body>-->")); err != nil {
		t.Fatal(err)
	}
	if _, err := inj.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "<noscript><!--</noscript></body>-->[B]"; out.String() != want {
		t.Fatalf("got %q; want %q", out.String(), want)
	}
}
