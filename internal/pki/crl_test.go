package pki_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/pki"
)

// caOf makes a self-signed CA certificate for key.
func caOf(t *testing.T, key crypto.Signer, alg pki.SigningAlgorithm) *x509.Certificate {
	t.Helper()
	der, err := pki.CreateCSR(&pki.Subject{CommonName: "CRL Test CA"}, alg, key, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := pki.ParseCSR(der)
	tpl, _ := pki.LookupTemplate("RootCACertificate/V1")
	return issue(t, pki.IssueParams{Template: tpl, CSR: csr, SigningAlgorithm: alg, NotBefore: testNow.Add(-time.Hour),
		NotAfter: testNow.AddDate(5, 0, 0)}, key)
}

// forEachAlgorithm runs fn as a subtest for every signing algorithm, with a
// self-signed CA whose key fits it.
func forEachAlgorithm(t *testing.T, fn func(t *testing.T, alg pki.SigningAlgorithm, ca *x509.Certificate, key crypto.Signer)) {
	ecKey := newKey(t)
	rsaKey, _ := pki.GenerateKey(pki.RSA2048, rand.Reader)
	for _, alg := range pki.SigningAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			key := ecKey
			if alg.Family() == pki.FamilyRSA {
				key = rsaKey
			}
			fn(t, alg, caOf(t, key, alg), key)
		})
	}
}

func TestCRLEveryAlgorithm(t *testing.T) {
	forEachAlgorithm(t, func(t *testing.T, alg pki.SigningAlgorithm, ca *x509.Certificate, key crypto.Signer) {
		var b pki.CRLBuilder
		serials := []*big.Int{big.NewInt(0x7f), big.NewInt(0x80), new(big.Int).Lsh(big.NewInt(1), 127)}
		for i, s := range serials {
			if err := b.Add(s, testNow.Add(-time.Duration(i)*time.Hour), []int{0, 1, 9}[i]); err != nil {
				t.Fatal(err)
			}
		}
		der, err := b.Sign(pki.CRLParams{Issuer: ca, Number: big.NewInt(42), ThisUpdate: testNow, NextUpdate: testNow.AddDate(0, 0, 7),
			SigningAlgorithm: alg, DistributionPoint: "http://pki.example/crl/ca-1.crl"}, key)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(ca); err != nil {
			t.Fatalf("signature: %v", err)
		}
		if crl.Number.Int64() != 42 || !crl.ThisUpdate.Equal(testNow) || !crl.NextUpdate.Equal(testNow.AddDate(0, 0, 7)) ||
			!bytes.Equal(crl.AuthorityKeyId, ca.SubjectKeyId) || len(crl.RevokedCertificateEntries) != 3 {
			t.Fatalf("CRL fields: %+v", crl)
		}
		for i, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(serials[i]) != 0 || e.ReasonCode != []int{0, 1, 9}[i] {
				t.Errorf("entry %d: %v %d", i, e.SerialNumber, e.ReasonCode)
			}
		}
		if len(crl.RevokedCertificateEntries[0].Extensions) != 0 {
			t.Error("reason code 'unspecified' was encoded")
		}
		var idp bool
		for _, e := range crl.Extensions {
			if e.Id.Equal(pki.OIDExtIssuingDP) {
				idp = e.Critical && bytes.Contains(e.Value, []byte("http://pki.example/crl/ca-1.crl"))
			}
		}
		if !idp {
			t.Error("no critical issuing distribution point")
		}
		if f, err := testLinter.LintCRL(der); err != nil || len(f) > 0 {
			t.Fatalf("CRL lint: %v %v", f, err)
		}
	})
}

func TestCRLEmptyAndFarFuture(t *testing.T) {
	key := newKey(t)
	ca := caOf(t, key, pki.SHA256WithECDSA)
	var b pki.CRLBuilder
	der, err := b.Sign(pki.CRLParams{Issuer: ca, Number: big.NewInt(1), ThisUpdate: time.Date(2055, 1, 1, 0, 0, 0, 0, time.UTC),
		NextUpdate: time.Date(2055, 1, 8, 0, 0, 0, 0, time.UTC), SigningAlgorithm: pki.SHA256WithECDSA}, key)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || len(crl.RevokedCertificateEntries) != 0 || crl.ThisUpdate.Year() != 2055 {
		t.Fatalf("%+v %v", crl, err)
	}
	if bytes.Contains(der, []byte{0x30, 0x00}) {
		t.Error("an empty revokedCertificates list was encoded")
	}
	if _, err := b.Sign(pki.CRLParams{Issuer: ca, Number: big.NewInt(1), ThisUpdate: testNow, NextUpdate: testNow,
		SigningAlgorithm: pki.SHA256WithECDSA}, key); err == nil {
		t.Error("nextUpdate equal to thisUpdate accepted")
	}
	if err := b.Add(big.NewInt(0), testNow, 1); err == nil {
		t.Error("serial 0 accepted")
	}
}

func TestCRLOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is required")
	}
	key := newKey(t)
	ca := caOf(t, key, pki.SHA256WithECDSA)
	var b pki.CRLBuilder
	b.Add(big.NewInt(0x1234), testNow.Add(-time.Hour), 1)
	der, err := b.Sign(pki.CRLParams{Issuer: ca, Number: big.NewInt(3), ThisUpdate: testNow, NextUpdate: testNow.AddDate(0, 0, 7),
		SigningAlgorithm: pki.SHA256WithECDSA}, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "crl.der"), der, 0o600)
	os.WriteFile(filepath.Join(dir, "ca.pem"), pki.EncodeCertificatesPEM(ca.Raw), 0o600)
	out, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", filepath.Join(dir, "crl.der"), "-CAfile",
		filepath.Join(dir, "ca.pem"), "-noout", "-text").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verify OK") || !strings.Contains(string(out), "Serial Number: 1234") ||
		!strings.Contains(string(out), "Key Compromise") || !strings.Contains(string(out), "X509v3 CRL Number") {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
}

func TestParseOCSPRequest(t *testing.T) {
	key := newKey(t)
	ca := caOf(t, key, pki.SHA256WithECDSA)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(77)}
	der, err := ocspCreateRequest(leaf, ca)
	if err != nil {
		t.Fatal(err)
	}
	req, err := pki.ParseOCSPRequest(der)
	if err != nil || req.Serial.Int64() != 77 || req.Nonce != nil || req.HashAlgorithm != crypto.SHA1 {
		t.Fatalf("%+v %v", req, err)
	}
	// openssl adds a nonce by default; build such a request with openssl.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.pem"), pki.EncodeCertificatesPEM(ca.Raw), 0o600)
	out, err := exec.Command("openssl", "ocsp", "-issuer", filepath.Join(dir, "ca.pem"), "-serial", "0x4d",
		"-reqout", filepath.Join(dir, "req.der")).CombinedOutput()
	if err != nil {
		t.Fatalf("%v %s", err, out)
	}
	withNonce, _ := os.ReadFile(filepath.Join(dir, "req.der"))
	req, err = pki.ParseOCSPRequest(withNonce)
	if err != nil || req.Serial.Int64() != 0x4d || len(req.Nonce) == 0 {
		t.Fatalf("openssl request: %+v %v", req, err)
	}
	for _, bad := range [][]byte{nil, []byte("junk"), append(bytes.Clone(der), 0)} {
		if _, err := pki.ParseOCSPRequest(bad); err == nil {
			t.Errorf("accepted %x", bad)
		}
	}
}

func FuzzParseOCSPRequest(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, err := pki.ParseOCSPRequest(b); err == nil && req.Serial == nil {
			t.Fatal("request without a serial accepted")
		}
	})
}

// TestCRLManyEntries crosses the builder's chunk boundaries.
func TestCRLManyEntries(t *testing.T) {
	key := newKey(t)
	ca := caOf(t, key, pki.SHA256WithECDSA)
	const n = 70_000
	var b pki.CRLBuilder
	for i := 1; i <= n; i++ {
		if err := b.Add(new(big.Int).Lsh(big.NewInt(int64(i)), 64), testNow.Add(-time.Duration(i)*time.Second), []int{0, 1, 4, 5}[i%4]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add(big.NewInt(1), testNow, 7); err == nil {
		t.Fatal("reason code 7 (unused in RFC 5280) accepted")
	}
	der, err := b.Sign(pki.CRLParams{Issuer: ca, Number: big.NewInt(1), ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour),
		SigningAlgorithm: pki.SHA256WithECDSA}, key)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ca); err != nil || len(crl.RevokedCertificateEntries) != n {
		t.Fatalf("%v, %d entries", err, len(crl.RevokedCertificateEntries))
	}
	for _, i := range []int{1, 26_000, 26_001, n} {
		e := crl.RevokedCertificateEntries[i-1]
		if e.SerialNumber.Cmp(new(big.Int).Lsh(big.NewInt(int64(i)), 64)) != 0 || e.ReasonCode != []int{0, 1, 4, 5}[i%4] ||
			!e.RevocationTime.Equal(testNow.Add(-time.Duration(i)*time.Second)) {
			t.Fatalf("entry %d: %v %d %v", i, e.SerialNumber, e.ReasonCode, e.RevocationTime)
		}
	}
}
