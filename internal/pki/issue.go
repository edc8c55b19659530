package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// IssueParams is everything needed to build a certificate.
type IssueParams struct {
	Template *Template
	CSR      *x509.CertificateRequest
	// APISubject and APIExtensions are honoured only by API passthrough
	// templates, as on AWS.
	APISubject    *Subject
	APIExtensions *Extensions
	// Issuer is the issuing CA's certificate; nil for a self-signed
	// certificate (root templates).
	Issuer           *x509.Certificate
	Serial           *big.Int
	NotBefore        time.Time
	NotAfter         time.Time
	SigningAlgorithm SigningAlgorithm
	// CAExtensions are added by the issuing CA's configuration (CRL
	// distribution points, authority information access). They yield to the
	// template and override passthrough values.
	CAExtensions []pkix.Extension
}

// ErrNoSubject means the certificate would name neither a subject nor a
// subject alternative name.
var ErrNoSubject = errors.New("the certificate would have neither a subject nor a subject alternative name")

// extSet collects extensions in priority order: the first source to set an
// OID wins, later ones are ignored.
type extSet struct{ list []pkix.Extension }

func (s *extSet) has(oid asn1.ObjectIdentifier) bool { return findExtension(s.list, oid) != nil }

func (s *extSet) add(e pkix.Extension) {
	if !s.has(e.Id) {
		s.list = append(s.list, e)
	}
}

// Build returns the certificate template for p. It applies the AWS template
// order of operations: template definition, then CA configuration, then API
// passthrough, then CSR passthrough.
func Build(p IssueParams) (*x509.Certificate, error) {
	t := p.Template
	if t == nil || p.CSR == nil || p.Serial == nil {
		return nil, errors.New("template, CSR and serial are required")
	}
	if !p.NotAfter.After(p.NotBefore) {
		return nil, errors.New("the certificate would end before it starts")
	}
	var api Extensions
	if t.APIPassthrough && p.APIExtensions != nil {
		api = *p.APIExtensions
	}

	// Subject: the API value wins with API templates; otherwise the CSR's.
	rawSubject := p.CSR.RawSubject
	if t.APIPassthrough && !p.APISubject.IsEmpty() {
		der, err := p.APISubject.DER()
		if err != nil {
			return nil, err
		}
		rawSubject = der
	}
	emptySubject := isEmptyName(rawSubject)

	var exts extSet

	// 1. Template definition.
	bc, err := MarshalBasicConstraints(t.IsCA(), t.PathLen, t.BasicConstraintsCritical)
	if err != nil {
		return nil, err
	}
	exts.add(bc)
	if !t.Blank {
		ku, err := MarshalKeyUsage(TemplateKeyUsage(t, p.CSR.PublicKey), true)
		if err != nil {
			return nil, err
		}
		exts.add(ku)
		if len(t.ExtKeyUsage) > 0 {
			eku, err := MarshalExtKeyUsage(t.ExtKeyUsage, t.ExtKeyUsageCritical)
			if err != nil {
				return nil, err
			}
			exts.add(eku)
		}
	}

	// 2. CA configuration.
	if t.Kind != RootCA {
		for _, e := range p.CAExtensions {
			exts.add(e)
		}
	}

	// 3. API passthrough.
	if t.APIPassthrough {
		if len(api.SubjectAlternativeNames) > 0 {
			if len(api.SubjectAlternativeNames) > 150 {
				return nil, errors.New("at most 150 subject alternative names are allowed")
			}
			der, err := MarshalGeneralNames(api.SubjectAlternativeNames)
			if err != nil {
				return nil, fmt.Errorf("subject alternative names: %w", err)
			}
			exts.add(pkix.Extension{Id: OIDExtSubjectAltName, Critical: emptySubject, Value: der})
		}
		if t.Blank && api.KeyUsage != nil {
			ku, err := MarshalKeyUsage(api.KeyUsage.X509(), true)
			if err != nil {
				return nil, fmt.Errorf("key usage: %w", err)
			}
			exts.add(ku)
		}
		if t.Blank && len(api.ExtendedKeyUsage) > 0 {
			oids, err := ExtKeyUsageOIDs(api.ExtendedKeyUsage)
			if err != nil {
				return nil, err
			}
			eku, err := MarshalExtKeyUsage(oids, false)
			if err != nil {
				return nil, err
			}
			exts.add(eku)
		}
		if len(api.CertificatePolicies) > 0 {
			cp, err := MarshalCertificatePolicies(api.CertificatePolicies)
			if err != nil {
				return nil, err
			}
			exts.add(cp)
		}
		custom, err := CustomExtensionsToPKIX(api.CustomExtensions)
		if err != nil {
			return nil, err
		}
		for _, e := range custom {
			if managedExtension(e.Id) {
				return nil, fmt.Errorf("custom extension %s is set by Sigil; use the dedicated field", e.Id)
			}
			if exts.has(e.Id) {
				return nil, fmt.Errorf("custom extension %s conflicts with an extension the certificate already has", e.Id)
			}
			exts.add(e)
		}
	}

	// 4. CSR: the subject alternative name always; everything else only with
	// CSR passthrough templates.
	for _, e := range p.CSR.Extensions {
		switch {
		case e.Id.Equal(OIDExtSubjectAltName):
			if emptySubject && !e.Critical {
				e.Critical = true // RFC 5280 4.2.1.6
			}
			exts.add(e)
		case !t.CSRPassthrough:
		case managedExtension(e.Id):
			// Key identifiers are computed; basic constraints come from the
			// template only.
		case (e.Id.Equal(OIDExtKeyUsage) || e.Id.Equal(OIDExtExtKeyUsage)) && !t.Blank:
		default:
			exts.add(e)
		}
	}

	if emptySubject && !exts.has(OIDExtSubjectAltName) {
		return nil, ErrNoSubject
	}

	ski, err := KeyID(p.CSR.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, err
	}
	cert := &x509.Certificate{
		SerialNumber:       p.Serial,
		RawSubject:         rawSubject,
		NotBefore:          p.NotBefore.UTC().Truncate(time.Second),
		NotAfter:           p.NotAfter.UTC().Truncate(time.Second),
		SignatureAlgorithm: p.SigningAlgorithm.X509(),
		SubjectKeyId:       ski,
		ExtraExtensions:    exts.list,
		PublicKey:          p.CSR.PublicKey,
	}
	if p.Issuer != nil {
		// crypto/x509 copies the issuer's SKI; when the issuer has none (an
		// external CA), derive it from the issuer key so that the AKI is
		// always present.
		cert.AuthorityKeyId = p.Issuer.SubjectKeyId
		if len(cert.AuthorityKeyId) == 0 {
			if cert.AuthorityKeyId, err = KeyID(p.Issuer.RawSubjectPublicKeyInfo); err != nil {
				return nil, err
			}
		}
	}
	return cert, nil
}

