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

// countContact counts a request the backend answered with status if it is
// a known customer's contact.
func (h *Handler) countContact(r *http.Request, j *journeyRoute, b *backendRoute, cc *customerContext, status int) {
	if !j.isContact(r) || !b.stats.counted {
		return // the shopper's customer is nobody's
	}
	if !tookContact(r, status) {
		return
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

// tookContact reports whether a contact request is the customer's own and
// the backend took it. Each contact may make a repeat, an orphan and a
// rescue of the customer, so none is counted for a request the backend
// refused (a 4xx: no CSRF token, a bad form) or a request the browser
// says came from another origin: a script on another host of the brand's
// site (a vendor's origin) sends the session cookie with its POSTs. A 101
// is a chat the backend took; a request without fetch metadata (an older
// browser, an app) is judged by its status alone.
func tookContact(r *http.Request, status int) bool {
	if status != http.StatusSwitchingProtocols && (status < 200 || status >= 400) {
		return false
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return site == "" || site == "same-origin" || site == "none"
}
