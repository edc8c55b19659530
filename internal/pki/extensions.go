package pki

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// Extension OIDs used by Sigil.
var (
	OIDExtSubjectKeyID      = asn1.ObjectIdentifier{2, 5, 29, 14}
	OIDExtKeyUsage          = asn1.ObjectIdentifier{2, 5, 29, 15}
	OIDExtSubjectAltName    = asn1.ObjectIdentifier{2, 5, 29, 17}
	OIDExtIssuerAltName     = asn1.ObjectIdentifier{2, 5, 29, 18}
	OIDExtBasicConstraints  = asn1.ObjectIdentifier{2, 5, 29, 19}
	OIDExtNameConstraints   = asn1.ObjectIdentifier{2, 5, 29, 30}
	OIDExtCRLDistribution   = asn1.ObjectIdentifier{2, 5, 29, 31}
	OIDExtCertPolicies      = asn1.ObjectIdentifier{2, 5, 29, 32}
	OIDExtPolicyMappings    = asn1.ObjectIdentifier{2, 5, 29, 33}
	OIDExtAuthorityKeyID    = asn1.ObjectIdentifier{2, 5, 29, 35}
	OIDExtPolicyConstraints = asn1.ObjectIdentifier{2, 5, 29, 36}
	OIDExtExtKeyUsage       = asn1.ObjectIdentifier{2, 5, 29, 37}
	OIDExtFreshestCRL       = asn1.ObjectIdentifier{2, 5, 29, 46}
	OIDExtInhibitAnyPolicy  = asn1.ObjectIdentifier{2, 5, 29, 54}
	OIDExtSubjectDirAttrs   = asn1.ObjectIdentifier{2, 5, 29, 9}
	OIDExtAuthorityInfo     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	OIDExtSubjectInfo       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 11}
	oidQualifierCPS         = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 2, 1}
	oidAccessCARepository   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 5}
	oidAccessRPKIManifest   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 10}
	oidAccessRPKINotify     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 13}
	oidEKUServerAuth        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	oidEKUClientAuth        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
	oidEKUCodeSigning       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}
	oidEKUEmailProtection   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}
	oidEKUTimeStamping      = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidEKUOCSPSigning       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 9}
	oidEKUSmartCardLogin    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 2}
	oidEKUDocumentSigning   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}
	oidEKUCertTransparency  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 4}
)

// KeyUsage lists the nine key usage bits by name.
type KeyUsage struct {
	DigitalSignature bool `json:"DigitalSignature,omitempty"`
	NonRepudiation   bool `json:"NonRepudiation,omitempty"`
	KeyEncipherment  bool `json:"KeyEncipherment,omitempty"`
	DataEncipherment bool `json:"DataEncipherment,omitempty"`
	KeyAgreement     bool `json:"KeyAgreement,omitempty"`
	KeyCertSign      bool `json:"KeyCertSign,omitempty"`
	CRLSign          bool `json:"CRLSign,omitempty"`
	EncipherOnly     bool `json:"EncipherOnly,omitempty"`
	DecipherOnly     bool `json:"DecipherOnly,omitempty"`
}

// X509 returns the crypto/x509 bit set.
func (k KeyUsage) X509() x509.KeyUsage {
	var u x509.KeyUsage
	set := func(b bool, bit x509.KeyUsage) {
		if b {
			u |= bit
		}
	}
	set(k.DigitalSignature, x509.KeyUsageDigitalSignature)
	set(k.NonRepudiation, x509.KeyUsageContentCommitment)
	set(k.KeyEncipherment, x509.KeyUsageKeyEncipherment)
	set(k.DataEncipherment, x509.KeyUsageDataEncipherment)
	set(k.KeyAgreement, x509.KeyUsageKeyAgreement)
	set(k.KeyCertSign, x509.KeyUsageCertSign)
	set(k.CRLSign, x509.KeyUsageCRLSign)
	set(k.EncipherOnly, x509.KeyUsageEncipherOnly)
	set(k.DecipherOnly, x509.KeyUsageDecipherOnly)
	return u
}

// ExtendedKeyUsage is one EKU purpose, by type name or by OID.
type ExtendedKeyUsage struct {
	ExtendedKeyUsageType             string `json:"ExtendedKeyUsageType,omitempty"`
	ExtendedKeyUsageObjectIdentifier string `json:"ExtendedKeyUsageObjectIdentifier,omitempty"`
}

