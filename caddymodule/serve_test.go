package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// timeoutErr is a net.Error that timed out, like a dial or read deadline.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		name       string
		err        error
		wantStatus int
		wantKind   string
	}{
		// What reverse_proxy returns, wrapped as its statusError does.
		{"refused dial", caddyhttp.Error(http.StatusBadGateway, reverseproxy.NewDialError(refused)), 502, errDial},
		{"dial timeout", caddyhttp.Error(http.StatusGatewayTimeout, reverseproxy.NewDialError(timeoutErr{})), 504, errDial},
		{"response timeout", caddyhttp.Error(http.StatusGatewayTimeout, timeoutErr{}), 504, errTimeout},
		{"deadline exceeded", caddyhttp.Error(http.StatusGatewayTimeout, context.DeadlineExceeded), 504, errTimeout},
		{"no upstream available", caddyhttp.Error(http.StatusServiceUnavailable, errors.New("no upstreams available")), 503, errDial},
		{"connection reset", caddyhttp.Error(http.StatusBadGateway, errors.New("connection reset by peer")), 502, errDial},
		// The client went away: not the backend's fault, no failover.
		{"client gone", caddyhttp.Error(499, context.Canceled), 499, ""},
		{"client gone during dial", caddyhttp.Error(499, reverseproxy.NewDialError(context.Canceled)), 499, ""},
		// The client failed to send its request body (requestBody): its
		// fault, whatever the read's error looks like.
		{"malformed client body", &requestBodyError{errors.New("invalid byte in chunk length")}, 400, ""},
		{"client body hung up", &requestBodyError{io.ErrUnexpectedEOF}, 499, ""},
		{"client body too large", &requestBodyError{&http.MaxBytesError{Limit: 10}}, 413, ""},
		{"client body stalled", &requestBodyError{timeoutErr{}}, 408, ""},
		{"client body, client gone", caddyhttp.Error(499, &requestBodyError{errors.New("client disconnected")}), 499, ""},
		// Frontdoor's own or another handler's failures.
		{"internal error", caddyhttp.Error(http.StatusInternalServerError, errors.New("boom")), 500, ""},
		{"bad request", caddyhttp.Error(http.StatusBadRequest, errors.New("bad")), 400, ""},
		// Unwrapped errors default to a bad gateway.
		{"bare dial error", reverseproxy.NewDialError(refused), 502, errDial},
		{"bare timeout", fmt.Errorf("reading: %w", timeoutErr{}), 502, errTimeout},
		{"status zero", caddyhttp.HandlerError{Err: reverseproxy.NewDialError(refused)}, 502, errDial},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, kind := classify(c.err)
			if status != c.wantStatus || kind != c.wantKind {
				t.Errorf("classify = %d %q, want %d %q", status, kind, c.wantStatus, c.wantKind)
			}
		})
	}
}

func TestAcceptsGzip(t *testing.T) {
	cases := []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"br, gzip, deflate"}, true},
		{[]string{"br", "gzip"}, true}, // several header lines
		{[]string{"gzip;q=0.5"}, true},
		{[]string{"gzip; q=1"}, true},
		{[]string{"*"}, true},
		{[]string{"br;q=1, *;q=0.1"}, true},
		{[]string{"br, deflate"}, false},
		{[]string{"identity"}, false},
		{[]string{"x-gzip"}, false},
		{[]string{"gzipped"}, false},
		// Refused explicitly, in every spelling of zero.
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0"}, false},
		{[]string{"gzip ;q = 0.0"}, false},
		{[]string{"gzip;q=0.00"}, false},
		{[]string{"gzip;q=0.000"}, false},
		{[]string{"br, gzip;q=0"}, false},
		{[]string{"*;q=0"}, false},
		// An explicit gzip entry decides, even with a wildcard after it.
		{[]string{"gzip;q=0, *"}, false},
		// A malformed q makes its element meaningless, as the error page's
		// Accept reading has it (one parser, internal/accept): the wildcard
		// after it decides.
		{[]string{"gzip;q=bogus, *"}, true},
		{[]string{"gzip;q=2, br"}, false},
	}
	for _, c := range cases {
		if got := acceptsGzip(c.values); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.values, got, c.want)
		}
	}
}

func TestSetUpstreamEncoding(t *testing.T) {
	cases := []struct {
		name   string
		banner bool
		client []string
		had    bool
		want   []string // nil: no Accept-Encoding
	}{
		// Backends without the banner get what the customer sent.
		{"no banner, as sent", false, []string{"br, zstd"}, true, []string{"br, zstd"}},
		{"no banner, several lines", false, []string{"br", "gzip"}, true, []string{"br", "gzip"}},
		{"no banner, none sent", false, nil, false, nil},
		// The banner injector reads identity or gzip, nothing else.
		{"banner, gzip accepted", true, []string{"br, gzip"}, true, []string{"gzip"}},
		{"banner, wildcard", true, []string{"*"}, true, []string{"gzip"}},
		{"banner, br only", true, []string{"br"}, true, []string{"identity"}},
		{"banner, gzip refused", true, []string{"gzip;q=0, br"}, true, []string{"identity"}},
		{"banner, none sent", true, nil, false, []string{"identity"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The header holds what an earlier attempt left there.
			h := http.Header{"Accept-Encoding": {"stale"}}
			setUpstreamEncoding(h, new(valueSlab), c.banner, c.client, c.had)
			if got := h["Accept-Encoding"]; !reflect.DeepEqual(got, c.want) {
				t.Errorf("Accept-Encoding = %q, want %q", got, c.want)
			}
		})
	}
}

