// Package fleet holds the state that every gateway instance sharing one
// Redis must agree on: live routing overrides with their audit log, and
// the customers' interaction trails.
package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Redis keys. The {frontdoor} hash tag keeps them in one Cluster slot so
// an override and its audit entry are written in one round trip.
const (
	overridesKey     = "{frontdoor}:overrides"
	overridesChannel = "{frontdoor}:overrides:changed"
	auditKey         = "{frontdoor}:audit"
	auditMaxLen      = 10_000
)

// ResyncInterval is how often every instance re-reads all overrides, so
// that a missed notification or a Redis restart leaves no instance stale
// for longer than this.
const ResyncInterval = time.Second

// Override sends a journey to one backend until it expires.
type Override struct {
	Journey   string    `json:"journey"`
	Backend   string    `json:"backend"`
	Reason    string    `json:"reason,omitempty"`
	By        string    `json:"by,omitempty"`
	SetAt     time.Time `json:"set_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Board is one instance's view of the fleet's overrides. Reads are
// lock-free; with a Redis client, writes go to Redis and a background
// loop keeps the view in step with what other instances wrote.
type Board struct {
	client redis.UniversalClient // nil: overrides are local to this instance
	logger *zap.Logger
	state  atomic.Pointer[map[string]Override]

	mu     sync.Mutex // serialises local writes
	cancel context.CancelFunc
	done   chan struct{}
}

// NewBoard starts a board. With a nil client overrides stay in memory.
func NewBoard(client redis.UniversalClient, logger *zap.Logger) *Board {
	b := &Board{client: client, logger: logger, done: make(chan struct{})}
	empty := map[string]Override{}
	b.state.Store(&empty)
	if client == nil {
		close(b.done)
		return b
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go b.follow(ctx)
	return b
}

// Get returns the journey's override if one is in force at now.
func (b *Board) Get(journey string, now time.Time) (Override, bool) {
	o, ok := (*b.state.Load())[journey]
	if !ok || !now.Before(o.ExpiresAt) {
		return Override{}, false
	}
	return o, true
}

// All returns the overrides in force at now.
func (b *Board) All(now time.Time) []Override {
	var out []Override
	for _, o := range *b.state.Load() {
		if now.Before(o.ExpiresAt) {
			out = append(out, o)
		}
	}
	return out
}

// Set puts an override in force on every instance and audits it.
func (b *Board) Set(ctx context.Context, o Override) error {
	if b.client != nil {
		raw, err := json.Marshal(o)
		if err != nil {
			return err
		}
		_, err = b.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, overridesKey, o.Journey, raw)
			b.audit(ctx, p, "set", o)
			return nil
		})
		if err != nil {
			return fmt.Errorf("storing override in redis: %w", err)
		}
		b.client.Publish(ctx, overridesChannel, o.Journey) // resync covers a lost publish
	}
	b.apply(func(m map[string]Override) { m[o.Journey] = o })
	return nil
}

// Clear returns a journey to normal routing on every instance.
func (b *Board) Clear(ctx context.Context, journey, by string) error {
	if b.client != nil {
		_, err := b.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HDel(ctx, overridesKey, journey)
			b.audit(ctx, p, "clear", Override{Journey: journey, By: by, SetAt: time.Now()})
			return nil
		})
		if err != nil {
			return fmt.Errorf("clearing override in redis: %w", err)
		}
		b.client.Publish(ctx, overridesChannel, journey)
	}
	b.apply(func(m map[string]Override) { delete(m, journey) })
	return nil
}

func (b *Board) audit(ctx context.Context, p redis.Pipeliner, action string, o Override) {
	values := map[string]any{
		"action": action, "journey": o.Journey, "by": o.By,
		"at": o.SetAt.UTC().Format(time.RFC3339Nano),
	}
	if action == "set" {
		values["backend"] = o.Backend
		values["reason"] = o.Reason
		values["expires_at"] = o.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	p.XAdd(ctx, &redis.XAddArgs{Stream: auditKey, MaxLen: auditMaxLen, Approx: true, Values: values})
}

// Audit returns the newest audit entries, newest first.
func (b *Board) Audit(ctx context.Context, n int64) ([]map[string]any, error) {
	if b.client == nil {
		return nil, nil
	}
	msgs, err := b.client.XRevRangeN(ctx, auditKey, "+", "-", n).Result()
	if err != nil {
		return nil, fmt.Errorf("reading override audit: %w", err)
	}
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		out[i] = m.Values
	}
	return out, nil
}

// apply copies the state, changes the copy and publishes it, so readers
// never see a map being written.
func (b *Board) apply(change func(map[string]Override)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	next := make(map[string]Override, len(*b.state.Load())+1)
	for k, v := range *b.state.Load() {
		next[k] = v
	}
	change(next)
	b.state.Store(&next)
}

// follow keeps the board in step with Redis: a notification triggers an
// immediate resync, the ticker one every ResyncInterval regardless.
func (b *Board) follow(ctx context.Context) {
	defer close(b.done)
	sub := b.client.Subscribe(ctx, overridesChannel)
	defer sub.Close()
	changed := sub.Channel()
	ticker := time.NewTicker(ResyncInterval)
	defer ticker.Stop()
	failing := false
	for {
		if err := b.resync(ctx); err != nil {
			if !failing && ctx.Err() == nil {
				b.logger.Warn("overrides: redis unreachable, keeping the last known overrides", zap.Error(err))
			}
			failing = true
		} else if failing {
			b.logger.Info("overrides: redis reachable again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-ticker.C:
		}
	}
}

func (b *Board) resync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	raw, err := b.client.HGetAll(ctx, overridesKey).Result()
	if err != nil {
		return err
	}
	next := make(map[string]Override, len(raw))
	for journey, v := range raw {
		var o Override
		if err := json.Unmarshal([]byte(v), &o); err != nil {
			b.logger.Warn("overrides: ignoring a malformed entry", zap.String("journey", journey), zap.Error(err))
			continue
		}
		next[journey] = o
	}
	b.mu.Lock()
	b.state.Store(&next)
	b.mu.Unlock()
	return nil
}

// Close stops following Redis.
func (b *Board) Close() {
	if b.cancel != nil {
		b.cancel()
	}
	<-b.done
}
