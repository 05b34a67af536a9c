package caddymodule

import (
	"net/http"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/session"
	"github.com/frontdoor-dev/frontdoor/internal/utf8cut"
)

// The customer's trail: what a backend notes for the next one to see.

// trailRecorder writes what backends note to the customer's trail.
type trailRecorder struct {
	trail      *fleet.Trail // nil without Redis: entries are counted as having no customer
	sessionKey string       // key template of the session hash
	metrics    *metrics
}

// maxNoteLen bounds what one trail entry keeps of a note or case id.
const maxNoteLen = 1024

// recordTrail queues the backend's note and case for the customer's trail
// (never blocking: a full queue drops the entry and counts it). The
// headers themselves are removed with the other X-Frontdoor-* headers
// before the customer sees the response. A policy without a recorder (the
// secret shopper's: its customer is nobody's) records nothing.
func (p *responsePolicy) recordTrail(x *exchangeScope, cc *customerContext, hdr http.Header, status int) {
	var note, caseID string // canonical keys: read without Get, which canonicalizes them
	if lines := hdr[headerNote]; len(lines) > 0 {
		note = lines[0]
	}
	if lines := hdr[headerCase]; len(lines) > 0 {
		caseID = lines[0]
	}
	t := p.trail
	if note == "" && caseID == "" || t == nil {
		return
	}
	customerID, _ := cc.ctx.Get(customerIDField)
	if t.trail == nil || customerID == "" {
		t.metrics.trailWrite("no_customer")
		return
	}
	entry := fleet.Entry{Time: time.Now(), Journey: p.journey, Backend: p.backend, Owner: string(p.owner),
		Status: status, RequestID: x.requestID, Note: utf8cut.Prefix(note, maxNoteLen), Case: utf8cut.Prefix(caseID, maxNoteLen)}
	if t.trail.Record(customerID, session.ExpandKey(t.sessionKey, cc.sessionID), entry) {
		t.metrics.trailWrite("queued")
	} else {
		t.metrics.trailWrite("dropped")
	}
}

func (m *metrics) trailWrite(result string) { m.trailWrites.WithLabelValues(result).Inc() }
