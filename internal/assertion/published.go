package assertion

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Published is the set of public keys a process lists at JWKSPath: every
// key that a config or a rotation holds (it signs, or will), and every key
// that was let go, until the last token it signed expires. A vendor that
// checks a token late, from a queue or an audit, still finds its key.
//
// It is safe for concurrent use. A process has one, shared by its configs:
// a reload that swaps keys lets the old ones go, it does not forget them.
type Published struct {
	mu   sync.Mutex
	keys map[string]*publishedKey // by kid
	// order keeps the JWK Set stable: keys in the order first held.
	order []string
}

type publishedKey struct {
	key     *key
	holders int
	json    []byte // the public JWK
}

// Listed is one key of a JWK Set and how long it stays in it.
type Listed struct {
	KeyID string
	JWK   []byte // the public JWK as JSON
	// Held is true while a config or a rotation may sign with the key;
	// Until is then zero. Otherwise Until is when the last token it
	// signed expires.
	Held  bool
	Until time.Time
}

// NewPublished returns an empty set.
func NewPublished() *Published {
	return &Published{keys: make(map[string]*publishedKey)}
}

// Hold lists the keys of s until Release, and returns the signer to use:
// the same keys, sharing with every other load of the same key what it
// signed, so that a key loaded again by a reload keeps its history.
func (p *Published) Hold(s *Signer) *Signer {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := *s
	c.keys = make([]*key, len(s.keys))
	for i, k := range s.keys {
		e := p.keys[k.public.KeyID]
		if e == nil {
			data, err := json.Marshal(k.public)
			if err != nil {
				// A JWK that newSigner already marshalled as part of the
				// set: cannot fail.
				panic("assertion: encoding a public JWK: " + err.Error())
			}
			e = &publishedKey{key: k, json: data}
			p.keys[k.public.KeyID] = e
			p.order = append(p.order, k.public.KeyID)
		}
		e.holders++
		c.keys[i] = e.key
	}
	c.signing = c.keys[0]
	return &c
}

// Release lets go of the keys of s, a signer Hold returned. Each stays
// listed until the last token it signed expires.
func (p *Published) Release(s *Signer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range s.keys {
		if e := p.keys[k.public.KeyID]; e != nil && e.holders > 0 {
			e.holders--
		}
	}
}

// Listed returns the keys listed at now, in the order they were first
// held, and forgets those whose last token has expired.
func (p *Published) Listed(now time.Time) []Listed {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Listed, 0, len(p.order))
	kept := p.order[:0]
	for _, kid := range p.order {
		e := p.keys[kid]
		l := Listed{KeyID: kid, JWK: e.json, Held: e.holders > 0}
		if !l.Held {
			l.Until = time.Unix(e.key.lastExp.Load(), 0)
			if !l.Until.After(now) {
				delete(p.keys, kid)
				continue
			}
		}
		kept = append(kept, kid)
		out = append(out, l)
	}
	p.order = kept
	return out
}

// JWKS returns the JWK Set of the keys listed at now.
func (p *Published) JWKS(now time.Time) []byte {
	return encodeSet(p.Listed(now), nil)
}

// encodeSet writes a JWK Set of the local keys followed by the others;
// a kid in both is listed once.
func encodeSet(local []Listed, others []jose.JSONWebKey) []byte {
	b := []byte(`{"keys":[`)
	seen := make(map[string]bool, len(local)+len(others))
	for _, l := range local {
		if len(seen) > 0 {
			b = append(b, ',')
		}
		seen[l.KeyID] = true
		b = append(b, l.JWK...)
	}
	for _, k := range others {
		if seen[k.KeyID] {
			continue
		}
		data, err := json.Marshal(k)
		if err != nil {
			continue // validated when read: cannot happen
		}
		if len(seen) > 0 {
			b = append(b, ',')
		}
		seen[k.KeyID] = true
		b = append(b, data...)
	}
	return append(b, "]}"...)
}
