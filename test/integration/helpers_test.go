// Package integration drives real Sigil servers with real clients: the AWS
// SDK for Go v2, the AWS CLI and openssl. Every certificate the tests obtain
// is linted with zlint and verified with openssl.
package integration

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acmpca"
	"github.com/aws/aws-sdk-go-v2/service/acmpca/types"
	"github.com/aws/smithy-go"

	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

var ctx = context.Background()

const (
	tplRoot  = "arn:aws:acm-pca:::template/RootCACertificate/V1"
	tplSub0  = "arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1"
	tplSub1  = "arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen1/V1"
	tplEE    = "arn:aws:acm-pca:::template/EndEntityCertificate/V1"
	tplBlank = "arn:aws:acm-pca:::template/BlankEndEntityCertificate_APIPassthrough/V1"
)

func createCA(t testing.TB, c *acmpca.Client, typ types.CertificateAuthorityType, key types.KeyAlgorithm, sig types.SigningAlgorithm, cn string) string {
	t.Helper()
	out, err := c.CreateCertificateAuthority(ctx, &acmpca.CreateCertificateAuthorityInput{
		CertificateAuthorityType: typ,
		CertificateAuthorityConfiguration: &types.CertificateAuthorityConfiguration{
			KeyAlgorithm: key, SigningAlgorithm: sig,
			Subject: &types.ASN1Subject{CommonName: aws.String(cn), Organization: aws.String("Sigil Tests"), Country: aws.String("US")},
		},
	})
	if err != nil {
		t.Fatalf("create CA %s: %v", cn, err)
	}
	return *out.CertificateAuthorityArn
}

func caCSR(t testing.TB, c *acmpca.Client, arn string) []byte {
	t.Helper()
	out, err := c.GetCertificateAuthorityCsr(ctx, &acmpca.GetCertificateAuthorityCsrInput{CertificateAuthorityArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	return []byte(*out.Csr)
}

// issue issues and fetches a certificate; it lints the certificate.
func issue(t testing.TB, c *acmpca.Client, in *acmpca.IssueCertificateInput) (arn string, cert, chain []byte) {
	t.Helper()
	if in.Validity == nil {
		in.Validity = &types.Validity{Type: types.ValidityPeriodTypeDays, Value: aws.Int64(30)}
	}
	out, err := c.IssueCertificate(ctx, in)
	if err != nil {
		t.Fatalf("issue (%s): %v", aws.ToString(in.TemplateArn), err)
	}
	cert, chain = getCert(t, c, *in.CertificateAuthorityArn, *out.CertificateArn)
	sigiltest.LintPEM(t, cert)
	return *out.CertificateArn, cert, chain
}

func getCert(t testing.TB, c *acmpca.Client, caARN, certARN string) (cert, chain []byte) {
	t.Helper()
	out, err := c.GetCertificate(ctx, &acmpca.GetCertificateInput{CertificateAuthorityArn: &caARN, CertificateArn: &certARN})
	if err != nil {
		t.Fatal(err)
	}
	return []byte(aws.ToString(out.Certificate)), []byte(aws.ToString(out.CertificateChain))
}

// activateRoot self-signs and installs a root CA certificate.
func activateRoot(t testing.TB, c *acmpca.Client, arn string, sig types.SigningAlgorithm, years int64) []byte {
	t.Helper()
	_, cert, chain := issue(t, c, &acmpca.IssueCertificateInput{
		CertificateAuthorityArn: &arn, Csr: caCSR(t, c, arn), SigningAlgorithm: sig, TemplateArn: aws.String(tplRoot),
		Validity: &types.Validity{Type: types.ValidityPeriodTypeYears, Value: aws.Int64(years)},
	})
	if len(chain) != 0 {
		t.Fatalf("a self-signed root certificate came with a chain: %s", chain)
	}
	if _, err := c.ImportCertificateAuthorityCertificate(ctx, &acmpca.ImportCertificateAuthorityCertificateInput{
		CertificateAuthorityArn: &arn, Certificate: cert,
	}); err != nil {
		t.Fatalf("import root certificate: %v", err)
	}
	return cert
}

// activateSub has parent sign sub's CSR with template and installs it.
func activateSub(t testing.TB, c *acmpca.Client, parent, sub string, parentSig types.SigningAlgorithm, template string, years int64) (cert, chain []byte) {
	t.Helper()
	_, cert, chain = issue(t, c, &acmpca.IssueCertificateInput{
		CertificateAuthorityArn: &parent, Csr: caCSR(t, c, sub), SigningAlgorithm: parentSig, TemplateArn: aws.String(template),
		Validity: &types.Validity{Type: types.ValidityPeriodTypeYears, Value: aws.Int64(years)},
	})
	if _, err := c.ImportCertificateAuthorityCertificate(ctx, &acmpca.ImportCertificateAuthorityCertificateInput{
		CertificateAuthorityArn: &sub, Certificate: cert, CertificateChain: chain,
	}); err != nil {
		t.Fatalf("import subordinate certificate: %v", err)
	}
	return cert, chain
}

// newCSR makes a CSR (PEM) with a fresh key of the given algorithm.
func newCSR(t testing.TB, alg pki.KeyAlgorithm, cn string, dns ...string) ([]byte, crypto.Signer) {
	t.Helper()
	key, err := pki.GenerateKey(alg, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}
	if len(dns) > 0 && net.ParseIP(dns[0]) != nil {
		tpl.DNSNames, tpl.IPAddresses = nil, []net.IP{net.ParseIP(dns[0])}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pki.EncodePEM("CERTIFICATE REQUEST", der), key
}

var quickKey = func() crypto.Signer {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return k
}()

// quickCSR makes an EC CSR with a shared key (fast; for tests that issue many).
func quickCSR(t testing.TB, cn string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn}}, quickKey)
	if err != nil {
		t.Fatal(err)
	}
	return pki.EncodePEM("CERTIFICATE REQUEST", der)
}

func parse(t testing.TB, pemBytes []byte) *x509.Certificate {
	t.Helper()
	certs, err := pki.ParseCertificatesPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// wantCode asserts that err is an AWS API error with the given code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error; want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	if ae.ErrorMessage() == "" {
		t.Fatalf("%s has no message", code)
	}
}

func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "file.pem")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// advance moves a dev server's clock forward.
func advance(t testing.TB, apiURL, d string) {
	t.Helper()
	resp, err := http.Post(apiURL+"/_sigil/dev/clock", "application/json", strings.NewReader(`{"advance":"`+d+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("dev clock: %s %s", resp.Status, b)
	}
}

// csrWithExtensions makes an RSA CSR that requests the given extensions.
func csrWithExtensions(t testing.TB, cn string, exts ...pkix.Extension) []byte {
	t.Helper()
	key, err := pki.GenerateKey(pki.RSA2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn},
		DNSNames: []string{cn}, ExtraExtensions: exts}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pki.EncodePEM("CERTIFICATE REQUEST", der)
}

func hexSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// pemDecode returns the DER of the first PEM block.
func pemDecode(b []byte) ([]byte, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM")
	}
	return block.Bytes, nil
}
