package shopper

import (
	"context"
	"sync"
	"sync/atomic"
)

// Visit is one shopper request's business with the gateway. It travels in
// the request's context, where no client can put it: it tells the gateway
// to send the request to the shopped backend alone, whatever its hours,
// health or an override, and not to count it (in no customer metric,
// recent error or trail; the shopper's runs have metrics of their own).
// The gateway tells the visit what the customer could not see in the
// answer.
type Visit struct {
	// Journey and Backend are the names of the journey and the backend
	// shopped.
	Journey, Backend string

	mu        sync.Mutex
	errorPage int // status of the brand error page shown instead, if any

	// lookupFailed is set when the customer-context lookup failed: the
	// backend cannot be blamed for not knowing the customer.
	lookupFailed atomic.Bool
}

type visitKey struct{}

// WithVisit returns ctx carrying v.
func WithVisit(ctx context.Context, v *Visit) context.Context {
	return context.WithValue(ctx, visitKey{}, v)
}

// VisitOf returns the shopper's visit a request context carries, or nil
// for a customer's request.
func VisitOf(ctx context.Context) *Visit {
	v, _ := ctx.Value(visitKey{}).(*Visit)
	return v
}

// ErrorPageShown records that the customer got the brand error page with
// this status instead of the backend's answer.
func (v *Visit) ErrorPageShown(status int) {
	v.mu.Lock()
	v.errorPage = status
	v.mu.Unlock()
}

// ErrorPage returns the status of the brand error page shown, or 0.
func (v *Visit) ErrorPage() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.errorPage
}

// LookupFailed records that the gateway could not look up the customer's
// context.
func (v *Visit) LookupFailed() { v.lookupFailed.Store(true) }

// lookupHasFailed reports whether LookupFailed was called.
func (v *Visit) lookupHasFailed() bool { return v.lookupFailed.Load() }
