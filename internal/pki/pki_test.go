package pki_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/lint"
	"github.com/sigilhq/sigil/internal/pki"
)

// kuCA is the key usage of CA templates.
const kuCA = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign

var oidEKUCodeSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

var testLinter = func() *lint.Linter {
	l, err := lint.New()
	if err != nil {
		panic(err)
	}
	return l
}()

type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func csrFor(t testing.TB, key crypto.Signer, tpl *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tpl, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSR(pki.EncodePEM("CERTIFICATE REQUEST", der))
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// issue builds, lints (pre-sign), signs and parses a certificate.
func issue(t testing.TB, p pki.IssueParams, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	if p.Serial == nil {
		p.Serial, _ = pki.RandomSerial()
	}
	if p.NotBefore.IsZero() {
		p.NotBefore = testNow.Add(-time.Hour)
		p.NotAfter = testNow.AddDate(1, 0, 0)
	}
	if p.SigningAlgorithm == "" {
		p.SigningAlgorithm = pki.SHA256WithECDSA
	}
	tpl, err := pki.Build(p)
	if err != nil {
		t.Fatalf("Build(%s): %v", p.Template.Name, err)
	}
	if err := testLinter.Check(tpl, p.Issuer); err != nil {
		t.Fatalf("pre-sign lint (%s): %v", p.Template.Name, err)
	}
	der, err := pki.Sign(tpl, p.Issuer, signer)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := testLinter.LintDER(der)
	if err != nil || len(findings) > 0 {
		t.Fatalf("lint of signed certificate (%s): %v %v", p.Template.Name, findings, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newRoot(t testing.TB) testCA {
	t.Helper()
	key := newKey(t)
	sub := &pki.Subject{CommonName: "Test Root", Organization: "Sigil", Country: "us"}
	der, err := pki.CreateCSR(sub, pki.SHA256WithECDSA, key, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSR(der)
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := pki.LookupTemplate(pki.TemplateARNPrefix + "RootCACertificate/V1")
	c := issue(t, pki.IssueParams{Template: tpl, CSR: csr, NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.AddDate(10, 0, 0)}, key)
	return testCA{c, key}
}

func ext(c *x509.Certificate, oid asn1.ObjectIdentifier) *pkix.Extension {
	for i := range c.Extensions {
		if c.Extensions[i].Id.Equal(oid) {
			return &c.Extensions[i]
		}
	}
	return nil
}

func TestRootCertificate(t *testing.T) {
	root := newRoot(t)
	c := root.cert
	if !pki.IsSelfSigned(c) || !c.IsCA || c.MaxPathLen != -1 {
		t.Fatalf("root: selfSigned=%v isCA=%v pathLen=%d", pki.IsSelfSigned(c), c.IsCA, c.MaxPathLen)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Fatalf("root key usage %v", c.KeyUsage)
	}
	if len(c.AuthorityKeyId) != 0 {
		t.Fatal("self-signed root carries an AKI")
	}
	if e := ext(c, pki.OIDExtBasicConstraints); e == nil || !e.Critical {
		t.Fatal("root basic constraints missing or not critical")
	}
	if c.Subject.Country[0] != "US" {
		t.Fatalf("country not upper-cased: %v", c.Subject.Country)
	}
	if err := pki.CheckCACertificate(c); err != nil {
		t.Fatal(err)
	}
}

func TestEveryTemplateIsLintClean(t *testing.T) {
	root := newRoot(t)
	leafKey := newKey(t)
	csr := csrFor(t, leafKey, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "svc.example.internal"},
		DNSNames: []string{"svc.example.internal"},
	})
	// Blank CA templates need keyCertSign from somewhere: the API for API
	// variants, the CSR for CSR variants.
	caCSR := csrFor(t, leafKey, &x509.CertificateRequest{
		Subject:         pkix.Name{CommonName: "Sub CA"},
		ExtraExtensions: []pkix.Extension{mustExt(pki.MarshalKeyUsage(kuCA, true))},
	})
	eeAPI := &pki.Extensions{
		KeyUsage:         &pki.KeyUsage{DigitalSignature: true},
		ExtendedKeyUsage: []pki.ExtendedKeyUsage{{ExtendedKeyUsageType: "CLIENT_AUTH"}, {ExtendedKeyUsageType: "SMART_CARD_LOGIN"}},
	}
	caAPI := &pki.Extensions{KeyUsage: &pki.KeyUsage{DigitalSignature: true, KeyCertSign: true, CRLSign: true}}
	if n := len(pki.Templates()); n != 57 {
		t.Fatalf("catalogue has %d templates, want 57", n)
	}
	for _, tpl := range pki.Templates() {
		t.Run(tpl.Name, func(t *testing.T) {
			p := pki.IssueParams{Template: tpl, CSR: csr, Issuer: root.cert, APIExtensions: eeAPI}
			if tpl.IsCA() {
				p.CSR, p.APIExtensions = caCSR, caAPI
			}
			signer := root.key
			if tpl.Kind == pki.RootCA {
				// A root template self-signs the CA's own key.
				p.Issuer = nil
				p.CSR = csrFor(t, leafKey, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "Another Root"}})
				p.APIExtensions = caAPI
				signer = leafKey
			}
			c := issue(t, p, signer)
			if c.IsCA != tpl.IsCA() {
				t.Fatalf("IsCA = %v", c.IsCA)
			}
			if tpl.IsCA() && tpl.PathLen >= 0 && (c.MaxPathLen != tpl.PathLen || (tpl.PathLen == 0 && !c.MaxPathLenZero)) {
				t.Fatalf("path length %d (zero=%v), want %d", c.MaxPathLen, c.MaxPathLenZero, tpl.PathLen)
			}
			bc := ext(c, pki.OIDExtBasicConstraints)
			if bc == nil || bc.Critical != tpl.BasicConstraintsCritical {
				t.Fatalf("basic constraints %+v, want critical=%v", bc, tpl.BasicConstraintsCritical)
			}
			if !bytes.Equal(c.SubjectKeyId, mustKeyID(t, c.RawSubjectPublicKeyInfo)) {
				t.Fatal("SKI not derived from the subject key")
			}
			if tpl.Kind != pki.RootCA && !bytes.Equal(c.AuthorityKeyId, root.cert.SubjectKeyId) {
				t.Fatal("AKI is not the issuer's SKI")
			}
			switch {
			case !tpl.Blank:
				if want := pki.TemplateKeyUsage(tpl, leafKey.Public()); c.KeyUsage != want {
					t.Fatalf("key usage %v, want %v", c.KeyUsage, want)
				}
			case tpl.IsCA():
				if c.KeyUsage != kuCA {
					t.Fatalf("blank CA template key usage %v", c.KeyUsage)
				}
			case tpl.APIPassthrough:
				if c.KeyUsage != x509.KeyUsageDigitalSignature {
					t.Fatalf("blank template ignored API key usage: %v", c.KeyUsage)
				}
				if len(c.UnknownExtKeyUsage) != 1 || len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
					t.Fatalf("blank template EKU %v %v", c.ExtKeyUsage, c.UnknownExtKeyUsage)
				}
			}
		})
	}
}

