package caddymodule

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/frontdoor-dev/frontdoor/internal/banner"
)

// cspPatch is what the banner makes of a page's Content-Security-Policy
// fields: whether the page runs scripts (which decides how <noscript> is
// tokenized) and the fields with the banner's style allowed.
type cspPatch struct {
	enforce, reportOnly               []string // the fields as the vendor sent them
	scripting                         bool
	patchedEnforce, patchedReportOnly []string
}

// bannerCSP keeps the last cspPatch of a backend's pages: a vendor sends
// the same policy with every page, and parsing it twice a page costs more
// than the rest of starting the banner.
type bannerCSP struct {
	last atomic.Pointer[cspPatch]
}

// patchHeaders makes the headers of a page the banner goes into, and of
// a 304 that revalidates one (the browser renders the page it cached
// under the 304's headers), say what the customer's page is: the vendor's
// policies allow the banner's style, and nothing describes the vendor's
// body instead. It reports whether the page runs scripts.
func (b *bannerPolicy) patchHeaders(hdr http.Header) (scripting bool) {
	scripting = b.csp.apply(hdr, b.styleHashes)
	// The length changes by more than the banner: what closes a page left
	// open, and transcoding to UTF-8.
	hdr.Del("Content-Length")
	if etag := hdr.Get("Etag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		hdr.Set("Etag", "W/"+etag)
	}
	for _, name := range []string{"Content-Md5", "Digest", "Repr-Digest", "Content-Digest", "Trailer"} {
		hdr.Del(name) // they describe the vendor's body, trailers included
	}
	hdr.Set("Accept-Ranges", "none")
	// The page carries this request's reference and the customer's own
	// feedback links: no shared cache may keep it for the next customer,
	// whatever the vendor said (public, s-maxage, or the targeted fields
	// of RFC 9213 and Edge Architecture), and a browser revalidates it,
	// which its 304 gets these headers for.
	hdr.Set("Cache-Control", "private, no-cache")
	hdr.Del("Cdn-Cache-Control")
	hdr.Del("Surrogate-Control")
	return scripting
}

// apply patches hdr's policies for the banner, in place, and reports
// whether the page runs scripts. Fields other than the last page's are
// worked out and kept for the next.
func (c *bannerCSP) apply(hdr http.Header, styleHashes []string) (scripting bool) {
	enforce, reportOnly := hdr["Content-Security-Policy"], hdr["Content-Security-Policy-Report-Only"]
	p := c.last.Load()
	if p == nil || !slices.Equal(p.enforce, enforce) || !slices.Equal(p.reportOnly, reportOnly) {
		p = &cspPatch{enforce: slices.Clone(enforce), reportOnly: slices.Clone(reportOnly),
			scripting:      banner.ScriptingEnabled(enforce),
			patchedEnforce: allowBannerStyle(enforce, styleHashes), patchedReportOnly: allowBannerStyle(reportOnly, styleHashes)}
		c.last.Store(p)
	}
	copy(enforce, p.patchedEnforce)
	copy(reportOnly, p.patchedReportOnly)
	return p.scripting
}

// allowBannerStyle returns the policies with the banner's style allowed.
func allowBannerStyle(policies, styleHashes []string) []string {
	patched := make([]string, len(policies))
	for i, policy := range policies {
		patched[i] = banner.AllowStyle(policy, styleHashes)
	}
	return patched
}
