package caddymodule

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/frontdoor-dev/frontdoor/internal/assertion"
	"github.com/frontdoor-dev/frontdoor/internal/feedback"
	"github.com/frontdoor-dev/frontdoor/internal/fleet"
	"github.com/frontdoor-dev/frontdoor/internal/session"
)

// What frontdoor shares beyond one config. Everything else belongs to a
// config: its handlers with their compiled journeys, and its App (the
// registry of those handlers, the secret shoppers, the collectors of the
// config's state), all dropped with the config.
//
//   - processPool (below), a caddy.UsagePool: the shared resources, each
//     made by the first config that needs it and closed by the last one
//     that releases it. A reload keeps them: the new config takes them
//     before the old one lets go.
//     "redis URL": one go-redis client and connection pool per Redis URL,
//     with the override board that follows the fleet's overrides, the
//     trail writer and its queue, the contact recorder, and the
//     publisher of the fleet's signing keys (assertion.Fleet).
//     "board local": the override board of configs without Redis, whose
//     overrides hold for this process only.
//   - sharedMetrics (metrics.go): the client_golang collectors of customer
//     traffic and probe runs, made once per process and registered in the
//     registry of every config, as Caddy's own HTTP metrics are, so that a
//     reload never resets a counter. Survives reloads.
//   - the signing keys (assertion.go): the key made at first start when
//     the config names none, kept in Caddy's storage so that a restart
//     signs with a key vendors already cached; publishedKeys, the keys
//     let go by a reload or a rotation, listed until their last token
//     expires; and rings, a caddy.UsagePool of the rotating key rings.
//     Survive reloads (and, with storage and Redis, restarts).
//   - go-redis's logger (init below), set once: go-redis has one per
//     process. Survives reloads.
//   - the module registrations (init in module.go, app.go, admin.go,
//     caddyfile.go, commands.go).

// processPool holds the shared resources listed above.
var processPool = caddy.NewUsagePool()

// Keys of processPool.
func redisPoolKey(url string) string { return "redis " + url }

const localBoardKey = "board local"

// sharedRedis is what every config using one Redis URL shares: the
// client and its pool, the override board that follows the fleet's
// overrides, and the trail writer with its queue.
type sharedRedis struct {
	client   redis.UniversalClient
	tracker  *session.Tracker // follows the client's reads under tracking
	breaker  *session.Breaker // the circuit breaker of every lookup on the request path: context and origin sessions
	board    *fleet.Board
	trail    *fleet.Trail
	contacts *fleet.Contacts
	orphans  *fleet.Orphans
	keys     *assertion.Fleet // the fleet's published signing keys
	feedback *feedback.Keys   // the fleet's key for feedback tokens
}

// Destruct stops the board and the trail writer (writing what is queued)
// and closes the client, in the background: with its Sentinels down a
// failover client's Close can block for seconds, which must not hold up a
// config reload.
func (s *sharedRedis) Destruct() error {
	go func() {
		s.board.Close()
		s.orphans.Close() // before the trail: orphans write to it
		s.trail.Close()
		s.contacts.Close()
		s.keys.Close()
		s.feedback.Close()
		s.client.Close()  //nolint:errcheck // nothing to do about it
		s.tracker.Close() //nolint:errcheck // nothing to do about it
	}()
	return nil
}

// localBoard holds overrides when no Redis is configured: they apply to
// this process only.
type localBoard struct{ board *fleet.Board }

func (b localBoard) Destruct() error {
	b.board.Close()
	return nil
}

// acquireLocalBoard takes the process's local override board; the handler
// releases it in Cleanup.
func acquireLocalBoard() (*fleet.Board, error) {
	val, _, err := processPool.LoadOrNew(localBoardKey, func() (caddy.Destructor, error) {
		return localBoard{fleet.NewBoard(nil, caddy.Log().Named("frontdoor.overrides"))}, nil
	})
	if err != nil {
		return nil, err
	}
	return val.(localBoard).board, nil
}

// release lets go of everything the handler holds of shared state, once,
// in Cleanup: the config's context store stops following Redis's
// invalidations, what the handler took from processPool is released, and
// its signing keys are let go (in-flight requests may still sign with
// them, and they stay listed until their last token expires).
func (s *sharedHandles) release() {
	if s.released {
		return
	}
	s.released = true
	if s.store != nil {
		s.store.Close()
	}
	for _, key := range s.shared {
		processPool.Delete(key) //nolint:errcheck // closing is best effort
	}
	if s.signer != nil {
		publishedKeys().Release(s.signer)
	}
	if s.ringKey != "" {
		rings.Delete(s.ringKey) //nolint:errcheck // Close cannot fail
	}
}

func init() {
	redis.SetLogger(redisLogger{})
}

// redisLogger sends go-redis's own messages (failed dials, pool trouble) to
// Caddy's logger instead of stderr.
type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	caddy.Log().Named("frontdoor.redis").Warn(fmt.Sprintf(format, v...))
}

// liveStreams counts a config's proxied requests under way, streams
// above all, so that its shared state (the orphan queue on its Redis above
// all) is let go only once the last of them has recorded its outcome:
// streams outlive the config that opened them, and so does a request that
// was waiting on its backend at the reload, which may open a stream or
// end in an orphan after it. A nil liveStreams counts nothing.
//
// Every proxied request passes begin and end, so they are atomic counts
// (a mutex there cost every request two lock operations on a busy
// gateway); whichever of the last end and retire sees the other's write
// releases, once.
type liveStreams struct {
	n        atomic.Int64
	retired  atomic.Bool
	released atomic.Bool
	release  func()
}

// begin counts a request that started.
func (l *liveStreams) begin() {
	if l == nil {
		return
	}
	l.n.Add(1)
}

// end counts a request that ended, after its outcome is recorded.
func (l *liveStreams) end() {
	if l == nil {
		return
	}
	// The count is read again after retired: a request that began after
	// this one's decrement and before the retire is still under way.
	if l.n.Add(-1) == 0 && l.retired.Load() && l.n.Load() == 0 {
		l.releaseOnce()
	}
}

// retire marks the config unloaded: the release comes with the last
// request's end, or now.
func (l *liveStreams) retire() {
	l.retired.Store(true)
	if l.n.Load() == 0 {
		l.releaseOnce()
	}
}

// releaseOnce releases unless it was done: the last end and retire may
// both find the count at zero once the config is retired.
func (l *liveStreams) releaseOnce() {
	if l.released.CompareAndSwap(false, true) {
		l.release()
	}
}
