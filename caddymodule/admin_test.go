package caddymodule

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/redistest"
)

func TestCertificateName(t *testing.T) {
	r := httptest.NewRequest("PUT", "/frontdoor/overrides/support", nil)
	r.RemoteAddr = "10.0.0.5:5555"
	if _, ok := certificateName(r); ok {
		t.Error("a request without TLS has a certificate name")
	}
	alice := &x509.Certificate{Subject: pkix.Name{CommonName: "ops-\x1balice\u202e"}}
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{alice}}
	if _, ok := certificateName(r); ok {
		t.Error("an unverified certificate names who made the change")
	}
	r.TLS.VerifiedChains = [][]*x509.Certificate{{alice}}
	if name, ok := certificateName(r); !ok || name != "ops-alice (client certificate, 10.0.0.5:5555)" {
		t.Errorf("certificate name %q %v", name, ok)
	}
	anonymous := &x509.Certificate{Subject: pkix.Name{Organization: []string{"Acme"}, OrganizationalUnit: []string{"Ops"}}}
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{anonymous}, VerifiedChains: [][]*x509.Certificate{{anonymous}}}
	if name, _ := certificateName(r); name != "OU=Ops,O=Acme (client certificate, 10.0.0.5:5555)" {
		t.Errorf("certificate without a common name: %q", name)
	}
}

// overrideHandler is a handler routing the named journeys, each with the
// given backends, with an override board of its own (no Redis).
func overrideHandler(t *testing.T, journeys map[string][]string) *Handler {
	t.Helper()
	h := new(Handler)
	h.board = fleet.NewBoard(nil, zap.NewNop())
	t.Cleanup(h.board.Close)
	for name, backends := range journeys {
		j := &journeyRoute{name: name}
		for _, b := range backends {
			j.backends = append(j.backends, &backendRoute{name: b})
		}
		h.routes = append(h.routes, j)
	}
	return h
}

// An override GET /frontdoor/overrides lists can be cleared, even once a
// reload removed its journey: otherwise it stays listed and applies again
// when the journey comes back.
func TestListedOverrideCanBeClearedWithoutItsJourney(t *testing.T) {
	h := overrideHandler(t, map[string][]string{"tracking": {"shipco"}})
	now := time.Now()
	if _, err := h.board.Set(context.Background(), fleet.Override{Journey: "support", Backend: "care-team", SetAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := changeOverride(w, httptest.NewRequest("DELETE", "/frontdoor/overrides/support", nil), []*Handler{h}); err != nil {
		t.Fatalf("DELETE of a listed override whose journey is gone: %v", err)
	}
	if w.Code != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", w.Code, w.Body)
	}
	if o, ok := h.board.Get("support", time.Now()); ok {
		t.Errorf("the override is still on the board: %+v", o)
	}
	// A journey neither routed nor overridden is still unknown.
	err := changeOverride(httptest.NewRecorder(), httptest.NewRequest("DELETE", "/frontdoor/overrides/nowhere", nil), []*Handler{h})
	var apiErr caddy.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != http.StatusNotFound {
		t.Errorf("DELETE of an unknown journey: %v, want 404", err)
	}
}

// Without a session Redis an override holds on the instance it was set
// on, and the answer says so.
func TestOverrideWithoutRedisIsNotFleetWide(t *testing.T) {
	h := overrideHandler(t, map[string][]string{"support": {"nightdesk", "care-team"}})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("PUT", "/frontdoor/overrides/support", strings.NewReader(`{"backend":"care-team","ttl":"1h","reason":"drill"}`))
	if err := changeOverride(w, r, []*Handler{h}); err != nil {
		t.Fatal(err)
	}
	var answer overrideAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	if w.Code != http.StatusOK || answer.FleetWide || !strings.Contains(answer.Note, "this instance only") {
		t.Errorf("override without Redis: %d %s, want 200, fleet_wide false and a note", w.Code, w.Body)
	}
	if _, ok := h.board.Get("support", time.Now()); !ok {
		t.Error("the override is not in force on this instance")
	}
}

// Two sites of one gateway, each with its own Redis: the trail of a
// customer and the list of orphans come from both, newest first, not
// from whichever site the gateway happens to list first.
func TestTrailAndOrphansReadEverySitesRedis(t *testing.T) {
	ctx := context.Background()
	var handlers []*Handler
	for i, note := range []string{"note from care-team", "note from nightdesk"} {
		rs := redistest.Start(t)
		client := rs.Client(t)
		trail := fleet.NewTrail(client, fleet.TrailOptions{}, zap.NewNop())
		at := time.Now().Add(time.Duration(i) * time.Second)
		trail.Record("C-A", "", fleet.Entry{Time: at, Journey: "support", Backend: "desk", Note: note})
		trail.Close()
		orphans := fleet.NewOrphans(client, nil, fleet.OrphanOptions{}, zap.NewNop())
		orphans.Record(fleet.Orphan{Time: at, Journey: "support", Backend: "desk", Cause: "hung_up", CustomerID: fmt.Sprint("C-", i)}, time.Hour, "", nil, fleet.OrphanReport{})
		orphans.Close()
		handlers = append(handlers, &Handler{sharedHandles: sharedHandles{redis: client}})
	}
	entries, err := readTrail(ctx, handlers, "C-A")
	if err != nil || len(entries) != 2 || entries[0].Note != "note from nightdesk" || entries[1].Note != "note from care-team" {
		t.Errorf("trail of C-A: %+v %v, want both sites' notes, newest first", entries, err)
	}
	orphans, err := readOrphans(ctx, handlers, 10)
	if err != nil || len(orphans) != 2 || orphans[0].CustomerID != "C-1" || orphans[1].CustomerID != "C-0" {
		t.Errorf("orphans: %+v %v, want both sites', newest first", orphans, err)
	}
	if orphans, _ := readOrphans(ctx, handlers, 1); len(orphans) != 1 || orphans[0].CustomerID != "C-1" {
		t.Errorf("orphans, limit 1: %+v, want the newest", orphans)
	}
}
