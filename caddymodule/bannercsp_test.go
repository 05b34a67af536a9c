package caddymodule

import (
	"net/http"
	"slices"
	"testing"

	"github.com/frontdoor-dev/frontdoor/internal/banner"
)

// TestBannerCSPKeepsNoStalePatch: the memo of the last policy must give
// each page what parsing its own fields gives, whatever came before.
func TestBannerCSPKeepsNoStalePatch(t *testing.T) {
	hashes := []string{"'sha256-abc='"}
	pages := []http.Header{
		{"Content-Security-Policy": {"default-src 'self'"}},
		{"Content-Security-Policy": {"default-src 'self'"}},
		{"Content-Security-Policy": {"sandbox allow-forms; style-src 'none'"}},
		{"Content-Security-Policy": {"default-src 'self'"}, "Content-Security-Policy-Report-Only": {"style-src 'self'"}},
		{"Content-Security-Policy-Report-Only": {"style-src 'self'"}},
		{},
		{"Content-Security-Policy": {"style-src 'self'", "sandbox; default-src 'none'"}},
		{"Content-Security-Policy": {"sandbox allow-scripts; style-src-elem 'self'"}},
		{"Content-Security-Policy": {"default-src 'self'"}},
	}
	var memo bannerCSP
	for k, hdr := range pages {
		want := hdr.Clone()
		wantScripting := banner.ScriptingEnabled(want["Content-Security-Policy"])
		for _, name := range []string{"Content-Security-Policy", "Content-Security-Policy-Report-Only"} {
			for i, policy := range want[name] {
				want[name][i] = banner.AllowStyle(policy, hashes)
			}
		}
		if got := memo.apply(hdr, hashes); got != wantScripting {
			t.Errorf("page %d: scripting %v, want %v", k, got, wantScripting)
		}
		for _, name := range []string{"Content-Security-Policy", "Content-Security-Policy-Report-Only"} {
			if !slices.Equal(hdr[name], want[name]) {
				t.Errorf("page %d: %s = %q, want %q", k, name, hdr[name], want[name])
			}
		}
		if len(hdr) != len(want) {
			t.Errorf("page %d: fields %v, want %v", k, hdr, want)
		}
	}
}
