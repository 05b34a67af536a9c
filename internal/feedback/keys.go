package feedback

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// KeyName is the Redis key of the fleet's token key: the first instance
// to start sets it, every instance reads it back, so a token minted on one
// is good on all of them.
const KeyName = "frontdoor:feedback:key"

// How often Keys asks Redis for the fleet's key: while it cannot get it,
// and then to notice a Redis that lost it (a restart without persistence)
// and set one again, which every instance then reads back. Variables for
// tests.
var (
	keyRetry   = 5 * time.Second
	keyRefresh = time.Minute
)

// keptKeys is how many of the fleet's keys an instance accepts tokens of:
// the current one and those it replaced.
const keptKeys = 4

// Keys holds the key tokens are minted with: the fleet's, from Redis, once
// known; until then (Redis down at start, or no Redis at all) a key of
// this process, whose tokens only this process accepts. Tokens minted with
// either are accepted for as long as they are valid. Safe for concurrent
// use.
type Keys struct {
	local  []byte
	shared atomic.Pointer[keyRing] // nil until the fleet's key is known

	sharedReady chan struct{} // closed once the fleet's key is known
	sharedOnce  sync.Once

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// NewKeys returns Keys; with a client it fetches the fleet's key in the
// background, retrying until it has it or Close.
func NewKeys(client redis.UniversalClient, logger *zap.Logger) *Keys {
	k := &Keys{local: randomKey(), done: make(chan struct{}), sharedReady: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	if client == nil {
		close(k.done)
		return k
	}
	go k.fetch(ctx, client, logger)
	return k
}

func randomKey() []byte {
	b := make([]byte, 32)
	rand.Read(b) //nolint:errcheck // crypto/rand never fails on supported platforms
	return b
}

func (k *Keys) fetch(ctx context.Context, client redis.UniversalClient, logger *zap.Logger) {
	defer close(k.done)
	for {
		wait := keyRefresh
		key, err := fleetKey(ctx, client)
		switch {
		case err == nil:
			k.adopt(key)
		case k.shared.Load() == nil:
			wait = keyRetry
			if logger != nil {
				logger.Warn("feedback: fleet token key not available yet; tokens are minted with this process's key", zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// keyRing is what an instance knows of the fleet's keys. It is never
// changed once stored: adopt stores a new one, so that Verify, on every
// request goroutine, reads it without a lock.
type keyRing struct {
	fleet  [][]byte // the fleet's keys, newest first: tokens are minted with fleet[0]
	accept [][]byte // fleet, then the process's own key: what Verify tries
}

// adopt makes key the one tokens are minted with, still accepting those
// of the keptKeys-1 fleet keys it replaces and of the process's own.
func (k *Keys) adopt(key []byte) {
	var older [][]byte
	if old := k.shared.Load(); old != nil {
		if bytes.Equal(old.fleet[0], key) {
			return
		}
		older = old.fleet[:min(len(old.fleet), keptKeys-1)]
	}
	accept := make([][]byte, 0, len(older)+2)
	accept = append(append(append(accept, key), older...), k.local)
	k.shared.Store(&keyRing{fleet: accept[: len(accept)-1 : len(accept)-1], accept: accept})
	k.sharedOnce.Do(func() { close(k.sharedReady) })
}

// fleetKey sets the fleet's key if no instance has, and reads it back.
func fleetKey(ctx context.Context, client redis.UniversalClient) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := client.SetNX(ctx, KeyName, hex.EncodeToString(randomKey()), 0).Err(); err != nil {
		return nil, fmt.Errorf("setting the fleet's feedback key: %w", err)
	}
	raw, err := client.Get(ctx, KeyName).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the fleet's feedback key: %w", err)
	}
	key, err := hex.DecodeString(raw)
	if err != nil || len(key) < 16 {
		return nil, errors.New("reading the fleet's feedback key: not a key frontdoor wrote")
	}
	return key, nil
}

// Shared reports whether the fleet's key is known.
func (k *Keys) Shared() bool { return k.shared.Load() != nil }

// WaitShared waits until the fleet's key is known or ctx ends.
func (k *Keys) WaitShared(ctx context.Context) bool {
	select {
	case <-k.sharedReady:
	case <-k.done:
	case <-ctx.Done():
	}
	return k.Shared()
}

// Mint returns a token for c bound to the session id; an empty id mints
// an anonymous token.
func (k *Keys) Mint(sessionID string, c Claims) string {
	key := k.local
	if ring := k.shared.Load(); ring != nil {
		key = ring.fleet[0]
	}
	c.Minted = c.Minted.Truncate(time.Second)
	return mint(key, sessionID, c)
}

// Verify checks a token presented by the holder of the session id (empty:
// none) at now, and returns its claims: ErrForged for a token this fleet
// did not mint (or that was changed), ErrExpired, and ErrOtherCustomer for
// one minted for another session.
func (k *Keys) Verify(token, sessionID string, now time.Time) (Claims, error) {
	if ring := k.shared.Load(); ring != nil {
		return verify(ring.accept, token, sessionID, now)
	}
	return verify([][]byte{k.local}, token, sessionID, now)
}

// Close stops asking Redis for the fleet's key.
func (k *Keys) Close() {
	k.once.Do(func() {
		k.cancel()
		<-k.done
	})
}