var ekuByType = map[string]asn1.ObjectIdentifier{
	"SERVER_AUTH":              oidEKUServerAuth,
	"CLIENT_AUTH":              oidEKUClientAuth,
	"CODE_SIGNING":             oidEKUCodeSigning,
	"EMAIL_PROTECTION":         oidEKUEmailProtection,
	"TIME_STAMPING":            oidEKUTimeStamping,
	"OCSP_SIGNING":             oidEKUOCSPSigning,
	"SMART_CARD_LOGIN":         oidEKUSmartCardLogin,
	"DOCUMENT_SIGNING":         oidEKUDocumentSigning,
	"CERTIFICATE_TRANSPARENCY": oidEKUCertTransparency,
}

func (e ExtendedKeyUsage) oid() (asn1.ObjectIdentifier, error) {
	switch {
	case e.ExtendedKeyUsageType != "" && e.ExtendedKeyUsageObjectIdentifier != "":
		return nil, errors.New("an extended key usage sets either a type or an object identifier, not both")
	case e.ExtendedKeyUsageType != "":
		oid, ok := ekuByType[e.ExtendedKeyUsageType]
		if !ok {
			return nil, fmt.Errorf("unknown ExtendedKeyUsageType %q", e.ExtendedKeyUsageType)
		}
		return oid, nil
	case e.ExtendedKeyUsageObjectIdentifier != "":
		return ParseOID(e.ExtendedKeyUsageObjectIdentifier)
	}
	return nil, errors.New("an extended key usage must set a type or an object identifier")
}

// PolicyInformation is one certificate policy with optional CPS qualifiers.
type PolicyInformation struct {
	CertPolicyId     string            `json:"CertPolicyId"`
	PolicyQualifiers []PolicyQualifier `json:"PolicyQualifiers,omitempty"`
}

// PolicyQualifier is a CPS pointer qualifier.
type PolicyQualifier struct {
	PolicyQualifierId string    `json:"PolicyQualifierId"`
	Qualifier         Qualifier `json:"Qualifier"`
}

// Qualifier holds the CPS URI.
type Qualifier struct {
	CpsUri string `json:"CpsUri"`
}

// CustomExtension is an extension given as raw DER.
type CustomExtension struct {
	ObjectIdentifier string `json:"ObjectIdentifier"`
	Value            []byte `json:"Value"` // DER of extnValue's content
	Critical         bool   `json:"Critical,omitempty"`
}

// Extensions are the extension values a caller may pass through the API.
type Extensions struct {
	CertificatePolicies     []PolicyInformation `json:"CertificatePolicies,omitempty"`
	ExtendedKeyUsage        []ExtendedKeyUsage  `json:"ExtendedKeyUsage,omitempty"`
	KeyUsage                *KeyUsage           `json:"KeyUsage,omitempty"`
	SubjectAlternativeNames []GeneralName       `json:"SubjectAlternativeNames,omitempty"`
	CustomExtensions        []CustomExtension   `json:"CustomExtensions,omitempty"`
}

// AccessDescription is one entry of an information access extension.
type AccessDescription struct {
	AccessMethod   AccessMethod `json:"AccessMethod"`
	AccessLocation GeneralName  `json:"AccessLocation"`
}

// AccessMethod names the method by type or by OID.
type AccessMethod struct {
	CustomObjectIdentifier string `json:"CustomObjectIdentifier,omitempty"`
	AccessMethodType       string `json:"AccessMethodType,omitempty"`
}

var accessMethodByType = map[string]asn1.ObjectIdentifier{
	"CA_REPOSITORY":         oidAccessCARepository,
	"RESOURCE_PKI_MANIFEST": oidAccessRPKIManifest,
	"RESOURCE_PKI_NOTIFY":   oidAccessRPKINotify,
}