func mustKeyID(t *testing.T, spki []byte) []byte {
	id, err := pki.KeyID(spki)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestEndEntityExtensions(t *testing.T) {
	root := newRoot(t)
	key := newKey(t)
	csr := csrFor(t, key, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: "web.example"},
		DNSNames:       []string{"web.example", "www.web.example"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.1")},
		EmailAddresses: []string{"ops@example.com"},
	})
	cases := []struct {
		name        string
		eku         []x509.ExtKeyUsage
		ku          x509.KeyUsage
		ekuCritical bool
	}{
		// EC subject keys: no keyEncipherment (RFC 8813).
		{"EndEntityCertificate/V1", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, x509.KeyUsageDigitalSignature, false},
		{"EndEntityServerAuthCertificate/V1", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, x509.KeyUsageDigitalSignature, false},
		{"EndEntityClientAuthCertificate/V1", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, x509.KeyUsageDigitalSignature, false},
		{"CodeSigningCertificate/V1", []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, x509.KeyUsageDigitalSignature, true},
		{"OCSPSigningCertificate/V1", []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, x509.KeyUsageDigitalSignature, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tpl, ok := pki.LookupTemplate(tc.name)
			if !ok {
				t.Fatal("template missing")
			}
			c := issue(t, pki.IssueParams{Template: tpl, CSR: csr, Issuer: root.cert}, root.key)
			if c.KeyUsage != tc.ku {
				t.Errorf("KU %v, want %v", c.KeyUsage, tc.ku)
			}
			if len(c.ExtKeyUsage) != len(tc.eku) {
				t.Fatalf("EKU %v, want %v", c.ExtKeyUsage, tc.eku)
			}
			for i := range tc.eku {
				if c.ExtKeyUsage[i] != tc.eku[i] {
					t.Errorf("EKU %v, want %v", c.ExtKeyUsage, tc.eku)
				}
			}
			if e := ext(c, pki.OIDExtExtKeyUsage); e.Critical != tc.ekuCritical {
				t.Errorf("EKU critical = %v", e.Critical)
			}
			if e := ext(c, pki.OIDExtKeyUsage); !e.Critical {
				t.Error("KU not critical")
			}
			if c.IsCA || ext(c, pki.OIDExtBasicConstraints).Critical {
				t.Error("end-entity basic constraints wrong")
			}
			if len(c.DNSNames) != 2 || len(c.IPAddresses) != 1 || len(c.EmailAddresses) != 1 {
				t.Errorf("SAN not copied from CSR: %v %v %v", c.DNSNames, c.IPAddresses, c.EmailAddresses)
			}
			if err := c.CheckSignatureFrom(root.cert); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPassthroughPriority(t *testing.T) {
	root := newRoot(t)
	key := newKey(t)
	// The CSR asks for a CA and for code signing; it also asks for a policy.
	cpCSR, _ := pki.MarshalCertificatePolicies([]pki.PolicyInformation{{CertPolicyId: "1.2.3.4"}})
	csr := csrFor(t, key, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "csr-subject"},
		DNSNames: []string{"csr.example"},
		ExtraExtensions: []pkix.Extension{
			mustExt(pki.MarshalBasicConstraints(true, -1, true)),
			mustExt(pki.MarshalExtKeyUsage([]asn1.ObjectIdentifier{oidEKUCodeSigning}, false)),
			cpCSR,
		},
	})
	apiSubject := &pki.Subject{CommonName: "api-subject", Organization: "API Org"}
	api := &pki.Extensions{
		SubjectAlternativeNames: []pki.GeneralName{{DnsName: "api.example"}, {IpAddress: "2001:db8::1"},
			{UniformResourceIdentifier: "spiffe://example.org/ns/a"}, {Rfc822Name: "a@example.com"},
			{DirectoryName: &pki.Subject{CommonName: "dir"}}, {OtherName: &pki.OtherName{TypeId: "1.3.6.1.4.1.311.20.2.3", Value: "upn@example"}},
			{RegisteredId: "1.2.3.4.5"}, {EdiPartyName: &pki.EdiPartyName{PartyName: "party", NameAssigner: "assigner"}}},
		CertificatePolicies: []pki.PolicyInformation{{CertPolicyId: "2.23.140.1.2.1",
			PolicyQualifiers: []pki.PolicyQualifier{{PolicyQualifierId: "CPS", Qualifier: pki.Qualifier{CpsUri: "https://cps.example"}}}}},
		CustomExtensions: []pki.CustomExtension{{ObjectIdentifier: "1.3.6.1.4.1.99999.1", Value: []byte{0x05, 0x00}}},
		KeyUsage:         &pki.KeyUsage{CRLSign: true},
	}
	get := func(name string) *x509.Certificate {
		tpl, _ := pki.LookupTemplate(name)
		return issue(t, pki.IssueParams{Template: tpl, CSR: csr, Issuer: root.cert, APISubject: apiSubject, APIExtensions: api}, root.key)
	}

	base := get("EndEntityCertificate/V1")
	if base.Subject.CommonName != "csr-subject" || base.DNSNames[0] != "csr.example" {
		t.Errorf("base template must take subject and SAN from the CSR: %v %v", base.Subject, base.DNSNames)
	}
	if base.IsCA || len(base.PolicyIdentifiers) != 0 || ext(base, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}) != nil {
		t.Error("base template let passthrough values in")
	}

	csrPT := get("EndEntityCertificate_CSRPassthrough/V1")
	if csrPT.IsCA {
		t.Error("CSR passthrough overrode the template's basic constraints")
	}
	if len(csrPT.ExtKeyUsage) != 2 || csrPT.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("CSR passthrough overrode the template EKU: %v", csrPT.ExtKeyUsage)
	}
	if len(csrPT.PolicyIdentifiers) != 1 || csrPT.PolicyIdentifiers[0].String() != "1.2.3.4" {
		t.Errorf("CSR passthrough lost the CSR policy: %v", csrPT.PolicyIdentifiers)
	}

	apiPT := get("EndEntityCertificate_APICSRPassthrough/V1")
	if apiPT.Subject.CommonName != "api-subject" || apiPT.Subject.Organization[0] != "API Org" {
		t.Errorf("API subject did not win: %v", apiPT.Subject)
	}
	if len(apiPT.DNSNames) != 1 || apiPT.DNSNames[0] != "api.example" || len(apiPT.IPAddresses) != 1 ||
		len(apiPT.URIs) != 1 || len(apiPT.EmailAddresses) != 1 {
		t.Errorf("API SAN did not win: %v %v %v %v", apiPT.DNSNames, apiPT.IPAddresses, apiPT.URIs, apiPT.EmailAddresses)
	}
	if len(apiPT.PolicyIdentifiers) != 1 || apiPT.PolicyIdentifiers[0].String() != "2.23.140.1.2.1" {
		t.Errorf("API policy did not beat the CSR's: %v", apiPT.PolicyIdentifiers)
	}
	if ext(apiPT, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}) == nil {
		t.Error("custom extension missing")
	}
	if apiPT.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("non-blank template took KU from the API: %v", apiPT.KeyUsage)
	}
	if !strings.Contains(string(apiPT.Raw), "upn@example") {
		t.Error("OtherName value missing")
	}
}

