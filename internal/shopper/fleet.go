package shopper

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/internal/session"
)

// Fleet coordination over the session Redis: one instance shops each
// backend per interval, every instance knows the fleet's latest run, and
// a probe's synthetic customer is in the session store for the gateway to
// look up. Redis failing never stops a run: the instance shops alone.

// claim takes the interval's lock: one instance of the fleet shops each
// backend once per interval. If Redis cannot say, this instance shops.
func (s *Shopper) claim(ctx context.Context, t *Target, slot int64) bool {
	key := lockPrefix + t.key() + ":" + strconv.FormatInt(slot, 10)
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	won, err := s.cfg.Redis.SetNX(cctx, key, s.cfg.Instance, 2*t.probe.every).Result()
	if err != nil {
		s.logger.Debug("secret shopper: interval lock unavailable, shopping anyway", zap.String("key", key), zap.Error(err))
		return true
	}
	return won
}

// adopt takes the fleet's latest run of the target, which another
// instance may have made, if it is newer than this instance's.
func (s *Shopper) adopt(ctx context.Context, t *Target) {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	raw, err := s.cfg.Redis.Get(cctx, resultPrefix+t.key()).Bytes()
	if err != nil {
		return
	}
	var run Run
	if err := json.Unmarshal(raw, &run); err != nil || run.Probe != t.probe.name {
		return
	}
	if last := t.last.Load(); last == nil || run.Time.After(last.Time) {
		t.last.Store(&run)
	}
}

// publish makes a run the fleet's latest of the target.
func (s *Shopper) publish(ctx context.Context, t *Target, run *Run) {
	raw, err := json.Marshal(run)
	if err != nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s.cfg.Redis.Set(cctx, resultPrefix+t.key(), raw, 3*t.probe.every+time.Minute) //nolint:errcheck // the fleet's view is best effort
}

// writeCustomer writes the probe's synthetic customer to the session
// store, replacing what was there, to expire some intervals after the
// probe last ran.
func (s *Shopper) writeCustomer(ctx context.Context, p *probe) error {
	if s.cfg.Redis == nil {
		return errors.New("no session store to write to")
	}
	key := session.ExpandKey(s.cfg.SessionKey, p.sessionID)
	values := make([]any, 0, 2*len(p.customer))
	for f, v := range p.customer {
		values = append(values, f, v)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := s.cfg.Redis.TxPipelined(cctx, func(pipe redis.Pipeliner) error {
		pipe.Del(cctx, key)
		pipe.HSet(cctx, key, values...)
		pipe.PExpire(cctx, key, 2*p.every+time.Minute)
		return nil
	})
	return err
}
