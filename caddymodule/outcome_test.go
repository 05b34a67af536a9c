package caddymodule

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// histogramCount reads how many observations a histogram series holds.
func histogramCount(t *testing.T, o prometheus.Observer) uint64 {
	t.Helper()
	var m dto.Metric
	if err := o.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// TestStatusBeyond599IsTheBackendsFailure: a vendor answering 600 was
// swallowed as a failure and the customer got the brand 500 page, but
// frontdoor_requests_total and frontdoor_error_pages_total counted it as
// code 600, which the availability SLI (code=~"5..") takes for a success,
// and the vendor chose the label's value. HTTP defines no status beyond
// 599: such an answer counts, and goes out, as a 502.
func TestStatusBeyond599IsTheBackendsFailure(t *testing.T) {
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(600)
		io.WriteString(w, "<html><body>NightDesk is down</body></html>")
	})
	h := provisionHandler(t, nightdeskSite(vendor.addr()), monday10)
	stats := h.routes[0].backends[0].stats
	before := value(t, stats.counterFor(http.StatusBadGateway))
	w := serve(t, h, httptest.NewRequest(http.MethodGet, "/support/ticket", nil), nil)
	if w.Code != http.StatusBadGateway {
		t.Errorf("the customer got %d, want the brand 502", w.Code)
	}
	if got := value(t, stats.counterFor(http.StatusBadGateway)) - before; got != 1 {
		t.Errorf("frontdoor_requests_total{code=502} +%v, want +1", got)
	}
}

// failingWriter is a customer who left: every write fails.
type failingWriter struct{ hdr http.Header }

func (f *failingWriter) Header() http.Header       { return f.hdr }
func (f *failingWriter) WriteHeader(int)           {}
func (f *failingWriter) Write([]byte) (int, error) { return 0, errors.New("write: broken pipe") }

// TestCustomerGoneWhileTheAnswerIsReleasedIsCounted: a backend answered
// whole, but the customer had left when the held answer went out; the
// request was counted nowhere, neither as served nor as 499.
func TestCustomerGoneWhileTheAnswerIsReleasedIsCounted(t *testing.T) {
	care := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	h := provisionHandler(t, `
		brand "Acme Outdoor"
		journey support /support* {
			backend care-team {
				owner in-house
				to `+care.addr()+`
			}
		}`, monday10)
	stats := h.routes[0].backends[0].stats
	before, observed := value(t, stats.counterFor(499)), histogramCount(t, stats.duration)
	w := &failingWriter{hdr: http.Header{}}
	r := caddyhttp.PrepareRequest(httptest.NewRequest(http.MethodGet, "/support/status", nil), caddy.NewReplacer(), w, &caddyhttp.Server{})
	h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })) //nolint:errcheck
	if got := value(t, stats.counterFor(499)) - before; got != 1 {
		t.Errorf("frontdoor_requests_total{code=499} +%v, want +1", got)
	}
	if got := histogramCount(t, stats.duration) - observed; got != 1 {
		t.Errorf("frontdoor_request_duration_seconds +%d observations, want 1", got)
	}
}

// TestChatIsNoSlowRequest: an event stream (a chat) went into
// frontdoor_request_duration_seconds as one request of its whole lifetime,
// so every chat longer than the latency threshold counted against the
// vendor's latency SLO. It is counted in frontdoor_requests_total and
// timed in frontdoor_stream_duration_seconds only.
func TestChatIsNoSlowRequest(t *testing.T) {
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: hello\n\n")
	})
	h := provisionHandler(t, nightdeskSite(vendor.addr()), monday10)
	stats := h.routes[0].backends[0].stats
	before, observed := value(t, stats.counterFor(http.StatusOK)), histogramCount(t, stats.duration)
	if w := serve(t, h, httptest.NewRequest(http.MethodGet, "/support/chat/events", nil), nil); w.Code != http.StatusOK {
		t.Fatalf("event stream: %d", w.Code)
	}
	if got := value(t, stats.counterFor(http.StatusOK)) - before; got != 1 {
		t.Errorf("frontdoor_requests_total{code=200} +%v, want +1", got)
	}
	if got := histogramCount(t, stats.duration) - observed; got != 0 {
		t.Errorf("the chat added %d observations to frontdoor_request_duration_seconds, want none", got)
	}
}
