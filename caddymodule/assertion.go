package caddymodule

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/frontdoor-dev/frontdoor/internal/assertion"
)

// AssertionConfig configures the signed X-Frontdoor-Assertion JWT that
// lets vendors verify the brand headers and the customer's context.
type AssertionConfig struct {
	// Keys are PEM files of private keys (EC P-256 for ES256, Ed25519 for
	// EdDSA). The first signs; all are published at
	// /.well-known/frontdoor/jwks.json, so a new key can be published
	// before it signs. Several instances must share the same keys.
	// Default: an ephemeral key made at start, with a warning.
	Keys []string `json:"keys,omitempty"`

	// TTL is how long an assertion is valid. At most 5m. Default: 2m.
	TTL caddy.Duration `json:"ttl,omitempty"`
}

func (h *Handler) provisionAssertion() error {
	var cfg AssertionConfig
	if h.Assertion != nil {
		cfg = *h.Assertion
	}
	var err error
	if len(cfg.Keys) == 0 {
		if h.signer, err = ephemeralSigner(); err != nil {
			return fmt.Errorf("assertion: %w", err)
		}
		h.logger.Warn("no assertion keys configured: signing with a key made at start; "+
			"several instances, or a restart, need shared keys (assertion { key FILE })",
			zap.Strings("kid", h.signer.KeyIDs()))
	} else if h.signer, err = assertion.LoadSigner(cfg.Keys); err != nil {
		return fmt.Errorf("assertion: %w", err)
	}
	if cfg.TTL != 0 {
		if err := h.signer.SetTTL(time.Duration(cfg.TTL)); err != nil {
			return fmt.Errorf("assertion ttl: %w", err)
		}
	}
	return nil
}

// ephemeralSigner is made once per process, not per config: a reload must
// not invalidate the keys vendors have cached.
var ephemeralSigner = sync.OnceValues(assertion.NewEphemeralSigner)

// sign makes the backend's assertion: the brand, the journey, the request
// and exactly the context fields the backend may see.
func (h *Handler) sign(b *backendRoute, requestID, journey string, cc customerContext, fields []assertion.Field) (string, error) {
	fields = fields[:0]
	subject := ""
	for _, f := range b.context {
		if v, ok := cc.ctx.Get(f.name); ok {
			fields = append(fields, assertion.Field{Name: f.claim, Value: v})
			if f.name == customerIDField {
				subject = v
			}
		}
	}
	return h.signer.Sign(assertion.Claims{
		Issuer: h.Brand, Audience: b.name, Subject: subject, ID: requestID,
		Journey: journey, Session: cc.state, Context: fields,
	}, time.Now())
}

// serveJWKS publishes the public keys vendors verify assertions with.
func (h *Handler) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(h.jwks) //nolint:errcheck
	}
}
