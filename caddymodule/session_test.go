package caddymodule

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	dto "github.com/prometheus/client_model/go"

	"github.com/frontdoor-dev/frontdoor/config"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/session"
)

func TestSessionCookie(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"only cookie", []string{"acme_session=abc123"}, "abc123"},
		{"among others", []string{"theme=dark; acme_session=abc123; lang=en"}, "abc123"},
		{"no spaces", []string{"theme=dark;acme_session=abc123"}, "abc123"},
		{"second header line", []string{"theme=dark", "acme_session=abc123"}, "abc123"},
		{"quoted value", []string{`acme_session="abc123"`}, "abc123"},
		{"value with =", []string{"acme_session=YWJj=="}, "YWJj=="},
		{"duplicates that differ name no session", []string{"acme_session=one; acme_session=two"}, ""},
		{"duplicates that agree", []string{"acme_session=one", "acme_session=one"}, "one"},
		{"an empty duplicate differs too", []string{"acme_session=; acme_session=two"}, ""},
		{"empty value", []string{"acme_session="}, ""},
		{"absent", []string{"theme=dark"}, ""},
		{"no header", nil, ""},
		// Names are exact: a prefix, a suffix or another case is another cookie.
		{"longer name", []string{"acme_session_old=x"}, ""},
		{"suffix name", []string{"old_acme_session=x"}, ""},
		{"other case", []string{"ACME_SESSION=x"}, ""},
		{"name without value", []string{"acme_session"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if c.lines != nil {
				r.Header["Cookie"] = c.lines
			}
			if got := sessionCookie(r, "acme_session"); got != c.want {
				t.Errorf("sessionCookie = %q, want %q", got, c.want)
			}
		})
	}
}

func TestWithoutCookies(t *testing.T) {
	drop := brandCookies{"acme_session", "acme_csrf"}
	cases := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"first", []string{"acme_session=s; theme=dark; lang=en"}, []string{"theme=dark; lang=en"}},
		{"middle", []string{"theme=dark; acme_session=s; lang=en"}, []string{"theme=dark; lang=en"}},
		{"last", []string{"theme=dark; acme_session=s"}, []string{"theme=dark"}},
		{"all dropped", []string{"acme_session=s; acme_csrf=c"}, nil},
		{"duplicates dropped", []string{"acme_session=s; x=1; acme_session=t"}, []string{"x=1"}},
		// Several Cookie lines (HTTP/2 crumbs) become one, as a user agent sends.
		{"lines joined and filtered", []string{"acme_session=s", "x=1; acme_csrf=c", "y=2"}, []string{"x=1; y=2"}},
		{"spacing normalized", []string{"  x=1 ;y=2;;  acme_session=s ; z=3  "}, []string{"x=1; y=2; z=3"}},
		{"similar names kept", []string{"acme_session2=a; xacme_session=b; acme-session=c"}, []string{"acme_session2=a; xacme_session=b; acme-session=c"}},
		// Names a vendor's parser reads as the brand's (cookieline.Canonical),
		// and a cookie after a ',' or a space in a value, are dropped.
		{"other spellings dropped", []string{"ACME_SESSION=c; acme.session=d; acme%5Fsession=e; acme_session[0]=f; y=2"}, []string{"y=2"}},
		{"carried in a value dropped", []string{"lang=en, acme_session=s; x=1", "theme=dark acme_csrf=c"}, []string{"x=1"}},
		{"value naming the cookie kept", []string{"next=acme_session=s"}, []string{"next=acme_session=s"}},
		{"nameless value kept", []string{"justavalue; acme_session=s"}, []string{"justavalue"}},
		{"empty lines", []string{"", ";"}, []string{"", ";"}}, // nothing to drop: sent as they came
		{"nothing", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			orig := append([]string(nil), c.lines...)
			got := cookiesFor(c.lines, testVendor, drop)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("backendCookies(%q) = %q, want %q", c.lines, got, c.want)
			}
			if !reflect.DeepEqual(c.lines, orig) {
				t.Errorf("input modified: %q, was %q", c.lines, orig)
			}
		})
	}
}

// testVendor is an outsourced backend for cookie tests.
var testVendor = testJar("support", "nightdesk")

// testJar is an outsourced backend's jar with the default budget, on the
// journey's paths /support* and /help*, counting into collectors of its own.
func testJar(journey, backend string) *cookieJar {
	return newCookieJar(&config.Journey{Name: journey, Paths: []string{"/" + journey + "*", "/help*"}},
		&config.Backend{Name: backend, Owner: config.Outsourced})
}

// cookiesFor is backendCookies without the jar's usage.
func cookiesFor(lines []string, jar *cookieJar, brand brandCookies) []string {
	out, _ := backendCookies(lines, jar, brand)
	return out
}

