package caddymodule

import (
	"net/http"
	"sync/atomic"

	"github.com/frontdoor-dev/frontdoor/internal/banner"
)

// cspPatch is what the banner makes of a page's Content-Security-Policy
// fields: whether the page runs scripts (which decides how <noscript> is
// tokenized) and the fields with the banner's style allowed.
type cspPatch struct {
	enforce, reportOnly               string // the fields as the vendor sent them
	scripting                         bool
	patchedEnforce, patchedReportOnly string
}

// bannerCSP keeps the last cspPatch of a backend's pages: a vendor sends
// the same policy with every page, and parsing it twice a page costs more
// than the rest of starting the banner.
type bannerCSP struct {
	last atomic.Pointer[cspPatch]
}

// apply patches hdr's policies for the banner and reports whether the page
// runs scripts. Fields repeated in hdr are worked out each time; a single
// field of each kind (or none) is looked up in the last patch first.
func (c *bannerCSP) apply(hdr http.Header, styleHashes []string) (scripting bool) {
	enforce, reportOnly := hdr["Content-Security-Policy"], hdr["Content-Security-Policy-Report-Only"]
	if len(enforce) > 1 || len(reportOnly) > 1 {
		scripting = banner.ScriptingEnabled(enforce)
		for _, values := range [][]string{enforce, reportOnly} {
			for i, policy := range values {
				values[i] = banner.AllowStyle(policy, styleHashes)
			}
		}
		return scripting
	}
	var e, r string
	if len(enforce) == 1 {
		e = enforce[0]
	}
	if len(reportOnly) == 1 {
		r = reportOnly[0]
	}
	p := c.last.Load()
	if p == nil || p.enforce != e || p.reportOnly != r {
		p = &cspPatch{enforce: e, reportOnly: r, scripting: banner.ScriptingEnabled(enforce),
			patchedEnforce: banner.AllowStyle(e, styleHashes), patchedReportOnly: banner.AllowStyle(r, styleHashes)}
		c.last.Store(p)
	}
	if len(enforce) == 1 {
		enforce[0] = p.patchedEnforce
	}
	if len(reportOnly) == 1 {
		reportOnly[0] = p.patchedReportOnly
	}
	return p.scripting
}
