package pki_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/sigilhq/sigil/internal/pki"
)

// ocspRequestFor builds the parsed request a client would send for serial.
func ocspRequestFor(t *testing.T, ca *x509.Certificate, serial int64, h crypto.Hash) *pki.OCSPRequest {
	t.Helper()
	der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(serial)}, ca, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	req, err := pki.ParseOCSPRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// delegatedResponder issues an OCSP signing certificate from ca.
func delegatedResponder(t *testing.T, ca *x509.Certificate, caKey crypto.Signer, alg pki.SigningAlgorithm) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := newKey(t)
	csrDER, err := pki.CreateCSR(&pki.Subject{CommonName: "OCSP responder"}, pki.SHA256WithECDSA, key, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := pki.ParseCSR(csrDER)
	tpl, _ := pki.LookupTemplate("OCSPSigningCertificate/V1")
	cert := issue(t, pki.IssueParams{Template: tpl, CSR: csr, Issuer: ca, Serial: big.NewInt(999), SigningAlgorithm: alg,
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.AddDate(0, 0, 30), CAExtensions: []pkix.Extension{pki.OCSPNoCheck()}}, caKey)
	return cert, key
}

func TestSignOCSPResponseEveryAlgorithm(t *testing.T) {
	forEachAlgorithm(t, func(t *testing.T, alg pki.SigningAlgorithm, ca *x509.Certificate, key crypto.Signer) {
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			req := ocspRequestFor(t, ca, 4242, h)
			der, err := pki.SignOCSPResponse(pki.OCSPResponseParams{Request: req, Status: pki.OCSPRevoked,
				RevokedAt: testNow.Add(-time.Minute), Reason: 1, ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour),
				ProducedAt: testNow, Responder: ca, SigningAlgorithm: alg}, key)
			if err != nil {
				t.Fatal(err)
			}
			checkWithOpenSSL(t, ca, der, nil, "Cert Status: revoked", "Revocation Reason: keyCompromise")
			if alg.X509() == x509.SHA256WithRSAPSS || alg.X509() == x509.SHA384WithRSAPSS || alg.X509() == x509.SHA512WithRSAPSS {
				continue // x/crypto/ocsp does not verify RSA-PSS; openssl did above
			}
			resp, err := ocsp.ParseResponseForCert(der, &x509.Certificate{SerialNumber: big.NewInt(4242)}, ca)
			if err != nil {
				t.Fatalf("%v: %v", h, err)
			}
			if resp.Status != ocsp.Revoked || resp.RevocationReason != ocsp.KeyCompromise ||
				!resp.RevokedAt.Equal(testNow.Add(-time.Minute)) || !resp.NextUpdate.Equal(testNow.Add(time.Hour)) {
				t.Fatalf("%+v", resp)
			}
		}
	})
}

func TestSignOCSPResponseDelegated(t *testing.T) {
	caKey := newKey(t)
	ca := caOf(t, caKey, pki.SHA384WithECDSA)
	responder, rkey := delegatedResponder(t, ca, caKey, pki.SHA384WithECDSA)
	for _, status := range []pki.OCSPStatus{pki.OCSPGood, pki.OCSPRevoked, pki.OCSPUnknown} {
		req := ocspRequestFor(t, ca, 7, crypto.SHA256)
		der, err := pki.SignOCSPResponse(pki.OCSPResponseParams{Request: req, Status: status, RevokedAt: testNow,
			ThisUpdate: testNow, NextUpdate: testNow.Add(time.Hour), ProducedAt: testNow, Responder: responder,
			Delegated: true, SigningAlgorithm: pki.SHA256WithECDSA}, rkey)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ocsp.ParseResponseForCert(der, &x509.Certificate{SerialNumber: big.NewInt(7)}, ca)
		if err != nil {
			t.Fatal(err)
		}
		want := map[pki.OCSPStatus]int{pki.OCSPGood: ocsp.Good, pki.OCSPRevoked: ocsp.Revoked, pki.OCSPUnknown: ocsp.Unknown}[status]
		if resp.Status != want || resp.Certificate == nil || !resp.Certificate.Equal(responder) {
			t.Fatalf("%v: %+v", status, resp)
		}
		if status == pki.OCSPRevoked && resp.RevocationReason != ocsp.Unspecified {
			t.Fatalf("reason %d", resp.RevocationReason)
		}
		checkWithOpenSSL(t, ca, der, nil, "Cert Status: "+status.String())
	}
}