func mustExt(e pkix.Extension, err error) pkix.Extension {
	if err != nil {
		panic(err)
	}
	return e
}

func TestBuildRejects(t *testing.T) {
	root := newRoot(t)
	key := newKey(t)
	csr := csrFor(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}})
	apiTpl, _ := pki.LookupTemplate("EndEntityCertificate_APIPassthrough/V1")
	serial := big.NewInt(1)
	cases := map[string]pki.IssueParams{
		"custom extension overriding SKI":  {APIExtensions: &pki.Extensions{CustomExtensions: []pki.CustomExtension{{ObjectIdentifier: "2.5.29.14", Value: []byte{4, 1, 1}}}}},
		"custom extension not DER":         {APIExtensions: &pki.Extensions{CustomExtensions: []pki.CustomExtension{{ObjectIdentifier: "1.2.3", Value: []byte{0x30, 0x05}}}}},
		"custom extension duplicate of KU": {APIExtensions: &pki.Extensions{CustomExtensions: []pki.CustomExtension{{ObjectIdentifier: "2.5.29.15", Value: []byte{3, 2, 7, 0x80}}}}},
		"bad DNS name":                     {APIExtensions: &pki.Extensions{SubjectAlternativeNames: []pki.GeneralName{{DnsName: "bad name"}}}},
		"two fields in one name":           {APIExtensions: &pki.Extensions{SubjectAlternativeNames: []pki.GeneralName{{DnsName: "a.example", IpAddress: "1.2.3.4"}}}},
		"bad IP":                           {APIExtensions: &pki.Extensions{SubjectAlternativeNames: []pki.GeneralName{{IpAddress: "300.1.1.1"}}}},
		"mixed custom subject":             {APISubject: &pki.Subject{CommonName: "x", CustomAttributes: []pki.Attribute{{ObjectIdentifier: "2.5.4.3", Value: "y"}}}},
		"long common name":                 {APISubject: &pki.Subject{CommonName: strings.Repeat("a", 65)}},
		"bad country":                      {APISubject: &pki.Subject{Country: "USA"}},
		"bad policy qualifier":             {APIExtensions: &pki.Extensions{CertificatePolicies: []pki.PolicyInformation{{CertPolicyId: "1.2.3", PolicyQualifiers: []pki.PolicyQualifier{{PolicyQualifierId: "UserNotice"}}}}}},
		"bad EKU on blank":                 {APIExtensions: &pki.Extensions{ExtendedKeyUsage: []pki.ExtendedKeyUsage{{ExtendedKeyUsageType: "NOPE"}}}},
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			p.Template = apiTpl
			if name == "bad EKU on blank" {
				p.Template, _ = pki.LookupTemplate("BlankEndEntityCertificate_APIPassthrough/V1")
			}
			p.CSR, p.Issuer, p.Serial = csr, root.cert, serial
			p.NotBefore, p.NotAfter, p.SigningAlgorithm = testNow, testNow.Add(time.Hour), pki.SHA256WithECDSA
			if _, err := pki.Build(p); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestLintCatchesBadCertificate(t *testing.T) {
	root := newRoot(t)
	key := newKey(t)
	csr := csrFor(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}})
	tpl, _ := pki.LookupTemplate("BlankEndEntityCertificate_APIPassthrough/V1")
	// keyCertSign on an end-entity certificate breaks RFC 5280 4.2.1.3.
	p := pki.IssueParams{Template: tpl, CSR: csr, Issuer: root.cert, Serial: big.NewInt(7),
		NotBefore: testNow, NotAfter: testNow.Add(time.Hour), SigningAlgorithm: pki.SHA256WithECDSA,
		APIExtensions: &pki.Extensions{KeyUsage: &pki.KeyUsage{KeyCertSign: true}}}
	c, err := pki.Build(p)
	if err != nil {
		t.Fatal(err)
	}
	err = testLinter.Check(c, root.cert)
	le, ok := err.(*pki.LintError)
	if !ok || len(le.Findings) == 0 || !strings.Contains(err.Error(), "e_") {
		t.Fatalf("lint did not catch keyCertSign on an end entity: %v", err)
	}
}

