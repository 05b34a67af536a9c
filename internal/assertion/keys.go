package assertion

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

var p256 = elliptic.P256()

// key is one signing key with everything about it that is published.
type key struct {
	alg string // "ES256" or "EdDSA"
	kid string // RFC 7638 thumbprint, base64url
	jwk []byte // public JWK, JSON
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

// newKey accepts a P-256 or Ed25519 private key and derives its public JWK
// and key id.
func newKey(priv any) (*key, error) {
	b64 := base64.RawURLEncoding
	switch priv := priv.(type) {
	case *ecdsa.PrivateKey:
		if priv.Curve != p256 {
			return nil, fmt.Errorf("EC key on curve %s is not supported: only P-256 (ES256) is", priv.Curve.Params().Name)
		}
		pub, err := priv.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			return nil, fmt.Errorf("invalid EC key: %v", err)
		}
		x, y := b64.EncodeToString(pub[1:33]), b64.EncodeToString(pub[33:])
		// RFC 7638 §3.2: required members only, in lexicographic order,
		// no whitespace.
		kid := thumbprint(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`)
		return &key{
			alg: "ES256",
			kid: kid,
			jwk: []byte(`{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y +
				`","kid":"` + kid + `","alg":"ES256","use":"sig"}`),
			ec: priv,
		}, nil
	case ed25519.PrivateKey:
		if len(priv) != ed25519.PrivateKeySize {
			return nil, errors.New("invalid Ed25519 key: wrong length")
		}
		x := b64.EncodeToString(priv.Public().(ed25519.PublicKey))
		kid := thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`)
		return &key{
			alg: "EdDSA",
			kid: kid,
			jwk: []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + x +
				`","kid":"` + kid + `","alg":"EdDSA","use":"sig"}`),
			ed: priv,
		}, nil
	case *rsa.PrivateKey:
		return nil, errors.New("RSA keys are not supported: use an EC P-256 (ES256) or Ed25519 (EdDSA) key")
	case *ecdh.PrivateKey:
		return nil, fmt.Errorf("%v keys cannot sign: use an EC P-256 (ES256) or Ed25519 (EdDSA) key", priv.Curve())
	default:
		return nil, fmt.Errorf("%T keys are not supported: use an EC P-256 (ES256) or Ed25519 (EdDSA) key", priv)
	}
}

func thumbprint(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
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
			if prev.kid == k.kid {
				return nil, fmt.Errorf("loading assertion key %s: same key as %s", file, pemFiles[j])
			}
		}
		keys = append(keys, k)
	}
	return newSigner(keys), nil
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
// accepts.
func GenerateKeyPEM(alg string) ([]byte, error) {
	var priv any
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(p256, rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("generating assertion key: unsupported algorithm %q: want ES256 or EdDSA", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generating %s assertion key: %v", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding %s assertion key: %v", alg, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
