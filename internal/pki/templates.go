package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"sort"
	"strings"
)

// TemplateARNPrefix is the prefix of every certificate template ARN.
const TemplateARNPrefix = "arn:aws:acm-pca:::template/"

// DefaultTemplate is used when a request names no template.
const DefaultTemplate = "EndEntityCertificate/V1"

// CertKind is what a template makes.
type CertKind int

// Certificate kinds.
const (
	EndEntity CertKind = iota
	SubordinateCA
	RootCA
)

// Template is a certificate profile: which extensions a certificate gets and
// which values callers may pass through. Templates follow AWS Private CA's
// catalogue so that template ARNs mean the same thing on Sigil.
type Template struct {
	Name string // e.g. "EndEntityCertificate_APIPassthrough/V1"
	Kind CertKind
	// PathLen is the basic constraints path length of a CA template, or -1.
	PathLen int
	// BasicConstraintsCritical marks the basic constraints extension.
	BasicConstraintsCritical bool
	// KeyUsage is fixed by non-blank templates (always critical).
	KeyUsage x509.KeyUsage
	// ExtKeyUsage is fixed by non-blank templates.
	ExtKeyUsage         []asn1.ObjectIdentifier
	ExtKeyUsageCritical bool
	// Blank templates take key usage and EKU from passthrough values.
	Blank bool
	// APIPassthrough: ApiPassthrough values are honoured.
	APIPassthrough bool
	// CSRPassthrough: extensions requested in the CSR are copied.
	CSRPassthrough bool
}

// ARN returns the template's ARN.
func (t *Template) ARN() string { return TemplateARNPrefix + t.Name }

// IsCA reports whether the template makes CA certificates.
func (t *Template) IsCA() bool { return t.Kind != EndEntity }

type variant struct {
	suffix   string
	api, csr bool
}

var (
	vBase   = variant{"", false, false}
	vCSR    = variant{"_CSRPassthrough", false, true}
	vAPI    = variant{"_APIPassthrough", true, false}
	vAPICSR = variant{"_APICSRPassthrough", true, true}
)

const (
	kuEndEntity = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	// AWS gives client-auth certificates keyEncipherment too, but RFC 5280
	// 4.2.1.12 allows only digitalSignature and keyAgreement with clientAuth
	// (zlint e_key_usage_and_extended_key_usage_inconsistent).
	kuClientAuth = x509.KeyUsageDigitalSignature
	kuSigning    = x509.KeyUsageDigitalSignature
	kuCA         = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign
)

var templates = buildCatalogue()

func buildCatalogue() map[string]*Template {
	m := map[string]*Template{}
	add := func(family string, base Template, variants ...variant) {
		for _, v := range variants {
			t := base
			t.Name = family + v.suffix + "/V1"
			t.APIPassthrough, t.CSRPassthrough = v.api, v.csr
			m[t.Name] = &t
		}
	}
	all := []variant{vBase, vCSR, vAPI, vAPICSR}
	passthrough := []variant{vCSR, vAPI, vAPICSR}

	ee := func(ku x509.KeyUsage, ekus ...asn1.ObjectIdentifier) Template {
		return Template{Kind: EndEntity, PathLen: -1, KeyUsage: ku, ExtKeyUsage: ekus}
	}
	add("EndEntityCertificate", ee(kuEndEntity, oidEKUServerAuth, oidEKUClientAuth), all...)
	add("EndEntityClientAuthCertificate", ee(kuClientAuth, oidEKUClientAuth), all...)
	add("EndEntityServerAuthCertificate", ee(kuEndEntity, oidEKUServerAuth), all...)
	add("CodeSigningCertificate", Template{Kind: EndEntity, PathLen: -1, KeyUsage: kuSigning,
		ExtKeyUsage: []asn1.ObjectIdentifier{oidEKUCodeSigning}, ExtKeyUsageCritical: true}, all...)
	add("OCSPSigningCertificate", Template{Kind: EndEntity, PathLen: -1, KeyUsage: kuSigning,
		ExtKeyUsage: []asn1.ObjectIdentifier{oidEKUOCSPSigning}, ExtKeyUsageCritical: true}, all...)
	add("RootCACertificate", Template{Kind: RootCA, PathLen: -1, BasicConstraintsCritical: true, KeyUsage: kuCA},
		vBase, vAPI)
	for n, suffix := range []string{"0", "1", "2", "3"} {
		add("SubordinateCACertificate_PathLen"+suffix, Template{Kind: SubordinateCA, PathLen: n,
			BasicConstraintsCritical: true, KeyUsage: kuCA}, all...)
		add("BlankSubordinateCACertificate_PathLen"+suffix, Template{Kind: SubordinateCA, PathLen: n,
			BasicConstraintsCritical: true, Blank: true}, passthrough...)
	}
	add("BlankEndEntityCertificate", Template{Kind: EndEntity, PathLen: -1, Blank: true}, passthrough...)
	add("BlankEndEntityCertificate_CriticalBasicConstraints", Template{Kind: EndEntity, PathLen: -1,
		BasicConstraintsCritical: true, Blank: true}, passthrough...)
	add("BlankRootCACertificate_PathLen0", Template{Kind: RootCA, PathLen: 0, BasicConstraintsCritical: true,
		Blank: true}, vAPI)
	return m
}

// LookupTemplate finds a template by ARN or by name ("EndEntityCertificate/V1").
// An empty string selects DefaultTemplate.
func LookupTemplate(arnOrName string) (*Template, bool) {
	if arnOrName == "" {
		arnOrName = DefaultTemplate
	}
	name := strings.TrimPrefix(arnOrName, TemplateARNPrefix)
	if name == arnOrName && strings.HasPrefix(arnOrName, "arn:") {
		return nil, false
	}
	t, ok := templates[name]
	return t, ok
}

// Templates returns every template, sorted by name.
func Templates() []*Template {
	out := make([]*Template, 0, len(templates))
	for _, t := range templates {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
