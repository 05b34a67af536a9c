package caddymodule

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http/httptest"
	"testing"
)

func TestCertificateName(t *testing.T) {
	r := httptest.NewRequest("PUT", "/frontdoor/overrides/support", nil)
	r.RemoteAddr = "10.0.0.5:5555"
	if _, ok := certificateName(r); ok {
		t.Error("a request without TLS has a certificate name")
	}
	alice := &x509.Certificate{Subject: pkix.Name{CommonName: "ops-\x1balice\u202e"}}
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{alice}}
	if _, ok := certificateName(r); ok {
		t.Error("an unverified certificate names who made the change")
	}
	r.TLS.VerifiedChains = [][]*x509.Certificate{{alice}}
	if name, ok := certificateName(r); !ok || name != "ops-alice (client certificate, 10.0.0.5:5555)" {
		t.Errorf("certificate name %q %v", name, ok)
	}
	anonymous := &x509.Certificate{Subject: pkix.Name{Organization: []string{"Acme"}, OrganizationalUnit: []string{"Ops"}}}
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{anonymous}, VerifiedChains: [][]*x509.Certificate{{anonymous}}}
	if name, _ := certificateName(r); name != "OU=Ops,O=Acme (client certificate, 10.0.0.5:5555)" {
		t.Errorf("certificate without a common name: %q", name)
	}
}
