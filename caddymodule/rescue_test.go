package caddymodule

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

// TestRescueWhenNoBackendIsOpen: a rescued customer goes to the rescue
// backend whatever hours and order say. With every backend outside its
// hours, the brand's "no backend is open" 503 came before rescue was
// considered.
func TestRescueWhenNoBackendIsOpen(t *testing.T) {
	srv := redistest.Start(t)
	vendor := newBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "nightdesk") })
	care := newBackend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "care-team") })
	h := provisionHandler(t, `
		brand "Acme Outdoor"
		session {
			redis `+srv.URL()+`
			cookie acme_session
			cache 0s
		}
		journey support /support* {
			rescue care-team 24h
			backend nightdesk {
				owner outsourced
				vendor "NightDesk BPO"
				to `+vendor.addr()+`
				hours "Mon-Fri 12:00-20:00" UTC
			}
			backend care-team {
				owner in-house
				to `+care.addr()+`
				hours "Mon-Fri 12:00-20:00" UTC
			}
		}`, monday10) // Monday 10:00 UTC: both closed
	marker := strconv.FormatInt(monday10.Add(23*time.Hour).UnixMilli(), 10) + ` cause=error_page, backend="nightdesk", ref="7YVFYS4KPAYJN", at=` +
		strconv.FormatInt(monday10.Add(-time.Hour).Unix(), 10)
	if err := srv.Client(t).HSet(context.Background(), "session:SESSION-0001", "customer_id", "C-1001",
		"frontdoor_rescue:support", marker).Err(); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "http://shop.example.com/support/help", nil)
	r.Header.Set("Cookie", "acme_session=SESSION-0001")
	if w := serve(t, h, r, nil); w.Code != http.StatusOK || w.Body.String() != "care-team" {
		t.Fatalf("rescued customer with no backend open got %d %.120q, want the rescue backend", w.Code, w.Body)
	}
	if got := care.requests(); len(got) != 1 || !strings.Contains(got[0].Header.Get(headerRescue), "cause=error_page") {
		t.Errorf("care-team got %d requests, want one with %s", len(got), headerRescue)
	}
	// Anyone else still gets the brand's 503.
	if w := serve(t, h, httptest.NewRequest(http.MethodGet, "http://shop.example.com/support/help", nil), nil); w.Code != http.StatusServiceUnavailable {
		t.Errorf("a customer not rescued got %d, want the brand 503", w.Code)
	}
}
