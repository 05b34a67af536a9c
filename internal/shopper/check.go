package shopper

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/mimetype"
	"github.com/frontdoor-dev/frontdoor/internal/utf8cut"
)

// Check names; these are the check label values of
// frontdoor_probe_check_failures_total.
const (
	CheckStatus       = "status"
	CheckBody         = "body"
	CheckForbid       = "forbid"
	CheckCustomer     = "customer"
	CheckWithin       = "within"
	CheckServerError  = "server_error"
	CheckErrorPage    = "error_page"
	CheckBanner       = "banner"
	CheckVendorHeader = "vendor_header"
	CheckCORS         = "cors"
)

// Checks are all the check names.
var Checks = []string{CheckStatus, CheckBody, CheckForbid, CheckCustomer, CheckWithin,
	CheckServerError, CheckErrorPage, CheckBanner, CheckVendorHeader, CheckCORS}

// stepOutcome is what one step got.
type stepOutcome struct {
	status    int
	header    http.Header
	body      []byte // decoded, bounded
	elapsed   time.Duration
	requestID string
	errorPage int    // status of a brand error page shown instead
	failure   string // the request did not complete: why
	timedOut  bool
	noContext bool // the session store failed the shopper's lookup
	// corsRefused says why the customer's browser would not send a
	// cross-origin step (its preflight) or not let the page read the
	// answer; "" if it would (see cors.go).
	corsRefused string
	cookieless  bool // sent without the site's cookies (a cross-origin fetch()): the backend was told of no customer
}

// evaluate runs the always-on and the configured checks of step i on its
// outcome.
func (t *Target) evaluate(i int, st *step, out stepOutcome) []CheckFailure {
	var failed []CheckFailure
	fail := func(check, format string, args ...any) {
		failed = append(failed, CheckFailure{Check: check, Detail: fmt.Sprintf(format, args...)})
	}
	within := t.within[i]
	b := t.backend
	if out.corsRefused != "" {
		// What the browser got (the refused preflight's answer, or the
		// answer the page may not read) still passes the checks of what
		// reaches it; not those of its content.
		fail(CheckCORS, "%s", out.corsRefused)
	}
	switch {
	case out.timedOut:
		if within > 0 {
			fail(CheckWithin, "no answer within %s", within)
		} else {
			fail(CheckWithin, "%s", out.failure)
		}
		return failed
	case out.errorPage != 0:
		fail(CheckErrorPage, "brand error page %d instead of the backend's answer", out.errorPage)
	case out.status >= 500:
		fail(CheckServerError, "status %d", out.status)
	}
	if within > 0 && out.elapsed > within {
		fail(CheckWithin, "answered in %s, want within %s", out.elapsed.Round(time.Millisecond), within)
	}
	if b.Backend != nil && b.Owner == config.Outsourced {
		for _, name := range []string{"Server", "X-Powered-By"} {
			if v := out.header.Get(name); v != "" {
				fail(CheckVendorHeader, "%s: %q", name, utf8cut.Prefix(v, 100))
			}
		}
	}
	if out.errorPage != 0 || out.status >= 500 {
		return failed // the page is not the backend's: nothing more to check on it
	}
	if out.corsRefused != "" {
		return failed // the page's script cannot read the answer: its content is nobody's
	}
	if len(st.cfg.ExpectStatus) > 0 || out.status >= 400 {
		if !st.cfg.ExpectsStatus(out.status) {
			want := "below 400"
			if len(st.cfg.ExpectStatus) > 0 {
				want = strings.Trim(fmt.Sprint(st.cfg.ExpectStatus), "[]")
			}
			fail(CheckStatus, "status %d, want %s", out.status, want)
		}
	}
	for _, re := range st.expectBody {
		if !re.Match(out.body) {
			fail(CheckBody, "the page does not match %q", re.String())
		}
	}
	for _, re := range st.forbid {
		if m := re.Find(out.body); m != nil {
			fail(CheckForbid, "the page shows %q (forbid %q)", utf8cut.Prefix(string(m), 100), re.String())
		}
	}
	for _, f := range st.cfg.ExpectCustomer {
		if !t.sees[f] || out.noContext || out.cookieless {
			continue // the backend is not told it
		}
		v := t.probe.customer[f]
		if !containsText(out.body, v) {
			fail(CheckCustomer, "the page does not show the customer's %s %q", f, v)
		}
	}
	if b.Banner != nil && st.cfg.Method != http.MethodHead && out.status >= 200 && out.status < 300 &&
		out.status != http.StatusNoContent && isHTML(out.header.Get("Content-Type")) {
		page, err := b.Banner(out.requestID)
		if err == nil && !strings.Contains(string(out.body), string(page)) {
			fail(CheckBanner, "the page has no brand banner")
		}
	}
	return failed
}

func isHTML(contentType string) bool {
	m, ok := mimetype.Parse(contentType)
	return ok && mimetype.IsHTML(m)
}

// containsText reports whether a page shows v, as written or HTML-escaped.
func containsText(page []byte, v string) bool {
	if v == "" {
		return true
	}
	s := string(page)
	if strings.Contains(s, v) {
		return true
	}
	return strings.Contains(s, htmlEscaper.Replace(v)) || strings.Contains(s, htmlEscaperNumeric.Replace(v))
}

var (
	htmlEscaper        = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")
	htmlEscaperNumeric = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")
)
