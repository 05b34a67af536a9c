package caddymodule

import (
	"net/http"

	"github.com/frontdoor-dev/frontdoor/internal/fleet"
)

// First-contact resolution. A journey names the requests that are a
// customer contacting the brand (contact POST /support/tickets*). A known
// customer's contact counts for the backend that took it; if their
// previous contact on the journey was within the repeat window, the
// backend that handled that one gets a repeat: the first contact did not
// resolve the matter. The last contact lives in Redis, so a repeat is seen
// whichever instance and backend the customer reaches next; it is written
// off the request path, like the trail.

// countContact counts a request the backend answered if it is a known
// customer's contact.
func (h *Handler) countContact(r *http.Request, j *journeyRoute, b *backendRoute, cc *customerContext) {
	if !j.isContact(r) || !b.stats.counted {
		return // the shopper's customer is nobody's
	}
	customerID, _ := cc.ctx.Get(customerIDField)
	if customerID == "" {
		return // an anonymous visitor's contact cannot be followed up
	}
	h.metrics.contacts.WithLabelValues(b.stats.labels[:]...).Inc()
	if h.contacts == nil {
		return
	}
	repeats := h.metrics.repeatContacts
	customer, requestID := *cc, requestIDOf(r)
	h.contacts.Record(j.name, customerID, handlerOf(b), j.repeatWindow, func(previous fleet.Handler) {
		repeats.WithLabelValues(j.name, previous.Backend, previous.Owner, previous.Vendor).Inc()
		// The previous backend did not resolve it: the customer was orphaned.
		h.orphaned(r, j, previous, &customer, fleet.CauseRepeatContact, requestID)
	})
}
