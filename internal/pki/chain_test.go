package pki_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/pki"
)

func TestVerifyChain(t *testing.T) {
	root := newRoot(t)
	subKey := newKey(t)
	subCSR, _ := pki.CreateCSR(&pki.Subject{CommonName: "Sub"}, pki.SHA256WithECDSA, subKey, nil, nil)
	csr, err := pki.ParseCSR(subCSR)
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := pki.LookupTemplate("SubordinateCACertificate_PathLen0/V1")
	sub := issue(t, pki.IssueParams{Template: tpl, CSR: csr, Issuer: root.cert}, root.key)
	if err := pki.CheckCACertificate(sub); err != nil {
		t.Fatal(err)
	}

	leafKey := newKey(t)
	eeTpl, _ := pki.LookupTemplate("EndEntityCertificate/V1")
	leaf := issue(t, pki.IssueParams{Template: eeTpl, CSR: csrFor(t, leafKey, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "leaf"}}), Issuer: sub}, subKey)

	if err := pki.VerifyChain(sub, []*x509.Certificate{root.cert}, testNow); err != nil {
		t.Fatalf("sub under root: %v", err)
	}
	if err := pki.VerifyChain(leaf, []*x509.Certificate{sub, root.cert}, testNow); err != nil {
		t.Fatalf("leaf chain: %v", err)
	}
	cases := map[string]struct {
		cert  *x509.Certificate
		chain []*x509.Certificate
		at    time.Time
		want  string
	}{
		"wrong order":     {leaf, []*x509.Certificate{root.cert, sub}, testNow, "ordered"},
		"missing root":    {leaf, []*x509.Certificate{sub}, testNow, "self-signed root"},
		"empty":           {sub, nil, testNow, "required"},
		"expired":         {sub, []*x509.Certificate{root.cert}, testNow.AddDate(20, 0, 0), "does not validate"},
		"unrelated chain": {sub, []*x509.Certificate{newRoot(t).cert}, testNow, "ordered"},
	}
	for name, c := range cases {
		err := pki.VerifyChain(c.cert, c.chain, c.at)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want error containing %q", name, err, c.want)
		}
	}
	if err := pki.CheckCACertificate(leaf); err == nil {
		t.Error("end-entity certificate accepted as a CA certificate")
	}
}

func TestParseCertificatesPEM(t *testing.T) {
	root := newRoot(t)
	two := append(pki.EncodeCertificatesPEM(root.cert.Raw), []byte("junk between\n")...)
	two = append(two, pki.EncodeCertificatesPEM(root.cert.Raw)...)
	certs, err := pki.ParseCertificatesPEM(two)
	if err != nil || len(certs) != 2 {
		t.Fatalf("%d %v", len(certs), err)
	}
	for _, bad := range []string{"", "nothing", "-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n",
		string(pki.EncodePEM("PRIVATE KEY", []byte{1}))} {
		if _, err := pki.ParseCertificatesPEM([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