// MarshalKeyUsage returns the extension for a key usage bit set.
func MarshalKeyUsage(u x509.KeyUsage, critical bool) (pkix.Extension, error) {
	// KeyUsage BIT STRING with bit 0 = digitalSignature; trailing zero bits
	// are removed as DER requires.
	var b [2]byte
	for i := 0; i < 9; i++ {
		if u&(1<<uint(i)) != 0 {
			b[i/8] |= 0x80 >> uint(i%8)
		}
	}
	n := 9
	for n > 0 && u&(1<<uint(n-1)) == 0 {
		n--
	}
	if n == 0 {
		return pkix.Extension{}, errors.New("key usage must set at least one bit")
	}
	bytesLen := (n + 7) / 8
	der, err := asn1.Marshal(asn1.BitString{Bytes: b[:bytesLen], BitLength: n})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDExtKeyUsage, Critical: critical, Value: der}, nil
}

// MarshalExtKeyUsage returns an extended key usage extension.
func MarshalExtKeyUsage(oids []asn1.ObjectIdentifier, critical bool) (pkix.Extension, error) {
	if len(oids) == 0 {
		return pkix.Extension{}, errors.New("extended key usage needs at least one purpose")
	}
	der, err := asn1.Marshal(oids)
	return pkix.Extension{Id: OIDExtExtKeyUsage, Critical: critical, Value: der}, err
}

// ExtKeyUsageOIDs resolves a list of EKUs, refusing duplicates.
func ExtKeyUsageOIDs(ekus []ExtendedKeyUsage) ([]asn1.ObjectIdentifier, error) {
	if len(ekus) > 20 {
		return nil, errors.New("at most 20 extended key usages are allowed")
	}
	var out []asn1.ObjectIdentifier
	for _, e := range ekus {
		oid, err := e.oid()
		if err != nil {
			return nil, err
		}
		for _, o := range out {
			if o.Equal(oid) {
				return nil, fmt.Errorf("extended key usage %s is listed twice", oid)
			}
		}
		out = append(out, oid)
	}
	return out, nil
}

// MarshalBasicConstraints returns a basic constraints extension. pathLen < 0
// omits the path length.
func MarshalBasicConstraints(isCA bool, pathLen int, critical bool) (pkix.Extension, error) {
	type bc struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}
	v := bc{IsCA: isCA, MaxPathLen: -1}
	if isCA && pathLen >= 0 {
		v.MaxPathLen = pathLen
	}
	der, err := asn1.Marshal(v)
	return pkix.Extension{Id: OIDExtBasicConstraints, Critical: critical, Value: der}, err
}

// MarshalCertificatePolicies returns a certificate policies extension.
func MarshalCertificatePolicies(policies []PolicyInformation) (pkix.Extension, error) {
	if len(policies) == 0 || len(policies) > 20 {
		return pkix.Extension{}, errors.New("certificate policies must list 1 to 20 policies")
	}
	type qualifier struct {
		ID  asn1.ObjectIdentifier
		URI string `asn1:"ia5"`
	}
	type policy struct {
		ID         asn1.ObjectIdentifier
		Qualifiers []qualifier `asn1:"optional,omitempty"`
	}
	var seq []policy
	for _, p := range policies {
		oid, err := ParseOID(p.CertPolicyId)
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("CertPolicyId: %w", err)
		}
		for _, q := range seq {
			if q.ID.Equal(oid) {
				return pkix.Extension{}, fmt.Errorf("certificate policy %s is listed twice", oid)
			}
		}
		pol := policy{ID: oid}
		for _, q := range p.PolicyQualifiers {
			if q.PolicyQualifierId != "CPS" {
				return pkix.Extension{}, fmt.Errorf("unsupported PolicyQualifierId %q (only CPS)", q.PolicyQualifierId)
			}
			if q.Qualifier.CpsUri == "" || len(q.Qualifier.CpsUri) > 256 || !isIA5(q.Qualifier.CpsUri) {
				return pkix.Extension{}, errors.New("CpsUri must be 1 to 256 ASCII characters")
			}
			pol.Qualifiers = append(pol.Qualifiers, qualifier{ID: oidQualifierCPS, URI: q.Qualifier.CpsUri})
		}
		seq = append(seq, pol)
	}
	der, err := asn1.Marshal(seq)
	return pkix.Extension{Id: OIDExtCertPolicies, Value: der}, err
}

