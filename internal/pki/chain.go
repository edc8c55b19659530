package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// ParseCertificatesPEM decodes a sequence of PEM CERTIFICATE blocks. Text
// between blocks is ignored; any other block type is an error.
func ParseCertificatesPEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("expected PEM CERTIFICATE blocks, found %q", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d cannot be parsed: %v", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		if bytes.Contains(b, []byte("-----BEGIN")) {
			return nil, errors.New("the PEM data is malformed")
		}
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// EncodeCertificatesPEM concatenates certificates as PEM.
func EncodeCertificatesPEM(certs ...[]byte) []byte {
	var buf bytes.Buffer
	for _, der := range certs {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	return buf.Bytes()
}

// IsSelfSigned reports whether c names itself as issuer and its signature
// verifies with its own key.
func IsSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// criticalAllowed lists the extensions a CA certificate may mark critical
// when imported (AWS ImportCertificateAuthorityCertificate rules).
var criticalAllowed = []asn1.ObjectIdentifier{
	OIDExtAuthorityKeyID, OIDExtBasicConstraints, OIDExtCertPolicies, OIDExtExtKeyUsage,
	OIDExtInhibitAnyPolicy, OIDExtIssuerAltName, OIDExtKeyUsage, OIDExtNameConstraints,
	OIDExtPolicyMappings, OIDExtSubjectAltName, OIDExtSubjectDirAttrs, OIDExtSubjectKeyID,
	OIDExtSubjectInfo,
}

// CheckCACertificate checks the rules a CA certificate must meet on its own:
// basic constraints present, critical and CA:TRUE, and only permitted
// extensions marked critical.
func CheckCACertificate(c *x509.Certificate) error {
	bc := findExtension(c.Extensions, OIDExtBasicConstraints)
	if bc == nil || !c.BasicConstraintsValid || !c.IsCA {
		return errors.New("the certificate is not a CA certificate (basic constraints CA:TRUE is required)")
	}
	if !bc.Critical {
		return errors.New("the basic constraints extension must be critical")
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("the key usage extension does not allow certificate signing")
	}
	for _, e := range c.Extensions {
		if !e.Critical {
			continue
		}
		ok := false
		for _, a := range criticalAllowed {
			if a.Equal(e.Id) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("extension %s must not be critical", e.Id)
		}
	}
	return nil
}

// VerifyChain checks that chain (issuer first, root last) certifies cert at
// time now: each certificate is signed by the next, the last is a
// self-signed root, and path validation (validity, basic constraints, path
// length, name constraints) passes.
func VerifyChain(cert *x509.Certificate, chain []*x509.Certificate, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("a certificate chain is required")
	}
	prev := cert
	for i, c := range chain {
		if !bytes.Equal(prev.RawIssuer, c.RawSubject) || prev.CheckSignatureFrom(c) != nil {
			return fmt.Errorf("chain certificate %d did not issue the certificate before it; the chain must be ordered from issuer to root", i+1)
		}
		prev = c
	}
	root := chain[len(chain)-1]
	if !IsSelfSigned(root) {
		return errors.New("the last certificate of the chain must be a self-signed root")
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	for _, c := range chain[:len(chain)-1] {
		inter.AddCert(c)
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("the chain does not validate: %v", err)
	}
	return nil
}
