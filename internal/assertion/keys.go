package assertion

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/go-jose/go-jose/v4"
)

var p256 = elliptic.P256()

// key is one signing key: its go-jose signer and what is published of it.
type key struct {
	// public is published in the JWK Set; its KeyID is the RFC 7638
	// thumbprint (base64url) and its Algorithm ES256 or EdDSA.
	public jose.JSONWebKey
	signer jose.Signer // puts alg, kid and typ "JWT" in the protected header
	// lastExp is the "exp" (unix seconds) of the last token the key
	// signed. Published shares one counter between all loads of a key.
	lastExp *atomic.Int64
}

// signedUntil records that the key signed a token expiring at exp. The
// load comes first so that the common case, a second that is already
// recorded, writes nothing shared.
func (k *key) signedUntil(exp int64) {
	for {
		last := k.lastExp.Load()
		if last >= exp || k.lastExp.CompareAndSwap(last, exp) {
			return
		}
	}
}

// newKey accepts a P-256 or Ed25519 private key and derives its public JWK,
// its key id and a signer.
func newKey(priv any) (*key, error) {
	var alg jose.SignatureAlgorithm
	var pub any
	switch priv := priv.(type) {
	case *ecdsa.PrivateKey:
		if priv.Curve != p256 {
			return nil, fmt.Errorf("EC key on curve %s is not supported: only P-256 (ES256) is", priv.Curve.Params().Name)
		}
		alg, pub = jose.ES256, priv.Public()
	case ed25519.PrivateKey:
		if len(priv) != ed25519.PrivateKeySize {
			return nil, errors.New("invalid Ed25519 key: wrong length")
		}
		alg, pub = jose.EdDSA, priv.Public()
	case *rsa.PrivateKey:
		return nil, errors.New("RSA keys are not supported: use an EC P-256 (ES256) or Ed25519 (EdDSA) key")
	case *ecdh.PrivateKey:
		return nil, fmt.Errorf("%v keys cannot sign: use an EC P-256 (ES256) or Ed25519 (EdDSA) key", priv.Curve())
	default:
		return nil, fmt.Errorf("%T keys are not supported: use an EC P-256 (ES256) or Ed25519 (EdDSA) key", priv)
	}
	public := jose.JSONWebKey{Key: pub, Algorithm: string(alg), Use: "sig"}
	sum, err := public.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("computing key id: %v", err)
	}
	public.KeyID = base64.RawURLEncoding.EncodeToString(sum)
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: priv, KeyID: public.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("making %s signer: %v", alg, err)
	}
	return &key{public: public, signer: signer, lastExp: new(atomic.Int64)}, nil
}

// LoadSigner reads one private key from each PEM file. The first key signs;
// all of them are published, so that during a rotation tokens signed with a
// key that is being retired, or by instances not yet reloaded, still verify.
//
// A file holds a PKCS#8 "PRIVATE KEY" (EC P-256 for ES256, Ed25519 for EdDSA)
// or a SEC 1 "EC PRIVATE KEY" on P-256, optionally preceded by the "EC
// PARAMETERS" block that `openssl ecparam -genkey` writes.
func LoadSigner(pemFiles []string) (*Signer, error) {
	if len(pemFiles) == 0 {
		return nil, errors.New("loading assertion keys: no key files given")
	}
	keys := make([]*key, 0, len(pemFiles))
	for _, file := range pemFiles {
		k, err := loadKeyFile(file)
		if err != nil {
			return nil, fmt.Errorf("loading assertion key %s: %v", file, err)
		}
		for j, prev := range keys {
			if prev.public.KeyID == k.public.KeyID {
				return nil, fmt.Errorf("loading assertion key %s: same key as %s", file, pemFiles[j])
			}
		}
		keys = append(keys, k)
	}
	return newSigner(keys)
}

func loadKeyFile(file string) (*key, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("file is empty")
	}
	priv, err := parsePEM(data)
	if err != nil {
		return nil, err
	}
	return newKey(priv)
}

// parsePEM returns the one private key in data.
func parsePEM(data []byte) (any, error) {
	var found *pem.Block
	var others []string
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "EC PARAMETERS":
			// Written by `openssl ecparam -genkey` before the key; the key
			// itself names its curve.
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			if found != nil {
				return nil, errors.New("more than one private key in the file: give each key its own file")
			}
			found = block
		default:
			others = append(others, block.Type)
		}
	}
	if found == nil {
		if len(others) > 0 {
			return nil, fmt.Errorf("no private key in the file, only %s", strings.Join(others, ", "))
		}
		return nil, errors.New("no PEM data in the file")
	}
	if strings.Contains(found.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, errors.New("encrypted private keys are not supported")
	}
	switch found.Type {
	case "PRIVATE KEY":
		priv, err := x509.ParsePKCS8PrivateKey(found.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing PKCS#8 private key: %v", err)
		}
		return priv, nil
	case "EC PRIVATE KEY":
		priv, err := x509.ParseECPrivateKey(found.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing SEC 1 EC private key: %v", err)
		}
		return priv, nil
	case "RSA PRIVATE KEY":
		return nil, errors.New("RSA keys are not supported: use an EC P-256 (ES256) or Ed25519 (EdDSA) key")
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("encrypted private keys are not supported")
	default:
		return nil, fmt.Errorf("unsupported PEM block %q: want \"PRIVATE KEY\" (PKCS#8) or \"EC PRIVATE KEY\" (SEC 1)", found.Type)
	}
}

// GenerateKeyPEM returns a new private key for alg, "ES256" (P-256) or
// "EdDSA" (Ed25519), as a PKCS#8 "PRIVATE KEY" PEM block that LoadSigner
// accepts. DefaultAlgorithm is the one to use unless a vendor asks for
// another.
func GenerateKeyPEM(alg string) ([]byte, error) {
	priv, err := generateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("generating assertion key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding %s assertion key: %v", alg, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// generateKey returns a new private key for alg, "ES256" or "EdDSA".
func generateKey(alg string) (any, error) {
	switch alg {
	case "ES256":
		priv, err := ecdsa.GenerateKey(p256, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("making a P-256 key: %v", err)
		}
		return priv, nil
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("making an Ed25519 key: %v", err)
		}
		return priv, nil
	default:
		return nil, fmt.Errorf("unsupported algorithm %q: want ES256 or EdDSA", alg)
	}
}
