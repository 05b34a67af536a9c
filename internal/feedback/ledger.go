package feedback

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Actions a token is redeemed for; metric label values.
const (
	ActionEscalate = "escalate"
	ActionRate     = "rate"
)

// AnonymousPerMinute is how many anonymous ratings a backend gets counted
// per minute across the fleet, so that anonymous answers, which anyone can
// give, cannot swamp those of known customers.
const AnonymousPerMinute = 30

// ledgerTimeout bounds each of the Ledger's round trips.
const ledgerTimeout = 500 * time.Millisecond

// Ledger keeps, in Redis, what the whole fleet must agree on: which tokens
// were redeemed, who rated which backend in the window, and how many
// anonymous ratings a backend got this minute.
type Ledger struct {
	client redis.UniversalClient
}

// NewLedger returns a Ledger on client, which the caller owns.
func NewLedger(client redis.UniversalClient) *Ledger { return &Ledger{client: client} }

// Redeem marks the token of c as used for action, across the fleet, until
// it expires. It reports false if it was used for action before.
func (l *Ledger) Redeem(ctx context.Context, action string, c Claims) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, ledgerTimeout)
	defer cancel()
	// Kept a minute past the token's validity, which allows for a minute
	// of clock skew between instances.
	first, err := l.client.SetNX(ctx, "frontdoor:feedback:used:"+action+":"+c.ID, "1",
		time.Until(c.Expires())+time.Minute).Result()
	if err != nil {
		return false, fmt.Errorf("redeeming feedback token: %w", err)
	}
	return first, nil
}

// FirstRating reports whether rater (a customer id, or an anonymous
// rater's cookie) had not rated the journey's backend within window, and
// marks that they now have.
func (l *Ledger) FirstRating(ctx context.Context, journey, backend, rater string, anonymous bool, window time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, ledgerTimeout)
	defer cancel()
	kind := "known"
	if anonymous {
		kind = "anonymous"
	}
	first, err := l.client.SetNX(ctx, "frontdoor:rated:"+journey+":"+backend+":"+kind+":"+rater, "1", window).Result()
	if err != nil {
		return false, fmt.Errorf("recording rating: %w", err)
	}
	return first, nil
}

// FirstEscalation reports whether escalator (a customer id, or a session's
// id for a session without one) had not escalated from the journey's
// backend within window, and marks that they now have:
// frontdoor_escalations_total counts customers, not the pages one
// customer escalated from.
func (l *Ledger) FirstEscalation(ctx context.Context, journey, backend, escalator string, window time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, ledgerTimeout)
	defer cancel()
	first, err := l.client.SetNX(ctx, "frontdoor:escalated:"+journey+":"+backend+":"+escalator, "1", window).Result()
	if err != nil {
		return false, fmt.Errorf("recording escalation: %w", err)
	}
	return first, nil
}

// AnonymousAllowed counts an anonymous rating of the journey's backend in
// the minute of now and reports whether it is within AnonymousPerMinute.
func (l *Ledger) AnonymousAllowed(ctx context.Context, journey, backend string, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, ledgerTimeout)
	defer cancel()
	key := "frontdoor:feedback:anonymous:" + journey + ":" + backend + ":" + strconv.FormatInt(now.Unix()/60, 10)
	var n *redis.IntCmd
	_, err := l.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, key)
		p.Expire(ctx, key, 2*time.Minute)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("counting anonymous ratings: %w", err)
	}
	return n.Val() <= AnonymousPerMinute, nil
}