// MarshalSubjectInfoAccess returns a subject information access extension.
func MarshalSubjectInfoAccess(ads []AccessDescription) (pkix.Extension, error) {
	type accessDescription struct {
		Method   asn1.ObjectIdentifier
		Location asn1.RawValue
	}
	var seq []accessDescription
	for _, ad := range ads {
		var method asn1.ObjectIdentifier
		switch m := ad.AccessMethod; {
		case m.AccessMethodType != "" && m.CustomObjectIdentifier != "":
			return pkix.Extension{}, errors.New("an access method sets either a type or an object identifier, not both")
		case m.AccessMethodType != "":
			oid, ok := accessMethodByType[m.AccessMethodType]
			if !ok {
				return pkix.Extension{}, fmt.Errorf("unknown AccessMethodType %q", m.AccessMethodType)
			}
			method = oid
		default:
			oid, err := ParseOID(m.CustomObjectIdentifier)
			if err != nil {
				return pkix.Extension{}, fmt.Errorf("access method: %w", err)
			}
			method = oid
		}
		loc, err := ad.AccessLocation.encode()
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("access location: %w", err)
		}
		seq = append(seq, accessDescription{Method: method, Location: loc})
	}
	der, err := asn1.Marshal(seq)
	return pkix.Extension{Id: OIDExtSubjectInfo, Value: der}, err
}

// CustomExtensionsToPKIX validates and converts custom extensions. The value
// must be exactly one DER element.
func CustomExtensionsToPKIX(exts []CustomExtension) ([]pkix.Extension, error) {
	if len(exts) > 150 {
		return nil, errors.New("at most 150 custom extensions are allowed")
	}
	var out []pkix.Extension
	for _, e := range exts {
		oid, err := ParseOID(e.ObjectIdentifier)
		if err != nil {
			return nil, fmt.Errorf("custom extension: %w", err)
		}
		if len(e.Value) == 0 || len(e.Value) > 4096 {
			return nil, fmt.Errorf("custom extension %s: value must be 1 to 4096 bytes of DER", oid)
		}
		var raw asn1.RawValue
		rest, err := asn1.Unmarshal(e.Value, &raw)
		if err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("custom extension %s: value is not a single DER element", oid)
		}
		for _, o := range out {
			if o.Id.Equal(oid) {
				return nil, fmt.Errorf("custom extension %s is listed twice", oid)
			}
		}
		out = append(out, pkix.Extension{Id: oid, Critical: e.Critical, Value: bytes.Clone(e.Value)})
	}
	return out, nil
}

var (
	oidAccessOCSP      = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1}
	oidAccessCAIssuers = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 2}
)

// MarshalCRLDistributionPoint returns a CRL distribution points extension
// with one distribution point: the URL.
func MarshalCRLDistributionPoint(url string) pkix.Extension {
	// DistributionPoint ::= SEQUENCE { distributionPoint [0] { fullName [0] { [6] URI } } }
	uri := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(url)}
	uriDER, _ := asn1.Marshal(uri)
	full, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: uriDER})
	dpn, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: full})
	dp, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: dpn})
	seq, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: dp})
	return pkix.Extension{Id: OIDExtCRLDistribution, Value: seq}
}

// MarshalAuthorityInfoAccess returns an authority information access
// extension with an OCSP responder and/or a CA issuers URL (empty strings
// are left out).
func MarshalAuthorityInfoAccess(ocspURL, caIssuersURL string) (pkix.Extension, bool) {
	type accessDescription struct {
		Method   asn1.ObjectIdentifier
		Location asn1.RawValue
	}
	var ads []accessDescription
	if ocspURL != "" {
		ads = append(ads, accessDescription{oidAccessOCSP, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(ocspURL)}})
	}
	if caIssuersURL != "" {
		ads = append(ads, accessDescription{oidAccessCAIssuers, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(caIssuersURL)}})
	}
	if len(ads) == 0 {
		return pkix.Extension{}, false
	}
	der, _ := asn1.Marshal(ads)
	return pkix.Extension{Id: OIDExtAuthorityInfo, Value: der}, true
}

// OCSPNoCheck is the id-pkix-ocsp-nocheck extension a delegated OCSP
// responder certificate carries (RFC 6960 4.2.2.2.1): relying parties need
// not check its own revocation.
func OCSPNoCheck() pkix.Extension {
	return pkix.Extension{Id: oidExtOCSPNoCheck, Value: []byte{0x05, 0x00}}
}