func TestBackendCookies(t *testing.T) {
	brand := brandCookies{"acme_session", "acme_csrf"}
	var inHouse *cookieJar
	vendor := testJar("support", "nightdesk")
	carrier := testJar("support", "shipco")
	cases := []struct {
		name   string
		jar    *cookieJar
		client []string
		want   []string
	}{
		{"in-house sees the session", inHouse, []string{"acme_session=s3cr3t; theme=dark"}, []string{"acme_session=s3cr3t; theme=dark"}},
		{"vendor never sees it", vendor, []string{"acme_session=s3cr3t; theme=dark"}, []string{"theme=dark"}},
		{"strip_cookies too", vendor, []string{"acme_csrf=x; acme_session=s3cr3t", "lang=en"}, []string{"lang=en"}},
		{"vendor, nothing left", vendor, []string{"acme_session=s3cr3t"}, nil},
		{"vendor, nothing to strip", vendor, []string{"theme=dark"}, []string{"theme=dark"}},
		{"no cookies at all", vendor, nil, nil},
		{"own jar under the names set", vendor, []string{"fd-jar~support~nightdesk~sid=1; __Secure-fd-jar~support~nightdesk~__Host-pref=2; theme=dark"},
			[]string{"sid=1; __Host-pref=2; theme=dark"}},
		{"another vendor's jar withheld", carrier, []string{"fd-jar~support~nightdesk~sid=1; fd-jar~support~shipco~parcel=9"}, []string{"parcel=9"}},
		{"no jar reaches the brand", inHouse, []string{"fd-jar~support~nightdesk~sid=1; acme_session=s; __Secure-fd-jar~support~shipco~x=2"}, []string{"acme_session=s"}},
		{"the jar wins over a customer cookie of its name", vendor, []string{"sid=customer; fd-jar~support~nightdesk~sid=vendor"}, []string{"sid=vendor"}},
		{"a malformed jar name is nobody's", inHouse, []string{"fd-jar~=1; __Host-fd-jar~support~nightdesk~=2; fd-jar~x=3; a=4"}, []string{"a=4"}},
		{"an earlier jar is nobody's", vendor, []string{"fd-jar.nightdesk.sid=1; a=4"}, []string{"a=4"}},
		{"a jar named like the brand cookie stays the vendor's", vendor, []string{"fd-jar~support~nightdesk~acme_session=v; acme_session=s"}, []string{"acme_session=v"}},
		{"a dotted backend is its own jar", testJar("support", "rawv"), []string{"fd-jar~support~rawv.x~sid=1; fd-jar~support~rawv~a=2"}, []string{"a=2"}},
		{"the same backend name in another journey is another jar", testJar("tracking", "nightdesk"), []string{"fd-jar~support~nightdesk~sid=1"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			orig := slices.Clone(c.client)
			if got := cookiesFor(c.client, c.jar, brand); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Cookie = %q, want %q", got, c.want)
			}
			if !reflect.DeepEqual(c.client, orig) {
				t.Errorf("the customer's cookie lines were modified: %q, were %q", c.client, orig)
			}
		})
	}
}

func TestJarStoresCookies(t *testing.T) {
	h := http.Header{"Set-Cookie": {
		"acme_session=VENDORCHOSEN; Path=/checkout",
		"sid=1; Domain=nightdesk.example; Path=/; HttpOnly",
		"__Host-pref=2; Path=/; Secure",
		"__SECURE-x=3; Secure; SameSite=Lax",
		"=acme_session=NAMELESS",
		"acme_session",
		"bad name=1",
		"__Host-=only a prefix",
		"long=1; Max-Age=31536000",
		"gone=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
	}}
	testVendor.store(h, 0, jarUsage{}, nil)
	want := []string{
		"fd-jar~support~nightdesk~acme_session=VENDORCHOSEN; Path=/support",
		"fd-jar~support~nightdesk~acme_session=VENDORCHOSEN; Path=/help",
		"fd-jar~support~nightdesk~sid=1; Path=/support; HttpOnly",
		"fd-jar~support~nightdesk~sid=1; Path=/help; HttpOnly",
		"__Secure-fd-jar~support~nightdesk~__Host-pref=2; Path=/support; Secure",
		"__Secure-fd-jar~support~nightdesk~__Host-pref=2; Path=/help; Secure",
		"__Secure-fd-jar~support~nightdesk~__SECURE-x=3; Path=/support; Secure; SameSite=Lax",
		"__Secure-fd-jar~support~nightdesk~__SECURE-x=3; Path=/help; Secure; SameSite=Lax",
		"fd-jar~support~nightdesk~long=1; Path=/support; Max-Age=86400",
		"fd-jar~support~nightdesk~long=1; Path=/help; Max-Age=86400",
		"fd-jar~support~nightdesk~gone=; Path=/support; Max-Age=0",
		"fd-jar~support~nightdesk~gone=; Path=/help; Max-Age=0",
	}
	if got := h["Set-Cookie"]; !reflect.DeepEqual(got, want) {
		t.Errorf("Set-Cookie =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	h = http.Header{"Set-Cookie": {"=x"}}
	if testVendor.store(h, 0, jarUsage{}, nil); h["Set-Cookie"] != nil {
		t.Errorf("nameless cookie kept: %q", h["Set-Cookie"])
	}
}