func TestCSRChecks(t *testing.T) {
	key := newKey(t)
	good := pki.EncodePEM("CERTIFICATE REQUEST", mustCSR(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ok"}}))
	if _, err := pki.ParseCSR(good); err != nil {
		t.Fatal(err)
	}
	// A flipped byte in the signature must be caught.
	der := mustCSR(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ok"}})
	der[len(der)-5] ^= 0xff
	noSubject := mustCSR(t, key, &x509.CertificateRequest{})
	for name, b := range map[string][]byte{
		"empty":      nil,
		"garbage":    []byte("not a csr"),
		"bad pem":    []byte("-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n"),
		"wrong type": pki.EncodePEM("CERTIFICATE", []byte{1, 2}),
		"bad sig":    pki.EncodePEM("CERTIFICATE REQUEST", der),
		"no subject": pki.EncodePEM("CERTIFICATE REQUEST", noSubject),
		"two blocks": append(append([]byte{}, good...), good...),
		"huge":       bytes.Repeat([]byte("A"), pki.MaxCSRBytes+1),
	} {
		if _, err := pki.ParseCSR(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func mustCSR(t *testing.T, key crypto.Signer, tpl *x509.CertificateRequest) []byte {
	der, err := x509.CreateCertificateRequest(rand.Reader, tpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestValidity(t *testing.T) {
	now := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		v    pki.Validity
		want time.Time
		bad  bool
	}{
		{pki.Validity{pki.ValidityDays, 365}, now.AddDate(0, 0, 365), false},
		{pki.Validity{pki.ValidityMonths, 1}, now.AddDate(0, 1, 0), false},
		{pki.Validity{pki.ValidityYears, 10}, now.AddDate(10, 0, 0), false},
		{pki.Validity{pki.ValidityAbsolute, 1893456000}, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{pki.Validity{pki.ValidityEndDate, 301231235959}, time.Date(2030, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{pki.Validity{pki.ValidityEndDate, 991231235959}, time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{pki.Validity{pki.ValidityEndDate, 50101000000}, time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{pki.Validity{pki.ValidityEndDate, 20491231235959}, time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{pki.Validity{pki.ValidityEndDate, 301332000000}, time.Time{}, true},
		{pki.Validity{pki.ValidityEndDate, 123}, time.Date(2000, 0, 0, 0, 1, 23, 0, time.UTC), true},
		{pki.Validity{pki.ValidityDays, 0}, time.Time{}, true},
		{pki.Validity{"WEEKS", 1}, time.Time{}, true},
		{pki.Validity{pki.ValidityYears, 9000}, time.Time{}, true},
	}
	for _, c := range cases {
		got, err := c.v.End(now)
		if c.bad {
			if err == nil {
				t.Errorf("%+v: accepted (%v)", c.v, got)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%+v: got %v %v, want %v", c.v, got, err, c.want)
		}
	}
	if _, err := (pki.Validity{pki.ValidityDays, 1}).Start(); err == nil {
		t.Error("ValidityNotBefore of type DAYS accepted")
	}
	if s, err := (pki.Validity{pki.ValidityAbsolute, 1767225600}).Start(); err != nil || !s.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Start = %v %v", s, err)
	}
}

func TestSerials(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		n, err := pki.RandomSerial()
		if err != nil {
			t.Fatal(err)
		}
		if n.Sign() <= 0 || n.BitLen() > 127 {
			t.Fatalf("serial out of range: %v", n)
		}
		h := pki.SerialHex(n)
		if len(h) != 32 || seen[h] {
			t.Fatalf("bad or repeated serial %s", h)
		}
		seen[h] = true
		back, err := pki.ParseSerialHex(h)
		if err != nil || back.Cmp(n) != 0 {
			t.Fatal("serial does not round-trip")
		}
	}
	if n, err := pki.ParseSerialHex("0a:1b:2c"); err != nil || n.Int64() != 0x0a1b2c {
		t.Fatalf("colon form: %v %v", n, err)
	}
	for _, bad := range []string{"", "xyz", "-1", "0", strings.Repeat("f", 41)} {
		if _, err := pki.ParseSerialHex(bad); err == nil {
			t.Errorf("ParseSerialHex(%q) accepted", bad)
		}
	}
}

func TestLookupTemplate(t *testing.T) {
	if tpl, ok := pki.LookupTemplate(""); !ok || tpl.Name != pki.DefaultTemplate {
		t.Fatal("empty name is not the default template")
	}
	for _, name := range []string{"arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1", "SubordinateCACertificate_PathLen0/V1"} {
		if tpl, ok := pki.LookupTemplate(name); !ok || tpl.PathLen != 0 || tpl.Kind != pki.SubordinateCA {
			t.Fatalf("%s: %+v %v", name, tpl, ok)
		}
	}
	for _, bad := range []string{"arn:aws:acm-pca:::template/Nope/V1", "arn:aws-cn:acm-pca:::template/EndEntityCertificate/V1", "RootCACertificate_CSRPassthrough/V1"} {
		if _, ok := pki.LookupTemplate(bad); ok {
			t.Errorf("%s found", bad)
		}
	}
}

func TestAlgorithms(t *testing.T) {
	for _, s := range pki.SigningAlgorithms {
		for _, k := range pki.KeyAlgorithms {
			if got, want := s.CompatibleWith(k), string(s.Family()) == string(k.Family()); got != want {
				t.Errorf("%s with %s: %v", s, k, got)
			}
		}
	}
	if pki.SigningAlgorithm("MD5WITHRSA").Valid() || pki.KeyAlgorithm("RSA_1024").Valid() {
		t.Fatal("unsupported algorithm reported valid")
	}
}

func FuzzParseCSR(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "seed"}}, key)
	f.Add(pki.EncodePEM("CERTIFICATE REQUEST", der))
	f.Add(der)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		csr, err := pki.ParseCSR(b)
		if err == nil && csr.CheckSignature() != nil {
			t.Fatal("accepted a CSR whose signature does not verify")
		}
	})
}

func FuzzParseCertificatesPEM(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := pki.ParseCertificatesPEM(b)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificates")
		}
	})
}

func TestRSAKeepsKeyEncipherment(t *testing.T) {
	root := newRoot(t)
	rsaKey, err := pki.GenerateKey(pki.RSA2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr := csrFor(t, rsaKey, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "rsa.example"}, DNSNames: []string{"rsa.example"}})
	for name, want := range map[string]x509.KeyUsage{
		"EndEntityCertificate/V1":           x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		"EndEntityServerAuthCertificate/V1": x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		"EndEntityClientAuthCertificate/V1": x509.KeyUsageDigitalSignature,
	} {
		tpl, _ := pki.LookupTemplate(name)
		if c := issue(t, pki.IssueParams{Template: tpl, CSR: csr, Issuer: root.cert}, root.key); c.KeyUsage != want {
			t.Errorf("%s: KU %v, want %v", name, c.KeyUsage, want)
		}
	}
}