func TestSignOCSPResponseEchoesNonce(t *testing.T) {
	key := newKey(t)
	ca := caOf(t, key, pki.SHA256WithECDSA)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.pem"), pki.EncodeCertificatesPEM(ca.Raw), 0o600)
	out, err := exec.Command("openssl", "ocsp", "-issuer", filepath.Join(dir, "ca.pem"), "-serial", "0x4d",
		"-reqout", filepath.Join(dir, "req.der")).CombinedOutput()
	if err != nil {
		t.Fatalf("%v %s", err, out)
	}
	reqDER, _ := os.ReadFile(filepath.Join(dir, "req.der"))
	req, err := pki.ParseOCSPRequest(reqDER)
	if err != nil || req.Nonce == nil {
		t.Fatalf("%+v %v", req, err)
	}
	der, err := pki.SignOCSPResponse(pki.OCSPResponseParams{Request: req, Status: pki.OCSPGood, ThisUpdate: testNow,
		NextUpdate: testNow.Add(time.Hour), ProducedAt: testNow, Responder: ca, SigningAlgorithm: pki.SHA256WithECDSA}, key)
	if err != nil {
		t.Fatal(err)
	}
	// With -reqin, openssl checks the nonce: it warns "nonce verify error"
	// or "no nonce in response" when it is wrong or missing.
	text := checkWithOpenSSL(t, ca, der, reqDER, "Cert Status: good", "OCSP Nonce")
	if strings.Contains(text, "nonce") {
		t.Fatalf("nonce not echoed:\n%s", text)
	}
}

func TestOCSPErrorResponses(t *testing.T) {
	for status, want := range map[int]ocsp.ResponseStatus{pki.OCSPMalformedRequest: ocsp.Malformed, pki.OCSPUnauthorized: ocsp.Unauthorized,
		pki.OCSPInternalError: ocsp.InternalError, pki.OCSPTryLater: ocsp.TryLater} {
		_, err := ocsp.ParseResponse(pki.OCSPErrorResponse(status), nil)
		if re, ok := err.(ocsp.ResponseError); !ok || re.Status != want {
			t.Errorf("status %d: %v", status, err)
		}
	}
}

// checkWithOpenSSL verifies a response with `openssl ocsp -respin` against
// the CA and returns its output, which must contain every want.
func checkWithOpenSSL(t *testing.T, ca *x509.Certificate, resp, req []byte, want ...string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.pem"), pki.EncodeCertificatesPEM(ca.Raw), 0o600)
	os.WriteFile(filepath.Join(dir, "resp.der"), resp, 0o600)
	args := []string{"ocsp", "-respin", filepath.Join(dir, "resp.der"), "-CAfile", filepath.Join(dir, "ca.pem"),
		"-resp_text", "-attime", "1780315200", // the fixed test time
		"-verify_other", filepath.Join(dir, "ca.pem")} // a CA-signed response carries no certificate
	if req != nil {
		os.WriteFile(filepath.Join(dir, "req.der"), req, 0o600)
		args = append(args, "-reqin", filepath.Join(dir, "req.der"))
	}
	out, err := exec.Command("openssl", args...).CombinedOutput()
	text := string(out)
	if err != nil || !strings.Contains(text, "Response verify OK") {
		t.Fatalf("openssl: %v\n%s", err, text)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Fatalf("openssl output lacks %q:\n%s", w, text)
		}
	}
	return text
}
