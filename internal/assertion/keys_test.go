package assertion

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
)

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func mustPKCS8(t *testing.T, priv any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PRIVATE KEY", der)
}

func mustSEC1(t *testing.T, priv *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("EC PRIVATE KEY", der)
}

// TestLoadSEC1 loads the same P-256 key as SEC 1, as `openssl ecparam
// -genkey` writes it (with its EC PARAMETERS block), and as PKCS#8: all three
// must be the same key to a vendor.
func TestLoadSEC1(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	prime256v1, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	openssl := append(pemBlock("EC PARAMETERS", prime256v1), mustSEC1(t, priv)...)

	var kids []string
	for name, data := range map[string][]byte{
		"sec1.pem":    mustSEC1(t, priv),
		"openssl.pem": openssl,
		"pkcs8.pem":   mustPKCS8(t, priv),
	} {
		s, err := LoadSigner([]string{writeKey(t, name, data)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Algorithm() != "ES256" {
			t.Errorf("%s: algorithm %s", name, s.Algorithm())
		}
		token := sign(t, s, testClaims(), testNow)
		if _, _, err := verify(vendorJWKS(t, s.JWKS()), token, "nightdesk", testNow); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		kids = append(kids, s.KeyIDs()[0])
	}
	if kids[0] != kids[1] || kids[1] != kids[2] {
		t.Errorf("one key, several kids: %q", kids)
	}
}

func TestLoadSignerErrors(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	good, err := GenerateKeyPEM("ES256")
	if err != nil {
		t.Fatal(err)
	}
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{
		Type:    "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"},
		Bytes:   []byte("ciphertext"),
	})

	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"empty":          {[]byte{}, "file is empty"},
		"blank":          {[]byte("\n  \n"), "file is empty"},
		"garbage":        {[]byte("this is not a key\n"), "no PEM data"},
		"binary DER":     {good[40:], "no PEM data"},
		"RSA PKCS#8":     {mustPKCS8(t, rsaKey), "RSA keys are not supported"},
		"RSA PKCS#1":     {pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), "RSA keys are not supported"},
		"P-384 PKCS#8":   {mustPKCS8(t, p384), "curve P-384 is not supported"},
		"P-384 SEC 1":    {mustSEC1(t, p384), "curve P-384 is not supported"},
		"X25519":         {mustPKCS8(t, x25519), "X25519 keys cannot sign"},
		"public key":     {pemBlock("PUBLIC KEY", pubDER), "no private key in the file, only PUBLIC KEY"},
		"two keys":       {append(append([]byte{}, good...), good...), "more than one private key"},
		"PKCS#8 garbage": {pemBlock("PRIVATE KEY", []byte("junk")), "parsing PKCS#8 private key"},
		"SEC 1 garbage":  {pemBlock("EC PRIVATE KEY", []byte("junk")), "parsing SEC 1 EC private key"},
		"encrypted":      {pemBlock("ENCRYPTED PRIVATE KEY", []byte("junk")), "encrypted private keys are not supported"},
		"legacy enc":     {legacyEncrypted, "encrypted private keys are not supported"},
		"OpenSSH":        {pemBlock("OPENSSH PRIVATE KEY", []byte("junk")), `unsupported PEM block "OPENSSH PRIVATE KEY"`},
	} {
		t.Run(name, func(t *testing.T) {
			file := writeKey(t, "bad-key.pem", tc.data)
			_, err := LoadSigner([]string{file})
			if err == nil {
				t.Fatal("accepted")
			}
			// The message must say which file and what is wrong with it.
			if msg := err.Error(); !strings.Contains(msg, file) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want the file name and %q", msg, tc.want)
			}
			// A bad file anywhere in the list fails the whole load.
			if _, err := LoadSigner([]string{writeKey(t, "good.pem", good), file}); err == nil {
				t.Error("accepted as second key")
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "nope.pem")
		if _, err := LoadSigner([]string{file}); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no files", func(t *testing.T) {
		if _, err := LoadSigner(nil); err == nil || !strings.Contains(err.Error(), "no key files") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("same key twice", func(t *testing.T) {
		a, b := writeKey(t, "a.pem", good), writeKey(t, "b.pem", good)
		_, err := LoadSigner([]string{a, b})
		if err == nil || !strings.Contains(err.Error(), b+": same key as "+a) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestNewKeyRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		priv any
		want string
	}{
		"short Ed25519": {ed25519.PrivateKey(make([]byte, 10)), "invalid Ed25519 key"},
		"other type":    {"secret", "string keys are not supported"},
	} {
		if _, err := newKey(tc.priv); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}