func TestHasAnyCookie(t *testing.T) {
	names := brandCookies{"acme_session"}
	cases := []struct {
		lines []string
		want  bool
	}{
		{[]string{"acme_session=s"}, true},
		{[]string{"theme=dark;  acme_session=s"}, true},
		{[]string{"theme=dark", "acme_session=s"}, true},
		{[]string{"acme_session"}, true}, // a bare name is still that cookie
		{[]string{"theme=dark"}, false},
		{[]string{"acme_session2=s; next=acme_session"}, false},
		{nil, false},
	}
	for _, c := range cases {
		if got := hasAnyCookie(c.lines, names); got != c.want {
			t.Errorf("hasAnyCookie(%q) = %v, want %v", c.lines, got, c.want)
		}
		// The cheap check must agree with the filter it guards.
		if dropped := !reflect.DeepEqual(cookiesFor(c.lines, testVendor, names), c.lines); dropped != c.want {
			t.Errorf("%q: hasAnyCookie %v but backendCookies drops something: %v", c.lines, c.want, dropped)
		}
	}
}

func TestContextHeader(t *testing.T) {
	cases := map[string]string{
		"customer_id": "X-Frontdoor-Context-Customer-Id",
		"first_name":  "X-Frontdoor-Context-First-Name",
		"tier":        "X-Frontdoor-Context-Tier",
		"TIER":        "X-Frontdoor-Context-Tier",
		"order-id":    "X-Frontdoor-Context-Order-Id",
		"a__b":        "X-Frontdoor-Context-A--B",
		"2fa":         "X-Frontdoor-Context-2fa",
	}
	for field, want := range cases {
		got := contextHeader(field)
		if got != want {
			t.Errorf("contextHeader(%q) = %q, want %q", field, got, want)
		}
		// Context headers are in frontdoor's namespace, so a client can
		// never send one that survives the scrub.
		if !isReservedHeader(got) {
			t.Errorf("%q is not a reserved header", got)
		}
	}
}

