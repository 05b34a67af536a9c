package session_test

import (
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/frontdoor-dev/frontdoor/internal/session"
)

// The gateway builds the client, the store and one field set per journey
// at config time, then looks up the context of every request.
func Example() {
	client, err := session.NewClientWithOptions("redis://127.0.0.1:6379/0",
		session.ClientOptions{IOTimeout: 200 * time.Millisecond})
	if err != nil {
		log.Fatal(err) // a config error; the message holds no password
	}
	defer client.Close()
	store, err := session.NewStore(client, session.Options{
		KeyTemplate: "session:{id}",
		Timeout:     50 * time.Millisecond,
		CacheTTL:    session.DefaultCacheTTL, // zero would disable the cache
	})
	if err != nil {
		log.Fatal(err)
	}
	support := session.NewFieldSet([]string{"customer_id", "first_name", "tier"})

	handler := func(w http.ResponseWriter, r *http.Request) {
		var id string
		if cookie, err := r.Cookie("acme_session"); err == nil {
			id = cookie.Value
		}
		c, result, err := store.Lookup(r.Context(), support, id)
		// result is the label of frontdoor_context_lookups_total.
		switch {
		case err != nil:
			r.Header.Set("X-Frontdoor-Session", "unavailable")
		case c == nil: // no cookie, no such session, or a cached miss
			r.Header.Set("X-Frontdoor-Session", "none")
		default:
			r.Header.Set("X-Frontdoor-Session", "found")
			for field, value := range c.Fields() {
				// customer_id: X-Frontdoor-Context-Customer-Id
				name := http.CanonicalHeaderKey(strings.ReplaceAll(field, "_", "-"))
				r.Header.Set("X-Frontdoor-Context-"+name, value)
			}
		}
		_ = result
	}
	_ = handler
}
