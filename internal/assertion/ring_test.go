package assertion

import (
	"context"
	"encoding/json"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// memStorage is a Storage in memory, as Caddy's file storage would be
// across a restart.
type memStorage struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (m *memStorage) Load(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[key]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return v, nil
}

func (m *memStorage) Store(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = map[string][]byte{}
	}
	m.data[key] = value
	return nil
}

func listedKids(p *Published, now time.Time) map[string]bool {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(p.JWKS(now), &set); err != nil {
		panic(err)
	}
	kids := map[string]bool{}
	for _, k := range set.Keys {
		kids[k.KeyID] = true
	}
	return kids
}

// TestRingRotates: the next key is listed a whole period before it signs,
// the old one stays listed until its last token expires, and a restart
// from storage signs with the key vendors already have.
func TestRingRotates(t *testing.T) {
	store := &memStorage{}
	pub := NewPublished()
	fail := func(err error) { t.Error(err) }
	every := time.Minute
	r, err := NewRing("ES256", every, store, pub, fail, testNow)
	if err != nil {
		t.Fatal(err)
	}
	first := r.Signer(testNow)
	kids := first.KeyIDs()
	if len(kids) != 2 {
		t.Fatalf("ring holds %d keys, want the signing and the next", len(kids))
	}
	if got := listedKids(pub, testNow); !got[kids[0]] || !got[kids[1]] {
		t.Fatalf("listed %v, want the signing key and the next %v", got, kids)
	}
	sign(t, first, testClaims(), testNow.Add(every-time.Second))

	// A restart within the period signs with the same key.
	r2, err := NewRing("ES256", every, store, NewPublished(), fail, testNow.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.Signer(testNow.Add(time.Second)).KeyIDs(); got[0] != kids[0] || got[1] != kids[1] {
		t.Errorf("after a restart keys %v, want %v", got, kids)
	}

	at := testNow.Add(every + time.Second)
	second := r.Signer(at)
	if second.KeyID() != kids[1] {
		t.Fatalf("after a period %s signs, want the published next key %s", second.KeyID(), kids[1])
	}
	listed := listedKids(pub, at)
	if !listed[kids[0]] || !listed[second.KeyIDs()[1]] {
		t.Errorf("listed %v: want the old key (its token is valid) and the new next key", listed)
	}
	// The old key's last token: signed a second before the period ended.
	if got := listedKids(pub, testNow.Add(every-time.Second+DefaultTTL)); got[kids[0]] {
		t.Error("the old key is listed after its last token expired")
	}
	r.Close()
	r2.Close()
}

// TestFleetListsOtherInstancesKeys: two processes sharing a Redis each
// serve both keys; a key let go stays until its last token expires; what
// is in Redis but no public signing key is not served.
func TestFleetListsOtherInstancesKeys(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()
	a, b := NewPublished(), NewPublished()
	sa := a.Hold(newTestSigner(t, "ES256"))
	sb := b.Hold(newTestSigner(t, "EdDSA"))
	now := time.Now()
	fa := NewFleet(client, a, zap.NewNop())
	fb := NewFleet(client, b, zap.NewNop())
	defer fb.Close()
	for _, f := range []*Fleet{fa, fb} {
		if err := f.write(now); err != nil {
			t.Fatal(err)
		}
	}
	// A private key and a forged kid slipped into Redis are not served.
	priv, _ := json.Marshal(jose.JSONWebKey{Key: mustPriv(t), KeyID: "x", Algorithm: "ES256", Use: "sig"})
	mr.ZAdd(FleetKey, float64(now.Add(time.Hour).UnixMilli()), string(priv))
	got := map[string]bool{}
	var set jose.JSONWebKeySet
	fa.AskMaxAge(10 * time.Second)
	if err := fa.write(now); err != nil {
		t.Fatal(err)
	}
	body, maxAge := fb.JWKS(context.Background(), now)
	if maxAge != 10*time.Second {
		t.Errorf("fleet max-age %v, want the 10s a rotating instance asked for", maxAge)
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		got[k.KeyID] = true
		if !k.IsPublic() {
			t.Errorf("a private key is served: %s", k.KeyID)
		}
	}
	if !got[sa.KeyID()] || !got[sb.KeyID()] || len(got) != 2 {
		t.Errorf("fleet JWKS has %v, want %s and %s only", got, sa.KeyID(), sb.KeyID())
	}

	// a signs a token and stops: its key stays until that token expires
	// (and a minute of leeway), then leaves.
	sign(t, sa, testClaims(), now)
	a.Release(sa)
	fa.Close()
	later := now.Add(DefaultTTL + fleetMargin - time.Second)
	if keys, _, err := fb.read(context.Background(), later); err != nil || !containsKid(keys, sa.KeyID()) {
		t.Errorf("a's key left Redis before its last token expired: %v", err)
	}
	if keys, _, err := fb.read(context.Background(), now.Add(DefaultTTL+fleetMargin+2*time.Second)); err != nil || containsKid(keys, sa.KeyID()) {
		t.Errorf("a's key is still in Redis after its last token expired: %v", err)
	}
}

// TestFleetJWKSWhenTheReadFails: a set read while Redis fails is served
// for fleetCacheFor and cached by vendors for its max-age. A client that
// left while the set was read made it this instance's keys alone, served
// to the next vendors with the full max-age: jwx, which does not refetch
// on an unknown kid, then refused the other instances' tokens for
// minutes. The client's leaving does not end the read; a failed read
// serves the fleet as last read; and a set that never had the fleet's keys
// may be cached for moments only.
func TestFleetJWKSWhenTheReadFails(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer client.Close()
	a, b := NewPublished(), NewPublished()
	sa := a.Hold(newTestSigner(t, "ES256"))
	b.Hold(newTestSigner(t, "ES256"))
	now := time.Now()
	fa := NewFleet(client, a, zap.NewNop())
	defer fa.Close()
	if err := fa.write(now); err != nil {
		t.Fatal(err)
	}
	fb := NewFleet(client, b, zap.NewNop())
	defer fb.Close()
	kids := func(body []byte) map[string]bool {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(body, &set); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, k := range set.Keys {
			got[k.KeyID] = true
		}
		return got
	}

	left, cancel := context.WithCancel(context.Background())
	cancel()
	if body, _ := fb.JWKS(left, now); !kids(body)[sa.KeyID()] {
		t.Errorf("a client that left made the set miss the other instance's key")
	}
	if body, _ := fb.JWKS(context.Background(), now.Add(time.Second)); !kids(body)[sa.KeyID()] {
		t.Errorf("after a client left, the next vendor's set misses the other instance's key")
	}

	mr.Close() // Redis fails after a good read
	if body, _ := fb.JWKS(context.Background(), now.Add(3*fleetCacheFor)); !kids(body)[sa.KeyID()] {
		t.Errorf("with Redis failing, the set lost the other instance's key it had read")
	}

	never := NewFleet(client, NewPublished(), zap.NewNop()) // Redis failing from the start
	defer never.Close()
	if _, maxAge := never.JWKS(context.Background(), now); maxAge <= 0 || maxAge > fleetCacheFor {
		t.Errorf("a set without the fleet's keys may be cached for %v, want at most %v", maxAge, fleetCacheFor)
	}
}

func containsKid(keys []jose.JSONWebKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID == kid {
			return true
		}
	}
	return false
}

func mustPriv(t *testing.T) any {
	priv, err := generateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	return priv
}