// TemplateKeyUsage is the key usage a non-blank template gives a subject key.
// Key encipherment needs an RSA key: RFC 8813 forbids keyEncipherment and
// dataEncipherment for EC keys (zlint e_ecdsa_allowed_ku), so they are
// dropped for EC keys where AWS's templates would set them.
func TemplateKeyUsage(t *Template, subjectKey crypto.PublicKey) x509.KeyUsage {
	ku := t.KeyUsage
	if _, isEC := subjectKey.(*ecdsa.PublicKey); isEC {
		ku &^= x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment
	}
	return ku
}

// managedExtension reports whether Sigil computes the extension itself.
func managedExtension(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(OIDExtSubjectKeyID) || oid.Equal(OIDExtAuthorityKeyID) || oid.Equal(OIDExtBasicConstraints)
}

// Sign signs tpl. issuer is nil for a self-signed certificate.
func Sign(tpl, issuer *x509.Certificate, signer crypto.Signer) ([]byte, error) {
	parent := issuer
	if parent == nil {
		parent = tpl
	}
	return x509.CreateCertificate(rand.Reader, tpl, parent, tpl.PublicKey, signer)
}

// KeyID computes a key identifier per RFC 5280 4.2.1.2 method 1: the SHA-1
// of the subjectPublicKey BIT STRING.
func KeyID(spki []byte) ([]byte, error) {
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, fmt.Errorf("parse public key info: %w", err)
	}
	sum := sha1.Sum(info.PublicKey.Bytes)
	return sum[:], nil
}

// RandomSerial returns a random positive serial number of 127 bits of entropy
// that always fits in 16 DER content octets.
func RandomSerial() (*big.Int, error) {
	var b [16]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		b[0] &= 0x7f
		n := new(big.Int).SetBytes(b[:])
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// SerialHex renders a serial number as the fixed-width lowercase hex that
// appears in certificate ARNs.
func SerialHex(n *big.Int) string { return fmt.Sprintf("%032x", n) }

// ParseSerialHex reads a serial in hex, with or without colons, and returns
// its canonical form.
func ParseSerialHex(s string) (*big.Int, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			clean = append(clean, s[i])
		}
	}
	if len(clean) == 0 || len(clean) > 40 {
		return nil, errors.New("serial must be 1 to 40 hex digits")
	}
	n, ok := new(big.Int).SetString(string(clean), 16)
	if !ok || n.Sign() <= 0 {
		return nil, fmt.Errorf("serial %q is not a positive hex number", s)
	}
	return n, nil
}
