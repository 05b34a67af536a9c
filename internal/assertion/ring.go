package assertion

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"
)

// Storage keeps a ring's private keys between runs of the process. Caddy's
// storage (certmagic.Storage), where it keeps its own TLS keys, is one.
type Storage interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Store(ctx context.Context, key string, value []byte) error
}

// Ring is the keys a process makes for itself: one that signs and, with a
// rotation period, the next one, made and published a whole period before
// it signs, so that a vendor's cached JWK Set already holds it when the
// first token it signed arrives. The keys are kept in Storage, so that a
// restart goes on signing with a key vendors already have.
//
// Keys it stops signing with are let go in Published, which lists each
// until the last token it signed expires.
type Ring struct {
	alg     string
	every   time.Duration // 0: one key, never rotated
	store   Storage
	path    string
	pub     *Published
	onError func(error) // told when storing keys fails; signing goes on

	mu    sync.Mutex // held while rotating
	state atomic.Pointer[ringState]
}

type ringState struct {
	signer *Signer   // keys[0] signs; keys[1], if any, is the next one
	keys   []ringKey // the same keys, with their private halves and times
	next   time.Time // when keys[1] signs; zero without rotation
}

// storedRing is the JSON a Ring keeps in Storage.
type storedRing struct {
	Keys []storedKey `json:"keys"`
}

type storedKey struct {
	PEM  string `json:"pem"`  // PKCS#8 private key
	From int64  `json:"from"` // unix seconds: when it signs (or signed) first
}

// RingPath is where in Storage a ring keeps its keys.
const RingPath = "frontdoor/assertion/keys.json"

// MinRotation is the shortest rotation period NewRing accepts.
const MinRotation = 10 * time.Second

// NewRing loads the keys kept in store, or makes them, and holds them in
// pub. every is the rotation period, 0 for a key that signs as long as it
// is kept. A key from store that is still within its period signs again;
// one whose period is over gives way to the next key. onError is told when
// store fails: the keys then live only as long as the process.
func NewRing(alg string, every time.Duration, store Storage, pub *Published, onError func(error), now time.Time) (*Ring, error) {
	if every != 0 && every < MinRotation {
		return nil, fmt.Errorf("rotation period %v too short: must be at least %v", every, MinRotation)
	}
	r := &Ring{alg: alg, every: every, store: store, path: RingPath, pub: pub, onError: onError}
	keys, err := r.load()
	if err != nil {
		onError(fmt.Errorf("reading kept assertion keys, making new ones: %w", err))
		keys = nil
	}
	st, err := r.schedule(keys, now)
	if err != nil {
		return nil, err
	}
	st.signer = pub.Hold(st.signer)
	r.state.Store(st)
	return r, nil
}

type ringKey struct {
	k    *key
	priv any
	from time.Time
}

func (r *Ring) load() ([]ringKey, error) {
	if r.store == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	data, err := r.store.Load(ctx, r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sr storedRing
	if err := json.Unmarshal(data, &sr); err != nil {
		return nil, fmt.Errorf("parsing %s: %v", r.path, err)
	}
	var keys []ringKey
	for _, sk := range sr.Keys {
		priv, err := parsePEM([]byte(sk.PEM))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r.path, err)
		}
		k, err := newKey(priv)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r.path, err)
		}
		if k.public.Algorithm != r.alg {
			continue // a key of another algorithm no longer signs
		}
		keys = append(keys, ringKey{k: k, priv: priv, from: time.Unix(sk.From, 0)})
	}
	return keys, nil
}

// schedule works out from the kept keys (current first, then next) which
// signs at now and which is next, making and keeping what is missing.
func (r *Ring) schedule(keys []ringKey, now time.Time) (*ringState, error) {
	changed := false
	// Keys whose turn came while the process was down: the latest signs.
	for len(keys) > 1 && !keys[1].from.After(now) {
		keys = keys[1:]
		changed = true
	}
	if len(keys) == 0 {
		k, err := r.makeKey(now)
		if err != nil {
			return nil, err
		}
		keys, changed = []ringKey{k}, true
	}
	rest := keys[1:]
	keys = keys[:1:1]
	if r.every > 0 {
		var next ringKey
		if len(rest) > 0 {
			next = rest[0]
		} else {
			// The next key is published a whole period before it signs;
			// the current one signs until then, however long it already
			// did (at most twice the period, after a long stop).
			var err error
			if next, err = r.makeKey(now.Add(r.every)); err != nil {
				return nil, err
			}
			changed = true
		}
		keys = append(keys, next)
	}
	if changed {
		r.keep(keys)
	}
	set := make([]*key, len(keys))
	for i, k := range keys {
		set[i] = k.k
	}
	signer, err := newSigner(set)
	if err != nil {
		return nil, err
	}
	st := &ringState{signer: signer, keys: keys}
	if len(keys) > 1 {
		st.next = keys[1].from
	}
	return st, nil
}

func (r *Ring) makeKey(from time.Time) (ringKey, error) {
	priv, err := generateKey(r.alg)
	if err != nil {
		return ringKey{}, fmt.Errorf("making an assertion key: %w", err)
	}
	k, err := newKey(priv)
	if err != nil {
		return ringKey{}, fmt.Errorf("making an assertion key: %w", err)
	}
	return ringKey{k: k, priv: priv, from: from.Truncate(time.Second)}, nil
}

// keep writes the keys to storage; a failure is reported, not fatal.
func (r *Ring) keep(keys []ringKey) {
	if r.store == nil {
		return
	}
	var sr storedRing
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			r.onError(fmt.Errorf("encoding an assertion key: %v", err))
			return
		}
		sr.Keys = append(sr.Keys, storedKey{
			PEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
			From: k.from.Unix(),
		})
	}
	data, err := json.Marshal(sr)
	if err != nil {
		r.onError(fmt.Errorf("encoding assertion keys: %v", err))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.store.Store(ctx, r.path, data); err != nil {
		r.onError(fmt.Errorf("keeping assertion keys in storage: %w", err))
	}
}

// Signer returns the signer for now: its first key signs, its second, if
// any, is the next. When the next key's time has come it becomes the
// signing key, a new next key is made, and the old signing key is let go.
// Signers share the ring's default TTL; use WithTTL for another.
func (r *Ring) Signer(now time.Time) *Signer {
	st := r.state.Load()
	if st.next.IsZero() || now.Before(st.next) {
		return st.signer
	}
	// Only one caller rotates; the others sign with the outgoing key
	// for the few milliseconds that takes: it is still listed.
	if !r.mu.TryLock() {
		return st.signer
	}
	defer r.mu.Unlock()
	if st = r.state.Load(); now.Before(st.next) {
		return st.signer
	}
	next, err := r.schedule(st.keys[1:], now)
	if err != nil {
		r.onError(err)
		return st.signer
	}
	next.signer = r.pub.Hold(next.signer)
	r.state.Store(next)
	r.pub.Release(st.signer)
	return next.signer
}

// Close lets go of the ring's keys; Published lists them until the last
// token they signed expires.
func (r *Ring) Close() {
	r.pub.Release(r.state.Load().signer)
}