func TestNewContextFields(t *testing.T) {
	got := newContextFields([]string{"customer_id", "trail", "tier"})
	want := []contextField{
		{name: "customer_id", claim: "customer_id", header: "X-Frontdoor-Context-Customer-Id"},
		// The trail is kept in the session hash under frontdoor's own field.
		{name: fleet.SessionTrailField, claim: "trail", header: "X-Frontdoor-Context-Trail"},
		{name: "tier", claim: "tier", header: "X-Frontdoor-Context-Tier"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestJourneyFields(t *testing.T) {
	j := &config.Journey{Backends: []*config.Backend{
		{Name: "care", Context: []string{"customer_id", "first_name", "trail"}},
		{Name: "night", Context: []string{"tier", "customer_id"}},
		{Name: "none"},
	}}
	got := journeyFields(j, false).Names()
	want := []string{"customer_id", "first_name", fleet.SessionTrailField, "tier"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields = %q, want %q", got, want)
	}

	// With a session the customer id is always fetched: it keys the trail.
	j = &config.Journey{Backends: []*config.Backend{{Name: "night", Context: []string{"tier"}}}}
	got = journeyFields(j, true).Names()
	want = []string{"customer_id", "tier"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with a session: fields = %q, want %q", got, want)
	}
	if got := journeyFields(j, false).Names(); !reflect.DeepEqual(got, []string{"tier"}) {
		t.Errorf("without a session: fields = %q", got)
	}
}

// miniredisStore is a session store with opts on the in-process Redis mr,
// its client closed with the test.
func miniredisStore(t testing.TB, mr *miniredis.Miniredis, opts session.Options) *session.Store {
	t.Helper()
	client, err := session.NewClient("redis://" + mr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	store, err := session.NewStore(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// lookupTestContext stores a session in an in-process Redis and looks it
// up through the real store, the only way to get a *session.Context.
func lookupTestContext(t testing.TB, fields *session.FieldSet, hash ...string) *session.Context {
	t.Helper()
	mr := miniredis.RunT(t)
	mr.HSet("session:abcdefgh1234", hash...)
	store := miniredisStore(t, mr, session.Options{Timeout: time.Second})
	ctx, _, err := store.Lookup(context.Background(), fields, "abcdefgh1234")
	if err != nil || ctx == nil {
		t.Fatalf("lookup: %v, %v", ctx, err)
	}
	return ctx
}

func TestContextHeadersPerAttempt(t *testing.T) {
	fields := session.NewFieldSet([]string{"customer_id", "first_name", "tier"})
	found := customerContext{state: sessionFound,
		ctx: lookupTestContext(t, fields, "customer_id", "C-42", "first_name", "Ada", "secret", "never")}
	care := &backendRoute{name: "care", context: newContextFields([]string{"customer_id", "first_name", "tier"})}
	night := &backendRoute{name: "night", context: newContextFields([]string{"customer_id"})}

	var up upstreamHeaders
	sent := func(b *backendRoute, cc *customerContext) http.Header {
		up.reset()
		addContextHeaders(&up, b, cc)
		hdr := http.Header{}
		up.applyTo(hdr)
		return hdr
	}
	want := http.Header{
		"X-Frontdoor-Session":             {"found"},
		"X-Frontdoor-Context-Customer-Id": {"C-42"},
		"X-Frontdoor-Context-First-Name":  {"Ada"},
		// tier is allowed but the session has none: nothing is sent.
	}
	if hdr := sent(care, &found); !reflect.DeepEqual(hdr, want) {
		t.Errorf("care sees %v\nwant %v", hdr, want)
	}

	// Failing over to a backend that may see less: it sees only its fields.
	want = http.Header{
		"X-Frontdoor-Session":             {"found"},
		"X-Frontdoor-Context-Customer-Id": {"C-42"},
	}
	if hdr := sent(night, &found); !reflect.DeepEqual(hdr, want) {
		t.Errorf("night after care sees %v\nwant %v", hdr, want)
	}

	// No session, or Redis down: the state says which, and no field is sent.
	for _, state := range []string{sessionNone, sessionUnavailable} {
		want := http.Header{"X-Frontdoor-Session": {state}}
		if hdr := sent(care, &customerContext{state: state}); !reflect.DeepEqual(hdr, want) {
			t.Errorf("%s: %v, want %v", state, hdr, want)
		}
	}
}

func TestLookupContext(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.HSet("session:abcdefgh1234", "customer_id", "C-42")
	store := miniredisStore(t, mr, session.Options{Timeout: time.Second})
	core, logs := observer.New(zapcore.InfoLevel)
	logger := zap.New(core)
	h := &Handler{Session: &SessionConfig{Cookie: "acme_session"},
		sharedHandles:  sharedHandles{store: store, metrics: testMetrics()},
		compiledConfig: compiledConfig{logger: logger, lookupLog: lookupFailureLogger(logger)}}
	j := &journeyRoute{name: "support", fields: session.NewFieldSet([]string{"customer_id"})}

	lookup := func(cookie string) customerContext {
		r := httptest.NewRequest(http.MethodGet, "/support", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		return h.lookupContext(r, j)
	}
	if cc := lookup("acme_session=abcdefgh1234"); cc.state != sessionFound {
		t.Errorf("known session: state %q", cc.state)
	} else if v, _ := cc.ctx.Get("customer_id"); v != "C-42" {
		t.Errorf("known session: customer_id %q", v)
	}
	if cc := lookup("acme_session=unknown12345"); cc.state != sessionNone {
		t.Errorf("unknown session: state %q", cc.state)
	}
	if cc := lookup(""); cc.state != sessionNone {
		t.Errorf("no cookie: state %q", cc.state)
	}
	mr.Close()
	for range 20 {
		if cc := lookup("acme_session=otherid12345"); cc.state != sessionUnavailable {
			t.Errorf("redis down: state %q, want unavailable", cc.state)
		}
	}
	// The operator hears of it at info level, once per kind of failure
	// per interval, not once per request.
	byMessage := map[string]int{}
	for _, e := range logs.All() {
		byMessage[e.Message]++
	}
	if len(byMessage) == 0 {
		t.Error("20 failed lookups and no info-level line")
	}
	for msg, n := range byMessage {
		if n > 1 {
			t.Errorf("%q logged %d times within the interval", msg, n)
		}
	}

	// Without a session block there is no store and never a context.
	if cc := (&Handler{}).lookupContext(httptest.NewRequest(http.MethodGet, "/", nil), j); cc.state != sessionNone {
		t.Errorf("no store: state %q", cc.state)
	}
}

// The context-lookup histogram answers "how long does the session store
// take" (the dashboard compares it with the session timeout): it times the
// lookups that asked Redis, or waited on one that did, and not those
// answered from the local cache or made without a cookie, which would fill
// it with nanoseconds and hide the store's latency behind the hit rate.
func TestContextLookupDurationTimesTheStore(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.HSet("session:abcdefgh1234", "customer_id", "C-42")
	store := miniredisStore(t, mr, session.Options{Timeout: time.Second, CacheTTL: time.Minute})
	m := buildMetrics() // its own collectors: other tests' lookups do not count here
	h := &Handler{Session: &SessionConfig{Cookie: "acme_session"},
		sharedHandles:  sharedHandles{store: store, metrics: m},
		compiledConfig: compiledConfig{logger: zap.NewNop(), lookupLog: zap.NewNop()}}
	j := &journeyRoute{name: "support", fields: session.NewFieldSet([]string{"customer_id"})}
	lookup := func(cookie string) {
		r := httptest.NewRequest(http.MethodGet, "/support", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		h.lookupContext(r, j)
	}

	lookup("acme_session=abcdefgh1234") // hit: Redis asked
	lookup("acme_session=abcdefgh1234") // cached
	lookup("acme_session=unknown12345") // miss: Redis asked
	lookup("acme_session=unknown12345") // cached (not found, remembered)
	lookup("")                          // no cookie

	for result, want := range map[string]float64{"hit": 1, "miss": 1, "cached": 2, "no_cookie": 1} {
		if got := value(t, m.contextLookups.WithLabelValues(result)); got != want {
			t.Errorf("lookups with result %s: %v, want %v", result, got, want)
		}
	}
	var timed dto.Metric
	if err := m.contextDuration.Write(&timed); err != nil {
		t.Fatal(err)
	}
	if got := timed.GetHistogram().GetSampleCount(); got != 2 {
		t.Errorf("lookup duration observed %d times, want 2 (the two that asked Redis)", got)
	}
}
