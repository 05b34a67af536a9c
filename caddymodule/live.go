package caddymodule

import (
	"sync"
	"sync/atomic"
	"time"
)

// recentErrors keeps the last few failures a handler saw, for the status
// endpoint. It is written only on the error path.
type recentErrors struct {
	mu   sync.Mutex
	ring [20]recentError
	next int
	n    int
}

type recentError struct {
	Time      time.Time `json:"time"`
	Journey   string    `json:"journey"`
	Backend   string    `json:"backend"`
	Status    int       `json:"status"`
	Kind      string    `json:"kind,omitempty"`
	RequestID string    `json:"request_id"`
}

func (r *recentErrors) add(e recentError) {
	r.mu.Lock()
	r.ring[r.next] = e
	r.next = (r.next + 1) % len(r.ring)
	if r.n < len(r.ring) {
		r.n++
	}
	r.mu.Unlock()
}

// list returns the errors newest first.
func (r *recentErrors) list() []recentError {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]recentError, 0, r.n)
	for i := 1; i <= r.n; i++ {
		out = append(out, r.ring[(r.next-i+len(r.ring))%len(r.ring)])
	}
	return out
}

// backendCounts are a backend's request and error totals since the config
// loaded, for the status endpoint (the metrics have the long view).
type backendCounts struct {
	requests atomic.Uint64
	errors   atomic.Uint64
}

// noteError keeps a failure for the status endpoint.
func (h *Handler) noteError(journey string, b *backendRoute, status int, kind, requestID string) {
	if !b.stats.counted {
		return // the shopper reports its own
	}
	b.counts.errors.Add(1)
	h.errors.add(recentError{Time: time.Now(), Journey: journey, Backend: b.name, Status: status, Kind: kind, RequestID: requestID})
}
