package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
)

// MaxCSRBytes bounds the size of a CSR we are willing to parse.
const MaxCSRBytes = 64 << 10

// ParseCSR decodes a certificate signing request given as PEM (or, for
// robustness, raw DER), checks its self-signature, and checks that it names a
// subject or a subject alternative name and carries a supported key.
func ParseCSR(b []byte) (*x509.CertificateRequest, error) {
	if len(b) == 0 {
		return nil, errors.New("the CSR is empty")
	}
	if len(b) > MaxCSRBytes {
		return nil, fmt.Errorf("the CSR is larger than %d bytes", MaxCSRBytes)
	}
	der := b
	if block, rest := pem.Decode(b); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("expected a PEM CERTIFICATE REQUEST block, found %q", block.Type)
		}
		if next, _ := pem.Decode(rest); next != nil {
			return nil, errors.New("the CSR contains more than one PEM block")
		}
		der = block.Bytes
	} else if bytes.Contains(b, []byte("-----BEGIN")) {
		return nil, errors.New("the CSR is not valid PEM")
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("the CSR cannot be parsed: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, errors.New("the CSR signature does not verify")
	}
	if _, err := KeyAlgorithmOf(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("the CSR key is not supported: %v", err)
	}
	if isEmptyName(csr.RawSubject) && findExtension(csr.Extensions, OIDExtSubjectAltName) == nil {
		return nil, errors.New("the CSR has neither a subject nor a subject alternative name")
	}
	return csr, nil
}

// CreateCSR makes the CSR of a CA key: the configured subject, a critical
// basic constraints request for a CA, and optional key usage and subject
// information access requests.
func CreateCSR(subject *Subject, alg SigningAlgorithm, signer crypto.Signer, ku *KeyUsage, sia []AccessDescription) ([]byte, error) {
	raw, err := subject.DER()
	if err != nil {
		return nil, err
	}
	bc, err := MarshalBasicConstraints(true, -1, true)
	if err != nil {
		return nil, err
	}
	exts := []pkix.Extension{bc}
	if ku != nil && ku.X509() != 0 {
		e, err := MarshalKeyUsage(ku.X509(), true)
		if err != nil {
			return nil, err
		}
		exts = append(exts, e)
	}
	if len(sia) > 0 {
		e, err := MarshalSubjectInfoAccess(sia)
		if err != nil {
			return nil, err
		}
		exts = append(exts, e)
	}
	tpl := &x509.CertificateRequest{RawSubject: raw, SignatureAlgorithm: alg.X509(), ExtraExtensions: exts}
	return x509.CreateCertificateRequest(rand.Reader, tpl, signer)
}

// EncodePEM encodes one DER block.
func EncodePEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func isEmptyName(raw []byte) bool {
	var rdn pkix.RDNSequence
	return len(raw) == 0 || bytes.Equal(raw, []byte{0x30, 0x00}) || (parseRDN(raw, &rdn) == nil && len(rdn) == 0)
}

func findExtension(exts []pkix.Extension, oid asn1.ObjectIdentifier) *pkix.Extension {
	for i := range exts {
		if oid.Equal(exts[i].Id) {
			return &exts[i]
		}
	}
	return nil
}
