package shopper

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/config"
)

const testBanner = `<aside class="brand">Acme, reference REF0000000001</aside>`

func bannerFor(ref string) ([]byte, error) {
	return []byte(strings.Replace(testBanner, "REF0000000001", ref, 1)), nil
}

func TestChecks(t *testing.T) {
	st := &step{cfg: &config.Step{Method: "GET", Path: "/support"}}
	pr := &probe{customer: map[string]string{"first_name": "Zoë & Co"}}
	vendor := &Target{probe: pr, backend: Backend{Backend: &config.Backend{Owner: config.Outsourced}, Banner: bannerFor},
		within: []time.Duration{0}, sees: map[string]bool{"first_name": true}}
	inHouse := &Target{probe: pr, backend: Backend{Backend: &config.Backend{Owner: config.InHouse}}, within: []time.Duration{0}, sees: map[string]bool{}}
	html := http.Header{"Content-Type": {"text/html"}}
	page := func(body string) []byte { return []byte("<html><body>" + body + testBanner + "</body></html>") }

	cases := []struct {
		name   string
		target *Target
		step   *config.Step
		out    stepOutcome
		want   []string
	}{
		{"good page", vendor, nil, stepOutcome{status: 200, header: html, body: page("Hi Zoë &amp; Co")}, nil},
		{"no banner", vendor, nil, stepOutcome{status: 200, header: html, body: []byte("<html><body>Hi Zoë &amp; Co</body></html>")}, []string{CheckBanner}},
		{"banner not needed in-house", inHouse, nil, stepOutcome{status: 200, header: html, body: []byte("<p>x</p>")}, nil},
		{"banner not checked on JSON", vendor, nil, stepOutcome{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(`{"name":"Zoë &amp; Co"}`)}, nil},
		{"vendor headers", vendor, nil, stepOutcome{status: 200, header: http.Header{"Content-Type": {"text/html"}, "Server": {"nginx"}, "X-Powered-By": {"PHP"}}, body: page("Zoë & Co")}, []string{CheckVendorHeader, CheckVendorHeader}},
		{"in-house server header is the brand's", inHouse, nil, stepOutcome{status: 200, header: http.Header{"Server": {"nginx"}}}, nil},
		{"5xx", inHouse, nil, stepOutcome{status: 503}, []string{CheckServerError}},
		{"brand error page", vendor, nil, stepOutcome{status: 502, errorPage: 502, header: html, body: []byte("Something went wrong")}, []string{CheckErrorPage}},
		{"4xx fails by default", inHouse, nil, stepOutcome{status: 404}, []string{CheckStatus}},
		{"3xx passes by default", inHouse, nil, stepOutcome{status: 302}, nil},
		{"expected status", inHouse, &config.Step{ExpectStatus: []int{302}}, stepOutcome{status: 200}, []string{CheckStatus}},
		{"timed out", vendor, nil, stepOutcome{timedOut: true, failure: "no complete answer"}, []string{CheckWithin}},
		{"customer not shown", vendor, &config.Step{ExpectCustomer: []string{"first_name"}}, stepOutcome{status: 200, header: html, body: page("Hi")}, []string{CheckCustomer}},
		{"customer shown escaped", vendor, &config.Step{ExpectCustomer: []string{"first_name"}}, stepOutcome{status: 200, header: html, body: page("Hi Zoë &amp; Co")}, nil},
		{"customer not told", inHouse, &config.Step{ExpectCustomer: []string{"first_name"}}, stepOutcome{status: 200, body: []byte("Hi")}, nil},
		{"customer unknown to the session store", vendor, &config.Step{ExpectCustomer: []string{"first_name"}}, stepOutcome{status: 200, header: html, body: page("Hi"), noContext: true}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := st
			if c.step != nil {
				c.step.Method, c.step.Path = "GET", "/support"
				s = &step{cfg: c.step}
			}
			if c.out.header == nil {
				c.out.header = http.Header{}
			}
			c.out.requestID = "REF0000000001"
			var got []string
			for _, f := range c.target.evaluate(0, s, c.out) {
				got = append(got, f.Check)
				if strings.ContainsAny(f.Detail, "\r\n") {
					t.Errorf("detail with a line break: %q", f.Detail)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("failed %v, want %v", got, c.want)
			}
		})
	}

	within := &Target{probe: pr, backend: inHouse.backend, within: []time.Duration{100 * time.Millisecond}}
	slowOut := stepOutcome{status: 200, header: http.Header{}, elapsed: 150 * time.Millisecond}
	if f := within.evaluate(0, st, slowOut); len(f) != 1 || f[0].Check != CheckWithin || f[0].Detail != "answered in 150ms, want within 100ms" {
		t.Errorf("within: %+v", f)
	}
	re := &step{cfg: &config.Step{Method: "GET", Path: "/"}, expectBody: []*regexp.Regexp{regexp.MustCompile("help")},
		forbid: []*regexp.Regexp{regexp.MustCompile("(?i)nightdesk")}}
	f := inHouse.evaluate(0, re, stepOutcome{status: 200, header: http.Header{}, body: []byte("NightDesk\r\n")})
	if len(f) != 2 || f[0].Check != CheckBody || f[1].Check != CheckForbid || f[1].Detail != `the page shows "NightDesk" (forbid "(?i)nightdesk")` {
		t.Errorf("body and forbid: %+v", f)
	}
}

func TestRecorderKeepsHeadAndTail(t *testing.T) {
	w := newRecorder()
	w.WriteHeader(http.StatusEarlyHints)
	chunk := strings.Repeat("x", 64<<10)
	for range 40 {
		w.Write([]byte(chunk))
	}
	w.Write([]byte("<footer>end</footer>"))
	status, _ := w.result()
	body := w.decodedBody(nil)
	if status != 200 {
		t.Errorf("status %d: a 103 is not the answer", status)
	}
	if len(body) > bodyHead+bodyTail+3 || !strings.HasSuffix(string(body), "<footer>end</footer>") {
		t.Errorf("kept %d bytes, ending %q", len(body), body[len(body)-30:])
	}
}

// TestStepFormBodyIsEncoded: a step's form body is written as it reads
// ("message=Where is my order?") and sent form-encoded, as a browser
// submits the form; a JSON body is sent as written.
func TestStepFormBodyIsEncoded(t *testing.T) {
	for _, c := range []struct{ written, sent, contentType string }{
		{"message=Where is my order?&order=A&B", "message=Where+is+my+order%3F&order=A&B", "application/x-www-form-urlencoded"},
		{"name=Zoë & Co", "name=Zo%C3%AB+&+Co", "application/x-www-form-urlencoded"},
		{"q=50%", "q=50%25", "application/x-www-form-urlencoded"},
		{`{"message":"a b"}`, `{"message":"a b"}`, "application/json"},
	} {
		sent, contentType := stepBody(c.written)
		if sent != c.sent || contentType != c.contentType {
			t.Errorf("stepBody(%q) = %q, %s; want %q, %s", c.written, sent, contentType, c.sent, c.contentType)
		}
	}
}
