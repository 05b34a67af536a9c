// Package fleet holds the state that every gateway instance sharing one
// Redis must agree on: live routing overrides with their audit log, and
// the customers' interaction trails.
package fleet

import (
	"context"
	"encoding/json"
	"errors"
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

	mu      sync.Mutex               // serialises local writes
	pending map[string]pendingChange // set while Redis was unreachable, by journey
	version uint64                   // counts local changes, so a resync never undoes a newer one
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewBoard starts a board. With a nil client overrides stay in memory.
func NewBoard(client redis.UniversalClient, logger *zap.Logger) *Board {
	b := &Board{client: client, logger: logger, done: make(chan struct{}), pending: map[string]pendingChange{}}
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

// Local reports whether the board's overrides hold on this instance only:
// it has no Redis to share them through.
func (b *Board) Local() bool { return b.client == nil }

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

// pendingChange is an override set, or cleared, on this instance while
// Redis was unreachable, waiting to reach the fleet.
type pendingChange struct {
	override Override // for a clear, Journey, By and SetAt (when it was cleared)
	clear    bool
}

// storeTimeout bounds an operator's wait for Redis: an override is most
// needed when things are failing, and then it applies here at once.
const storeTimeout = time.Second

// errSuperseded says a change made while Redis was unreachable is older
// than what another instance has written since.
var errSuperseded = errors.New("superseded by a newer override")

// Set puts an override in force on this instance at once and on every
// instance through Redis. If Redis cannot be reached it reports pending:
// the override applies here now and reaches Redis, and so the fleet, when
// Redis is back, unless another instance set a newer one for the journey
// in the meantime.
func (b *Board) Set(ctx context.Context, o Override) (pending bool, err error) {
	return b.change(ctx, pendingChange{override: o})
}

// Clear returns a journey to normal routing, like Set.
func (b *Board) Clear(ctx context.Context, journey, by string) (pending bool, err error) {
	return b.change(ctx, pendingChange{override: Override{Journey: journey, By: by, SetAt: time.Now()}, clear: true})
}

func (b *Board) change(ctx context.Context, c pendingChange) (pending bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.applyLocked(c)
	if b.client == nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if err := b.store(ctx, c, false); err != nil {
		b.pending[c.override.Journey] = c
		b.logger.Warn("overrides: redis unreachable; the change applies on this instance and reaches the fleet when redis is back",
			zap.String("journey", c.override.Journey), zap.Bool("clear", c.clear), zap.Error(err))
		return true, nil
	}
	delete(b.pending, c.override.Journey)
	return false, nil
}

// store writes a change and its audit entry to Redis and tells the fleet.
// A change that waited for Redis is written only if no newer override was
// set for its journey meanwhile.
func (b *Board) store(ctx context.Context, c pendingChange, waited bool) error {
	o := c.override
	err := b.client.Watch(ctx, func(tx *redis.Tx) error {
		if waited {
			raw, err := tx.HGet(ctx, overridesKey, o.Journey).Result()
			switch {
			case err == nil:
				var current Override
				if json.Unmarshal([]byte(raw), &current) == nil && current.SetAt.After(o.SetAt) {
					return errSuperseded
				}
			case !errors.Is(err, redis.Nil):
				return err
			}
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if c.clear {
				p.HDel(ctx, overridesKey, o.Journey)
				b.audit(ctx, p, "clear", o)
				return nil
			}
			raw, err := json.Marshal(o)
			if err != nil {
				return err
			}
			p.HSet(ctx, overridesKey, o.Journey, raw)
			b.audit(ctx, p, "set", o)
			return nil
		})
		return err
	}, overridesKey)
	if err != nil {
		if errors.Is(err, errSuperseded) {
			return err
		}
		return fmt.Errorf("storing override in redis: %w", err)
	}
	b.client.Publish(ctx, overridesChannel, o.Journey) // resync covers a lost publish
	return nil
}

// storePending writes the changes made while Redis was unreachable. It
// stops at the first failure: Redis is still away.
func (b *Board) storePending(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for journey, c := range b.pending {
		storeCtx, cancel := context.WithTimeout(ctx, storeTimeout)
		err := b.store(storeCtx, c, true)
		cancel()
		switch {
		case errors.Is(err, errSuperseded):
			b.logger.Info("overrides: a change made while redis was unreachable was superseded by a newer one",
				zap.String("journey", journey))
		case err != nil:
			return
		default:
			b.logger.Info("overrides: a change made while redis was unreachable now applies fleet-wide",
				zap.String("journey", journey))
		}
		delete(b.pending, journey)
	}
}

// Pending reports whether the journey has a change that has not reached
// Redis yet.
func (b *Board) Pending(journey string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.pending[journey]
	return ok
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

// applyLocked copies the state, makes the change in the copy and
// publishes it, so readers never see a map being written. b.mu is held.
func (b *Board) applyLocked(c pendingChange) {
	b.version++
	next := make(map[string]Override, len(*b.state.Load())+1)
	for k, v := range *b.state.Load() {
		next[k] = v
	}
	c.applyTo(next)
	b.state.Store(&next)
}

func (c pendingChange) applyTo(m map[string]Override) {
	if c.clear {
		delete(m, c.override.Journey)
	} else {
		m[c.override.Journey] = c.override
	}
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
		b.storePending(ctx)
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
	b.mu.Lock()
	version := b.version
	b.mu.Unlock()
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
	defer b.mu.Unlock()
	if b.version != version {
		// A change was made here while Redis was read: what was read may
		// predate it. The next resync reads it back.
		return nil
	}
	for _, c := range b.pending { // still this instance's own word
		c.applyTo(next)
	}
	b.state.Store(&next)
	return nil
}

// Close stops following Redis.
func (b *Board) Close() {
	if b.cancel != nil {
		b.cancel()
	}
	<-b.done
}
